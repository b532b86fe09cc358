"""Issue 9's list, one scenario per bullet, walked as finance and the staff member would (each failed
on the code before the ledger):
1. a payment after close, or a second payment, is money in the ledger that 退款管理 shows and
   refunds in one step (by itself with automatic refunds on);
2. a new pass sold at the counter is a ledger row; its receipt cannot be used twice; the dashboard
   counts its money;
3. reconciliation does not report counter money as a difference from the WeChat bill;
4. a refund the platform ends CLOSED or ABNORMAL can be finished (new number / offline payout);
5. the rejected SMS and the order page say how the money really comes back.
Plus the lifecycle items: the consent step is a state, releasing a claim is audited, validity reads
the new pass's own dates."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice import roles
from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.payments import providers
from campuspass.renewals.models import Payment, Refund, RenewalOrder
from campuspass.renewals.selectors_dashboard import campaign_dashboard
from campuspass.renewals.services.ledger import ledger_totals
from campuspass.renewals.services.onsite import onsite_pass_issue, onsite_renewal
from campuspass.renewals.services.orders import order_approve, order_create, order_reject
from campuspass.renewals.services.payments import (
    apply_payment_notification,
    apply_refund_notification,
    check_unpaid_orders,
    payment_start,
)
from campuspass.renewals.services.reconcile import reconcile_day
from campuspass.renewals.services.refunds import (
    refund_at_counter,
    refund_payment,
    refund_request,
    refund_retry,
)
from campuspass.renewals.services.review import order_claim, order_release
from campuspass.sms.models import OutboxMessage
from tests.photos import photo_for
from tests.renewals.factories import make_campaign, make_pass
from tests.renewals.fakes import FakeProvider
from tests.renewals.test_order_lifecycle import new_order, paid_order

S = RenewalOrder.Status
R = Refund.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch):
    fake = FakeProvider()
    monkeypatch.setattr(providers, "_provider", fake)
    return fake


@pytest.fixture
def finance(office_client):
    return office_client(roles.FINANCE)


def closed_then_paid(fake, campaign=None) -> tuple[RenewalOrder, Payment]:
    """An order closed for timeout whose payment arrives afterwards."""
    order = new_order(campaign)
    payment_start(order=order)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        check_unpaid_orders()
    order.refresh_from_db()
    assert order.status == S.CLOSED
    fake.pay(order.out_trade_no, order.amount_fen)
    assert apply_payment_notification(fake.payment_notification(order.out_trade_no)).startswith("unclaimed")
    return order, Payment.objects.get(order=order)


# --- 1. late and duplicate payments ---------------------------------------------------------------


def test_a_late_payment_is_listed_and_refunded_in_one_step(fake, finance, django_capture_on_commit_callbacks):
    client, user = finance
    order, payment = closed_then_paid(fake)
    assert payment.state == Payment.State.UNCLAIMED
    html = client.get(reverse("backoffice:refunds"), {"tab": "unclaimed"}).content.decode()
    assert payment.reference in html and "订单关闭后到账" in html and "原路退款" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("backoffice:refunds-payment", args=[payment.pk]), follow=True)
    refund = Refund.objects.get(payment=payment)
    assert refund.amount_fen == payment.amount_fen and refund.requested_by == user
    assert "已提交退款" in response.content.decode()
    assert [c for c in fake.calls if c[0] == "refund"] == [
        ("refund", refund.out_refund_no, payment.amount_fen)
    ]
    # Asking again never makes a second live refund of the same money.
    client.post(reverse("backoffice:refunds-payment", args=[payment.pk]))
    assert Refund.objects.filter(payment=payment).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        apply_refund_notification(fake.refund_notification(refund.out_refund_no, "SUCCESS"))
    order.refresh_from_db()
    assert order.status == S.CLOSED  # the order itself is untouched
    assert (
        list(client.get(reverse("backoffice:refunds"), {"tab": "unclaimed"}).context["page"].object_list)
        == []
    )
    assert OutboxMessage.objects.filter(related=f"order:{order.pk}", template="refunded").count() == 1


def test_a_second_payment_of_a_paid_order_is_money_to_give_back(fake):
    order = paid_order(fake)
    second = order_mark_second(order)
    assert second.state == Payment.State.UNCLAIMED
    order.refresh_from_db()
    assert order.status == S.PAID and order.paid_amount_fen == order.amount_fen  # paid once
    assert ledger_totals(campaign=order.campaign)["taken_fen"] == 2 * order.amount_fen


def order_mark_second(order) -> Payment:
    from campuspass.renewals.services.orders import order_mark_paid

    order_mark_paid(
        out_trade_no=order.out_trade_no,
        transaction_id="4200SECOND",
        amount_fen=order.amount_fen,
        source="query",
    )
    return Payment.objects.get(reference="4200SECOND")


def test_with_automatic_refunds_late_money_goes_back_by_itself(fake, django_capture_on_commit_callbacks):
    campaign = make_campaign(auto_refund_on_reject=True)
    with django_capture_on_commit_callbacks(execute=True):
        _, payment = closed_then_paid(fake, campaign)
    refund = Refund.objects.get(payment=payment)
    assert refund.status == R.PROCESSING and refund.amount_fen == payment.amount_fen


# --- 2. counter sales -------------------------------------------------------------------------------


def test_a_new_pass_sold_at_the_counter_is_in_the_ledger_and_its_receipt_is_used_once(make_user):
    clerk = make_user(roles.COUNTER, "clerk")
    campaign = make_campaign()
    first, second = make_pass(year=2016), make_pass(year=2016)
    permit = onsite_pass_issue(
        campaign=campaign,
        vehicle=first.vehicle,
        holder=first.holder,
        acting_user=clerk,
        method="cash",
        receipt_no="SJ-100",
        reason="新购车辆",
    )
    sale = Payment.objects.get(new_pass=permit)
    assert (sale.kind, sale.method, sale.reference, sale.amount_fen) == (
        Payment.Kind.PASS_SALE,
        "cash",
        "SJ-100",
        campaign.price_fen,
    )
    with pytest.raises(CampusPassError) as exc:
        onsite_renewal(
            previous_pass=make_pass(),
            campaign=campaign,
            acting_user=clerk,
            method="card",
            receipt_no="SJ-100",
        )
    assert exc.value.code == "receipt_used" and permit.number in exc.value.message
    with pytest.raises(CampusPassError):
        onsite_pass_issue(
            campaign=campaign,
            vehicle=second.vehicle,
            holder=second.holder,
            acting_user=clerk,
            method="cash",
            receipt_no="SJ-100",
            reason="新购车辆",
        )
    board = campaign_dashboard(campaign)
    assert board.taken_fen == board.taken_counter_fen == campaign.price_fen
    # The database itself refuses a reused reference.
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(campaign=campaign, method="cash", reference="SJ-100", amount_fen=1)


# --- 3. reconciliation ----------------------------------------------------------------------------


def test_counter_refunds_are_not_differences_from_the_wechat_bill(fake, make_user):
    clerk = make_user(roles.COUNTER, "clerk")
    campaign = make_campaign()
    online = paid_order(fake, campaign)
    counter = onsite_renewal(
        previous_pass=make_pass(), campaign=campaign, acting_user=clerk, method="cash", receipt_no="R-7"
    )
    order_reject(order=counter, acting_user=None, reason="信息不符")
    refund_at_counter(order=counter, acting_user=clerk, note="现金退回 收据 T-7")
    run = reconcile_day(day=timezone.localdate())
    assert run.differences == []
    assert run.payments_ours == 1 and run.paid_total_fen == online.amount_fen
    assert (
        run.counter["payments_fen"] == counter.amount_fen and run.counter["refunds_fen"] == counter.amount_fen
    )
    # A real difference is explained.
    fake.trades["CPMISSING"] = {
        "state": "SUCCESS",
        "amount": 5,
        "transaction_id": "T0",
        "time": timezone.now(),
    }
    run = reconcile_day(day=timezone.localdate())
    (difference,) = run.differences
    assert difference["key"] == "CPMISSING" and "退款管理" in difference["explanation"]


# --- 4. refunds that end badly ----------------------------------------------------------------------


def rejected_with_refund(fake, capture, answer):
    order = order_reject(order=paid_order(fake), acting_user=None, reason="信息不符")
    fake.refund_answer = answer
    with capture(execute=True):
        refund = refund_request(order=order)
    refund.refresh_from_db()
    order.refresh_from_db()
    return order, refund


def test_a_closed_refund_starts_again_with_a_new_number(fake, finance, django_capture_on_commit_callbacks):
    client, _ = finance
    order, refund = rejected_with_refund(fake, django_capture_on_commit_callbacks, "CLOSED")
    assert refund.status == R.CLOSED and order.status == S.REFUND_FAILED
    html = client.get(reverse("backoffice:refunds"), {"tab": "failed"}).content.decode()
    assert refund.out_refund_no in html and "重新退款" in html
    fake.refund_answer = "PROCESSING"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("backoffice:refunds-retry", args=[order.pk]))
    again = Refund.objects.filter(order=order).exclude(pk=refund.pk).get()
    assert again.out_refund_no != refund.out_refund_no and again.status == R.PROCESSING
    with django_capture_on_commit_callbacks(execute=True):
        apply_refund_notification(fake.refund_notification(again.out_refund_no, "SUCCESS"))
    order.refresh_from_db()
    assert order.status == S.REFUNDED
    assert sum(r.amount_fen for r in order.refunds.filter(status=R.SUCCEEDED)) == order.paid_amount_fen


def test_an_abnormal_refund_is_paid_out_offline_and_recorded(
    fake, finance, django_capture_on_commit_callbacks
):
    client, user = finance
    order, refund = rejected_with_refund(fake, django_capture_on_commit_callbacks, "ABNORMAL")
    assert refund.status == R.ABNORMAL and order.status == S.REFUND_FAILED
    # Resending the same number would fail again, and no second live refund may hold this money.
    with pytest.raises(CampusPassError) as exc:
        refund_retry(order=order, acting_user=user)
    assert exc.value.code == "refund_abnormal"
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.create(
            payment=refund.payment, order=order, out_refund_no="X2", amount_fen=1, reason="x"
        )
    response = client.post(
        reverse("backoffice:refunds-pay-out", args=[refund.pk]),
        {"how": "bank_transfer", "reference": "BT-20190601-1"},
        follow=True,
    )
    assert "线下退款完成" in response.content.decode()
    refund.refresh_from_db()
    order.refresh_from_db()
    assert (refund.status, refund.settled_how, refund.settled_reference, refund.settled_by) == (
        R.PAID_OUT,
        "bank_transfer",
        "BT-20190601-1",
        user,
    )
    assert order.status == S.REFUNDED
    entry = LogEntry.objects.get(action="renewals.refund.paid_out")
    assert entry.actor == user and entry.data["reference"] == "BT-20190601-1"
    # A late ABNORMAL notification changes nothing any more.
    assert (
        apply_refund_notification(fake.refund_notification(refund.out_refund_no, "ABNORMAL"))
        == "already applied"
    )
    with pytest.raises(CampusPassError):
        refund_payment(payment=refund.payment, acting_user=user, reason="再退一次")


# --- 5. what people are told ------------------------------------------------------------------------


def test_the_rejected_sms_and_order_page_follow_the_refund_route(fake, make_user, client):
    clerk = make_user(roles.COUNTER, "clerk")
    campaign = make_campaign()
    counter = onsite_renewal(
        previous_pass=make_pass(), campaign=campaign, acting_user=clerk, method="cash", receipt_no="R-1"
    )
    order_reject(order=counter, acting_user=None, reason="信息不符")
    # One registered SMS template per route (the vendors take only short variables): the receipt number
    # is on the order page, the SMS sends the staff member to the counter with the receipt.
    text = OutboxMessage.objects.get(related=f"order:{counter.pk}", template="rejected_counter").text
    assert "申请退款" not in text and "窗口办理退款" in text and "收据" in text

    automatic = make_campaign(year=2020, previous_year=2018, auto_refund_on_reject=True)
    online = paid_order(fake, automatic)
    order_reject(order=online, acting_user=None, reason="信息不符")
    text = OutboxMessage.objects.get(related=f"order:{online.pk}", template="rejected_auto").text
    assert "自动原路退回" in text and "申请退款" not in text

    manual = paid_order(fake, campaign)
    order_reject(order=manual, acting_user=None, reason="信息不符")
    text = OutboxMessage.objects.get(related=f"order:{manual.pk}", template="rejected").text
    assert "订单记录" in text and "申请退款" in text


# --- the lifecycle ----------------------------------------------------------------------------------


def test_awaiting_consent_is_a_state_of_its_own(fake):
    campaign = make_campaign()
    previous = make_pass()
    order = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    assert order.status == S.AWAITING_CONSENT and order.status_label == "待支付"
    with pytest.raises(CampusPassError) as exc:
        payment_start(order=order)
    assert exc.value.code == "consent_required"
    # Past the timeout it closes without asking the platform (it was never placed there).
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        check_unpaid_orders()
    order.refresh_from_db()
    assert order.status == S.CLOSED and fake.calls == []
    moves = LogEntry.objects.filter(object_id=str(order.pk), action="renewals.order.closed")
    assert [(e.data["from"], e.data["to"]) for e in moves] == [(S.AWAITING_CONSENT, S.CLOSED)]


def test_releasing_a_review_claim_is_audited(fake, make_user):
    reviewer = make_user(roles.REVIEWER, "rv")
    order = paid_order(fake)
    order_claim(order=order, acting_user=reviewer)
    order_release(order=order, acting_user=reviewer)
    order.refresh_from_db()
    assert order.claimed_by is None
    entry = LogEntry.objects.get(action="renewals.order.released", object_id=str(order.pk))
    assert entry.actor == reviewer


def test_validity_comes_from_the_new_passs_own_dates(fake):
    order = order_approve(order=paid_order(fake), acting_user=None)
    permit = order.new_pass
    permit.valid_from = timezone.localdate() + dt.timedelta(days=3)
    permit.save(update_fields=["valid_from"])
    order.refresh_from_db()
    assert order.status_label == "待领取"  # not in hand yet (issue 14): never 使用中 before the handing out
    order.fulfilment_status = RenewalOrder.Handover.COLLECTED  # the label only (service tested elsewhere)
    assert order.status_label == "待生效"  # the pass's dates, not the campaign's
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)):
        assert order.status_label == "使用中"


def test_the_payments_export_is_the_ledger(fake, finance, make_user):
    """导出 → 收款记录: every sum of money of the year, counter sales and late payments included."""
    import io

    from openpyxl import load_workbook

    from campuspass.backoffice.exports import PAYMENT_HEADERS

    client, _ = finance
    clerk = make_user(roles.COUNTER, "clerk")
    campaign = make_campaign()
    online = paid_order(fake, campaign)
    _, late = closed_then_paid(fake, campaign)
    first = make_pass(year=2016)
    onsite_pass_issue(
        campaign=campaign,
        vehicle=first.vehicle,
        holder=first.holder,
        acting_user=clerk,
        method="card",
        receipt_no="POS-9",
        reason="新入职",
    )
    response = client.get(reverse("backoffice:exports-download", args=["payments"]), {"year": campaign.year})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == PAYMENT_HEADERS
    found = {(r[1], r[2], r[5], r[6]) for r in rows}
    assert found == {
        ("微信支付", online.transaction_id, "已入账", "续费订单"),
        ("微信支付", late.reference, "待退回", "续费订单"),
        ("刷卡", "POS-9", "已入账", "现场办理新证"),
    }


def test_wechat_money_older_than_a_year_goes_back_by_hand_and_not_as_a_wechat_refund(fake, make_user):
    from campuspass.renewals.services.reconcile import wechat_side
    from campuspass.renewals.services.refunds import order_refund_route

    clerk = make_user(roles.FINANCE, "fin")
    order = order_reject(order=paid_order(fake), acting_user=None, reason="信息不符")
    Payment.objects.filter(order=order).update(paid_at=timezone.now() - dt.timedelta(days=366))
    order = RenewalOrder.objects.get(pk=order.pk)
    route = order_refund_route(order)
    assert route.kind == "counter" and "超过一年" in route.staff_text
    with pytest.raises(CampusPassError) as exc:
        refund_request(order=order)
    assert exc.value.code == "refund_window"
    refund = refund_at_counter(order=order, acting_user=clerk, note="银行转账 流水 88")
    assert (
        refund.status == R.PAID_OUT
        and fake.calls.count(("refund", refund.out_refund_no, refund.amount_fen)) == 0
    )
    assert RenewalOrder.objects.get(pk=order.pk).status == S.REFUNDED
    assert wechat_side(timezone.localdate())[1] == {}  # not on WeChat's bill
