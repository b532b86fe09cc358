"""Campaign settings (product.md section 2) and the lists administrators maintain: consent text
versions, reject reasons, holiday overrides. Every write is audited; consent versions are only added."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from campuspass.core.audit import diff_fields, json_value, log_action
from campuspass.core.errors import CampusPassError
from campuspass.core.plates import PROVINCES

from ..models import Campaign, ConsentVersion, Holiday, RejectReason

CAMPAIGN_FIELDS = (
    "year",
    "previous_year",
    "product_name",
    "price_fen",
    "window_start",
    "window_end",
    "valid_from",
    "valid_to",
    "local_prefixes",
    "pickup_place",
    "pickup_hours",
    "contact_phones",
    "pickup_delay_working_days",
    "print_cutoff",
    "unpaid_timeout_minutes",
    "photo_retention_days",
    "auto_refund_on_reject",
    "pass_number_prefix",
)
_PRICE_RE = re.compile(r"(\d{1,7})(?:\.(\d{1,2}))?")
_PASS_PREFIX_RE = re.compile(r"[A-Z0-9]{0,16}")
# Upper bounds that keep a typo from doing harm (a 0-minute timeout, a 10-year retention).
_INT_LIMITS = {
    "pickup_delay_working_days": ("制证工作日数", 0, 30),
    "unpaid_timeout_minutes": ("未支付订单超时（分钟）", 5, 1440),
    "photo_retention_days": ("证件照片保留天数", 0, 3650),
}


def parse_price_yuan(value: Any) -> int:
    """ "150" / "150.00" / "150.5" yuan → fen, exactly (Decimal, never float). Raises CampusPassError."""
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    text = text.removeprefix("¥").removesuffix("元").strip()
    match = _PRICE_RE.fullmatch(text)
    if not match:
        raise CampusPassError(
            "价格格式不正确：请填写以元为单位的金额，最多两位小数，如 150 或 150.50。", code="price"
        )
    try:
        fen = int(Decimal(text) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern already rules it out
        raise CampusPassError("价格格式不正确，请填写如 150.00 的金额。", code="price") from None
    if fen <= 0:
        raise CampusPassError("价格必须大于 0 元。", code="price")
    return fen


def _clean_prefixes(value: str) -> str:
    parts = [
        p.strip().upper() for p in unicodedata.normalize("NFKC", value or "").replace("，", ",").split(",")
    ]
    parts = [p for p in parts if p]
    if not parts:
        raise CampusPassError("请至少填写一个可线上办理的号牌前缀，如“京”。", code="prefixes")
    for part in parts:
        if part[0] not in PROVINCES or len(part) > 2 or (len(part) == 2 and not part[1].isalpha()):
            raise CampusPassError(
                f"号牌前缀“{part}”无效：应为省份简称（如“京”）或省份简称加一个字母（如“粤B”），多个用逗号分隔。",
                code="prefixes",
            )
    return ",".join(dict.fromkeys(parts))


def _clean_campaign(values: dict[str, Any], current: Campaign | None) -> dict[str, Any]:
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign fields {sorted(unknown)}")
    out = dict(values)
    if "price_fen" in out:
        fen = out["price_fen"]
        if not isinstance(fen, int) or isinstance(fen, bool) or fen <= 0:
            raise CampusPassError("价格必须大于 0 元。", code="price")
    for name in ("product_name", "pickup_place", "pickup_hours", "contact_phones"):
        if name in out:
            out[name] = " ".join(str(out[name] or "").split())
            if not out[name]:
                label = Campaign._meta.get_field(name).verbose_name
                raise CampusPassError(f"{label}不能为空，请填写后保存。", code="required")
    if "local_prefixes" in out:
        out["local_prefixes"] = _clean_prefixes(out["local_prefixes"])
    if "pass_number_prefix" in out:
        prefix = "".join(str(out["pass_number_prefix"] or "").split()).upper()
        if not _PASS_PREFIX_RE.fullmatch(prefix):
            raise CampusPassError(
                "通行证编号前缀只能由字母和数字组成（最多 16 位），如 YXB。", code="pass_prefix"
            )
        out["pass_number_prefix"] = prefix
    for name, (label, low, high) in _INT_LIMITS.items():
        if name in out and not (isinstance(out[name], int) and low <= out[name] <= high):
            raise CampusPassError(f"{label}应在 {low} 到 {high} 之间。", code="range")

    def final(name: str) -> Any:
        return out[name] if name in out else getattr(current, name, None)

    year, previous_year = final("year"), final("previous_year")
    if year is None or previous_year is None:
        raise CampusPassError("请填写通行证年度和可续费的上一年度。", code="required")
    if not 2000 <= year <= 2100:
        raise CampusPassError(f"通行证年度 {year} 无效，应为四位数字，如 2019。", code="year")
    if previous_year >= year:
        raise CampusPassError(
            f"可续费的上一年度（{previous_year}）必须早于通行证年度（{year}），通常为 {year - 1}。",
            code="years",
        )
    start, end = final("window_start"), final("window_end")
    if start is None or end is None:
        raise CampusPassError("请填写线上办理的开始和结束时间。", code="required")
    if start >= end:
        raise CampusPassError("线上办理结束时间必须晚于开始时间，请核对后保存。", code="window")
    valid_from, valid_to = final("valid_from"), final("valid_to")
    if valid_from is None or valid_to is None:
        raise CampusPassError("请填写新证有效期的起止日期。", code="required")
    if valid_from > valid_to:
        raise CampusPassError("新证有效期止不能早于有效期起，请核对后保存。", code="validity")
    if final("price_fen") is None:
        raise CampusPassError("请填写价格。", code="required")
    if final("product_name") is None:
        raise CampusPassError("请填写商品名称。", code="required")
    duplicate = Campaign.objects.filter(year=year).exclude(pk=getattr(current, "pk", None))
    if duplicate.exists():
        raise CampusPassError(f"{year} 年度的续费活动已存在，请在原活动上修改。", code="duplicate")
    return out


def campaign_create(*, acting_user: Any, **values: Any) -> Campaign:
    """A new year's campaign (with the notice's defaults for fields not given). Raises CampusPassError."""
    values = _clean_campaign(values, None)
    with transaction.atomic():
        campaign = Campaign(**values)
        try:
            with transaction.atomic():
                campaign.save()
        except IntegrityError:
            raise CampusPassError(
                f"{values['year']} 年度的续费活动已存在，请在原活动上修改。", code="duplicate"
            ) from None
        log_action(
            actor=acting_user,
            action="renewals.campaign.created",
            obj=campaign,
            data={"changes": {name: [None, json_value(getattr(campaign, name))] for name in CAMPAIGN_FIELDS}},
        )
    return campaign


def campaign_update(*, campaign: Campaign, acting_user: Any, **values: Any) -> Campaign:
    """Change campaign settings; the audit entry holds the field changes (nothing written when none).
    Raises CampusPassError."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
        values = _clean_campaign(values, campaign)
        changes = diff_fields(campaign, values)
        if not changes:
            return campaign
        for name in changes:
            setattr(campaign, name, values[name])
        try:
            with transaction.atomic():
                campaign.save(update_fields=[*changes, "updated_at"])
        except IntegrityError:
            raise CampusPassError("保存失败：年度与已有活动重复，请核对后重试。", code="duplicate") from None
        log_action(
            actor=acting_user, action="renewals.campaign.updated", obj=campaign, data={"changes": changes}
        )
    return campaign


# --- consent text ---------------------------------------------------------------------------------


def consent_add_version(*, campaign: Campaign, text: str, acting_user: Any) -> ConsentVersion:
    """Add the next version of the 知情同意书 (old versions are never changed). Raises CampusPassError."""
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) < 10:
        raise CampusPassError("知情同意书正文太短，请填写完整内容后保存。", code="consent_text")
    with transaction.atomic():
        # The campaign row is the lock that numbers versions one after another.
        campaign = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
        current = campaign.consent_versions.order_by("-version").first()
        if current is not None and current.text == text:
            raise CampusPassError("正文与当前版本相同，没有新增版本。修改正文后再保存。", code="consent_same")
        number = (campaign.consent_versions.aggregate(m=Max("version"))["m"] or 0) + 1
        version = ConsentVersion.objects.create(
            campaign=campaign,
            version=number,
            text=text,
            sha256=ConsentVersion.hash_text(text),
            created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        )
        log_action(
            actor=acting_user,
            action="renewals.consent.version_added",
            obj=version,
            data={"campaign": campaign.year, "version": number, "sha256": version.sha256},
        )
    return version


# --- reject reasons -------------------------------------------------------------------------------


def _clean_reason_text(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise CampusPassError("请填写不通过原因的内容。", code="required")
    if len(text) > 100:
        raise CampusPassError("不通过原因最多 100 个字，请精简后保存。", code="too_long")
    if "重新上传" in text or "重新提交照片" in text:
        # A rejected order cannot take a new photo: it is refunded, and the person renews again.
        raise CampusPassError(
            "审核不通过的订单不能重新上传照片（只能退款后重新办理或到现场办理），请不要在原因中写“重新上传”。",
            code="promise",
        )
    return text


def reject_reason_create(*, text: str, acting_user: Any) -> RejectReason:
    """Add a reason at the end of the list. Raises CampusPassError."""
    text = _clean_reason_text(text)
    with transaction.atomic():
        if RejectReason.objects.filter(text=text).exists():
            raise CampusPassError(f"“{text}”已在列表中（如已停用，可重新启用）。", code="duplicate")
        position = (RejectReason.objects.aggregate(m=Max("position"))["m"] or 0) + 1
        reason = RejectReason.objects.create(text=text, position=position)
        log_action(
            actor=acting_user, action="renewals.reject_reason.created", obj=reason, data={"text": text}
        )
    return reason


def reject_reason_update(*, reason: RejectReason, text: str, acting_user: Any) -> RejectReason:
    """Change the wording (orders already rejected keep the text they were sent). Raises CampusPassError."""
    text = _clean_reason_text(text)
    with transaction.atomic():
        reason = RejectReason.objects.select_for_update().get(pk=reason.pk)
        if reason.text == text:
            return reason
        if RejectReason.objects.filter(text=text).exclude(pk=reason.pk).exists():
            raise CampusPassError(f"“{text}”已在列表中。", code="duplicate")
        before = reason.text
        reason.text = text
        reason.save(update_fields=["text"])
        log_action(
            actor=acting_user,
            action="renewals.reject_reason.updated",
            obj=reason,
            data={"changes": {"text": [before, text]}},
        )
    return reason


def reject_reason_set_active(*, reason: RejectReason, active: bool, acting_user: Any) -> RejectReason:
    """Deactivate (hide from reviewers) or reactivate a reason. Raises nothing."""
    with transaction.atomic():
        reason = RejectReason.objects.select_for_update().get(pk=reason.pk)
        if reason.active == active:
            return reason
        reason.active = active
        reason.save(update_fields=["active"])
        log_action(
            actor=acting_user,
            action="renewals.reject_reason.activated" if active else "renewals.reject_reason.deactivated",
            obj=reason,
            data={"changes": {"active": [not active, active]}},
        )
    return reason


def reject_reason_move(*, reason: RejectReason, direction: str, acting_user: Any) -> None:
    """Move a reason one place up or down in the reviewers' list. Raises CampusPassError."""
    if direction not in ("up", "down"):
        raise CampusPassError("无法识别的排序操作，请刷新页面后重试。", code="direction")
    with transaction.atomic():
        reasons = list(RejectReason.objects.select_for_update().order_by("position", "id"))
        index = next((i for i, r in enumerate(reasons) if r.pk == reason.pk), None)
        if index is None:
            raise CampusPassError("该原因已不存在，请刷新页面。", code="not_found")
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(reasons):
            return
        reasons[index], reasons[other] = reasons[other], reasons[index]
        # Renumber the whole list: positions may have ties from older data.
        for position, item in enumerate(reasons, start=1):
            if item.position != position:
                item.position = position
                item.save(update_fields=["position"])
        log_action(
            actor=acting_user,
            action="renewals.reject_reason.reordered",
            obj=reasons[other],
            data={"order": [r.text for r in reasons]},
        )


# --- holidays ---------------------------------------------------------------------------------------


def holiday_set(*, date: dt.date, is_workday: bool, name: str = "", acting_user: Any) -> Holiday:
    """Mark a day as 放假 or 调休上班 (replacing an earlier entry for that day). Raises CampusPassError."""
    name = " ".join((name or "").split())
    if len(name) > 50:
        raise CampusPassError("说明最多 50 个字。", code="too_long")
    with transaction.atomic():
        holiday = Holiday.objects.select_for_update().filter(date=date).first()
        before = None if holiday is None else {"is_workday": holiday.is_workday, "name": holiday.name}
        if holiday is None:
            holiday = Holiday(date=date)
        elif before == {"is_workday": is_workday, "name": name}:
            return holiday
        holiday.is_workday, holiday.name = is_workday, name
        holiday.save()
        log_action(
            actor=acting_user,
            action="renewals.holiday.set",
            obj=holiday,
            data={"date": date.isoformat(), "before": before, "is_workday": is_workday, "name": name},
        )
    return holiday


def holiday_remove(*, holiday: Holiday, acting_user: Any) -> None:
    """Remove a day's override (the built-in calendar applies again). Raises nothing."""
    with transaction.atomic():
        log_action(
            actor=acting_user,
            action="renewals.holiday.removed",
            obj=holiday,
            data={"date": holiday.date.isoformat(), "is_workday": holiday.is_workday, "name": holiday.name},
        )
        Holiday.objects.filter(pk=holiday.pk).delete()
