"""ID-photo retention: a photo is kept only as long as the campaign says after the decision."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from campuspass.core.audit import log_action

from ..models import RenewalOrder


def purge_id_photos(*, now: dt.datetime | None = None) -> int:
    """Scheduled daily: delete the ID photos of orders decided longer ago than their campaign's
    retention period. Returns how many were deleted."""
    from campuspass.verification.photos import delete_id_photo

    now = now or timezone.now()
    due = RenewalOrder.objects.filter(decided_at__isnull=False, id_photo_deleted_at__isnull=True).exclude(
        id_photo=""
    )
    deleted = 0
    for order in due.select_related("campaign", "staff").iterator(chunk_size=200):
        if order.decided_at + dt.timedelta(days=order.campaign.photo_retention_days) > now:
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
                reason=f"审核后保留 {order.campaign.photo_retention_days} 天期满",
                plate=locked.plate,
                staff_no=order.staff.staff_no,
            )
            deleted += 1
    return deleted
