"""ID-photo retention: a photo is kept only as long as the campaign says after the decision — or,
for an order that never reached a decision (closed unpaid), after it was closed."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campuspass.core.audit import log_action

from ..models import RenewalOrder


def purge_id_photos(*, now: dt.datetime | None = None) -> int:
    """Scheduled daily: delete the ID photos of orders decided longer ago than their campaign's
    retention period. Returns how many were deleted."""
    from campuspass.verification.photos import delete_id_photo

    now = now or timezone.now()
    # A closed order is never decided: without the closed_at branch its photo would be kept forever.
    due = (
        RenewalOrder.objects.filter(Q(decided_at__isnull=False) | Q(closed_at__isnull=False))
        .filter(id_photo_deleted_at__isnull=True)
        .exclude(id_photo="")
    )
    deleted = 0
    for order in due.select_related("campaign", "staff").iterator(chunk_size=200):
        ended = order.decided_at or order.closed_at
        if ended + dt.timedelta(days=order.campaign.photo_retention_days) > now:
            continue
        with transaction.atomic():
            locked = RenewalOrder.objects.select_for_update().get(pk=order.pk)
            if locked.id_photo_deleted_at or not locked.id_photo:
                continue
            delete_id_photo(locked.id_photo)
            locked.id_photo_deleted_at = now
            locked.save(update_fields=["id_photo_deleted_at", "updated_at"])
            log_action(
                actor=None,
                action="renewals.order.photo_deleted",
                obj=locked,
                reason=(
                    f"{'审核后' if order.decided_at else '订单关闭后'}保留 "
                    f"{order.campaign.photo_retention_days} 天期满"
                ),
                plate=locked.plate,
                staff_no=order.staff.staff_no,
            )
            deleted += 1
    return deleted


# A photo uploaded for a renewal that was never submitted belongs to no order: it is kept this long
# (the staff member may come back to the confirm page), then deleted.
ORPHAN_PHOTO_AGE = dt.timedelta(days=1)


def purge_orphan_photos(*, now: dt.datetime | None = None) -> int:
    """Scheduled daily: delete uploaded ID photos that no order refers to and that are older than a
    day (renewals abandoned before "提交订单"). Returns how many were deleted."""
    from campuspass.verification.photos import delete_id_photo, photo_root

    now = now or timezone.now()
    root = photo_root()
    if not root.is_dir():
        return 0
    cutoff = (now - ORPHAN_PHOTO_AGE).timestamp()
    old = {path.name for path in root.glob("*.jpg") if path.stat().st_mtime < cutoff}
    if not old:
        return 0
    used = set(RenewalOrder.objects.filter(id_photo__in=old).values_list("id_photo", flat=True))
    deleted = 0
    for name in sorted(old - used):
        if delete_id_photo(name):
            deleted += 1
    return deleted
