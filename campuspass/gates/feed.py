"""The whitelist feed for systems that pull (parking platforms, gate controllers): one row per plate
we ever published, each change given the next cursor value. Full = every normal/suspended row;
incremental = every row changed after a cursor, deleted ones included."""

from __future__ import annotations

from .desired import DENIED, SUSPENDED, PlateState
from .models import FeedChange, FeedEntry

S = FeedEntry.Status


def feed_status(state: PlateState) -> str:
    if state.admitted:
        return S.NORMAL
    if state.reason_code in (SUSPENDED, DENIED):
        return S.SUSPENDED
    return S.DELETED


def publish(state: PlateState) -> bool:
    """Record the plate's feed row if it changed; returns True when a change was published. Call
    inside a transaction (sync.refresh_plate does)."""
    status = feed_status(state)
    entry = FeedEntry.objects.select_for_update().filter(plate=state.plate).first()
    if entry is None and status == S.DELETED:
        return False  # never published: nothing to take back
    values = {
        "plate_colour": state.colour,
        "plate_type": state.plate_type,
        "status": status,
        "valid_from": state.valid_from if status != S.DELETED else None,
        "valid_to": state.valid_to if status != S.DELETED else None,
        "groups": list(state.groups or []),
    }
    if entry is not None and all(getattr(entry, k) == v for k, v in values.items()):
        return False
    change = FeedChange.objects.create(plate=state.plate)
    FeedEntry.objects.update_or_create(plate=state.plate, defaults={**values, "seq": change.pk})
    return True


def read(*, cursor: int = 0, full: bool = False, limit: int = 500) -> tuple[list[FeedEntry], int, bool]:
    """(entries, next cursor, more to come)."""
    rows = FeedEntry.objects.filter(seq__gt=cursor).order_by("seq")
    if full:
        rows = rows.exclude(status=S.DELETED)
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = page[-1].seq if page else cursor
    return page, next_cursor, more
