"""ID photos for tests: a row bound to a plate (``photo_for``, no file: enough to submit an order)
or a real upload through the photo service (``stored_photo_for``, when a test looks at the file)."""

from __future__ import annotations

import datetime as dt
import secrets
from io import BytesIO

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from campuspass.verification import documents
from campuspass.verification.models import IdPhoto


def jpeg_bytes(size=(400, 300), color="white") -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def jpeg_upload(size=(400, 300), color="white", name="card.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(size, color), content_type="image/jpeg")


def photo_for(plate: str, *, staff_no: str = "") -> IdPhoto:
    """An uploaded-photo row of `plate` without a file (orders that nobody looks at)."""
    return IdPhoto.objects.create(
        key=secrets.token_hex(16),
        plate=plate,
        staff_no=staff_no,
        width=400,
        height=300,
        size=1000,
        retain_until=timezone.now() + dt.timedelta(days=1),
    )


def stored_photo_for(plate: str, *, staff_no: str = "", **jpeg) -> IdPhoto:
    """A real upload of `plate` through the photo service (file in the private store)."""
    return documents.upload(jpeg_upload(**jpeg), plate=plate, staff_no=staff_no)
