"""Payment and refund notifications as an attacker and a flaky network send them, through the real
endpoint, the real verifier (the simulator's keys) and the renewal core's handlers."""

import threading

import pytest
import time_machine
from django.db import close_old_connections, connection, transaction
from django.test import Client
from django.utils import timezone

from campuspass.core.models import LogEntry
from campuspass.payments.crypto import generate_private_key
from campuspass.payments.models import ReceivedNotification
from campuspass.renewals.models import Refund, RenewalOrder
from campuspass.renewals.services.orders import (
    order_create,
    order_mark_paid,
    order_record_consent,
    order_reject,
)
from campuspass.renewals.services.refunds import refund_request
from campuspass.renewals.services.review import review_approve
from tests.payments.factories import headers_for, payment_body
from tests.photos import photo_for

from .factories import make_campaign, make_pass

S = RenewalOrder.Status
URL = "/pay/notify/payment/"


@pytest.fixture(autouse=True)
def simulator(settings, tmp_path):
    settings.PAYMENT_PROVIDER = "simulator"
    settings.PAYMENT_SIMULATOR_DIR = tmp_path / "paysim"
    settings.PAYMENT_SIMULATOR_FAULTS = []


def unpaid_order() -> RenewalOrder:
    campaign = make_campaign()
    previous = make_pass()
    order = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address=None, user_agent=""
    )
    return order


def now_text() -> str:
    return timezone.localtime().replace(microsecond=0).isoformat()


def post(client, body: str, headers: dict):
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def paid_entries(order) -> int:
    return LogEntry.objects.filter(object_id=str(order.pk), action="renewals.order.paid").count()


@pytest.mark.django_db
def test_a_genuine_notification_pays_the_order_once(client):
    order = unpaid_order()
    _, body = payment_body(out_trade_no=order.out_trade_no, total=order.amount_fen, success_time=now_text())
    assert post(client, body, headers_for(body)).status_code == 200
    assert post(client, body, headers_for(body)).status_code == 200  # the platform's retry
    order.refresh_from_db()
    assert order.status == S.PAID and order.paid_amount_fen == order.amount_fen
    assert paid_entries(order) == 1


def _forged(body):
    return headers_for(body, private_key=generate_private_key())


def _stale(body):
    return headers_for(body, timestamp=int(timezone.now().timestamp()) - 301)


def _future(body):
    # well past the 300 s tolerance: a slow CI run must not bring it back inside before the check
    return headers_for(body, timestamp=int(timezone.now().timestamp()) + 330)


def _unknown_serial(body):
    return headers_for(body, serial="PUB_KEY_ID_SOMEONE_ELSE")


def _signtest(body):
    return headers_for(body, signature="WECHATPAY/SIGNTEST/" + "A" * 40)


@pytest.mark.django_db
@pytest.mark.parametrize("make_headers", [_forged, _stale, _future, _unknown_serial, _signtest])
def test_refused_notifications_write_nothing_but_a_log_row(client, make_headers):
    order = unpaid_order()
    _, body = payment_body(out_trade_no=order.out_trade_no, total=order.amount_fen, success_time=now_text())
    response = post(client, body, make_headers(body))
    assert 400 <= response.status_code < 500
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT and paid_entries(order) == 0
    row = ReceivedNotification.objects.get()
    assert row.verified is False and row.reject_reason


@pytest.mark.django_db
def test_a_tampered_body_is_refused(client):
    order = unpaid_order()
    _, body = payment_body(out_trade_no=order.out_trade_no, total=order.amount_fen, success_time=now_text())
    headers = headers_for(body)
    tampered = body.replace('"summary": "', '"summary": "x', 1) if '"summary": "' in body else body + " "
    assert 400 <= post(client, tampered, headers).status_code < 500
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT


@pytest.mark.django_db
def test_a_replayed_nonce_is_refused(client):
    order = unpaid_order()
    _, body = payment_body(out_trade_no=order.out_trade_no, total=order.amount_fen, success_time=now_text())
    headers = headers_for(body)
    assert post(client, body, headers).status_code == 200
    assert 400 <= post(client, body, headers).status_code < 500  # same nonce, same signature
    assert paid_entries(order) == 1


@pytest.mark.django_db
def test_a_signed_notification_with_the_wrong_amount_is_not_applied(client):
    order = unpaid_order()
    _, body = payment_body(
        out_trade_no=order.out_trade_no, total=order.amount_fen - 1, success_time=now_text()
    )
    assert post(client, body, headers_for(body)).status_code == 200  # acknowledged, not applied
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT
    assert LogEntry.objects.filter(object_id=str(order.pk), action="renewals.order.payment_mismatch").exists()


@pytest.mark.django_db
def test_a_stale_timestamp_is_judged_by_the_clock(client):
    order = unpaid_order()
    _, body = payment_body(out_trade_no=order.out_trade_no, total=order.amount_fen, success_time=now_text())
    headers = headers_for(body)
    with time_machine.travel(timezone.now() + timezone.timedelta(seconds=302)):
        assert 400 <= post(client, body, headers).status_code < 500


def _in_threads(count, work):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait()
            results.append(work(i))
        except Exception as exc:  # collected and reported by the test
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_notifications_pay_once():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrency only show on PostgreSQL")
    order = unpaid_order()
    _, body = payment_body(out_trade_no=order.out_trade_no, total=order.amount_fen, success_time=now_text())
    # Twenty deliveries of the same event (each re-signed with its own nonce, as WeChat retries).
    deliveries = [headers_for(body) for _ in range(20)]
    results, errors = _in_threads(20, lambda i: post(Client(), body, deliveries[i]).status_code)
    assert not errors, errors
    order.refresh_from_db()
    assert order.status == S.PAID
    assert paid_entries(order) == 1
    assert all(code in (200, 500) for code in results) and results.count(200) >= 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_refund_requests_make_one_refund(settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrency only show on PostgreSQL")
    order = unpaid_order()
    # Paid on the (strict) simulator too, so it accepts the refund: an order the platform does not
    # know is refused for good (RESOURCE_NOT_EXISTS, decision 0011).
    from campuspass.payments.models import SimTransaction
    from campuspass.renewals.services.payments import payment_start

    payment_start(order=order, openid="o-test")
    SimTransaction.objects.filter(out_trade_no=order.out_trade_no).update(
        state="SUCCESS", transaction_id="4200000000202501011234567890", success_time=timezone.now()
    )
    _, body = payment_body(out_trade_no=order.out_trade_no, total=order.amount_fen, success_time=now_text())
    assert post(Client(), body, headers_for(body)).status_code == 200
    order = order_reject(order=RenewalOrder.objects.get(pk=order.pk), acting_user=None, reason="信息不符")
    results, errors = _in_threads(
        20, lambda i: refund_request(order=RenewalOrder.objects.get(pk=order.pk)).pk
    )
    assert not errors, errors
    assert Refund.objects.filter(order=order).count() == 1
    assert set(results) == {Refund.objects.get(order=order).pk}
    assert LogEntry.objects.filter(object_id=str(order.pk), action="renewals.order.refunding").count() == 1
    assert LogEntry.objects.filter(action="renewals.refund.requested").count() == 1


def _holding(work, holding: threading.Event, release: threading.Event, errors: list):
    """Run `work` inside a transaction and keep it open (with its row locks) until `release`."""

    def run():
        try:
            with transaction.atomic():
                work()
                holding.set()
                release.wait(timeout=20)
        except Exception as exc:  # reported by the test
            errors.append(exc)
            holding.set()
        finally:
            close_old_connections()

    return threading.Thread(target=run)


def _without_waiting(work):
    """Run `work` in a transaction that gives up after 3 s of waiting for any lock."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '3s'")
        return work()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["reviewer", "payment"])
def test_a_payment_and_a_decision_in_one_campaign_never_wait_for_each_other(first):
    """Each move locks only its own order row: a reviewer's decision (which also takes the next pass
    number) and a payment notification for another order of the same campaign run at once."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrency only show on PostgreSQL")
    campaign = make_campaign()
    unpaid = unpaid_order_in(campaign)
    decided = unpaid_order_in(campaign)
    order_mark_paid(
        out_trade_no=decided.out_trade_no,
        transaction_id="4200REVIEW",
        amount_fen=decided.amount_fen,
        source="test",
    )

    def decide():
        review_approve(order=RenewalOrder.objects.get(pk=decided.pk), acting_user=None)

    def pay():
        order_mark_paid(
            out_trade_no=unpaid.out_trade_no,
            transaction_id="4200PAY",
            amount_fen=unpaid.amount_fen,
            source="notification",
        )

    holder_work, other_work = (decide, pay) if first == "reviewer" else (pay, decide)
    holding, release, errors = threading.Event(), threading.Event(), []
    thread = _holding(holder_work, holding, release, errors)
    thread.start()
    try:
        assert holding.wait(timeout=20)
        assert not errors, errors
        _without_waiting(other_work)  # raises OperationalError (lock timeout) if it had to wait
    finally:
        release.set()
        thread.join()
    assert not errors, errors
    assert RenewalOrder.objects.get(pk=unpaid.pk).status == S.PAID
    assert RenewalOrder.objects.get(pk=decided.pk).status == S.APPROVED


def unpaid_order_in(campaign) -> RenewalOrder:
    previous = make_pass()
    order = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address=None, user_agent=""
    )
    return order
