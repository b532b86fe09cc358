"""A Hypothesis state machine drives orders through everything the week brings — pay, duplicate,
reordered and late notifications, queries, expiry, approve, reject, refund requests, every platform
refund answer (SUCCESS, CLOSED, ABNORMAL, PROCESSING), finance's ways out, handing out at the counter,
couriers assigned and claiming, delivered and failed deliveries, switches between pickup and delivery,
and the clock — and checks after every step:
- every move of every axis (order, refund, validity, fulfilment) is in its table and has exactly one
  audit entry (the audited moves of each row chain from its first state to its current state);
- the facts recorded with the fulfilment moves match the axis (handed out ⇔ 已领取/已送达, a courier
  ⇔ 配送中, the axis only on approved orders);
- refunded ≤ paid for every payment and every order; never two live refunds of one payment;
- at most one open order per pass and campaign;
- no payment without a way back (money to give back is listed or already on its way);
- dashboard money = ledger sums = reconciliation's WeChat side.
Runs on PostgreSQL in CI (and on SQLite: no threads involved). Kept small so the suite stays fast."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.core.roles import COURIER
from campuspass.payments import providers
from campuspass.renewals.models import Payment, Refund, RenewalOrder
from campuspass.renewals.selectors_dashboard import campaign_dashboard
from campuspass.renewals.services.fulfilment import (
    order_assign_courier,
    order_claim_deliveries,
    order_delivery_failed,
    order_hand_out,
)
from campuspass.renewals.services.ledger import ledger_totals, unclaimed_payments
from campuspass.renewals.services.orders import (
    order_approve,
    order_create,
    order_mark_paid,
    order_record_consent,
    order_reject,
    order_set_fulfilment,
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
from campuspass.renewals.transitions import FULFILMENT, ORDER, REFUND, VALIDITY, can_transition
from tests.photos import photo_for

from .factories import make_campaign, make_pass
from .fakes import FakeProvider

S = RenewalOrder.Status
R = Refund.Status
H = RenewalOrder.Handover
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
            group = Group.objects.get_or_create(name=COURIER)[0]
            self.couriers = [User.objects.create_user(f"courier-{n}") for n in (1, 2)]
            for courier in self.couriers:
                courier.groups.add(group)
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

    @initialize()
    def an_approved_delivery_to_start_with(self):
        """And a pass on its way, so short runs still reach couriers, the counter and failed deliveries."""
        self.submit(1, True, delivery=True)
        self.start_and_pay(1, True)
        order = RenewalOrder.objects.filter(pk__in=self.orders, status=S.PAID, fulfilment="delivery").first()
        if order is not None:
            self.attempt(lambda: order_approve(order=order, acting_user=None))

    # --- the staff member ------------------------------------------------------------------------

    @rule(p=st.integers(0, PASSES - 1), agree=st.booleans(), delivery=st.booleans())
    def submit(self, p, agree, delivery=False):
        previous = self.passes[p]

        def work():
            order = order_create(
                plate=previous.vehicle.plate,
                campaign=self.campaign,
                id_photo=photo_for(previous.vehicle.plate),
                fulfilment="delivery" if delivery else "pickup",
                delivery_address="逸夫楼3层301" if delivery else "",
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

    # --- handing out: the counter, the couriers, the staff member's switch -----------------------------

    def approved(self, i: int, *handover: str) -> RenewalOrder | None:
        order = self.order(i, S.APPROVED)
        if order is None or (handover and order.fulfilment_status not in handover):
            # Prefer an approved order where the rule can do something.
            candidates = [
                o
                for o in RenewalOrder.objects.select_related("campaign", "staff", "courier", "handed_out_by")
                .filter(pk__in=self.orders, status=S.APPROVED)
                .order_by("pk")
                if not handover or o.fulfilment_status in handover
            ]
            order = candidates[i % len(candidates)] if candidates else order
        return order

    @rule(
        i=st.integers(0, 20), channel=st.sampled_from(["fitting", "counter", "delivery"]), early=st.booleans()
    )
    def hand_out(self, i, channel, early):
        order = self.approved(i, H.TO_COLLECT, H.TO_DELIVER, H.DELIVERING)
        if order is not None:
            if channel == "fitting":  # the door the pass is at (the others are tried too, and refused)
                channel = "delivery" if order.fulfilment_status == H.DELIVERING else "counter"
            courier = order.courier or self.couriers[0]
            self.attempt(
                lambda: order_hand_out(
                    order=order,
                    acting_user=courier if channel == "delivery" else None,
                    old_pass_collected=True,
                    id_checked=True,
                    channel=channel,
                    early_confirmed=early,
                )
            )

    @rule(i=st.integers(0, 20), c=st.integers(0, 1))
    def assign_courier(self, i, c):
        order = self.approved(i, H.TO_DELIVER, H.DELIVERING)
        if order is not None:
            self.attempt(
                lambda: order_assign_courier(orders=[order], courier=self.couriers[c], acting_user=None)
            )

    @rule(i=st.integers(0, 20), c=st.integers(0, 1))
    def courier_claims(self, i, c):
        order = self.approved(i, H.TO_DELIVER)
        if order is not None:
            self.attempt(lambda: order_claim_deliveries(orders=[order], courier=self.couriers[c]))

    @rule(i=st.integers(0, 20))
    def delivery_fails(self, i):
        order = self.approved(i, H.DELIVERING, H.TO_DELIVER)
        if order is not None:
            self.attempt(lambda: order_delivery_failed(order=order, acting_user=None, reason="无人在"))

    @rule(i=st.integers(0, 20), delivery=st.booleans())
    def staff_member_switches(self, i, delivery):
        order = self.order(i)
        if order is not None:
            self.attempt(
                lambda: order_set_fulfilment(
                    order=order,
                    fulfilment="delivery" if delivery else "pickup",
                    delivery_address="药学院 305室" if delivery else "",
                )
            )

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
        for axis, first in ((ORDER, S.AWAITING_CONSENT), (REFUND, None), (VALIDITY, ""), (FULFILMENT, "")):
            content_type = ContentType.objects.get_for_model(axis.model)
            entries = LogEntry.objects.filter(content_type=content_type, data__axis=axis.name).order_by("pk")
            chains: dict[str, str | None] = {}
            for entry in entries:
                key = entry.object_id
                previous = chains.get(key, first)
                start = entry.data["from"]
                if previous is not None:
                    assert start == previous, (axis.name, key, previous, entry.data)
                if start or "" in axis.table:  # "" is a refund's creation (not a move of its table)
                    assert can_transition(start, entry.data["to"], axis), entry.data
                chains[key] = entry.data["to"]
            for row in axis.model.objects.all():
                assert chains.get(str(row.pk), first) == getattr(row, axis.field), (axis.name, row.pk)

    @invariant()
    def handing_out_facts_match_the_fulfilment_axis(self):
        for order in RenewalOrder.objects.all():
            state = order.fulfilment_status
            assert bool(state) == (order.status == S.APPROVED), (order.pk, order.status, state)
            assert (order.handed_out_at is not None) == (state in RenewalOrder.HANDED_OVER), order.pk
            if state in RenewalOrder.WAITING_HANDOVER:
                assert (order.courier_id is not None) == (state == H.DELIVERING), (order.pk, state)
                delivery = order.fulfilment == RenewalOrder.Fulfilment.DELIVERY
                assert delivery == (state != H.TO_COLLECT), (order.pk, state, order.fulfilment)

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
