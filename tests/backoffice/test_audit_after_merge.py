"""Found reading the merged issues 9-14 together: a person's text that looks like a time broke the
audit screen, and a filter for a renamed action code missed the entries written before the rename."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from campuspass.backoffice.roles import ADMIN
from campuspass.core.audit import format_value
from campuspass.core.audit_catalogue import DATA_KEYS
from campuspass.core.models import LogEntry
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.onsite import onsite_renewal
from campuspass.renewals.services.orders import order_set_fulfilment
from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db


def test_an_address_that_looks_like_an_impossible_time_is_shown_as_typed(make_user, office_client):
    clerk = make_user("窗口", "clerk")
    campaign = make_campaign()
    permit = make_pass(plate="京A11111", mobile="13900000001")
    order = onsite_renewal(
        previous_pass=permit, campaign=campaign, acting_user=clerk, method="cash", receipt_no="R1"
    )
    order_set_fulfilment(
        order=order, fulfilment="delivery", delivery_address="2026-02-30 10:00", acting_user=None
    )
    client, _ = office_client(ADMIN)
    response = client.get(reverse("backoffice:audit"))
    assert response.status_code == 200
    assert "2026-02-30 10:00" in response.content.decode()


def test_text_is_never_shifted_to_beijing_time_but_a_time_key_is():
    assert format_value("2026-01-05 10:00", DATA_KEYS["address"], "address") == "2026-01-05 10:00"
    assert format_value("2026-01-05T02:00:00+00:00", DATA_KEYS["until"], "until") == "2026-01-05 10:00:00"


def test_the_photo_view_filter_also_finds_views_logged_under_the_old_code(office_client):
    kind = ContentType.objects.get_for_model(RenewalOrder)
    old = LogEntry.objects.create(
        action="renewals.order.photo_viewed",
        actor_label="审核员甲",
        content_type=kind,
        object_id="1",
        data={},
    )
    new = LogEntry.objects.create(
        action="verification.photo.viewed", actor_label="审核员乙", content_type=kind, object_id="2", data={}
    )
    client, _ = office_client(ADMIN)
    body = client.get(reverse("backoffice:audit"), {"action": "verification.photo.viewed"}).content.decode()
    assert old.actor_label in body and new.actor_label in body
