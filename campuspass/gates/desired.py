"""What the gates should know about a plate, derived from the registry every time (decision 0027):
approved passes and their validity, where they are valid, suspensions and the deny list. Nothing here
writes; sync.py and feed.py compare this with what each gate and the feed have."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from campuspass.core import plate_kinds
from campuspass.registry.models import Pass, Vehicle

from .models import DenyEntry, Gate, GateEntry, PassSuspension

# Reason codes the check API answers with (documented in the OpenAPI schema).
OK = "ok"
UNKNOWN = "unknown_plate"
NOT_YET = "not_yet_valid"
EXPIRED = "expired"
SUSPENDED = "suspended"
DENIED = "denied"
OUT_OF_SCOPE = "out_of_scope"
REASON_CODES = {
    OK: "放行：通行证有效",
    UNKNOWN: "无此车牌的有效通行证",
    NOT_YET: "通行证尚未生效",
    EXPIRED: "通行证已过期",
    SUSPENDED: "通行证已被保卫处暂停",
    DENIED: "车牌在禁止通行名单中",
    OUT_OF_SCOPE: "通行证不含本车场/道闸组",
}


@dataclass(frozen=True)
class PlateState:
    plate: str
    colour: str
    plate_type: str
    reason_code: str  # one of REASON_CODES except OUT_OF_SCOPE
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    groups: tuple[str, ...] | None = None  # None: every gate
    pass_id: int | None = None
    next_change: dt.date | None = None  # the day this state changes by itself

    @property
    def admitted(self) -> bool:
        return self.reason_code == OK


@dataclass(frozen=True)
class GateWant:
    list_type: str  # GateEntry.ListType
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    def digest(self, colour: str) -> str:
        text = f"{self.list_type}|{colour}|{self.valid_from}|{self.valid_to}"
        return hashlib.sha256(text.encode()).hexdigest()


NOTHING = GateWant(GateEntry.ListType.NONE)


def _usable_passes(plate: str):
    """Approved passes of the plate whose renewal order (when one issued them) still stands: a pass of
    a refunded order no longer opens a gate."""
    return Pass.objects.filter(vehicle__plate=plate, review_status=Pass.ReviewStatus.APPROVED).filter(
        Q(issued_by_order__isnull=True) | Q(issued_by_order__status="approved")
    )


def plate_state(plate: str, today: dt.date | None = None) -> PlateState:
    today = today or timezone.localdate()
    vehicle = Vehicle.objects.filter(plate=plate).only("plate_colour", "plate_type").first()
    colour, plate_type = (
        (vehicle.plate_colour, vehicle.plate_type) if vehicle else plate_kinds.infer_kind(plate)
    )
    deny = DenyEntry.objects.filter(plate=plate, lifted_at__isnull=True).first()
    if deny is not None:
        return PlateState(plate, deny.plate_colour, plate_type, DENIED)
    if vehicle is None:
        return PlateState(plate, colour, plate_type, UNKNOWN)
    passes = list(_usable_passes(plate).order_by("valid_from"))
    current = [
        p
        for p in passes
        if (p.valid_from is None or p.valid_from <= today) and (p.valid_to is None or p.valid_to >= today)
    ]
    upcoming = [p for p in passes if p.valid_from is not None and p.valid_from > today]
    if current:
        permit = max(current, key=lambda p: p.valid_to or dt.date.max)
        groups = tuple(sorted(permit.gate_groups.values_list("code", flat=True))) or None
        suspended = PassSuspension.objects.filter(pass_obj=permit, lifted_at__isnull=True).exists()
        next_change = permit.valid_to + dt.timedelta(days=1) if permit.valid_to else None
        return PlateState(
            plate,
            colour,
            plate_type,
            SUSPENDED if suspended else OK,
            permit.valid_from,
            permit.valid_to,
            groups,
            permit.pk,
            next_change,
        )
    if upcoming:
        first = upcoming[0]
        return PlateState(
            plate,
            colour,
            plate_type,
            NOT_YET,
            first.valid_from,
            first.valid_to,
            None,
            first.pk,
            first.valid_from,
        )
    if passes:
        return PlateState(plate, colour, plate_type, EXPIRED, passes[-1].valid_from, passes[-1].valid_to)
    return PlateState(plate, colour, plate_type, UNKNOWN)


def in_scope(state: PlateState, gate: Gate) -> bool:
    return state.groups is None or (gate.group is not None and gate.group.code in state.groups)


def want_for_gate(state: PlateState, gate: Gate) -> GateWant:
    """What `gate` should have for the plate: allowed with its dates, denied, or nothing."""
    if state.reason_code == DENIED:
        return GateWant(GateEntry.ListType.DENY)
    if state.admitted and in_scope(state, gate):
        return GateWant(GateEntry.ListType.ALLOW, state.valid_from, state.valid_to)
    return NOTHING


def answer_for_gate(state: PlateState, gate: Gate) -> str:
    """The reason code a gate that asks gets."""
    if state.admitted and not in_scope(state, gate):
        return OUT_OF_SCOPE
    return state.reason_code


def candidate_plates(today: dt.date | None = None) -> set[str]:
    """Every plate the gates may need to know about now or soon: approved passes not yet expired and
    open deny entries (used by the full comparison)."""
    today = today or timezone.localdate()
    plates = set(
        Pass.objects.filter(review_status=Pass.ReviewStatus.APPROVED)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .values_list("vehicle__plate", flat=True)
    )
    plates.update(DenyEntry.objects.filter(lifted_at__isnull=True).values_list("plate", flat=True))
    return plates
