"""The soak's independent checks (bench/soak_checks.py) on crafted database states: a consistent
week passes every check, and each broken invariant — money taken twice or not recorded, a refund
made twice, an SMS sent twice or lost, an order stuck, an audit row missing or doubled, a photo one
app server cannot read — is caught by its check. The soak itself is `make soak`."""

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.utils import timezone

from bench import soak_checks
from campuspass.core.audit import log_action
from campuspass.payments.models import SimNotification, SimRefund, SimTransaction
from campuspass.renewals.models import Payment, Refund, RenewalOrder
from campuspass.renewals.services.orders import (
    order_approve,
    order_create,
    order_mark_paid,
    order_record_consent,
    order_reject,
)
from campuspass.sms.models import OutboxMessage
from tests.photos import photo_for
from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db
S = RenewalOrder.Status
_tx = itertools.count(1)


def created(campaign) -> RenewalOrder:
    previous = make_pass(year=campaign.previous_year)
    order = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address="10.0.0.1", user_agent="soak"
    )
    return order


def paid(campaign) -> RenewalOrder:
    """Paid the way the soak pays: the platform takes the money, the ledger records it once."""
    order = created(campaign)
    transaction_id = f"4200SOAK{next(_tx):020d}"
    SimTransaction.objects.create(
        out_trade_no=order.out_trade_no,
        appid="wx",
        mchid="1900000000",
        description="通行证",
        amount_fen=order.amount_fen,
        notify_url="https://example.invalid/pay/notify/payment/",
        state="SUCCESS",
        transaction_id=transaction_id,
        prepay_id="wx1",
    )
    order, _ = order_mark_paid(
        out_trade_no=order.out_trade_no,
        transaction_id=transaction_id,
        amount_fen=order.amount_fen,
        paid_at=timezone.now(),
        source="test",
    )
    return order


def refunded(order: RenewalOrder) -> Refund:
    """Rejected, refunded on the platform and here, with the SMS of each step (as the soak's office)."""
    from campuspass.renewals.services.notify import order_refunded
    from campuspass.renewals.transitions import REFUND, lock, move

    order_reject(order=order, acting_user=None, reason="照片不清晰")
    payment = Payment.objects.get(order=order, state="applied")
    refund = Refund.objects.create(
        payment=payment,
        order=order,
        out_refund_no=f"RF{order.pk:08d}",
        amount_fen=payment.amount_fen,
        reason="x",
    )
    SimRefund.objects.create(
        out_refund_no=refund.out_refund_no,
        refund_id=f"50{order.pk:030d}",
        out_trade_no=order.out_trade_no,
        transaction_id=payment.reference,
        amount_fen=refund.amount_fen,
        total_fen=refund.amount_fen,
        status="SUCCESS",
    )
    from campuspass.renewals.services.orders import move_order

    log_action(
        actor=None,
        action="renewals.refund.requested",
        obj=refund,
        data={"axis": "refund", "from": "", "to": "pending"},
    )
    locked = lock(Refund, refund.pk)
    move(locked, "succeeded", axis=REFUND, acting_user=None, action="renewals.refund.succeeded")
    order.refresh_from_db()
    move_order(order, S.REFUNDING, acting_user=None, action="renewals.order.refunding")
    move_order(order, S.REFUNDED, acting_user=None, action="renewals.order.refunded")
    order_refunded(order, refund.amount_fen)
    return refund


@pytest.fixture
def week(django_capture_on_commit_callbacks):
    """Two approved orders, one rejected and refunded, one abandoned but not yet expired; every SMS
    sent and received once by the vendor."""
    campaign = make_campaign()
    orders = [paid(campaign), paid(campaign), paid(campaign)]
    order_approve(order=orders[0], acting_user=None)
    order_approve(order=orders[1], acting_user=None)
    refunded(orders[2])
    open_order = created(campaign)
    OutboxMessage.objects.update(status=OutboxMessage.Status.SENT, attempts=1)
    vendor = [{"phone": m.phone, "template": m.template} for m in OutboxMessage.objects.all()]
    return {"campaign": campaign, "orders": orders, "open": open_order, "vendor": vendor}


def run(week, **overrides):
    kwargs = {"now": timezone.now(), "grace": dt.timedelta(seconds=90), "sms_lines": week["vendor"]}
    kwargs.update(overrides)
    return soak_checks.run_all(connection, **kwargs)


def failed(results) -> set[str]:
    return {name for name, check in results.items() if not check["ok"]}


def test_a_consistent_week_passes_every_check(week):
    results = run(week)
    assert failed(results) == set(), {n: c["problems"] for n, c in results.items() if c["problems"]}
    assert results["paid_once"]["platform_payments"] == 3
    assert results["refunded_once"]["platform_refunds"] == 1
    assert results["audit_one_row_per_move"]["moves"] >= 8


def test_money_taken_but_not_in_the_ledger_is_caught(week):
    SimTransaction.objects.create(
        out_trade_no="CPLOST0001",
        amount_fen=15000,
        state="SUCCESS",
        transaction_id="4200LOST",
        prepay_id="wx2",
        notify_url="https://example.invalid/",
    )
    results = run(week)
    assert failed(results) == {"paid_once"}
    assert "ledger has it 0 times" in results["paid_once"]["problems"][0]


def test_an_order_marked_paid_without_its_payment_is_caught(week):
    RenewalOrder.objects.filter(pk=week["open"].pk).update(status=S.PAID)
    results = run(week)
    assert "paid_once" in failed(results)
    assert any("0 applied payments" in p for p in results["paid_once"]["problems"])


def test_a_refund_the_platform_made_twice_is_caught(week):
    order = week["orders"][2]
    SimRefund.objects.create(
        out_refund_no="RFSECOND",
        refund_id="50second",
        out_trade_no=order.out_trade_no,
        transaction_id="x",
        amount_fen=order.amount_fen,
        total_fen=order.amount_fen,
        status="SUCCESS",
    )
    problems = run(week)["refunded_once"]["problems"]
    assert any("0 refunds of ours" in p for p in problems)
    assert any("given back of" in p for p in problems)


def test_an_sms_the_vendor_got_twice_or_never_is_caught(week):
    twice = [*week["vendor"], week["vendor"][0]]
    assert "twice or more" in " ".join(run(week, sms_lines=twice)["sms_once"]["problems"])
    never = week["vendor"][1:]
    assert "(sent never)" in " ".join(run(week, sms_lines=never)["sms_once"]["problems"])


def test_an_order_event_that_sent_two_sms_is_caught(week):
    from campuspass.renewals.services.notify import order_approved

    order_approved(RenewalOrder.objects.get(pk=week["orders"][0].pk))
    problems = run(week, sms_lines=None)["sms_once"]["problems"]
    assert any("'approved': 2" in p for p in problems)


def test_an_unpaid_order_past_its_expiry_is_stuck(week):
    RenewalOrder.objects.filter(pk=week["open"].pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    results = run(week)
    assert failed(results) == {"no_stuck"}
    assert "(expired)" in results["no_stuck"]["problems"][0]


def test_refunding_without_a_live_refund_and_an_unacknowledged_notification_are_stuck(week):
    RenewalOrder.objects.filter(pk=week["orders"][0].pk).update(status=S.REFUNDING)
    SimNotification.objects.create(
        kind="payment",
        event_id="e1",
        event_type="TRANSACTION.SUCCESS",
        url="https://example.invalid/",
        body="{}",
        created_at=timezone.now() - dt.timedelta(minutes=10),
    )
    problems = run(week)["no_stuck"]["problems"]
    assert any("without a live refund" in p for p in problems)
    assert any("never acknowledged" in p for p in problems)


def test_a_move_without_its_audit_row_or_with_two_is_caught(week):
    order = week["orders"][0]
    RenewalOrder.objects.filter(pk=order.pk).update(status=S.CLOSED)  # a move nobody audited
    problems = run(week)["audit_one_row_per_move"]["problems"]
    assert any(f"order {order.pk}: the audit log ends at 'approved'" in p for p in problems)

    second = week["orders"][1]
    log_action(
        actor=None,
        action="renewals.order.approved",
        obj=second,
        data={"axis": "order", "from": "paid", "to": "approved"},
    )
    problems = run(week)["audit_one_row_per_move"]["problems"]
    assert any(f"order {second.pk}: entry" in p for p in problems)


def test_a_photo_one_app_server_cannot_read_is_caught():
    ok = [
        {"order": 1, "server": "web-a", "status": 200, "sha256": "x"},
        {"order": 1, "server": "web-b", "status": 200, "sha256": "x"},
    ]
    assert soak_checks.check_photos(ok, ["web-a", "web-b"])["ok"]
    missing = [ok[0], {**ok[1], "status": 404}]
    assert "from web-b: 404" in soak_checks.check_photos(missing, ["web-a", "web-b"])["problems"][0]
    different = [ok[0], {**ok[1], "sha256": "y"}]
    assert not soak_checks.check_photos(different, ["web-a", "web-b"])["ok"]


def test_a_photo_the_app_sent_itself_or_nginx_did_not_send_is_caught():
    """With nginx's X-Accel delivery (decision 0031) the bytes must come from nginx's internal
    location, named by the app's empty answer, and be the stored file."""
    via = {
        "status": 200,
        "sha256": "x",
        "stored_sha256": "x",
        "app_status": 200,
        "app_accel": "/_protected/id-photos/k.jpg",
        "app_bytes": 0,
        "nginx_location": True,
        "leaked_accel": False,
    }
    ok = [{"order": 1, "server": "web-a", **via}, {"order": 1, "server": "web-b", **via}]
    servers = ["web-a", "web-b"]
    check = soak_checks.check_photos(ok, servers, x_accel_prefix="/_protected/id-photos/")
    assert check["ok"] and check["via_x_accel"] == 2
    broken = {
        "the app answered 200 without X-Accel-Redirect": {"app_accel": ""},
        "the app sent 5 bytes itself": {"app_bytes": 5},
        "nginx did not send it from its internal location": {"nginx_location": False},
        "X-Accel-Redirect reached the browser": {"leaked_accel": True},
        "the bytes are not the stored file's": {"stored_sha256": "y"},
    }
    for said, change in broken.items():
        fetches = [ok[0], {**ok[1], **change}]
        problems = soak_checks.check_photos(fetches, servers, x_accel_prefix="/_protected/id-photos/")[
            "problems"
        ]
        assert problems == [f"order 1: photo from web-b: {said}"], problems
    # without the prefix (the app streams the photos) none of this is asked
    assert soak_checks.check_photos([ok[0], {**ok[1], "app_accel": ""}], servers)["ok"]


def _task_row(status, started_ago, exception=""):
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    return DBTaskResult.objects.create(
        status=status,
        task_path="campuspass.payments.tasks.deliver_notification_task",
        args_kwargs={"args": [], "kwargs": {}},
        backend_name="default",
        run_after=now - started_ago,
        started_at=now - started_ago,
        worker_ids=["host-b-1"],
        exception_class_path=exception,
        traceback="",
    )


def test_a_task_row_left_running_by_a_killed_worker_is_stuck_until_marked(week):
    from campuspass.core.housekeeping import STALE_TASK_EXCEPTION

    assert soak_checks.STALE_TASK_EXCEPTION == STALE_TASK_EXCEPTION
    minute = dt.timedelta(seconds=60)
    working = _task_row("RUNNING", dt.timedelta(seconds=100))  # within bound + grace: still working
    assert failed(run(week, stale_after=minute)) == set()
    left = _task_row("RUNNING", dt.timedelta(seconds=200))
    results = run(week, stale_after=minute)
    assert failed(results) == {"no_stuck"}
    (problem,) = results["no_stuck"]["problems"]
    assert problem.endswith(
        f"(deliver_notification_task) left RUNNING since {left.started_at.astimezone(dt.UTC):%H:%M:%S}"
    )
    assert not failed(run(week))  # without a bound (an older deployment) RUNNING rows are only listed
    type(left).objects.filter(pk=left.pk).update(status="FAILED", exception_class_path=STALE_TASK_EXCEPTION)
    results = run(week, stale_after=minute)
    assert failed(results) == set()
    assert results["no_stuck"]["tasks_abandoned"] == {"deliver_notification_task": 1}
    assert results["no_stuck"]["tasks_left_running"] == {"deliver_notification_task": 1}
    assert working.status == "RUNNING"


def test_the_photos_to_fetch_are_the_orders_live_photo_documents(week):
    """The soak asks every order's kept photo (the IdPhoto row, decision 0031), by its store name."""
    from campuspass.verification.models import IdPhoto

    orders = RenewalOrder.objects.order_by("pk")
    assert soak_checks.live_photos(connection) == [
        {"id": o.pk, "name": f"{o.id_photo.key}.jpg"} for o in orders
    ]
    gone = week["orders"][2].id_photo
    IdPhoto.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    assert week["orders"][2].pk not in {r["id"] for r in soak_checks.live_photos(connection)}
