"""Issue 10, rest item 2 (decision 0035): a FINANCE answer of WeChat Pay — on any call — reaches
finance in /office/ (退款管理 › 需要处理; bill errors on the 对账 screen for that day) with its
Chinese meaning and what to do; only 财务 and 管理员 see it; "已处理" makes it disappear and is
audited; "重试" sends the call again after the cause is fixed; the scheduled jobs leave the call
alone while the alert is open."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice import roles
from campuspass.core.models import LogEntry
from campuspass.payments import providers
from campuspass.payments.errors import decide
from campuspass.payments.models import PaymentAlert
from campuspass.payments.providers import PaymentProviderError
from campuspass.renewals.models import ReconciliationRun, Refund, RenewalOrder
from campuspass.renewals.services.bill_days import reconcile_due_days
from campuspass.renewals.services.orders import order_reject
from campuspass.renewals.services.payments import (
    check_unpaid_orders,
    payment_expire,
    payment_start,
    payment_sync,
)
from campuspass.renewals.services.refunds import check_refunds, refund_request, refund_sync
from tests.renewals.scripted import ScriptedProvider
from tests.renewals.test_order_lifecycle import new_order, paid_order

S = RenewalOrder.Status
R = Refund.Status
pytestmark = pytest.mark.django_db
BILL_DAY = dt.date(2026, 3, 2)


@pytest.fixture
def fake(monkeypatch):
    fake = ScriptedProvider()
    monkeypatch.setattr(providers, "_provider", fake)
    return fake


@pytest.fixture
def finance(office_client):
    client, user = office_client(roles.FINANCE)
    return client, user


def attention_page(client) -> str:
    response = client.get(reverse("backoffice:refunds"), {"tab": "attention"})
    assert response.status_code == 200
    return response.content.decode()


def refund_of(fake, capture) -> Refund:
    order = order_reject(order=paid_order(fake), acting_user=None, reason="照片不清晰")
    with capture(execute=True):
        refund = refund_request(order=order)
    refund.refresh_from_db()
    return refund


# Each call: how a FINANCE code of that call is met through the services, and the code used.
def jsapi_fails(fake, capture):
    order = new_order()
    fake.fail("jsapi", "NO_AUTH")
    with pytest.raises(PaymentProviderError):
        payment_start(order=order)
    return order.out_trade_no


def query_fails(fake, capture):
    order = new_order()
    payment_start(order=order)
    fake.fail("query", "SIGN_ERROR")
    payment_sync(order=order)
    return order.out_trade_no


def close_fails(fake, capture):
    order = new_order()
    payment_start(order=order)
    fake.fail("close", "MCH_NOT_EXISTS")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        payment_expire(order=order)
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT  # never closed here while the platform may take money
    return order.out_trade_no


def refund_fails(fake, capture):
    fake.fail("refund", "NOT_ENOUGH")
    return refund_of(fake, capture).out_refund_no


def query_refund_fails(fake, capture):
    refund = refund_of(fake, capture)
    fake.fail("query_refund", "APPID_MCHID_NOT_MATCH")
    refund_sync(refund_id=refund.pk)
    return refund.out_refund_no


def bill_fails(call, code):
    def run(fake, capture):
        with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
            paid_order(fake)  # an online order on BILL_DAY: the day is reconciled
        fake.fail(call, code)
        with time_machine.travel(dt.datetime(2026, 3, 3, 11, 0, tzinfo=dt.UTC)):
            assert reconcile_due_days()["failed"] == 1
        return BILL_DAY.isoformat()

    return run


CASES = {
    "jsapi": ("NO_AUTH", jsapi_fails),
    "query": ("SIGN_ERROR", query_fails),
    "close": ("MCH_NOT_EXISTS", close_fails),
    "refund": ("NOT_ENOUGH", refund_fails),
    "query_refund": ("APPID_MCHID_NOT_MATCH", query_refund_fails),
    "trade_bill": ("NO_AUTH", bill_fails("trade_bill", "NO_AUTH")),
    "download_bill": ("sdk_error", bill_fails("download_bill", "sdk_error")),
}


@pytest.mark.parametrize("call", sorted(CASES))
def test_each_calls_finance_answer_reaches_the_screen(
    fake, finance, django_capture_on_commit_callbacks, call
):
    code, make = CASES[call]
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        key = make(fake, django_capture_on_commit_callbacks)
    alert = PaymentAlert.objects.get()
    assert (alert.call, alert.key, alert.code) == (call, key, code)
    meaning = decide(call, code).meaning
    assert alert.meaning == meaning
    assert LogEntry.objects.filter(action="payments.alert.raised", object_id=str(alert.pk)).exists()
    client, _ = finance
    page = attention_page(client)
    assert code in page and meaning in page and alert.get_call_display() in page
    tabs = {t["key"]: t["count"] for t in client.get(reverse("backoffice:refunds")).context["tabs"]}
    assert tabs["attention"] == 1
    assert client.get(reverse("backoffice:refunds")).context["tab"] == "attention"  # shown first


@pytest.mark.parametrize("call", ["trade_bill", "download_bill"])
def test_a_bill_error_appears_on_the_reconcile_screen_for_that_day(fake, finance, call):
    code, make = CASES[call]
    with time_machine.travel(dt.datetime(2026, 3, 3, 11, 0, tzinfo=dt.UTC), tick=False):
        make(fake, None)
    client, _ = finance
    index = client.get(reverse("backoffice:reconcile")).content.decode()
    assert "2026-03-02" in index and code in index and "账单无法下载" in index
    day = client.get(reverse("backoffice:reconcile-day", args=["2026-03-02"]))
    assert day.status_code == 200  # no reconciliation yet, but the day has something to show
    text = day.content.decode()
    assert decide(call, code).meaning in text and "重试" in text


def test_repeats_count_on_one_alert(fake):
    order = new_order()
    payment_start(order=order)
    fake.always("query", "SIGN_ERROR")
    payment_sync(order=order)
    payment_sync(order=order)  # a person's return from payment asks anyway
    alert = PaymentAlert.objects.get()
    assert alert.occurrences == 2


@pytest.mark.parametrize("role", [roles.COUNTER, roles.REVIEWER, roles.COURIER])
def test_only_finance_and_administrators_see_or_act_on_alerts(fake, office_client, role):
    query_fails(fake, None)
    alert = PaymentAlert.objects.get()
    client, _ = office_client(role)
    assert client.get(reverse("backoffice:refunds"), {"tab": "attention"}).status_code == 403
    assert client.get(reverse("backoffice:reconcile")).status_code == 403
    for name in ("refunds-alert-handled", "refunds-alert-retry"):
        assert client.post(reverse(f"backoffice:{name}", args=[alert.pk])).status_code == 403
    alert.refresh_from_db()
    assert alert.is_open


@pytest.mark.parametrize("role", [roles.FINANCE, roles.ADMIN])
def test_finance_and_administrators_see_alerts(fake, office_client, role):
    query_fails(fake, None)
    client, _ = office_client(role)
    assert "SIGN_ERROR" in attention_page(client)


def test_marked_handled_it_disappears_and_is_audited(fake, finance):
    query_fails(fake, None)
    alert = PaymentAlert.objects.get()
    client, user = finance
    response = client.post(
        reverse("backoffice:refunds-alert-handled", args=[alert.pk]),
        {"note": "已在商户平台更新 API 证书", "tab": "attention"},
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert not alert.is_open and alert.resolution == "handled" and alert.resolved_by == user
    entry = LogEntry.objects.get(action="payments.alert.handled", object_id=str(alert.pk))
    assert entry.actor == user and entry.reason == "已在商户平台更新 API 证书"
    assert entry.data["code"] == "SIGN_ERROR"
    listed = client.get(reverse("backoffice:refunds"), {"tab": "attention"}).context["page"].object_list
    assert listed == []
    assert client.get(reverse("backoffice:refunds")).context["tab"] != "attention"


def test_the_job_leaves_an_alerted_call_alone_until_a_person_acts(fake, finance):
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        order = new_order()
        payment_start(order=order)
        fake.fail("query", "SIGN_ERROR")
        clock.shift(dt.timedelta(minutes=2))
        check_unpaid_orders()
        assert fake.count("query") == 1
        for _ in range(3):
            clock.shift(dt.timedelta(minutes=1))
            assert check_unpaid_orders()["waiting"] == 1
        assert fake.count("query") == 1
        # Fixed at the merchant platform; finance retries: the query is sent now and pays the order.
        fake.pay(order.out_trade_no, order.amount_fen)
        client, user = finance
        alert = PaymentAlert.objects.get()
        client.post(reverse("backoffice:refunds-alert-retry", args=[alert.pk]), {"tab": "attention"})
        order.refresh_from_db()
        assert order.status == S.PAID and fake.count("query") == 2
        alert.refresh_from_db()
        assert alert.resolution == "retried" and alert.resolved_by == user
        assert LogEntry.objects.filter(action="payments.alert.retried", actor=user).exists()


def test_retry_of_a_refund_refused_for_money_resends_the_same_number(
    fake, finance, django_capture_on_commit_callbacks
):
    fake.fail("refund", "NOT_ENOUGH")
    refund = refund_of(fake, django_capture_on_commit_callbacks)
    assert refund.status == R.FAILED and refund.order.status == S.REFUND_FAILED
    check_refunds()
    assert fake.count("refund") == 1  # FINANCE: not resent by the job
    client, _ = finance
    alert = PaymentAlert.objects.get()
    client.post(reverse("backoffice:refunds-alert-retry", args=[alert.pk]), {"tab": "attention"})
    refund.refresh_from_db()
    assert refund.status == R.PROCESSING and fake.count("refund") == 2
    assert [c[1] for c in fake.calls if c[0] == "refund"] == [refund.out_refund_no] * 2
    refund.order.refresh_from_db()
    assert refund.order.status == S.REFUNDING
    assert not PaymentAlert.objects.filter(resolved_at__isnull=True).exists()


def test_retrying_on_the_refund_row_also_closes_its_alert(fake, finance, django_capture_on_commit_callbacks):
    fake.fail("refund", "NOT_ENOUGH")
    refund = refund_of(fake, django_capture_on_commit_callbacks)
    client, _ = finance
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("backoffice:refunds-retry", args=[refund.order_id]), {"tab": "failed"})
    refund.refresh_from_db()
    assert refund.status == R.PROCESSING
    assert not PaymentAlert.objects.filter(resolved_at__isnull=True).exists()


def test_a_payer_whose_account_is_gone_makes_the_refund_abnormal_for_an_offline_payout(
    fake, finance, django_capture_on_commit_callbacks
):
    fake.fail("refund", "USER_ACCOUNT_ABNORMAL")
    refund = refund_of(fake, django_capture_on_commit_callbacks)
    assert refund.status == R.ABNORMAL
    client, _ = finance
    page = attention_page(client)
    assert "USER_ACCOUNT_ABNORMAL" in page and "线下退款" in page
    client.post(
        reverse("backoffice:refunds-pay-out", args=[refund.pk]),
        {"how": "bank_transfer", "reference": "TX20260302001", "tab": "failed"},
    )
    refund.refresh_from_db()
    assert refund.status == R.PAID_OUT
    assert PaymentAlert.objects.get().resolution == "handled"


def test_retry_of_a_bill_reconciles_the_day_once_fixed(fake, finance):
    moment = dt.datetime(2026, 3, 3, 11, 0, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=False) as clock:
        CASES["trade_bill"][1](fake, None)
        clock.shift(dt.timedelta(hours=1))
        assert reconcile_due_days()["waiting"] == 1  # the job waits for finance
        client, _ = finance
        alert = PaymentAlert.objects.get()
        response = client.post(
            reverse("backoffice:refunds-alert-retry", args=[alert.pk]), {"reconcile_day": "2026-03-02"}
        )
        assert response.status_code == 302 and response.url.endswith("/reconcile/2026-03-02/")
        assert ReconciliationRun.objects.filter(day=BILL_DAY).exists()
        assert "2026-03-02" in client.get(response.url).content.decode()
