"""The sign-in door of the back office, and the steps every door of the perimeter sends a user to:
choosing one's own password and the TOTP second factor (`campuspass.core.perimeter`).

Throttling and lockout are django-axes behind `authenticate()`; the audit is written from the
sign-in signals (`campuspass.core.signin`). This view only parses, asks and renders."""

from __future__ import annotations

import base64

import segno
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from campuspass.core import perimeter, signin
from campuspass.core.errors import CampusPassError
from campuspass.core.roles import needs_second_factor, roles_of


def _safe_next(request: HttpRequest) -> str:
    """A path on this site to go on to, or the dashboard. Never raises."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if (
        candidate.startswith("/")
        and candidate.isprintable()
        and len(candidate) <= 2000
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
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
    username = signin.clean_username(request.POST.get("username"))
    error = ""
    status = 200
    if request.method == "POST":
        password = request.POST.get("password") or ""
        if not username or not password or "\x00" in password:
            error = "请输入用户名和密码。"
        else:
            user = authenticate(request, username=username, password=password)
            if user is not None and roles_of(user):
                login(request, user)  # cycles the session key; audited from the signal
                return redirect(next_url)
            if user is not None:
                request.campuspass_failure_reason = "no_role"
                user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
                error = "您的账号还没有后台角色（审核员、窗口、配送、财务或管理员），暂不能登录。请联系管理员开通。"
                status = 403
            else:
                # A locked sign-in is answered by axes's middleware (signin.lockout_response).
                left = signin.remaining_tries(request, username)
                error = "用户名或密码错误，请重新输入。" + (
                    f"再错 {left} 次该账号将锁定 {signin.lock_seconds() // 60} 分钟。"
                    if 0 < left <= 3
                    else ""
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
    logout(request)  # audited from the user_logged_out signal
    messages.success(request, "您已退出登录。")
    return redirect("backoffice:login")


logout_view.public = True


def _signed_in(request: HttpRequest) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return redirect(f"{reverse('backoffice:login')}?next={request.get_full_path()}")
    return None


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Choose one's own password (required at first sign-in when someone else chose it)."""
    refused = _signed_in(request)
    if refused:
        return refused
    forced = signin.must_change_password(request.user)
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        signin.password_changed_by_user(user=user, request=request)
        messages.success(request, "密码已修改。以后请用新密码登录。")
        if needs_second_factor(user) and not user.is_verified():
            return redirect(perimeter.otp_url())
        return redirect(_safe_next(request))
    return render(
        request,
        "backoffice/auth/password_change.html",
        {"form": form, "forced": forced, "next": _safe_next(request), "screen": "password"},
        status=400 if request.method == "POST" else 200,
    )


password_change.public = True


def _qr_data_uri(text: str) -> str:
    # A standalone SVG image needs its namespace (svg_inline leaves it out, for SVG inside HTML):
    # without it the browser drew nothing and the QR code of the TOTP step never showed.
    return segno.make(text, error="m").svg_data_uri(scale=4)


@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def otp(request: HttpRequest) -> HttpResponse:
    """The second factor: a TOTP code, or setting up the authenticator at the first sign-in."""
    refused = _signed_in(request)
    if refused:
        return refused
    user = request.user
    if not needs_second_factor(user) or user.is_verified():
        return redirect(_safe_next(request))
    error = ""
    status = 200
    if request.method == "POST":
        try:
            signin.verify_second_factor(request, request.POST.get("otp_token"))
        except CampusPassError as exc:
            error = exc.message
            status = 400
        else:
            return redirect(_safe_next(request))
    device = signin.confirmed_device(user)
    context = {"error": error, "next": _safe_next(request), "screen": "otp", "enrolling": device is None}
    if device is None:
        device = signin.enrolment_device(user)
        secret = base64.b32encode(device.bin_key).decode()
        context.update(
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            qr=_qr_data_uri(device.config_url),
        )
    return render(request, "backoffice/auth/otp.html", context, status=status)


otp.public = True
