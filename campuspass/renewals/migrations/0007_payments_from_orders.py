"""Payment facts move from the order to the ledger (decision 0006).

- Every paid order's money becomes one APPLIED Payment (method, transaction id or receipt number,
  amount, time, payer), and its refunds belong to that payment.
- Second payments and payments after close, until now only audit entries
  (`renewals.order.duplicate_payment`, `renewals.order.payment_not_applied`), become UNCLAIMED
  payments so that finance sees and refunds them.
- New passes sold at the counter, whose money was only in the audit reason ("收据号 …"), become
  PASS_SALE payments.
- Refunds the platform ended ABNORMAL or CLOSED (stored as "failed") get their own status, so
  finance can finish them.
- Unpaid orders nobody agreed to yet are "awaiting consent".
"""

import re

from django.db import migrations

RECEIPT = re.compile(r"（(现金|刷卡)，收据号 ([^）]+)）")
METHODS = {"现金": "cash", "刷卡": "card"}


def forwards(apps, schema_editor):
    Order = apps.get_model("renewals", "RenewalOrder")
    Payment = apps.get_model("renewals", "Payment")
    Refund = apps.get_model("renewals", "Refund")
    Campaign = apps.get_model("renewals", "Campaign")
    LogEntry = apps.get_model("core", "LogEntry")
    Pass = apps.get_model("registry", "Pass")
    ContentType = apps.get_model("contenttypes", "ContentType")

    taken: set[tuple[str, str]] = set()

    def reference_for(method: str, wanted: str, fallback: str) -> str:
        ref = wanted or fallback
        while (method, ref) in taken:
            ref = f"{ref}-dup"
        taken.add((method, ref))
        return ref[:64]

    orders = Order.objects.filter(paid_amount_fen__gt=0).order_by("pk")
    for order in orders.iterator():
        method = order.payment_method or "wechat"
        ref = order.transaction_id if method == "wechat" else order.payment_receipt_no
        payment = Payment.objects.create(
            campaign_id=order.campaign_id,
            order_id=order.pk,
            kind="renewal",
            method=method,
            reference=reference_for(method, ref or "", f"LEGACY-{order.out_trade_no}"),
            out_trade_no=order.out_trade_no if method == "wechat" else "",
            amount_fen=order.paid_amount_fen,
            state="applied",
            payer_openid=order.payer_openid,
            paid_at=order.paid_at or order.created_at,
            source="migrated",
            created_at=order.paid_at or order.created_at,
        )
        Refund.objects.filter(order_id=order.pk).update(payment=payment)

    order_type = ContentType.objects.filter(app_label="renewals", model="renewalorder").first()
    if order_type is not None:
        entries = LogEntry.objects.filter(
            content_type=order_type,
            action__in=["renewals.order.duplicate_payment", "renewals.order.payment_not_applied"],
        ).order_by("pk")
        for entry in entries.iterator():
            transaction_id = str((entry.data or {}).get("transaction_id") or "")
            if not transaction_id or ("wechat", transaction_id) in taken:
                continue
            order = Order.objects.filter(pk=entry.object_id).first()
            if order is None:
                continue
            taken.add(("wechat", transaction_id))
            Payment.objects.create(
                campaign_id=order.campaign_id,
                order_id=order.pk,
                kind="renewal",
                method="wechat",
                reference=transaction_id[:64],
                out_trade_no=order.out_trade_no,
                amount_fen=int((entry.data or {}).get("amount_fen") or order.amount_fen),
                state="unclaimed",
                paid_at=entry.created_at,
                source="migrated",
                note="迁移自审计日志：重复或逾期付款",
                created_at=entry.created_at,
            )

    pass_type = ContentType.objects.filter(app_label="registry", model="pass").first()
    if pass_type is not None:
        for permit in Pass.objects.filter(source="onsite").order_by("pk").iterator():
            entry = (
                LogEntry.objects.filter(content_type=pass_type, object_id=str(permit.pk), reason__contains="收据号")
                .order_by("pk")
                .first()
            )
            campaign = Campaign.objects.filter(year=permit.year).first()
            if entry is None or campaign is None:
                continue
            match = RECEIPT.search(entry.reason)
            if match is None:
                continue
            method = METHODS[match.group(1)]
            Payment.objects.create(
                campaign_id=campaign.pk,
                new_pass_id=permit.pk,
                kind="pass_sale",
                method=method,
                reference=reference_for(method, match.group(2), f"LEGACY-{permit.number}"),
                amount_fen=campaign.price_fen,
                state="applied",
                paid_at=entry.created_at,
                source="migrated",
                created_at=entry.created_at,
            )

    for platform_status, status in (("ABNORMAL", "abnormal"), ("CLOSED", "closed")):
        Refund.objects.filter(status="failed", platform_status=platform_status).update(status=status)

    Order.objects.filter(status="pending_payment", consent__isnull=True, channel="online").update(
        status="awaiting_consent"
    )


def backwards(apps, schema_editor):
    Order = apps.get_model("renewals", "RenewalOrder")
    Payment = apps.get_model("renewals", "Payment")
    Refund = apps.get_model("renewals", "Refund")
    for payment in Payment.objects.filter(state="applied", order__isnull=False).iterator():
        wechat = payment.method == "wechat"
        Order.objects.filter(pk=payment.order_id).update(
            paid_amount_fen=payment.amount_fen,
            payment_method=payment.method,
            transaction_id=payment.reference if wechat else None,
            payment_receipt_no="" if wechat else payment.reference,
            payer_openid=payment.payer_openid,
        )
    Refund.objects.filter(status__in=["abnormal", "closed", "paid_out"]).update(status="failed")
    Refund.objects.update(payment=None)
    Payment.objects.all().delete()
    Order.objects.filter(status="awaiting_consent").update(status="pending_payment")


class Migration(migrations.Migration):
    dependencies = [
        ("renewals", "0006_payment_ledger"),
        ("core", "0001_initial"),
        ("registry", "0003_alter_importjob_state"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
