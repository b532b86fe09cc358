"""The notice's flow through the staff pages (Django test client): every label, every rule."""

import datetime as dt
import logging
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from campuspass.registry.models import Pass, Staff
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.orders import order_reject
from campuspass.renewals.services.payments import apply_payment_notification, result_query_key
from tests.renewals.factories import make_campaign, make_pass

from .conftest import jpeg_upload, last_code, unlock

pytestmark = pytest.mark.django_db(transaction=True)
S = RenewalOrder.Status


def text(response) -> str:
    return response.content.decode()


def test_home_and_menu_labels(client):
    assert "车证办理" in text(client.get("/m/"))
    menu = text(client.get("/m/pass/"))
    assert "现场长租查询" in menu and "订单记录" in menu


def test_invalid_plate_gets_a_clear_message(client, sms_outbox):
    response = client.post("/m/lookup/", {"plate": "京AO1234"}, follow=True)
    assert response.redirect_chain == [("/m/lookup/?for=lookup", 302)]  # back/refresh post nothing again
    assert "I 或 O" in text(response) and 'value="京AO1234"' in text(response)
    assert sms_outbox == []


def test_plate_spellings_reach_the_same_record(client, sms_outbox, fake_provider):
    make_campaign()
    previous = make_pass(plate="京A12345")
    response = client.post("/m/lookup/", {"plate": "京 ａ·１２３４５"})
    assert response.status_code == 302
    assert sms_outbox[-1].phone == previous.holder.mobile
    page = client.post("/m/verify/", {"code": last_code(sms_outbox)}, follow=True)
    assert "京A12345" in text(page)


def _page_without(text_: str, plate: str) -> str:
    """A page with what may legitimately differ removed: the CSRF token, the CSP nonce and the plate
    typed."""
    text_ = re.sub(r'nonce="[^"]+"', "", text_)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text_).replace(plate, "PLATE")


def test_unknown_and_known_plates_look_the_same(sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A11111")
    known, unknown = Client(), Client()
    known_lookup = known.post("/m/lookup/", {"plate": "京A11111"})
    unknown_lookup = unknown.post("/m/lookup/", {"plate": "京A22222"})
    assert known_lookup.status_code == unknown_lookup.status_code == 302
    assert known_lookup["Location"] == unknown_lookup["Location"]
    assert len(sms_outbox) == 1  # only the registered plate got an SMS
    known_page, unknown_page = known.get("/m/verify/"), unknown.get("/m/verify/")
    assert known_page.status_code == unknown_page.status_code == 200
    assert _page_without(text(known_page), "京A11111") == _page_without(text(unknown_page), "京A22222")
    # A wrong code is answered the same way too.
    known_wrong = known.post(
        "/m/verify/", {"code": "000000" if last_code(sms_outbox) != "000000" else "111111"}
    )
    unknown_wrong = unknown.post("/m/verify/", {"code": "000000"})
    assert _page_without(text(known_wrong), "京A11111") == _page_without(text(unknown_wrong), "京A22222")
    # No digit of the number on file is shown before the code is verified.
    mobile = Staff.objects.get().mobile
    assert mobile[-4:] not in text(known_page) and mobile[:3] + "****" not in text(known_page)


def test_wrong_code_is_refused(client, sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    client.post("/m/lookup/", {"plate": "京A12345"})
    response = client.post(
        "/m/verify/", {"code": "000000" if last_code(sms_outbox) != "000000" else "111111"}, follow=True
    )
    assert "验证码不正确" in text(response)
    assert client.get("/m/record/").status_code == 302  # still locked


def test_record_page_is_read_only_with_the_on_site_note(client, sms_outbox, fake_provider):
    campaign = make_campaign()
    make_pass(plate="京A12345")
    page = text(unlock(client, "京A12345", sms_outbox) and client.get("/m/record/"))
    assert "请勿点击编辑" in page and "现场办理" in page and campaign.pickup_place in page
    assert "续费" in page
    assert "<details" in page  # details fold out (下拉三角)
    assert "****" in page  # the masked phone, once verified


@pytest.mark.parametrize(
    ("setup", "sentence"),
    [
        ({"status": Staff.Status.RETIRED}, "仅限在职职工"),
        ({"review": Pass.ReviewStatus.REJECTED}, "审核状态为“审核未通过”"),
        ({"plate": "冀A12345"}, "外省（市）号牌"),
        ({"year": 2017}, "没有2018年度的通行证"),
    ],
)
def test_each_ineligibility_reason_has_its_sentence(client, sms_outbox, fake_provider, setup, sentence):
    campaign = make_campaign()
    plate = setup.get("plate", "京A54321")
    make_pass(plate=plate, **{k: v for k, v in setup.items() if k != "plate"})
    unlock(client, plate, sms_outbox)
    page = text(client.get("/m/record/"))
    assert sentence in page
    assert campaign.pickup_place in page and campaign.contact_phones in page and campaign.pickup_hours in page
    assert 'href="/m/renew/"' not in page
    assert client.get("/m/renew/").status_code == 302


def test_outside_the_window_lookup_and_orders_work_but_renewal_is_closed(client, sms_outbox, fake_provider):
    now = timezone.now()
    make_campaign(window_start=now + dt.timedelta(days=3), window_end=now + dt.timedelta(days=10))
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    page = text(client.get("/m/record/"))
    assert "尚未开始" in page and "线上办理时间" in page
    assert client.get("/m/orders/").status_code == 200


def walk_to_payment(client, sms_outbox, plate="京A12345"):
    unlock(client, plate, sms_outbox)
    assert "续费" in text(client.get("/m/record/"))
    renew = text(client.get("/m/renew/"))
    assert "出售中" in renew and "¥150.00" in renew
    owner = text(client.get("/m/renew/owner/"))
    assert "添加车主信息" in owner and "请勿进行编辑或添加车主" in owner and "<input" not in owner
    assert "添加图片" in owner
    response = client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    assert response.status_code == 302 and response["Location"] == "/m/renew/confirm/"
    confirm = text(client.get("/m/renew/confirm/"))
    assert "确认相关内容一致" in confirm and "提交订单" in confirm
    response = client.post("/m/renew/confirm/", {"fulfilment": "pickup"})
    order = RenewalOrder.objects.get(plate=plate)
    assert response["Location"] == f"/m/orders/{order.pk}/consent/"
    consent = text(client.get(response["Location"]))
    assert "知情同意书" in consent and "同意" in consent
    response = client.post(f"/m/orders/{order.pk}/consent/")
    assert response["Location"] == f"/m/orders/{order.pk}/pay/"
    assert "立即支付" in text(client.get(response["Location"]))
    return order


def test_the_whole_flow_to_refund(client, sms_outbox, fake_provider, django_capture_on_commit_callbacks):
    make_campaign()
    make_pass(plate="京A12345")
    order = walk_to_payment(client, sms_outbox)
    client.post(f"/m/orders/{order.pk}/pay/")
    fake_provider.pay(order.out_trade_no, order.amount_fen)
    order.refresh_from_db()
    cache.delete(result_query_key(order.out_trade_no))  # a few seconds later, still no notification
    result = text(client.get(f"/m/orders/{order.pk}/result/"))  # queries: no notification needed
    assert "支付成功" in result and "待审核" in result
    order.refresh_from_db()
    assert order.status == S.PAID
    order_reject(order=order, acting_user=None, reason="工作证照片不清晰")
    detail = text(client.get(f"/m/orders/{order.pk}/"))
    assert "审核未通过" in detail and "申请退款" in detail
    confirm = text(client.get(f"/m/orders/{order.pk}/refund/"))
    assert "确定" in confirm and "2 小时至 15 天" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(f"/m/orders/{order.pk}/refund/")
    assert posted.status_code == 302 and posted["Location"] == f"/m/orders/{order.pk}/refund/done/"
    done = text(client.get(posted["Location"]))
    assert "退款申请已提交" in done and "退款中" in done and "退款成功" not in done
    # Back or refresh after that: no second request, still one refund.
    client.post(f"/m/orders/{order.pk}/refund/")
    assert order.refunds.count() == 1
    refund = order.refunds.get()
    from campuspass.renewals.services.payments import apply_refund_notification

    apply_refund_notification(fake_provider.refund_notification(refund.out_refund_no))
    assert "已退款" in text(client.get("/m/orders/"))


def test_submitting_twice_or_from_two_tabs_makes_one_order(client, sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    order = walk_to_payment(client, sms_outbox)
    client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    again = client.post("/m/renew/confirm/", {"fulfilment": "pickup"})
    assert RenewalOrder.objects.count() == 1
    assert again["Location"] in (f"/m/orders/{order.pk}/consent/", f"/m/orders/{order.pk}/pay/")
    # paying twice places the same out_trade_no twice, never a second order
    client.post(f"/m/orders/{order.pk}/pay/")
    client.post(f"/m/orders/{order.pk}/pay/")
    placed = {call[1] for call in fake_provider.calls if call[0] == "create_jsapi"}
    assert placed == {order.out_trade_no}


def test_refresh_after_payment_shows_the_true_state(client, sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    order = walk_to_payment(client, sms_outbox)
    client.post(f"/m/orders/{order.pk}/pay/")
    assert "支付结果确认中" in text(client.get(f"/m/orders/{order.pk}/result/"))
    fake_provider.pay(order.out_trade_no, order.amount_fen)
    apply_payment_notification(fake_provider.payment_notification(order.out_trade_no))
    assert "支付成功" in text(client.get(f"/m/orders/{order.pk}/result/"))
    # paying again after it was paid goes to the result, not to the platform
    calls = len(fake_provider.calls)
    assert client.post(f"/m/orders/{order.pk}/pay/")["Location"] == f"/m/orders/{order.pk}/result/"
    assert len(fake_provider.calls) == calls


def test_delivery_needs_a_campus_address(client, sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    response = client.post("/m/renew/confirm/", {"fulfilment": "delivery", "address": ""}, follow=True)
    assert "校内详细地址" in text(response)
    assert RenewalOrder.objects.count() == 0
    client.post("/m/renew/confirm/", {"fulfilment": "delivery", "address": "逸夫楼 3 层 302 室"})
    order = RenewalOrder.objects.get()
    assert order.fulfilment == "delivery" and order.delivery_address == "逸夫楼 3 层 302 室"
    client.post(f"/m/orders/{order.pk}/fulfilment/", {"fulfilment": "pickup"})
    order.refresh_from_db()
    assert order.fulfilment == "pickup"


def test_bad_photo_is_refused_with_a_reason(client, sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("x.jpg", b"GIF89a<?php system($_GET['c']); ?>", content_type="image/jpeg")
    response = client.post("/m/renew/photo/", {"photo": bad}, follow=True)
    assert response.redirect_chain == [("/m/renew/photo/", 302)]
    assert response.status_code == 200 and "JPG 或 PNG" in text(response)
    assert client.get("/m/renew/confirm/")["Location"] == "/m/renew/photo/"


def test_one_session_cannot_reach_another_plates_orders_or_photos(sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    make_pass(plate="京B67890")
    owner, other = Client(), Client()
    order = walk_to_payment(owner, sms_outbox, "京A12345")
    unlock(other, "京B67890", sms_outbox)
    for url in [
        f"/m/orders/{order.pk}/",
        f"/m/orders/{order.pk}/pay/",
        f"/m/orders/{order.pk}/result/",
        f"/m/orders/{order.pk}/refund/",
        f"/m/orders/{order.pk}/refund/done/",
        f"/m/orders/{order.pk}/photo/",
        f"/m/orders/{order.pk}/consent/",
        f"/m/orders/{order.pk + 1000}/",
    ]:
        assert other.get(url).status_code == 404, url
    assert other.post(f"/m/orders/{order.pk}/refund/").status_code == 404
    assert other.post(f"/m/orders/{order.pk}/fulfilment/", {"fulfilment": "pickup"}).status_code == 404
    assert "京A12345" not in text(other.get("/m/orders/"))
    photo = owner.get(f"/m/orders/{order.pk}/photo/")
    assert photo.status_code == 200 and photo["X-Content-Type-Options"] == "nosniff"
    # Without any verified plate the photo link asks for plate and code (any id alike).
    assert Client().get(f"/m/orders/{order.pk}/photo/")["Location"] == "/m/lookup/?for=orders"


def test_forms_need_csrf_and_changes_need_post(sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/m/lookup/", {"plate": "京A12345"}).status_code == 403
    assert sms_outbox == []
    client = Client()
    order = walk_to_payment(client, sms_outbox)
    assert client.get(f"/m/orders/{order.pk}/fulfilment/").status_code == 405
    assert client.get("/m/logout/").status_code == 405


def test_no_phone_or_code_in_logs(client, sms_outbox, fake_provider, caplog):
    make_campaign()
    previous = make_pass(plate="京A12345")
    with caplog.at_level(logging.DEBUG):
        walk_to_payment(client, sms_outbox)
    code = last_code(sms_outbox)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert previous.holder.mobile not in logged and code not in logged


def test_the_session_unlocks_one_plate_and_expires(client, sms_outbox, fake_provider, settings):
    make_campaign()
    make_pass(plate="京A12345")
    make_pass(plate="京B67890")
    unlock(client, "京A12345", sms_outbox)
    assert "京A12345" in text(client.get("/m/record/"))
    unlock(client, "京B67890", sms_outbox)
    page = text(client.get("/m/record/"))
    assert "京B67890" in page and "京A12345" not in page
    import time_machine

    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        assert client.get("/m/record/").status_code == 302


WECHAT_UA = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Mobile Safari/537.36 MicroMessenger/8.0.47"


def test_inside_wechat_pays_with_jsapi_and_the_oauth_openid(sms_outbox, fake_provider, monkeypatch):
    """With the real provider: outside WeChat "请在微信中打开"; inside, OAuth (snsapi_base) for the
    openid, then WeixinJSBridge with the provider's parameters."""
    monkeypatch.setattr(
        fake_provider, "oauth_url", lambda redirect_uri, state: f"https://open.example/auth?state={state}"
    )
    monkeypatch.setattr(fake_provider, "openid_from_code", lambda code: f"openid-for-{code}")
    make_campaign()
    make_pass(plate="京A12345")
    browser = Client()
    order = walk_to_payment(browser, sms_outbox)
    fake_provider.name = "wechatpay"
    assert "请在微信中打开" in text(browser.get(f"/m/orders/{order.pk}/pay/"))
    assert browser.post(f"/m/orders/{order.pk}/pay/").status_code == 200
    assert not [c for c in fake_provider.calls if c[0] == "create_jsapi"]

    wechat = {"HTTP_USER_AGENT": WECHAT_UA}
    response = browser.post(f"/m/orders/{order.pk}/pay/", **wechat)
    assert response.status_code == 302 and response["Location"].startswith("https://open.example/auth")
    state = response["Location"].split("state=")[1]
    assert state.isascii() and state.isalnum() and len(state) == 32  # WeChat: letters and digits only
    assert browser.get("/m/oauth/", {"code": "C0DE", "state": "forged"}, **wechat)["Location"] == "/m/orders/"
    response = browser.post(f"/m/orders/{order.pk}/pay/", **wechat)  # the forged state used up the saved one
    state = response["Location"].split("state=")[1]
    back = browser.get("/m/oauth/", {"code": "C0DE", "state": state}, **wechat)
    assert back["Location"] == f"/m/orders/{order.pk}/pay/"
    page = browser.post(f"/m/orders/{order.pk}/pay/", **wechat)
    assert "selfservice/pay.js" in text(page) and f"prepay_id=wx{order.out_trade_no}" in text(page)
    assert ("create_jsapi", order.out_trade_no, order.amount_fen) in fake_provider.calls
