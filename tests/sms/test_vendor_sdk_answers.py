"""Recorded SMS vendor answers through the real backends and the pinned SDKs
(alibabacloud-dysmsapi20170525 4.6.0, tencentcloud-sdk-python-sms 3.1.153) with mocked HTTP: what is
sent (only the template's variables) and how each answer is read."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from campuspass.sms.backends import SmsMessage
from campuspass.sms.templates import clean_params, render

pytest.importorskip("alibabacloud_dysmsapi20170525")
pytest.importorskip("tencentcloud.sms.v20210111")

ALIYUN_URL = "https://dysmsapi.aliyuncs.com/"
TENCENT_URL = "https://sms.tencentcloudapi.com/"


def message(name: str, params: dict) -> SmsMessage:
    cleaned = clean_params(name, params)
    return SmsMessage(phone="13812345678", text=render(name, cleaned), template=name, params=cleaned)


OTP = message("otp", {"code": "123456", "minutes": 5})
REJECTED = message("rejected", {"year": 2026, "plate": "京A12345", "reason": "照片不清晰"})


@pytest.fixture
def vendor_settings(settings):
    settings.ALIYUN_SMS_ACCESS_KEY_ID = "id"
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "secret"
    settings.ALIYUN_SMS_ENDPOINT = "dysmsapi.aliyuncs.com"
    settings.TENCENT_SMS_SECRET_ID = "id"
    settings.TENCENT_SMS_SECRET_KEY = "key"
    settings.TENCENT_SMS_SDK_APP_ID = "1400000000"
    settings.SMS_TEMPLATE_CODES = json.dumps({"otp": "SMS_100", "rejected": "SMS_200"})
    return settings


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("OK", True),
        ("isv.BUSINESS_LIMIT_CONTROL", False),
        ("isv.TEMPLATE_PARAMS_ILLEGAL", False),
        ("isv.SMS_TEMPLATE_ILLEGAL", False),
        ("isv.MOBILE_NUMBER_ILLEGAL", False),
        ("isv.AMOUNT_NOT_ENOUGH", False),
    ],
)
def test_aliyun_answers(vendor_settings, code, ok):
    from campuspass.sms.backends.aliyun import SmsBackend

    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            ALIYUN_URL,
            json={
                "Code": code,
                "Message": "文档中的说明",
                "BizId": "900619746936498440^0",
                "RequestId": "R1",
            },
        )
        result = SmsBackend().send(OTP)
        query = parse_qs(urlsplit(mock.calls[0].request.url).query)
    assert result.ok is ok
    assert json.loads(query["TemplateParam"][0]) == {"code": "123456"}  # ONE variable for the code
    assert query["TemplateCode"] == ["SMS_100"] and query["PhoneNumbers"] == ["13812345678"]
    if not ok:
        assert result.error.startswith(code)


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("Ok", True),
        ("FailedOperation.TemplateParamSetNotMatchApprovedTemplate", False),
        ("InvalidParameterValue.TemplateParameterLengthLimit", False),
        ("LimitExceeded.PhoneNumberDailyLimit", False),
        ("FailedOperation.InsufficientBalanceInSmsPackage", False),
    ],
)
def test_tencent_answers(vendor_settings, code, ok):
    from campuspass.sms.backends.tencent import SmsBackend

    status = {
        "SerialNo": "2645:1",
        "PhoneNumber": "+8613812345678",
        "Fee": 1,
        "SessionContext": "",
        "Code": code,
        "Message": "文档中的说明",
        "IsoCode": "CN",
    }
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST, TENCENT_URL, json={"Response": {"SendStatusSet": [status], "RequestId": "R2"}}
        )
        result = SmsBackend().send(REJECTED)
        sent = json.loads(mock.calls[0].request.body)
    assert result.ok is ok
    assert sent["TemplateParamSet"] == ["2026", "京A12345", "照片不清晰"]  # variables only, in order
    assert sent["TemplateId"] == "SMS_200" and sent["PhoneNumberSet"] == ["+8613812345678"]
    if not ok:
        assert code in result.error


def test_tencent_request_error_is_raised_and_recorded_as_a_failure(vendor_settings):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    from campuspass.sms.backends.tencent import SmsBackend

    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            TENCENT_URL,
            json={
                "Response": {
                    "Error": {"Code": "AuthFailure.SecretIdNotFound", "Message": "密钥不存在"},
                    "RequestId": "R3",
                }
            },
        )
        with pytest.raises(TencentCloudSDKException, match="AuthFailure.SecretIdNotFound"):
            SmsBackend().send(REJECTED)
