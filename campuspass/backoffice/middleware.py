"""Back-office sessions expire after a period without activity (an office PC is often left signed
in). Place after AuthenticationMiddleware and MessageMiddleware in settings.MIDDLEWARE."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.urls import reverse

LAST_SEEN_KEY = "backoffice_last_seen"
IDLE_MESSAGE = "长时间未操作，已自动退出，请重新登录。"
PREFIX = "/office/"
# Writing the session on every request costs a database write; a minute of precision is enough.
TOUCH_EVERY = 60


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.path.startswith(PREFIX)
            and getattr(request, "user", None)
            and request.user.is_authenticated
        ):
            idle_limit = int(getattr(settings, "BACKOFFICE_IDLE_SECONDS", 30 * 60))
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY)
            if last_seen is not None and now - int(last_seen) > idle_limit:
                return self._expired(request)
            if last_seen is None or now - int(last_seen) >= min(TOUCH_EVERY, idle_limit // 2 or 1):
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)

    def _expired(self, request):
        from campuspass.core.audit import log_action

        log_action(actor=request.user, action="core.signout.idle", obj=request.user)
        logout(request)
        messages.warning(request, IDLE_MESSAGE, fail_silently=True)
        login_url = reverse("backoffice:login")
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login_url
            return response
        if request.method != "GET":
            return redirect_to_login(request.headers.get("Referer") or PREFIX, login_url=login_url)
        return redirect_to_login(request.get_full_path(), login_url=login_url)
