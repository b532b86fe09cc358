"""The seeded reason "…照片不清晰，请重新上传" promised a re-upload the product does not offer (a
rejected order is refunded; the staff member renews again or at the desk). Reword it (issue 14)."""

from django.db import migrations

OLD = "工作证（校园一卡通）照片不清晰，请重新上传"
NEW = "工作证（校园一卡通）照片不清晰，无法核对"


def reword(apps, schema_editor):
    RejectReason = apps.get_model("renewals", "RejectReason")
    if not RejectReason.objects.filter(text=NEW).exists():
        RejectReason.objects.filter(text=OLD).update(text=NEW)


def back(apps, schema_editor):
    RejectReason = apps.get_model("renewals", "RejectReason")
    if not RejectReason.objects.filter(text=OLD).exists():
        RejectReason.objects.filter(text=NEW).update(text=OLD)


class Migration(migrations.Migration):
    dependencies = [("renewals", "0009_campaign_print_cutoff")]
    operations = [migrations.RunPython(reword, back)]
