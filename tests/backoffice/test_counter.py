"""窗口领取 (issue 5, item 3): hand out an approved pass with the two checks, exactly once; find the
staff member by plate (any spelling), name, staff number or phone; the full phone number only on
request and audited; the pickup slip; the list of passes not yet collected."""

import datetime as dt

import pytest
from django.urls import resolve, reverse
from django.utils import timezone

from campuspass.backoffice import roles
from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.fulfilment import (
    COURIER_GROUP,
    order_hand_out,
    pending_pickups,
    search_orders,
)
from campuspass.renewals.services.orders import (
    order_approve,
    order_create,
    order_mark_paid,
    order_record_consent,
    order_reject,
)
from tests.photos import photo_for
from tests.renewals.factories import make_campaign, make_pass

S = RenewalOrder.Status
pytestmark = pytest.mark.django_db


# --- builders shared by the fulfilment tests --------------------------------------------------------------


def paid_order(campaign, *, fulfilment="pickup", address="", **pass_kwargs) -> RenewalOrder:
    previous = make_pass(**pass_kwargs)
    order = order_create(
        plate=previous.vehicle.plate,
        campaign=campaign,
        id_photo=photo_for(previous.vehicle.plate),
        fulfilment=fulfilment,
        delivery_address=address,
    )
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address="127.0.0.1", user_agent="test"
    )
    order, _ = order_mark_paid(
        out_trade_no=order.out_trade_no,
        transaction_id=f"4200{order.pk:024d}",
        amount_fen=order.amount_fen,
        source="test",
    )
    return order


def approved_order(campaign, **kwargs) -> RenewalOrder:
    """Approved, and its pickup day has come (handing out earlier needs a confirmation, issue 14)."""
    order = order_approve(order=paid_order(campaign, **kwargs), acting_user=None)
    RenewalOrder.objects.filter(pk=order.pk).update(pickup_from=timezone.localdate())
    order.refresh_from_db()
    return order


def rejected_order(campaign, **kwargs) -> RenewalOrder:
    return order_reject(order=paid_order(campaign, **kwargs), acting_user=None, reason="照片不清晰")


@pytest.fixture
def campaign():
    return make_campaign()


# --- the service --------------------------------------------------------------------------------------


def test_hand_out_records_both_checks_clerk_and_time_and_keeps_the_order_approved(campaign, make_user):
    clerk = make_user(roles.COUNTER)
    order = approved_order(campaign)
    order_hand_out(order=order, acting_user=clerk, old_pass_collected=True, id_checked=True)
    order.refresh_from_db()
    assert order.status == S.APPROVED
    assert order.handed_out_by == clerk and order.handed_out_at is not None
    assert order.old_pass_collected and order.id_checked
    entry = LogEntry.objects.get(action="renewals.order.handed_out", object_id=str(order.pk))
    assert entry.actor == clerk and entry.data["channel"] == "counter" and entry.plate == order.plate
    assert entry.data["new_pass"] == order.new_pass.number


def test_a_pass_is_never_handed_out_twice(campaign, make_user):
    clerk = make_user(roles.COUNTER)
    order = approved_order(campaign)
    order_hand_out(order=order, acting_user=clerk, old_pass_collected=True, id_checked=True)
    first = RenewalOrder.objects.get(pk=order.pk).handed_out_at
    with pytest.raises(CampusPassError) as caught:
        order_hand_out(
            order=order, acting_user=clerk, old_pass_collected=True, id_checked=True, channel="delivery"
        )
    assert caught.value.code == "already_handed_out"
    assert "已于" in caught.value.message and f"由 {clerk.get_full_name()} 发放" in caught.value.message
    assert RenewalOrder.objects.get(pk=order.pk).handed_out_at == first
    assert LogEntry.objects.filter(action="renewals.order.handed_out").count() == 1


@pytest.mark.parametrize(
    ("old_pass", "id_checked", "named"),
    [(False, True, "旧证已收回"), (True, False, "工作证已核验"), (False, False, "旧证已收回")],
)
def test_hand_out_needs_both_checks(campaign, make_user, old_pass, id_checked, named):
    order = approved_order(campaign)
    with pytest.raises(CampusPassError) as caught:
        order_hand_out(
            order=order,
            acting_user=make_user(roles.COUNTER),
            old_pass_collected=old_pass,
            id_checked=id_checked,
        )
    assert caught.value.code == "checks_required" and named in caught.value.message
    order.refresh_from_db()
    assert order.handed_out_at is None and not order.old_pass_collected and not order.id_checked
    assert not LogEntry.objects.filter(action="renewals.order.handed_out").exists()


def test_only_approved_orders_are_handed_out(campaign, make_user):
    clerk = make_user(roles.COUNTER)
    waiting = paid_order(campaign)
    with pytest.raises(CampusPassError) as caught:
        order_hand_out(order=waiting, acting_user=clerk, old_pass_collected=True, id_checked=True)
    assert caught.value.code == "not_approved" and "待审核" in caught.value.message
    rejected = rejected_order(campaign)
    with pytest.raises(CampusPassError, match="审核未通过"):
        order_hand_out(order=rejected, acting_user=clerk, old_pass_collected=True, id_checked=True)
    assert not RenewalOrder.objects.filter(handed_out_at__isnull=False).exists()


def test_a_courier_cannot_deliver_a_pickup_order(campaign, make_user):
    order = approved_order(campaign)
    with pytest.raises(CampusPassError) as caught:
        order_hand_out(
            order=order,
            acting_user=make_user(roles.COURIER),
            old_pass_collected=True,
            id_checked=True,
            channel="delivery",
        )
    assert caught.value.code == "not_delivery"


def test_courier_group_name_matches_the_back_office_role():
    assert COURIER_GROUP == roles.COURIER


# --- search --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "京A54321",
        "京a·54321",
        " 京 a 54321 ",
        "京Ａ５４３２１",
        "A54321",
        "张三丰",
        "张三",
        "80000001",
        "+86 138-0013-8000",
    ],
)
def test_counter_finds_the_order_by_plate_name_staff_number_or_phone(campaign, query):
    from campuspass.registry.models import Staff

    staff = Staff.objects.create(
        staff_no="80000001", name="张三丰", department="药学院", mobile="13800138000", status="active"
    )
    wanted = approved_order(campaign, plate="京A54321", staff=staff)
    approved_order(campaign)  # someone else
    assert list(search_orders(query=query, campaign=campaign)) == [wanted]


def test_search_shows_all_of_the_staff_members_orders_of_this_campaign_only(campaign):
    from campuspass.registry.models import Pass, Vehicle

    first = approved_order(campaign)
    staff = first.staff
    vehicle = Vehicle.objects.create(plate="京B22222", owner=staff)
    Pass.objects.create(year=2018, number="OLD-2", vehicle=vehicle, holder=staff, review_status="approved")
    second = order_create(plate="京B22222", campaign=campaign, id_photo=photo_for("京B22222"))
    other_year = make_campaign(year=2020, previous_year=2019)
    found = list(search_orders(query=first.plate, campaign=campaign))
    assert set(found) == {first, second}
    assert list(search_orders(query=first.plate, campaign=other_year)) == []
    assert list(search_orders(query="", campaign=campaign)) == []


def test_counter_screen_shows_what_is_to_be_handed_out_with_a_masked_phone(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    order = approved_order(campaign, mobile="13912345678")
    response = client.get(reverse("backoffice:counter"), {"q": order.plate.lower()})
    html = response.content.decode()
    assert response.status_code == 200
    assert order.new_pass.number in html and order.staff.name in html
    assert "139****5678" in html and "13912345678" not in html
    assert "旧证已收回" in html and "工作证已核验" in html and "发放" in html
    assert "显示完整号码" in html


def test_counter_shows_the_first_matches_and_asks_for_a_fuller_query_when_there_are_more(
    campaign, office_client, monkeypatch
):
    from campuspass.backoffice import views_counter

    monkeypatch.setattr(views_counter, "RESULT_LIMIT", 2)
    client, _ = office_client(roles.COUNTER)
    orders = [approved_order(campaign) for _ in range(3)]
    html = client.get(reverse("backoffice:counter"), {"q": "职工"}).content.decode()
    assert html.count('class="card order-card"') == 2
    assert "找到超过 2 个订单，只显示前 2 个" in html and "手机号" in html
    # exactly as many as shown: no "more" message
    html = client.get(reverse("backoffice:counter"), {"q": orders[0].plate}).content.decode()
    assert html.count('class="card order-card"') == 1 and "找到 1 个订单。" in html and "超过" not in html


def test_counter_screen_says_when_nothing_is_found(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    response = client.get(reverse("backoffice:counter"), {"q": "京Z99999"})
    assert "没有找到" in response.content.decode()


# --- the full phone number ---------------------------------------------------------------------------


def test_full_phone_is_shown_on_request_and_audited(campaign, office_client):
    client, clerk = office_client(roles.COUNTER)
    order = approved_order(campaign, mobile="13912345678")
    response = client.post(
        reverse("backoffice:order-full-phone", args=[order.pk]), {"where": "counter"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "13912345678" in response.content.decode()
    entry = LogEntry.objects.get(action="core.phone.viewed")
    assert entry.actor == clerk and entry.staff_no == order.staff.staff_no and entry.plate == order.plate
    assert "13912345678" not in str(entry.data)  # the number itself is never logged


def test_full_phone_refused_to_roles_without_it(campaign, office_client):
    client, _ = office_client(roles.FINANCE)
    order = approved_order(campaign)
    response = client.post(reverse("backoffice:order-full-phone", args=[order.pk]))
    assert response.status_code == 403
    assert not LogEntry.objects.filter(action="core.phone.viewed").exists()


def test_full_phone_needs_post(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    order = approved_order(campaign)
    assert client.get(reverse("backoffice:order-full-phone", args=[order.pk])).status_code == 405
    assert not LogEntry.objects.filter(action="core.phone.viewed").exists()


# --- handing out through the screen ----------------------------------------------------------------


def test_hand_out_screen_refuses_without_the_checks_in_chinese(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    order = approved_order(campaign)
    url = reverse("backoffice:counter-hand-out", args=[order.pk])
    response = client.post(url, {"old_pass_collected": "1"}, HTTP_HX_REQUEST="true")
    assert "请先核验工作证" in response.content.decode()
    order.refresh_from_db()
    assert order.handed_out_at is None


def test_hand_out_screen_hands_out_with_both_checks(campaign, office_client):
    client, clerk = office_client(roles.COUNTER)
    order = approved_order(campaign)
    url = reverse("backoffice:counter-hand-out", args=[order.pk])
    response = client.post(url, {"old_pass_collected": "1", "id_checked": "1"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "发放成功" in html and reverse("backoffice:counter-slip", args=[order.pk]) in html
    order.refresh_from_db()
    assert order.handed_out_by == clerk
    # A second click (another tab) is refused with who and when.
    again = client.post(url, {"old_pass_collected": "1", "id_checked": "1"}, follow=True)
    assert "不能重复发放" in again.content.decode()


def test_hand_out_is_for_counter_roles_only(campaign, office_client):
    client, _ = office_client(roles.REVIEWER)
    order = approved_order(campaign)
    url = reverse("backoffice:counter-hand-out", args=[order.pk])
    assert client.post(url, {"old_pass_collected": "1", "id_checked": "1"}).status_code == 403
    order.refresh_from_db()
    assert order.handed_out_at is None


# --- slip and pending list --------------------------------------------------------------------------------


def test_pickup_slip_is_printable_on_a5_or_a4(campaign, office_client):
    client, clerk = office_client(roles.COUNTER)
    order = approved_order(campaign)
    order_hand_out(order=order, acting_user=clerk, old_pass_collected=True, id_checked=True)
    url = reverse("backoffice:counter-slip", args=[order.pk])
    html = client.get(url).content.decode()
    for text in (
        order.staff.name,
        order.plate,
        order.new_pass.number,
        clerk.get_full_name(),
        "签字",
        "size: A5",
    ):
        assert text in html
    assert f"{order.new_pass.valid_to:%Y}年" in html
    assert "size: A4" in client.get(url, {"size": "a4"}).content.decode()


def test_no_slip_for_an_order_without_a_pass(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    order = paid_order(campaign)
    response = client.get(reverse("backoffice:counter-slip", args=[order.pk]), follow=True)
    assert "不能打印领取单" in response.content.decode()


def test_pending_list_is_approved_pickups_not_collected_oldest_first(campaign, office_client, make_user):
    client, clerk = office_client(roles.COUNTER)
    older = approved_order(campaign)
    newer = approved_order(campaign)
    RenewalOrder.objects.filter(pk=older.pk).update(decided_at=timezone.now() - dt.timedelta(days=2))
    collected = approved_order(campaign)
    order_hand_out(order=collected, acting_user=clerk, old_pass_collected=True, id_checked=True)
    approved_order(campaign, fulfilment="delivery", address="行政2号楼1层122室")
    paid_order(campaign)
    assert list(pending_pickups(campaign=campaign)) == [older, newer]
    html = client.get(reverse("backoffice:counter-pending")).content.decode()
    assert html.index(older.plate) < html.index(newer.plate)
    assert collected.plate not in html
    assert f"{older.pickup_from:%Y-%m-%d}" in html


# --- every view is behind its screen --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "screen"),
    [
        ("counter", [], "counter"),
        ("counter-pending", [], "counter"),
        ("counter-hand-out", [1], "counter"),
        ("counter-slip", [1], "counter"),
        ("order-full-phone", [1], "full_phone"),
        ("delivery", [], "delivery"),
        ("delivery-assign", [], "delivery_assign"),
        ("delivery-delivered", [1], "delivery"),
        ("delivery-print", [], "delivery"),
        ("refunds", [], "refunds"),
        ("refunds-retry", [1], "refunds"),
        ("refunds-request", [1], "refunds"),
        ("refunds-sync", [1], "refunds"),
        ("exports", [], "exports"),
        ("exports-download", ["orders"], "exports"),
    ],
)
def test_every_fulfilment_view_is_wrapped_with_its_screen(name, args, screen, client):
    url = reverse(f"backoffice:{name}", args=args)
    assert resolve(url).func.screen == screen
    # Not signed in: the sign-in page, whatever the method.
    response = (
        client.post(url) if name not in {"counter", "delivery", "refunds", "exports"} else client.get(url)
    )
    assert response.status_code == 302 and reverse("backoffice:login") in response["Location"]


def test_counter_screen_shows_a_handed_out_order_whose_clerk_account_was_deleted(
    campaign, office_client, make_user
):
    """Issue 13: the hand-out line used the clerk's name as a filter argument and raised a 500 once the
    clerk's account was gone."""
    clerk = make_user(roles.COUNTER)
    order = approved_order(campaign)
    order_hand_out(order=order, acting_user=clerk, old_pass_collected=True, id_checked=True)
    clerk.delete()
    order.refresh_from_db()
    assert order.handed_out_by is None and order.handed_out_at is not None
    client, _ = office_client(roles.COUNTER)
    response = client.get(reverse("backoffice:counter"), {"q": order.plate})
    html = response.content.decode()
    assert response.status_code == 200
    assert "经办人账号已删除" in html and "发放" in html
