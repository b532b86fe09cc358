"""The ID photo as a private document: the one door for every use of an uploaded photo.

Rows are ``IdPhoto``; files are in the private store ``STORAGES["id_photos"]``
(``verification.storage``). Nothing else creates, opens, shows or deletes them (decision 0031):

- ``upload(file, plate=, staff_no=)`` checks and cleans the upload (``photos.clean_id_photo``),
  stores it and records who it belongs to: the plate the session's SMS code unlocked. An upload no
  order uses is kept a day (``retain_until``).
- ``replace(previous_key, file, …)`` uploads a new photo for the renewal being prepared and deletes
  the previous one if no order uses it; ``discard(key)`` deletes such a pending photo now.
- ``owned(key, plate=)``: the photo with that key if it belongs to that plate (else None).
- ``attach(photo_or_key, plate=)`` reserves a photo for an order of that plate: only the owner's
  photo, never deleted, never one another order uses. The renewal service sets the order's link in
  the same transaction; ``retain(photo, until=)`` dates its deletion once the order is decided or
  closed; ``release(photo)`` deletes a photo an order no longer uses (replaced on re-submit).
- ``view(photo, viewer=, plate=, where=)`` checks that the viewer may see it (the owner's verified
  plate, or a back-office role with the "photo" screen), writes the audit entry
  ``verification.photo.viewed`` — one shape for every viewer — and returns the response: the bytes,
  or with ``ID_PHOTO_X_ACCEL_PREFIX`` set an empty answer with ``X-Accel-Redirect`` for nginx.
- ``expire_due(now=)`` (the daily job): deletes every photo whose ``retain_until`` has passed,
  found by its row, never by file times.
- ``backup_listing()``: the photos a backup must bring back, read through the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, HttpResponse
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError
from campuspass.core.roles import can, roles_of

from .models import IdPhoto
from .photos import clean_id_photo
from .storage import photo_store

logger = logging.getLogger("campuspass.verification")

# A photo uploaded for a renewal that was never submitted belongs to no order: it is kept this long
# (the staff member may come back to the confirm page), then deleted.
ORPHAN_AGE = dt.timedelta(days=1)
OWNER = "职工本人"

MSG_NOT_FOUND = "照片不存在或已按规定删除，请重新上传工作证照片。"
MSG_IN_USE = "这张照片已用于另一个订单，请重新上传工作证照片。"

_KEY_RE = re.compile(r"[0-9a-f]{32}")


def _now() -> dt.datetime:
    return timezone.now()


# --- upload ----------------------------------------------------------------------------------------


def upload(file, *, plate: str, staff_no: str = "") -> IdPhoto:
    """Check, clean and store an uploaded photo for the staff member who verified `plate`.
    Raises CampusPassError (``photo_*``) with what to do."""
    if not plate:
        raise CampusPassError("请先输入车牌号并完成短信验证，再上传照片。", code="photo_owner")
    clean = clean_id_photo(file)
    key = secrets.token_hex(16)
    store = photo_store()
    name = store.save(f"{key}.jpg", ContentFile(clean.content))
    now = _now()
    try:
        if name != f"{key}.jpg":
            raise RuntimeError("the photo store renamed a new photo")
        photo = IdPhoto.objects.create(
            key=key,
            plate=plate,
            staff_no=staff_no,
            uploaded_at=now,
            width=clean.width,
            height=clean.height,
            size=clean.size,
            retain_until=now + ORPHAN_AGE,
        )
    except BaseException:
        store.delete(name)  # no file without its row: rows are how photos are found and deleted
        raise
    logger.info(
        "verification: id photo %s stored %sx%s %s bytes", photo.pk, clean.width, clean.height, clean.size
    )
    return photo


def _lookup(photo_or_key: IdPhoto | str | None, *, lock: bool = False) -> IdPhoto | None:
    if isinstance(photo_or_key, IdPhoto):
        key = photo_or_key.key
    elif isinstance(photo_or_key, str) and _KEY_RE.fullmatch(photo_or_key):
        key = photo_or_key
    else:
        return None
    rows = IdPhoto.objects.select_for_update() if lock else IdPhoto.objects
    return rows.filter(key=key).first()


def owned(key: IdPhoto | str | None, *, plate: str | None) -> IdPhoto | None:
    """The live photo with this key if it was uploaded under `plate`; otherwise None."""
    photo = _lookup(key)
    if photo is None or photo.deleted or not plate or photo.plate != plate:
        return None
    return photo


def discard(key: IdPhoto | str | None) -> bool:
    """Delete a pending photo (a renewal being prepared) at once, unless an order uses it."""
    if not key:
        return False  # nothing pending: no transaction opened for it
    with transaction.atomic():
        photo = _lookup(key, lock=True)
        if photo is None or photo.deleted or photo.attached_at is not None:
            return False
        _mark_deleted(photo, now=_now())
    return True


def replace(previous: IdPhoto | str | None, file, *, plate: str, staff_no: str = "") -> IdPhoto:
    """A new photo for the renewal being prepared; the previous pending one (if any, and unused)
    is deleted."""
    photo = upload(file, plate=plate, staff_no=staff_no)
    if previous:
        discard(previous)
    return photo


# --- the order's photo ------------------------------------------------------------------------------


def attach(photo_or_key: IdPhoto | str | None, *, plate: str) -> IdPhoto:
    """Reserve the photo for an order of `plate` (call inside the transaction that links it).
    Only a live photo uploaded under that plate and used by no other order; it is then kept while
    the order is open. Raises CampusPassError (``photo_required`` / ``photo_not_found`` /
    ``photo_in_use``)."""
    if not photo_or_key:
        raise CampusPassError("请先上传工作证（校园一卡通）照片，再提交订单。", code="photo_required")
    photo = _lookup(photo_or_key, lock=True)
    # Another plate's photo answers like a missing one: keys cannot be probed.
    if photo is None or photo.deleted or photo.plate != plate:
        raise CampusPassError(MSG_NOT_FOUND, code="photo_not_found")
    if photo.attached_at is not None:
        raise CampusPassError(MSG_IN_USE, code="photo_in_use")
    photo.attached_at = _now()
    photo.retain_until = None
    photo.save(update_fields=["attached_at", "retain_until"])
    return photo


def retain(photo: IdPhoto | None, *, until: dt.datetime) -> None:
    """The order the photo serves was decided or closed: delete the photo after `until`."""
    if photo is None or photo.deleted:
        return
    IdPhoto.objects.filter(pk=photo.pk, deleted_at__isnull=True).update(retain_until=until)
    photo.retain_until = until


def release(photo: IdPhoto | None) -> None:
    """An order stopped using this photo (another one replaced it): delete it now."""
    if photo is None or photo.deleted:
        return
    with transaction.atomic():
        locked = _lookup(photo, lock=True)
        if locked is not None and not locked.deleted:
            _mark_deleted(locked, now=_now())
            photo.deleted_at = locked.deleted_at


# --- viewing ----------------------------------------------------------------------------------------


def _order_of(photo: IdPhoto):
    """The order the photo serves, if any (``RenewalOrder.id_photo``: the renewals app owns the
    link, so the model is reached through the relation, never imported)."""
    orders = IdPhoto.order.related.related_model._default_manager
    return orders.filter(id_photo=photo).first()


def _safe_headers(response: HttpResponse) -> HttpResponse:
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def view(photo: IdPhoto | None, *, viewer: Any = None, plate: str | None = None, where: str) -> HttpResponse:
    """The photo for one viewer, audited. `viewer` is the back-office user (needs the "photo"
    screen), or None for the staff member whose session verified `plate` (the photo's owner).
    Raises CampusPassError ``photo_not_found`` (answer 404) or PermissionDenied."""
    if photo is None or photo.deleted:
        raise CampusPassError(MSG_NOT_FOUND, code="photo_not_found")
    if viewer is None:
        if not plate or plate != photo.plate:
            raise CampusPassError(MSG_NOT_FOUND, code="photo_not_found")
        who = OWNER
    else:
        if not getattr(viewer, "is_authenticated", False) or not can(viewer, "photo"):
            raise PermissionDenied("您的角色不能查看证件照片。")
        who = "、".join(sorted(roles_of(viewer))) or "后台用户"
    store = photo_store()
    if not store.exists(photo.name):
        logger.warning("verification: id photo %s has no file in the store", photo.pk)
        raise CampusPassError(MSG_NOT_FOUND, code="photo_not_found")
    order = _order_of(photo)
    log_action(
        actor=viewer,
        action="verification.photo.viewed",
        obj=order if order is not None else photo,
        data={"viewer": who, "where": where, "photo": photo.pk},
        plate=photo.plate,
        staff_no=photo.staff_no,
    )
    prefix = settings.ID_PHOTO_X_ACCEL_PREFIX
    if prefix:
        # nginx sends the file from its `internal` location (deploy/nginx/campuspass.conf); the
        # access check and the audit entry above are done all the same.
        response = HttpResponse(b"", content_type="image/jpeg")
        response["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{photo.name}"
    else:
        response = FileResponse(store.open(photo.name), content_type="image/jpeg")
    return _safe_headers(response)


# --- expiry -----------------------------------------------------------------------------------------


def _mark_deleted(photo: IdPhoto, *, now: dt.datetime) -> None:
    """Inside the caller's transaction: the row says deleted; the file goes after the commit."""
    photo.deleted_at = now
    photo.save(update_fields=["deleted_at"])
    name = photo.name

    def _remove_file() -> None:
        try:
            photo_store().delete(name)
        except OSError:
            logger.exception("verification: could not remove the file of id photo %s", photo.pk)

    transaction.on_commit(_remove_file)


def expire_due(*, now: dt.datetime | None = None) -> int:
    """Scheduled daily: delete every photo whose retention date has passed (orders decided or closed
    longer ago than their campaign keeps photos; uploads no order used after a day). Photos that
    served an order are audited (``verification.photo.deleted``). Returns how many were deleted."""
    now = now or _now()
    due = list(
        IdPhoto.objects.filter(deleted_at__isnull=True, retain_until__lte=now)
        .order_by("retain_until", "pk")
        .values_list("pk", flat=True)
    )
    deleted = 0
    for pk in due:
        with transaction.atomic():
            photo = IdPhoto.objects.select_for_update().filter(pk=pk).first()
            if photo is None or photo.deleted or photo.retain_until is None or photo.retain_until > now:
                continue
            _mark_deleted(photo, now=now)
            order = _order_of(photo)
            if order is not None:
                log_action(
                    actor=None,
                    action="verification.photo.deleted",
                    obj=order,
                    reason=f"保留期限已到（保留至 {timezone.localtime(photo.retain_until):%Y-%m-%d}）",
                    data={"photo": photo.pk},
                    plate=photo.plate,
                    staff_no=photo.staff_no,
                )
            deleted += 1
    return deleted


# --- backups ----------------------------------------------------------------------------------------

BACKUP_PREFIX = "id-photos/"


def backup_listing() -> dict[str, dict]:
    """Every live photo as the backup manifest lists files: ``{"id-photos/<key>.jpg": {size,
    sha256}}``, read through the store (a photo whose file is missing is listed without a hash)."""
    store = photo_store()
    files: dict[str, dict] = {}
    for key in IdPhoto.objects.filter(deleted_at__isnull=True).order_by("key").values_list("key", flat=True):
        name = f"{key}.jpg"
        digest = hashlib.sha256()
        size = 0
        try:
            with store.open(name) as handle:
                for chunk in handle.chunks():
                    digest.update(chunk)
                    size += len(chunk)
        except OSError:
            files[BACKUP_PREFIX + name] = {"size": None, "sha256": None}
            continue
        files[BACKUP_PREFIX + name] = {"size": size, "sha256": digest.hexdigest()}
    return files
