"""道闸同步: each gate's state (heartbeat, last successful sync, failures with reasons, retry), whether
one plate's pass reached each gate, suspending passes and the deny list, and gate devices' keys.
Views parse, authorise, call one service, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campuspass.core import plate_kinds
from campuspass.core.errors import CampusPassError
from campuspass.core.plates import InvalidPlate, normalize_plate
from campuspass.gates import desired, services
from campuspass.gates.models import Crossing, DenyEntry, Gate, GateGroup, PassSuspension
from campuspass.gates.selectors import gate_overview, plate_report

from .roles import can, role_required


@role_required("gates")
@require_GET
def overview(request):
    context = {"rows": gate_overview(), "screen": "gates", "can_control": can(request.user, "gates_control")}
    raw = request.GET.get("plate", "").strip()
    if raw:
        try:
            plate = normalize_plate(raw)
        except InvalidPlate as exc:
            context["plate_error"] = exc.reason
        else:
            state, rows = plate_report(plate)
            context.update(
                plate=plate,
                state=state,
                state_label=desired.REASON_CODES[state.reason_code],
                colour_label=plate_kinds.COLOUR_LABELS.get(state.colour, state.colour),
                plate_rows=rows,
                crossings=Crossing.objects.filter(plate=plate)
                .select_related("gate")
                .order_by("-crossed_at")[:10],
            )
    context["plate_query"] = raw
    if context["can_control"]:
        context["suspensions"] = PassSuspension.objects.filter(lifted_at__isnull=True).select_related(
            "pass_obj__vehicle", "created_by"
        )
        context["denied"] = DenyEntry.objects.filter(lifted_at__isnull=True).select_related("created_by")
        context["colours"] = plate_kinds.COLOUR_CHOICES
        context["groups"] = GateGroup.objects.all()
    return render(request, "backoffice/gates/overview.html", context)


@role_required("gates")
@require_POST
def retry(request, pk: int):
    gate = get_object_or_404(Gate, pk=pk)
    count = services.retry_gate(gate=gate, acting_user=request.user)
    if count:
        messages.success(request, f"已将“{gate.name}”的 {count} 条失败记录重新排队，马上重新推送。")
    else:
        messages.info(request, f"“{gate.name}”没有失败的记录。")
    return redirect("backoffice:gates")


@role_required("gates")
@require_POST
def compare(request, pk: int):
    gate = get_object_or_404(Gate, pk=pk, kind__in=Gate.PUSH_KINDS)
    services.request_full_compare(gate=gate, acting_user=request.user)
    messages.success(request, f"已为“{gate.name}”安排全量比对，完成后本页的“最近全量比对”会更新。")
    return redirect("backoffice:gates")


ACTIONS = {
    "suspend": (services.suspend_pass, "已暂停 {plate} 的通行证，各道闸将随即收到变更。"),
    "resume": (services.lift_suspension, "已恢复 {plate} 的通行证，各道闸将随即收到变更。"),
    "deny": (services.deny_plate, "已将 {plate} 加入禁止通行名单，各道闸将随即收到变更。"),
    "undeny": (services.lift_deny, "已将 {plate} 移出禁止通行名单，各道闸将随即收到变更。"),
}


@role_required("gates_control")
@require_POST
def control(request):
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        messages.error(request, "未知的操作，请刷新页面后重试。")
        return redirect("backoffice:gates")
    service, done = ACTIONS[action]
    kwargs = {"plate": request.POST.get("plate", ""), "reason": request.POST.get("reason", "")}
    if action == "deny":
        kwargs["colour"] = request.POST.get("colour", "")
    try:
        result = service(acting_user=request.user, **kwargs)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        plate = getattr(result, "plate", None) or result.pass_obj.vehicle.plate
        messages.success(request, done.format(plate=plate))
    return redirect(f"{reverse('backoffice:gates')}?plate={request.POST.get('plate', '')}")


@role_required("gates_control")
@require_POST
def scope(request):
    """Where the plate's pass is valid: the ticked car parks / gate groups, or every gate."""
    plate = request.POST.get("plate", "")
    try:
        permit = services.current_pass(normalize_plate(plate))
        services.set_pass_groups(permit=permit, codes=request.POST.getlist("group"), acting_user=request.user)
    except InvalidPlate as exc:
        messages.error(request, exc.reason)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已更新 {permit.number} 的通行范围，各道闸将随即收到变更。")
    return redirect(f"{reverse('backoffice:gates')}?plate={plate}")


class GroupForm(forms.ModelForm):
    class Meta:
        model = GateGroup
        fields = ["code", "name"]


@role_required("gates_devices")
@require_POST
def group_new(request):
    form = GroupForm(request.POST)
    if form.is_valid():
        group = services.create_group(values=form.cleaned_data, acting_user=request.user)
        messages.success(request, f"已添加车场/道闸组“{group.name}”。")
    else:
        problems = "；".join(f"{form.fields[k].label}：{' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"未能添加：{problems}")
    return redirect("backoffice:gatedevices")


class GateForm(forms.ModelForm):
    base_url = forms.URLField(label="接口地址", required=False, assume_scheme="https")

    class Meta:
        model = Gate
        fields = ["name", "kind", "group", "base_url", "username", "secret_env", "park_code", "channel"]


@role_required("gates_devices")
@require_http_methods(["GET", "POST"])
def devices(request):
    form = GateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            gate = services.register_gate(values=form.cleaned_data, acting_user=request.user)
            messages.success(request, f"已登记道闸“{gate.name}”。")
            return redirect("backoffice:gatedevices")
        messages.error(request, "请按红字提示修改后再保存。")
    context = {
        "new_secret": request.session.pop("gate_new_secret", None),
        "gates": Gate.objects.select_related("group"),
        "groups": GateGroup.objects.all(),
        "form": form,
        "group_form": GroupForm(),
        "screen": "gates",
    }
    return render(request, "backoffice/gates/devices.html", context)


@role_required("gates_devices")
@require_POST
def issue_key(request, pk: int):
    gate = get_object_or_404(Gate, pk=pk)
    secret = services.issue_key(gate=gate, acting_user=request.user)
    gate.refresh_from_db()
    # Shown once; the system keeps no copy (it is derived again from SECRET_KEY when checking).
    request.session["gate_new_secret"] = {"gate": gate.name, "key_id": gate.key_id, "secret": secret}
    return redirect("backoffice:gatedevices")


@role_required("gates_devices")
@require_POST
def revoke_key(request, pk: int):
    gate = get_object_or_404(Gate, pk=pk)
    try:
        services.revoke_key(gate=gate, reason=request.POST.get("reason", ""), acting_user=request.user)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已吊销“{gate.name}”的密钥，该设备的请求即刻被拒绝。")
    return redirect("backoffice:gatedevices")
