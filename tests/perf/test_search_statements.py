"""Issue 13, searches at full size: what a search page costs besides its index reads (decision
0038, addendum 2). Counted in-process on whichever database the suite runs on:

- the statements each kind of query sends to the registry's and the orders' tables — no lookup
  that cannot match (a plate is no 姓名 nor 工号, a phone number no part of a plate, a name no order
  number), the vehicles of a plate and the passes of a number read once, no COUNT when the first
  page holds the whole result;
- no statement per row: a page of 30 rows sends what a page of 1 row sends;
- the admin's rows drawn without the form-widget templates and without resolving each row's link
  (the same HTML as Django's)."""

import re

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags import admin_urls
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campuspass.backoffice import roles
from campuspass.registry.models import Staff
from tests.backoffice import conftest as backoffice_fixtures
from tests.backoffice.test_counter import approved_order, paid_order
from tests.perf.test_search_plans import kinds as plan_kinds
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db

make_user = backoffice_fixtures.make_user  # the office's signed-in clients, as in tests/backoffice
office_client = backoffice_fixtures.office_client

NAME = "欧阳明月"
ROWS = {"staff": 13, "vehicle": 13, "pass": 26}  # NAME's 13 people: an old and a new pass each
TABLES = re.compile(r'"(registry_\w+|renewals_\w+)"')


@pytest.fixture
def world():
    campaign = make_campaign()
    wanted = approved_order(campaign, mobile="13912348765")
    paid_order(campaign, mobile="13800001111")
    Staff.objects.filter(pk=wanted.staff_id).update(name=NAME)
    wanted.refresh_from_db()
    wanted.staff.refresh_from_db()
    return campaign, wanted


def namesakes(campaign, count):
    """`count` more staff members called NAME, each with a pass and an approved order."""
    for _ in range(count):
        order = approved_order(campaign)
        Staff.objects.filter(pk=order.staff_id).update(name=NAME)


def kinds(order):
    """The spellings of tests/perf/test_search_plans.py that these statement budgets cover (the
    shared name of `with_common_name`'s people instead of the order's own)."""
    every = plan_kinds(order)
    every["name"] = NAME
    return {kind: every[kind] for kind in KINDS}


KINDS = (
    "plate",
    "plate spelled",
    "plate part",
    "staff number",
    "staff number part",
    "name",
    "phone",
    "phone last 4",
    "pass number",
    "missing",
)


def search_sql(fn):
    """The response and the statements that read the registry's or the orders' tables."""
    with CaptureQueriesContext(connection) as captured:
        response = fn()
    return response, [q["sql"] for q in captured.captured_queries if TABLES.search(q["sql"])]


def staff_lookups(sqls):
    return [s for s in sqls if s.startswith('SELECT "registry_staff"."id" AS "pk" FROM "registry_staff"')]


# What each search sends to the registry's and the orders' tables (at most), the page's rows
# included (the staff and vehicle lists; the pass list reads its 年度 filter's MIN/MAX besides,
# and asks its own number column even when nobody is found).
# Before addendum 2 a whole plate sent 7 to the staff list (plus a COUNT) and 11 to the counter.
ADMIN_BUDGET = {
    "plate": 4,  # the plate's vehicles, their passes' holders, the pass number, the rows
    "plate spelled": 4,
    "plate part": 5,
    "staff number": 5,
    "staff number part": 6,
    "name": 4,  # the name, the pass number, the name's part, the rows
    "phone": 3,
    "phone last 4": 6,
    "pass number": 6,
    "missing": 3,
}
COUNTER_BUDGET = {  # the campaign and the 待领取 count included
    "plate": 7,
    "plate spelled": 7,
    "plate part": 8,
    "staff number": 9,
    "staff number part": 9,
    "name": 6,
    "phone": 5,
    "phone last 4": 9,
    "pass number": 10,
    "missing": 5,
}
PASS_BUDGET = {
    kind: budget + (2 if kind in ("phone", "missing") else 1) for kind, budget in ADMIN_BUDGET.items()
}
NOT_A_STAFF_NO = ("plate", "plate spelled", "name", "phone", "missing")
NOT_A_NAME = ("plate", "plate spelled", "phone", "staff number", "staff number part", "phone last 4")


@pytest.mark.parametrize("model", ["staff", "vehicle", "pass"])
def test_admin_search_statements_per_kind(world, admin_client, model):
    _, wanted = world
    url = reverse(f"admin:registry_{model}_changelist")
    admin_client.get(url)  # the vehicle-type filter's choices are read once per 10 minutes
    budget = PASS_BUDGET if model == "pass" else ADMIN_BUDGET
    for kind, text in kinds(wanted).items():
        response, sqls = search_sql(lambda text=text: admin_client.get(url, {"q": text}))
        assert response.status_code == 200, kind
        assert len(sqls) <= budget[kind], (kind, "\n".join(sqls))
        # one page holds the whole result: its rows are the count
        assert not [s for s in sqls if "COUNT(" in s], (kind, sqls)
        if kind in NOT_A_NAME:  # a plate, a phone number or digits alone are looked up by no name
            assert not [s for s in staff_lookups(sqls) if '"registry_staff"."name"' in s], (kind, sqls)
        if kind in NOT_A_STAFF_NO:  # text that cannot be a 工号 is not looked up as one
            assert not [s for s in staff_lookups(sqls) if re.search(r'"staff_no"(::text\))? (=|LIKE) ', s)], (
                kind,
                sqls,
            )


@pytest.mark.parametrize("kind", list(COUNTER_BUDGET))
def test_counter_search_statements_per_kind(world, office_client, kind):
    _, wanted = world
    client, _ = office_client(roles.COUNTER)
    text = kinds(wanted)[kind]
    response, sqls = search_sql(lambda: client.get(reverse("backoffice:counter"), {"q": text}))
    assert response.status_code == 200
    assert len(sqls) <= COUNTER_BUDGET[kind], "\n".join(sqls)
    if kind != "missing":
        assert wanted.out_trade_no.encode() in response.content
    if kind in NOT_A_STAFF_NO:  # nor can it be an order number (letters and digits)
        assert not [s for s in sqls if re.search(r'"out_trade_no"(::text\))? (=|LIKE) ', s)], sqls
    # the passes of a number are read once: no second reading of pass numbers for the orders
    assert len([s for s in sqls if 'UPPER("registry_pass"."number"' in s]) <= 1, sqls


def test_counter_search_counts_no_statement_per_order(world, office_client):
    campaign, _ = world
    client, _ = office_client(roles.COUNTER)
    url = reverse("backoffice:counter")
    _, one = search_sql(lambda: client.get(url, {"q": NAME}))
    namesakes(campaign, 12)
    response, many = search_sql(lambda: client.get(url, {"q": NAME}))
    assert response.content.count(b'class="card order-card"') == 13
    assert len(many) == len(one), "\n".join(many)


@pytest.mark.parametrize("model", ["staff", "vehicle", "pass"])
def test_admin_search_counts_no_statement_per_row(world, admin_client, model):
    campaign, _ = world
    url = reverse(f"admin:registry_{model}_changelist")
    admin_client.get(url)
    _, one = search_sql(lambda: admin_client.get(url, {"q": NAME}))
    namesakes(campaign, 12)
    response, many = search_sql(lambda: admin_client.get(url, {"q": NAME}))
    assert response.content.count(b'class="action-select"') == ROWS[model]
    assert len(many) == len(one), "\n".join(many)


@pytest.mark.parametrize("model", ["staff", "vehicle", "pass"])
def test_admin_rows_are_drawn_without_widget_templates_or_a_resolve_per_row(
    world, admin_client, model, monkeypatch
):
    campaign, _ = world
    namesakes(campaign, 12)
    url = reverse(f"admin:registry_{model}_changelist")
    resolved = []
    real_resolve = admin_urls.resolve
    monkeypatch.setattr(
        admin_urls, "resolve", lambda path, *a: resolved.append(path) or real_resolve(path, *a)
    )
    templates = []

    def seen(sender, template, **kwargs):
        templates.append(template.name)

    template_rendered.connect(seen)
    try:
        response = admin_client.get(url, {"q": NAME})
    finally:
        template_rendered.disconnect(seen)
    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == ROWS[model]
    assert "django/forms/widgets/checkbox.html" not in templates
    assert len(resolved) <= 2, resolved  # the page's own links, not one per row
    # each row's link keeps the search (the list's filters), as Django's does
    links = re.findall(rb'<a href="(/admin/registry/%s/\d+/change/[^"]*)"' % model.encode(), response.content)
    assert len(links) == ROWS[model]
    assert all(b"?_changelist_filters=q%3D" in link for link in links)


def test_the_checkbox_is_djangos_html(world):
    _, wanted = world
    from campuspass.registry.admin import StaffAdmin

    staff = wanted.staff
    for name in (staff.name, "<b>\"王&小明'</b>", "{0} {}"):
        staff.name = name  # markup, quotes and braces in the object's name are escaped alike
        ours = StaffAdmin(Staff, admin.site).action_checkbox(staff)
        djangos = admin.ModelAdmin(Staff, admin.site).action_checkbox(staff)
        assert ours == djangos
        assert type(ours) is type(djangos)


def test_a_list_longer_than_a_page_is_still_counted_and_paged(world, admin_client, settings):
    campaign, _ = world
    namesakes(campaign, 4)
    from campuspass.registry.admin import StaffAdmin

    url = reverse("admin:registry_staff_changelist")
    old = StaffAdmin.list_per_page
    StaffAdmin.list_per_page = 2
    try:
        response, sqls = search_sql(lambda: admin_client.get(url, {"q": NAME}))
        second = admin_client.get(url, {"q": NAME, "p": "3"})
    finally:
        StaffAdmin.list_per_page = old
    assert len([s for s in sqls if "COUNT(" in s]) == 1
    assert response.content.count(b'class="action-select"') == 2
    assert response.context["cl"].result_count == 5
    assert second.content.count(b'class="action-select"') == 1
