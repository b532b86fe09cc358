"""What the gates should know about a plate, derived from the registry every time (decision 0027):
approved passes and their validity, where they are valid, suspensions and the deny list. Nothing here
writes; sync.py and feed.py compare this with what each gate and the feed have."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from campuspass.core import plate_kinds
from campuspass.core.compiled import CompiledRead
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


def _usable(review_status: str, order_status: str | None) -> bool:
    """An approved pass whose renewal order (when one issued it) still stands: a pass of a refunded
    order no longer opens a gate."""
    return review_status == Pass.ReviewStatus.APPROVED and order_status in (None, "approved")


@dataclass
class _Found:
    pk: int
    valid_from: dt.date | None
    valid_to: dt.date | None
    suspended: bool
    groups: set[str]


def _registry_rows(plate: str):
    """One query: the vehicle, its open deny entry, and per pass its review status, its renewal
    order's status, its dates, whether an open suspension stops it and its gate groups (one row per
    pass and group; a vehicle without passes gives one row of NULLs for them), passes by start date.
    No row: no vehicle has this plate."""
    open_deny = DenyEntry.objects.filter(plate=OuterRef("plate"), lifted_at__isnull=True)
    open_suspension = PassSuspension.objects.filter(pass_obj=OuterRef("passes__pk"), lifted_at__isnull=True)
    return (
        Vehicle.objects.filter(plate=plate)
        .annotate(
            deny_colour=Subquery(open_deny.values("plate_colour")[:1]),
            suspended=Exists(open_suspension),
        )
        .order_by(*_REGISTRY_ORDER_BY)
        .values_list(*_REGISTRY_COLUMNS)
    )


_REGISTRY_COLUMNS = (
    "plate_colour",
    "plate_type",
    "deny_colour",
    "passes__pk",
    "passes__review_status",
    "passes__issued_by_order__status",
    "passes__valid_from",
    "passes__valid_to",
    "suspended",
    "passes__gate_groups__code",
)
_REGISTRY_ORDER_BY = ("passes__valid_from", "passes__pk")
# The same order by column position, for compiled.rows_together (the gate check's one statement).
REGISTRY_ORDER = tuple((_REGISTRY_COLUMNS.index(name), "ASC") for name in _REGISTRY_ORDER_BY)


_REGISTRY_ROWS = CompiledRead(_registry_rows, 1)  # the SQL built once, not per check (issue 13)
# A plate without a vehicle: its open deny entry, if any (also built once).
_DENY_COLOUR = CompiledRead(
    lambda plate: (
        DenyEntry.objects.filter(plate=plate, lifted_at__isnull=True)
        .order_by("pk")
        .values_list("plate_colour")[:1]
    ),
    1,
)


def plate_state(plate: str, today: dt.date | None = None) -> PlateState:
    """Read in one query for a registered plate, two for any other (the deny list)."""
    rows = _REGISTRY_ROWS.rows(plate)
    return state_from_rows(plate, rows, None if rows else _first(_DENY_COLOUR.rows(plate)), today)


def plate_reads(plate: str) -> tuple[tuple[CompiledRead, tuple], tuple[CompiledRead, tuple]]:
    """plate_state's two reads, to run with another in one round trip (compiled.rows_together, the
    gate check, with order=REGISTRY_ORDER): the registry's rows and the open deny entry of a plate
    without a vehicle."""
    return (_REGISTRY_ROWS, (plate,)), (_DENY_COLOUR, (plate,))


def _first(rows: list) -> list | None:
    return rows[0] if rows else None


def state_from_rows(
    plate: str, rows: list, deny_row: list | None, today: dt.date | None = None
) -> PlateState:
    """The state from plate_reads' answers (deny_row only counts when no vehicle has the plate)."""
    today = today or timezone.localdate()
    if not rows:
        colour, plate_type = plate_kinds.infer_kind(plate)
        if deny_row is not None:
            return PlateState(plate, deny_row[0], plate_type, DENIED)
        return PlateState(plate, colour, plate_type, UNKNOWN)
    colour, plate_type, deny_colour = rows[0][:3]
    if deny_colour is not None:
        return PlateState(plate, deny_colour, plate_type, DENIED)
    found: dict[int, _Found] = {}
    for *_, pk, review_status, order_status, valid_from, valid_to, suspended, group in rows:
        if pk is None or not _usable(review_status, order_status):
            continue
        entry = found.setdefault(pk, _Found(pk, valid_from, valid_to, bool(suspended), set()))
        if group is not None:
            entry.groups.add(group)
    passes = list(found.values())  # usable passes by valid_from (NULLs where the database puts them)
    current = [
        p
        for p in passes
        if (p.valid_from is None or p.valid_from <= today) and (p.valid_to is None or p.valid_to >= today)
    ]
    upcoming = [p for p in passes if p.valid_from is not None and p.valid_from > today]
    if current:
        permit = max(current, key=lambda p: p.valid_to or dt.date.max)
        next_change = permit.valid_to + dt.timedelta(days=1) if permit.valid_to else None
        return PlateState(
            plate,
            colour,
            plate_type,
            SUSPENDED if permit.suspended else OK,
            permit.valid_from,
            permit.valid_to,
            tuple(sorted(permit.groups)) or None,
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
