"""The sign-in perimeter around every page a signed-in user can reach (/office/, /admin/, any later
door): one middleware, placed after AuthenticationMiddleware, OTPMiddleware and MessageMiddleware.

For every request of a signed-in user, in order:
1. idle sign-out: no request for `BACKOFFICE_IDLE_SECONDS` (30 minutes) ends the session;
2. a password someone else chose must be replaced first (`signin.must_change_password`);
3. the roles of `roles.SECOND_FACTOR_ROLES` must have passed the TOTP step in this session.
Until 2 and 3 are done only the pages that do them (and signing out) answer; everything else
redirects there (htmx requests get an `HX-Redirect`)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from . import roles, signin

IDLE_MESSAGE = "长时间未操作，已自动退出，请重新登录。"
# Writing the session on every request costs a database write; a minute of precision is enough.
TOUCH_EVERY = 60


def _url(setting: str, default: str) -> str:
    return reverse(getattr(settings, setting, default))


def login_url() -> str:
    return _url("LOGIN_URL", "backoffice:login")


def password_url() -> str:
    return _url("SIGNIN_PASSWORD_URL", "backoffice:password_change")


def otp_url() -> str:
    return _url("SIGNIN_OTP_URL", "backoffice:otp")


def logout_url() -> str:
    return _url("SIGNIN_LOGOUT_URL", "backoffice:logout")


def _redirect(request, url: str):
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def needs_second_factor_step(user) -> bool:
    return roles.needs_second_factor(user) and not (hasattr(user, "is_verified") and user.is_verified())


class PerimeterMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        static = getattr(settings, "STATIC_URL", "/static/") or "/static/"
        if request.path.startswith("/" + static.lstrip("/")):
            return self.get_response(request)
        expired = self._idle(request)
        if expired is not None:
            return expired
        if request.path == logout_url():
            return self.get_response(request)
        if signin.must_change_password(user):
            if request.path != password_url():
                return _redirect(request, self._with_next(password_url(), request))
        elif needs_second_factor_step(user) and request.path != otp_url():
            return _redirect(request, self._with_next(otp_url(), request))
        return self.get_response(request)

    @staticmethod
    def _with_next(url: str, request) -> str:
        if request.method == "GET" and request.path not in {password_url(), otp_url(), login_url()}:
            return f"{url}?{urlencode({'next': request.get_full_path()})}"
        return url

    def _idle(self, request):
        idle_limit = int(getattr(settings, "BACKOFFICE_IDLE_SECONDS", 30 * 60))
        now = int(time.time())
        last_seen = request.session.get(signin.LAST_SEEN_KEY)
        if last_seen is not None and now - int(last_seen) > idle_limit:
            request.campuspass_idle = True
            logout(request)  # the audit entry comes from the user_logged_out signal
            messages.warning(request, IDLE_MESSAGE, fail_silently=True)
            if request.headers.get("HX-Request"):
                return _redirect(request, login_url())
            if request.method != "GET":
                back = request.headers.get("Referer") or "/office/"
                return redirect_to_login(back, login_url=login_url())
            return redirect_to_login(request.get_full_path(), login_url=login_url())
        if last_seen is None or now - int(last_seen) >= min(TOUCH_EVERY, idle_limit // 2 or 1):
            request.session[signin.LAST_SEEN_KEY] = now
        return None
