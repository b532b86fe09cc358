"""Single-record writes to the registry: used by the admin and (later) the on-site desk.

Every function is atomic, validates each field with its rule in fields.py (the import's and every
form's: one rule, one FieldError family), writes one audit entry with the field changes in the same transaction, and
raises CampusPassError with a Chinese message for a person when the input cannot be accepted.
An update that changes nothing writes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model, ProtectedError

from campuspass.core import plate_kinds
from campuspass.core.audit import diff_fields, json_value, log_action
from campuspass.core.errors import CampusPassError

from . import fields
from .models import Pass, Staff, Vehicle

__all__ = [
    "clean_mobile",
    "clean_pass_number",
    "clean_plate",
    "clean_staff_no",
    "clean_year",
    "pass_create",
    "pass_update",
    "record_delete",
    "staff_create",
    "staff_update",
    "vehicle_create",
    "vehicle_update",
]

STAFF_FIELDS = ("name", "department", "mobile", "status")
VEHICLE_FIELDS = ("plate", "vehicle_type", "brand_model", "color", "plate_colour", "plate_type", "owner")
PASS_FIELDS = ("year", "number", "vehicle", "holder", "review_status", "valid_from", "valid_to", "source")


# --- validation: the field rules (fields.py), the same as the import's and every form's -------------


def clean_staff_no(value: Any) -> str:
    return fields.clean("staff_no", value)


def clean_mobile(value: Any) -> str:
    return fields.clean("mobile", value)


def clean_plate(value: Any) -> str:
    return fields.clean("plate", value)


def clean_pass_number(value: Any) -> str:
    return fields.clean("number", value)


def clean_year(value: Any) -> int:
    return fields.clean("year", value)


def _instance(model: type[Model], value: Any, label: str) -> Any:
    if isinstance(value, model):
        return value
    try:
        return model.objects.get(pk=value)
    except (model.DoesNotExist, TypeError, ValueError):
        raise CampusPassError(f"找不到所选的{label}，请重新选择。", code="not_found") from None


def _staff_values(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in STAFF_FIELDS:
            raise TypeError(f"unknown staff field {name!r}")
        out[name] = fields.clean(name, value)
    return out


def _vehicle_values(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "owner":
            out[name] = _instance(Staff, value, "车主")
        elif name in ("plate_colour", "plate_type"):
            kind = fields.clean(name, value)
            if kind is not None:  # not stated: inferred from the plate by _plate_kind
                out[name] = kind
        elif name in VEHICLE_FIELDS:
            out[name] = fields.clean(name, value)
        else:
            raise TypeError(f"unknown vehicle field {name!r}")
    return out


def _plate_kind(plate: str, values: dict[str, Any], current: tuple[str, str] | None = None) -> None:
    """Fill in plate colour and type the caller left out (what the plate implies, or what the vehicle
    has when its plate stays) and refuse a combination that cannot be (decision 0026)."""
    inferred = plate_kinds.infer_kind(plate)
    if current is not None and not plate_kinds.check_kind(plate, *current):
        inferred = current
    values.setdefault("plate_colour", inferred[0])
    values.setdefault("plate_type", inferred[1])
    problems = fields.check_plate_kind(plate, values["plate_colour"], values["plate_type"])
    if problems:
        raise problems[0]


def _pass_values(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "vehicle":
            out[name] = _instance(Vehicle, value, "车辆")
        elif name == "holder":
            out[name] = _instance(Staff, value, "持证人")
        elif name in PASS_FIELDS:
            out[name] = fields.clean(name, value)
        else:
            raise TypeError(f"unknown pass field {name!r}")
    return out


def _check_pass(
    permit_pk: int | None, year: int, number: str, vehicle: Vehicle, valid_from, valid_to
) -> None:
    fields.check_validity(valid_from, valid_to)
    others = Pass.objects.filter(year=year).exclude(pk=permit_pk)
    if others.filter(number=number).exists():
        raise CampusPassError(f"{year} 年度已有编号为 {number} 的通行证，编号不能重复。", code="duplicate")
    if others.filter(vehicle=vehicle).exists():
        raise CampusPassError(
            f"车辆 {vehicle.plate} 在 {year} 年度已有通行证，每辆车每年度只能有一张。", code="duplicate"
        )


# --- audit helpers -------------------------------------------------------------------------------


def _audit_value(value: Any) -> Any:
    if isinstance(value, Staff):
        return value.staff_no
    if isinstance(value, Vehicle):
        return value.plate
    return json_value(value)


def _changes(obj: Model | None, values: dict[str, Any]) -> dict[str, list[Any]]:
    if obj is None:
        return {name: [None, _audit_value(value)] for name, value in values.items()}
    plain = {}
    related = {}
    for name, value in values.items():
        if isinstance(value, Model):
            related[name] = value
        else:
            plain[name] = value
    changes = diff_fields(obj, plain)
    for name, value in related.items():
        if getattr(obj, f"{name}_id") != value.pk:
            changes[name] = [_audit_value(getattr(obj, name)), _audit_value(value)]
    return changes


def _save(obj: Model, message: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise CampusPassError(message, code="conflict") from None


# --- staff ---------------------------------------------------------------------------------------


def staff_create(
    *,
    staff_no: str,
    name: str,
    mobile: str,
    status: str = Staff.Status.ACTIVE,
    department: str = "",
    acting_user: Any = None,
    reason: str = "",
) -> Staff:
    staff_no = clean_staff_no(staff_no)
    values = _staff_values({"name": name, "department": department, "mobile": mobile, "status": status})
    with transaction.atomic():
        if Staff.objects.filter(staff_no=staff_no).exists():
            raise CampusPassError(f"工号 {staff_no} 已登记，请在原记录上修改。", code="duplicate")
        staff = Staff(staff_no=staff_no, **values)
        _save(staff, f"工号 {staff_no} 已登记，请在原记录上修改。")
        log_action(
            actor=acting_user,
            action="registry.staff.created",
            obj=staff,
            reason=reason,
            data={"changes": _changes(None, {"staff_no": staff_no, **values})},
            staff_no=staff_no,
        )
    return staff


def staff_update(*, staff: Staff, acting_user: Any = None, reason: str = "", **values: Any) -> Staff:
    """Change name, department, mobile or status. The staff number is the person's identity and is
    not changed here."""
    values = _staff_values(values)
    with transaction.atomic():
        staff = Staff.objects.select_for_update().get(pk=staff.pk)
        changes = _changes(staff, values)
        if not changes:
            return staff
        for name, value in values.items():
            setattr(staff, name, value)
        _save(staff, "保存失败：数据与已有记录冲突，请刷新后重试。")
        log_action(
            actor=acting_user,
            action="registry.staff.updated",
            obj=staff,
            reason=reason,
            data={"changes": changes},
            staff_no=staff.staff_no,
        )
    return staff


# --- vehicles ------------------------------------------------------------------------------------


def vehicle_create(
    *,
    plate: str,
    owner: Staff | int,
    vehicle_type: str = "",
    brand_model: str = "",
    color: str = "",
    plate_colour: str = "",
    plate_type: str = "",
    acting_user: Any = None,
    reason: str = "",
) -> Vehicle:
    values = _vehicle_values(
        {
            "plate": plate,
            "owner": owner,
            "vehicle_type": vehicle_type,
            "brand_model": brand_model,
            "color": color,
            "plate_colour": plate_colour,
            "plate_type": plate_type,
        }
    )
    plate = values["plate"]
    _plate_kind(plate, values)
    message = f"车牌号 {plate} 已登记，请在原记录上修改。"
    with transaction.atomic():
        if Vehicle.objects.filter(plate=plate).exists():
            raise CampusPassError(message, code="duplicate")
        vehicle = Vehicle(**values)
        _save(vehicle, message)
        log_action(
            actor=acting_user,
            action="registry.vehicle.created",
            obj=vehicle,
            reason=reason,
            data={"changes": _changes(None, values)},
            plate=plate,
            staff_no=vehicle.owner.staff_no,
        )
    return vehicle


def vehicle_update(*, vehicle: Vehicle, acting_user: Any = None, reason: str = "", **values: Any) -> Vehicle:
    values = _vehicle_values(values)
    with transaction.atomic():
        vehicle = Vehicle.objects.select_for_update().select_related("owner").get(pk=vehicle.pk)
        if {"plate", "plate_colour", "plate_type"} & values.keys():
            _plate_kind(
                values.get("plate", vehicle.plate), values, (vehicle.plate_colour, vehicle.plate_type)
            )
        changes = _changes(vehicle, values)
        if not changes:
            return vehicle
        if (
            "plate" in changes
            and Vehicle.objects.filter(plate=values["plate"]).exclude(pk=vehicle.pk).exists()
        ):
            raise CampusPassError(f"车牌号 {values['plate']} 已登记在另一条车辆记录上。", code="duplicate")
        for name, value in values.items():
            setattr(vehicle, name, value)
        _save(vehicle, "保存失败：车牌号与已有记录冲突，请刷新后重试。")
        log_action(
            actor=acting_user,
            action="registry.vehicle.updated",
            obj=vehicle,
            reason=reason,
            data={"changes": changes},
            plate=vehicle.plate,
            staff_no=vehicle.owner.staff_no,
        )
    return vehicle


# --- passes --------------------------------------------------------------------------------------


def pass_create(
    *,
    year: int,
    number: str,
    vehicle: Vehicle | int,
    holder: Staff | int,
    review_status: str = Pass.ReviewStatus.APPROVED,
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
    source: str = Pass.Source.ADMIN,
    acting_user: Any = None,
    reason: str = "",
) -> Pass:
    values = _pass_values(
        {
            "year": year,
            "number": number,
            "vehicle": vehicle,
            "holder": holder,
            "review_status": review_status,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "source": source,
        }
    )
    with transaction.atomic():
        _check_pass(
            None,
            values["year"],
            values["number"],
            values["vehicle"],
            values["valid_from"],
            values["valid_to"],
        )
        permit = Pass(**values)
        _save(permit, "保存失败：通行证编号或车辆与已有通行证冲突，请刷新后重试。")
        log_action(
            actor=acting_user,
            action="registry.pass.created",
            obj=permit,
            reason=reason,
            data={"changes": _changes(None, values)},
            plate=permit.vehicle.plate,
            staff_no=permit.holder.staff_no,
        )
    return permit


def pass_update(*, permit: Pass, acting_user: Any = None, reason: str = "", **values: Any) -> Pass:
    values = _pass_values(values)
    with transaction.atomic():
        permit = Pass.objects.select_for_update().select_related("vehicle", "holder").get(pk=permit.pk)
        changes = _changes(permit, values)
        if not changes:
            return permit
        for name, value in values.items():
            setattr(permit, name, value)
        _check_pass(permit.pk, permit.year, permit.number, permit.vehicle, permit.valid_from, permit.valid_to)
        _save(permit, "保存失败：通行证编号或车辆与已有通行证冲突，请刷新后重试。")
        log_action(
            actor=acting_user,
            action="registry.pass.updated",
            obj=permit,
            reason=reason,
            data={"changes": changes},
            plate=permit.vehicle.plate,
            staff_no=permit.holder.staff_no,
        )
    return permit


# --- deletion --------------------------------------------------------------------------------------

_DELETE_ACTIONS = {
    Staff: "registry.staff.deleted",
    Vehicle: "registry.vehicle.deleted",
    Pass: "registry.pass.deleted",
}
_IN_USE = {
    Staff: "职工 {obj} 仍有车辆、通行证或订单记录，不能删除。如已离职，请把人员状态改为“离职”。",
    Vehicle: "车辆 {obj} 仍有通行证或订单记录，不能删除。",
    Pass: "通行证 {obj} 已被续费订单引用，不能删除。",
}


def record_delete(*, obj: Staff | Vehicle | Pass, acting_user: Any = None, reason: str = "") -> None:
    """Delete a staff member, vehicle or pass that nothing refers to; audited. Raises CampusPassError
    when other records still refer to it (they are PROTECT)."""
    model = type(obj)
    if isinstance(obj, Pass):
        plate, staff_no = obj.vehicle.plate, obj.holder.staff_no
    elif isinstance(obj, Vehicle):
        plate, staff_no = obj.plate, obj.owner.staff_no
    else:
        plate, staff_no = "", obj.staff_no
    snapshot = {
        f.name: _audit_value(getattr(obj, f.name))
        for f in model._meta.concrete_fields
        if f.name not in ("id", "created_at", "updated_at")
    }
    try:
        with transaction.atomic():
            log_action(
                actor=acting_user,
                action=_DELETE_ACTIONS[model],
                obj=obj,
                reason=reason,
                data={"deleted": snapshot},
                plate=plate,
                staff_no=staff_no,
            )
            obj.delete()
    except (ProtectedError, IntegrityError):
        raise CampusPassError(_IN_USE[model].format(obj=obj), code="protected") from None


# --- the full phone number -------------------------------------------------------------------------

PHONE_VIEWED = "core.phone.viewed"
#: Where a full number can be shown, and the reason the audit log gives.
PHONE_VIEW_PLACES = {
    "counter": "窗口领取查看完整手机号",
    "delivery": "送证上门查看完整手机号",
    "onsite.staff": "现场办理查看完整手机号",
    "admin.staff.change": "后台查看职工信息（完整手机号）",
}


def reveal_phone(*, staff: Staff, acting_user: Any, where: str, order: Any = None) -> str:
    """The one door to a person's full mobile number: writes `core.phone.viewed` in one shape
    (actor, staff, staff_no, plate when an order is concerned, data {"where", "order"}) and returns
    the number. The caller has checked the viewer may see it. Raises nothing."""
    place = where.split(":")[0]
    log_action(
        actor=acting_user,
        action=PHONE_VIEWED,
        obj=staff,
        reason=PHONE_VIEW_PLACES.get(place, PHONE_VIEW_PLACES.get(where, "查看完整手机号")),
        data={"where": where, "order": getattr(order, "pk", None)},
        plate=getattr(order, "plate", "") or "",
        staff_no=staff.staff_no,
    )
    return staff.mobile
