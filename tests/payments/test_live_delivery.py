"""The simulator's notification travels over real HTTP to the running server and reaches the handler."""

import pytest

from campuspass.payments.models import ReceivedNotification, SimNotification
from campuspass.payments.simulator import bank

from . import handlers
from .factories import place_order


@pytest.mark.django_db(transaction=True)
def test_notification_over_http_reaches_handler(live_server, settings):
    settings.SITE_URL = live_server.url
    place_order(notify_url=f"{live_server.url}/pay/notify/payment/")
    bank.confirm_payment("CP2025000001")  # commits; the delivery task runs (immediate backend)

    note = SimNotification.objects.get()
    assert note.acknowledged and note.last_status == 200, note.last_error
    assert [n.resource["out_trade_no"] for n in handlers.CALLS] == ["CP2025000001"]
    row = ReceivedNotification.objects.get()
    assert row.verified and row.applied_ok and row.event_id == note.event_id

    # A raw replay (same headers, same nonce) is refused by the endpoint; a fresh one is a no-op.
    assert bank.replay(note.pk) == 200
    assert bank.replay(note.pk, raw=True) == 401
    assert len(handlers.CALLS) == 1
