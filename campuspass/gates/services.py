"""The office's actions on gates, each in the project's one shape: atomic, lock, check, save, audit,
and the gates told after commit (sync.plate_changed)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from campuspass.core import plate_kinds
from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError
from campuspass.core.plates import InvalidPlate, normalize_plate
from campuspass.registry.models import Pass

from . import keys, sync
from .models import Crossing, DenyEntry, Gate, GateGroup, PassSuspension


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise CampusPassError("请填写原因，它会记入审计日志。", code="reason_required")
    if len(reason) > 200:
        raise CampusPassError("原因最多 200 个字。", code="reason_too_long")
    return reason


def _plate(value: str) -> str:
    try:
        return normalize_plate(value)
    except InvalidPlate as exc:
        raise CampusPassError(exc.reason, code="plate") from None


def current_pass(plate: str) -> Pass:
    """The pass a suspension applies to: the plate's pass valid today, else its latest approved one."""
    today = timezone.localdate()
    passes = Pass.objects.filter(vehicle__plate=plate, review_status=Pass.ReviewStatus.APPROVED)
    found = (
        passes.filter(valid_from__lte=today, valid_to__gte=today).order_by("-valid_to").first()
        or passes.order_by("-year").first()
    )
    if found is None:
        raise CampusPassError(
            f"车牌 {plate} 没有审核通过的通行证，无需暂停；如需拦截请加入禁止通行名单。", code="no_pass"
        )
    return found


def suspend_pass(*, plate: str, reason: str, acting_user: Any) -> PassSuspension:
    plate, reason = _plate(plate), _reason(reason)
    with transaction.atomic():
        permit = Pass.objects.select_for_update().get(pk=current_pass(plate).pk)
        if PassSuspension.objects.filter(pass_obj=permit, lifted_at__isnull=True).exists():
            raise CampusPassError(f"通行证 {permit.number} 已处于暂停状态。", code="already_suspended")
        suspension = PassSuspension.objects.create(
            pass_obj=permit, reason=reason, created_by=_user(acting_user)
        )
        log_action(
            actor=acting_user, action="gates.pass.suspended", obj=permit, reason=reason,
            data={"suspension": suspension.pk}, plate=plate, staff_no=permit.holder.staff_no,
        )  # fmt: skip
        sync.plate_changed(plate)
    return suspension


def lift_suspension(*, plate: str, reason: str, acting_user: Any) -> PassSuspension:
    plate, reason = _plate(plate), _reason(reason)
    with transaction.atomic():
        suspension = (
            PassSuspension.objects.select_for_update()
            .select_related("pass_obj__holder")
            .filter(pass_obj__vehicle__plate=plate, lifted_at__isnull=True)
            .first()
        )
        if suspension is None:
            raise CampusPassError(f"车牌 {plate} 的通行证没有被暂停。", code="not_suspended")
        suspension.lifted_at, suspension.lifted_by = timezone.now(), _user(acting_user)
        suspension.save(update_fields=["lifted_at", "lifted_by"])
        log_action(
            actor=acting_user, action="gates.pass.resumed", obj=suspension.pass_obj, reason=reason,
            data={"suspension": suspension.pk}, plate=plate, staff_no=suspension.pass_obj.holder.staff_no,
        )  # fmt: skip
        sync.plate_changed(plate)
    return suspension


def deny_plate(*, plate: str, colour: str = "", reason: str, acting_user: Any) -> DenyEntry:
    plate, reason = _plate(plate), _reason(reason)
    try:
        plate, colour = plate_kinds.plate_and_colour(plate, colour)
    except ValueError as exc:
        raise CampusPassError(f"{exc}。", code="colour") from None
    with transaction.atomic():
        try:
            with transaction.atomic():
                entry = DenyEntry.objects.create(
                    plate=plate, plate_colour=colour, reason=reason, created_by=_user(acting_user)
                )
        except IntegrityError:
            raise CampusPassError(f"车牌 {plate} 已在禁止通行名单中。", code="already_denied") from None
        log_action(actor=acting_user, action="gates.deny.added", obj=entry, reason=reason, plate=plate)
        sync.plate_changed(plate)
    return entry


def lift_deny(*, plate: str, reason: str, acting_user: Any) -> DenyEntry:
    plate, reason = _plate(plate), _reason(reason)
    with transaction.atomic():
        entry = DenyEntry.objects.select_for_update().filter(plate=plate, lifted_at__isnull=True).first()
        if entry is None:
            raise CampusPassError(f"车牌 {plate} 不在禁止通行名单中。", code="not_denied")
        entry.lifted_at, entry.lifted_by = timezone.now(), _user(acting_user)
        entry.save(update_fields=["lifted_at", "lifted_by"])
        log_action(actor=acting_user, action="gates.deny.lifted", obj=entry, reason=reason, plate=plate)
        sync.plate_changed(plate)
    return entry


def issue_key(*, gate: Gate, acting_user: Any) -> str:
    """A new key for a device that asks us (the old one stops at once). Returns the secret, which is
    shown once and never stored."""
    with transaction.atomic():
        gate = Gate.objects.select_for_update().get(pk=gate.pk)
        previous = gate.key_id
        gate.key_id, gate.key_salt = keys.new_key()
        gate.key_issued_at, gate.key_revoked_at = timezone.now(), None
        gate.save(update_fields=["key_id", "key_salt", "key_issued_at", "key_revoked_at"])
        log_action(
            actor=acting_user, action="gates.key.issued", obj=gate,
            data={"key_id": gate.key_id, "replaced": previous or ""},
        )  # fmt: skip
    return keys.derive_secret(gate.key_id, gate.key_salt)


def revoke_key(*, gate: Gate, reason: str, acting_user: Any) -> Gate:
    reason = _reason(reason)
    with transaction.atomic():
        gate = Gate.objects.select_for_update().get(pk=gate.pk)
        if not gate.key_active:
            raise CampusPassError(f"道闸“{gate.name}”没有有效的密钥。", code="no_key")
        gate.key_revoked_at = timezone.now()
        gate.save(update_fields=["key_revoked_at"])
        log_action(
            actor=acting_user,
            action="gates.key.revoked",
            obj=gate,
            reason=reason,
            data={"key_id": gate.key_id},
        )
    return gate


def retry_gate(*, gate: Gate, acting_user: Any) -> int:
    with transaction.atomic():
        gate = Gate.objects.select_for_update().get(pk=gate.pk)
        count = sync.retry_gate(gate)
        log_action(actor=acting_user, action="gates.sync.retried", obj=gate, data={"entries": count})

        def push():
            from .tasks import gates_due_task

            gates_due_task.enqueue()

        transaction.on_commit(push)
    return count


def request_full_compare(*, gate: Gate, acting_user: Any) -> None:
    """The office asks for a full comparison now instead of tonight."""
    with transaction.atomic():
        log_action(actor=acting_user, action="gates.sync.compare_requested", obj=gate)

        def run():
            from .tasks import full_compare_task

            full_compare_task.enqueue(gate.pk)

        transaction.on_commit(run)


def create_group(*, values: dict, acting_user: Any) -> GateGroup:
    with transaction.atomic():
        group = GateGroup.objects.create(**values)
        log_action(actor=acting_user, action="gates.group.created", obj=group, data={"code": group.code})
    return group


def register_gate(*, values: dict, acting_user: Any) -> Gate:
    with transaction.atomic():
        gate = Gate.objects.create(**values)
        log_action(
            actor=acting_user, action="gates.gate.registered", obj=gate,
            data={"kind": gate.kind, "group": gate.group.code if gate.group else ""},
        )  # fmt: skip
    return gate


def set_pass_groups(*, permit: Pass, codes: list[str], acting_user: Any) -> Pass:
    """Where a pass is valid: the named car parks / gate groups, or every gate when empty."""
    with transaction.atomic():
        permit = Pass.objects.select_for_update().select_related("vehicle", "holder").get(pk=permit.pk)
        groups = list(GateGroup.objects.filter(code__in=codes))
        unknown = sorted(set(codes) - {g.code for g in groups})
        if unknown:
            raise CampusPassError(f"车场/道闸组 {'、'.join(unknown)} 不存在。", code="group")
        before = sorted(permit.gate_groups.values_list("code", flat=True))
        permit.gate_groups.set(groups)
        log_action(
            actor=acting_user, action="gates.pass.scope_changed", obj=permit,
            data={"groups": [before, sorted(codes)]}, plate=permit.vehicle.plate, staff_no=permit.holder.staff_no,
        )  # fmt: skip
    return permit


def record_crossing(
    *, gate: Gate, plate: str, direction: str, allowed: bool, crossed_at, event_id: str
) -> bool:
    """A crossing a gate reported; the same event twice is stored once. Returns True when new."""
    plate = _plate(plate)
    if direction not in ("in", "out"):
        raise CampusPassError("direction 应为 in 或 out。", code="direction")
    _, created = Crossing.objects.get_or_create(
        gate=gate, event_id=event_id[:64],
        defaults={"plate": plate, "direction": direction, "allowed": allowed, "crossed_at": crossed_at},
    )  # fmt: skip
    return created


def _user(user):
    return user if getattr(user, "is_authenticated", False) else None
