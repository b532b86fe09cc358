"""Staff ID photos (工作证 / 校园一卡通): accepted, cleaned, stored privately and served carefully.

- ``store_id_photo(upload) -> StoredPhoto``: JPEG or PNG judged by content (the name and the declared
  type are ignored) and by a full decode; at most 5 MB and 16 megapixels (sides up to 8000 px, so
  that a phone's 4032×3024 photo passes), both checked before the
  file is read in full or its pixels decoded; re-encoded as a plain JPEG (upright per EXIF, no
  EXIF/GPS/ICC/XMP/comments); written under ``PRIVATE_STORAGE_ROOT/id-photos/<32 hex>.jpg`` with
  mode 0600. Each refusal is a ``CampusPassError`` whose message tells the person what to do.
- ``open_id_photo(name) -> Path``, ``delete_id_photo(name) -> bool``.
- ``photo_response(name) -> FileResponse``: the bytes with safe headers. It does NOT check who is
  asking: the calling view must allow only the owner's verified session (``otp.granted_plate``
  matching the order's plate) or a back-office role, and must write the audit entry for a view of
  the photo (product.md §6, "every view of … ID photo").

Needs Pillow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import FileResponse
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from campuspass.core.errors import CampusPassError

__all__ = [
    "MAX_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "StoredPhoto",
    "delete_id_photo",
    "open_id_photo",
    "photo_response",
    "photo_root",
    "store_id_photo",
]

logger = logging.getLogger("campuspass.verification")

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 8000
MIN_SHORT_SIDE = 300  # smaller cannot show a work card's name, number and face legibly (issue 14)
MAX_PIXELS = 4000 * 4000  # the memory bound; phone cameras give 4032×3024, 4080×3072, 4096×3072
JPEG_QUALITY = 85
CHUNK = 64 * 1024
SUBDIR = "id-photos"

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

MSG_FORMAT = "请上传 JPG 或 PNG 格式的工作证照片。"
MSG_TOO_LARGE = "照片超过 5 MB。请用本页“拍照或从相册选择”重新选择，页面会自动缩小后上传。"
MSG_TOO_SMALL = (
    "照片太小（{width}×{height} 像素），看不清工作证上的字。请对准工作证重新拍照，短边至少 300 像素。"
)
MSG_DIMENSIONS = "照片像素过大（不能超过 1600 万像素），请缩小后重新上传。"
MSG_CORRUPT = "照片文件已损坏，请重新拍摄后上传。"
MSG_EMPTY = "请选择要上传的工作证照片。"
MSG_NOT_FOUND = "照片不存在或已被删除。"

_NAME_RE = re.compile(r"[0-9a-f]{32}\.jpg")


@dataclass(frozen=True)
class StoredPhoto:
    name: str  # "<32 hex>.jpg": what to keep on the order; never a path or a URL
    width: int
    height: int
    size: int  # bytes of the stored (re-encoded) file


def photo_root() -> Path:
    """The private photo folder; refuses to work if it would be reachable as static or media."""
    root = Path(settings.PRIVATE_STORAGE_ROOT).resolve() / SUBDIR
    for setting in ("STATIC_ROOT", "MEDIA_ROOT"):
        public = getattr(settings, setting, None)
        if public and (root == Path(public).resolve() or root.is_relative_to(Path(public).resolve())):
            raise ImproperlyConfigured(f"PRIVATE_STORAGE_ROOT must not be inside {setting}")
    return root


def _read_limited(upload) -> bytes:
    """At most MAX_BYTES + 1 bytes: a larger file is refused without reading the rest."""
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BYTES:
        raise CampusPassError(MSG_TOO_LARGE, code="photo_too_large")
    if hasattr(upload, "seek"):
        with contextlib.suppress(OSError, ValueError):  # not seekable: read from where it is
            upload.seek(0)
    buffer = bytearray()
    while len(buffer) <= MAX_BYTES:
        chunk = upload.read(min(CHUNK, MAX_BYTES + 1 - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    if len(buffer) > MAX_BYTES:
        raise CampusPassError(MSG_TOO_LARGE, code="photo_too_large")
    if not buffer:
        raise CampusPassError(MSG_EMPTY, code="photo_empty")
    return bytes(buffer)


def _sniff(data: bytes) -> str:
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data.startswith(PNG_MAGIC):
        return "PNG"
    raise CampusPassError(MSG_FORMAT, code="photo_format")


def _open_checked(data: bytes, kind: str) -> Image.Image:
    """Open (header only) and check format and dimensions before any pixel is decoded."""
    try:
        image = Image.open(BytesIO(data), formats=[kind])
    except Image.DecompressionBombError as exc:
        raise CampusPassError(MSG_DIMENSIONS, code="photo_dimensions") from exc
    except UnidentifiedImageError as exc:
        raise CampusPassError(MSG_FORMAT, code="photo_format") from exc
    except Exception as exc:  # any parser error in a header we do not trust
        raise CampusPassError(MSG_CORRUPT, code="photo_corrupt") from exc
    if image.format != kind:
        raise CampusPassError(MSG_FORMAT, code="photo_format")
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise CampusPassError(MSG_DIMENSIONS, code="photo_dimensions")
    if width < 1 or height < 1:
        raise CampusPassError(MSG_CORRUPT, code="photo_corrupt")
    if min(width, height) < MIN_SHORT_SIDE:
        raise CampusPassError(MSG_TOO_SMALL.format(width=width, height=height), code="photo_too_small")
    return image


def _flatten_rgb(image: Image.Image) -> Image.Image:
    """RGB; transparency goes onto white (a transparent PNG would otherwise turn black)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: scale to 8 bit before RGB (convert() would clip to white).
        image = image.point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


def _clean_jpeg(data: bytes, kind: str) -> tuple[bytes, int, int]:
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow to accept truncated files process-wide; we must not.
        raise ImproperlyConfigured("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    image = _open_checked(data, kind)
    try:
        image.verify()  # structure and checksums (PNG CRCs); the object is unusable afterwards
    except Exception as exc:
        raise CampusPassError(MSG_CORRUPT, code="photo_corrupt") from exc
    image = _open_checked(data, kind)
    try:
        image.load()  # a full decode: a truncated file fails here
        upright = ImageOps.exif_transpose(image)
        rgb = _flatten_rgb(upright)
    except CampusPassError:
        raise
    except Exception as exc:
        raise CampusPassError(MSG_CORRUPT, code="photo_corrupt") from exc
    # A fresh image carries no info at all: Pillow would otherwise copy e.g. the comment.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    out = BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), clean.width, clean.height


def _write_private(root: Path, name: str, content: bytes) -> None:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = root / name
    temp = root / f".{name}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def store_id_photo(upload) -> StoredPhoto:
    """Check, clean and store an uploaded ID photo; raises CampusPassError (photo_*) with the reason."""
    data = _read_limited(upload)
    kind = _sniff(data)
    content, width, height = _clean_jpeg(data, kind)
    root = photo_root()
    name = f"{secrets.token_hex(16)}.jpg"
    _write_private(root, name, content)
    logger.info("verification: id photo stored %sx%s %s bytes", width, height, len(content))
    return StoredPhoto(name=name, width=width, height=height, size=len(content))


def _path_for(name: object) -> Path:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise CampusPassError(MSG_NOT_FOUND, code="photo_name_invalid")
    return photo_root() / name


def open_id_photo(name: str) -> Path:
    """The file of a stored photo; only names made by ``store_id_photo`` are accepted."""
    path = _path_for(name)
    if not path.is_file() or path.is_symlink():
        raise CampusPassError(MSG_NOT_FOUND, code="photo_not_found")
    return path


def delete_id_photo(name: str) -> bool:
    """Remove a stored photo (retention, or a replaced upload); True if a file was removed."""
    path = _path_for(name)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def photo_response(name: str) -> FileResponse:
    """The photo as an inline JPEG that browsers neither sniff nor cache.

    Access control and the audit entry are the calling view's job (see the module docstring).
    """
    path = open_id_photo(name)
    response = FileResponse(path.open("rb"), content_type="image/jpeg")
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
