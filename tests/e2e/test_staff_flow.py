"""The notice, walked in a real browser at phone size with WeChat's user agent: 车证办理 → … → a paid
order through the simulator's cashier (its notification reaches the live server over HTTP), then,
after a rejection, 订单记录 → 申请退款 → 确定 → 退款中 → 已退款."""

import io
import json
import re
import time
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.orders import order_reject
from tests.e2e.conftest import reload, settled
from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db(transaction=True)
S = RenewalOrder.Status


def sms_code(path: str, phone: str) -> str:
    for _ in range(50):
        lines = Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []
        for line in reversed(lines):
            message = json.loads(line)
            if message["phone"] == phone and message["template"] == "otp":
                return re.search(r"\d{6}", message["text"]).group(0)
        time.sleep(0.1)
    raise AssertionError("no verification code in the SMS file")


def camera_photo(tmp_path) -> Path:
    path = tmp_path / "工作证.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1000), (40, 110, 190)).save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return path


def wait_for_status(order: RenewalOrder, status: str, seconds: float = 15) -> RenewalOrder:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reload(order)
        if order.status == status:
            return order
        from campuspass.payments.simulator.bank import deliver_due_notifications

        deliver_due_notifications()
        time.sleep(0.2)
    raise AssertionError(f"order stayed {order.status}, expected {status}")


def test_walk_the_notice_from_车证办理_to_已退款(phone, shots, live_server, live_settings, tmp_path):
    campaign = make_campaign()
    previous = make_pass(plate="京A12345")
    page = phone
    shot = shots(page, "staff-flow")

    page.goto(f"{live_server.url}/m/")
    shot("home")
    page.get_by_text("车证办理", exact=True).click()
    page.get_by_text("现场长租查询", exact=True).click()
    page.get_by_label("输入车牌号").fill("京a·12345")
    shot("plate")
    page.get_by_role("button", name="确定").click()
    page.wait_for_url("**/m/verify/")
    assert "验证码已发送至该车牌登记的手机号" in page.content()
    assert previous.holder.mobile[-4:] not in page.content()
    shot("code-sent")
    page.get_by_label("输入获取到的验证码").fill(
        sms_code(live_settings.SMS_FILE_PATH, previous.holder.mobile)
    )
    page.get_by_role("button", name="确定").click()
    page.wait_for_url("**/m/record/")
    assert "请勿点击编辑" in page.content()
    page.locator("summary", has_text="车主信息").click()
    shot("record")
    page.get_by_role("link", name="续费").click()
    assert page.get_by_text("出售中").is_visible()
    shot("renew")
    page.get_by_role("link", name="添加车主信息").click()
    assert "请勿进行编辑或添加车主" in page.content()
    shot("owner")
    page.get_by_role("link", name="添加图片").click()
    page.set_input_files("input[type=file]", str(camera_photo(tmp_path)))
    shot("photo")
    page.get_by_role("button", name="上传").click()
    page.wait_for_url("**/m/renew/confirm/")
    assert "确认相关内容一致" in page.content()
    shot("confirm")
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_url("**/consent/")
    assert page.get_by_text("知情同意书").first.is_visible()
    shot("consent")
    page.get_by_role("button", name="同意").click()
    page.wait_for_url("**/pay/")
    shot("pay")
    page.get_by_role("button", name="立即支付").click()
    page.wait_for_selector("text=模拟微信支付")
    assert "150.00" in page.content()
    shot("cashier")
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_url("**/result/")
    order = settled(lambda: RenewalOrder.objects.get(plate="京A12345"))
    wait_for_status(order, S.PAID)
    page.reload()
    assert "支付成功" in page.content()
    shot("paid")
    # The notification came over HTTP: it is in the log of received notifications, verified.
    from campuspass.payments.models import ReceivedNotification

    assert settled(lambda: ReceivedNotification.objects.filter(verified=True, kind="payment").exists())

    order_reject(order=order, acting_user=None, reason="工作证照片不清晰")
    page.goto(f"{live_server.url}/m/pass/")
    page.get_by_text("订单记录", exact=True).click()
    assert "审核未通过" in page.content()
    shot("orders-rejected")
    page.locator(".order-card").first.click()
    page.get_by_role("link", name="申请退款").click()
    shot("refund-confirm")
    # A real platform takes a while to confirm a refund: hold the simulator's notification back.
    live_settings.PAYMENT_SIMULATOR_TIME_SCALE = 1.0
    live_settings.PAYMENT_SIMULATOR_FAULTS = ["delay"]
    page.get_by_role("button", name="确定").click()
    assert page.get_by_text("退款申请已提交").first.is_visible()
    assert "退款中" in page.content()
    shot("refund-requested")
    reload(order)
    assert order.status == S.REFUNDING
    # Time passes: the held REFUND.SUCCESS notification is now due and goes out over HTTP.
    from campuspass.payments.models import SimNotification

    SimNotification.objects.filter(acknowledged=False).update(next_attempt_at=timezone.now())
    wait_for_status(order, S.REFUNDED)
    page.goto(f"{live_server.url}/m/orders/")
    assert "已退款" in page.content()
    shot("refunded")
    assert campaign.product_name in page.content()
