"""No 500 from input: every URL of /m/ and /office/ (and the admin's search boxes) is sent a corpus of
hostile strings — NUL and other control characters, over-long text, emoji, non-ASCII digits, RTL
marks, SQL and HTML fragments — in every query parameter the screens read and in every field of
every form the page shows, and must answer with something other than a server error. CI runs it on
PostgreSQL (which refuses NUL in text) as well as SQLite. Bounded: nine GETs per URL (each
query parameter gets every other string of the corpus, its neighbour the others) and three POSTs per
form (a different string in each field)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin as django_admin
from django.test import Client
from django.urls import reverse

from campuspass.backoffice import roles
from campuspass.verification.otp import grant
from tests.backoffice.test_role_matrix import PATTERNS, url_for
from tests.conftest import pass_second_factor

pytestmark = pytest.mark.django_db

CORPUS = [
    "\x00",
    "京A\x0012345",
    "a\x01\x02\x1b[31m\x7f",
    "9" * 5000,
    "😀🚗京A·12345",
    "²",
    "١٢٣٤",  # Arabic-Indic digits
    "１２３４５６",  # full-width digits
    "\u202e54321A京\u202c",  # RTL override
    "' OR 1=1 --",
    "'; DROP TABLE core_logentry; --",
    '<script>alert(1)</script>"><img src=x onerror=alert(1)>',
    "%00%27",
    "-1",
    "1e9999",
    "9223372036854775808",
    "2019-02-30",
    "  ",
]
# The query parameters the screens read (filters, searches, paging, navigation).
QUERY_NAMES = [
    "q", "plate", "name", "staff_no", "mobile", "phone", "order", "page", "status", "year", "date_from",
    "date_to", "actor", "action", "kind", "state", "fulfilment", "building", "courier", "next", "id",
    "pk", "sort", "channel", "reason", "download", "campaign", "tab", "from", "to", "number", "code",
]  # fmt: skip
SKIP = {"backoffice:logout", "selfservice:logout"}


class Fields(HTMLParser):
    """The names of the fields of the page's POST forms (and their action)."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, list[str]]] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._current = []
            self.forms.append((attrs.get("action") or "", self._current))
        elif tag in {"input", "select", "textarea"} and self._current is not None:
            name = attrs.get("name")
            if name and name != "csrfmiddlewaretoken" and attrs.get("type") != "file":
                self._current.append(name)

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _value(round_: int, index: int) -> str:
    return CORPUS[(round_ * 7 + index) % len(CORPUS)]


FAILURES: list[str] = []


def _check(response, what):
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    if response.status_code >= 500:
        FAILURES.append(f"{what}: {response.status_code}")


@pytest.fixture(autouse=True)
def _no_server_errors():
    FAILURES.clear()
    yield
    assert not FAILURES, "\n".join(FAILURES[:40])


def _walk(client: Client, url: str, name: str):
    for round_ in range(len(CORPUS) // 2):  # each parameter gets every other string, its neighbour the rest
        query = {key: CORPUS[(round_ * 2 + i) % len(CORPUS)] for i, key in enumerate(QUERY_NAMES)}
        response = client.get(url, query)
        _check(response, f"GET {name} {url} round {round_}")
        if response.status_code == 302 and "/login/" in response.get("Location", ""):
            pytest.fail(f"{name}: signed out during the walk")
    page = client.get(url)
    forms = []
    if page.status_code == 200 and "html" in page.get("Content-Type", ""):
        parser = Fields()
        parser.feed(page.content.decode(errors="replace"))
        forms = parser.forms
    for action, fields in forms or [("", ["x"])]:
        target = action if action.startswith("/") else url
        if any(target.endswith(s) for s in ("/logout/",)):
            continue
        for round_ in range(3):
            data = {field: _value(round_, i) for i, field in enumerate(fields)}
            _check(client.post(target, data), f"POST {name} {target} round {round_}")


@pytest.fixture
def admin_office(make_user, objects):
    user = make_user(roles.ADMIN, "walker")
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client(raise_request_exception=False)
    client.force_login(user)
    pass_second_factor(client, user)
    return client


def test_every_back_office_url_survives_hostile_input(admin_office, objects):
    for pattern in PATTERNS:
        name = f"backoffice:{pattern.name}"
        if name in SKIP:
            continue
        _walk(admin_office, url_for(pattern, objects), name)


def test_every_staff_page_survives_hostile_input(objects):
    from campuspass.renewals.models import RenewalOrder

    order = RenewalOrder.objects.get(pk=objects["order"])
    client = Client(raise_request_exception=False)
    session = client.session
    grant(session, order.plate)
    session.save()
    from importlib import import_module

    for pattern in import_module("campuspass.selfservice.urls").urlpatterns:
        name = f"selfservice:{pattern.name}"
        if name in SKIP:
            continue
        kwargs = {"pk": order.pk} if "pk" in pattern.pattern.converters else {}
        _walk(client, reverse(name, kwargs=kwargs), name)
        # the walk may have spent the grant (e.g. a new lookup): grant again for the next page
        session = client.session
        grant(session, order.plate)
        session.save()


def test_the_sign_in_page_survives_hostile_input(db):
    client = Client(raise_request_exception=False)
    for round_ in range(3):
        data = {"username": _value(round_, 0), "password": _value(round_, 1), "next": _value(round_, 2)}
        _check(client.post(reverse("backoffice:login"), data), f"login round {round_}")


def test_every_admin_search_box_survives_hostile_input(admin_office):
    for model, model_admin in django_admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for value in CORPUS:
            params = {"q": value} if model_admin.search_fields else {}
            params.update({"p": value, "o": value} if value.strip() and not re.match(r"^\d+$", value) else {})
            _check(admin_office.get(url, params), f"admin search {url} {value!r}")


def test_a_control_character_is_refused_in_chinese_before_any_view(admin_office):
    response = admin_office.get(reverse("backoffice:counter"), {"q": "京A\x0012345"})
    assert response.status_code == 400
    assert "控制字符" in response.content.decode()
    posted = admin_office.post(reverse("backoffice:settings_reasons"), {"text": "原因\x1b[0m"})
    assert posted.status_code == 400 and "请删除该内容后重新输入" in posted.content.decode()


def test_non_ascii_digits_are_not_numbers(admin_office):
    for value in ("²", "١٢٣٤", "２０２６", "9" * 5000):
        assert admin_office.get(reverse("backoffice:dashboard"), {"year": value}).status_code == 200
        assert admin_office.get(reverse("backoffice:review-next"), {"after": value}).status_code < 500


def test_field_rules_parse_numbers_strictly():
    from campuspass.core.fieldrules import parse_id, parse_int, parse_year, strip_controls

    assert parse_int("42") == 42 and parse_int(" 7 ") == 7
    for bad in ("²", "١٢", "４２", "-1", "1e3", "", None, "9" * 20, "9223372036854775808"):
        assert parse_int(bad) is None, bad
    assert parse_id("0") is None and parse_id("9223372036854775807") == 2**63 - 1
    assert parse_year("2026") == 2026 and parse_year("1999") is None
    assert strip_controls(" a\x00b\x1b\u0085c ") == "abc"
