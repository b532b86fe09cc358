"""Back-office sign-in and sign-out.

Failed sign-ins are counted in the audit log (no table of its own): `core.signin.failed` entries
(data: username tried, ip, reason) within the last 15 minutes. Five for one username, or twenty from
one address, write a `core.signin.locked` entry, and while a lock entry is younger than 15 minutes
that username (or address) is refused without checking the password. A successful sign-in starts
the username's count afresh; it never resets the address's count (one valid account must not let
an address guess other accounts' passwords).

The queries use the log's indexes on `action` and `created_at` and only look at the last minutes.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from campuspass.core.audit import log_action
from campuspass.core.models import LogEntry
from campuspass.core.net import client_ip

from .middleware import LAST_SEEN_KEY
from .roles import roles_of

SUCCEEDED = "core.signin.succeeded"
FAILED = "core.signin.failed"
LOCKED = "core.signin.locked"


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def window() -> dt.timedelta:
    return dt.timedelta(seconds=_setting("BACKOFFICE_SIGNIN_WINDOW_SECONDS", 15 * 60))


def lock_time() -> dt.timedelta:
    return dt.timedelta(seconds=_setting("BACKOFFICE_SIGNIN_LOCK_SECONDS", 15 * 60))


def max_failures_user() -> int:
    return _setting("BACKOFFICE_SIGNIN_MAX_FAILURES", 5)


def max_failures_ip() -> int:
    return _setting("BACKOFFICE_SIGNIN_MAX_FAILURES_IP", 20)


@dataclass(frozen=True)
class Lock:
    scope: str  # "username" | "ip"
    until: dt.datetime

    def message(self, now: dt.datetime) -> str:
        minutes = max(1, math.ceil((self.until - now).total_seconds() / 60))
        who = "该账号" if self.scope == "username" else "您所在的电脑"
        return (
            f"{who}登录失败次数过多，已暂时锁定。请 {minutes} 分钟后再试"
            f"（{timezone.localtime(self.until):%H:%M} 解锁）；如忘记密码，请联系管理员重置。"
        )


def _username_filter(username: str) -> dict:
    return {"data__username__iexact": username}


def _active_lock(scope: str, value: str, now: dt.datetime) -> Lock | None:
    key = {"data__scope": scope, **(_username_filter(value) if scope == "username" else {"data__ip": value})}
    started = (
        LogEntry.objects.filter(action=LOCKED, created_at__gt=now - lock_time(), **key)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return Lock(scope, started + lock_time()) if started else None


def signin_lock(*, username: str, ip: str, now: dt.datetime | None = None) -> Lock | None:
    """The lock that refuses this attempt, if any. Raises nothing."""
    now = now or timezone.now()
    return _active_lock("username", username, now) or _active_lock("ip", ip, now)


def _failures_since(start: dt.datetime, **key) -> int:
    return (
        LogEntry.objects.filter(action=FAILED, created_at__gte=start, **key)
        .exclude(data__reason="locked")
        .count()
    )


def _count_start_for_username(username: str, now: dt.datetime) -> dt.datetime:
    """Failures count from the later of: the window's start, the last success, the end of the
    last lock."""
    start = now - window()
    latest = (
        LogEntry.objects.filter(
            action__in=[SUCCEEDED, LOCKED],
            created_at__gte=now - window() - lock_time(),
            **_username_filter(username),
        )
        .exclude(action=LOCKED, data__scope="ip")
        .order_by("-created_at")
        .values_list("action", "created_at")
        .first()
    )
    if latest:
        action, at = latest
        start = max(start, at + lock_time() if action == LOCKED else at)
    return start


def _count_start_for_ip(ip: str, now: dt.datetime) -> dt.datetime:
    start = now - window()
    locked_at = (
        LogEntry.objects.filter(
            action=LOCKED, data__scope="ip", data__ip=ip, created_at__gte=start - lock_time()
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return max(start, locked_at + lock_time()) if locked_at else start


def signin_failed(*, username: str, ip: str, reason: str) -> Lock | None:
    """Record a failed sign-in; lock the username or the address when this one reaches the limit.
    Returns the new lock, if any. Raises nothing."""
    now = timezone.now()
    label = f"未登录：{username}"[:150]
    log_action(
        actor=None, actor_label=label, action=FAILED, data={"username": username, "ip": ip, "reason": reason}
    )
    if reason == "locked":
        return None
    if (
        _failures_since(_count_start_for_username(username, now), **_username_filter(username))
        >= max_failures_user()
    ):
        log_action(
            actor=None,
            actor_label=label,
            action=LOCKED,
            reason=f"{window().seconds // 60} 分钟内登录失败 {max_failures_user()} 次",
            data={"scope": "username", "username": username, "ip": ip, "minutes": lock_time().seconds // 60},
        )
        return Lock("username", now + lock_time())
    if _failures_since(_count_start_for_ip(ip, now), data__ip=ip) >= max_failures_ip():
        log_action(
            actor=None,
            actor_label=label,
            action=LOCKED,
            reason=f"{window().seconds // 60} 分钟内同一地址登录失败 {max_failures_ip()} 次",
            data={"scope": "ip", "username": username, "ip": ip, "minutes": lock_time().seconds // 60},
        )
        return Lock("ip", now + lock_time())
    return None


def _remaining_tries(username: str) -> int:
    now = timezone.now()
    used = _failures_since(_count_start_for_username(username, now), **_username_filter(username))
    return max(0, max_failures_user() - used)


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("backoffice:dashboard")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request)
    if request.method == "GET" and request.user.is_authenticated and roles_of(request.user):
        return redirect(next_url)
    username = (request.POST.get("username") or "").strip()[:150]
    error = ""
    status = 200
    if request.method == "POST":
        password = request.POST.get("password") or ""
        ip = client_ip(request)
        now = timezone.now()
        lock = signin_lock(username=username, ip=ip, now=now) if username else None
        if not username or not password:
            error = "请输入用户名和密码。"
        elif lock:
            signin_failed(username=username, ip=ip, reason="locked")
            error = lock.message(now)
            status = 429
        else:
            user = authenticate(request, username=username, password=password)
            if user is not None and roles_of(user):
                login(request, user)  # cycles the session key
                request.session[LAST_SEEN_KEY] = int(now.timestamp())
                log_action(actor=user, action=SUCCEEDED, obj=user, data={"username": username, "ip": ip})
                return redirect(next_url)
            if user is not None:
                signin_failed(username=username, ip=ip, reason="no_role")
                error = "您的账号还没有后台角色（审核员、窗口、配送、财务或管理员），暂不能登录。请联系管理员开通。"
                status = 403
            else:
                new_lock = signin_failed(username=username, ip=ip, reason="bad_credentials")
                if new_lock:
                    error = new_lock.message(now)
                    status = 429
                else:
                    left = _remaining_tries(username)
                    error = "用户名或密码错误，请重新输入。" + (
                        f"再错 {left} 次该账号将锁定 {lock_time().seconds // 60} 分钟。" if left <= 3 else ""
                    )
    return render(
        request,
        "backoffice/auth/login.html",
        {"error": error, "username": username, "next": next_url, "screen": "login"},
        status=status,
    )


login_view.public = True


@require_POST
@csrf_protect
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        log_action(
            actor=request.user, action="core.signout", obj=request.user, data={"ip": client_ip(request)}
        )
    logout(request)
    messages.success(request, "您已退出登录。")
    return redirect("backoffice:login")


logout_view.public = True
