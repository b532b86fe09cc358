"""Migration 0007: the payment facts on existing orders become ledger rows; late and duplicate
payments known only from the audit log, and counter sales known only from an audit reason, become
ledger rows too; CLOSED / ABNORMAL refunds get their own status; unagreed unpaid orders are
"awaiting consent"."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.migrating import back_to_the_latest, migrate  # noqa: F401 - the fixture is autouse

BEFORE = [("renewals", "0005_order_channel_and_receipt")]
AFTER = [("renewals", "0008_order_payment_facts_removed")]


@pytest.mark.django_db(transaction=True)
def test_payment_facts_move_to_the_ledger():
    old = migrate(BEFORE)
    Campaign = old.get_model("renewals", "Campaign")
    Order = old.get_model("renewals", "RenewalOrder")
    Refund = old.get_model("renewals", "Refund")
    Staff = old.get_model("registry", "Staff")
    Vehicle = old.get_model("registry", "Vehicle")
    Pass = old.get_model("registry", "Pass")
    LogEntry = old.get_model("core", "LogEntry")
    ContentType = old.get_model("contenttypes", "ContentType")
    now = timezone.now()
    campaign = Campaign.objects.create(
        year=2019,
        previous_year=2018,
        product_name="通行证",
        price_fen=15000,
        window_start=now - dt.timedelta(days=1),
        window_end=now + dt.timedelta(days=5),
        valid_from=dt.date(2019, 7, 1),
        valid_to=dt.date(2020, 6, 30),
    )

    def order(n, **fields):
        staff = Staff.objects.create(staff_no=f"S{n}", name=f"职工{n}", mobile=f"1390000000{n}")
        vehicle = Vehicle.objects.create(plate=f"京A0000{n}", owner=staff)
        previous = Pass.objects.create(year=2018, number=f"P{n}", vehicle=vehicle, holder=staff)
        return Order.objects.create(
            campaign=campaign,
            previous_pass=previous,
            staff=staff,
            vehicle=vehicle,
            plate=vehicle.plate,
            amount_fen=15000,
            out_trade_no=f"CP{n}",
            **fields,
        )

    wechat = order(
        1,
        status="rejected",
        transaction_id="4200A",
        paid_amount_fen=15000,
        paid_at=now,
        payment_method="wechat",
        payer_openid="oX",
    )
    cash = order(
        2,
        status="paid",
        paid_amount_fen=15000,
        paid_at=now,
        payment_method="cash",
        payment_receipt_no="SJ-1",
        channel="onsite",
    )
    closed = order(3, status="closed")
    unagreed = order(4, status="pending_payment")
    refund = Refund.objects.create(
        order=wechat,
        out_refund_no="RF1",
        amount_fen=15000,
        status="failed",
        platform_status="ABNORMAL",
        reason="审核未通过",
    )
    order_type = ContentType.objects.get_or_create(app_label="renewals", model="renewalorder")[0]
    LogEntry.objects.create(
        actor_label="系统",
        action="renewals.order.payment_not_applied",
        content_type=order_type,
        object_id=str(closed.pk),
        data={"transaction_id": "4200LATE"},
    )
    staff = Staff.objects.create(staff_no="S9", name="新职工", mobile="13900000009")
    vehicle = Vehicle.objects.create(plate="京A00009", owner=staff)
    sold = Pass.objects.create(
        year=2019, number="YXB201900001", vehicle=vehicle, holder=staff, source="onsite"
    )
    pass_type = ContentType.objects.get_or_create(app_label="registry", model="pass")[0]
    LogEntry.objects.create(
        actor_label="clerk",
        action="registry.pass.created",
        content_type=pass_type,
        object_id=str(sold.pk),
        reason="现场办理新证：新购车辆；现场缴费 150.00 元（现金，收据号 SJ-2）",
    )

    new = migrate(AFTER)
    Payment = new.get_model("renewals", "Payment")
    Order = new.get_model("renewals", "RenewalOrder")
    Refund = new.get_model("renewals", "Refund")
    rows = {
        (p.order_id, p.new_pass_id, p.method, p.reference, p.amount_fen, p.state, p.kind)
        for p in Payment.objects.all()
    }
    assert rows == {
        (wechat.pk, None, "wechat", "4200A", 15000, "applied", "renewal"),
        (cash.pk, None, "cash", "SJ-1", 15000, "applied", "renewal"),
        (closed.pk, None, "wechat", "4200LATE", 15000, "unclaimed", "renewal"),
        (None, sold.pk, "cash", "SJ-2", 15000, "applied", "pass_sale"),
    }
    migrated = Refund.objects.get(pk=refund.pk)
    assert migrated.status == "abnormal"
    assert migrated.payment_id == Payment.objects.get(reference="4200A").pk
    assert Order.objects.get(pk=unagreed.pk).status == "awaiting_consent"
    assert Payment.objects.get(reference="4200A").out_trade_no == "CP1"
