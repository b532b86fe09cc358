"""Issue 14 item 1: hundreds of staff behind one campus address all get their codes; the address is
only a flood ceiling plus a CAPTCHA past a threshold; a daily SMS budget alerts the office; waits are
said in minutes and never blame the person for what others did."""

import pytest
from django.contrib.sessions.backends.db import SessionStore

from campuspass.core.models import LogEntry
from campuspass.verification import otp
from campuspass.verification.otp import captcha_needed, request_code, sms_budget_today

pytestmark = pytest.mark.django_db

CAMPUS_WIFI = "10.20.0.1"


def new_session():
    session = SessionStore()
    session.save()
    return session.session_key


def send(n, *, human_checked=False, ip=CAMPUS_WIFI, openid="", session_key=None, phone="unset"):
    return request_code(
        plate=f"京A{n:05d}",
        phone_on_file=f"138{n:08d}" if phone == "unset" else phone,
        session_key=session_key or new_session(),
        ip=ip,
        purpose="lookup",
        openid=openid,
        human_checked=human_checked,
    )


def test_a_hundred_staff_behind_one_address_all_get_their_code(sms, clock):
    """Before: the 21st staff member of the hour was told "发送过于频繁，请在 52 分钟后重试"."""
    results = [send(n, human_checked=n >= 10) for n in range(100)]
    assert all(r.sent for r in results), [r.message for r in results if not r.sent][:1]
    assert len(sms.calls) == 100


def test_the_captcha_is_asked_only_once_the_address_crossed_the_threshold(sms, clock, settings):
    settings.VERIFICATION_IP_CAPTCHA_AFTER = 3
    for n in range(3):
        assert not captcha_needed(CAMPUS_WIFI)
        assert send(n).sent
    assert captcha_needed(CAMPUS_WIFI)
    asked = send(3)
    assert (asked.sent, asked.code) == (False, "captcha")
    assert "图中" in asked.message and "频繁" not in asked.message
    assert len(sms.calls) == 3  # nothing sent without the human check
    assert send(3, human_checked=True).sent
    # Another address is not affected, and the next hour starts again.
    assert not captcha_needed("10.99.0.1")
    clock.shift(3600)
    assert not captcha_needed(CAMPUS_WIFI)


def test_a_wechat_user_is_limited_across_browser_sessions(sms, clock):
    for n in range(10):
        assert send(n, openid="o-wx-user-1", human_checked=True, ip=f"10.0.0.{n}").sent
    refused = send(10, openid="o-wx-user-1", human_checked=True, ip="10.0.0.99")
    assert not refused.sent and refused.code == "throttled"
    assert send(11, openid="o-wx-user-2", human_checked=True, ip="10.0.0.99").sent


def test_waits_are_said_in_minutes_and_never_blame(sms, clock, settings):
    settings.VERIFICATION_IP_SEND_LIMITS = ((3600, 2),)
    session_key = new_session()
    assert send(1, session_key=session_key).sent
    own = send(1, session_key=session_key)
    assert own.message.endswith("请在 1 分钟后重试。") and "秒" not in own.message
    assert "频繁" not in own.message
    assert send(2).sent
    clock.shift(8 * 60)
    shared = send(3)
    assert shared.code == "network_busy" and "52 分钟" in shared.message
    assert "您所在的网络" in shared.message and "频繁" not in shared.message and "秒" not in shared.message


def test_the_daily_budget_alerts_the_office_then_stops_codes_for_everyone(sms, clock, settings):
    settings.VERIFICATION_DAILY_SMS_BUDGET = 4
    settings.VERIFICATION_BUDGET_ALERT_SHARE = 0.5
    for n in range(2):
        assert send(n).sent
    warning = LogEntry.objects.get(action=otp.BUDGET_ACTION_WARNING)
    assert "接近每日上限 4 条" in warning.reason
    for n in range(2, 4):
        assert send(n).sent
    assert LogEntry.objects.filter(action=otp.BUDGET_ACTION_WARNING).count() == 1  # once a day
    assert LogEntry.objects.get(action=otp.BUDGET_ACTION_EXHAUSTED).data["sent"] == 4
    assert sms_budget_today() == (4, 4)
    known, unknown = send(5), send(6, phone=None)
    assert (known.sent, known.code, known.message) == (unknown.sent, unknown.code, unknown.message)
    assert known.code == "budget" and "保卫处已收到提醒" in known.message
    assert len(sms.calls) == 4
    clock.shift(86400)  # a new Beijing day, a new budget
    assert send(7).sent and sms_budget_today()[0] == 1
