"""ID photos for tests: a row bound to a plate with a small file put straight into the store
(``photo_for``: quick, enough to submit an order) or a real upload through the photo service
(``stored_photo_for``, when a test looks at the cleaning or the file)."""

from __future__ import annotations

import datetime as dt
import secrets
from io import BytesIO
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from campuspass.verification import documents
from campuspass.verification.models import IdPhoto
from campuspass.verification.storage import photo_store


def jpeg_bytes(size=(400, 300), color="white") -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def jpeg_upload(size=(400, 300), color="white", name="card.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(size, color), content_type="image/jpeg")


_TINY = None


def photo_for(plate: str, *, staff_no: str = "") -> IdPhoto:
    """An uploaded photo of `plate`: its row, and a small JPEG written into the store directly."""
    global _TINY
    if _TINY is None:
        _TINY = jpeg_bytes()
    key = secrets.token_hex(16)
    path = Path(photo_store().path(f"{key}.jpg"))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_bytes(_TINY)
    return IdPhoto.objects.create(
        key=key,
        plate=plate,
        staff_no=staff_no,
        width=400,
        height=300,
        size=len(_TINY),
        retain_until=timezone.now() + dt.timedelta(days=1),
    )


def stored_photo_for(plate: str, *, staff_no: str = "", **jpeg) -> IdPhoto:
    """A real upload of `plate` through the photo service (file in the private store)."""
    return documents.upload(jpeg_upload(**jpeg), plate=plate, staff_no=staff_no)
