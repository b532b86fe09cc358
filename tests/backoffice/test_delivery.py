"""送证上门 (issue 5, item 4): delivery requests grouped by building, assigned only to couriers, marked
delivered with the same two checks, and a printable delivery list."""

import re

import pytest
from django.urls import reverse

from campuspass.backoffice import roles
from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.renewals.buildings import building_of
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.fulfilment import (
    group_by_building,
    order_assign_courier,
    order_hand_out,
)

from .test_counter import approved_order, paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    from tests.renewals.factories import make_campaign

    return make_campaign()


def delivery_order(campaign, address="行政2号楼1层122室", **kwargs):
    return approved_order(campaign, fulfilment="delivery", address=address, **kwargs)


# --- buildings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "building"),
    [
        ("行政2号楼1层122室", "行政2号楼"),
        ("行政２号楼 1层", "行政2号楼"),  # full-width digits
        ("12号楼305", "12号楼"),
        ("逸夫楼3层301", "逸夫楼"),
        ("图书馆二楼阅览室", "图书馆"),
        ("药学院 305室", "药学院"),
        ("基础医学院B座1201", "基础医学院B座"),
        ("305室", "其他"),
        ("3层楼道", "其他"),
        ("", "其他"),
        ("   ", "其他"),
    ],
)
def test_building_is_the_start_of_the_campus_address(address, building):
    assert building_of(address) == building


def test_groups_are_by_building_with_other_last(campaign):
    a = delivery_order(campaign, address="逸夫楼3层301")
    b = delivery_order(campaign, address="305室")
    c = delivery_order(campaign, address="逸夫楼5层")
    d = delivery_order(campaign, address="公共卫生学院 201")
    groups = group_by_building([a, b, c, d])
    assert [name for name, _ in groups] == sorted(["逸夫楼", "公共卫生学院"]) + ["其他"]
    assert dict(groups)["逸夫楼"] == [a, c]


# --- assigning ---------------------------------------------------------------------------------------------


def test_assign_to_a_courier_is_audited_per_order(campaign, make_user):
    clerk = make_user(roles.COUNTER)
    courier = make_user(roles.COURIER, "courier-1")
    orders = [delivery_order(campaign), delivery_order(campaign)]
    assert order_assign_courier(orders=orders, courier=courier, acting_user=clerk) == 2
    assert set(RenewalOrder.objects.filter(courier=courier)) == set(orders)
    entries = LogEntry.objects.filter(action="renewals.order.courier_assigned")
    assert entries.count() == 2 and {e.data["courier"] for e in entries} == {"courier-1"}
    assert all(e.actor == clerk for e in entries)
    # Assigning again to the same courier changes nothing.
    assert order_assign_courier(orders=orders, courier=courier, acting_user=clerk) == 0
    # Re-assigning to another courier is recorded with the previous one.
    other = make_user(roles.COURIER, "courier-2")
    assert order_assign_courier(orders=[orders[0]], courier=other, acting_user=clerk) == 1
    last = LogEntry.objects.filter(action="renewals.order.courier_assigned").latest("pk")
    assert last.data == {"courier": "courier-2", "previous": "courier-1"}


@pytest.mark.parametrize("role", [roles.COUNTER, roles.REVIEWER, roles.ADMIN, None])
def test_assign_only_to_couriers(campaign, make_user, role):
    order = delivery_order(campaign)
    not_a_courier = make_user(role, "someone")
    with pytest.raises(CampusPassError) as caught:
        order_assign_courier(orders=[order], courier=not_a_courier, acting_user=make_user(roles.COUNTER))
    assert caught.value.code == "not_courier"
    assert RenewalOrder.objects.get(pk=order.pk).courier is None


def test_inactive_courier_cannot_be_assigned(campaign, make_user):
    courier = make_user(roles.COURIER)
    courier.is_active = False
    courier.save()
    with pytest.raises(CampusPassError):
        order_assign_courier(orders=[delivery_order(campaign)], courier=courier, acting_user=None)


def test_only_approved_undelivered_delivery_orders_are_assigned(campaign, make_user):
    clerk = make_user(roles.COUNTER)
    courier = make_user(roles.COURIER)
    pickup = approved_order(campaign)
    waiting = paid_order(campaign, fulfilment="delivery", address="逸夫楼3层")
    delivered = delivery_order(campaign)
    order_hand_out(order=delivered, acting_user=clerk, old_pass_collected=True, id_checked=True)
    good = delivery_order(campaign)
    assert (
        order_assign_courier(orders=[pickup, waiting, delivered, good], courier=courier, acting_user=clerk)
        == 1
    )
    assert list(RenewalOrder.objects.filter(courier=courier)) == [good]
    with pytest.raises(CampusPassError) as caught:
        order_assign_courier(orders=[pickup, waiting, delivered], courier=courier, acting_user=clerk)
    assert caught.value.code == "nothing_deliverable"


def test_assign_screen(campaign, office_client, make_user):
    client, _ = office_client(roles.COUNTER)
    courier = make_user(roles.COURIER, "courier-1")
    order = delivery_order(campaign)
    response = client.post(
        reverse("backoffice:delivery-assign"), {"courier": courier.pk, "orders": [order.pk]}, follow=True
    )
    assert "已将 1 个订单分派给" in response.content.decode()
    assert RenewalOrder.objects.get(pk=order.pk).courier == courier


def test_assign_screen_refuses_a_non_courier_in_chinese(campaign, office_client, make_user):
    client, _ = office_client(roles.COUNTER)
    reviewer = make_user(roles.REVIEWER, "rev")
    order = delivery_order(campaign)
    response = client.post(
        reverse("backoffice:delivery-assign"), {"courier": reviewer.pk, "orders": [order.pk]}, follow=True
    )
    assert "只能分派给“配送”角色" in response.content.decode()
    assert RenewalOrder.objects.get(pk=order.pk).courier is None


def test_couriers_cannot_assign(campaign, office_client):
    client, courier = office_client(roles.COURIER)
    order = delivery_order(campaign)
    response = client.post(
        reverse("backoffice:delivery-assign"), {"courier": courier.pk, "orders": [order.pk]}
    )
    assert response.status_code == 403
    assert RenewalOrder.objects.get(pk=order.pk).courier is None


# --- the screen and marking delivered ---------------------------------------------------------------


def test_delivery_screen_groups_by_building_and_shows_the_couriers_own_list_first(campaign, office_client):
    client, courier = office_client(roles.COURIER)
    mine = delivery_order(campaign, address="逸夫楼3层301", mobile="13911112222")
    other = delivery_order(campaign, address="药学院 305室")
    pickup = approved_order(campaign)  # pickup: not on this screen
    order_assign_courier(orders=[mine], courier=courier, acting_user=None)
    html = client.get(reverse("backoffice:delivery")).content.decode()
    assert html.index("分派给我的") < html.index(mine.plate) < html.index(other.plate)
    assert pickup.plate not in html
    assert "139****2222" in html and "13911112222" not in html
    assert html.count("<h2") == 2  # 分派给我的 + 药学院 (the courier's own order is not listed twice)


def test_counter_sees_all_buildings_and_can_filter_by_one(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    first = delivery_order(campaign, address="逸夫楼3层301")
    second = delivery_order(campaign, address="药学院 305室")
    html = client.get(reverse("backoffice:delivery")).content.decode()
    assert first.plate in html and second.plate in html and "分派所选订单给" in html
    html = client.get(reverse("backoffice:delivery"), {"building": "药学院"}).content.decode()
    assert second.plate in html and first.plate not in html


def test_courier_marks_own_delivery_delivered_with_both_checks(campaign, office_client):
    client, courier = office_client(roles.COURIER)
    order = delivery_order(campaign)
    order_assign_courier(orders=[order], courier=courier, acting_user=None)
    url = reverse("backoffice:delivery-delivered", args=[order.pk])
    response = client.post(url, {"old_pass_collected": "1"}, follow=True)
    assert "请先核验工作证" in response.content.decode()
    assert RenewalOrder.objects.get(pk=order.pk).handed_out_at is None
    response = client.post(url, {"old_pass_collected": "1", "id_checked": "1"}, follow=True)
    assert "已登记送达" in response.content.decode()
    order.refresh_from_db()
    assert order.handed_out_by == courier and order.old_pass_collected and order.id_checked
    entry = LogEntry.objects.get(action="renewals.order.handed_out")
    assert entry.data["channel"] == "delivery" and entry.actor == courier


def test_missing_checks_at_a_delivery_ask_to_register_the_delivery_not_to_hand_out(campaign, make_user):
    order = delivery_order(campaign)
    with pytest.raises(CampusPassError) as counter:
        order_hand_out(
            order=order, acting_user=None, old_pass_collected=False, id_checked=True, channel="counter"
        )
    assert counter.value.message.endswith("再发放新证。")
    order_assign_courier(orders=[order], courier=make_user(roles.COURIER), acting_user=None)
    with pytest.raises(CampusPassError) as delivery:
        order_hand_out(
            order=order, acting_user=None, old_pass_collected=False, id_checked=True, channel="delivery"
        )
    assert delivery.value.message.endswith("再登记送达。") and "发放" not in delivery.value.message


def test_courier_cannot_mark_someone_elses_delivery(campaign, office_client, make_user):
    client, _ = office_client(roles.COURIER)
    other = make_user(roles.COURIER, "other-courier")
    order = delivery_order(campaign)
    order_assign_courier(orders=[order], courier=other, acting_user=None)
    response = client.post(
        reverse("backoffice:delivery-delivered", args=[order.pk]),
        {"old_pass_collected": "1", "id_checked": "1"},
        follow=True,
    )
    assert "没有分派给您" in response.content.decode()
    assert RenewalOrder.objects.get(pk=order.pk).handed_out_at is None


def test_courier_full_phone_is_audited(campaign, office_client):
    client, courier = office_client(roles.COURIER)
    order = delivery_order(campaign, mobile="13911112222")
    response = client.post(
        reverse("backoffice:order-full-phone", args=[order.pk]), {"where": "delivery"}, HTTP_HX_REQUEST="true"
    )
    assert "13911112222" in response.content.decode()
    entry = LogEntry.objects.get(action="core.phone.viewed")
    assert entry.actor == courier and entry.data["where"] == "delivery"


def test_print_list_per_building_with_masked_phones_and_a_signature_column(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    first = delivery_order(campaign, address="逸夫楼3层301", mobile="13911112222")
    second = delivery_order(campaign, address="药学院 305室")
    html = client.get(reverse("backoffice:delivery-print"), {"building": "逸夫楼"}).content.decode()
    assert first.plate in html and first.new_pass.number in html and "139****2222" in html
    assert "13911112222" not in html and "签收人签字" in html
    assert second.plate not in html


def test_a_long_print_list_holds_its_first_rows_by_building_and_says_how_to_print_the_rest(
    campaign, office_client, monkeypatch
):
    from campuspass.backoffice import views_delivery

    monkeypatch.setattr(views_delivery, "PRINT_LIMIT", 2)
    client, _ = office_client(roles.COUNTER)
    yifu = [delivery_order(campaign, address=f"逸夫楼3层30{n}") for n in range(2)]
    pharmacy = delivery_order(campaign, address="药学院 305室")
    html = client.get(reverse("backoffice:delivery-print")).content.decode()
    assert html.count("<tr><td>") == 2
    assert (
        "共 3 个" in html
        and "只列出按楼宇顺序排在前面的 2 个（共 3 个）" in html
        and "按楼宇或配送员" in html
    )
    # buildings in name order: 药学院 (yao) before 逸夫楼 (yi); the rest of 逸夫楼 is told, not listed
    assert pharmacy.plate in html and sum(order.plate in html for order in yifu) == 1
    assert "本清单 1 / 共 2" in html
    html = client.get(reverse("backoffice:delivery-print"), {"building": "逸夫楼"}).content.decode()
    assert all(order.plate in html for order in yifu) and pharmacy.plate not in html
    assert "只列出" not in html and "逸夫楼（2）" in html


def test_print_list_per_courier_and_a_courier_prints_only_their_own(campaign, office_client, make_user):
    courier = make_user(roles.COURIER, "c1")
    mine = delivery_order(campaign)
    theirs = delivery_order(campaign)
    order_assign_courier(orders=[mine], courier=courier, acting_user=None)
    order_assign_courier(orders=[theirs], courier=make_user(roles.COURIER, "c2"), acting_user=None)
    client, _ = office_client(roles.COUNTER)
    html = client.get(reverse("backoffice:delivery-print"), {"courier": courier.pk}).content.decode()
    assert mine.plate in html and theirs.plate not in html
    client.force_login(courier)
    html = client.get(reverse("backoffice:delivery-print")).content.decode()
    assert mine.plate in html and theirs.plate not in html


def test_delivery_is_not_for_finance(campaign, office_client):
    client, _ = office_client(roles.FINANCE)
    assert client.get(reverse("backoffice:delivery")).status_code == 403


def test_the_building_is_kept_with_the_address_whenever_it_is_saved(campaign):
    order = delivery_order(campaign, address="图书馆二楼东侧")
    assert RenewalOrder.objects.get(pk=order.pk).delivery_building == "图书馆"
    order.delivery_address = "逸夫楼3层301"
    order.save(update_fields=["delivery_address"])  # only the address: its building goes with it
    assert RenewalOrder.objects.get(pk=order.pk).delivery_building == "逸夫楼"


def test_the_migration_fills_the_buildings_of_orders_saved_before_it(campaign):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("campuspass.renewals.migrations.0020_order_delivery_building")
    order = delivery_order(campaign, address="行政2号楼1层122室")
    RenewalOrder.objects.filter(pk=order.pk).update(delivery_building="")  # as before the column
    migration.fill_buildings(apps, None)
    assert RenewalOrder.objects.get(pk=order.pk).delivery_building == "行政2号楼"


def test_the_screen_counts_buildings_in_the_database_and_lists_them_in_order(campaign, office_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for address in ("逸夫楼3层301", "行政2号楼1层122室", "3号岗亭", "逸夫楼5层502"):
        delivery_order(campaign, address=address)
    client, _ = office_client(roles.COUNTER, "clerk-b")
    client.get(reverse("backoffice:delivery"))
    with CaptureQueriesContext(connection) as captured:
        page = client.get(reverse("backoffice:delivery")).content.decode()
    # the buildings in name order, 其他 last, each with its count
    headings = re.findall(r'<h2 style="margin-top:0">(\S+) <span class="muted small">(\d+) 个', page)
    assert headings == [("行政2号楼", "1"), ("逸夫楼", "2"), ("其他", "1")]
    reads = [q["sql"] for q in captured.captured_queries if '"delivery_address"' in q["sql"]]
    assert all(" IN (" in sql for sql in reads), reads  # addresses only of the rows listed, by key
    # the building filter keeps one building and its count
    only = client.get(reverse("backoffice:delivery"), {"building": "逸夫楼"}).content.decode()
    assert "逸夫楼5层502" in only and "行政2号楼1层122室" not in only
