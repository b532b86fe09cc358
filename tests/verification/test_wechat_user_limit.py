"""Issue 14 item 1 through the real pages and the real WeChat provider: inside WeChat the silent
snsapi_base OAuth (WeChatPayProvider.oauth_url → WeChat → /m/oauth/ → openid_from_code, only
WeChat's HTTP answer is recorded) gives the openid before the first code; codes are limited per
WeChat user, phone and plate, never per address: many staff behind ONE campus address each get
their code, past the address's threshold with a CAPTCHA instead of a refusal; one WeChat user asking
for many plates is stopped with a wait said in minutes. Runs on SQLite and on PostgreSQL + Redis
(with REDIS_URL set the per-address Redis pre-check is on too)."""

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from captcha.models import CaptchaStore
from django.test import Client

from campuspass.sms.backends import locmem
from campuspass.verification.models import ThrottleCounter
from tests.payments.test_wechatpay import keypairs, wx_settings  # noqa: F401 - fixtures
from tests.renewals.factories import make_campaign, make_pass
from tests.selfservice.test_flow import WECHAT_UA

pytestmark = pytest.mark.django_db(transaction=True)

CAMPUS_WIFI = "10.30.0.1"  # the one address every staff member below comes from
TOKEN_URL = "https://api.weixin.qq.com/sns/oauth2/access_token"


@pytest.fixture(autouse=True)
def real_wechat(wx_settings, settings):  # noqa: F811 - the fixture imported above
    """The real provider (PAYMENT_PROVIDER=wechatpay); WeChat's OAuth server answers each code
    "CODE-<who>" with the openid "o-<who>", as it would for that WeChat user."""
    settings.SMS_BACKEND = "locmem"
    settings.SITE_URL = "https://campus.example"
    settings.REDIS_URL = os.environ.get("REDIS_URL", "")  # on for the PostgreSQL + Redis run
    locmem.outbox.clear()

    def token(request):
        code = parse_qs(urlsplit(request.url).query)["code"][0]
        return (
            200,
            {},
            f'{{"access_token": "t", "openid": "o-{code.removeprefix("CODE-")}", "scope": "snsapi_base"}}',
        )

    with responses.RequestsMock(assert_all_requests_are_fired=False) as wechat:
        wechat.add_callback(responses.GET, TOKEN_URL, callback=token, content_type="application/json")
        yield wechat
    locmem.outbox.clear()


def staff_member(who: str) -> Client:
    """A staff member opening 现场长租查询 inside WeChat on the campus Wi-Fi: redirected to WeChat's
    silent authorisation, back with a code, the openid in the session."""
    browser = Client(HTTP_USER_AGENT=WECHAT_UA, REMOTE_ADDR=CAMPUS_WIFI)
    asked = browser.get("/m/lookup/")
    assert asked.status_code == 302
    to_wechat = urlsplit(asked["Location"])
    query = parse_qs(to_wechat.query)
    assert to_wechat.netloc == "open.weixin.qq.com" and query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == ["https://campus.example/m/oauth/"]
    # WeChat sends the browser back to redirect_uri with the code and the state.
    back = browser.get("/m/oauth/", {"code": f"CODE-{who}", "state": query["state"][0]})
    assert back.status_code == 302 and back["Location"] == "/m/lookup/"
    assert browser.session["ss.openid"] == f"o-{who}"
    return browser


def captcha_answer(page: str) -> dict[str, str]:
    hashkey = re.search(
        r'name="captcha_0"[^>]*value="([0-9a-f]+)"|value="([0-9a-f]+)"[^>]*name="captcha_0"', page
    )
    hashkey = hashkey.group(1) or hashkey.group(2)
    return {"captcha_0": hashkey, "captcha_1": CaptchaStore.objects.get(hashkey=hashkey).response}


def ask_and_verify(browser: Client, plate: str) -> str:
    """确定 on 现场长租查询 (solving the CAPTCHA when the page shows one), then the code from the SMS;
    returns the record page."""
    page = browser.get("/m/lookup/").content.decode()
    form = {"plate": plate, **(captcha_answer(page) if "captcha_1" in page else {})}
    sent = browser.post("/m/lookup/", form)
    assert sent.status_code == 302 and sent["Location"] == "/m/verify/"
    notice = browser.get("/m/verify/").content.decode()
    assert "验证码已发送" in notice, notice
    code = re.search(r"\b(\d{6})\b", locmem.outbox[-1].text).group(1)
    record = browser.post("/m/verify/", {"code": code}, follow=True)
    assert record.status_code == 200
    return record.content.decode()


def test_many_staff_behind_one_address_each_get_their_code(settings, real_wechat):
    settings.VERIFICATION_IP_CAPTCHA_AFTER = 4
    make_campaign()
    people = 7
    for n in range(people):
        make_pass(plate=f"京A5{n:04d}", mobile=f"1360000{n:04d}")
    pages = []
    for n in range(people):
        browser = staff_member(f"staff{n}")
        lookup = browser.get("/m/lookup/").content.decode()
        # Past the address's threshold the page asks for a CAPTCHA — a check, not a refusal.
        assert ("captcha_1" in lookup) == (n >= 4)
        pages.append(ask_and_verify(browser, f"京A5{n:04d}"))
    assert len(locmem.outbox) == people
    assert [m.phone for m in locmem.outbox] == [f"1360000{n:04d}" for n in range(people)]
    for n, page in enumerate(pages):
        assert f"京A5{n:04d}" in page
        assert not any(word in page for word in ("过于频繁", "获取验证码的人很多", "秒后可重新获取"))
    # Each WeChat user was counted as themselves: one code each.
    per_user = ThrottleCounter.objects.filter(scope__startswith="send:openid:", period=3600)
    assert sorted(row.count for row in per_user) == [1] * people
    assert len(real_wechat.calls) == people  # one silent authorisation per person


def test_one_wechat_user_asking_for_many_plates_is_limited_in_minutes(settings):
    settings.VERIFICATION_IP_CAPTCHA_AFTER = 100  # this test is about the person, not the address
    make_campaign()
    for n in range(12):
        make_pass(plate=f"京A6{n:04d}", mobile=f"1350000{n:04d}")
    # The same WeChat user, a fresh browser session each time (cookies cleared): ten codes…
    for n in range(10):
        browser = staff_member("same")
        assert browser.post("/m/lookup/", {"plate": f"京A6{n:04d}"}).status_code == 302
        assert "验证码已发送" in browser.get("/m/verify/").content.decode()
    assert len(locmem.outbox) == 10
    # …and the eleventh, for yet another plate and phone, is refused with a wait in minutes.
    browser = staff_member("same")
    browser.post("/m/lookup/", {"plate": "京A60010"})
    page = browser.get("/m/verify/").content.decode()
    assert len(locmem.outbox) == 10
    assert re.search(r"请在 \d+ 分钟后重试", page) and re.search(r"\d+ 分钟后可重新获取", page)
    assert "秒后可重新获取" not in page and "获取验证码的人很多" not in page
    # Someone else on the same Wi-Fi is not affected.
    other = staff_member("other")
    assert "京A60011" in ask_and_verify(other, "京A60011")
    assert len(locmem.outbox) == 11
