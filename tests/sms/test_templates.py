from __future__ import annotations

import pytest

from campuspass.sms.templates import TEMPLATES, SmsTemplateError, render

PARAMS = {
    "otp": {"code": "123456", "minutes": 5},
    "approved_pickup": {"year": 2026, "plate": "京A12345", "pickup_date": "2026年3月2日", "old_year": 2025},
    "approved_delivery": {"year": 2026, "plate": "京A12345"},
    "rejected": {"year": 2026, "plate": "京A12345", "reason": "行驶证照片不清晰"},
    "rejected_auto": {"year": 2026, "plate": "京A12345", "reason": "行驶证照片不清晰"},
    "rejected_counter": {"year": 2026, "plate": "京A12345", "reason": "行驶证照片不清晰"},
    "rejected_offline": {"year": 2026, "plate": "京A12345", "reason": "行驶证照片不清晰"},
    "refunded": {"year": 2026, "plate": "京A12345", "amount": "120.00", "when": "2026年3月5日"},
}


def test_every_template_has_sample_params():
    assert (
        set(PARAMS)
        == set(TEMPLATES)
        == {
            "otp",
            "approved_pickup",
            "approved_delivery",
            "rejected",
            "rejected_auto",
            "rejected_counter",
            "rejected_offline",
            "refunded",
        }
    )


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_every_template_renders_with_its_params_and_starts_with_the_sign(name, settings):
    settings.SMS_SIGN_NAME = "某大学保卫处"
    text = render(name, PARAMS[name])
    assert text.startswith("【某大学保卫处】")
    for value in PARAMS[name].values():
        assert str(value) in text
    assert "{" not in text and "}" not in text
    assert len(text) <= 140  # at most two SMS parts with realistic values


def test_otp_text():
    assert render("otp", {"code": "123456", "minutes": 5}) == (
        "【保卫处】您正在办理机动车通行证，验证码 123456，5分钟内有效。如非本人操作请忽略。"
    )


def test_approved_pickup_asks_for_work_card_and_old_pass_at_the_registered_place(settings):
    settings.SMS_PICKUP_PLACE = "行政2号楼1层122、123室"
    settings.SMS_CONTACT_PHONES = "82802290、82805604"
    text = render("approved_pickup", PARAMS["approved_pickup"])
    assert "工作证" in text and "2025年度旧证" in text and "2026年3月2日" in text
    assert "到行政2号楼1层122、123室领取" in text and "咨询电话：82802290、82805604" in text


def test_approved_delivery_says_staff_bring_it_and_asks_for_work_card_and_old_pass():
    text = render("approved_delivery", PARAMS["approved_delivery"])
    assert "寄送" not in text  # a courier brings it on campus, it is not mailed
    assert "专人送至您登记的校内地址" in text and "工作证" in text and "旧证" in text


def test_rejected_says_where_to_see_why_and_get_the_refund():
    text = render("rejected", PARAMS["rejected"])
    assert "订单记录" in text and "申请退款" in text and "行驶证照片不清晰" in text
    # One registered template per refund route (renewals' refund_route names it): a counter payment is
    # told to go to the counter, an automatic refund that nothing needs to be done.
    counter = render("rejected_counter", PARAMS["rejected_counter"])
    assert "申请退款" not in counter and "窗口办理退款" in counter
    auto = render("rejected_auto", PARAMS["rejected_auto"])
    assert "申请退款" not in auto and "自动原路退回" in auto and "无需申请" in auto
    offline = render("rejected_offline", PARAMS["rejected_offline"])
    assert "申请退款" not in offline and "现场办理退款" in offline


def test_a_long_reason_is_cut_to_fit_never_refused():
    text = render(
        "rejected", {**PARAMS["rejected"], "reason": "行驶证照片不清晰且车牌号与登记信息不一致请重新提交"}
    )
    assert "原因：行驶证照片不清晰且车牌…。" in text  # 12 characters: Tencent's limit


def test_refunded_says_the_money_went_back():
    # Sent once the platform confirmed the refund: no more "预计2小时至15天内" (issue 14).
    text = render("refunded", PARAMS["refunded"])
    assert "退款成功" in text and "已原路退回" in text and "120.00元" in text
    assert "预计" not in text and "15天" not in text


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_a_missing_variable_is_an_error(name):
    variables = TEMPLATES[name].variable_names
    for missing in variables:
        params = {k: v for k, v in PARAMS[name].items() if k != missing}
        with pytest.raises(SmsTemplateError, match=missing):
            render(name, params)


def test_a_fixed_word_with_another_value_is_an_error():
    with pytest.raises(SmsTemplateError, match="place"):
        render("approved_pickup", {**PARAMS["approved_pickup"], "place": "别处"})


def test_an_empty_param_is_an_error():
    with pytest.raises(SmsTemplateError, match="reason"):
        render("rejected", {**PARAMS["rejected"], "reason": "  "})


def test_an_unknown_param_is_an_error():
    with pytest.raises(SmsTemplateError, match="pickup_place"):
        render("approved_pickup", {**PARAMS["approved_pickup"], "pickup_place": "x"})


def test_an_unknown_template_is_an_error():
    with pytest.raises(SmsTemplateError, match="nope"):
        render("nope", {})
