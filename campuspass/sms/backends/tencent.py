"""Tencent Cloud SMS (短信, API 2021-01-11, action SendSms).

Needs the optional extra: pip install "campuspass[tencent]" (tencentcloud-sdk-python-sms).
Configured from the environment: TENCENT_SMS_SECRET_ID, TENCENT_SMS_SECRET_KEY,
TENCENT_SMS_SDK_APP_ID, TENCENT_SMS_REGION, SMS_SIGN_NAME (the approved signature, without 【】)
and SMS_TEMPLATE_CODES (template name → approved template ID). Tencent templates number their
variables {1}, {2}, …: they get the parameters in the order each kind lists them in
campuspass.sms.templates.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..templates import get_template
from .base import BaseSmsBackend, SendResult, SmsMessage, vendor_template_code

VENDOR = "腾讯云"
REQUEST_TIMEOUT_S = 10


def _import_sdk():
    try:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import models, sms_client
    except ImportError as exc:
        raise ImproperlyConfigured(
            '未安装腾讯云短信 SDK：请执行 pip install "campuspass[tencent]"（tencentcloud-sdk-python-sms），'
            "或把 SMS_BACKEND 改为其他短信通道。"
            ' / The Tencent Cloud SMS SDK is not installed: pip install "campuspass[tencent]"'
            " (tencentcloud-sdk-python-sms), or choose another SMS_BACKEND."
        ) from exc
    return credential, ClientProfile, HttpProfile, models, sms_client


class SmsBackend(BaseSmsBackend):
    def __init__(self) -> None:
        missing = [
            name
            for name in (
                "TENCENT_SMS_SECRET_ID",
                "TENCENT_SMS_SECRET_KEY",
                "TENCENT_SMS_SDK_APP_ID",
                "SMS_SIGN_NAME",
            )
            if not getattr(settings, name, "")
        ]
        if missing:
            raise ImproperlyConfigured(
                f"腾讯云短信缺少配置：请设置环境变量 {', '.join(missing)}。"
                f" / Tencent Cloud SMS is not configured: set {', '.join(missing)} in the environment."
            )
        credential, client_profile, http_profile, self._models, sms_client = _import_sdk()
        cred = credential.Credential(settings.TENCENT_SMS_SECRET_ID, settings.TENCENT_SMS_SECRET_KEY)
        profile = client_profile(httpProfile=http_profile(reqTimeout=REQUEST_TIMEOUT_S))
        self.client = sms_client.SmsClient(cred, settings.TENCENT_SMS_REGION or "ap-guangzhou", profile)

    def send(self, message: SmsMessage) -> SendResult:
        request = self._models.SendSmsRequest()
        request.SmsSdkAppId = settings.TENCENT_SMS_SDK_APP_ID
        request.SignName = settings.SMS_SIGN_NAME
        request.TemplateId = vendor_template_code(message.template, VENDOR)
        # Only the variables, in the order of the registered template's {1}, {2}, …
        request.TemplateParamSet = [
            str(message.params[name]) for name in get_template(message.template).variable_names
        ]
        request.PhoneNumberSet = [f"+86{message.phone}"]  # E.164
        response = self.client.SendSms(request)
        statuses = list(getattr(response, "SendStatusSet", None) or [])
        if not statuses:
            return SendResult(
                ok=False,
                provider_id=str(getattr(response, "RequestId", "") or ""),
                error="no SendStatus in the response",
            )
        status = statuses[0]
        # One status per number; Code "Ok" means accepted, SerialNo identifies the message.
        if status.Code == "Ok":
            return SendResult(ok=True, provider_id=str(status.SerialNo or ""))
        return SendResult(
            ok=False,
            provider_id=str(getattr(response, "RequestId", "") or ""),
            error=f"{status.Code}: {status.Message}",
        )
