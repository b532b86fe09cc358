"""The SMS kinds and their Chinese texts (product.md section 4; the code message in section 3).

Python strings rather than Django templates: the vendors approve each text as a template with
named (Aliyun) or numbered (Tencent) variables, so every kind declares its parameters in the order
the vendor template numbers them. Texts stay short: one SMS is 70 characters, longer ones are
split and billed per part.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

__all__ = ["TEMPLATES", "SmsTemplate", "SmsTemplateError", "render", "template_choices"]


class SmsTemplateError(ValueError):
    """An unknown message kind, or parameters that do not fit it (a programming error)."""


@dataclass(frozen=True)
class SmsTemplate:
    name: str
    label: str
    #: The parameter names, in the order of the vendor template's {1}, {2}, … (Tencent).
    params: tuple[str, ...]
    text: str

    def __post_init__(self) -> None:
        used = {field for _, field, _, _ in string.Formatter().parse(self.text) if field}
        if used != set(self.params) | {"sign"}:
            raise SmsTemplateError(
                f"SMS template {self.name!r}: placeholders {sorted(used)} do not match its params"
            )


_HELP = "咨询电话：{phones}"

TEMPLATES: dict[str, SmsTemplate] = {
    t.name: t
    for t in (
        SmsTemplate(
            name="otp",
            label="验证码",
            params=("code", "minutes"),
            text="【{sign}】您正在办理机动车通行证，验证码 {code}，{minutes}分钟内有效。如非本人操作请忽略。",
        ),
        SmsTemplate(
            name="approved_pickup",
            label="审核通过（现场领取）",
            params=("year", "plate", "pickup_date", "place", "old_year", "phones"),
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）已审核通过，请于{pickup_date}起持工作证及"
                "{old_year}年度旧证到{place}领取。" + _HELP
            ),
        ),
        SmsTemplate(
            name="approved_delivery",
            label="审核通过（邮寄）",
            params=("year", "plate", "address", "phones"),
            # The notice (九): staff bring the pass to the campus address, check the work card and
            # take the old pass back.
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）已审核通过，保卫处将派专人送至{address}，"
                "届时请出示工作证（校园一卡通）并交回旧证。" + _HELP
            ),
        ),
        SmsTemplate(
            name="rejected",
            label="审核未通过",
            params=("year", "plate", "reason", "phones"),
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）审核未通过，原因：{reason}。"
                "请在“订单记录”中点击“申请退款”取回费用。" + _HELP
            ),
        ),
        SmsTemplate(
            name="refunded",
            label="已退款",
            params=("year", "plate", "amount", "when"),
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）费用{amount}元已于{when}退款成功，"
                "已原路退回您的付款账户，请留意查收。"
            ),
        ),
    )
}


def template_choices() -> list[tuple[str, str]]:
    return [(t.name, t.label) for t in TEMPLATES.values()]


def get_template(name: str) -> SmsTemplate:
    """The template called `name`; raises SmsTemplateError when there is none."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise SmsTemplateError(
            f"Unknown SMS template {name!r}; known templates: {', '.join(TEMPLATES)}"
        ) from None


def clean_params(name: str, params: Mapping[str, object]) -> dict[str, str]:
    """The parameters as the strings the vendors expect; raises SmsTemplateError when one is
    missing or empty, or one the template does not use is given (most likely a typo)."""
    template = get_template(name)
    missing = [p for p in template.params if params.get(p) is None or str(params[p]).strip() == ""]
    if missing:
        raise SmsTemplateError(f"SMS template {name!r} is missing parameter(s): {', '.join(missing)}")
    unknown = sorted(set(params) - set(template.params))
    if unknown:
        raise SmsTemplateError(f"SMS template {name!r} does not take parameter(s): {', '.join(unknown)}")
    return {p: str(params[p]).strip() for p in template.params}


def render(template: str, params: Mapping[str, object]) -> str:
    """The message text, starting with 【SMS_SIGN_NAME】; raises SmsTemplateError."""
    cleaned = clean_params(template, params)
    return get_template(template).text.format(sign=settings.SMS_SIGN_NAME, **cleaned)
