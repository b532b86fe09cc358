"""Issue 13, payment notifications: verified, recorded and applied in one short transaction —
one commit, no savepoint around the nonce, a replay still refused and leaving no nonce behind."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campuspass.payments.models import ReceivedNotification, UsedNonce
from campuspass.renewals.models import RenewalOrder
from tests.payments.factories import headers_for, payment_body
from tests.renewals.test_notifications_through_the_core import now_text, post, unpaid_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def simulator(settings, tmp_path):
    settings.PAYMENT_PROVIDER = "simulator"
    settings.PAYMENT_SIMULATOR_DIR = tmp_path / "paysim"
    settings.PAYMENT_SIMULATOR_FAULTS = []
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def test_a_notification_is_one_transaction(client):
    order = unpaid_order()
    _, body = payment_body(out_trade_no=order.out_trade_no, total=order.amount_fen, success_time=now_text())
    headers = headers_for(body)
    with CaptureQueriesContext(connection) as captured:
        response = post(client, body, headers)
    assert response.status_code == 200
    sqls = [q["sql"] for q in captured.captured_queries]
    nonce_at = next(i for i, sql in enumerate(sqls) if "payments_usednonce" in sql)
    assert not sqls[nonce_at - 1].startswith("SAVEPOINT")  # the nonce needs no savepoint
    if connection.vendor == "postgresql":  # SQLite's test connection does not show BEGIN/COMMIT alike
        assert sqls.count("COMMIT") == 1, sqls
        assert len(sqls) <= 22, "\n".join(sqls)
    # The handler locks the order once and reads the ledger once (it read both twice).
    order_reads = [sql for sql in sqls if sql.startswith("SELECT") and 'FROM "renewals_renewalorder"' in sql]
    assert len(order_reads) == 1, order_reads
    ledger_reads = [sql for sql in sqls if sql.startswith("SELECT") and 'FROM "renewals_payment"' in sql]
    assert len(ledger_reads) == 1, ledger_reads
    order.refresh_from_db()
    assert order.status == RenewalOrder.Status.PAID
    # The same signed request again (same nonce): a replay, refused, nothing of it kept but the log.
    replay = post(client, body, headers)
    assert replay.status_code == 401
    assert UsedNonce.objects.count() == 1
    assert ReceivedNotification.objects.filter(verified=False, reject_reason="nonce_reused").count() == 1
