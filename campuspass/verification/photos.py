"""Staff ID photos (工作证 / 校园一卡通): the checks and the cleaning of an upload, nothing else.

``clean_id_photo(upload) -> CleanPhoto``: JPEG or PNG judged by content (the name and the declared
type are ignored) and by a full decode; at most 5 MB and 16 megapixels (sides up to 8000 px, so that
a phone's 4032×3024 photo passes), both checked before the file is read in full or its pixels
decoded; a short side of at least 300 px; re-encoded as a plain JPEG (upright per EXIF, no
EXIF/GPS/ICC/XMP/comments) whose longer side is at most ``KEPT_SIDE`` px — the size the staff page
already shrinks to on the phone. A JPEG is decoded at (about) that size with Pillow's draft mode
(DCT scaling), so a large camera photo is never decoded in full. Each refusal is a
``CampusPassError`` whose message tells the person what to do.

Storing, showing, attaching and deleting a photo is the photo service's job
(``campuspass.verification.documents``); nothing else opens the files.

Needs Pillow.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from io import BytesIO

from django.core.exceptions import ImproperlyConfigured
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from campuspass.core.errors import CampusPassError

__all__ = [
    "KEPT_SIDE",
    "MAX_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "CleanPhoto",
    "clean_id_photo",
]

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 8000
MIN_SHORT_SIDE = 300  # smaller cannot show a work card's name, number and face legibly (issue 14)
MAX_PIXELS = 4000 * 4000  # the memory bound; phone cameras give 4032×3024, 4080×3072, 4096×3072
KEPT_SIDE = 1600  # the longer side of a stored photo (the staff page's canvas shrinks to the same)
MIN_KEPT_SIDE = 1200  # draft mode may stop below KEPT_SIDE, never below this (3000 px → 1500 px)
JPEG_QUALITY = 85
CHUNK = 64 * 1024

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


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes  # the re-encoded JPEG
    width: int
    height: int

    @property
    def size(self) -> int:
        return len(self.content)


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


def _kept_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) with the longer side at most KEPT_SIDE, the proportions kept."""
    longer = max(width, height)
    if longer <= KEPT_SIDE:
        return width, height
    return max(1, round(width * KEPT_SIDE / longer)), max(1, round(height * KEPT_SIDE / longer))


def _flatten_rgb(image: Image.Image) -> Image.Image:
    """RGB; transparency goes onto white (a transparent PNG would otherwise turn black)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: scale to 8 bit before RGB (convert() would clip to white).
        image = image.point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


def _decode(data: bytes, kind: str) -> Image.Image:
    """The pixels, upright and RGB, at most KEPT_SIDE on the longer side; a truncated or corrupt
    file raises. A larger JPEG is decoded by DCT scaling (draft mode: 1/2, 1/4 or 1/8) at the
    greatest reduction that leaves the longer side at least MIN_KEPT_SIDE, then resized the rest of
    the way down to KEPT_SIDE if it is still larger (3000×2000 → 1500×1000, 4032×3024 → 2016×1512
    → 1600×1200); other images are resized."""
    if kind == "PNG":
        image = _open_checked(data, kind)
        try:
            image.verify()  # structure and CRCs; the object is unusable afterwards
        except Exception as exc:
            raise CampusPassError(MSG_CORRUPT, code="photo_corrupt") from exc
    image = _open_checked(data, kind)
    try:
        # Where the photo's top is, read from the header before decoding (exif_transpose would do
        # it after the decode, on a full-size copy).
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        longer = max(image.size)
        if kind == "JPEG" and longer > KEPT_SIDE and image.mode in ("RGB", "L"):
            scale = 1
            while scale < 8 and longer // (scale * 2) >= MIN_KEPT_SIDE:
                scale *= 2
            if scale > 1:
                image.draft(image.mode, (image.width // scale, image.height // scale))
        image.load()  # a full decode (at the drafted scale): a truncated file fails here
        if max(image.size) > KEPT_SIDE:
            image = image.resize(_kept_size(*image.size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        image = _flatten_rgb(image)
        transpose = {
            2: Image.Transpose.FLIP_LEFT_RIGHT,
            3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        }.get(orientation)
        if transpose is not None:
            image = image.transpose(transpose)
    except CampusPassError:
        raise
    except Exception as exc:
        raise CampusPassError(MSG_CORRUPT, code="photo_corrupt") from exc
    return image


def clean_id_photo(upload) -> CleanPhoto:
    """Check and clean an uploaded ID photo (a file object or bytes); raises CampusPassError
    (code ``photo_*``) with the reason for the person."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow to accept truncated files process-wide; we must not.
        raise ImproperlyConfigured("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    data = bytes(upload) if isinstance(upload, bytes | bytearray) else _read_limited(upload)
    if len(data) > MAX_BYTES:
        raise CampusPassError(MSG_TOO_LARGE, code="photo_too_large")
    if not data:
        raise CampusPassError(MSG_EMPTY, code="photo_empty")
    kind = _sniff(data)
    image = _decode(data, kind)
    # Nothing of the upload's metadata is written: the JPEG encoder writes EXIF and ICC only when
    # asked to, and the comment only from ``info`` — which is emptied here.
    image.info = {}
    out = BytesIO()
    # optimize=True (a second Huffman pass) saves ~9 % of ~330 KB and doubles the encoding time
    # (bench/photo_upload.py): not worth it for a file this small.
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return CleanPhoto(content=out.getvalue(), width=image.width, height=image.height)
