"""Issue 14 item 1: the daily SMS budget alerts the office on 概览."""

import pytest
from django.utils import timezone

from campuspass.verification import otp
from campuspass.verification.models import ThrottleCounter

pytestmark = pytest.mark.django_db


def test_the_office_sees_the_sms_budget_alert(settings, office_client):
    settings.VERIFICATION_DAILY_SMS_BUDGET = 10
    client, _ = office_client("窗口")
    assert "sms-budget-alert" not in client.get("/office/").content.decode()
    ThrottleCounter.objects.create(
        scope=f"budget:sms:{timezone.localdate().isoformat()}",
        period=86400,
        window_start=timezone.now(),
        count=9,
    )
    page = client.get("/office/").content.decode()
    assert "sms-budget-alert" in page and "接近每日上限 10 条" in page
    assert otp.sms_budget_today() == (9, 10)
