"""Decision 0034: handing out and delivery are the FULFILMENT axis of the order. Every move is in the
table and writes one audit entry {"axis": "fulfilment", "from", "to"} with its facts; illegal moves
are refused with a Chinese sentence saying what to do; the order's label and the screens read it."""

import re

import pytest
from django.contrib.contenttypes.models import ContentType

from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.core.roles import COUNTER, COURIER
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.fulfilment import (
    order_assign_courier,
    order_claim_deliveries,
    order_delivery_failed,
    order_hand_out,
    pending_deliveries,
    pending_pickups,
)
from campuspass.renewals.services.orders import order_set_fulfilment
from campuspass.renewals.transitions import FULFILMENT, can_transition
from tests.backoffice.test_counter import approved_order, rejected_order
from tests.renewals.factories import make_campaign

H = RenewalOrder.Handover
pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return make_campaign()


@pytest.fixture
def courier(make_user):
    return make_user(COURIER, "courier-1")


def delivery(campaign):
    return approved_order(campaign, fulfilment="delivery", address="逸夫楼3层301")


def moves(order):
    """The audited moves of the order on the FULFILMENT axis, oldest first."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(RenewalOrder),
        object_id=str(order.pk),
        data__axis="fulfilment",
    ).order_by("pk")
    return [(e.action, e.data["from"], e.data["to"]) for e in entries]


def hand_out(order, channel="counter", user=None):
    return order_hand_out(
        order=order, acting_user=user, old_pass_collected=True, id_checked=True, channel=channel
    )


def refused(work) -> CampusPassError:
    with pytest.raises(CampusPassError) as caught:
        work()
    message = caught.value.message
    assert not re.search(r"[A-Za-z]{3,}", message), message  # for people at the counter: Chinese
    return caught.value


def test_pickup_from_approval_to_collected(campaign):
    order = approved_order(campaign)
    assert order.fulfilment_status == H.TO_COLLECT and order.status_label == "待领取"
    assert order in pending_pickups(campaign=campaign)
    hand_out(order)
    order.refresh_from_db()
    assert order.fulfilment_status == H.COLLECTED and order.handed_out_at and order.handed_over
    assert order.status_label in {"待生效", "使用中", "已过期"}
    assert order not in pending_pickups(campaign=campaign)
    assert moves(order) == [
        ("renewals.order.handover_pending", "", H.TO_COLLECT),
        ("renewals.order.handed_out", H.TO_COLLECT, H.COLLECTED),
    ]


def test_delivery_from_approval_through_a_courier_to_delivered(campaign, courier, make_user):
    order = delivery(campaign)
    assert order.fulfilment_status == H.TO_DELIVER and order.status_label == "待送证"
    order_assign_courier(orders=[order], courier=courier, acting_user=make_user(COUNTER))
    order.refresh_from_db()
    assert order.fulfilment_status == H.DELIVERING and order.status_label == "配送中"
    assert order in pending_deliveries(campaign=campaign)
    # Given to another courier: a new fact, not a move.
    other = make_user(COURIER, "courier-2")
    assert order_assign_courier(orders=[order], courier=other, acting_user=None) == 1
    hand_out(order, "delivery", other)
    order.refresh_from_db()
    assert order.fulfilment_status == H.DELIVERED and order.handed_out_by == other
    assert order not in pending_deliveries(campaign=campaign)
    assert moves(order) == [
        ("renewals.order.handover_pending", "", H.TO_DELIVER),
        ("renewals.order.courier_assigned", H.TO_DELIVER, H.DELIVERING),
        ("renewals.order.handed_out", H.DELIVERING, H.DELIVERED),
    ]


def test_a_failed_delivery_goes_back_to_the_counter_and_is_collected_there(campaign, courier):
    order = delivery(campaign)
    order_claim_deliveries(orders=[order], courier=courier)
    order_delivery_failed(order=order, acting_user=courier, reason="无人在")
    order.refresh_from_db()
    assert order.fulfilment_status == H.TO_COLLECT and order.courier is None
    assert order.fulfilment == RenewalOrder.Fulfilment.PICKUP and order.status_label == "待领取"
    hand_out(order)
    assert moves(order) == [
        ("renewals.order.handover_pending", "", H.TO_DELIVER),
        ("renewals.order.courier_claimed", H.TO_DELIVER, H.DELIVERING),
        ("renewals.order.delivery_failed", H.DELIVERING, H.TO_COLLECT),
        ("renewals.order.handed_out", H.TO_COLLECT, H.COLLECTED),
    ]


def test_a_delivery_collected_at_the_counter_before_a_courier_took_it(campaign):
    order = delivery(campaign)
    hand_out(order, "counter")
    order.refresh_from_db()
    assert order.fulfilment_status == H.COLLECTED
    assert moves(order)[-1] == ("renewals.order.handed_out", H.TO_DELIVER, H.COLLECTED)


def test_the_staff_member_switches_after_approval(campaign, courier):
    order = approved_order(campaign)
    order_set_fulfilment(order=order, fulfilment="delivery", delivery_address="药学院 305室")
    order.refresh_from_db()
    assert order.fulfilment_status == H.TO_DELIVER
    order_claim_deliveries(orders=[order], courier=courier)
    order_set_fulfilment(order=order, fulfilment="pickup")
    order.refresh_from_db()
    assert order.fulfilment_status == H.TO_COLLECT and order.courier is None
    assert [m[1:] for m in moves(order)] == [
        ("", H.TO_COLLECT),
        (H.TO_COLLECT, H.TO_DELIVER),
        (H.TO_DELIVER, H.DELIVERING),
        (H.DELIVERING, H.TO_COLLECT),
    ]
    hand_out(order)
    error = refused(
        lambda: order_set_fulfilment(order=order, fulfilment="delivery", delivery_address="逸夫楼 1")
    )
    assert error.code == "fulfilment_locked"


def test_a_pass_is_never_handed_out_twice_by_any_door(campaign, courier):
    order = delivery(campaign)
    order_claim_deliveries(orders=[order], courier=courier)
    hand_out(order, "delivery", courier)
    for channel in ("counter", "delivery"):
        error = refused(lambda channel=channel: hand_out(order, channel))
        assert error.code == "already_handed_out" and "送达" in error.message
    assert refused(lambda: order_delivery_failed(order=order, acting_user=courier, reason="x")).code == (
        "not_deliverable"
    )
    assert refused(lambda: order_claim_deliveries(orders=[order], courier=courier)).code == "nothing_left"
    assert refused(lambda: order_assign_courier(orders=[order], courier=courier, acting_user=None)).code == (
        "nothing_deliverable"
    )
    assert len(moves(order)) == 3


def test_an_unassigned_delivery_cannot_be_marked_delivered_or_failed(campaign, courier):
    order = delivery(campaign)
    assert refused(lambda: hand_out(order, "delivery", courier)).code == "not_assigned"
    assert refused(lambda: order_delivery_failed(order=order, acting_user=courier, reason="无人")).code == (
        "not_deliverable"
    )
    order.refresh_from_db()
    assert order.fulfilment_status == H.TO_DELIVER and order.handed_out_at is None


def test_a_pass_with_a_courier_is_not_handed_out_at_the_counter(campaign, courier):
    order = delivery(campaign)
    order_claim_deliveries(orders=[order], courier=courier)
    error = refused(lambda: hand_out(order, "counter"))
    assert error.code == "with_courier" and "未送达" in error.message


def test_a_pickup_is_not_delivered(campaign, courier):
    order = approved_order(campaign)
    assert refused(lambda: hand_out(order, "delivery", courier)).code == "not_delivery"
    assert refused(lambda: order_claim_deliveries(orders=[order], courier=courier)).code == "nothing_left"


def test_a_rejected_order_has_nothing_to_hand_out(campaign, courier):
    order = rejected_order(campaign)
    assert order.fulfilment_status == ""
    assert refused(lambda: hand_out(order)).code == "not_approved"
    assert refused(lambda: order_delivery_failed(order=order, acting_user=None, reason="无人")).code == (
        "not_deliverable"
    )
    assert moves(order) == []


def test_every_audited_move_is_in_the_table(campaign, courier):
    a, b, c = approved_order(campaign), delivery(campaign), delivery(campaign)
    hand_out(a)
    order_claim_deliveries(orders=[b, c], courier=courier)
    hand_out(b, "delivery", courier)
    order_delivery_failed(order=c, acting_user=courier, reason="地址不对")
    for order in (a, b, c):
        chain = ""
        for _, start, end in moves(order):
            assert start == chain and can_transition(start, end, FULFILMENT)
            chain = end
        order.refresh_from_db()
        assert chain == order.fulfilment_status


# --- the screens read the axis --------------------------------------------------------------------------


def test_counter_card_says_where_the_pass_is(campaign, courier, office_client):
    client, _ = office_client(COUNTER)
    order = delivery(campaign)
    order_claim_deliveries(orders=[order], courier=courier)
    page = client.get("/office/counter/", {"q": order.plate}).content.decode()
    assert "配送中" in page and "已交由配送员" in page and 'name="old_pass_collected"' not in page
    response = client.post(
        f"/office/counter/{order.pk}/hand-out/", {"old_pass_collected": "1", "id_checked": "1"}, follow=True
    )
    assert "未送达" in response.content.decode()
    order.refresh_from_db()
    assert order.fulfilment_status == H.DELIVERING
    pickup = approved_order(campaign)
    client.post(f"/office/counter/{pickup.pk}/hand-out/", {"old_pass_collected": "1", "id_checked": "1"})
    page = client.get("/office/counter/", {"q": pickup.plate}).content.decode()
    assert "已领取" in page and "发放成功" not in page


def test_delivery_list_shows_who_has_it_and_offers_delivered_only_with_a_courier(
    campaign, courier, office_client
):
    client, _ = office_client(COUNTER)
    waiting, taken = delivery(campaign), delivery(campaign)
    order_claim_deliveries(orders=[taken], courier=courier)
    page = client.get("/office/delivery/").content.decode()
    assert f"/office/delivery/{taken.pk}/delivered/" in page
    assert f"/office/delivery/{waiting.pk}/delivered/" not in page and "分派或认领后可登记送达" in page
    assert "配送中" in page
    response = client.post(
        f"/office/delivery/{waiting.pk}/delivered/",
        {"old_pass_collected": "1", "id_checked": "1"},
        follow=True,
    )
    assert "还没有分派配送员" in response.content.decode()
    client.post(f"/office/delivery/{taken.pk}/delivered/", {"old_pass_collected": "1", "id_checked": "1"})
    taken.refresh_from_db()
    assert taken.fulfilment_status == H.DELIVERED
    assert "今日已送达 1 个" in client.get("/office/delivery/").content.decode()
