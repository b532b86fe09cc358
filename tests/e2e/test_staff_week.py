"""Issue 14, walked in Debian's Chromium at 360 px with WeChat's user agent: many staff behind one
campus address (the CAPTCHA past the threshold), a 12 MB camera photo shrunk on the phone and a tiny
one refused, back / refresh / a second tab at every step, 取消支付 → 已取消支付 → 继续支付, the result
page saying where, when and what to bring, an order link opened without a verified plate, and our own
Chinese error page with DEBUG on."""

import io
import os
import re
import time
from pathlib import Path

import pytest
from captcha.models import CaptchaStore
from PIL import Image

from campuspass.renewals.models import RenewalOrder
from tests.e2e.conftest import settled
from tests.renewals.factories import make_campaign, make_pass

from .test_staff_flow import sms_code, wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)
S = RenewalOrder.Status


def big_camera_photo(tmp_path):
    """A noisy 4000×3000 JPEG: well over 5 MB, like a phone camera's."""
    path = tmp_path / "IMG_20260301_101010.jpg"
    noise = Image.frombytes("RGB", (1000, 750), os.urandom(1000 * 750 * 3)).resize((4000, 3000))
    noise = Image.blend(noise, Image.frombytes("RGB", (4000, 3000), os.urandom(4000 * 3000 * 3)), 0.5)
    noise.save(path, "JPEG", quality=95)
    assert path.stat().st_size > 5 * 1024 * 1024
    return path


def tiny_photo(tmp_path):
    path = tmp_path / "tiny.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 200, 200)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def sms_count(sms_file) -> int:
    return len(Path(sms_file).read_text(encoding="utf-8").splitlines()) if Path(sms_file).exists() else 0


def unlock(page, url, plate, mobile, sms_file):
    before = sms_count(sms_file)
    page.get_by_label("输入车牌号").fill(plate)
    page.get_by_role("button", name="确定").click()
    page.wait_for_url("**/m/verify/")
    for _ in range(50):  # this request's code, not an earlier one to the same phone
        if sms_count(sms_file) > before:
            break
        time.sleep(0.1)
    page.get_by_label("输入获取到的验证码").fill(sms_code(sms_file, mobile))
    page.get_by_role("button", name="确定").click()


def test_many_staff_on_one_campus_address(browser, phone, shots, live_server, live_settings):
    live_settings.VERIFICATION_IP_CAPTCHA_AFTER = 4
    make_campaign()
    people = [make_pass(plate=f"京A2000{n}") for n in range(6)]
    from tests.e2e.conftest import WECHAT_UA

    # Four colleagues on the same Wi-Fi get their codes without any extra step.
    for person in people[:4]:
        context = browser.new_context(viewport={"width": 360, "height": 740}, user_agent=WECHAT_UA)
        colleague = context.new_page()
        colleague.goto(f"{live_server.url}/m/lookup/")
        assert "captcha_1" not in colleague.content()
        colleague.get_by_label("输入车牌号").fill(person.vehicle.plate)
        colleague.get_by_role("button", name="确定").click()
        colleague.wait_for_url("**/m/verify/")
        assert "验证码已发送" in colleague.content()
        context.close()

    page = phone
    shot = shots(page, "staff-shared-address")
    page.goto(f"{live_server.url}/m/lookup/")
    assert "请输入图中算式的答案" in page.content()
    assert page.locator("img.captcha").evaluate("img => img.naturalWidth") > 0  # drawn here, offline
    page.get_by_label("输入车牌号").fill(people[4].vehicle.plate)
    shot("captcha")
    page.get_by_role("button", name="确定").click()
    assert "请输入图中算式的答案。" in page.content()  # nothing sent, nobody blamed
    assert "频繁" not in page.content()
    hashkey = page.locator("input[name=captcha_0]").get_attribute("value")
    page.get_by_role("textbox", name="图中算式的答案").fill(
        CaptchaStore.objects.get(hashkey=hashkey).response
    )
    page.get_by_role("button", name="确定").click()
    page.wait_for_url("**/m/verify/")
    assert "验证码已发送" in page.content()
    shot("code-sent-after-captcha")
    page.get_by_label("输入获取到的验证码").fill(
        sms_code(live_settings.SMS_FILE_PATH, people[4].holder.mobile)
    )
    page.get_by_role("button", name="确定").click()
    page.wait_for_url("**/m/record/")


def test_back_refresh_second_tab_photo_cancel_and_result(phone, shots, live_server, live_settings, tmp_path):
    # The walk asks for a second code within the minute (another browser): no 60-second cooldown here.
    live_settings.VERIFICATION_PHONE_SEND_LIMITS = live_settings.VERIFICATION_PLATE_SEND_LIMITS = (
        (3600, 10),
    )
    campaign = make_campaign()
    previous = make_pass(plate="京A12345")
    page = phone
    shot = shots(page, "staff-week")
    sms_file = live_settings.SMS_FILE_PATH

    page.goto(f"{live_server.url}/m/lookup/")
    unlock(page, live_server.url, "京A12345", previous.holder.mobile, sms_file)
    page.wait_for_url("**/m/record/")
    page.goto(f"{live_server.url}/m/renew/photo/")

    # A picture too small to read is refused on the phone, before any upload.
    page.set_input_files("input[type=file]", str(tiny_photo(tmp_path)))
    page.wait_for_selector("#photo-error:not([hidden])")
    assert "照片太小（64×64 像素）" in page.content()
    shot("photo-too-small")
    # A 12 MB camera photo is shrunk and turned upright on the phone, with a preview.
    page.set_input_files("input[type=file]", str(big_camera_photo(tmp_path)))
    page.wait_for_selector("#preview:not([hidden])")
    assert "1600×1200 像素" in page.locator("#preview-text").inner_text()
    shot("photo-preview")
    page.get_by_role("button", name="上传").click()
    page.wait_for_url("**/m/renew/confirm/")
    page.reload()  # refresh: no resubmission, the same confirmation
    assert "确认相关内容一致" in page.content()
    page.locator("label[for=f-delivery]").click()
    page.locator("input[name=address]").fill("")
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_url("**/m/renew/confirm/")  # refused: redirected, not a POST result
    assert "校内详细地址" in page.content()
    page.reload()
    assert "Confirm Form Resubmission" not in page.content()
    page.locator("label[for=f-pickup]").click()
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_url("**/consent/")
    order = settled(lambda: RenewalOrder.objects.get(plate="京A12345"))

    # Back from 知情同意书: the confirmation with the photo, not "请先上传工作证照片".
    page.go_back()
    page.wait_for_url("**/m/renew/confirm/")
    assert "请先上传工作证照片" not in page.content() and "提交订单" in page.content()
    assert page.locator("img.thumb").evaluate("img => img.naturalWidth") > 0
    shot("back-from-consent")
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_url(f"**/m/orders/{order.pk}/consent/")
    assert settled(lambda: RenewalOrder.objects.filter(plate="京A12345").count()) == 1

    # The whole consent text is in the page; 同意 works once its end has been seen.
    assert page.locator(".consent").evaluate("el => getComputedStyle(el).overflowY") == "visible"
    version = campaign.current_consent()
    assert version.text.strip()[-12:] in page.content() and f"第 {version.version} 版" in page.content()
    shot("consent")
    page.locator("#consent-end").scroll_into_view_if_needed()
    page.get_by_role("button", name="同意").click()
    page.wait_for_url("**/pay/")

    # A second tab on the same step: the agreed order goes to payment, nothing is created twice.
    second = page.context.new_page()
    second.goto(f"{live_server.url}/m/renew/confirm/")
    second.wait_for_url(f"**/m/orders/{order.pk}/pay/")
    second.close()

    page.get_by_role("button", name="立即支付").click()
    page.wait_for_selector("text=模拟微信支付")
    page.get_by_role("button", name="取消支付").click()
    page.wait_for_url("**/result/?cancelled=1")
    assert "已取消支付" in page.content() and "支付结果确认中" not in page.content()
    shot("payment-cancelled")
    # The result page left open on an unpaid order: a minute of reloads, then it stops and waits for
    # the button (decision 0042); the button starts a new minute.
    page.goto(f"{live_server.url}/m/orders/{order.pk}/result/?n=60")
    assert "支付结果确认中" in page.content() and 'http-equiv="refresh"' not in page.content()
    shot("result-stopped-reloading")
    page.get_by_role("link", name="刷新支付结果").click()
    page.wait_for_url("**/result/**")
    assert "支付结果确认中" in page.content() and "n=1" in page.content()
    page.go_back()
    page.go_back()
    page.wait_for_url("**/result/?cancelled=1")
    page.get_by_role("link", name="继续支付").click()
    page.wait_for_url("**/pay/")
    page.get_by_role("button", name="立即支付").click()
    page.wait_for_selector("text=模拟微信支付")
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url("**/result/")
    wait_for_status(order, S.PAID)
    page.reload()
    body = page.content()
    assert "支付成功" in body and campaign.pickup_place in body and "旧证" in body and "个工作日起" in body
    shot("paid-what-next")
    page.go_back()  # back to the cashier's return: the order is paid, nothing to pay twice
    page.reload()
    assert "确认支付" not in page.content()

    # An order link in a browser without a verified plate: plate and code, then the order.
    fresh = page.context.browser.new_context(
        viewport={"width": 360, "height": 740}, user_agent=page.evaluate("navigator.userAgent")
    ).new_page()
    fresh.goto(f"{live_server.url}/m/orders/{order.pk}/")
    fresh.wait_for_url("**/m/lookup/?for=orders")
    assert "验证后将打开该订单" in fresh.content()
    unlock(fresh, live_server.url, "京A12345", previous.holder.mobile, sms_file)
    fresh.wait_for_url(f"**/m/orders/{order.pk}/")
    assert order.out_trade_no in fresh.content()
    fresh.context.close()


def test_error_pages_are_ours_at_phone_size_with_debug_on(phone, shots, live_server, settings):
    settings.DEBUG = True
    shot = shots(phone, "staff-errors")
    response = phone.goto(f"{live_server.url}/m/orders/123/nothing-here/")
    assert response.status == 404
    assert "页面不存在或已失效" in phone.content() and "Page not found" not in phone.content()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    shot("404-debug-on")
    assert re.search(r"返回车证办理", phone.content())
