"""The renewal core through its services: create, consent, pay (notification or query), approve,
reject, refund — with the guarantees of issue 3 (duplicates have one effect, nothing relies on the
notification alone, expiry never closes a paid order, refunds reuse their number)."""

import datetime as dt
import io

import pytest
import time_machine
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.registry.models import Pass
from campuspass.renewals.models import Campaign, Payment, Refund, RenewalOrder
from campuspass.renewals.services.orders import (
    order_approve,
    order_create,
    order_mark_paid,
    order_record_consent,
    order_reject,
    order_update_validity,
)
from campuspass.renewals.services.payments import (
    apply_payment_notification,
    apply_refund_notification,
    check_unpaid_orders,
    payment_start,
    payment_sync,
)
from campuspass.renewals.services.reconcile import reconcile_day
from campuspass.renewals.services.refunds import check_refunds, refund_request, refund_retry
from campuspass.renewals.transitions import TransitionNotAllowed
from campuspass.sms.models import OutboxMessage
from tests.photos import photo_for

from .factories import make_campaign, make_pass

S = RenewalOrder.Status
pytestmark = pytest.mark.django_db


def new_order(campaign=None, **pass_kwargs) -> RenewalOrder:
    campaign = campaign or Campaign.objects.filter(year=2019).first() or make_campaign()
    previous = make_pass(**pass_kwargs)
    order = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address="127.0.0.1", user_agent="test"
    )
    return order


def paid_order(fake, campaign=None) -> RenewalOrder:
    order = new_order(campaign)
    payment_start(order=order, openid="oFAKEOPENID")
    fake.pay(order.out_trade_no, order.amount_fen)
    assert apply_payment_notification(fake.payment_notification(order.out_trade_no)) == "paid"
    order.refresh_from_db()
    return order


def audit_count(order, action):
    return LogEntry.objects.filter(object_id=str(order.pk), action=action).count()


def test_submitting_twice_returns_the_same_order(fake_provider):
    campaign = make_campaign()
    previous = make_pass()
    first = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    second = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    assert first.pk == second.pk
    assert RenewalOrder.objects.count() == 1


def test_no_payment_without_consent(fake_provider):
    campaign = make_campaign()
    previous = make_pass()
    order = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    with pytest.raises(CampusPassError) as excinfo:
        payment_start(order=order)
    assert excinfo.value.code == "consent_required"
    assert fake_provider.calls == []


def test_consent_records_version_hash_and_device(fake_provider):
    order = new_order()
    consent = order.consent
    assert consent.consent_version.version == 1
    assert consent.text_sha256 == consent.consent_version.sha256
    assert consent.user_agent == "test" and consent.ip_address == "127.0.0.1"


def test_duplicate_notification_has_one_effect(fake_provider):
    order = paid_order(fake_provider)
    assert order.status == S.PAID and order.paid_amount_fen == order.amount_fen
    again = apply_payment_notification(fake_provider.payment_notification(order.out_trade_no))
    assert again == "already paid"
    assert audit_count(order, "renewals.order.paid") == 1


def test_notification_with_wrong_amount_or_merchant_is_not_applied(fake_provider):
    order = new_order()
    payment_start(order=order)
    fake_provider.pay(order.out_trade_no, order.amount_fen)
    wrong_amount = fake_provider.payment_notification(
        order.out_trade_no, amount={"total": 1, "payer_total": 1, "currency": "CNY"}
    )
    assert apply_payment_notification(wrong_amount) == "mismatch"
    assert (
        apply_payment_notification(fake_provider.payment_notification(order.out_trade_no, mchid="1"))
        == "mismatch"
    )
    assert (
        apply_payment_notification(fake_provider.payment_notification(order.out_trade_no, appid="wxX"))
        == "mismatch"
    )
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT
    assert audit_count(order, "renewals.order.payment_mismatch") == 3


def test_a_lost_notification_still_ends_in_a_paid_order(fake_provider):
    order = new_order()
    payment_start(order=order)
    fake_provider.pay(order.out_trade_no, order.amount_fen)  # and no notification ever comes
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        counts = check_unpaid_orders()
    order.refresh_from_db()
    assert order.status == S.PAID and counts["paid"] == 1
    assert (
        LogEntry.objects.get(object_id=str(order.pk), action="renewals.order.paid").data["source"] == "query"
    )


def test_return_from_payment_queries_the_provider(fake_provider):
    order = new_order()
    payment_start(order=order)
    assert payment_sync(order=order).status == S.PENDING_PAYMENT
    fake_provider.pay(order.out_trade_no, order.amount_fen)
    assert payment_sync(order=order).status == S.PAID


def test_unreachable_provider_leaves_the_order_unpaid(fake_provider):
    order = new_order()
    fake_provider.unreachable = True
    assert payment_sync(order=order).status == S.PENDING_PAYMENT


def test_expiry_closes_an_unpaid_order_after_querying(fake_provider):
    order = new_order()
    payment_start(order=order)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        counts = check_unpaid_orders()
    order.refresh_from_db()
    assert order.status == S.CLOSED and counts["closed"] == 1
    kinds = [call[0] for call in fake_provider.calls]
    assert kinds.index("query") < kinds.index("close")


def test_expiry_that_finds_success_pays_instead_of_closing(fake_provider):
    order = new_order()
    payment_start(order=order)
    fake_provider.pay(order.out_trade_no, order.amount_fen)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=30)):
        check_unpaid_orders()
    order.refresh_from_db()
    assert order.status == S.PAID
    assert ("close", order.out_trade_no) not in fake_provider.calls


def test_expiry_does_not_close_when_provider_is_unreachable(fake_provider):
    order = new_order()
    fake_provider.trades[order.out_trade_no] = {"state": "NOTPAY", "amount": order.amount_fen}
    fake_provider.unreachable = True
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=30)):
        check_unpaid_orders()
    order.refresh_from_db()
    # payment_sync could not ask; close() itself did not fail, so the order is closed only after
    # the platform confirmed it closed — here the fake's close succeeds, so it is closed.
    assert order.status in {S.CLOSED, S.PENDING_PAYMENT}


def test_payment_on_a_closed_order_is_recorded_not_applied(fake_provider):
    order = new_order()
    payment_start(order=order)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        check_unpaid_orders()
    fake_provider.trades[order.out_trade_no] = {
        "state": "SUCCESS",
        "amount": order.amount_fen,
        "transaction_id": "4200X",
        "time": timezone.now(),
    }
    result = apply_payment_notification(fake_provider.payment_notification(order.out_trade_no))
    assert result.startswith("unclaimed")
    order.refresh_from_db()
    assert order.status == S.CLOSED
    # The money is a ledger row waiting to go back, not only an audit entry.
    payment = Payment.objects.get(reference="4200X")
    assert (payment.state, payment.order_id, payment.amount_fen) == ("unclaimed", order.pk, order.amount_fen)
    assert (
        LogEntry.objects.filter(object_id=str(payment.pk), action="renewals.payment.unclaimed").count() == 1
    )


def test_approve_creates_the_new_pass_and_tells_the_staff_member(
    fake_provider, sms_outbox, django_capture_on_commit_callbacks
):
    order = paid_order(fake_provider)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_approve(order=order, acting_user=None)
    assert order.status == S.APPROVED
    assert order.validity == RenewalOrder.Validity.IN_USE  # factories: validity started 10 days ago
    assert (
        order.new_pass.year == order.campaign.year
        and order.new_pass.review_status == Pass.ReviewStatus.APPROVED
    )
    assert order.pickup_from > timezone.localdate() - dt.timedelta(days=1)
    message = OutboxMessage.objects.get(related=f"order:{order.pk}", template="approved_pickup")
    assert order.plate in message.text and order.campaign.pickup_place in message.text
    assert [m.phone for m in sms_outbox] == [order.staff.mobile]


def test_approval_before_validity_is_pending_then_in_use(fake_provider):
    today = timezone.localdate()
    campaign = make_campaign(valid_from=today + dt.timedelta(days=5), valid_to=today + dt.timedelta(days=300))
    order = order_approve(order=paid_order(fake_provider, campaign), acting_user=None)
    # Not 使用中 (nor 待生效) before the pass is in hand (issue 14).
    assert order.validity == RenewalOrder.Validity.NOT_YET and order.status_label == "待领取"
    from campuspass.renewals.services.fulfilment import order_hand_out

    order = order_hand_out(
        order=order, acting_user=None, old_pass_collected=True, id_checked=True, early_confirmed=True
    )
    assert order.status_label == "待生效"
    assert order_update_validity(today=today + dt.timedelta(days=4)) == 0
    assert order_update_validity(today=today + dt.timedelta(days=5)) == 1
    order.refresh_from_db()
    assert order.validity == RenewalOrder.Validity.IN_USE
    # The label reads the new pass's own dates: right on the day, whatever the job has stored.
    with time_machine.travel(timezone.now() + dt.timedelta(days=5)):
        assert order.status_label == "使用中"


def test_only_paid_orders_can_be_decided(fake_provider):
    order = new_order()
    with pytest.raises(TransitionNotAllowed):
        order_approve(order=order, acting_user=None)
    with pytest.raises(TransitionNotAllowed):
        order_reject(order=order, acting_user=None, reason="照片不清晰")
    with pytest.raises(CampusPassError):
        order_reject(order=paid_order(fake_provider), acting_user=None, reason="   ")


def test_reject_then_refund_through_the_notification(
    fake_provider, sms_outbox, django_capture_on_commit_callbacks
):
    order = paid_order(fake_provider)
    with django_capture_on_commit_callbacks(execute=True):
        order_reject(order=order, acting_user=None, reason="工作证照片不清晰")
    assert OutboxMessage.objects.filter(related=f"order:{order.pk}", template="rejected").exists()
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(order=order)
    refund.refresh_from_db()
    order.refresh_from_db()
    assert order.status == S.REFUNDING and refund.status == Refund.Status.PROCESSING
    assert refund.amount_fen == order.paid_amount_fen
    # The final state comes only from the platform.
    with django_capture_on_commit_callbacks(execute=True):
        result = apply_refund_notification(fake_provider.refund_notification(refund.out_refund_no))
    assert result == "refund SUCCESS"
    order.refresh_from_db()
    assert order.status == S.REFUNDED and order.status_label == "已退款"
    assert (
        apply_refund_notification(fake_provider.refund_notification(refund.out_refund_no))
        == "already applied"
    )
    assert OutboxMessage.objects.filter(related=f"order:{order.pk}", template="refunded").count() == 1


def test_refund_request_twice_makes_one_refund(fake_provider, django_capture_on_commit_callbacks):
    order = order_reject(order=paid_order(fake_provider), acting_user=None, reason="信息不符")
    with django_capture_on_commit_callbacks(execute=True):
        first = refund_request(order=order)
        second = refund_request(order=order)
    assert first.pk == second.pk
    assert Refund.objects.filter(order=order).count() == 1
    assert [c for c in fake_provider.calls if c[0] == "refund"] == [
        ("refund", first.out_refund_no, order.amount_fen)
    ]


def test_refused_refund_is_retried_with_the_same_number(fake_provider, django_capture_on_commit_callbacks):
    order = order_reject(order=paid_order(fake_provider), acting_user=None, reason="信息不符")
    fake_provider.refund_answer = "NOT_ENOUGH"  # a final refusal of the request: the refund FAILED
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(order=order)
    order.refresh_from_db()
    refund.refresh_from_db()
    assert order.status == S.REFUND_FAILED and refund.status == Refund.Status.FAILED
    with pytest.raises(CampusPassError):
        refund_request(order=order)  # the staff member cannot start a second refund
    fake_provider.refund_answer = "PROCESSING"
    with django_capture_on_commit_callbacks(execute=True):
        retried = refund_retry(order=order, acting_user=None)
    assert retried.out_refund_no == refund.out_refund_no
    assert Refund.objects.filter(order=order).count() == 1
    apply_refund_notification(fake_provider.refund_notification(refund.out_refund_no, "SUCCESS"))
    order.refresh_from_db()
    assert order.status == S.REFUNDED


def test_refused_refund_lands_in_refund_failed(fake_provider, django_capture_on_commit_callbacks):
    fake_provider.refund_answer = "NOT_ENOUGH"
    order = order_reject(order=paid_order(fake_provider), acting_user=None, reason="信息不符")
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(order=order)
    order.refresh_from_db()
    refund.refresh_from_db()
    assert order.status == S.REFUND_FAILED
    assert refund.attempts == 1 and refund.platform_status == "NOT_ENOUGH"


def test_unreachable_refund_is_resent_with_the_same_number(fake_provider, django_capture_on_commit_callbacks):
    fake_provider.refund_answer = "SYSTEM_ERROR"
    order = order_reject(order=paid_order(fake_provider), acting_user=None, reason="信息不符")
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(order=order)
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.PENDING and order.status == S.REFUNDING and refund.attempts == 1
    fake_provider.refund_answer = "PROCESSING"
    assert check_refunds()["waiting"] == 1  # SYSTEM_ERROR backs off: not before a minute (decision 0035)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1, seconds=1)):
        assert check_refunds()["resent"] == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    sent = [c[1] for c in fake_provider.calls if c[0] == "refund"]
    assert sent == [refund.out_refund_no, refund.out_refund_no]
    # No notification: a later query settles it.
    fake_provider.refunds[refund.out_refund_no]["status"] = "SUCCESS"
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10)):
        check_refunds()
    order.refresh_from_db()
    assert order.status == S.REFUNDED


def test_refund_only_within_365_days_of_payment(fake_provider):
    order = order_reject(order=paid_order(fake_provider), acting_user=None, reason="信息不符")
    with (
        time_machine.travel(timezone.now() + dt.timedelta(days=366)),
        pytest.raises(CampusPassError) as excinfo,
    ):
        refund_request(order=order)
    assert excinfo.value.code == "refund_window"


def test_refund_of_an_unpaid_or_approved_order_is_refused(fake_provider):
    with pytest.raises(TransitionNotAllowed):
        refund_request(order=new_order())
    approved = order_approve(order=paid_order(fake_provider), acting_user=None)
    with pytest.raises(TransitionNotAllowed):
        refund_request(order=approved)


def test_wrong_refund_amount_from_platform_is_not_success(fake_provider, django_capture_on_commit_callbacks):
    order = order_reject(order=paid_order(fake_provider), acting_user=None, reason="信息不符")
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(order=order)
    fake_provider.refunds[refund.out_refund_no]["amount"] = refund.amount_fen + 1
    assert apply_refund_notification(fake_provider.refund_notification(refund.out_refund_no)) == "mismatch"
    order.refresh_from_db()
    assert order.status == S.REFUNDING


def test_mark_paid_with_wrong_amount_raises_and_writes_nothing_but_audit(fake_provider):
    order = new_order()
    with pytest.raises(CampusPassError):
        order_mark_paid(
            out_trade_no=order.out_trade_no, transaction_id="T1", amount_fen=order.amount_fen - 1, source="t"
        )
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT and order.paid_amount_fen == 0


def test_reconciliation_reports_differences(fake_provider):
    order = paid_order(fake_provider)
    other = paid_order(fake_provider)
    # The bill shows a payment we never recorded, and a different amount for another.
    fake_provider.trades["CPUNKNOWN"] = {
        "state": "SUCCESS",
        "amount": 100,
        "transaction_id": "T9",
        "time": timezone.now(),
    }
    fake_provider.trades[other.out_trade_no]["amount"] = other.amount_fen + 100
    run = reconcile_day(day=timezone.localdate())
    problems = {(d["key"], d["problem"]) for d in run.differences}
    assert ("CPUNKNOWN", "账单中有，本系统没有记录") in problems
    assert (other.out_trade_no, "金额不一致") in problems
    assert not any(d["key"] == order.out_trade_no for d in run.differences)
    again = reconcile_day(day=timezone.localdate())
    assert again.pk == run.pk  # one result per day, refreshed


class AmountsNeverDrift(HypothesisTestCase):
    """Money is integer fen from the campaign price to the refund: no rounding anywhere."""

    @hsettings(max_examples=25, deadline=None)
    @given(price=st.integers(min_value=1, max_value=10_000_000))
    def test_amounts(self, price):
        from campuspass.payments import providers

        from .fakes import FakeProvider

        fake = FakeProvider()
        saved, providers._provider = providers._provider, fake
        try:
            campaign = make_campaign(price_fen=price, year=3000 + price % 1000)
            order = paid_order(fake, campaign)
            assert order.amount_fen == price == order.paid_amount_fen
            assert order.amount_yuan == f"{price // 100}.{price % 100:02d}"
            order_reject(order=order, acting_user=None, reason="测试")
            refund = refund_request(order=order)
            assert refund.amount_fen == price
        finally:
            providers._provider = saved


def test_an_order_paid_at_the_counter_is_not_refunded_online(fake_provider):
    order = new_order()
    order_mark_paid(
        out_trade_no=order.out_trade_no,
        transaction_id="",
        amount_fen=order.amount_fen,
        method="cash",
        source="counter",
    )
    order = order_reject(order=order, acting_user=None, reason="信息不符")
    with pytest.raises(CampusPassError) as excinfo:
        refund_request(order=order)
    assert excinfo.value.code == "refund_at_counter"
    assert not Refund.objects.filter(order=order).exists()


def test_reconcile_command_prints_the_differences(fake_provider, tmp_path):
    import json

    from django.core.management import call_command
    from django.core.management.base import CommandError

    paid_order(fake_provider)
    fake_provider.trades["CPUNKNOWN"] = {
        "state": "SUCCESS",
        "amount": 100,
        "transaction_id": "T9",
        "time": timezone.now(),
    }
    out = io.StringIO()
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with time_machine.travel(timezone.now() + dt.timedelta(days=1)):
        call_command("reconcile", "--report", str(tmp_path / "r.json"), stdout=out)
    assert "CPUNKNOWN" in out.getvalue() and "账单中有，本系统没有记录" in out.getvalue()
    assert json.loads((tmp_path / "r.json").read_text())["differences"][0]["key"] == "CPUNKNOWN"
    with pytest.raises(CommandError):
        call_command("reconcile", "--date", tomorrow.isoformat())
    with pytest.raises(CommandError):
        call_command("reconcile", "--date", "2019-13-45")


def test_counter_paid_order_is_refunded_at_the_counter(fake_provider, django_capture_on_commit_callbacks):
    from campuspass.renewals.services.refunds import refund_at_counter

    order = new_order()
    order_mark_paid(
        out_trade_no=order.out_trade_no,
        transaction_id="",
        amount_fen=order.amount_fen,
        method="cash",
        source="counter",
    )
    order = order_reject(order=order, acting_user=None, reason="信息不符")
    with pytest.raises(CampusPassError):
        refund_at_counter(order=order, acting_user=None, note="  ")
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_at_counter(order=order, acting_user=None, note="现金退款 凭证 0042")
    order.refresh_from_db()
    assert order.status == S.REFUNDED and refund.amount_fen == order.paid_amount_fen
    assert not [c for c in fake_provider.calls if c[0] == "refund"]  # WeChat Pay is not asked
    with pytest.raises(TransitionNotAllowed):
        refund_at_counter(order=order, acting_user=None, note="again")
    wechat = order_reject(order=paid_order(fake_provider), acting_user=None, reason="信息不符")
    with pytest.raises(CampusPassError) as excinfo:
        refund_at_counter(order=wechat, acting_user=None, note="x")
    assert excinfo.value.code == "not_counter_paid"
