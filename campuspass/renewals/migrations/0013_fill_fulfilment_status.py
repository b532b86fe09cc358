"""The FULFILMENT axis (decision 0034): `RenewalOrder.fulfilment_status`, filled from what existing
orders record — approved and not handed out: 待领取 (pickup), 配送中 (delivery with a courier) or
待送证 (delivery without); handed out: 已领取, or 已送达 for a delivery not handed out at the counter
(the `renewals.order.handed_out` audit entry says the channel). Other orders stay "" (no handing out)."""

from django.db import migrations


def fill_fulfilment_status(apps, schema_editor):
    Order = apps.get_model("renewals", "RenewalOrder")
    LogEntry = apps.get_model("core", "LogEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    approved = Order.objects.filter(status="approved")
    waiting = approved.filter(handed_out_at__isnull=True)
    waiting.exclude(fulfilment="delivery").update(fulfilment_status="to_collect")
    waiting.filter(fulfilment="delivery", courier__isnull=False).update(fulfilment_status="delivering")
    waiting.filter(fulfilment="delivery", courier__isnull=True).update(fulfilment_status="to_deliver")
    done = approved.filter(handed_out_at__isnull=False)
    done.exclude(fulfilment="delivery").update(fulfilment_status="collected")
    delivered = done.filter(fulfilment="delivery")
    delivered.update(fulfilment_status="delivered")
    # A delivery order whose staff member came to the counter was handed out there: 已领取.
    content_type = ContentType.objects.filter(app_label="renewals", model="renewalorder").first()
    if content_type is None:
        return
    ids = [str(pk) for pk in delivered.values_list("pk", flat=True)]
    at_counter = set()
    for start in range(0, len(ids), 500):
        entries = LogEntry.objects.filter(
            content_type=content_type,
            action="renewals.order.handed_out",
            object_id__in=ids[start : start + 500],
        ).values_list("object_id", "data")
        at_counter |= {int(pk) for pk, data in entries if (data or {}).get("channel") == "counter"}
    if at_counter:
        Order.objects.filter(pk__in=at_counter).update(fulfilment_status="collected")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
        ("renewals", "0012_order_fulfilment_status"),
    ]

    operations = [
        migrations.RunPython(fill_fulfilment_status, migrations.RunPython.noop, elidable=True),
    ]
