"""The gate check's fast path (issue 13, decision 0039 addendum): `GET /api/gate/v1/check` answered
right after SecurityMiddleware, without the rest of the middleware stack and without django-ninja's
per-request machinery.

The check is a machine-to-machine call authenticated by its HMAC signature (keys.verify): it has no
session, no cookie, no CSRF token, no language and no signed-in user, so sessions, CSRF, locale,
auth, messages, OTP, the sign-in perimeter and axes have nothing to do for it. What it keeps:

- everything above it in MIDDLEWARE: the request id and log context, the latency metric (under the
  same view name, `gate-api:check`), SecurityMiddleware's HTTPS redirect and headers;
- host validation (`request.get_host()`, ALLOWED_HOSTS: DisallowedHost → 400 as before);
- the same checks in the same order (keys.signed_parts: headers, timestamp, nonce format; then
  keys.authenticate: gate row, revocation, HMAC, nonce in Redis → 503 when Redis is away, heartbeat)
  and the same answer (api.answer_for_state), as the same JSON bytes with the same status codes and
  Chinese messages. The gate row, the plate's passes and the deny list are read in one statement
  (core.compiled.rows_together), after the checks that need no database;
- the headers that say how to treat the answer: Content-Length, Cache-Control/Expires (never cached),
  the Content-Security-Policy, X-Frame-Options and Permissions-Policy the later middleware would add
  (computed once, they do not depend on the request). Left out: `Vary: Accept-Language, Cookie` and
  `Content-Language`, which describe a negotiation this answer never makes.

Anything it does not recognise as a plain check goes down the whole stack unchanged, before any
side effect (no nonce is spent): another path or method, a missing or repeated parameter, another
parameter, a control character (ControlCharacterMiddleware's 400 page). So the whole stack stays the
one place for every other answer, and the OpenAPI docs still come from the ninja view."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.urls import NoReverseMatch, resolve, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import http_date

from campuspass.core.compiled import rows_together
from campuspass.core.errors import CampusPassError
from campuspass.core.headers import PERMISSIONS_POLICY
from campuspass.core.input_guard import has_bad_fields

from . import api, desired, keys

CONTENT_TYPE = "application/json; charset=utf-8"
_PARAMETERS = frozenset({"plate", "colour"})


def _policy() -> str:
    from csp.utils import build_policy

    return build_policy()


def checked(request) -> dict:
    """keys.verify then api.answer, with the gate row and the plate's rows read in one round trip
    (compiled.rows_together) once the checks that need no database have passed; the same refusals in
    the same order (a bad plate is told only to a device whose request is signed)."""
    signed = keys.signed_parts(request)
    try:
        plate, colour = api.checked_plate(request.GET["plate"], request.GET.get("colour"))
    except CampusPassError:
        keys.authenticate(request, signed, keys.gate_by_key(signed.key_id))
        raise
    registry, deny = desired.plate_reads(plate)
    rows, (gate_row, deny_row) = rows_together(
        registry, keys.gate_read(signed.key_id), deny, order=desired.REGISTRY_ORDER
    )
    gate = keys.authenticate(request, signed, keys.gate_from_read(gate_row)).gate
    return api.answer_for_state(gate, desired.state_from_rows(plate, rows, deny_row), colour)


class GateCheckMiddleware:
    """Place right after SecurityMiddleware (settings.MIDDLEWARE)."""

    def __init__(self, get_response):
        self.get_response = get_response
        try:
            self.path = reverse("gate-api:check")
        except NoReverseMatch:  # a URLconf without the gate API (some tests'): nothing to answer
            self.path = None
            return
        self.match = resolve(self.path)  # request.resolver_match for the latency metric's label
        self.headers = {"X-Frame-Options": getattr(settings, "X_FRAME_OPTIONS", "DENY")}
        policy = _policy()
        if policy:
            self.headers["Content-Security-Policy"] = policy
        self.headers["Permissions-Policy"] = PERMISSIONS_POLICY
        never = HttpResponse()
        add_never_cache_headers(never)  # Django's never-cache headers: Cache-Control computed once
        self.headers["Cache-Control"] = never.headers["Cache-Control"]

    def __call__(self, request):
        if (
            self.path is None
            or request.path_info != self.path
            or request.method != "GET"
            or not self._plain(request.GET)
        ):
            return self.get_response(request)
        request.get_host()  # ALLOWED_HOSTS: DisallowedHost becomes Django's 400, as in CommonMiddleware
        request.resolver_match = self.match
        try:
            status, body = 200, checked(request)
        except keys.Refused as exc:
            status, body = exc.status, {"code": exc.code, "message": exc.message}
        except CampusPassError as exc:
            status, body = 400, {"code": exc.code, "message": exc.message}
        response = HttpResponse(json.dumps(body, cls=DjangoJSONEncoder), CONTENT_TYPE, status=status)
        for name, value in self.headers.items():
            response.headers[name] = value
        response.headers["Expires"] = http_date()  # now, as add_never_cache_headers sets it
        response.headers["Content-Length"] = str(len(response.content))  # as CommonMiddleware sets it
        return response

    @staticmethod
    def _plain(query) -> bool:
        """One plate, at most one colour, nothing else, no control character."""
        if "plate" not in query or not _PARAMETERS.issuperset(query.keys()):
            return False
        if any(len(values) != 1 for _, values in query.lists()):
            return False
        return not has_bad_fields(query, allow_newlines=False)
