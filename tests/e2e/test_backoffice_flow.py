"""A renewal week in the back office, in a real browser at 1280 px: a reviewer approves one paid
order and rejects another, the counter clerk hands out the approved pass, and finance sees the
rejected order's refund through to 已退款 (the simulator confirms it over HTTP)."""

import base64
import time

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction
from django_otp.oath import TOTP

from campuspass.backoffice.roles import ensure_groups
from campuspass.core.signin import require_password_change
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.orders import order_create, order_record_consent
from campuspass.renewals.services.payments import payment_start
from tests.e2e.conftest import reload
from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db(transaction=True)
S = RenewalOrder.Status
PASSWORD = "Office-Pass-2019"  # noqa: S105 - a test user's password


@pytest.fixture
def live_settings(settings, live_server, tmp_path):
    settings.SITE_URL = live_server.url
    settings.SMS_BACKEND = "locmem"
    settings.PAYMENT_PROVIDER = "simulator"
    settings.PAYMENT_SIMULATOR_DIR = tmp_path / "paysim"
    settings.PAYMENT_SIMULATOR_TIME_SCALE = 1.0
    settings.PAYMENT_SIMULATOR_FAULTS = []
    return settings


NEW_PASSWORD = "Harbour-Lights-2026"  # noqa: S105 - chosen by the user at the first sign-in


def office_user(username: str, role: str) -> User:
    """A user an administrator created: the walk changes the password at the first sign-in."""
    ensure_groups()
    user = User.objects.create_user(username=username, password=PASSWORD, first_name=role)
    user.groups.add(Group.objects.get(name=role))
    require_password_change(user)
    return user


def id_card_photo() -> str:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageDraw

    from campuspass.verification.photos import store_id_photo

    image = Image.new("RGB", (900, 570), (235, 240, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 260, 300), fill=(170, 190, 215))
    draw.rectangle((300, 80, 820, 110), fill=(60, 80, 120))
    draw.rectangle((300, 160, 700, 185), fill=(90, 110, 150))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return store_id_photo(SimpleUploadedFile("card.jpg", buffer.getvalue(), content_type="image/jpeg")).name


def paid_through_the_simulator(campaign, plate: str) -> RenewalOrder:
    from campuspass.payments.simulator import bank

    previous = make_pass(plate=plate)
    order = order_create(plate=plate, campaign=campaign, id_photo=id_card_photo(), fulfilment="pickup")
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address=None, user_agent=""
    )
    payment_start(order=order, openid="o-e2e")
    with transaction.atomic():  # the staff member pressed 确认支付; the notification goes out on commit
        bank.confirm_payment(order.out_trade_no)
    reload(order)
    assert order.status == S.PAID, "the simulator's notification reached the live server"
    assert previous.vehicle.plate == plate
    return order


def sign_in(page, url: str, username: str):
    """Sign in as a person would the first time: the password an administrator gave, then one's own
    password, then (管理员, 财务) the authenticator set up from the secret the page shows."""
    page.goto(f"{url}/office/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    if "/office/password/" in page.url:
        page.fill("#id_old_password", PASSWORD)
        page.fill("#id_new_password1", NEW_PASSWORD)
        page.fill("#id_new_password2", NEW_PASSWORD)
        page.click("#password-submit")
        page.wait_for_load_state()
    if "/office/otp/" in page.url:
        secret = page.text_content("#otp-secret").replace(" ", "")
        totp = TOTP(base64.b32decode(secret))
        page.fill("#id_otp_token", f"{totp.token():06d}")
        page.click("#otp-submit")
        page.wait_for_load_state()
    assert "/office/login/" not in page.url and "/office/otp/" not in page.url


def sign_out(page):
    page.get_by_role("button", name="退出").click()


def wait_for_status(order: RenewalOrder, status: str, seconds: float = 15) -> None:
    from django.utils import timezone

    from campuspass.payments.models import SimNotification
    from campuspass.payments.simulator.bank import deliver_due_notifications

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reload(order)
        if order.status == status:
            return
        # Time passes for the simulator: whatever it holds back is now due.
        SimNotification.objects.filter(acknowledged=False).update(next_attempt_at=timezone.now())
        deliver_due_notifications()
        time.sleep(0.2)
    raise AssertionError(f"order stayed {order.status}, expected {status}")


def test_a_renewal_week_in_the_back_office(office, shots, live_server, live_settings):
    from campuspass.renewals.models import RejectReason

    # Transactional tests empty the tables the data migration filled: the office's list of reasons.
    RejectReason.objects.get_or_create(text="工作证（校园一卡通）照片不清晰，无法核对")
    campaign = make_campaign()
    first = paid_through_the_simulator(campaign, "京A10001")
    second = paid_through_the_simulator(campaign, "京B20002")
    office_user("shenhe", "审核员")
    office_user("chuangkou", "窗口")
    office_user("caiwu", "财务")
    page = office
    shot = shots(page, "backoffice-flow")

    # 审核员: the oldest paid order first; approve it, then reject the next with a reason.
    sign_in(page, live_server.url, "shenhe")
    page.get_by_role("link", name="审核", exact=True).click()
    assert "京A10001" in page.content() and "京B20002" in page.content()
    shot("review-queue")
    page.get_by_role("link", name="开始审核（最早的一单）").click()
    assert "京A10001" in page.content()
    shot("review-first")
    page.locator("#approve-btn").click()
    assert page.locator("#undo-box").is_visible()  # 5 seconds to 撤销, then it goes
    page.locator("h1", has_text="京B20002").wait_for()  # straight on to the next order
    page.locator("#first-reason").check()
    page.fill("#id_note", "照片中工号看不清")
    shot("review-reject")
    page.locator("#reject-btn").click()
    page.wait_for_load_state()
    shot("review-done")
    reload(first)
    reload(second)
    assert first.status == S.APPROVED and first.new_pass is not None
    assert second.status == S.REJECTED and "照片中工号看不清" in second.reject_reason
    sign_out(page)

    # 窗口: find the approved order by plate (any spelling), tick both checks, hand out.
    sign_in(page, live_server.url, "chuangkou")
    page.get_by_role("link", name="窗口领取", exact=True).click()
    page.get_by_label("查找").fill("京 a·10001")
    page.get_by_role("button", name="查找").click()
    assert first.new_pass.number in page.content()
    page.get_by_role("button", name="发放").click()  # without the checks: refused with a reason
    assert "旧证" in page.locator(".error-box").inner_text()
    page.get_by_label("旧证已收回").check()
    page.get_by_label("工作证已核验").check()
    # Approved just now: the pickup date is still ahead, handing out early needs a confirmation.
    pending_before = int(page.locator("#pending-count").inner_text())
    page.get_by_role("button", name="发放").click()
    page.wait_for_selector(".error-box:has-text('今天还没到')")
    page.get_by_label("旧证已收回").check()
    page.get_by_label("工作证已核验").check()
    page.get_by_label("新证已制好，提前发放").check()
    shot("counter-checks")
    page.get_by_role("button", name="发放").click()
    page.wait_for_selector("text=发放成功")
    assert int(page.locator("#pending-count").inner_text()) == pending_before - 1  # not stale
    reload(first)
    assert first.handed_out_at is not None and first.old_pass_collected and first.id_checked
    shot("counter-handed-out")
    sign_out(page)

    # 财务: the rejected order has not applied yet; apply for the staff member and follow it.
    live_settings.PAYMENT_SIMULATOR_FAULTS = [
        "delay"
    ]  # the refund is confirmed a while later, as on WeChat Pay
    sign_in(page, live_server.url, "caiwu")
    page.get_by_role("link", name="退款管理", exact=True).click()
    page.get_by_role("link", name="未申请退款").click()
    assert "京B20002" in page.content()
    shot("refunds-unrequested")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="代为申请退款").click()
    page.wait_for_load_state()
    reload(second)
    assert second.status == S.REFUNDING
    page.get_by_role("link", name="退款处理中").click()
    assert "京B20002" in page.content()
    shot("refunds-processing")
    wait_for_status(second, S.REFUNDED)
    page.get_by_role("link", name="退款成功").click()
    assert "京B20002" in page.content()
    shot("refunds-done")
