"""Settings ("设置", administrators only): campaigns, consent text versions, reject reasons, holidays,
users and roles. Views parse, authorise, call one service and render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_POST

from campuspass.core.errors import CampusPassError
from campuspass.renewals.models import Campaign, ConsentVersion, Holiday, RejectReason
from campuspass.renewals.services import campaigns as services

from . import users as user_services
from .forms import (
    CAMPAIGN_ERROR_FIELDS,
    CampaignForm,
    ConsentForm,
    HolidayForm,
    RejectReasonForm,
    UserCreateForm,
    UserRolesForm,
    add_service_error,
)
from .roles import ROLES, role_required

SCREEN = "settings"


def _render(request, template: str, context: dict):
    return render(request, f"backoffice/settings/{template}", {"screen": SCREEN, **context})


@role_required(SCREEN)
def index(request):
    campaigns = Campaign.objects.annotate(consent_count=Count("consent_versions")).order_by("-year")
    return _render(
        request,
        "index.html",
        {
            "campaigns": campaigns,
            "reasons_active": RejectReason.objects.filter(active=True).count(),
            "holidays_upcoming": Holiday.objects.filter(date__gte=timezone.localdate()).count(),
            "users_active": User.objects.filter(is_active=True).count(),
        },
    )


@role_required(SCREEN)
def campaign_new(request):
    latest = Campaign.objects.order_by("-year").first()
    initial = {}
    if latest is not None:  # start from last year's settings, one year on
        initial = CampaignForm.initial_for(latest)
        initial.update(year=latest.year + 1, previous_year=latest.year)
        for name in ("window_start", "window_end", "valid_from", "valid_to"):
            initial.pop(name)
        initial["product_name"] = latest.product_name.replace(str(latest.year), str(latest.year + 1))
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(acting_user=request.user, **form.service_values())
        except CampusPassError as exc:
            add_service_error(form, exc, CAMPAIGN_ERROR_FIELDS)
        else:
            messages.success(request, f"已创建 {campaign.year} 年度续费活动。请接着添加知情同意书。")
            return redirect("backoffice:settings_consent", pk=campaign.pk)
    return _render(
        request,
        "campaign_form.html",
        {"form": form, "title": "新建续费活动", "submit": "创建活动", "back": reverse("backoffice:settings")},
    )


@role_required(SCREEN)
def campaign_edit(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    form = CampaignForm(request.POST or None, initial=CampaignForm.initial_for(campaign))
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(campaign=campaign, acting_user=request.user, **form.service_values())
        except CampusPassError as exc:
            add_service_error(form, exc, CAMPAIGN_ERROR_FIELDS)
        else:
            messages.success(request, f"已保存 {campaign.year} 年度续费活动的设置。")
            return redirect("backoffice:settings")
    return _render(
        request,
        "campaign_form.html",
        {
            "form": form,
            "campaign": campaign,
            "title": f"{campaign.year} 年度续费活动设置",
            "submit": "保存设置",
            "back": reverse("backoffice:settings"),
        },
    )


@role_required(SCREEN)
def consent(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    versions = list(
        ConsentVersion.objects.filter(campaign=campaign)
        .select_related("created_by")
        .annotate(agreed=Count("records"))
        .order_by("-version")
    )
    current = versions[0] if versions else None
    form = ConsentForm(request.POST or None, initial={"text": current.text if current else ""})
    if request.method == "POST" and form.is_valid():
        try:
            version = services.consent_add_version(
                campaign=campaign, text=form.cleaned_data["text"], acting_user=request.user
            )
        except CampusPassError as exc:
            add_service_error(form, exc, {"consent_text": "text", "consent_same": "text"})
        else:
            messages.success(
                request, f"已添加知情同意书第 {version.version} 版，此后同意的职工看到的是新版本。"
            )
            return redirect("backoffice:settings_consent", pk=campaign.pk)
    return _render(request, "consent.html", {"campaign": campaign, "versions": versions, "form": form})


@role_required(SCREEN)
def reasons(request):
    form = RejectReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reason = services.reject_reason_create(text=form.cleaned_data["text"], acting_user=request.user)
        except CampusPassError as exc:
            add_service_error(form, exc, {"required": "text", "too_long": "text", "duplicate": "text"})
        else:
            messages.success(request, f"已添加不通过原因“{reason.text}”。")
            return redirect("backoffice:settings_reasons")
    return _render(
        request, "reasons.html", {"form": form, "reasons": RejectReason.objects.order_by("position", "id")}
    )


@role_required(SCREEN)
@require_POST
def reason_action(request, pk: int):
    reason = get_object_or_404(RejectReason, pk=pk)
    action = request.POST.get("action", "")
    try:
        if action == "save":
            services.reject_reason_update(
                reason=reason, text=request.POST.get("text", ""), acting_user=request.user
            )
        elif action in ("deactivate", "activate"):
            services.reject_reason_set_active(
                reason=reason, active=action == "activate", acting_user=request.user
            )
        else:
            services.reject_reason_move(reason=reason, direction=action, acting_user=request.user)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    return redirect("backoffice:settings_reasons")


@role_required(SCREEN)
def holidays(request):
    form = HolidayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            day = services.holiday_set(
                date=data["date"],
                is_workday=data["kind"] == "work",
                name=data["name"],
                acting_user=request.user,
            )
        except CampusPassError as exc:
            add_service_error(form, exc, {"too_long": "name"})
        else:
            messages.success(
                request, f"已设置 {day.date:%Y-%m-%d} 为{'调休上班' if day.is_workday else '放假'}。"
            )
            return redirect("backoffice:settings_holidays")
    show_all = request.GET.get("all") == "1"
    days = Holiday.objects.order_by("date")
    if not show_all:
        days = days.filter(date__gte=timezone.localdate().replace(month=1, day=1))
    return _render(request, "holidays.html", {"form": form, "days": days, "show_all": show_all})


@role_required(SCREEN)
@require_POST
def holiday_remove(request, pk: int):
    day = get_object_or_404(Holiday, pk=pk)
    services.holiday_remove(holiday=day, acting_user=request.user)
    messages.success(request, f"已删除 {day.date:%Y-%m-%d} 的调整，该日按法定日历计算。")
    return redirect("backoffice:settings_holidays")


@role_required(SCREEN)
def users(request):
    form = UserCreateForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, password = user_services.user_create(
                username=data["username"],
                full_name=data["full_name"],
                roles=data["roles"],
                acting_user=request.user,
            )
        except CampusPassError as exc:
            add_service_error(
                form,
                exc,
                {"username": "username", "duplicate": "username", "full_name": "full_name", "roles": "roles"},
            )
        else:
            # Shown once, in this response only; never stored in plain text or put in a message cookie.
            created = {"user": user, "password": password}
            form = UserCreateForm()
    people = User.objects.prefetch_related("groups").order_by("-is_active", "username")
    for person in people:
        person.role_names = sorted((g.name for g in person.groups.all() if g.name in ROLES), key=ROLES.index)
    response = _render(request, "users.html", {"form": form, "people": people, "created": created})
    patch_cache_control(response, no_store=True)  # a generated password may be on this page
    return response


@role_required(SCREEN)
def user_detail(request, pk: int):
    person = get_object_or_404(User, pk=pk)
    current = [g for g in person.groups.values_list("name", flat=True) if g in ROLES]
    form = UserRolesForm(request.POST or None, initial={"roles": current})
    if request.method == "POST" and form.is_valid():
        try:
            user_services.user_set_roles(
                user=person, roles=form.cleaned_data["roles"], acting_user=request.user
            )
        except CampusPassError as exc:
            add_service_error(form, exc, {"self_demotion": "roles", "last_admin": "roles", "role": "roles"})
        else:
            messages.success(request, f"已保存 {person.username} 的角色。")
            return redirect("backoffice:settings_user", pk=person.pk)
    return _render(request, "user.html", {"person": person, "form": form, "password": None})


@role_required(SCREEN)
@require_POST
def user_action(request, pk: int):
    person = get_object_or_404(User, pk=pk)
    action = request.POST.get("action", "")
    try:
        if action in ("activate", "deactivate"):
            user_services.user_set_active(user=person, active=action == "activate", acting_user=request.user)
            messages.success(
                request, f"已{'启用' if action == 'activate' else '停用'}账号 {person.username}。"
            )
        elif action == "reset_password":
            password = user_services.user_reset_password(user=person, acting_user=request.user)
            form = UserRolesForm(initial={"roles": [g for g in person.groups.values_list("name", flat=True)]})
            response = _render(request, "user.html", {"person": person, "form": form, "password": password})
            patch_cache_control(response, no_store=True)
            return response
        elif action == "reset_otp":
            user_services.user_reset_second_factor(user=person, acting_user=request.user)
            messages.success(request, f"已重置 {person.username} 的身份验证器，其下次登录时重新设置。")
        else:
            messages.error(request, "无法识别的操作，请刷新页面后重试。")
    except CampusPassError as exc:
        messages.error(request, exc.message)
    return redirect("backoffice:settings_user", pk=person.pk)
