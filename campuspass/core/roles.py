"""The security office's roles (product.md section 1) and which screen each may use: a domain module
every layer may ask (the renewal core, the demo, the back office, the admin). The matrix below is
the one place that says so; the back office wraps its views with `role_required(SCREEN)` and the
role × screen test walks this matrix against every URL.

Roles are Django groups named as below; a superuser holds every role."""

from __future__ import annotations

REVIEWER = "审核员"
COUNTER = "窗口"
COURIER = "配送"
FINANCE = "财务"
ADMIN = "管理员"
ROLES = [REVIEWER, COUNTER, COURIER, FINANCE, ADMIN]

# Roles that change settings or move money sign in with a second factor (TOTP).
SECOND_FACTOR_ROLES = frozenset({ADMIN, FINANCE})

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
    "exports": frozenset({FINANCE, ADMIN}),
    "audit": frozenset({ADMIN}),
    "import": frozenset({ADMIN}),
    "reconcile": frozenset({FINANCE, ADMIN}),
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


def needs_second_factor(user) -> bool:
    return bool(roles_of(user) & SECOND_FACTOR_ROLES)


def ensure_groups() -> None:
    from django.contrib.auth.models import Group

    for name in ROLES:
        Group.objects.get_or_create(name=name)
