"""Issue 10, rest item 1 (decision 0035): the BACKOFF reaction is really applied. A refund resend, a
refund query and an unpaid-order query answered SYSTEM_ERROR, FREQUENCY_LIMITED or not at all are
sent again only after `backoff_delay(failures)` — 1 min, then 5 min, then 15 min … — and from the
beginning after an answer; RETRY_LATER waits only for the next run; a FINAL answer is never resent."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from campuspass.payments import providers
from campuspass.payments.errors import backoff_delay
from campuspass.payments.models import CallBackoff
from campuspass.renewals.models import Refund, RenewalOrder
from campuspass.renewals.services.orders import order_reject
from campuspass.renewals.services.payments import check_unpaid_orders, payment_start
from campuspass.renewals.services.refunds import check_refunds, refund_request

from .scripted import ScriptedProvider
from .test_order_lifecycle import new_order, paid_order

S = RenewalOrder.Status
R = Refund.Status
pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def fake(monkeypatch):
    fake = ScriptedProvider()
    monkeypatch.setattr(providers, "_provider", fake)
    return fake


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def at(clock, seconds: float):
    clock.move_to(T0 + dt.timedelta(seconds=seconds))


def rejected(fake) -> RenewalOrder:
    return order_reject(order=paid_order(fake), acting_user=None, reason="照片不清晰")


def request_refund(order, capture) -> Refund:
    with capture(execute=True):
        refund = refund_request(order=order)
    refund.refresh_from_db()
    return refund


def test_backoff_steps_are_one_minute_then_five_then_fifteen():
    assert [backoff_delay(n) for n in (1, 2, 3)] == [
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=15),
    ]


@pytest.mark.parametrize("code", ["SYSTEM_ERROR", "FREQUENCY_LIMITED", "network"])
def test_a_refund_answered_with_a_backoff_code_is_resent_only_after_the_delay(
    fake, clock, django_capture_on_commit_callbacks, code
):
    order = rejected(fake)
    fake.fail("refund", code, times=2)
    refund = request_refund(order, django_capture_on_commit_callbacks)  # first try at T0: refused
    assert refund.status == R.PENDING and fake.count("refund") == 1
    state = CallBackoff.objects.get(call="refund", key=refund.out_refund_no)
    assert state.failures == 1 and state.next_attempt_at == T0 + dt.timedelta(minutes=1)

    at(clock, 59)
    assert check_refunds() == {"resent": 0, "queried": 0, "waiting": 1}
    assert fake.count("refund") == 1  # not sent before the minute is over

    at(clock, 60)
    check_refunds()  # second try: refused again → 5 minutes
    assert fake.count("refund") == 2
    state.refresh_from_db()
    assert state.failures == 2 and state.next_attempt_at == T0 + dt.timedelta(minutes=6)

    at(clock, 60 + 299)
    check_refunds()
    assert fake.count("refund") == 2

    at(clock, 60 + 300)
    check_refunds()  # third try: accepted → the backoff is over
    refund.refresh_from_db()
    assert fake.count("refund") == 3 and refund.status == R.PROCESSING
    assert not CallBackoff.objects.filter(call="refund").exists()


def test_backoff_starts_again_from_one_minute_after_an_answer(
    fake, clock, django_capture_on_commit_callbacks
):
    order = rejected(fake)
    refund = request_refund(order, django_capture_on_commit_callbacks)
    assert refund.status == R.PROCESSING
    # The refund query: refused three times, answered, then refused again.
    fake.fail("query_refund", "SYSTEM_ERROR", times=3)
    at(clock, 5 * 60)
    check_refunds()
    at(clock, 6 * 60)
    check_refunds()
    at(clock, 11 * 60)
    check_refunds()
    state = CallBackoff.objects.get(call="query_refund", key=refund.out_refund_no)
    assert state.failures == 3 and fake.count("query_refund") == 3
    at(clock, 11 * 60 + 14 * 60)
    assert check_refunds()["waiting"] == 1  # 15 minutes after the third refusal
    at(clock, 26 * 60)
    check_refunds()  # answered (still processing)
    assert fake.count("query_refund") == 4
    assert not CallBackoff.objects.filter(call="query_refund").exists()
    fake.fail("query_refund", "FREQUENCY_LIMITED")
    at(clock, 31 * 60)
    check_refunds()
    state = CallBackoff.objects.get(call="query_refund", key=refund.out_refund_no)
    assert state.failures == 1 and state.next_attempt_at == T0 + dt.timedelta(minutes=32)


def test_a_final_answer_is_never_resent(fake, clock, django_capture_on_commit_callbacks):
    order = rejected(fake)
    fake.always("refund", "RESOURCE_NOT_EXISTS")  # FINAL: the platform knows no paid order
    refund = request_refund(order, django_capture_on_commit_callbacks)
    assert refund.status == R.FAILED and fake.count("refund") == 1
    for minutes in (1, 5, 60, 6 * 60, 24 * 60):
        at(clock, minutes * 60)
        check_refunds()
    assert fake.count("refund") == 1
    assert not CallBackoff.objects.exists()


def test_retry_later_waits_only_for_the_next_run(fake, clock, django_capture_on_commit_callbacks):
    order = rejected(fake)
    refund = request_refund(order, django_capture_on_commit_callbacks)
    fake.fail("query_refund", "RESOURCE_NOT_EXISTS")  # 查询单笔退款: RETRY_LATER
    at(clock, 5 * 60)
    check_refunds()
    assert not CallBackoff.objects.exists()
    at(clock, 5 * 60 + 1)
    check_refunds()
    assert fake.count("query_refund") == 2
    refund.refresh_from_db()
    assert refund.status == R.PROCESSING


@pytest.mark.parametrize("code", ["network", "SYSTEM_ERROR", "FREQUENCY_LIMITED"])
def test_an_unpaid_order_query_backs_off(fake, clock, code):
    order = new_order()
    payment_start(order=order)
    fake.fail("query", code, times=2)
    at(clock, 61)
    assert check_unpaid_orders()["queried"] == 1  # refused → next query not before 1 minute
    for seconds in (62, 90, 120):
        at(clock, seconds)
        assert check_unpaid_orders()["waiting"] == 1
    assert fake.count("query") == 1
    at(clock, 121)
    check_unpaid_orders()  # refused again → 5 minutes
    assert fake.count("query") == 2
    at(clock, 121 + 240)
    check_unpaid_orders()
    assert fake.count("query") == 2
    fake.pay(order.out_trade_no, order.amount_fen)
    at(clock, 121 + 300)
    check_unpaid_orders()  # answered: paid, and the backoff is gone
    order.refresh_from_db()
    assert order.status == S.PAID and fake.count("query") == 3
    assert not CallBackoff.objects.exists()


def test_an_unpaid_order_is_asked_every_minute_when_the_platform_answers(fake, clock):
    order = new_order()
    payment_start(order=order)
    for minute in (1, 2, 3):
        at(clock, minute * 60 + 1)
        check_unpaid_orders()
    assert fake.count("query") == 3


def test_closing_an_expired_order_backs_off_and_then_closes(fake, clock):
    order = new_order()
    payment_start(order=order)
    fake.fail("close", "SYSTEM_ERROR")
    at(clock, 16 * 60)  # past the 15-minute timeout: query, then close → SYSTEM_ERROR
    check_unpaid_orders()
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT and fake.count("close") == 1
    at(clock, 16 * 60 + 30)
    assert check_unpaid_orders()["waiting"] == 1
    assert fake.count("close") == 1
    at(clock, 17 * 60)
    check_unpaid_orders()
    order.refresh_from_db()
    assert order.status == S.CLOSED and fake.count("close") == 2


def test_the_backoff_reaches_six_hours_and_stays_there(fake, clock, django_capture_on_commit_callbacks):
    order = rejected(fake)
    fake.always("refund", "SYSTEM_ERROR")
    refund = request_refund(order, django_capture_on_commit_callbacks)
    moment = timezone.now()
    for _ in range(8):
        state = CallBackoff.objects.get(call="refund", key=refund.out_refund_no)
        moment = state.next_attempt_at
        clock.move_to(moment)
        check_refunds()
    state.refresh_from_db()
    assert state.failures == 9 and state.next_attempt_at - moment == dt.timedelta(hours=6)
    refund.refresh_from_db()
    assert refund.status == R.PENDING and refund.attempts == 9  # never given up: the money must go back
