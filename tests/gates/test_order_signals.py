"""Which order changes ask the task worker to refresh a plate at the gates (issue 13): only those
that can change what a gate should know — an order that has issued a pass (approval, or its pass
link changed). Placing, consenting to, paying for, rejecting and refunding an order does not (an
order without a pass bears on no gate)."""

import pytest

from campuspass.renewals.services.orders import order_approve, order_reject
from campuspass.renewals.services.refunds import refund_request
from tests.backoffice.test_counter import paid_order
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def refreshes(monkeypatch):
    """The plates the order hooks ask to refresh; the previous year's pass and vehicle, which the
    helpers create first (and which do ask), are not counted."""
    import tests.backoffice.test_counter as helpers

    asked: list[tuple[str, ...]] = []
    monkeypatch.setattr("campuspass.gates.signals.plate_changed", lambda *plates: asked.append(plates))
    make_pass = helpers.make_pass

    def registry_then_count(**kwargs):
        made = make_pass(**kwargs)
        asked.clear()
        return made

    monkeypatch.setattr(helpers, "make_pass", registry_then_count)
    return asked


def test_a_renewal_up_to_paid_asks_for_no_refresh_its_approval_does(refreshes):
    campaign = make_campaign()
    order = paid_order(campaign, plate="京A12345")  # created, consent given, paid
    assert refreshes == []
    order_approve(order=order, acting_user=None)
    assert ("京A12345",) in refreshes


def test_a_rejection_and_its_refund_ask_for_none(refreshes):
    campaign = make_campaign()
    order = order_reject(order=paid_order(campaign, plate="京B54321"), acting_user=None, reason="照片不清晰")
    refund_request(order=order, acting_user=None)
    assert refreshes == []


def test_a_pass_given_to_or_taken_from_an_order_asks_for_a_refresh(refreshes):
    campaign = make_campaign()
    order = order_approve(order=paid_order(campaign, plate="京C11111"), acting_user=None)
    refreshes.clear()
    order.save(update_fields=["new_pass"])
    assert ("京C11111",) in refreshes
