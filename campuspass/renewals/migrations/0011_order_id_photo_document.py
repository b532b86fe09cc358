"""The ID photo becomes a document (verification.IdPhoto, issue #11 item 4, decision 0031).

Every order's bare file name becomes an IdPhoto row linked to the order: the key is the file's name
(so the file stays where it is), the owner is the order's plate and staff member, the retention date
is the decision (or closing) + the campaign's retention days, the deletion time is kept. Files in the
store that no order names (uploads never submitted) get an orphan row dated a day after the file's
time, so the daily job — which now finds photos by rows only — deletes them too."""

import datetime as dt
import re
import secrets
from pathlib import Path

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

NAME = re.compile(r"([0-9a-f]{32})\.jpg")
ORPHAN_AGE = dt.timedelta(days=1)


def _folder() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT) / "id-photos"


def _measure(path: Path) -> tuple[int, int, int]:
    try:
        size = path.stat().st_size
    except OSError:
        return 0, 0, 0
    try:
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
    except Exception:
        width = height = 0
    return width, height, size


def forward(apps, schema_editor):
    Order = apps.get_model("renewals", "RenewalOrder")
    IdPhoto = apps.get_model("verification", "IdPhoto")
    folder = _folder()
    now = timezone.now()
    named = set()
    orders = Order.objects.exclude(id_photo="").select_related("campaign", "staff").order_by("pk")
    for order in orders.iterator(chunk_size=500):
        match = NAME.fullmatch(order.id_photo)
        key = match.group(1) if match else None
        if key is None or key in named or IdPhoto.objects.filter(key=key).exists():
            # A name the old code could never open (or shared by two orders): no file to keep.
            key, deleted_at = secrets.token_hex(16), order.id_photo_deleted_at or now
        else:
            deleted_at = order.id_photo_deleted_at
            named.add(key)
        width, height, size = _measure(folder / f"{key}.jpg") if deleted_at is None else (0, 0, 0)
        ended = order.decided_at or order.closed_at
        retain_until = ended + dt.timedelta(days=order.campaign.photo_retention_days) if ended else None
        photo = IdPhoto.objects.create(
            key=key,
            plate=order.plate,
            staff_no=order.staff.staff_no,
            uploaded_at=order.created_at,
            width=width,
            height=height,
            size=size,
            attached_at=order.created_at,
            retain_until=retain_until,
            deleted_at=deleted_at,
        )
        Order.objects.filter(pk=order.pk).update(id_photo_doc=photo)
    if folder.is_dir():
        for path in sorted(folder.glob("*.jpg")):
            match = NAME.fullmatch(path.name)
            if not match or match.group(1) in named or path.is_symlink():
                continue
            if IdPhoto.objects.filter(key=match.group(1)).exists():
                continue
            uploaded = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
            width, height, size = _measure(path)
            IdPhoto.objects.create(
                key=match.group(1),
                plate="",  # the owner is not known: never attachable, deleted after a day
                uploaded_at=uploaded,
                width=width,
                height=height,
                size=size,
                retain_until=uploaded + ORPHAN_AGE,
            )


def backward(apps, schema_editor):
    """The names go back onto the orders and the rows go (the old code finds unused files by their
    time again)."""
    Order = apps.get_model("renewals", "RenewalOrder")
    IdPhoto = apps.get_model("verification", "IdPhoto")
    for order in Order.objects.exclude(id_photo_doc=None).select_related("id_photo_doc").iterator():
        Order.objects.filter(pk=order.pk).update(
            id_photo=f"{order.id_photo_doc.key}.jpg",
            id_photo_deleted_at=order.id_photo_doc.deleted_at,
            id_photo_doc=None,
        )
    IdPhoto.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("renewals", "0010_reject_reason_without_reupload"),
        ("verification", "0002_id_photo"),
    ]

    operations = [
        migrations.AddField(
            model_name="renewalorder",
            name="id_photo_doc",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=models.PROTECT,
                related_name="order",
                to="verification.idphoto",
                verbose_name="证件照片",
            ),
        ),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="renewalorder", name="id_photo"),
        migrations.RemoveField(model_name="renewalorder", name="id_photo_deleted_at"),
        migrations.RenameField(model_name="renewalorder", old_name="id_photo_doc", new_name="id_photo"),
    ]
