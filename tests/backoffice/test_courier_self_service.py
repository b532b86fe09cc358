"""Issue 14 item 8: couriers claim deliveries themselves, see the full numbers on their own printed
list (each audited), and a failed delivery returns the pass to the counter."""

import pytest

from campuspass.backoffice.roles import COUNTER, COURIER
from campuspass.core.models import LogEntry
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.fulfilment import order_claim_deliveries
from campuspass.sms.models import OutboxMessage

from .test_counter import approved_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    from tests.renewals.factories import make_campaign

    return make_campaign()


def delivery(campaign, address="逸夫楼3层301"):
    return approved_order(campaign, fulfilment="delivery", address=address)


def test_a_courier_claims_unassigned_deliveries_without_a_clerk(campaign, office_client, make_user):
    first, second = delivery(campaign), delivery(campaign)
    other = make_user(COURIER, "courier-b")
    RenewalOrder.objects.filter(pk=second.pk).update(courier=other)
    client, courier = office_client(COURIER)
    page = client.get("/office/delivery/").content.decode()
    assert "认领所选订单" in page and f'value="{first.pk}" form="claim-form"' in page
    assert f'value="{second.pk}" form="claim-form"' not in page  # already someone's
    response = client.post("/office/delivery/claim/", {"orders": [first.pk, second.pk]}, follow=True)
    assert "已认领 1 个" in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.courier == courier and second.courier == other
    assert LogEntry.objects.get(action="renewals.order.courier_claimed").actor == courier
    again = client.post("/office/delivery/claim/", {"orders": [second.pk]}, follow=True)
    assert "已被其他配送员认领" in again.content.decode()


def test_the_couriers_own_printed_list_has_full_numbers_audited(campaign, office_client):
    mine, theirs = delivery(campaign), delivery(campaign)
    client, courier = office_client(COURIER)
    RenewalOrder.objects.filter(pk=mine.pk).update(courier=courier)
    page = client.get("/office/delivery/print/").content.decode()
    assert mine.staff.mobile in page
    assert theirs.staff.mobile not in page and theirs.plate not in page
    viewed = LogEntry.objects.get(action="core.phone.viewed")
    assert viewed.actor == courier and viewed.data["where"] == "送证清单" and viewed.plate == mine.plate


def test_a_failed_delivery_returns_the_pass_to_the_counter(
    campaign, office_client, django_capture_on_commit_callbacks
):
    order = delivery(campaign)
    client, courier = office_client(COURIER)
    order_claim_deliveries(orders=[order], courier=courier)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/office/delivery/{order.pk}/failed/", {"reason": "无人在，电话联系不上"}, follow=True
        )
    assert "已登记未送达" in response.content.decode() and "请把通行证交回窗口" in response.content.decode()
    order.refresh_from_db()
    assert order.fulfilment == RenewalOrder.Fulfilment.PICKUP and order.courier is None
    assert order.handed_out_at is None and order.status == RenewalOrder.Status.APPROVED
    assert order.fulfilment_status == RenewalOrder.Handover.TO_COLLECT
    entry = LogEntry.objects.get(action="renewals.order.delivery_failed")
    assert entry.reason == "无人在，电话联系不上" and entry.actor == courier
    assert OutboxMessage.objects.filter(template="approved_pickup", related=f"order:{order.pk}").exists()
    # Back at the counter: it is in the pickups list now.
    counter, _ = office_client(COUNTER, "clerk")
    assert order.plate in counter.get("/office/counter/", {"q": order.plate}).content.decode()
    from campuspass.renewals.services.fulfilment import pending_pickups

    assert order in pending_pickups(campaign=campaign)


def test_only_the_assigned_courier_records_a_failed_delivery(campaign, office_client, make_user):
    order = delivery(campaign)
    RenewalOrder.objects.filter(pk=order.pk).update(courier=make_user(COURIER, "courier-b"))
    client, _ = office_client(COURIER)
    response = client.post(
        f"/office/delivery/{order.pk}/failed/", {"reason": "地址不对或找不到"}, follow=True
    )
    assert "没有分派给您" in response.content.decode()
    order.refresh_from_db()
    assert order.fulfilment == RenewalOrder.Fulfilment.DELIVERY
    missing = client.post(f"/office/delivery/{order.pk}/failed/", {"reason": "other", "reason_text": ""})
    assert missing.status_code == 302


def test_a_claim_with_ids_in_other_digits_is_answered_not_a_server_error(campaign, office_client):
    order = delivery(campaign)
    client, _ = office_client(COURIER)
    response = client.post("/office/delivery/claim/", {"orders": ["²", "١", str(order.pk)]}, follow=True)
    assert response.status_code == 200 and "已认领 1 个" in response.content.decode()
    order.refresh_from_db()
    assert order.courier is not None
