"""Issue 14 item 2: an order link after the 30-minute verification asks for plate and code again and
then shows the order; every error page is ours, in Chinese, at phone size, also with DEBUG on."""

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from campuspass.renewals.services.orders import order_create
from tests.photos import photo_for
from tests.renewals.factories import make_campaign, make_pass

from .conftest import last_code, unlock

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_order_link_after_the_grant_expired_asks_plate_and_code_then_shows_the_order(
    client, sms_outbox, fake_provider
):
    campaign = make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    order = order_create(
        plate="京A12345", campaign=campaign, id_photo=photo_for("京A12345"), fulfilment="pickup"
    )
    url = f"/m/orders/{order.pk}/"
    assert client.get(url).status_code == 200
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=31)):
        asked = client.get(url)
        assert asked.status_code == 302 and asked["Location"] == "/m/lookup/?for=orders"
        page = client.get(asked["Location"]).content.decode()
        assert "验证后将打开该订单" in page and "输入车牌号" in page
        assert client.post("/m/lookup/", {"plate": "京A12345", "for": "orders"}).status_code == 302
        shown = client.post("/m/verify/", {"code": last_code(sms_outbox)})
        assert shown.status_code == 302 and shown["Location"] == url
        assert order.out_trade_no in client.get(url).content.decode()


def test_a_link_to_another_plates_order_still_answers_404_after_verifying(client, sms_outbox, fake_provider):
    campaign = make_campaign()
    make_pass(plate="京A12345")
    make_pass(plate="京B54321")
    other = order_create(
        plate="京B54321", campaign=campaign, id_photo=photo_for("京B54321"), fulfilment="pickup"
    )
    assert client.get(f"/m/orders/{other.pk}/")["Location"] == "/m/lookup/?for=orders"
    unlock(client, "京A12345", sms_outbox, purpose="orders")
    response = client.get(f"/m/orders/{other.pk}/")
    assert response.status_code == 404 and "页面不存在或已失效" in response.content.decode()


@pytest.mark.parametrize("path", ["/m/no-such-page/", "/nowhere", "/m/orders/999999/photo/x/"])
def test_not_found_is_our_chinese_phone_page_with_debug_on(settings, path):
    settings.DEBUG = True
    response = Client().get(path)
    body = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在或已失效" in body and 'name="viewport"' in body
    assert "Page not found" not in body and "DEBUG = True" not in body


def test_a_view_raising_404_with_debug_on_gets_our_page(settings, client, sms_outbox, fake_provider):
    settings.DEBUG = True
    make_campaign()
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    body = client.get("/m/orders/999999/").content.decode()
    assert "页面不存在或已失效" in body and "Page not found" not in body


def test_an_unexpected_error_with_debug_on_is_our_page_and_logged(settings, client, monkeypatch, caplog):
    from campuspass.selfservice import views

    settings.DEBUG = True

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "current_campaign", broken)
    response = Client(raise_request_exception=False).get("/m/")
    body = response.content.decode()
    assert response.status_code == 500 and "系统暂时出了点问题" in body and "Traceback" not in body
    assert any("boom" in str(r.exc_info) for r in caplog.records if r.exc_info)
