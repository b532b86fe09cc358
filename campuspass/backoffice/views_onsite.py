"""The on-site desk ("现场办理"): find a person, vehicle or pass; register and change staff, vehicles and
passes with a reason; renew or issue a pass paid at the counter. Views parse, authorise, call one
service and render."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from campuspass.core.errors import CampusPassError
from campuspass.core.phones import mask_phone
from campuspass.registry import services as registry
from campuspass.registry.models import Pass, Staff, Vehicle
from campuspass.registry.selectors import find_staff
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.selectors import current_campaign
from campuspass.renewals.services import onsite
from campuspass.renewals.services.refunds import order_refund_route

from .forms import (
    OnsitePassNewForm,
    OnsiteRenewForm,
    OnsiteSearchForm,
    PassEditForm,
    StaffForm,
    VehicleForm,
    add_service_error,
)
from .roles import can, role_required

SCREEN = "onsite"
RESULT_LIMIT = 50

STAFF_ERRORS = {"staff_no": "staff_no", "phone": "mobile", "required": "name", "duplicate": "staff_no"}
VEHICLE_ERRORS = {"plate": "plate", "duplicate": "plate", "not_found": "owner_staff_no"}
PASS_ERRORS = {"duplicate": "number", "dates": "valid_to", "too_long": "number", "required": "number"}
PAYMENT_ERRORS = {
    "receipt_required": "receipt_no",
    "receipt_too_long": "receipt_no",
    "receipt_used": "receipt_no",
    "method": "method",
    "address_required": "delivery_address",
    "address_too_long": "delivery_address",
    "fulfilment": "fulfilment",
    "reason_required": "reason",
}


def _render(request, template: str, context: dict) -> HttpResponse:
    return render(request, f"backoffice/onsite/{template}", {"screen": SCREEN, **context})


def search_registry(q: str) -> list[Staff]:
    """Staff the query finds (registry.selectors.find_staff: plate in any spelling or part, 工号 or
    part, name, whole phone or its last 4 digits, pass number), with their vehicles and passes."""
    return list(
        find_staff(q, limit=RESULT_LIMIT).prefetch_related(
            Prefetch("vehicles", queryset=Vehicle.objects.order_by("plate")),
            Prefetch("passes", queryset=Pass.objects.select_related("vehicle").order_by("-year", "number")),
        )
    )


@role_required(SCREEN)
def desk(request):
    form = OnsiteSearchForm(request.GET or None)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    results = search_registry(q)
    for staff in results:
        staff.masked = mask_phone(staff.mobile)
    context = {
        "form": form,
        "q": q,
        "results": results,
        "campaign": current_campaign(),
        "limit": RESULT_LIMIT,
    }
    if request.headers.get("HX-Request"):
        return _render(request, "_results.html", context)
    return _render(request, "desk.html", context)


@role_required(SCREEN)
def staff_detail(request, pk: int):
    staff = get_object_or_404(Staff, pk=pk)
    campaign = current_campaign()
    vehicles = list(staff.vehicles.order_by("plate"))
    passes = list(
        Pass.objects.filter(Q(holder=staff) | Q(vehicle__owner=staff)).select_related("vehicle", "holder")
    )
    orders = list(
        RenewalOrder.objects.filter(staff=staff)
        .select_related("campaign", "new_pass")
        .order_by("-created_at")[:20]
    )
    open_passes = set()
    if campaign is not None:
        open_passes = set(
            RenewalOrder.objects.filter(
                campaign=campaign, previous_pass__in=passes, status__in=RenewalOrder.OPEN_STATUSES
            ).values_list("previous_pass_id", flat=True)
        )
        this_year = {p.vehicle_id for p in passes if p.year == campaign.year}
        renewable = {
            p.vehicle_id
            for p in passes
            if p.year == campaign.previous_year and p.review_status == Pass.ReviewStatus.APPROVED
        }
        ordered = set(
            RenewalOrder.objects.filter(
                campaign=campaign, vehicle__in=vehicles, status__in=RenewalOrder.OPEN_STATUSES
            ).values_list("vehicle_id", flat=True)
        )
        for vehicle in vehicles:
            # A car with last year's pass renews; one with an open order already has its pass coming.
            vehicle.can_issue = vehicle.pk not in this_year | renewable | ordered
        for permit in passes:
            permit.can_renew = (
                permit.year == campaign.previous_year
                and permit.review_status == Pass.ReviewStatus.APPROVED
                and permit.pk not in open_passes
                and permit.vehicle_id not in this_year
            )
    for order in orders:
        # What the desk tells the person: the payment's own refund route (counter, online, automatic).
        route = order_refund_route(order)
        order.refund_note = route.office_text if route else ""
    return _render(
        request,
        "staff.html",
        {
            "staff": staff,
            "masked": mask_phone(staff.mobile),
            "can_full_phone": can(request.user, "full_phone"),
            "vehicles": vehicles,
            "passes": sorted(passes, key=lambda p: (-p.year, p.number)),
            "orders": orders,
            "campaign": campaign,
            "active": staff.status == Staff.Status.ACTIVE,
        },
    )


@role_required(SCREEN)
@require_POST
def staff_phone(request, pk: int):
    if not can(request.user, "full_phone"):
        return HttpResponse("无权查看完整手机号。", status=403)
    staff = get_object_or_404(Staff, pk=pk)
    number = onsite.staff_phone_reveal(staff=staff, acting_user=request.user, where="onsite.staff")
    if request.headers.get("HX-Request"):
        return HttpResponse(format_html('<span class="full-phone">{}</span>', number))
    messages.info(request, f"{staff.name} 的手机号：{number}（已记入审计日志）")
    return redirect("backoffice:onsite_staff", pk=staff.pk)


@role_required(SCREEN)
def staff_new(request):
    form = StaffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            staff = registry.staff_create(
                staff_no=data["staff_no"],
                name=data["name"],
                department=data["department"],
                mobile=data["mobile"],
                status=data["status"],
                acting_user=request.user,
                reason=data["reason"],
            )
        except CampusPassError as exc:
            add_service_error(form, exc, STAFF_ERRORS)
        else:
            messages.success(request, f"已登记职工 {staff.name}（{staff.staff_no}）。")
            return redirect("backoffice:onsite_staff", pk=staff.pk)
    return _render(
        request,
        "form.html",
        {"form": form, "title": "登记新职工", "submit": "登记", "back": reverse("backoffice:onsite")},
    )


@role_required(SCREEN)
def staff_edit(request, pk: int):
    staff = get_object_or_404(Staff, pk=pk)
    initial = {"name": staff.name, "department": staff.department, "status": staff.status}
    form = StaffForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {k: data[k] for k in ("name", "department", "status")}
        if data["mobile"].strip():
            values["mobile"] = data["mobile"]
        try:
            registry.staff_update(staff=staff, acting_user=request.user, reason=data["reason"], **values)
        except CampusPassError as exc:
            add_service_error(form, exc, STAFF_ERRORS)
        else:
            messages.success(request, f"已保存 {staff.staff_no} 的职工信息。")
            return redirect("backoffice:onsite_staff", pk=staff.pk)
    form.fields[
        "mobile"
    ].help_text = f"现登记：{mask_phone(staff.mobile)}。只在更换手机号时填写新号码，留空则不变。"
    return _render(
        request,
        "form.html",
        {
            "form": form,
            "title": f"修改职工信息：{staff.name}（{staff.staff_no}）",
            "submit": "保存修改",
            "back": reverse("backoffice:onsite_staff", args=[staff.pk]),
        },
    )


@role_required(SCREEN)
def vehicle_new(request):
    owner = Staff.objects.filter(pk=request.GET.get("staff") or 0).first()
    form = VehicleForm(request.POST or None, initial={"owner_staff_no": owner.staff_no if owner else ""})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            vehicle = registry.vehicle_create(
                plate=data["plate"],
                owner=data["owner"],
                vehicle_type=data["vehicle_type"],
                brand_model=data["brand_model"],
                color=data["color"],
                acting_user=request.user,
                reason=data["reason"],
            )
        except CampusPassError as exc:
            add_service_error(form, exc, VEHICLE_ERRORS)
        else:
            messages.success(request, f"已登记车辆 {vehicle.plate}。如需办理本年度通行证，请点“办理新证”。")
            return redirect("backoffice:onsite_staff", pk=vehicle.owner_id)
    back = reverse("backoffice:onsite_staff", args=[owner.pk]) if owner else reverse("backoffice:onsite")
    return _render(
        request, "form.html", {"form": form, "title": "登记新车辆", "submit": "登记", "back": back}
    )


@role_required(SCREEN)
def vehicle_edit(request, pk: int):
    vehicle = get_object_or_404(Vehicle.objects.select_related("owner"), pk=pk)
    initial = {
        "plate": vehicle.plate,
        "owner_staff_no": vehicle.owner.staff_no,
        "vehicle_type": vehicle.vehicle_type,
        "brand_model": vehicle.brand_model,
        "color": vehicle.color,
    }
    form = VehicleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            vehicle = registry.vehicle_update(
                vehicle=vehicle,
                acting_user=request.user,
                reason=data["reason"],
                plate=data["plate"],
                owner=data["owner"],
                vehicle_type=data["vehicle_type"],
                brand_model=data["brand_model"],
                color=data["color"],
            )
        except CampusPassError as exc:
            add_service_error(form, exc, VEHICLE_ERRORS)
        else:
            messages.success(request, f"已保存车辆 {vehicle.plate} 的信息。")
            return redirect("backoffice:onsite_staff", pk=vehicle.owner_id)
    return _render(
        request,
        "form.html",
        {
            "form": form,
            "title": f"修改车辆信息：{vehicle.plate}",
            "submit": "保存修改",
            "back": reverse("backoffice:onsite_staff", args=[vehicle.owner_id]),
        },
    )


@role_required(SCREEN)
def pass_edit(request, pk: int):
    permit = get_object_or_404(Pass.objects.select_related("vehicle", "holder"), pk=pk)
    initial = {
        "number": permit.number,
        "review_status": permit.review_status,
        "valid_from": permit.valid_from,
        "valid_to": permit.valid_to,
    }
    form = PassEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registry.pass_update(
                permit=permit,
                acting_user=request.user,
                reason=data["reason"],
                number=data["number"],
                review_status=data["review_status"],
                valid_from=data["valid_from"],
                valid_to=data["valid_to"],
            )
        except CampusPassError as exc:
            add_service_error(form, exc, PASS_ERRORS)
        else:
            messages.success(request, f"已保存通行证 {permit.year} {data['number']}。")
            return redirect("backoffice:onsite_staff", pk=permit.holder_id)
    return _render(
        request,
        "form.html",
        {
            "form": form,
            "title": f"修改通行证：{permit.year}年度 {permit.number}（{permit.vehicle.plate}）",
            "submit": "保存修改",
            "back": reverse("backoffice:onsite_staff", args=[permit.holder_id]),
        },
    )


def _no_campaign(request) -> HttpResponse:
    messages.error(request, "还没有续费活动，无法办理。请管理员先在“设置”中创建本年度的续费活动。")
    return redirect("backoffice:onsite")


@role_required(SCREEN)
def renew(request, pk: int):
    permit = get_object_or_404(Pass.objects.select_related("vehicle", "holder"), pk=pk)
    campaign = current_campaign()
    if campaign is None:
        return _no_campaign(request)
    existing = (
        RenewalOrder.objects.filter(
            previous_pass=permit, campaign=campaign, status__in=RenewalOrder.OPEN_STATUSES
        )
        .exclude(channel=RenewalOrder.Channel.ONSITE, status=RenewalOrder.Status.PENDING_PAYMENT)
        .first()
    )
    if existing is not None:
        # Say so before any money changes hands, not after the clerk has taken it.
        messages.error(
            request,
            f"{permit.vehicle.plate} 已有{campaign.year}年度的订单 {existing.out_trade_no}（{existing.status_label}），"
            "无需也不能再次续费，请勿收款。",
        )
        return redirect("backoffice:onsite_staff", pk=permit.holder_id)
    form = OnsiteRenewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = onsite.onsite_renewal(
                previous_pass=permit,
                campaign=campaign,
                acting_user=request.user,
                method=data["method"],
                receipt_no=data["receipt_no"],
                fulfilment=data["fulfilment"],
                delivery_address=data["delivery_address"],
            )
        except CampusPassError as exc:
            add_service_error(form, exc, PAYMENT_ERRORS)
        else:
            messages.success(
                request,
                f"已现场续费：订单 {order.out_trade_no}，收款 {order.amount_yuan} 元（收据号 {order.payment_receipt_no}），"
                "订单进入审核。",
            )
            return redirect("backoffice:onsite_staff", pk=permit.holder_id)
    return _render(
        request,
        "form.html",
        {
            "form": form,
            "title": f"现场续费：{permit.vehicle.plate}（{permit.year}年度 {permit.number}）",
            "intro": (
                f"{campaign.product_name}，{campaign.price_yuan} 元。持证人 {permit.holder.name}（{permit.holder.staff_no}，"
                f"{permit.holder.get_status_display()}）。请核验工作证，收款后填写收据号。"
                "外省（市）号牌和线上办理时间以外均可现场续费。"
            ),
            "submit": f"已收款 {campaign.price_yuan} 元，提交",
            "back": reverse("backoffice:onsite_staff", args=[permit.holder_id]),
        },
    )


@role_required(SCREEN)
def pass_new(request, pk: int):
    vehicle = get_object_or_404(Vehicle.objects.select_related("owner"), pk=pk)
    campaign = current_campaign()
    if campaign is None:
        return _no_campaign(request)
    form = OnsitePassNewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            permit = onsite.onsite_pass_issue(
                campaign=campaign,
                vehicle=vehicle,
                holder=vehicle.owner,
                acting_user=request.user,
                method=data["method"],
                receipt_no=data["receipt_no"],
                reason=data["reason"],
            )
        except CampusPassError as exc:
            add_service_error(form, exc, PAYMENT_ERRORS)
        else:
            messages.success(request, f"已办理 {permit.year} 年度通行证 {permit.number}（{vehicle.plate}）。")
            return redirect("backoffice:onsite_staff", pk=vehicle.owner_id)
    return _render(
        request,
        "form.html",
        {
            "form": form,
            "title": f"办理新证：{vehicle.plate}，{campaign.year}年度",
            "intro": (
                f"新车或新入职职工（没有 {campaign.previous_year} 年度通行证）现场办理 {campaign.product_name}，"
                f"{campaign.price_yuan} 元。持证人：{vehicle.owner.name}（{vehicle.owner.staff_no}）。"
                f"有效期 {campaign.valid_from:%Y-%m-%d} 至 {campaign.valid_to:%Y-%m-%d}。"
            ),
            "submit": f"已收款 {campaign.price_yuan} 元，办理",
            "back": reverse("backoffice:onsite_staff", args=[vehicle.owner_id]),
        },
    )
