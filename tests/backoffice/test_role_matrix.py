"""The role × screen matrix: EVERY URL of the `backoffice` namespace (whoever wrote it) × every role,
a superuser, a user without a role and an anonymous visitor.

- every view is either `role_required(screen)` (it carries `.screen`) or marked `public = True`;
- anonymous → the sign-in page (GET and POST);
- a role allowed by roles.SCREENS[screen] → anything but 403;
- every other signed-in user → 403, for GET and for POST (so a refused POST never reaches the view).

URL arguments are filled with the primary key of an existing object of the matching kind (an
order, a refund, a pass …); a 404 for an allowed role is fine, the check is about permissions.
"""

from __future__ import annotations

import re
import uuid
from importlib import import_module

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter

from campuspass.backoffice.roles import ADMIN, ROLES, SCREENS
from tests.conftest import pass_second_factor

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
NO_ROLE = "no-role"
SUPERUSER = "superuser"
PRINCIPALS = [*ROLES, SUPERUSER, NO_ROLE, ANONYMOUS]


def walk(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns)
        else:
            yield pattern


def backoffice_patterns() -> list[URLPattern]:
    return list(walk(import_module("campuspass.backoffice.urls").urlpatterns))


PATTERNS = backoffice_patterns()


def test_the_matrix_covers_the_back_office():
    names = {p.name for p in PATTERNS}
    assert {"login", "logout", "dashboard", "review", "review-order", "order-photo"} <= names
    assert all(p.name for p in PATTERNS), "every back-office URL needs a name (backoffice:<name>)"


# Which object's pk fills an argument: matched against the argument's and the URL's names.
KINDS = [
    ("refund", "refund"),
    ("reason", "reason"),
    ("consent", "consent"),
    ("campaign", "campaign"),
    ("user", "user"),
    ("staff", "staff"),
    ("person", "staff"),
    ("vehicle", "vehicle"),
    ("pass", "pass"),
    ("log", "entry"),
    ("audit", "entry"),
    ("entry", "entry"),
    ("holiday", "holiday"),
    ("order", "order"),
]


def _argument(name: str, url_name: str, converter, objects: dict):
    if isinstance(converter, UUIDConverter):
        return uuid.uuid4()
    if isinstance(converter, IntConverter) or converter is None:
        for needle, kind in KINDS:
            if needle in name.lower():
                return objects[kind]
        for needle, kind in KINDS:
            if needle in url_name.lower():
                return objects[kind]
        return objects["order"]
    if isinstance(converter, SlugConverter | StringConverter | PathConverter):
        return "x"
    return converter.to_url(1) if hasattr(converter, "to_url") else "1"


def url_for(pattern: URLPattern, objects: dict) -> str:
    converters = getattr(pattern.pattern, "converters", {}) or {}
    names = list(converters) or list(pattern.pattern.regex.groupindex)
    kwargs = {n: _argument(n, pattern.name, converters.get(n), objects) for n in names}
    return reverse(f"backoffice:{pattern.name}", kwargs=kwargs)


@pytest.fixture
def clients(make_user) -> dict[str, Client]:
    made = {}
    for role in ROLES:
        made[role] = make_user(role, f"matrix-{role}")
    made[NO_ROLE] = make_user(None, "matrix-none")
    made[SUPERUSER] = User.objects.create_superuser("matrix-root", password="pw-Test-1234")
    result = {}
    for principal, user in made.items():
        client = Client()
        client.force_login(user)
        pass_second_factor(client, user)
        result[principal] = client
    result[ANONYMOUS] = Client()
    return result


def _close(response) -> int:
    if getattr(response, "streaming", False):
        # Closing a response fires request_finished, which closes the database connection (as after
        # a real request); the test client keeps it open for the next request, and so do we.
        request_finished.disconnect(close_old_connections)
        try:
            response.close()
        finally:
            request_finished.connect(close_old_connections)
    return response.status_code


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.name or str(p.pattern) for p in PATTERNS])
def test_every_url_allows_exactly_the_roles_of_its_screen(pattern, objects, clients):
    view = pattern.callback
    screen = getattr(view, "screen", None)
    public = getattr(view, "public", False)
    assert screen or public, (
        f"backoffice:{pattern.name} is neither wrapped with role_required(screen) (outermost) "
        "nor marked public = True"
    )
    url = url_for(pattern, objects)
    login = reverse("backoffice:login")

    if public:
        for principal in (ANONYMOUS, NO_ROLE):
            status = _close(clients[principal].get(url))
            assert status != 403 and status < 500, f"{url} as {principal}: {status}"
        return

    assert screen in SCREENS, f"unknown screen {screen!r}"
    allowed = SCREENS[screen]
    for method in ("get", "post"):
        response = getattr(clients[ANONYMOUS], method)(url)
        _close(response)
        assert response.status_code == 302, f"{method.upper()} {url} as anonymous: {response.status_code}"
        assert response["Location"].startswith(login), f"{url} as anonymous → {response['Location']}"

    for principal in PRINCIPALS:
        if principal == ANONYMOUS:
            continue
        may = principal == SUPERUSER or principal in allowed
        if may:
            status = _close(clients[principal].get(url))
            assert status != 403, f"GET {url} ({screen}) as {principal}: refused but SCREENS allows it"
        else:
            for method in ("get", "post"):
                status = _close(getattr(clients[principal], method)(url))
                assert status == 403, (
                    f"{method.upper()} {url} ({screen}) as {principal}: {status}, expected 403"
                )


# The screen each family of URLs must declare (by exact name, else by the name's first word), so a
# view wrapped with the wrong screen is caught, not only a view that ignores its screen.
EXPECTED_SCREEN = {
    "dashboard": "dashboard",
    "review": "review",
    "order-photo": "photo",
    "order-full-phone": "full_phone",
    "counter": "counter",
    "delivery": "delivery",
    "delivery-assign": "delivery_assign",
    "refunds": "refunds",
    "exports": "exports",
    "onsite": "onsite",
    "settings": "settings",
    "audit": "audit",
    "gates": "gates",
    "gatecontrol": "gates_control",
    "gatedevices": "gates_devices",
}


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.name or str(p.pattern) for p in PATTERNS])
def test_every_url_declares_the_screen_of_its_family(pattern):
    if getattr(pattern.callback, "public", False):
        # the sign-in steps of the perimeter (core.perimeter): any signed-in user, whatever the role
        assert pattern.name in {"login", "logout", "password_change", "otp"}, (
            f"only sign-in, its steps and sign-out may be public, not {pattern.name}"
        )
        return
    expected = EXPECTED_SCREEN.get(pattern.name) or EXPECTED_SCREEN.get(re.split(r"[-_]", pattern.name)[0])
    if expected is not None:
        assert pattern.callback.screen == expected, (
            f"backoffice:{pattern.name} should be role_required({expected!r})"
        )


def test_admin_may_use_every_screen():
    assert all(ADMIN in roles for roles in SCREENS.values())
