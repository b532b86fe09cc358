"""The back office's view guard. The roles and the role × screen matrix are the domain module
`campuspass.core.roles` (re-exported here for the screens)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from campuspass.core.roles import (  # noqa: F401 - re-exported for the screens
    ADMIN,
    COUNTER,
    COURIER,
    FINANCE,
    REVIEWER,
    ROLES,
    SCREENS,
    can,
    ensure_groups,
    roles_of,
)


def role_required(screen: str):
    """Only signed-in users with a role allowed on `screen`; others: the sign-in page or 403."""
    if screen not in SCREENS:
        raise ValueError(f"unknown screen {screen}")

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), login_url="backoffice:login")
            if not can(request.user, screen):
                raise PermissionDenied("您的账号没有使用该功能的权限。如需开通，请联系管理员。")
            return view(request, *args, **kwargs)

        wrapped.screen = screen
        return wrapped

    return decorator
