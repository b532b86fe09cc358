"""ID-photo retention, by row: the order services date each photo's deletion when the order is
decided or closed (``orders._photo_retention``); uploads no order uses are dated a day after upload.
The daily job deletes what is due through the photo service."""

from __future__ import annotations

import datetime as dt

from campuspass.verification import documents


def purge_id_photos(*, now: dt.datetime | None = None) -> int:
    """Scheduled daily: delete every ID photo whose retention date has passed. Returns how many."""
    return documents.expire_due(now=now)
