"""The SMS kinds, their Chinese texts and the variables the vendors get (decision 0013).

The vendors send only texts registered and approved as templates: the fixed words live in the
template, and each message passes only short typed variables. A text here is exactly the template to
register (`manage.py sms_templates` prints it per vendor), with

- `variables`: the values of one message, each of a `VarType` whose length each vendor limits
  (campuspass.sms.rules), in the order Tencent numbers them {1}, {2}, …;
- `fixed`: words that are part of the registered template (the office's pickup place and phones, the
  code's validity): taken from settings when the template is printed, never sent as variables. A
  caller may pass one (e.g. `minutes` for the code) only with the registered value.

Free text (a reject reason) is cut to the shortest limit of the vendors with "…", never refused.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings

__all__ = [
    "TEMPLATES",
    "SmsTemplate",
    "SmsTemplateError",
    "VarType",
    "fixed_values",
    "render",
    "template_choices",
]


class SmsTemplateError(ValueError):
    """An unknown message kind, or parameters that do not fit it (a programming error)."""


class VarType(StrEnum):
    CODE = "code"  # the verification code: digits
    NUMBER = "number"  # a year, an order number: letters and digits
    PLATE = "plate"  # a licence plate: one Chinese character, then letters and digits
    DATE = "date"  # 2026年3月2日
    AMOUNT = "amount"  # 150.00 (the currency sign is in the template)
    TEXT = "text"  # free text (a reason): cut to fit


@dataclass(frozen=True)
class SmsTemplate:
    name: str
    label: str
    kind: str  # "verification" or "notification": the vendors' template types
    #: The variables, in the order of the vendor template's {1}, {2}, … (Tencent).
    variables: tuple[tuple[str, VarType], ...]
    text: str
    fixed: tuple[str, ...] = ()

    @property
    def params(self) -> tuple[str, ...]:
        """Every name a caller may pass: the variables, then the fixed words."""
        return tuple(name for name, _ in self.variables) + self.fixed

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.variables)

    def __post_init__(self) -> None:
        used = {field for _, field, _, _ in string.Formatter().parse(self.text) if field}
        if used != set(self.params) | {"sign"}:
            raise SmsTemplateError(
                f"SMS template {self.name!r}: placeholders {sorted(used)} do not match its params"
            )


TEMPLATES: dict[str, SmsTemplate] = {
    t.name: t
    for t in (
        SmsTemplate(
            name="otp",
            label="验证码",
            kind="verification",
            # Aliyun: a verification-code template may have ONE variable; the validity is fixed text.
            variables=(("code", VarType.CODE),),
            fixed=("minutes",),
            text="【{sign}】您正在办理机动车通行证，验证码 {code}，{minutes}分钟内有效。如非本人操作请忽略。",
        ),
        SmsTemplate(
            name="approved_pickup",
            label="审核通过（现场领取）",
            kind="notification",
            variables=(
                ("year", VarType.NUMBER),
                ("plate", VarType.PLATE),
                ("pickup_date", VarType.DATE),
                ("old_year", VarType.NUMBER),
            ),
            fixed=("place", "phones"),
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）已审核通过，请于{pickup_date}起持工作证及"
                "{old_year}年度旧证到{place}领取。咨询电话：{phones}"
            ),
        ),
        SmsTemplate(
            name="approved_delivery",
            label="审核通过（邮寄）",
            kind="notification",
            variables=(("year", VarType.NUMBER), ("plate", VarType.PLATE)),
            fixed=("phones",),
            # The notice (九): staff bring the pass to the campus address the person gave (shown on
            # the order page; an address is too long for any vendor's variable).
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）已审核通过，保卫处将派专人送至您登记的校内地址，"
                "届时请出示工作证（校园一卡通）并交回旧证。咨询电话：{phones}"
            ),
        ),
        SmsTemplate(
            name="rejected",
            label="审核未通过",
            kind="notification",
            variables=(("year", VarType.NUMBER), ("plate", VarType.PLATE), ("reason", VarType.TEXT)),
            fixed=("phones",),
            # How the money comes back is part of the registered words: one template per refund route
            # (renewals.services.refunds.refund_route names it), so the text always matches what will happen.
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）审核未通过，原因：{reason}。"
                "请在“订单记录”中点击“申请退款”取回费用。咨询电话：{phones}"
            ),
        ),
        SmsTemplate(
            name="rejected_auto",
            label="审核未通过（自动退款）",
            kind="notification",
            variables=(("year", VarType.NUMBER), ("plate", VarType.PLATE), ("reason", VarType.TEXT)),
            fixed=("phones",),
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）审核未通过，原因：{reason}。"
                "费用将自动原路退回您的微信支付，无需申请。咨询电话：{phones}"
            ),
        ),
        SmsTemplate(
            name="rejected_counter",
            label="审核未通过（窗口退款）",
            kind="notification",
            variables=(("year", VarType.NUMBER), ("plate", VarType.PLATE), ("reason", VarType.TEXT)),
            fixed=("phones",),
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）审核未通过，原因：{reason}。"
                "请携带现场缴费收据到保卫处窗口办理退款。咨询电话：{phones}"
            ),
        ),
        SmsTemplate(
            name="rejected_offline",
            label="审核未通过（线下退款）",
            kind="notification",
            variables=(("year", VarType.NUMBER), ("plate", VarType.PLATE), ("reason", VarType.TEXT)),
            fixed=("phones",),
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）审核未通过，原因：{reason}。"
                "该笔支付已超过一年，无法原路退回，请联系保卫处财务现场办理退款。咨询电话：{phones}"
            ),
        ),
        SmsTemplate(
            name="refunded",
            label="已退款",
            kind="notification",
            variables=(
                ("year", VarType.NUMBER),
                ("plate", VarType.PLATE),
                ("amount", VarType.AMOUNT),
                ("when", VarType.DATE),
            ),
            text=(
                "【{sign}】您的{year}年度通行证（{plate}）费用{amount}元已于{when}退款成功，"
                "已原路退回您的付款账户，请留意查收。"
            ),
        ),
    )
}


def fixed_values() -> dict[str, str]:
    """The fixed words of the registered templates, from settings (change them = register again)."""
    from campuspass.verification.otp import CODE_TTL

    return {
        "sign": settings.SMS_SIGN_NAME,
        "place": settings.SMS_PICKUP_PLACE,
        "phones": settings.SMS_CONTACT_PHONES,
        "minutes": str(int(CODE_TTL.total_seconds() // 60)),
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


def fit(value: str, limit: int) -> str:
    """`value` cut to `limit` characters, the last one "…" when something was cut."""
    return value if len(value) <= limit else value[: max(limit - 1, 0)] + "…"


def clean_params(name: str, params: Mapping[str, object]) -> dict[str, str]:
    """The parameters as the strings the vendors expect: every variable present and fitted (free text
    cut to the strictest vendor limit), the fixed words as registered. Raises SmsTemplateError when
    a variable is missing or empty, a fixed word is passed with another value than the registered
    one, or a name the template does not use is given (most likely a typo)."""
    from .rules import strictest_limit

    template = get_template(name)
    missing = [p for p in template.variable_names if params.get(p) is None or str(params[p]).strip() == ""]
    if missing:
        raise SmsTemplateError(f"SMS template {name!r} is missing parameter(s): {', '.join(missing)}")
    unknown = sorted(set(params) - set(template.params))
    if unknown:
        raise SmsTemplateError(f"SMS template {name!r} does not take parameter(s): {', '.join(unknown)}")
    fixed = fixed_values()
    cleaned: dict[str, str] = {}
    for var, var_type in template.variables:
        value = " ".join(str(params[var]).split())
        if var_type == VarType.TEXT:
            value = fit(value, strictest_limit(template, var_type))
        cleaned[var] = value
    for word in template.fixed:
        if word in params and str(params[word]).strip() != fixed[word]:
            raise SmsTemplateError(
                f"SMS template {name!r}: {word}={params[word]!r} differs from the registered {fixed[word]!r}"
            )
        cleaned[word] = fixed[word]
    return cleaned


def registered_text(name: str) -> str:
    """The template text with the fixed words filled in and the variables left as {name}."""
    template = get_template(name)
    fixed = fixed_values()
    return template.text.format(
        **{word: fixed[word] for word in ("sign", *template.fixed)},
        **{var: "{" + var + "}" for var in template.variable_names},
    )


def render(template: str, params: Mapping[str, object]) -> str:
    """The message text, starting with 【SMS_SIGN_NAME】; raises SmsTemplateError."""
    cleaned = clean_params(template, params)
    return get_template(template).text.format(sign=settings.SMS_SIGN_NAME, **cleaned)
