"""Issue 14 item 10 (and 12's stale count): a rejected order shows its reason and a link to 现场办理;
a pass handed out before its pickup date needs a confirmation; the 待领取 count follows 发放."""

import datetime as dt

import pytest
from django.utils import timezone

from campuspass.backoffice.roles import COUNTER
from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.fulfilment import order_hand_out

from .test_counter import approved_order, rejected_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    from tests.renewals.factories import make_campaign

    return make_campaign()


def test_a_rejected_order_shows_its_reason_and_the_way_to_the_desk(campaign, office_client):
    order = rejected_order(campaign)
    client, _ = office_client(COUNTER)
    page = client.get("/office/counter/", {"q": order.plate}).content.decode()
    assert "审核未通过：照片不清晰" in page
    assert f"/office/onsite/?q={order.staff.staff_no}" in page and "现场办理" in page


def test_handing_out_before_the_pickup_date_needs_a_confirmation(campaign, office_client):
    order = approved_order(campaign)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    RenewalOrder.objects.filter(pk=order.pk).update(pickup_from=tomorrow)
    client, clerk = office_client(COUNTER)
    page = client.get("/office/counter/", {"q": order.plate}).content.decode()
    assert "新证已制好，提前发放" in page
    with pytest.raises(CampusPassError) as refused:
        order_hand_out(order=order, acting_user=clerk, old_pass_collected=True, id_checked=True)
    assert refused.value.code == "before_pickup_date" and tomorrow.isoformat() in refused.value.message
    checks = {"old_pass_collected": "1", "id_checked": "1"}
    answer = client.post(f"/office/counter/{order.pk}/hand-out/", checks, HTTP_HX_REQUEST="true")
    assert "今天还没到" in answer.content.decode()
    order.refresh_from_db()
    assert order.handed_out_at is None
    answer = client.post(
        f"/office/counter/{order.pk}/hand-out/", {**checks, "early_confirmed": "1"}, HTTP_HX_REQUEST="true"
    )
    order.refresh_from_db()
    assert order.handed_out_at is not None
    entry = LogEntry.objects.get(action="renewals.order.handed_out")
    assert entry.data["early"] is True and entry.data["pickup_from"] == tomorrow.isoformat()


def test_the_pending_count_follows_a_hand_out(campaign, office_client):
    order, other = approved_order(campaign), approved_order(campaign)
    client, _ = office_client(COUNTER)
    assert 'id="pending-count">2<' in client.get("/office/counter/").content.decode()
    answer = client.post(
        f"/office/counter/{order.pk}/hand-out/",
        {"old_pass_collected": "1", "id_checked": "1"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert '<span id="pending-count" hx-swap-oob="true">1</span>' in answer
    assert other.handed_out_at is None
