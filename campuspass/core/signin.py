"""The one sign-in perimeter for every door (/office/, /admin/, any later one).

- Throttling and lockout are django-axes (`AUTHENTICATION_BACKENDS` starts with its backend, so every
  `authenticate()` anywhere is counted and refused while locked). `SignInHandler` keeps axes's
  database records and adds two things axes has no setting for (decision 0014): a different limit
  per user (5) and per address (20) — an office behind one NAT address must not lock everyone after
  five typos — and a success clears only that username's failures, never the address's.
- The sign-in audit is written here from the signals: Django's `user_logged_in`,
  `user_login_failed`, `user_logged_out` and axes's `user_locked_out`. No view writes it.
- Password state: someone else chose the password (an administrator, the demo loader) → the user
  must choose their own before anything else (`campuspass.core.perimeter`).
- The second factor: TOTP devices of django-otp for the roles in `roles.SECOND_FACTOR_ROLES`.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import unicodedata
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models import Max, Sum
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone

from .audit import log_action
from .errors import CampusPassError
from .models import PasswordState
from .net import client_ip

SUCCEEDED = "core.signin.succeeded"
FAILED = "core.signin.failed"
LOCKED = "core.signin.locked"
SIGNED_OUT = "core.signout"
IDLE_SIGNED_OUT = "core.signout.idle"
PASSWORD_CHANGED = "core.password.changed"  # noqa: S105 - an audit action
OTP_ENROLLED = "core.otp.enrolled"
OTP_VERIFIED = "core.otp.verified"
OTP_FAILED = "core.otp.failed"

LAST_SEEN_KEY = "backoffice_last_seen"


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def lock_seconds() -> int:
    return _setting("BACKOFFICE_SIGNIN_LOCK_SECONDS", 15 * 60)


def max_failures_user() -> int:
    return _setting("BACKOFFICE_SIGNIN_MAX_FAILURES", 5)


def max_failures_ip() -> int:
    return _setting("BACKOFFICE_SIGNIN_MAX_FAILURES_IP", 20)


def cool_off(request=None) -> dt.timedelta:
    """AXES_COOLOFF_TIME: a lock ends this long after the last counted failure."""
    return dt.timedelta(seconds=lock_seconds())


def failure_limit(request=None, credentials=None) -> int:
    """AXES_FAILURE_LIMIT on the scale of `SignInHandler.get_failures`."""
    return max_failures_user() * max_failures_ip()


def clean_username(value: Any) -> str:
    """The username as typed, without control characters (NUL included) and surrounding spaces,
    at most 150 characters. Never raises."""
    text = "" if value is None else str(value)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return text.strip()[:150]


def username_key(request=None, credentials=None) -> str:
    """AXES_USERNAME_CALLABLE: one key per account whatever the spelling (case, spaces)."""
    raw = (credentials or {}).get("username")
    if raw is None and request is not None:
        raw = getattr(request, "POST", {}).get("username")
    return clean_username(raw).lower()


def _threshold(request) -> dt.datetime:
    at = getattr(request, "axes_attempt_time", None) or timezone.now()
    return at - cool_off()


class SignInHandler(AxesDatabaseHandler):
    """Axes's database handler with a limit per username and another per address (decision 0014)."""

    def _counts(self, request, credentials) -> tuple[int, int]:
        recent = AccessAttempt.objects.filter(attempt_time__gte=_threshold(request))
        username = get_client_username(request, credentials)
        by_user = (
            recent.filter(username=username).aggregate(n=Sum("failures_since_start"))["n"] or 0
            if username
            else 0
        )
        by_ip = (
            recent.filter(ip_address=request.axes_ip_address).aggregate(n=Sum("failures_since_start"))["n"]
            or 0
        )
        return by_user, by_ip

    def get_failures(self, request, credentials=None) -> int:
        by_user, by_ip = self._counts(request, credentials)
        scope = None
        if by_user >= max_failures_user():
            scope = "username"
        elif by_ip >= max_failures_ip():
            scope = "ip"
        request.campuspass_lock_scope = scope
        # Locked iff by_user >= U or by_ip >= I  <=>  max(by_user * I, by_ip * U) >= U * I.
        return max(by_user * max_failures_ip(), by_ip * max_failures_user())

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if request is not None:
            request.campuspass_was_locked = bool(getattr(request, "axes_locked_out", False))
        return super().user_login_failed(sender, credentials, request=request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        # A success starts this username's count afresh; the address keeps its count (one valid
        # account must not let an address guess other accounts' passwords).
        AccessAttempt.objects.filter(username=user.get_username().lower()).delete()


def lock_until(request, scope: str | None) -> dt.datetime:
    recent = AccessAttempt.objects.filter(attempt_time__gte=_threshold(request))
    if scope == "ip":
        recent = recent.filter(ip_address=getattr(request, "axes_ip_address", None))
    else:
        recent = recent.filter(username=username_key(request, getattr(request, "axes_credentials", None)))
    last = recent.aggregate(at=Max("attempt_time"))["at"] or timezone.now()
    return last + cool_off()


def lock_message(scope: str | None, until: dt.datetime, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    who = "您所在的电脑" if scope == "ip" else "该账号"
    return (
        f"{who}登录失败次数过多，已暂时锁定。请 {minutes} 分钟后再试"
        f"（{timezone.localtime(until):%H:%M} 解锁）；如忘记密码，请联系管理员重置。"
    )


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in page again, in Chinese, with when the lock ends (429)."""
    scope = getattr(request, "campuspass_lock_scope", None) or "username"
    message = lock_message(scope, lock_until(request, scope))
    username = clean_username(getattr(request, "POST", {}).get("username"))
    return render(
        request,
        "backoffice/auth/login.html",
        {"error": message, "username": username, "next": "", "screen": "login"},
        status=429,
    )


def remaining_tries(request, username: str) -> int:
    recent = AccessAttempt.objects.filter(
        attempt_time__gte=_threshold(request), username=username_key(None, {"username": username})
    )
    used = recent.aggregate(n=Sum("failures_since_start"))["n"] or 0
    return max(0, max_failures_user() - used)


# --- the audit, from the signals ---------------------------------------------------------------


def _ip(request) -> str:
    return client_ip(request) if request is not None else ""


@receiver(user_login_failed, dispatch_uid="campuspass-signin-failed")
def _audit_failed(sender, credentials, request=None, **kwargs):
    username = clean_username((credentials or {}).get("username"))
    if getattr(request, "campuspass_failure_reason", None):
        reason = request.campuspass_failure_reason
    elif getattr(request, "campuspass_was_locked", False):
        reason = "locked"
    else:
        reason = "bad_credentials"
    log_action(
        actor=None,
        actor_label=f"未登录：{username}"[:150],
        action=FAILED,
        data={"username": username, "ip": _ip(request), "reason": reason},
    )


@receiver(user_locked_out, dispatch_uid="campuspass-signin-locked")
def _audit_locked(sender, request=None, username=None, ip_address=None, **kwargs):
    if request is None or getattr(request, "campuspass_was_locked", False):
        return  # refused while already locked: the failure entry says "locked"
    scope = getattr(request, "campuspass_lock_scope", None) or "username"
    name = clean_username(username)
    limit, what = (
        (max_failures_ip(), "同一地址登录失败") if scope == "ip" else (max_failures_user(), "登录失败")
    )
    log_action(
        actor=None,
        actor_label=f"未登录：{name}"[:150],
        action=LOCKED,
        reason=f"{what} {limit} 次",
        data={"scope": scope, "username": name, "ip": _ip(request), "minutes": lock_seconds() // 60},
    )


@receiver(user_logged_in, dispatch_uid="campuspass-signin-succeeded")
def _audit_succeeded(sender, request=None, user=None, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN_KEY] = int(time.time())
    log_action(
        actor=user, action=SUCCEEDED, obj=user, data={"username": user.get_username(), "ip": _ip(request)}
    )


@receiver(user_logged_out, dispatch_uid="campuspass-signed-out")
def _audit_signed_out(sender, request=None, user=None, **kwargs):
    if user is None:
        return
    idle = getattr(request, "campuspass_idle", False)
    log_action(
        actor=user, action=IDLE_SIGNED_OUT if idle else SIGNED_OUT, obj=user, data={"ip": _ip(request)}
    )


# --- passwords chosen by someone else -------------------------------------------------------------


def require_password_change(user, *, acting_user: Any = None) -> None:
    """Someone other than `user` chose their password: they choose their own at next sign-in."""
    if acting_user is not None and getattr(acting_user, "pk", None) == user.pk:
        return
    PasswordState.objects.update_or_create(
        user=user, defaults={"must_change": True, "set_by_other_at": timezone.now()}
    )
    if hasattr(user, "_campuspass_must_change"):
        del user._campuspass_must_change


def must_change_password(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_campuspass_must_change", None)
    if cached is None:
        cached = PasswordState.objects.filter(user_id=user.pk, must_change=True).exists()
        user._campuspass_must_change = cached
    return cached


def password_changed_by_user(*, user, request=None) -> None:
    """Record that the user chose their own password (call after `user.set_password` + save)."""
    with transaction.atomic():
        PasswordState.objects.update_or_create(
            user=user, defaults={"must_change": False, "changed_at": timezone.now()}
        )
        log_action(actor=user, action=PASSWORD_CHANGED, obj=user, data={"ip": _ip(request)})
    user._campuspass_must_change = False


# --- the second factor (TOTP) ------------------------------------------------------------------


def confirmed_device(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def enrolment_device(user):
    """The unconfirmed TOTP device the user is setting up (created once, shown until confirmed)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="身份验证器", confirmed=False)
    return device


def _clean_token(token: Any) -> str:
    text = "".join(ch for ch in str(token or "") if not ch.isspace())
    if not (len(text) == 6 and text.isascii() and text.isdigit()):
        raise CampusPassError("请输入身份验证器上显示的 6 位数字动态码。", code="otp_format")
    return text


def verify_second_factor(request, token: Any) -> None:
    """Check the TOTP code of the signed-in user (enrolling the device on its first good code) and
    mark the session verified. Raises CampusPassError in Chinese."""
    import django_otp

    user = request.user
    code = _clean_token(token)
    device = confirmed_device(user)
    enrolling = device is None
    if enrolling:
        device = enrolment_device(user)
    allowed, info = device.verify_is_allowed()
    if not allowed:
        until = (info or {}).get("locked_until")
        seconds = max(1, math.ceil((until - timezone.now()).total_seconds())) if until else 60
        raise CampusPassError(f"动态码错误次数过多，请 {seconds} 秒后再试。", code="otp_throttled")
    if not device.verify_token(code):
        log_action(actor=user, action=OTP_FAILED, obj=user, data={"ip": _ip(request)})
        raise CampusPassError(
            "动态码不正确或已过期。请确认手机时间准确，输入验证器上当前显示的 6 位数字。", code="otp_wrong"
        )
    if enrolling:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        log_action(actor=user, action=OTP_ENROLLED, obj=user, data={"ip": _ip(request)})
    django_otp.login(request, device)
    log_action(actor=user, action=OTP_VERIFIED, obj=user, data={"ip": _ip(request)})
