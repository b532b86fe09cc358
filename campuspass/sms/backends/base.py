"""What every SMS backend receives and returns (the Django email-backend pattern)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class SmsMessage:
    phone: str  # 11 digits, already normalised
    text: str  # rendered, starting with 【sign】
    template: str  # a name from campuspass.sms.templates
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_id: str = ""
    error: str = ""


class BaseSmsBackend:
    """Send one message. Return SendResult(ok=False, error=…) for a refusal the vendor reports;
    raising is also allowed: the caller records any exception as a failed attempt."""

    def send(self, message: SmsMessage) -> SendResult:
        raise NotImplementedError


def vendor_rule_problems(message: SmsMessage) -> str:
    """For the test backends: what Tencent or Aliyun would refuse in this message ("" if nothing), so
    development and tests fail where the vendors would."""
    if not getattr(settings, "SMS_TEST_BACKENDS_CHECK_VENDOR_RULES", True):
        return ""
    from ..rules import vendor_rules, violations

    problems = []
    for vendor in vendor_rules():
        problems += violations(vendor, message.template, message.params, message.text)
    return "；".join(problems)


def vendor_template_codes() -> dict[str, str]:
    """settings.SMS_TEMPLATE_CODES (a JSON object, or already a dict) as {template name: vendor code}."""
    raw = settings.SMS_TEMPLATE_CODES
    if isinstance(raw, dict):
        return raw
    try:
        codes = json.loads(raw or "{}")
    except ValueError as exc:
        raise ImproperlyConfigured(
            'SMS_TEMPLATE_CODES 不是有效的 JSON，例如 {"otp": "SMS_123"}。'
            f" / SMS_TEMPLATE_CODES is not valid JSON: {exc}"
        ) from exc
    if not isinstance(codes, dict):
        raise ImproperlyConfigured(
            "SMS_TEMPLATE_CODES 应为 JSON 对象（短信类型 → 模板编号）。"
            " / SMS_TEMPLATE_CODES must be a JSON object mapping template name to vendor template code."
        )
    return {str(k): str(v) for k, v in codes.items()}


def vendor_template_code(template: str, vendor: str) -> str:
    code = vendor_template_codes().get(template)
    if not code:
        raise ImproperlyConfigured(
            f"未配置短信模板 {template!r} 在{vendor}的模板编号：请在环境变量 SMS_TEMPLATE_CODES 中添加。"
            f" / No {vendor} template code for SMS template {template!r}: add it to SMS_TEMPLATE_CODES."
        )
    return code
