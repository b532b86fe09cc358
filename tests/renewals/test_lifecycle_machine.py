"""A Hypothesis state machine drives orders through everything the week brings — pay, duplicate,
reordered and late notifications, queries, expiry, approve, reject, refund requests, every platform
refund answer (SUCCESS, CLOSED, ABNORMAL, PROCESSING), finance's ways out and the clock — and checks
after every step:
- every move of every axis is in its table and has exactly one audit entry (the audited moves of
  each row chain from its first state to its current state);
- refunded ≤ paid for every payment and every order; never two live refunds of one payment;
- at most one open order per pass and campaign;
- no payment without a way back (money to give back is listed or already on its way);
- dashboard money = ledger sums = reconciliation's WeChat side.
Runs on PostgreSQL in CI (and on SQLite: no threads involved). Kept small so the suite stays fast."""

import datetime as dt

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.payments import providers
from campuspass.renewals.models import Payment, Refund, RenewalOrder
from campuspass.renewals.selectors_dashboard import campaign_dashboard
from campuspass.renewals.services.ledger import ledger_totals, unclaimed_payments
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
from campuspass.renewals.services.reconcile import wechat_side
from campuspass.renewals.services.refunds import (
    check_refunds,
    order_refunds,
    refund_pay_out,
    refund_payment,
    refund_request,
    refund_retry,
    refund_route,
)
from campuspass.renewals.transitions import AXES, ORDER, REFUND, can_transition
from tests.photos import photo_for

from .factories import make_campaign, make_pass
from .fakes import FakeProvider

S = RenewalOrder.Status
R = Refund.Status
pytestmark = pytest.mark.django_db
PASSES = 3
ANSWERS = ["SUCCESS", "CLOSED", "ABNORMAL", "PROCESSING"]


class Lifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()  # every example is rolled back in teardown
        self.fake = FakeProvider()
        self.saved_provider, providers._provider = providers._provider, self.fake
        self.now = timezone.now()
        with self.clock():
            self.campaign = make_campaign(auto_refund_on_reject=False)
            self.passes = [make_pass() for _ in range(PASSES)]
        self.orders: list[int] = []
        self.second = 0

    def teardown(self):
        providers._provider = self.saved_provider
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def clock(self):
        return time_machine.travel(self.now, tick=False)

    def order(self, i: int, *statuses: str) -> RenewalOrder | None:
        """The i-th order (of those in `statuses`, when given): rules pick among orders where they
        can do something, so short runs still reach refunds."""
        orders = (
            RenewalOrder.objects.select_related("campaign", "staff").filter(pk__in=self.orders).order_by("pk")
        )
        if statuses:
            orders = orders.filter(status__in=statuses)
        orders = list(orders)
        return orders[i % len(orders)] if orders else None

    def attempt(self, work):
        """Run one step as a caller would: a refusal is a clear CampusPassError, nothing else."""
        with self.clock():
            try:
                return work()
            except CampusPassError:
                return None

    @initialize()
    def a_paid_order_to_start_with(self):
        """Every run starts with money in the ledger, so short runs still reach refunds."""
        self.submit(0, True)
        self.start_and_pay(0, True)

    # --- the staff member ------------------------------------------------------------------------

    @rule(p=st.integers(0, PASSES - 1), agree=st.booleans())
    def submit(self, p, agree):
        previous = self.passes[p]

        def work():
            order = order_create(
                plate=previous.vehicle.plate,
                campaign=self.campaign,
                id_photo=photo_for(previous.vehicle.plate),
            )
            if order.pk not in self.orders:
                self.orders.append(order.pk)
            if agree:
                order_record_consent(
                    order=order,
                    consent_version=self.campaign.current_consent(),
                    ip_address=None,
                    user_agent="",
                )

        self.attempt(work)

    @rule(i=st.integers(0, 20))
    def consent(self, i):
        order = self.order(i, S.AWAITING_CONSENT)
        if order is not None:
            self.attempt(
                lambda: order_record_consent(
                    order=order,
                    consent_version=self.campaign.current_consent(),
                    ip_address=None,
                    user_agent="",
                )
            )

    @rule(i=st.integers(0, 20), notify=st.booleans())
    def start_and_pay(self, i, notify):
        order = self.order(i, S.PENDING_PAYMENT, S.CLOSED)
        if order is None:
            return
        self.attempt(lambda: payment_start(order=order))
        trade = self.fake.trades.get(order.out_trade_no)
        if trade is not None and trade["state"] != "SUCCESS":
            # The platform takes the money (also late: the fake does not refuse a closed trade).
            self.fake.pay(order.out_trade_no, order.amount_fen)
            if notify:
                self.attempt(
                    lambda: apply_payment_notification(self.fake.payment_notification(order.out_trade_no))
                )

    # --- the platform's payment side ---------------------------------------------------------------

    @rule(i=st.integers(0, 20), times=st.integers(1, 2))
    def notification(self, i, times):
        order = self.order(i)
        if order is None or self.fake.trades.get(order.out_trade_no, {}).get("state") != "SUCCESS":
            return
        for _ in range(times):  # duplicates, and in any order with the other rules
            self.attempt(
                lambda: apply_payment_notification(self.fake.payment_notification(order.out_trade_no))
            )

    @rule(i=st.integers(0, 20))
    def query(self, i):
        order = self.order(i, S.PENDING_PAYMENT)
        if order is not None:
            self.attempt(lambda: payment_sync(order=order))

    @rule(i=st.integers(0, 20))
    def second_payment(self, i):
        order = self.order(i)
        if order is None or not order.payments.exists():
            return
        self.second += 1
        self.attempt(
            lambda: order_mark_paid(
                out_trade_no=order.out_trade_no,
                transaction_id=f"4200DUP{self.second:08d}",
                amount_fen=order.amount_fen,
                source="query",
            )
        )

    @rule(minutes=st.sampled_from([1, 7, 16, 60 * 24 * 300]))
    def clock_passes(self, minutes):
        self.now += dt.timedelta(minutes=minutes)
        self.attempt(check_unpaid_orders)
        self.attempt(lambda: order_update_validity(today=timezone.localdate()))

    # --- the reviewer ----------------------------------------------------------------------------------

    @rule(i=st.integers(0, 20), approve=st.booleans())
    def decide(self, i, approve):
        order = self.order(i, S.PAID)
        if order is None:
            return
        if approve:
            self.attempt(lambda: order_approve(order=order, acting_user=None))
        else:
            self.attempt(lambda: order_reject(order=order, acting_user=None, reason="信息不符"))

    # --- refunds -----------------------------------------------------------------------------------------

    @rule(i=st.integers(0, 20), answer=st.sampled_from([None, *ANSWERS, "NOT_ENOUGH"]))
    def ask_for_refund(self, i, answer):
        order = self.order(i, S.REJECTED, S.PAID)
        if order is None:
            return
        if order.status == S.PAID:
            self.attempt(lambda: order_reject(order=order, acting_user=None, reason="信息不符"))
        self.attempt(lambda: refund_request(order=order))
        if answer is not None:  # the task that runs after the commit, with the platform's answer
            self.worker_submits(answer)

    @rule(answer=st.sampled_from([*ANSWERS, "NOT_ENOUGH"]))
    def worker_submits(self, answer):
        self.fake.refund_answer = answer
        self.attempt(check_refunds)

    @rule(n=st.integers(0, 20), answer=st.sampled_from(ANSWERS))
    def platform_answers(self, n, answer):
        refunds = list(self.fake.refunds)
        if not refunds:
            return
        no = refunds[n % len(refunds)]
        if answer == "PROCESSING":
            self.fake.refunds[no]["status"] = answer
            return
        self.attempt(lambda: apply_refund_notification(self.fake.refund_notification(no, answer)))

    @rule(i=st.integers(0, 20))
    def finance_retries(self, i):
        order = self.order(i, S.REFUND_FAILED)
        if order is not None:
            self.fake.refund_answer = "PROCESSING"
            self.attempt(lambda: refund_retry(order=order, acting_user=None))

    @rule()
    def finance_pays_out(self):
        refund = Refund.objects.filter(status=R.ABNORMAL).first()
        if refund is not None:
            self.attempt(lambda: refund_pay_out(refund=refund, acting_user=None, how="cash", reference="V-1"))

    @rule()
    def finance_returns_unclaimed_money(self):
        payment = unclaimed_payments().first()
        if payment is not None:
            self.attempt(lambda: refund_payment(payment=payment, acting_user=None, reason="退回"))

    # --- invariants ----------------------------------------------------------------------------------------

    @invariant()
    def every_move_is_in_its_table_and_audited_once(self):
        for axis, model, first in ((ORDER, RenewalOrder, S.AWAITING_CONSENT), (REFUND, Refund, None)):
            content_type = ContentType.objects.get_for_model(model)
            entries = LogEntry.objects.filter(content_type=content_type, data__axis=axis.name).order_by("pk")
            chains: dict[str, str | None] = {}
            for entry in entries:
                key = entry.object_id
                previous = chains.get(key, first)
                start = entry.data["from"]
                if previous is not None:
                    assert start == previous, (axis.name, key, previous, entry.data)
                if start:  # "" is a refund's creation
                    assert can_transition(start, entry.data["to"], axis), entry.data
                chains[key] = entry.data["to"]
            for row in model.objects.all():
                assert chains.get(str(row.pk), first) == row.status, (axis.name, row.pk)
        validity = LogEntry.objects.filter(data__axis="validity")
        for entry in validity:
            assert can_transition(entry.data["from"], entry.data["to"], AXES["validity"])

    @invariant()
    def refunded_never_exceeds_paid(self):
        for payment in Payment.objects.all():
            done = (
                payment.refunds.filter(status__in=Refund.DONE_STATUSES).aggregate(t=Sum("amount_fen"))["t"]
                or 0
            )
            held = payment.refunds.filter(status__in=Refund.LIVE_STATUSES)
            assert held.count() <= 1
            assert done + (held.aggregate(t=Sum("amount_fen"))["t"] or 0) <= payment.amount_fen
        for order in RenewalOrder.objects.all():
            done = (
                Refund.objects.filter(payment__order=order, payment__state=Payment.State.APPLIED)
                .filter(status__in=Refund.DONE_STATUSES)
                .aggregate(t=Sum("amount_fen"))["t"]
                or 0
            )
            assert done <= order.paid_amount_fen
            assert order.payments.filter(state=Payment.State.APPLIED).count() <= 1

    @invariant()
    def one_open_order_per_pass(self):
        crowded = (
            RenewalOrder.objects.filter(status__in=RenewalOrder.OPEN_STATUSES)
            .values("previous_pass", "campaign")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        assert not crowded.exists()

    @invariant()
    def no_money_without_a_way_back(self):
        listed = set(unclaimed_payments().values_list("pk", flat=True))
        for payment in Payment.objects.all():
            with self.clock():
                assert refund_route(payment).kind in {"online", "counter"}
            busy = payment.refunds.filter(status__in=[*Refund.LIVE_STATUSES, *Refund.DONE_STATUSES]).exists()
            if payment.state == Payment.State.UNCLAIMED and not busy:
                assert payment.pk in listed  # 退款管理 shows it as needing action
        for order in RenewalOrder.objects.filter(status=S.REFUND_FAILED):
            latest = order_refunds(order).first()
            assert latest.status in (R.FAILED, R.CLOSED, R.ABNORMAL)  # retry / new number / pay out

    @invariant()
    def dashboard_ledger_and_reconciliation_agree(self):
        board = campaign_dashboard(self.campaign)
        totals = ledger_totals(campaign=self.campaign)
        wechat = ledger_totals(campaign=self.campaign, method=Payment.Method.WECHAT)
        assert (
            board.taken_fen
            == totals["taken_fen"]
            == (Payment.objects.aggregate(t=Sum("amount_fen"))["t"] or 0)
        )
        assert board.refunded_fen == totals["refunded_fen"]
        assert board.taken_wechat_fen == wechat["taken_fen"]
        days = {timezone.localdate(p) for p in Payment.objects.values_list("paid_at", flat=True)}
        days |= {
            timezone.localdate(r)
            for r in Refund.objects.exclude(finished_at=None).values_list("finished_at", flat=True)
        }
        paid = refunded = 0
        for day in days:
            payments, refunds = wechat_side(day)
            paid += sum(payments.values())
            refunded += sum(refunds.values())
        assert paid == wechat["taken_fen"]
        succeeded = Refund.objects.filter(payment__method=Payment.Method.WECHAT, status=R.SUCCEEDED)
        assert refunded == (succeeded.aggregate(t=Sum("amount_fen"))["t"] or 0)


def test_the_lifecycle_keeps_its_promises():
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=6,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
