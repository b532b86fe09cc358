"""Issue 14 item 3: every step survives back, refresh and a second tab (post/redirect/get), and
取消支付 shows 已取消支付 with 继续支付."""

import pytest

from campuspass.renewals.models import RenewalOrder
from tests.renewals.factories import make_campaign, make_pass

from .conftest import jpeg_upload, unlock

pytestmark = pytest.mark.django_db(transaction=True)


def test_back_from_consent_shows_the_confirmation_with_the_photo_and_continues_the_order(
    client, sms_outbox, fake_provider
):
    make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    to_consent = client.post("/m/renew/confirm/", {"fulfilment": "delivery", "address": "逸夫楼 302"})
    order = RenewalOrder.objects.get()
    assert to_consent["Location"] == f"/m/orders/{order.pk}/consent/"
    back = client.get("/m/renew/confirm/")  # before: redirected with "请先上传工作证照片"
    page = back.content.decode()
    assert back.status_code == 200 and "提交订单" in page and "请先上传工作证照片" not in page
    assert f"/m/orders/{order.pk}/photo/" in page and 'value="逸夫楼 302"' in page
    assert client.get(f"/m/orders/{order.pk}/photo/").status_code == 200
    again = client.post("/m/renew/confirm/", {"fulfilment": "delivery", "address": "逸夫楼 302"})
    assert again["Location"] == f"/m/orders/{order.pk}/consent/"
    assert RenewalOrder.objects.count() == 1


def test_refused_posts_redirect_so_refresh_and_back_post_nothing_again(client, sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    refused = client.post("/m/renew/photo/", {})
    assert refused.status_code == 302 and refused["Location"] == "/m/renew/photo/"
    first = client.get("/m/renew/photo/").content.decode()
    assert "请选择或拍摄工作证" in first
    assert "请选择或拍摄工作证" not in client.get("/m/renew/photo/").content.decode()  # said once


def test_a_second_tab_submitting_and_agreeing_again_changes_nothing(client, sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    client.get("/m/renew/confirm/")  # tab 2 opens the same step
    first = client.post("/m/renew/confirm/", {"fulfilment": "pickup"})
    second = client.post("/m/renew/confirm/", {"fulfilment": "pickup"})  # tab 2 submits too
    assert first["Location"] == second["Location"] and RenewalOrder.objects.count() == 1
    order = RenewalOrder.objects.get()
    assert client.post(f"/m/orders/{order.pk}/consent/")["Location"] == f"/m/orders/{order.pk}/pay/"
    assert client.post(f"/m/orders/{order.pk}/consent/")["Location"] == f"/m/orders/{order.pk}/pay/"
    assert client.get("/m/renew/confirm/")["Location"] == f"/m/orders/{order.pk}/pay/"


def test_cancelled_payment_says_so_with_continue(client, sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    client.post("/m/renew/confirm/", {"fulfilment": "pickup"})
    order = RenewalOrder.objects.get()
    client.post(f"/m/orders/{order.pk}/consent/")
    page = client.get(f"/m/orders/{order.pk}/result/?cancelled=1").content.decode()
    assert "已取消支付" in page and "继续支付" in page and "支付结果确认中" not in page
    assert f'href="/m/orders/{order.pk}/pay/"' in page


def test_a_payment_refused_for_the_merchant_setup_tells_staff_the_office_knows(
    client, sms_outbox, fake_provider, monkeypatch
):
    """A FINANCE answer to 立即支付 (e.g. the AppID not bound to the merchant): finance gets the alert;
    the staff member is told the order is kept and the office is on it — not 'retry' with a setting
    name they cannot act on."""
    from campuspass.payments.models import PaymentAlert
    from campuspass.payments.providers import PaymentProviderError

    make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    client.post("/m/renew/confirm/", {"fulfilment": "pickup"})
    order = RenewalOrder.objects.get()
    client.post(f"/m/orders/{order.pk}/consent/")

    def refused(*args, **kwargs):
        raise PaymentProviderError("AppID和mch_id不匹配", code="APPID_MCHID_NOT_MATCH")

    monkeypatch.setattr(fake_provider, "create_jsapi", refused)
    page = client.post(f"/m/orders/{order.pk}/pay/").content.decode()
    assert "已自动通知财务人员" in page and "行政2号楼1层122、123室" in page
    assert "APPID" not in page.upper() and "商户平台" not in page
    assert PaymentAlert.objects.filter(call="jsapi", code="APPID_MCHID_NOT_MATCH").exists()
