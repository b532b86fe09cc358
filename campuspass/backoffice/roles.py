"""The back-office roles of product.md section 1 and which screen each may use. The matrix below is
the one place that says so; views are wrapped with `role_required(SCREEN)`, and the role × screen
test walks this matrix against every URL."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

REVIEWER = "审核员"
COUNTER = "窗口"
COURIER = "配送"
FINANCE = "财务"
ADMIN = "管理员"
ROLES = [REVIEWER, COUNTER, COURIER, FINANCE, ADMIN]

# screen -> roles allowed (a superuser may use every screen).
SCREENS: dict[str, frozenset[str]] = {
    "dashboard": frozenset(ROLES),
    "review": frozenset({REVIEWER, ADMIN}),
    "counter": frozenset({COUNTER, ADMIN}),
    "delivery": frozenset({COURIER, COUNTER, ADMIN}),
    "delivery_assign": frozenset({COUNTER, ADMIN}),
    "refunds": frozenset({FINANCE, ADMIN}),
    "onsite": frozenset({COUNTER, ADMIN}),
    "settings": frozenset({ADMIN}),
    "import": frozenset({ADMIN}),
    "exports": frozenset({FINANCE, ADMIN}),
    "reconcile": frozenset({FINANCE, ADMIN}),
    "audit": frozenset({ADMIN}),
    "photo": frozenset({REVIEWER, COUNTER, ADMIN}),
    "full_phone": frozenset({COUNTER, COURIER, ADMIN}),
    # 道闸同步 (decision 0027): the counter answers "why does the gate not open?", so it sees each
    # gate's state and may retry; suspending a pass, the deny list and gate devices' keys are the
    # administrator's decisions.
    "gates": frozenset({COUNTER, ADMIN}),
    "gates_control": frozenset({ADMIN}),
    "gates_devices": frozenset({ADMIN}),
}


def roles_of(user) -> set[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return set(ROLES)
    cached = getattr(user, "_campuspass_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._campuspass_roles = cached
    return cached


def can(user, screen: str) -> bool:
    return bool(roles_of(user) & SCREENS[screen])


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


def ensure_groups() -> None:
    for name in ROLES:
        Group.objects.get_or_create(name=name)
