"""The FULFILMENT axis (decision 0034): `RenewalOrder.fulfilment_status`. Filled from existing rows by
0012 (a separate migration: on PostgreSQL the index of this field is created at the end of its
migration, which must not hold pending trigger events from the data updates)."""

from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [
        ("renewals", "0011_order_id_photo_document"),
    ]

    operations = [
        migrations.AddField(
            model_name="renewalorder",
            name="fulfilment_status",
            field=models.CharField(
                blank=True,
                choices=[
                    ("to_collect", "待领取"),
                    ("to_deliver", "待送证"),
                    ("delivering", "配送中"),
                    ("delivered", "已送达"),
                    ("collected", "已领取"),
                ],
                db_index=True,
                default="",
                max_length=12,
                verbose_name="领取/送证状态",
            ),
        ),
    ]
