"""Aliyun SMS (短信服务, Dysmsapi 2017-05-25, action SendSms).

Needs the optional extra: pip install "campuspass[aliyun]" (alibabacloud-dysmsapi20170525).
Configured from the environment: ALIYUN_SMS_ACCESS_KEY_ID, ALIYUN_SMS_ACCESS_KEY_SECRET,
ALIYUN_SMS_ENDPOINT, SMS_SIGN_NAME (the approved signature, without 【】) and SMS_TEMPLATE_CODES
(template name → approved template code such as "SMS_123456789"). Template variables are named
as in campuspass.sms.templates (${code}, ${plate}, …); `manage.py sms_templates aliyun` prints them.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..rules import vendor_variables
from .base import BaseSmsBackend, SendResult, SmsMessage, vendor_template_code

VENDOR = "阿里云"
CONNECT_TIMEOUT_MS = 5_000
READ_TIMEOUT_MS = 10_000


def _import_sdk():
    try:
        # The classes the pinned SDK (4.6.0, darabonba-core) declares: Config in
        # alibabacloud_tea_openapi.utils_models, RuntimeOptions in darabonba.runtime.
        from alibabacloud_dysmsapi20170525 import models as dysms_models
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config
        from darabonba.runtime import RuntimeOptions
    except ImportError as exc:
        raise ImproperlyConfigured(
            '未安装阿里云短信 SDK：请执行 pip install "campuspass[aliyun]"（alibabacloud-dysmsapi20170525），'
            "或把 SMS_BACKEND 改为其他短信通道。"
            ' / The Aliyun SMS SDK is not installed: pip install "campuspass[aliyun]"'
            " (alibabacloud-dysmsapi20170525), or choose another SMS_BACKEND."
        ) from exc
    return Client, dysms_models, Config, RuntimeOptions


class SmsBackend(BaseSmsBackend):
    def __init__(self) -> None:
        missing = [
            name
            for name in ("ALIYUN_SMS_ACCESS_KEY_ID", "ALIYUN_SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME")
            if not getattr(settings, name, "")
        ]
        if missing:
            raise ImproperlyConfigured(
                f"阿里云短信缺少配置：请设置环境变量 {', '.join(missing)}。"
                f" / Aliyun SMS is not configured: set {', '.join(missing)} in the environment."
            )
        self._client_class, self._models, config_class, self._runtime_options = _import_sdk()
        config = config_class(
            access_key_id=settings.ALIYUN_SMS_ACCESS_KEY_ID,
            access_key_secret=settings.ALIYUN_SMS_ACCESS_KEY_SECRET,
        )
        config.endpoint = settings.ALIYUN_SMS_ENDPOINT or "dysmsapi.aliyuncs.com"
        self.client = self._client_class(config)

    def send(self, message: SmsMessage) -> SendResult:
        request = self._models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=settings.SMS_SIGN_NAME,
            template_code=vendor_template_code(message.template, VENDOR),
            # Only the variables (${code}, ${plate}, …): the fixed words are part of the template.
            template_param=json.dumps(vendor_variables(message.template, message.params), ensure_ascii=False),
        )
        runtime = self._runtime_options(connect_timeout=CONNECT_TIMEOUT_MS, read_timeout=READ_TIMEOUT_MS)
        response = self.client.send_sms_with_options(request, runtime)
        body = response.body
        # Code "OK" means accepted; BizId identifies the message for delivery receipts.
        if getattr(body, "code", None) == "OK":
            return SendResult(ok=True, provider_id=str(body.biz_id or ""))
        return SendResult(
            ok=False,
            provider_id=str(getattr(body, "request_id", "") or ""),
            error=f"{getattr(body, 'code', '')}: {getattr(body, 'message', '')}",
        )
