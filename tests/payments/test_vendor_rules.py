"""Issue #10, first list: each way the integration would fail against the live WeChat Pay, as a test
through the (now strict) simulator and the services that use it."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import responses
import time_machine
from django.utils import timezone

from campuspass.core.errors import CampusPassError
from campuspass.payments.bills import BillNotReady, fetch_bill, ready_at
from campuspass.payments.models import PaymentTerms, SimTransaction
from campuspass.payments.providers import PaymentProviderError, get_provider
from campuspass.payments.simulator import bank
from campuspass.renewals.models import ReconciliationRun, Refund, RenewalOrder
from campuspass.renewals.services.bill_days import days_to_reconcile, reconcile_due_days
from campuspass.renewals.services.orders import order_create, order_record_consent
from campuspass.renewals.services.payments import check_unpaid_orders, payment_expire, payment_start
from campuspass.renewals.services.refunds import refund_submit
from tests.photos import photo_for

from ..renewals.factories import make_campaign, make_pass
from .factories import place_order

pytestmark = pytest.mark.django_db
BEIJING = ZoneInfo("Asia/Shanghai")
NOTIFY = "http://notify.test/pay/notify/payment/"


def new_order(campaign=None) -> RenewalOrder:
    campaign = campaign or make_campaign()
    previous = make_pass()
    order = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address="127.0.0.1", user_agent="t"
    )
    return order


# --- repeated 立即支付 -----------------------------------------------------------------------------


def test_simulator_refuses_a_repeated_out_trade_no_with_other_parameters():
    place_order()
    tx = SimTransaction.objects.get(out_trade_no="CP2025000001")
    provider = get_provider()
    same = {
        "out_trade_no": tx.out_trade_no,
        "description": tx.description,
        "amount_fen": tx.amount_fen,
        "openid": tx.openid,
        "notify_url": tx.notify_url,
        "expire_at": tx.expire_at,
    }
    assert provider.create_jsapi(**same).out_trade_no == tx.out_trade_no  # identical: accepted
    for change in (
        {"description": tx.description + "（新）"},
        {"expire_at": tx.expire_at + dt.timedelta(minutes=5)},  # time_expire may never change
        {"notify_url": "https://elsewhere.test/notify/"},
        {"openid": "o-somebody-else"},
    ):
        with pytest.raises(PaymentProviderError) as exc:
            provider.create_jsapi(**{**same, **change})
        assert exc.value.code == "OUT_TRADE_NO_USED", change


def test_campaign_edited_between_two_presses_changes_nothing_for_the_order():
    """Today's code recomputes description and time_expire each press: the second press is refused."""
    campaign = make_campaign(unpaid_timeout_minutes=30)
    order = new_order(campaign)
    first = payment_start(order=order, openid="o-payer")
    campaign.product_name = "2019年医学部机动车通行证（更正）"
    campaign.unpaid_timeout_minutes = 45
    campaign.save()
    second = payment_start(order=order, openid="o-payer")
    assert second.params["package"] == first.params["package"]  # the same prepay order
    terms = PaymentTerms.objects.get(out_trade_no=order.out_trade_no)
    assert terms.description == "2019年医学部机动车通行证"
    assert terms.time_expire == (order.created_at + dt.timedelta(minutes=30)).replace(microsecond=0)
    # A new order gets the new terms.
    other = new_order(campaign)
    payment_start(order=other, openid="o-payer-2")
    assert PaymentTerms.objects.get(out_trade_no=other.out_trade_no).description.endswith("（更正）")


def test_the_frozen_time_expire_decides_when_the_order_closes():
    campaign = make_campaign(unpaid_timeout_minutes=30)
    order = new_order(campaign)
    payment_start(order=order, openid="o-payer")
    campaign.unpaid_timeout_minutes = 120
    campaign.save()
    with time_machine.travel(order.created_at + dt.timedelta(minutes=31)):
        counts = check_unpaid_orders()
    assert counts["closed"] == 1
    order.refresh_from_db()
    assert order.status == RenewalOrder.Status.CLOSED


def test_another_wechat_user_gets_a_new_out_trade_no_and_the_old_one_is_closed():
    from campuspass.core.models import LogEntry

    order = new_order()
    payment_start(order=order, openid="o-payer")
    old = order.out_trade_no
    deadline = PaymentTerms.objects.get(out_trade_no=old).time_expire
    payment_start(order=order, openid="o-other")  # today: OUT_TRADE_NO_USED, the staff member is stuck
    order.refresh_from_db()
    assert order.out_trade_no != old
    assert get_provider().query(old).trade_state == "CLOSED"
    new_terms = PaymentTerms.objects.get(out_trade_no=order.out_trade_no)
    assert new_terms.payer_openid == "o-other" and new_terms.time_expire == deadline  # same deadline
    entry = LogEntry.objects.get(action="renewals.order.payment_restarted")
    assert entry.data["old_out_trade_no"] == old and "微信账号" in entry.reason


def test_terms_the_platform_holds_differently_start_a_new_out_trade_no():
    """E.g. after a database restore: WeChat answers OUT_TRADE_NO_USED, a new number is used."""
    order = new_order()
    place_order(out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)  # other terms there
    payment = payment_start(order=order, openid="o-payer")
    order.refresh_from_db()
    assert (
        payment.out_trade_no
        == order.out_trade_no
        != SimTransaction.objects.order_by("id").first().out_trade_no
    )
    assert SimTransaction.objects.get(out_trade_no=order.out_trade_no).openid == "o-payer"


def test_a_paid_old_out_trade_no_is_applied_not_replaced(django_capture_on_commit_callbacks):
    order = new_order()
    payment_start(order=order, openid="o-payer")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, "http://testserver/pay/notify/payment/", json={"code": "SUCCESS"})
        bank.confirm_payment(order.out_trade_no)  # paid a moment ago; the notification is late
    with pytest.raises(CampusPassError) as exc:
        payment_start(order=order, openid="o-other")
    assert exc.value.code in {"already_paid", "not_payable"}
    order.refresh_from_db()
    assert order.status == RenewalOrder.Status.PAID


# --- close and refund error codes -----------------------------------------------------------------


def test_closing_a_closed_order_answers_order_closed():
    place_order()
    get_provider().close("CP2025000001")
    with pytest.raises(PaymentProviderError) as exc:
        get_provider().close("CP2025000001")
    assert exc.value.code == "ORDER_CLOSED"


def test_an_order_already_closed_on_the_platform_is_closed_here_too():
    """Today's code waits for ORDER_NOT_EXIST and leaves the order pending, retrying every minute."""
    order = new_order()
    payment_start(order=order, openid="o-payer")
    get_provider().close(order.out_trade_no)  # e.g. closed by time_expire on the platform
    with time_machine.travel(order.created_at + dt.timedelta(hours=2)):
        order = payment_expire(order=order)
    assert order.status == RenewalOrder.Status.CLOSED


def test_refund_of_an_order_the_platform_does_not_know_is_final(django_capture_on_commit_callbacks):
    """Today's code waits for ORDER_NOT_EXIST: RESOURCE_NOT_EXISTS was resent every 5 minutes."""
    from campuspass.renewals.services.orders import order_mark_paid, order_reject
    from campuspass.renewals.services.refunds import refund_request

    order = new_order()
    order_mark_paid(
        out_trade_no=order.out_trade_no,
        transaction_id="4200000000000000000000000001",
        amount_fen=order.amount_fen,
        source="test",
    )
    order = order_reject(order=order, acting_user=None, reason="信息不符")
    with django_capture_on_commit_callbacks(execute=False):
        refund = refund_request(order=order)
    refund = refund_submit(refund_id=refund.pk)  # the simulator never saw this order
    assert refund.status == Refund.Status.FAILED
    assert "RESOURCE_NOT_EXISTS" in (refund.platform_status + refund.last_error)


@pytest.mark.parametrize(("fault", "status"), [("refund_fail", "ABNORMAL"), ("refund_closed", "CLOSED")])
def test_refunds_can_end_abnormal_or_closed(settings, fault, status, django_capture_on_commit_callbacks):
    settings.PAYMENT_SIMULATOR_FAULTS = [fault]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        with django_capture_on_commit_callbacks(execute=True):
            place_order()
            bank.confirm_payment("CP2025000001")
            get_provider().refund(
                out_trade_no="CP2025000001",
                out_refund_no="R1",
                amount_fen=15000,
                total_fen=15000,
                reason="审核不通过",
                notify_url="",
            )
    assert get_provider().query_refund("R1").status == status


# --- bills on WeChat's clock ----------------------------------------------------------------------


def paid_on(day: dt.date, out_trade_no="CP2025000001"):
    moment = dt.datetime.combine(day, dt.time(15), tzinfo=BEIJING)
    with (
        time_machine.travel(moment, tick=False),
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        place_order(out_trade_no=out_trade_no)
        bank.confirm_payment(out_trade_no)


def test_bill_states_creating_then_ready_and_empty_day(settings):
    settings.WECHATPAY_BILL_READY_HOUR = 10
    day = dt.date(2026, 3, 2)
    paid_on(day)
    provider = get_provider()
    before = dt.datetime(2026, 3, 3, 9, 59, tzinfo=BEIJING)
    with time_machine.travel(before, tick=False):
        with pytest.raises(PaymentProviderError) as exc:
            provider.download_bill(day)
        assert exc.value.code == "STATEMENT_CREATING"
        with pytest.raises(BillNotReady):
            fetch_bill(day)
    with time_machine.travel(ready_at(day), tick=False):
        assert [r.out_trade_no for r in fetch_bill(day)] == ["CP2025000001"]
        with pytest.raises(PaymentProviderError) as exc:
            provider.download_bill(day - dt.timedelta(days=1))
        assert exc.value.code == "NO_STATEMENT_EXIST"
        assert fetch_bill(day - dt.timedelta(days=1)) == []  # an empty day is an empty bill
        with pytest.raises(PaymentProviderError) as exc:
            provider.download_bill(day - dt.timedelta(days=120))
        assert exc.value.code == "PARAM_ERROR"  # kept three months only


def test_the_ready_hour_is_configurable(settings):
    settings.WECHATPAY_BILL_READY_HOUR = 12
    assert ready_at(dt.date(2026, 3, 2)) == dt.datetime(2026, 3, 3, 12, tzinfo=BEIJING)


def test_reconcile_job_waits_for_the_bill_then_catches_up_missed_days(settings):
    """Today's job runs once a day from whenever the scheduler started, raises on an empty day and
    never retries: a day fetched before 10:00 is lost. Now each due day is reconciled once."""
    settings.WECHATPAY_BILL_READY_HOUR = 10
    start = timezone.make_aware(dt.datetime(2026, 3, 1, 9))
    with time_machine.travel(start, tick=False):
        order = new_order()
    # Three days later at 08:00 Beijing: days 1 and 2 are due, day 3 not yet (ready at 10:00 on day 4).
    with time_machine.travel(dt.datetime(2026, 3, 4, 8, tzinfo=BEIJING), tick=False):
        assert days_to_reconcile() == [dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
        counts = reconcile_due_days()
    assert counts["reconciled"] == 2
    assert ReconciliationRun.objects.get(day=dt.date(2026, 3, 1)).payments_bill == 0  # empty, recorded
    with time_machine.travel(dt.datetime(2026, 3, 4, 8, 30, tzinfo=BEIJING), tick=False):
        assert reconcile_due_days()["reconciled"] == 0  # idempotent
    # The scheduler was down for a week: the next run catches every missed day up.
    with time_machine.travel(dt.datetime(2026, 3, 11, 10, 5, tzinfo=BEIJING), tick=False):
        counts = reconcile_due_days()
    assert counts["reconciled"] == 8  # 3 … 10 March
    assert set(ReconciliationRun.objects.values_list("day", flat=True)) == {
        dt.date(2026, 3, d) for d in range(1, 11)
    }
    assert order.pk


def test_reconcile_job_retries_a_bill_still_being_made(settings, monkeypatch):
    settings.WECHATPAY_BILL_READY_HOUR = 10
    with time_machine.travel(timezone.make_aware(dt.datetime(2026, 3, 1, 9)), tick=False):
        new_order()
    provider = get_provider()
    real = provider.download_bill

    def creating(day):
        raise PaymentProviderError("账单生成中", code="STATEMENT_CREATING")

    monkeypatch.setattr(provider, "download_bill", creating)
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 30, tzinfo=BEIJING), tick=False):
        counts = reconcile_due_days()
        assert counts == {"reconciled": 0, "not_ready": 1, "failed": 0, "waiting": 0, "left": 1}
        monkeypatch.setattr(provider, "download_bill", real)
        assert reconcile_due_days()["reconciled"] == 1
