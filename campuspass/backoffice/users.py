"""Back-office users and their roles (Django Groups named as in roles.ROLES), managed by
administrators. Every change is audited as backoffice.user.*; an administrator cannot lock themselves
out (remove their own 管理员 role or deactivate themselves), and the last administrator stays."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError
from campuspass.core.signin import require_password_change

from .roles import ADMIN, ROLES, ensure_groups

# No 0/O/1/l/I: the password is read off the screen and typed by someone else.
_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 - an alphabet


def temp_password() -> str:
    body = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(12))
    return f"{body[:4]}-{body[4:8]}-{body[8:]}"


def _clean_roles(roles: Iterable[str]) -> list[str]:
    roles = list(dict.fromkeys(roles))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise CampusPassError(f"未知的角色：{'、'.join(unknown)}，请刷新页面后重试。", code="role")
    return sorted(roles, key=ROLES.index)


def _current_roles(user: User) -> list[str]:
    return sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True), key=ROLES.index)


def _active_admins() -> Any:
    return User.objects.filter(is_active=True, groups__name=ADMIN).distinct()


def _same(a: Any, b: Any) -> bool:
    return getattr(a, "pk", None) is not None and a.pk == getattr(b, "pk", None)


def _guard_superuser(user: User, acting_user: Any) -> None:
    if user.is_superuser and not getattr(acting_user, "is_superuser", False):
        raise CampusPassError("该账号是系统超级管理员，只能由超级管理员修改。", code="superuser")


def user_create(*, username: str, full_name: str, roles: Iterable[str], acting_user: Any) -> tuple[User, str]:
    """A back-office user with roles and a generated password, returned once to show to the
    administrator. Raises CampusPassError."""
    username = (username or "").strip()
    full_name = " ".join((full_name or "").split())
    if not username:
        raise CampusPassError("请填写用户名（登录时使用，如工号或姓名拼音）。", code="username")
    if len(username) > 150:
        raise CampusPassError("用户名最多 150 个字符。", code="username")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise CampusPassError(
            "用户名只能包含字母、数字和 @ . + - _ 这几个符号，不能有空格。", code="username"
        ) from None
    if not full_name:
        raise CampusPassError("请填写姓名，便于在审计日志中识别操作人。", code="full_name")
    if len(full_name) > 150:
        raise CampusPassError("姓名最多 150 个字。", code="full_name")
    roles = _clean_roles(roles)
    if not roles:
        raise CampusPassError("请至少选择一个角色。", code="roles")
    password = temp_password()
    ensure_groups()
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise CampusPassError(f"用户名 {username} 已被使用，请换一个。", code="duplicate")
        try:
            with transaction.atomic():
                # Chinese names go into first_name whole: get_full_name() then shows them as written.
                user = User.objects.create_user(username=username, password=password, first_name=full_name)
        except IntegrityError:
            raise CampusPassError(f"用户名 {username} 已被使用，请换一个。", code="duplicate") from None
        user.groups.set(Group.objects.filter(name__in=roles))
        require_password_change(user, acting_user=acting_user)
        log_action(
            actor=acting_user,
            action="backoffice.user.created",
            obj=user,
            data={"username": username, "full_name": full_name, "roles": roles},
        )
    return user, password


def user_set_roles(*, user: User, roles: Iterable[str], acting_user: Any) -> User:
    """Replace a user's roles. Raises CampusPassError (own 管理员 role, the last administrator)."""
    roles = _clean_roles(roles)
    ensure_groups()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        _guard_superuser(user, acting_user)
        before = _current_roles(user)
        if before == roles:
            return user
        if ADMIN in before and ADMIN not in roles:
            if _same(user, acting_user):
                raise CampusPassError(
                    "不能取消自己的“管理员”角色，以免无人能管理系统。如确需调整，请由另一位管理员操作。",
                    code="self_demotion",
                )
            if user.is_active and not _active_admins().exclude(pk=user.pk).exists():
                raise CampusPassError("这是最后一位管理员，不能取消其“管理员”角色。", code="last_admin")
        user.groups.remove(*Group.objects.filter(name__in=ROLES))
        user.groups.add(*Group.objects.filter(name__in=roles))
        log_action(
            actor=acting_user,
            action="backoffice.user.roles_changed",
            obj=user,
            data={"changes": {"roles": [before, roles]}},
        )
    return user


def user_set_active(*, user: User, active: bool, acting_user: Any, reason: str = "") -> User:
    """Enable or disable sign-in for a user (records are kept). Raises CampusPassError (oneself,
    the last administrator)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        _guard_superuser(user, acting_user)
        if user.is_active == active:
            return user
        if not active:
            if _same(user, acting_user):
                raise CampusPassError(
                    "不能停用自己的账号。如确需停用，请由另一位管理员操作。", code="self_deactivate"
                )
            if user.groups.filter(name=ADMIN).exists() and not _active_admins().exclude(pk=user.pk).exists():
                raise CampusPassError("这是最后一位管理员，不能停用。", code="last_admin")
        user.is_active = active
        user.save(update_fields=["is_active"])
        log_action(
            actor=acting_user,
            action="backoffice.user.activated" if active else "backoffice.user.deactivated",
            obj=user,
            reason=reason,
            data={"changes": {"is_active": [not active, active]}},
        )
    return user


def user_reset_password(*, user: User, acting_user: Any) -> str:
    """Give a user a new generated password, returned once to show to the administrator. Raises
    CampusPassError for a superuser reset by a non-superuser."""
    password = temp_password()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        _guard_superuser(user, acting_user)
        user.set_password(password)
        user.save(update_fields=["password"])
        require_password_change(user, acting_user=acting_user)
        log_action(actor=acting_user, action="backoffice.user.password_reset", obj=user)
    return password


def user_reset_second_factor(*, user: User, acting_user: Any) -> int:
    """Remove a user's authenticator (a lost or changed phone): at the next sign-in they set up a
    new one. Audited as backoffice.user.second_factor_reset; returns how many devices went. Raises
    CampusPassError for oneself (another administrator must do it) and for a superuser reset by a
    non-superuser."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if _same(user, acting_user):
        raise CampusPassError("不能重置自己的身份验证器，请由另一位管理员操作。", code="self_otp_reset")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        _guard_superuser(user, acting_user)
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        log_action(
            actor=acting_user,
            action="backoffice.user.second_factor_reset",
            obj=user,
            data={"devices": removed},
        )
    return removed
