"""Every message, with the longest realistic values, against each vendor's rule table; the test
backends refuse what a vendor would refuse; the registration command prints what the office needs."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from campuspass.sms.backends import SmsMessage, get_backend
from campuspass.sms.rules import registration, vendor_rules, violations
from campuspass.sms.templates import TEMPLATES, clean_params, render

LONGEST = {
    "code": "999999",
    "minutes": 5,
    "year": 2026,
    "old_year": 2025,
    "plate": "京AF12345D",  # new-energy plates have 8 characters; one more for safety
    "pickup_date": "2026年12月31日",
    "when": "2026年12月31日",
    "amount": "99999.99",
    # The longest reject reason a reviewer can write (RejectReason.text has 100 characters).
    "reason": "行驶证照片不清晰，" * 12,
}


def longest(name: str) -> dict[str, object]:
    return {param: LONGEST[param] for param in TEMPLATES[name].params if param in LONGEST}


@pytest.mark.parametrize("vendor", sorted(vendor_rules()))
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_message_with_the_longest_values_is_accepted_by_every_vendor(name, vendor, settings):
    settings.SMS_SIGN_NAME = "某某大学医学部保卫处"
    params = clean_params(name, longest(name))
    assert violations(vendor, name, params, render(name, params)) == []


def test_aliyun_verification_template_has_one_variable_and_the_others_fit_35():
    assert [v["name"] for v in registration("aliyun")[0]["variables"]] == ["code"]
    for item in registration("aliyun"):
        assert all(var["max"] <= 35 for var in item["variables"])


def test_a_message_with_a_long_variable_is_refused_by_the_test_backend(sms_locmem):
    """Today's messages send the phones (17 characters) and the place as variables: Tencent refuses."""
    message = SmsMessage(
        phone="13812345678",
        text="【保卫处】…",
        template="rejected",
        params={"year": "2026", "plate": "京A12345", "reason": "照片不清晰且车牌号与登记信息不一致"},
    )
    result = get_backend("locmem").send(message)
    assert not result.ok and "腾讯云短信：变量 reason" in result.error and not sms_locmem


def test_a_verification_template_with_two_variables_breaks_aliyun_rules(monkeypatch):
    from campuspass.sms import rules
    from campuspass.sms.templates import SmsTemplate, VarType

    two = SmsTemplate(
        name="otp",
        label="验证码",
        kind="verification",
        variables=(("code", VarType.CODE), ("minutes", VarType.NUMBER)),
        text="【{sign}】验证码 {code}，{minutes}分钟内有效。",
    )
    monkeypatch.setitem(TEMPLATES, "otp", two)
    problems = rules.violations("aliyun", "otp", {"code": "123456", "minutes": "5"})
    assert problems == ["阿里云短信：验证码模板只能有 1 个变量"]


def test_a_personal_tencent_account_allows_six_characters(settings):
    settings.SMS_TENCENT_VARIABLE_MAX = 6
    params = clean_params("rejected", longest("rejected"))
    assert len(params["reason"]) == 6  # cut to the strictest limit
    assert violations("tencent", "rejected", params) == [
        "腾讯云短信：变量 plate（plate）长 9 字，应为 1–6 字"
    ]


def test_the_command_prints_each_vendors_templates_and_variables(settings):
    settings.SMS_PICKUP_PLACE = "行政2号楼1层122、123室"
    out = io.StringIO()
    call_command("sms_templates", stdout=out)
    text = out.getvalue()
    assert "=== 腾讯云短信 ===" in text and "=== 阿里云短信 ===" in text
    assert "模板正文：您正在办理机动车通行证，验证码 {1}，5分钟内有效。" in text
    assert "模板正文：您正在办理机动车通行证，验证码 ${code}，5分钟内有效。" in text
    assert "到行政2号楼1层122、123室领取" in text
    assert "变量 {3}：reason，其他（自由文本，超长截断），不超过 12 字" in text
    assert 'SMS_TEMPLATE_CODES={"otp": "…"' in text
