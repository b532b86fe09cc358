"""ID photo upload rules: a corpus of hostile files, built here (no binary fixtures), through the
photo service's upload (``documents.upload``) into the private store."""

import os
import stat
import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageFile

from campuspass.core.errors import CampusPassError
from campuspass.verification import documents, photos
from campuspass.verification.photos import MAX_BYTES
from campuspass.verification.storage import photo_store

NAME_CHARS = set("0123456789abcdef")
PLATE = "京A12345"
pytestmark = pytest.mark.django_db


def store_id_photo(file):
    return documents.upload(file, plate=PLATE)


def open_id_photo(name) -> Path:
    return Path(photo_store().path(name))


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    settings.STATIC_ROOT = tmp_path / "static"
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "private"


def jpeg(size=(400, 300), color=(200, 30, 30), **save):
    out = BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", **save)
    return out.getvalue()


def noisy_jpeg(size=(320, 320)):
    out = BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def png(size=(400, 300), mode="RGB", color=(30, 200, 30), **save):
    out = BytesIO()
    Image.new(mode, size, color).save(out, "PNG", **save)
    return out.getvalue()


def upload(content, name="photo.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def refused(content, name="photo.jpg", content_type="image/jpeg"):
    with pytest.raises(CampusPassError) as info:
        store_id_photo(upload(content, name, content_type))
    return info.value


def stored_files(root):
    folder = root / "id-photos"
    return [p for p in folder.iterdir()] if folder.exists() else []


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def handmade_png(width, height, idat=b""):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        photos.PNG_MAGIC
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(idat or b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


# --- accepted files --------------------------------------------------------------------------------


def test_jpeg_is_stored_under_a_random_name_as_jpeg(private_root):
    photo = store_id_photo(upload(jpeg()))
    assert photo.name.endswith(".jpg") and len(photo.name) == 36
    assert set(photo.name[:-4]) <= NAME_CHARS
    assert (photo.width, photo.height) == (400, 300)
    path = open_id_photo(photo.name)
    assert path.parent == (private_root / "id-photos").resolve()
    assert path.stat().st_size == photo.size
    with Image.open(path) as stored:
        assert stored.format == "JPEG"


def test_png_is_accepted_and_re_encoded_as_jpeg():
    photo = store_id_photo(upload(png(), name="card.png", content_type="image/png"))
    with Image.open(open_id_photo(photo.name)) as stored:
        assert stored.format == "JPEG" and stored.mode == "RGB"


def test_transparent_png_is_flattened_onto_white():
    photo = store_id_photo(upload(png(mode="RGBA", color=(0, 0, 0, 0)), name="a.png"))
    with Image.open(open_id_photo(photo.name)) as stored:
        assert min(stored.getpixel((10, 10))) > 245


def test_two_uploads_of_the_same_file_get_different_names():
    assert store_id_photo(upload(jpeg())).name != store_id_photo(upload(jpeg())).name


def test_stored_file_is_private_0600_and_outside_static_and_media(private_root, settings):
    photo = store_id_photo(upload(jpeg()))
    path = open_id_photo(photo.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    for public in (settings.STATIC_ROOT, settings.MEDIA_ROOT):
        assert not path.resolve().is_relative_to(Path(public).resolve())
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_private_root_inside_static_root_is_refused(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    with pytest.raises(ImproperlyConfigured):
        store_id_photo(upload(jpeg()))


# --- judged by content, not by name or declared type -----------------------------------------------


def test_gif_php_polyglot_is_refused(private_root):
    polyglot = (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04<?php system($_GET['c']); ?>;"
    )
    error = refused(polyglot, name="avatar.jpg", content_type="image/jpeg")
    assert error.message == "请上传 JPG 或 PNG 格式的工作证照片。"
    assert stored_files(private_root) == []


def test_real_gif_is_refused():
    out = BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    assert refused(out.getvalue(), name="x.gif").code == "photo_format"


def test_svg_with_script_is_refused():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
    assert refused(svg, name="card.png", content_type="image/png").code == "photo_format"


def test_valid_jpeg_named_jpg_php_is_stored_as_random_jpg():
    photo = store_id_photo(upload(jpeg(), name="x.jpg.php", content_type="application/x-php"))
    assert "php" not in photo.name and photo.name.endswith(".jpg")


def test_php_file_named_jpg_is_refused():
    assert refused(b"<?php echo 'pwned'; ?>", name="x.jpg").code == "photo_format"


def test_jpeg_magic_followed_by_php_is_refused(private_root):
    error = refused(b"\xff\xd8\xff\xe0<?php system($_GET['c']); ?>")
    assert error.code in {"photo_format", "photo_corrupt"}
    assert stored_files(private_root) == []


def test_php_appended_to_a_real_jpeg_does_not_survive_re_encoding():
    photo = store_id_photo(upload(jpeg() + b"<?php system($_GET['c']); ?>"))
    assert b"<?php" not in open_id_photo(photo.name).read_bytes()


def test_php_in_a_png_text_chunk_does_not_survive_re_encoding():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "<?php system($_GET['c']); ?>")
    photo = store_id_photo(upload(png(pnginfo=info), name="x.png"))
    assert b"<?php" not in open_id_photo(photo.name).read_bytes()


def test_empty_file_is_refused():
    assert refused(b"").code == "photo_empty"


# --- size and dimensions ---------------------------------------------------------------------------


class GuardedFile:
    """A file-like that fails the test if anyone reads past ``limit`` bytes."""

    def __init__(self, total, limit, size=None):
        self.total, self.limit, self.size, self.pos = total, limit, size, 0
        self.name = "big.jpg"

    def seek(self, pos):
        self.pos = pos

    def read(self, n=-1):
        if n is None or n < 0:
            raise AssertionError("read everything")
        n = min(n, self.total - self.pos)
        if self.pos + n > self.limit:
            raise AssertionError(f"read past {self.limit} bytes")
        data = (photos.JPEG_MAGIC + b"\x00" * n)[:n] if self.pos == 0 else b"\x00" * n
        self.pos += n
        return data


def test_declared_size_over_5_mb_is_refused_before_reading():
    error = None
    with pytest.raises(CampusPassError) as info:
        store_id_photo(GuardedFile(total=50 * 1024 * 1024, limit=0, size=50 * 1024 * 1024))
    error = info.value
    assert error.message.startswith("照片超过 5 MB")


def test_over_5_mb_with_unknown_size_is_refused_without_reading_it_all():
    guarded = GuardedFile(total=50 * 1024 * 1024, limit=MAX_BYTES + 1, size=None)
    with pytest.raises(CampusPassError) as info:
        store_id_photo(guarded)
    assert info.value.code == "photo_too_large"
    assert guarded.pos == MAX_BYTES + 1


def test_lying_small_size_does_not_get_past_the_byte_count():
    guarded = GuardedFile(total=50 * 1024 * 1024, limit=MAX_BYTES + 1, size=1000)
    with pytest.raises(CampusPassError) as info:
        store_id_photo(guarded)
    assert info.value.code == "photo_too_large"


def test_exactly_5_mb_is_within_the_limit():
    data = jpeg()
    padded = data + b"\x00" * (MAX_BYTES - len(data))
    assert len(padded) == MAX_BYTES
    photo = store_id_photo(upload(padded))
    assert photo.width == 400


@pytest.mark.parametrize("size", [(4001, 4000), (8001, 10)])
def test_image_over_16_megapixels_or_8000_px_is_refused_before_decoding(monkeypatch, size):
    big = png(size=size, mode="L", color=0)

    def no_decode(self):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    error = refused(big, name="big.png")
    assert error.message == "照片像素过大（不能超过 1600 万像素），请缩小后重新上传。"


def test_4000_by_4000_is_allowed_and_kept_at_1600():
    photo = store_id_photo(upload(png(size=(4000, 4000), mode="L", color=128), name="max.png"))
    assert (photo.width, photo.height) == (1600, 1600)


@pytest.mark.parametrize(
    "size,kept", [((4032, 3024), (1600, 1200)), ((3024, 4032), (1200, 1600)), ((4080, 3072), (1600, 1205))]
)
def test_a_phone_cameras_12_megapixel_photo_is_allowed_and_kept_at_1600(size, kept):
    photo = store_id_photo(upload(jpeg(size=size, color=(40, 110, 190))))
    assert (photo.width, photo.height) == kept
    with Image.open(open_id_photo(photo.name)) as stored:
        assert stored.size == kept


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(monkeypatch):
    """Issue 13: a 3000×2000 JPEG was decoded in full (6 Mpx) to be stored; draft mode decodes it at
    1/2 scale (the DCT does the shrinking) and nothing else resizes it."""
    from PIL import JpegImagePlugin

    drafted = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def spy_draft(self, mode, size):
        result = original_draft(self, mode, size)
        drafted.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy_draft, raising=False)
    monkeypatch.setattr(Image.Image, "resize", lambda *a, **k: pytest.fail("resized after the decode"))
    photo = store_id_photo(upload(jpeg(size=(3000, 2000), color=(40, 110, 190))))
    assert drafted == [(1500, 1000)]
    assert (photo.width, photo.height) == (1500, 1000)


def test_a_small_photo_keeps_its_size():
    photo = store_id_photo(upload(jpeg(size=(1600, 900))))
    assert (photo.width, photo.height) == (1600, 900)


def test_decompression_bomb_is_refused_without_decoding(monkeypatch):
    bomb = handmade_png(50000, 50000)
    assert len(bomb) < 200  # tiny file, 2.5 gigapixels claimed

    def no_decode(self):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    assert refused(bomb, name="bomb.png").code == "photo_dimensions"


def test_moderate_bomb_below_pillows_own_limit_is_refused_by_ours():
    bomb = handmade_png(9000, 9000)  # 81 Mpx: under Pillow's default warning threshold
    assert refused(bomb, name="bomb.png").code == "photo_dimensions"


# --- broken files ----------------------------------------------------------------------------------


def test_truncated_jpeg_is_refused(private_root):
    data = noisy_jpeg()
    error = refused(data[: len(data) // 2])
    assert error.message == "照片文件已损坏，请重新拍摄后上传。"
    assert stored_files(private_root) == []


def test_truncated_png_is_refused():
    out = BytesIO()
    Image.frombytes("RGB", (320, 320), os.urandom(320 * 320 * 3)).save(out, "PNG")
    data = out.getvalue()
    assert refused(data[: len(data) // 2], name="x.png").code == "photo_corrupt"


def test_png_with_bad_crc_is_refused():
    data = bytearray(png())
    data[30] ^= 0xFF  # inside IHDR/IDAT: the CRC no longer matches
    with pytest.raises(CampusPassError):
        store_id_photo(upload(bytes(data), name="x.png"))


def test_truncated_images_stay_refused_even_if_pillow_is_switched(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImproperlyConfigured):
        store_id_photo(upload(jpeg()))


# --- metadata and orientation ----------------------------------------------------------------------


def gps_jpeg():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Camera 12"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (39.0, 59.0, 2.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (116.0, 21.0, 7.0)
    return jpeg(exif=exif.tobytes(), comment=b"secret comment")


def test_gps_tagged_jpeg_is_stored_without_exif_or_gps():
    data = gps_jpeg()
    with Image.open(BytesIO(data)) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the corpus file really has GPS
    photo = store_id_photo(upload(data))
    stored_bytes = open_id_photo(photo.name).read_bytes()
    assert b"Exif" not in stored_bytes and b"\xff\xe1" not in stored_bytes
    assert b"PhoneMaker" not in stored_bytes and b"secret comment" not in stored_bytes
    with Image.open(BytesIO(stored_bytes)) as stored:
        assert len(stored.getexif()) == 0
        assert "exif" not in stored.info and "icc_profile" not in stored.info
        assert "comment" not in stored.info


def test_camera_photo_with_exif_orientation_6_comes_out_upright():
    # As the sensor stored it: landscape 4000×3000 with a red top-left corner. Orientation 6 means
    # "rotate 90° clockwise to display": upright it is portrait 3000×4000 with red at top-right.
    sensor = Image.new("RGB", (4000, 3000), (0, 0, 255))
    sensor.paste((255, 0, 0), (0, 0, 400, 300))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    out = BytesIO()
    sensor.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    photo = store_id_photo(upload(out.getvalue(), name="IMG_0001.JPG"))
    assert (photo.width, photo.height) == (1200, 1600)  # portrait, longer side kept at 1600
    with Image.open(open_id_photo(photo.name)) as stored:
        assert stored.size == (1200, 1600)
        assert stored.getexif().get(ExifTags.Base.Orientation) is None  # not rotated twice
        red_corner = stored.getpixel((1200 - 20, 20))
        other_corner = stored.getpixel((20, 20))
    assert red_corner[0] > 200 and red_corner[2] < 60
    assert other_corner[2] > 200 and other_corner[0] < 60


# --- the store: names, links, deletion, response --------------------------------------------------


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "../import-files/" + "a" * 32 + ".jpg"])
def test_the_store_refuses_names_outside_its_folder(name):
    from django.core.exceptions import SuspiciousFileOperation

    with pytest.raises(SuspiciousFileOperation):
        photo_store().open(name)


@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 32, "a" * 31, "a" * 32 + "/../x", "", None])
def test_keys_other_than_stored_ones_find_nothing(key):
    assert documents.owned(key, plate=PLATE) is None
    assert documents.discard(key) is False


def test_symlink_in_the_photo_folder_is_not_followed(private_root, tmp_path):
    store_id_photo(upload(jpeg()))  # creates the folder
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    link = private_root / "id-photos" / ("b" * 32 + ".jpg")
    link.symlink_to(secret)
    with pytest.raises(OSError):
        photo_store().open(link.name)


def test_the_store_has_no_url():
    with pytest.raises(NotImplementedError):
        photo_store().url("a" * 32 + ".jpg")


def test_discarding_a_pending_photo_removes_row_and_file(django_capture_on_commit_callbacks):
    photo = store_id_photo(upload(jpeg()))
    with django_capture_on_commit_callbacks(execute=True):
        assert documents.discard(photo.key) is True
    assert documents.discard(photo.key) is False
    photo.refresh_from_db()
    assert photo.deleted_at is not None
    assert not open_id_photo(photo.name).exists()


def test_photo_response_headers_and_body():
    photo = store_id_photo(upload(jpeg()))
    response = documents.view(photo, plate=PLATE, where="test")
    try:
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"] == "private, no-store"
        assert response["Content-Disposition"] == "inline"
        assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
        body = b"".join(response.streaming_content)
    finally:
        response.close()
    assert body == open_id_photo(photo.name).read_bytes()


def test_system_check_flags_private_storage_inside_media(settings, tmp_path):
    from campuspass.verification.checks import check_private_storage

    assert check_private_storage() == []
    settings.MEDIA_ROOT = tmp_path
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    assert [e.id for e in check_private_storage()] == ["verification.E001"]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "id_photos": {
            "BACKEND": "campuspass.verification.storage.PrivatePhotoStorage",
            "OPTIONS": {"location": str(tmp_path / "media" / "photos")},
        },
    }
    assert [e.id for e in check_private_storage()] == ["verification.E001"]


def test_a_picture_too_small_to_read_is_refused():
    """Issue 14: a 64×64 picture was accepted as an ID photo."""
    with pytest.raises(CampusPassError) as refused:
        store_id_photo(upload(jpeg(size=(64, 64))))
    assert refused.value.code == "photo_too_small" and "64×64" in refused.value.message
    assert store_id_photo(upload(jpeg(size=(480, 300)))).width == 480
