"""Background and periodic work of the gates. Thin: each task calls the engine."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tasks import task

from . import keys, sync
from .models import Crossing


@task()
def refresh_plates_task(plates: list[str]) -> dict:
    """After a change committed: recompute the plates and push what changed at once."""
    due = []
    for plate in plates:
        due.extend(sync.refresh_plate(plate))
    counts = {"plates": len(plates), "pushed": 0, "failed": 0}
    for entry in due:
        done = sync.push_entry(entry)
        counts["failed" if done.state == sync.E.FAILED else "pushed"] += 1
    return counts


@task()
def gates_due_task() -> dict:
    """Every minute: passes that start or end now, retries past their backoff, read-backs."""
    changed = sync.refresh_changed()
    reviewed = sync.review_due()
    return {"changed": changed, "reviewed": reviewed, **sync.push_due()}


@task()
def gates_full_compare_task() -> dict:
    """Nightly: every push gate compared with the registry and its own list."""
    results = {}
    for gate in sync.push_gates():
        try:
            results[gate.name] = sync.full_compare(gate)
        except sync.GateError as exc:
            gate.__class__.objects.filter(pk=gate.pk).update(last_error=exc.message[:300])
            results[gate.name] = {"error": exc.code}
    return results


@task()
def full_compare_task(gate_id: int) -> dict:
    """One gate's full comparison, when the office asks for it."""
    gate = sync.push_gates().filter(pk=gate_id).first()
    if gate is None:
        return {"error": "not_found"}
    try:
        return sync.full_compare(gate)
    except sync.GateError as exc:
        gate.__class__.objects.filter(pk=gate.pk).update(last_error=exc.message[:300])
        return {"error": exc.code}


@task()
def prune_gate_records_task() -> dict:
    """Daily: used nonces past the signature window; crossings older than 90 days."""
    cutoff = timezone.now() - dt.timedelta(days=90)
    return {
        "nonces": keys.prune_nonces(),
        "crossings": Crossing.objects.filter(crossed_at__lt=cutoff).delete()[0],
    }
