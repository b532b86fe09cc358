"""The sync engine (decision 0027): derive what each push gate should have from the registry, compare
with what we know it has (GateEntry), push the differences through the gate's adapter, confirm
asynchronous writes by reading back, retry with backoff, and once a night compare with the gate's own
list to repair drift — removing only entries we created.

Hooks elsewhere are thin: anything that may change what the gates should know calls
`plate_changed(plate)` (signals.py does it for the registry and renewal orders), which recomputes that
plate after commit."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from . import feed
from .adapters import GateError, Item, adapter_for
from .desired import NOTHING, candidate_plates, plate_state, want_for_gate
from .models import Gate, GateEntry

logger = logging.getLogger(__name__)

E = GateEntry.State
L = GateEntry.ListType
# Seconds to wait after the n-th failure (then 6 hours between attempts).
BACKOFF = [60, 120, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600]
CONFIRM_AFTER = 30  # seconds before reading back an asynchronous write
CONFIRM_READS = 3  # unconfirmed read-backs before the write is sent again
HEARTBEAT_EVERY = dt.timedelta(minutes=5)  # a quiet push gate is pinged this often


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1])


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def push_gates():
    return Gate.objects.filter(enabled=True, kind__in=Gate.PUSH_KINDS).select_related("group")


# --- planning: registry -> GateEntry ----------------------------------------------------------


def refresh_plate(plate: str, *, today: dt.date | None = None) -> list[GateEntry]:
    """Recompute what every push gate and the feed should have for `plate`; entries whose wish changed
    become 待同步 (due now). Returns the entries that need a push."""
    now = timezone.now()
    due = []
    with transaction.atomic():
        state = plate_state(plate, today)
        feed.publish(state)
        review_at = _midnight(state.next_change) if state.next_change else None
        for gate in push_gates():
            entry = _plan(gate, state, want_for_gate(state, gate), review_at, now)
            if entry is not None and entry.state == E.PENDING:
                due.append(entry)
    return due


def _plan(gate, state, want, review_at, now) -> GateEntry | None:
    entry = GateEntry.objects.select_for_update().filter(gate=gate, plate=state.plate).first()
    if entry is None:
        if want == NOTHING:
            # Nothing there; but a pass that starts later is reviewed on its start date.
            if review_at is None:
                return None
            entry = GateEntry(gate=gate, plate=state.plate, pushed_hash="")
        else:
            entry = GateEntry(gate=gate, plate=state.plate, pushed_hash="")
    digest = want.digest(state.colour)
    entry.review_at = review_at
    if want == NOTHING and not entry.pushed_hash and entry.state != E.CONFIRMING:
        # Never reached the gate: nothing to take back. Keep the row only to review it later.
        entry.list_type, entry.desired_hash, entry.plate_colour = L.NONE, digest, state.colour
        entry.valid_from = entry.valid_to = None
        entry.state, entry.next_attempt_at, entry.last_error = E.SYNCED, None, ""
        if review_at is None:
            if entry.pk:
                entry.delete()
            return None
        entry.save()
        return entry
    if digest != entry.desired_hash:
        entry.desired_hash, entry.list_type, entry.plate_colour = digest, want.list_type, state.colour
        entry.valid_from, entry.valid_to = want.valid_from, want.valid_to
        entry.attempts, entry.last_error = 0, ""
        if digest == entry.pushed_hash:
            entry.state, entry.next_attempt_at = E.SYNCED, None
        else:
            entry.state, entry.next_attempt_at = E.PENDING, now
    entry.save()
    return entry


def plate_changed(*plates: str) -> None:
    """The thin hook: after the current transaction commits, recompute these plates and push."""
    plates = tuple(sorted({p for p in plates if p}))
    if not plates:
        return

    def enqueue():
        from .tasks import refresh_plates_task

        try:
            refresh_plates_task.enqueue(list(plates))
        except Exception:  # the gates must never break the change that caused this
            logger.exception("could not enqueue gate refresh")

    transaction.on_commit(enqueue)


# --- pushing: GateEntry -> the gate ------------------------------------------------------------


def _item(entry: GateEntry, plate_type: str = "") -> Item:
    from campuspass.core.plate_kinds import infer_kind
    from campuspass.registry.models import Vehicle

    plate_type = (
        Vehicle.objects.filter(plate=entry.plate).values_list("plate_type", flat=True).first()
        or infer_kind(entry.plate)[1]
    )
    return Item(
        plate=entry.plate,
        colour=entry.plate_colour,
        plate_type=plate_type,
        list_type=entry.list_type,
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        remote_id=entry.remote_id,
        op_id=f"{entry.pk}-{entry.desired_hash[:16]}",
    )


def push_entry(entry: GateEntry, adapter=None) -> GateEntry:
    """Send one entry's wish to its gate; records the result (state, attempts, backoff)."""
    gate = entry.gate
    digest = entry.desired_hash
    now = timezone.now()
    try:
        adapter = adapter or adapter_for(gate)
        item = _item(entry)
        if entry.list_type == L.NONE:
            adapter.remove(item)
            result = None
        else:
            result = adapter.upsert(item)
    except GateError as exc:
        entry.attempts += 1
        entry.last_error = exc.message[:300]
        entry.state = E.FAILED
        entry.next_attempt_at = now + backoff(entry.attempts) if exc.retryable else None
        GateEntry.objects.filter(pk=entry.pk, desired_hash=digest).update(
            attempts=entry.attempts, last_error=entry.last_error, state=E.FAILED,
            next_attempt_at=entry.next_attempt_at, updated_at=now,
        )  # fmt: skip
        Gate.objects.filter(pk=gate.pk).update(last_error=entry.last_error)
        return entry
    Gate.objects.filter(pk=gate.pk).update(last_sync_at=now, last_heartbeat_at=now, last_error="")
    if result is None:  # removed: we no longer have anything on that gate for this plate
        updated = GateEntry.objects.filter(pk=entry.pk, desired_hash=digest)
        if entry.review_at is None:
            updated.delete()
        else:
            updated.update(pushed_hash="", remote_id="", state=E.SYNCED, next_attempt_at=None,
                           attempts=0, last_error="", synced_at=now, updated_at=now)  # fmt: skip
        entry.state, entry.pushed_hash = E.SYNCED, ""
        return entry
    values = {
        "remote_id": result.remote_id or entry.remote_id,
        "attempts": 0,
        "last_error": "",
        "updated_at": now,
    }
    if result.confirmed:
        values.update(state=E.SYNCED, pushed_hash=digest, synced_at=now, next_attempt_at=None)
    else:
        values.update(state=E.CONFIRMING, next_attempt_at=now + dt.timedelta(seconds=CONFIRM_AFTER))
    if not GateEntry.objects.filter(pk=entry.pk, desired_hash=digest).update(**values):
        # The wish changed while we were pushing: the gate has this digest, the new wish is pending.
        GateEntry.objects.filter(pk=entry.pk).update(pushed_hash=digest if result.confirmed else "")
    for name, value in values.items():
        setattr(entry, name, value)
    return entry


def confirm(gate: Gate, adapter=None, *, now: dt.datetime | None = None) -> int:
    """Read back the gate's list and confirm asynchronous writes that are due for it; returns how many
    were confirmed."""
    now = now or timezone.now()
    waiting = list(GateEntry.objects.filter(gate=gate, state=E.CONFIRMING, next_attempt_at__lte=now))
    if not waiting:
        return 0
    adapter = adapter or adapter_for(gate)
    remote = {(item.plate, item.list_type): item for item in adapter.list_items()}
    confirmed = 0
    for entry in waiting:
        found = remote.get((entry.plate, entry.list_type))
        if found and (found.valid_from, found.valid_to) == (entry.valid_from, entry.valid_to):
            GateEntry.objects.filter(pk=entry.pk, desired_hash=entry.desired_hash).update(
                state=E.SYNCED, pushed_hash=entry.desired_hash, synced_at=now, next_attempt_at=None,
                attempts=0, remote_id=found.remote_id or entry.remote_id, updated_at=now,
            )  # fmt: skip
            confirmed += 1
            continue
        entry.attempts += 1
        if entry.attempts >= CONFIRM_READS:
            state, when, error = E.PENDING, now, "道闸未在预期时间内生效，已重新提交"
            entry.attempts = 0
        else:
            state, when, error = E.CONFIRMING, now + dt.timedelta(seconds=CONFIRM_AFTER), ""
        GateEntry.objects.filter(pk=entry.pk, desired_hash=entry.desired_hash).update(
            state=state, next_attempt_at=when, attempts=entry.attempts, last_error=error, updated_at=now
        )
    Gate.objects.filter(pk=gate.pk).update(last_heartbeat_at=now)
    return confirmed


def push_due(gate: Gate | None = None, *, now: dt.datetime | None = None) -> dict:
    """Push every entry that is due (pending, or failed and past its backoff), then confirm."""
    now = now or timezone.now()
    gates = [gate] if gate is not None else list(push_gates())
    counts = {"pushed": 0, "failed": 0, "confirmed": 0}
    for one in gates:
        try:
            adapter = adapter_for(one)
        except GateError as exc:
            Gate.objects.filter(pk=one.pk).update(last_error=exc.message[:300])
            continue
        due = GateEntry.objects.filter(
            gate=one, state__in=[E.PENDING, E.FAILED], next_attempt_at__lte=now
        ).select_related("gate")
        for entry in due.order_by("next_attempt_at")[:1000]:
            done = push_entry(entry, adapter)
            counts["failed" if done.state == E.FAILED else "pushed"] += 1
        try:
            counts["confirmed"] += confirm(one, adapter, now=now)
            one.refresh_from_db(fields=["last_heartbeat_at"])
            if one.last_heartbeat_at is None or now - one.last_heartbeat_at > HEARTBEAT_EVERY:
                adapter.ping()
                Gate.objects.filter(pk=one.pk).update(last_heartbeat_at=timezone.now())
        except GateError as exc:
            Gate.objects.filter(pk=one.pk).update(last_error=exc.message[:300])
    return counts


def review_due(*, now: dt.datetime | None = None) -> int:
    """Plates whose pass starts or ends now: recompute them (schedules pushes from the start date)."""
    now = now or timezone.now()
    plates = set(GateEntry.objects.filter(review_at__lte=now).values_list("plate", flat=True))
    for plate in sorted(plates):
        refresh_plate(plate, today=timezone.localdate(now))
    return len(plates)


WATERMARK_KEY = "gates:registry-watermark"


def refresh_changed(*, now: dt.datetime | None = None) -> int:
    """Plates whose vehicle or pass rows changed since the last run, including bulk writes that send
    no signals (the registry import): recompute them. The watermark lives in the cache; without it,
    the last ten minutes are looked at (recomputing a plate twice changes nothing)."""
    from django.core.cache import cache

    from campuspass.registry.models import Pass, Vehicle

    now = now or timezone.now()
    since = cache.get(WATERMARK_KEY) or now - dt.timedelta(minutes=10)
    plates = set(Vehicle.objects.filter(updated_at__gte=since).values_list("plate", flat=True))
    plates |= set(Pass.objects.filter(updated_at__gte=since).values_list("vehicle__plate", flat=True))
    for plate in sorted(plates):
        refresh_plate(plate)
    cache.set(WATERMARK_KEY, now - dt.timedelta(seconds=5), timeout=None)
    return len(plates)


def retry_gate(gate: Gate) -> int:
    """The office's retry button: every failed entry of the gate is due now."""
    return GateEntry.objects.filter(gate=gate, state=E.FAILED).update(
        next_attempt_at=timezone.now(), attempts=0
    )


def full_compare(gate: Gate, *, today: dt.date | None = None) -> dict:
    """Nightly: recompute every plate the gate may need, read the gate's whole list, re-push what is
    missing or different, remove what we put there and no longer want. Records on the gate that we
    did not create are counted and left alone."""
    for plate in sorted(candidate_plates(today) | set(gate.entries.values_list("plate", flat=True))):
        refresh_plate(plate, today=today)
    adapter = adapter_for(gate)
    remote = {}
    for item in adapter.list_items():
        remote.setdefault(item.plate, []).append(item)
    now = timezone.now()
    drift = 0
    for entry in GateEntry.objects.filter(gate=gate, state=E.SYNCED).exclude(list_type=L.NONE):
        found = [
            r
            for r in remote.get(entry.plate, [])
            if r.list_type == entry.list_type
            and (
                entry.list_type == L.DENY or (r.valid_from, r.valid_to) == (entry.valid_from, entry.valid_to)
            )
        ]
        if not found:
            drift += 1
            GateEntry.objects.filter(pk=entry.pk).update(
                state=E.PENDING, next_attempt_at=now, pushed_hash="",
                last_error="全量比对：道闸上缺少或不同，已重新推送", updated_at=now,
            )  # fmt: skip
    ours = set(GateEntry.objects.filter(gate=gate).exclude(pushed_hash="").values_list("plate", flat=True))
    foreign = sorted(set(remote) - ours - set(gate.entries.values_list("plate", flat=True)))
    Gate.objects.filter(pk=gate.pk).update(last_full_sync_at=now, last_heartbeat_at=now)
    counts = push_due(gate, now=now)
    return {"repaired": drift, "foreign_left_alone": len(foreign), **counts}
