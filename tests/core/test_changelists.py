"""Issue 13: the admin's light rows (core.changelists.light_result_list) draw exactly the HTML of
Django's own rows (admin_list.results / items_for_result) — for our lists as they are, and for every
kind of column Django knows (a model field with choices, a date, a foreign key, the key itself, a
callable, a method with boolean= or empty_value_display=, __str__, a related path, a value that is
missing) — while drawing no cell through items_for_result."""

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags import admin_list
from django.test import RequestFactory
from django.urls import reverse

from campuspass.core import changelists
from campuspass.registry.models import Staff, Vehicle
from tests.backoffice.test_counter import approved_order, paid_order
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db

LISTS = ["registry_staff", "registry_vehicle", "registry_pass", "renewals_renewalorder"]
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture
def world():
    campaign = make_campaign()
    orders = [approved_order(campaign, mobile=f"1391234876{k}") for k in range(3)]
    orders.append(paid_order(campaign, mobile="13800001111"))
    Staff.objects.filter(pk=orders[0].staff_id).update(department="   ")  # shown as the empty display
    Staff.objects.filter(pk=orders[1].staff_id).update(name="<b>王&小明</b>")  # escaped, never markup
    return campaign, orders


def djangos_rows(cl) -> list[str]:
    """Each row of the page as Django draws it, its cells joined."""
    return ["".join(cells) for cells in admin_list.results(cl)]


def our_rows(cl) -> list[str]:
    return ["".join(cells) for cells in changelists.light_result_list(cl)["results"]]


def page(client, name, params):
    response = client.get(reverse(f"admin:{name}_changelist"), params)
    assert response.status_code == 200
    return TOKEN.sub("", response.content.decode())


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("kind", ["all", "search", "sorted"])
def test_each_list_is_the_page_django_draws(world, admin_client, monkeypatch, name, kind):
    _, orders = world
    params = {"all": {}, "search": {"q": orders[2].staff.name}, "sorted": {"o": "-2"}}[kind]
    drawn = []
    real_items = admin_list.items_for_result
    monkeypatch.setattr(admin_list, "items_for_result", lambda *a: drawn.append(1) or real_items(*a))
    ours = page(admin_client, name, params)
    assert drawn == []  # no cell drawn by Django's function: the light rows drew them all
    assert re.search(r"<tr><t[dh] class=", ours)  # rows were drawn
    monkeypatch.setattr(changelists, "_rows", lambda cl: list(admin_list.results(cl)))
    assert page(admin_client, name, params) == ours
    assert drawn  # the comparison above was against Django's own cells


def _no_object(obj):
    raise Staff.DoesNotExist  # an ObjectDoesNotExist: shown as the empty display


class EveryColumn(changelists.LightRowsMixin, admin.ModelAdmin):
    """Every kind of list_display entry items_for_result distinguishes, on the vehicle list."""

    list_display = (
        "plate",
        "id",
        "owner",
        "owner__name",
        "owner__department",
        "vehicle_type",
        "created_at",
        "__str__",
        lambda obj: obj.color or None,
        "is_blue",
        "owner_joined",
        "nothing_here",
        "absent_owner",
        "number_of_letters",
        "listed",
    )

    @admin.display(boolean=True, description="蓝牌")
    def is_blue(self, obj):
        return {"blue": True, "yellow": False}.get(obj.plate_colour)

    @admin.display(description="入职")
    def owner_joined(self, obj):
        return dt.date(2020, 1, 1) if obj.pk % 2 else dt.datetime(2021, 5, 6, 7, 8, tzinfo=dt.UTC)

    @admin.display(description="空", empty_value="（无）")
    def nothing_here(self, obj):
        return None if obj.pk % 2 else "  "

    first_row = None  # the page's first row (set by the test)

    @admin.display(description="不存在", empty_value="（缺）")  # not shown: a miss shows the list's own
    def absent_owner(self, obj):
        """Read on the page's first row, missing on every other one."""
        return obj.plate if obj.pk == self.first_row else _no_object(obj)

    @admin.display(description="字数")
    def number_of_letters(self, obj):
        return [len(obj.plate), 1.5, None][obj.pk % 3]

    @admin.display(description="列表")
    def listed(self, obj):
        return (obj.plate, obj.color)


def changelist(model_admin, user, **params):
    request = RequestFactory().get("/admin/registry/vehicle/", params)
    request.user = user
    cl = model_admin.get_changelist_instance(request)
    cl.formset = None  # as changelist_view sets it for a list without editable fields
    return cl


@pytest.mark.parametrize(
    "links", [(), None, ("owner", "plate"), ("id",)], ids=["first", "none", "two", "key"]
)
@pytest.mark.parametrize("popup", [False, True])
def test_every_kind_of_column_is_drawn_as_django_draws_it(world, admin_user, links, popup):
    Vehicle.objects.filter(pk=Vehicle.objects.order_by("pk").first().pk).update(color="")
    model_admin = EveryColumn(Vehicle, admin.site)
    model_admin.list_display_links = links
    params = {"_popup": "1", "_to_field": "id"} if popup else {"q": "", "o": "1"}
    cl = changelist(model_admin, admin_user, **params)
    model_admin.first_row = cl.result_list[0].pk
    assert len(cl.result_list) >= 4
    ours = changelists.light_result_list(cl)
    theirs = admin_list.result_list(cl)
    assert our_rows(cl) == djangos_rows(cl)
    assert ours["result_headers"] == theirs["result_headers"]
    assert ours["num_sorted_fields"] == theirs["num_sorted_fields"]


def test_a_first_row_whose_column_cannot_be_read_leaves_that_column_to_djangos_steps(world, admin_user):
    """The column's kind is read from the first row; when that row cannot tell (its related object
    is missing), every cell of the column is read as Django reads it, and still drawn the same."""

    class Flaky(changelists.LightRowsMixin, admin.ModelAdmin):
        list_display = ("plate", "first_missing")

        @admin.display(description="车主")
        def first_missing(self, obj):
            if obj.pk == first:
                raise Vehicle.DoesNotExist
            return obj.owner.name

    cl = changelist(Flaky(Vehicle, admin.site), admin_user)
    first = cl.result_list[0].pk
    assert our_rows(cl) == djangos_rows(cl)


def test_rows_are_escaped(world, admin_client):
    html = page(admin_client, "registry_staff", {})
    assert "&lt;b&gt;王&amp;小明&lt;/b&gt;" in html
    assert "<b>王&" not in html


def test_an_editable_list_is_left_to_django(world, admin_user, monkeypatch):
    cl = changelist(EveryColumn(Vehicle, admin.site), admin_user)
    cl.formset = object()  # a list with editable fields: its rows carry forms
    called = []
    monkeypatch.setattr(admin_list, "result_list", lambda c: called.append(c) or {"results": []})
    assert changelists.light_result_list(cl) == {"results": []}
    assert called == [cl]


def test_no_rows_no_columns(admin_user):
    cl = changelist(EveryColumn(Vehicle, admin.site), admin_user)
    assert cl.result_list == [] or not list(cl.result_list)
    assert changelists.light_result_list(cl)["results"] == []


# --- the date drill-down of a page that holds the whole result -------------------------------------

UTC = dt.UTC


def order_changelist(user, **params):
    from campuspass.renewals.models import RenewalOrder

    request = RequestFactory().get("/admin/renewals/renewalorder/", params)
    request.user = user
    cl = admin.site.get_model_admin(RenewalOrder).get_changelist_instance(request)
    cl.formset = None
    return cl


def dated(orders, *moments):
    """The orders created at these moments (UTC), one each."""
    from campuspass.renewals.models import RenewalOrder

    for order, moment in zip(orders, moments, strict=False):
        RenewalOrder.objects.filter(pk=order.pk).update(created_at=dt.datetime(*moment, tzinfo=UTC))


# Each: the orders' creation moments (UTC), then the drill-down's own parameters. 2025-12-31 17:30
# UTC is 2026-01-01 01:30 in Shanghai: the years, months and days are the office's, not UTC's.
DRILL_DOWNS = {
    "years": ([(2024, 3, 1, 8), (2025, 5, 2, 9), (2025, 12, 31, 17, 30), (2026, 2, 3)], {}),
    "months of one year": ([(2025, 1, 5), (2025, 3, 6), (2025, 3, 7), (2025, 11, 8)], {}),
    "days of one month": ([(2025, 3, 5), (2025, 3, 6, 23), (2025, 3, 6, 1), (2025, 3, 30)], {}),
    "a year chosen": ([(2025, 1, 5), (2025, 3, 6), (2025, 12, 31, 17, 30), (2024, 2, 1)], {"created_at__year": "2025"}),
    "a month chosen": ([(2025, 3, 5), (2025, 3, 6, 23), (2025, 4, 1)], {"created_at__year": "2025", "created_at__month": "3"}),
    "a day chosen": ([(2025, 3, 6, 1), (2025, 3, 6, 2)], {"created_at__year": "2025", "created_at__month": "3", "created_at__day": "6"}),
    "one order": ([(2025, 6, 1, 16, 30)], {}),
}  # fmt: skip


@pytest.mark.parametrize("case", DRILL_DOWNS)
@pytest.mark.parametrize("searched", [False, True])
def test_a_whole_result_dates_its_drill_down_from_its_rows_as_the_database_does(
    world, admin_user, django_assert_num_queries, case, searched
):
    _, orders = world
    moments, params = DRILL_DOWNS[case]
    dated(orders, *moments)
    if searched:
        params = {**params, "q": orders[0].staff.name}
    cl = order_changelist(admin_user, **params)
    assert cl.whole_result and cl.result_list
    with django_assert_num_queries(0):
        ours = changelists.light_date_hierarchy(cl)
    assert ours == admin_list.date_hierarchy(cl)  # Django's answer, from the database
    assert ours["choices"]


def test_an_empty_result_has_an_empty_drill_down_without_a_query(
    world, admin_user, django_assert_num_queries
):
    cl = order_changelist(admin_user, q="不存在的人")
    assert cl.whole_result and not cl.result_list
    with django_assert_num_queries(0):
        ours = changelists.light_date_hierarchy(cl)
    assert ours == admin_list.date_hierarchy(cl) == {"show": True, "back": None, "choices": []}


def test_a_result_longer_than_its_page_asks_the_database(world, admin_user, monkeypatch):
    from campuspass.renewals.models import RenewalOrder

    _, orders = world
    dated(orders, (2024, 3, 1), (2025, 5, 2), (2025, 6, 2), (2026, 2, 3))
    monkeypatch.setattr(admin.site.get_model_admin(RenewalOrder), "list_per_page", 2)
    cl = order_changelist(admin_user)
    assert not cl.whole_result and len(cl.result_list) == 2
    ours = changelists.light_date_hierarchy(cl)
    # the years of every order, not only of the two on the page
    assert [c["title"] for c in ours["choices"]] == ["2024", "2025", "2026"]
    assert ours == admin_list.date_hierarchy(cl)


def test_the_order_search_page_draws_its_drill_down_without_searching_again(world, admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, orders = world
    dated(orders, (2024, 3, 1), (2025, 5, 2), (2025, 12, 31, 17, 30), (2026, 2, 3))
    with CaptureQueriesContext(connection) as queries:
        html = page(admin_client, "renewals_renewalorder", {"q": orders[2].staff.name})
    searched = [q["sql"] for q in queries if "renewals_renewalorder" in q["sql"]]
    assert len(searched) == 1, searched  # the page's rows, nothing else over the orders
    assert 'href="?created_at__year=2026&amp;q=' in html  # 2025-12-31 17:30 UTC: 2026 in Shanghai
    assert "created_at__year=2024" not in html  # the search's one order, not every order's years
