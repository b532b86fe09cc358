"""Issue 14 item 1 on the pages: the CAPTCHA appears on 现场长租查询 only once the address crossed
the threshold, solving it sends the code; the office sees the SMS budget alert on 概览 (tests/backoffice/test_sms_budget_alert.py)."""

import re

import pytest
from captcha.models import CaptchaStore
from django.test import Client

from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db(transaction=True)

WIFI = {"REMOTE_ADDR": "10.20.0.1"}


def captcha_answer(page: str) -> tuple[str, str]:
    key = re.search(
        r'name="captcha_0"[^>]*value="([0-9a-f]+)"|value="([0-9a-f]+)"[^>]*name="captcha_0"', page
    )
    hashkey = key.group(1) or key.group(2)
    return hashkey, CaptchaStore.objects.get(hashkey=hashkey).response


def test_many_staff_on_one_wifi_get_codes_with_a_captcha_past_the_threshold(settings, sms_outbox):
    settings.VERIFICATION_IP_CAPTCHA_AFTER = 3
    make_campaign()
    for n in range(5):
        make_pass(plate=f"京A1000{n}", mobile=f"1380000000{n}")
    for n in range(3):
        staff = Client(**WIFI)
        page = staff.get("/m/lookup/").content.decode()
        assert "captcha_1" not in page
        assert staff.post("/m/lookup/", {"plate": f"京A1000{n}"}).status_code == 302
    assert len(sms_outbox) == 3

    fourth = Client(**WIFI)
    page = fourth.get("/m/lookup/").content.decode()
    assert "请输入图中算式的答案" in page and "/captcha/image/" in page
    # Without the answer: asked for it, nothing sent, the plate kept in the box.
    refused = fourth.post("/m/lookup/", {"plate": "京A10003"}, follow=True)
    assert refused.status_code == 200 and "请输入图中算式的答案。" in refused.content.decode()
    assert 'value="京A10003"' in refused.content.decode() and len(sms_outbox) == 3
    hashkey, answer = captcha_answer(refused.content.decode())
    wrong = fourth.post(
        "/m/lookup/", {"plate": "京A10003", "captcha_0": hashkey, "captcha_1": "999"}, follow=True
    )
    assert "不正确" in wrong.content.decode() and len(sms_outbox) == 3
    hashkey, answer = captcha_answer(wrong.content.decode())
    solved = fourth.post("/m/lookup/", {"plate": "京A10003", "captcha_0": hashkey, "captcha_1": answer})
    assert solved.status_code == 302 and len(sms_outbox) == 4
    # The picture is drawn here, offline, as a PNG.
    image = fourth.get(f"/captcha/image/{CaptchaStore.generate_key()}/")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_inside_wechat_codes_are_limited_per_wechat_user_not_per_address(
    sms_outbox, fake_provider, monkeypatch, settings
):
    """The silent OAuth before the first code gives the openid; a new browser session of the same
    WeChat user does not get round the person's limit, other people on the address are not affected."""
    from tests.selfservice.test_flow import WECHAT_UA

    monkeypatch.setattr(
        fake_provider, "oauth_url", lambda redirect_uri, state: f"https://open.example/auth?state={state}"
    )
    monkeypatch.setattr(fake_provider, "openid_from_code", lambda code: f"openid-{code}")
    fake_provider.name = "wechatpay"
    make_campaign()
    for n in range(12):
        make_pass(plate=f"京A3{n:04d}", mobile=f"1370000{n:04d}")
    wechat = {"HTTP_USER_AGENT": WECHAT_UA, **WIFI}

    def staff_member(code):
        browser = Client(**wechat)
        asked = browser.get("/m/lookup/")
        assert asked.status_code == 302 and asked["Location"].startswith("https://open.example/auth")
        state = asked["Location"].split("state=")[1]
        assert browser.get("/m/oauth/", {"code": code, "state": state})["Location"] == "/m/lookup/"
        assert browser.get("/m/lookup/").status_code == 200  # tried once: no loop
        return browser

    def send(browser, n):
        browser.post("/m/lookup/", {"plate": f"京A3{n:04d}"})
        return browser.session.get("ss.pending", {}).get("throttled")

    settings.VERIFICATION_IP_CAPTCHA_AFTER = 100
    for n in range(10):
        assert not send(staff_member("SAME"), n)  # a fresh session each time, one WeChat user
    assert send(staff_member("SAME"), 10)  # the 11th code in the hour for that WeChat user
    assert not send(staff_member("OTHER"), 11)  # someone else on the same Wi-Fi
    assert len(sms_outbox) == 11
