from django.db import migrations

DEFAULT_REASONS = [
    "工作证（校园一卡通）照片不清晰，请重新上传",
    "照片与登记的车主信息不符",
    "人员状态已变更，需到现场办理",
    "车辆信息与登记不符，需到现场办理",
    "其他（见说明）",
]


def add_reasons(apps, schema_editor):
    RejectReason = apps.get_model("renewals", "RejectReason")
    for position, text in enumerate(DEFAULT_REASONS):
        RejectReason.objects.get_or_create(text=text, defaults={"position": position})


class Migration(migrations.Migration):
    dependencies = [("renewals", "0003_backoffice_fields")]
    operations = [migrations.RunPython(add_reasons, migrations.RunPython.noop)]
