"""Each SMS vendor's documented rules for template variables, as ONE table per vendor (decision 0013).

Sources:
- Aliyun 短信服务: 验证码模板规范 (help.aliyun.com/document_detail/463237): a verification-code template
  has ONE variable of 4–6 digits or letters; 通知短信 variables 1–35 characters by default (Aliyun's
  variable rules since 2018-01-10); TemplateRule examples (help.aliyun.com/document_detail/2806243):
  money as digits and a decimal point, time as a date/time, other_number2 letters and digits.
- Tencent Cloud 短信: 正文模板审核标准 (cloud.tencent.com/document/product/382/39023, international
  tencentcloud.com/document/product/382/40659): the code variable up to 6 digits; every other
  variable limited per type to a few characters, 12 for an organisation (企业/机关) account and 6 for a
  personal one (SMS_TENCENT_VARIABLE_MAX); a whole message, signature and variables included, at
  most 500 characters.
The test backends (console, file, locmem) refuse a message that breaks any vendor's rules, so
development sees what the vendor would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings

from .templates import TEMPLATES, SmsTemplate, VarType, get_template

DIGITS = re.compile(r"[0-9]+")
LETTERS_DIGITS = re.compile(r"[A-Za-z0-9]+")
AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
URL = re.compile(r"(https?://|www\.)", re.IGNORECASE)
MESSAGE_MAX = 500


@dataclass(frozen=True)
class VendorRules:
    key: str
    name: str
    #: (min, max) characters per variable type.
    lengths: dict[VarType, tuple[int, int]]
    patterns: dict[VarType, re.Pattern] = field(default_factory=dict)
    #: How many variables a verification-code template may have (None: no rule).
    verification_variables: int | None = None
    variable_syntax: str = "{n}"  # how the template names a variable when registered


def vendor_rules() -> dict[str, VendorRules]:
    tencent_max = int(getattr(settings, "SMS_TENCENT_VARIABLE_MAX", 12))
    return {
        "tencent": VendorRules(
            key="tencent",
            name="腾讯云短信",
            lengths={
                VarType.CODE: (1, 6),
                VarType.NUMBER: (1, tencent_max),
                VarType.PLATE: (1, tencent_max),
                VarType.DATE: (1, tencent_max),
                VarType.AMOUNT: (1, tencent_max),
                VarType.TEXT: (1, tencent_max),
            },
            patterns={VarType.CODE: DIGITS, VarType.NUMBER: LETTERS_DIGITS, VarType.AMOUNT: AMOUNT},
            variable_syntax="{n}",
        ),
        "aliyun": VendorRules(
            key="aliyun",
            name="阿里云短信",
            lengths={
                VarType.CODE: (4, 6),
                VarType.NUMBER: (1, 35),
                VarType.PLATE: (1, 35),
                VarType.DATE: (1, 35),
                VarType.AMOUNT: (1, 35),
                VarType.TEXT: (1, 35),
            },
            patterns={VarType.CODE: LETTERS_DIGITS, VarType.NUMBER: LETTERS_DIGITS, VarType.AMOUNT: AMOUNT},
            verification_variables=1,
            variable_syntax="${name}",
        ),
    }


def strictest_limit(template: SmsTemplate, var_type: VarType) -> int:
    return min(rules.lengths[var_type][1] for rules in vendor_rules().values())


def violations(vendor: str, template_name: str, params: Mapping[str, object], text: str = "") -> list[str]:
    """What `vendor` would refuse in this message (empty when it accepts it)."""
    rules = vendor_rules()[vendor]
    template = get_template(template_name)
    problems = []
    if (
        template.kind == "verification"
        and rules.verification_variables is not None
        and len(template.variables) > rules.verification_variables
    ):
        problems.append(f"{rules.name}：验证码模板只能有 {rules.verification_variables} 个变量")
    for name, var_type in template.variables:
        value = str(params.get(name, ""))
        low, high = rules.lengths[var_type]
        if not low <= len(value) <= high:
            problems.append(
                f"{rules.name}：变量 {name}（{var_type}）长 {len(value)} 字，应为 {low}–{high} 字"
            )
        pattern = rules.patterns.get(var_type)
        if pattern is not None and value and not pattern.fullmatch(value):
            problems.append(f"{rules.name}：变量 {name}（{var_type}）含不允许的字符")
        if URL.search(value):
            problems.append(f"{rules.name}：变量 {name} 不能含网址")
    extra = sorted(set(params) - set(template.params))
    if extra:
        problems.append(f"{rules.name}：模板没有变量 {', '.join(extra)}")
    if text and len(text) > MESSAGE_MAX:
        problems.append(f"{rules.name}：短信全文 {len(text)} 字，超过 {MESSAGE_MAX} 字")
    return problems


def vendor_variables(template_name: str, params: Mapping[str, object]) -> dict[str, str]:
    """Only the variables of the message, as the vendor API takes them (fixed words stay out)."""
    return {name: str(params[name]) for name in get_template(template_name).variable_names}


def registration(vendor: str) -> list[dict[str, object]]:
    """For each template: what the office registers at `vendor` (type, text, variable names/types)."""
    from .templates import registered_text

    rules = vendor_rules()[vendor]
    result = []
    for template in TEMPLATES.values():
        text = registered_text(template.name)
        text = text.removeprefix(f"【{settings.SMS_SIGN_NAME}】")  # the signature is registered apart
        variables = []
        for index, (name, var_type) in enumerate(template.variables, start=1):
            placeholder = "{" + str(index) + "}" if rules.variable_syntax == "{n}" else "${" + name + "}"
            text = text.replace("{" + name + "}", placeholder)
            low, high = rules.lengths[var_type]
            variables.append({"placeholder": placeholder, "name": name, "type": str(var_type), "max": high})
        result.append(
            {
                "name": template.name,
                "label": template.label,
                "kind": "验证码" if template.kind == "verification" else "短信通知",
                "text": text,
                "variables": variables,
            }
        )
    return result
