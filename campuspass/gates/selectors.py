"""What the office and the staff pages read about gates."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from . import desired
from .models import Gate, GateEntry

E = GateEntry.State


def order_gate_status(order) -> str | None:
    """For the staff member's order page: "synced" once every push gate the pass is valid at holds the
    car, "pending" while some do not yet, None when there is nothing to say (order not approved, pass
    not yet valid, no push gates)."""
    if order.status != "approved" or not order.new_pass_id:
        return None
    state = desired.plate_state(order.plate)
    if not state.admitted or state.pass_id != order.new_pass_id:
        return None
    gates = [g for g in Gate.objects.filter(enabled=True, kind__in=Gate.PUSH_KINDS).select_related("group")]
    gates = [g for g in gates if desired.in_scope(state, g)]
    if not gates:
        return None
    synced = GateEntry.objects.filter(
        gate__in=gates, plate=order.plate, state=E.SYNCED, list_type=GateEntry.ListType.ALLOW
    ).count()
    return "synced" if synced == len(gates) else "pending"


@dataclass
class GateRow:
    gate: Gate
    counts: dict[str, int]
    failures: list[GateEntry]


def gate_overview() -> list[GateRow]:
    gates = Gate.objects.select_related("group").annotate(
        n_synced=Count("entries", filter=Q(entries__state=E.SYNCED) & ~Q(entries__list_type="none")),
        n_pending=Count("entries", filter=Q(entries__state__in=[E.PENDING, E.CONFIRMING])),
        n_failed=Count("entries", filter=Q(entries__state=E.FAILED)),
    )
    rows = []
    for gate in gates:
        failures = list(gate.entries.filter(state=E.FAILED).order_by("-updated_at")[:20])
        rows.append(
            GateRow(
                gate,
                {"synced": gate.n_synced, "pending": gate.n_pending, "failed": gate.n_failed},
                failures,
            )
        )
    return rows


@dataclass
class PlateAtGate:
    gate: Gate
    want: str  # allow / deny / none
    entry: GateEntry | None


def plate_report(plate: str) -> tuple[desired.PlateState, list[PlateAtGate]]:
    """For one plate: what the registry says and, per gate, whether it got there."""
    state = desired.plate_state(plate)
    entries = {e.gate_id: e for e in GateEntry.objects.filter(plate=plate)}
    rows = []
    for gate in Gate.objects.filter(enabled=True).select_related("group"):
        want = desired.want_for_gate(state, gate).list_type
        rows.append(PlateAtGate(gate, want, entries.get(gate.pk)))
    return state, rows
