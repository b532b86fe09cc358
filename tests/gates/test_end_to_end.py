"""End to end: a renewal approved in the back office reaches a simulated gate; a rejected one never
does; an approved one leaves the gate the day after its pass ends."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice.roles import REVIEWER
from campuspass.gates import sync
from campuspass.gates.models import GateEntry
from campuspass.renewals.models import RenewalOrder
from campuspass.verification.otp import grant
from tests.backoffice.test_review import paid_order
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return make_campaign()


def test_approved_reaches_the_gate_rejected_never_does_expired_leaves(
    campaign, artemis_gate, artemis, office_client, django_capture_on_commit_callbacks
):
    approved = paid_order(campaign)
    rejected = paid_order(campaign)
    client, _ = office_client(REVIEWER)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("backoffice:review-approve", args=[approved.pk]))
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("backoffice:review-reject", args=[rejected.pk]), {"note": "照片不清晰"})
    approved.refresh_from_db()
    rejected.refresh_from_db()
    assert approved.status == RenewalOrder.Status.APPROVED and rejected.status != RenewalOrder.Status.APPROVED

    # The approval's after-commit nudge pushed the car; the parking service applies it, we read back.
    artemis.settle()
    sync.push_due(artemis_gate, now=timezone.now() + dt.timedelta(minutes=1))
    entry = GateEntry.objects.get(gate=artemis_gate, plate=approved.plate)
    assert entry.state == GateEntry.State.SYNCED
    period = artemis.charges[("park-1", approved.plate)]
    assert period["startTime"].startswith(str(campaign.valid_from))
    assert period["endTime"].startswith(str(campaign.valid_to))
    assert ("park-1", rejected.plate) not in artemis.charges
    assert not GateEntry.objects.filter(plate=rejected.plate).exists()

    # The staff member's order page says the gates know.
    from campuspass.gates.selectors import order_gate_status

    assert order_gate_status(approved) == "synced"
    assert order_gate_status(rejected) is None
    staff = Client()
    session = staff.session
    grant(session, approved.plate)
    session.save()
    staff.cookies["sessionid"] = session.session_key
    assert "已同步至校门" in staff.get(f"/m/orders/{approved.pk}/").content.decode()
    GateEntry.objects.filter(plate=approved.plate).update(state=GateEntry.State.PENDING)
    page = staff.get(f"/m/orders/{approved.pk}/").content.decode()
    assert "已同步至校门" not in page and "正在同步至校门" in page
    GateEntry.objects.filter(plate=approved.plate).update(state=GateEntry.State.SYNCED)

    # The day after the pass ends, the car leaves the gate.
    after = campaign.valid_to + dt.timedelta(days=1)
    moment = timezone.make_aware(dt.datetime.combine(after, dt.time(0, 5)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "localdate", lambda *a, **k: after)
        sync.review_due(now=moment)
    sync.push_due(artemis_gate, now=moment)
    assert ("park-1", approved.plate) not in artemis.charges
