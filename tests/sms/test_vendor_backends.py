"""The Aliyun and Tencent backends against fake SDK modules injected into sys.modules (the real
SDKs are optional extras). The fakes mirror the documented SendSms request and response fields."""

from __future__ import annotations

import json
import sys
import types
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from campuspass.sms.backends import SmsMessage, get_backend
from campuspass.sms.backends.aliyun import SmsBackend as AliyunBackend
from campuspass.sms.backends.tencent import SmsBackend as TencentBackend

PICKUP = SmsMessage(
    phone="13812345678",
    text="【保卫处】…",
    template="approved_pickup",
    params={
        "year": "2026",
        "plate": "京A12345",
        "pickup_date": "2026年3月2日",
        "old_year": "2025",
    },
)


def _install(monkeypatch, modules: dict[str, dict]) -> None:
    """Put modules (name → attributes) into sys.modules, each reachable from its parent."""
    names = set(modules)
    for name in list(names):
        parts = name.split(".")
        names.update(".".join(parts[:i]) for i in range(1, len(parts)))
    for name in sorted(names):
        module = types.ModuleType(name)
        module.__dict__.update(modules.get(name, {}))
        monkeypatch.setitem(sys.modules, name, module)
        if "." in name:
            parent, _, child = name.rpartition(".")
            setattr(sys.modules[parent], child, module)


# --- Aliyun -------------------------------------------------------------------------------------


class FakeAliyunClient:
    instances: list[FakeAliyunClient] = []
    response_body = SimpleNamespace(code="OK", message="OK", biz_id="900619746936498440^0", request_id="R1")

    def __init__(self, config):
        self.config = config
        self.requests = []
        FakeAliyunClient.instances.append(self)

    def send_sms_with_options(self, request, runtime):
        self.requests.append((request, runtime))
        return SimpleNamespace(status_code=200, body=self.response_body)


class FakeModel:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


@pytest.fixture
def aliyun_sdk(monkeypatch, settings):
    settings.ALIYUN_SMS_ACCESS_KEY_ID = "key-id"
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "key-secret"
    settings.ALIYUN_SMS_ENDPOINT = "dysmsapi.aliyuncs.com"
    settings.SMS_TEMPLATE_CODES = json.dumps({"approved_pickup": "SMS_465", "otp": "SMS_123"})
    FakeAliyunClient.instances = []
    FakeAliyunClient.response_body = SimpleNamespace(
        code="OK", message="OK", biz_id="900619746936498440^0", request_id="R1"
    )
    _install(
        monkeypatch,
        {
            "alibabacloud_dysmsapi20170525.client": {"Client": FakeAliyunClient},
            "alibabacloud_dysmsapi20170525.models": {
                "SendSmsRequest": type("SendSmsRequest", (FakeModel,), {})
            },
            # Where the pinned SDK (4.6.0) declares them.
            "alibabacloud_tea_openapi.utils_models": {"Config": type("Config", (FakeModel,), {})},
            "darabonba.runtime": {"RuntimeOptions": type("RuntimeOptions", (FakeModel,), {})},
        },
    )
    return FakeAliyunClient


def test_aliyun_sends_the_documented_sendsms_fields(aliyun_sdk, settings):
    settings.SMS_BACKEND = "aliyun"
    backend = get_backend()
    assert isinstance(backend, AliyunBackend)
    result = backend.send(PICKUP)

    assert result.ok and result.provider_id == "900619746936498440^0"
    client = aliyun_sdk.instances[0]
    assert client.config.access_key_id == "key-id"
    assert client.config.access_key_secret == "key-secret"
    assert client.config.endpoint == "dysmsapi.aliyuncs.com"
    request, runtime = client.requests[0]
    assert request.phone_numbers == "13812345678"
    assert request.sign_name == "保卫处"
    assert request.template_code == "SMS_465"
    assert json.loads(request.template_param) == PICKUP.params
    assert "京A12345" in request.template_param  # not \u-escaped
    assert runtime.connect_timeout > 0 and runtime.read_timeout > 0


def test_aliyun_refusal_is_a_failed_result(aliyun_sdk):
    aliyun_sdk.response_body = SimpleNamespace(
        code="isv.BUSINESS_LIMIT_CONTROL", message="触发分钟级流控", biz_id=None, request_id="R2"
    )
    result = AliyunBackend().send(PICKUP)
    assert not result.ok
    assert result.error == "isv.BUSINESS_LIMIT_CONTROL: 触发分钟级流控"


def test_aliyun_without_a_template_code_is_improperly_configured(aliyun_sdk):
    with pytest.raises(ImproperlyConfigured, match="SMS_TEMPLATE_CODES"):
        AliyunBackend().send(SmsMessage(phone="13812345678", text="x", template="rejected", params={}))


def test_aliyun_without_credentials_is_improperly_configured(aliyun_sdk, settings):
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = ""
    with pytest.raises(ImproperlyConfigured, match="ALIYUN_SMS_ACCESS_KEY_SECRET") as info:
        AliyunBackend()
    assert "请设置环境变量" in str(info.value)


def test_aliyun_without_the_sdk_is_improperly_configured(settings, monkeypatch):
    settings.ALIYUN_SMS_ACCESS_KEY_ID = "key-id"
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = "key-secret"
    monkeypatch.setitem(sys.modules, "alibabacloud_dysmsapi20170525", None)  # import fails
    with pytest.raises(ImproperlyConfigured, match=r"campuspass\[aliyun\]") as info:
        AliyunBackend()
    assert "未安装阿里云短信 SDK" in str(info.value)


def test_invalid_template_codes_json_is_improperly_configured(aliyun_sdk, settings):
    settings.SMS_TEMPLATE_CODES = "{not json"
    with pytest.raises(ImproperlyConfigured, match="SMS_TEMPLATE_CODES"):
        AliyunBackend().send(PICKUP)


# --- Tencent ------------------------------------------------------------------------------------


class FakeTencentClient:
    instances: list[FakeTencentClient] = []
    statuses = [SimpleNamespace(Code="Ok", Message="send success", SerialNo="2640:1234", PhoneNumber="")]

    def __init__(self, credential, region, profile=None):
        self.credential, self.region, self.profile = credential, region, profile
        self.requests = []
        FakeTencentClient.instances.append(self)

    def SendSms(self, request):  # noqa: N802 - the SDK's name
        self.requests.append(request)
        return SimpleNamespace(SendStatusSet=self.statuses, RequestId="req-9")


class FakeSendSmsRequest:
    pass


@pytest.fixture
def tencent_sdk(monkeypatch, settings):
    settings.TENCENT_SMS_SECRET_ID = "sid"
    settings.TENCENT_SMS_SECRET_KEY = "skey"
    settings.TENCENT_SMS_SDK_APP_ID = "1400006666"
    settings.TENCENT_SMS_REGION = "ap-beijing"
    settings.SMS_TEMPLATE_CODES = {"approved_pickup": "449739"}
    FakeTencentClient.instances = []
    FakeTencentClient.statuses = [
        SimpleNamespace(Code="Ok", Message="send success", SerialNo="2640:1234", PhoneNumber="")
    ]
    _install(
        monkeypatch,
        {
            "tencentcloud.common": {},
            "tencentcloud.common.credential": {
                "Credential": lambda secret_id, secret_key: ("cred", secret_id, secret_key)
            },
            "tencentcloud.common.profile.client_profile": {"ClientProfile": FakeModel},
            "tencentcloud.common.profile.http_profile": {"HttpProfile": FakeModel},
            "tencentcloud.sms.v20210111.models": {"SendSmsRequest": FakeSendSmsRequest},
            "tencentcloud.sms.v20210111.sms_client": {"SmsClient": FakeTencentClient},
        },
    )
    return FakeTencentClient


def test_tencent_sends_the_documented_sendsms_fields(tencent_sdk, settings):
    settings.SMS_BACKEND = "tencent"
    backend = get_backend()
    assert isinstance(backend, TencentBackend)
    result = backend.send(PICKUP)

    assert result.ok and result.provider_id == "2640:1234"
    client = tencent_sdk.instances[0]
    assert client.credential == ("cred", "sid", "skey")
    assert client.region == "ap-beijing"
    assert client.profile.httpProfile.reqTimeout > 0
    request = client.requests[0]
    assert request.SmsSdkAppId == "1400006666"
    assert request.SignName == "保卫处"
    assert request.TemplateId == "449739"
    assert request.PhoneNumberSet == ["+8613812345678"]
    # Only the variables, ordered as the template numbers them: {1}=year, {2}=plate, … (the place
    # and the phones are fixed words of the registered template).
    assert request.TemplateParamSet == ["2026", "京A12345", "2026年3月2日", "2025"]


def test_tencent_refusal_is_a_failed_result(tencent_sdk):
    tencent_sdk.statuses = [
        SimpleNamespace(
            Code="LimitExceeded.PhoneNumberDailyLimit", Message="单个手机号日下发短信条数超过设定的上限"
        )
    ]
    result = TencentBackend().send(PICKUP)
    assert not result.ok
    assert result.error.startswith("LimitExceeded.PhoneNumberDailyLimit: ")
    assert result.provider_id == "req-9"


def test_tencent_without_credentials_is_improperly_configured(tencent_sdk, settings):
    settings.TENCENT_SMS_SDK_APP_ID = ""
    with pytest.raises(ImproperlyConfigured, match="TENCENT_SMS_SDK_APP_ID"):
        TencentBackend()


def test_tencent_without_the_sdk_is_improperly_configured(settings, monkeypatch):
    settings.TENCENT_SMS_SECRET_ID = "sid"
    settings.TENCENT_SMS_SECRET_KEY = "skey"
    settings.TENCENT_SMS_SDK_APP_ID = "1400006666"
    monkeypatch.setitem(sys.modules, "tencentcloud", None)
    with pytest.raises(ImproperlyConfigured, match=r"campuspass\[tencent\]") as info:
        TencentBackend()
    assert "未安装腾讯云短信 SDK" in str(info.value)
