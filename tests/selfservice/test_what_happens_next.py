"""Issue 14 item 6: each screen says what happens next — where and when to collect, what to bring;
使用中 only once the pass is in hand; delivered is not 已领取; the refund page's title matches."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group, User

from campuspass.core.errors import CampusPassError
from campuspass.core.roles import COURIER
from campuspass.renewals.models import RejectReason, RenewalOrder
from campuspass.renewals.services.campaigns import reject_reason_create
from campuspass.renewals.services.fulfilment import order_claim_deliveries, order_hand_out
from campuspass.renewals.services.orders import order_approve
from campuspass.renewals.services.payments import apply_payment_notification, payment_start
from campuspass.sms.models import OutboxMessage
from tests.renewals.factories import make_campaign, make_pass

from .conftest import jpeg_upload, unlock

pytestmark = pytest.mark.django_db(transaction=True)


def paid(client, sms_outbox, fake_provider, fulfilment="pickup", address="", **campaign):
    make_campaign(**campaign)
    make_pass(plate="京A12345")
    unlock(client, "京A12345", sms_outbox)
    client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    client.post("/m/renew/confirm/", {"fulfilment": fulfilment, "address": address})
    order = RenewalOrder.objects.get()
    client.post(f"/m/orders/{order.pk}/consent/")
    payment_start(order=order, openid="oX")
    fake_provider.pay(order.out_trade_no, order.amount_fen)
    apply_payment_notification(fake_provider.payment_notification(order.out_trade_no))
    order.refresh_from_db()
    return order


def test_the_payment_result_says_where_when_and_what_to_bring(client, sms_outbox, fake_provider):
    order = paid(client, sms_outbox, fake_provider)
    page = client.get(f"/m/orders/{order.pk}/result/").content.decode()
    campaign = order.campaign
    assert "支付成功" in page and campaign.pickup_place in page and campaign.pickup_hours in page
    assert "工作证" in page and f"{campaign.previous_year}年度旧证" in page
    assert "审核通过后第 1 个工作日起" in page and "15:00 以后或休息日" in page


def test_delivery_payment_result_says_who_brings_it_where(client, sms_outbox, fake_provider):
    order = paid(client, sms_outbox, fake_provider, fulfilment="delivery", address="逸夫楼 302")
    page = client.get(f"/m/orders/{order.pk}/result/").content.decode()
    assert "送到逸夫楼 302" in page and "交回旧证" in page


def test_in_use_only_once_in_hand_and_delivered_is_not_collected(client, sms_outbox, fake_provider):
    order = paid(client, sms_outbox, fake_provider, fulfilment="delivery", address="逸夫楼 302")
    order = order_approve(order=order, acting_user=None)
    assert order.validity == RenewalOrder.Validity.IN_USE
    page = client.get(f"/m/orders/{order.pk}/").content.decode()
    assert "待送证" in page and "使用中" not in page
    courier = User.objects.create_user("courier-1")
    courier.groups.add(Group.objects.get_or_create(name=COURIER)[0])
    order_claim_deliveries(orders=[order], courier=courier)
    page = client.get(f"/m/orders/{order.pk}/").content.decode()
    assert "配送中" in page and "使用中" not in page
    order_hand_out(
        order=order, acting_user=None, old_pass_collected=True, id_checked=True, channel="delivery"
    )
    page = client.get(f"/m/orders/{order.pk}/").content.decode()
    assert "使用中" in page and "通行证已送达" in page and "已领取" not in page


def test_sunday_night_approval_gives_the_office_a_printing_day_in_sms_and_page(
    client, sms_outbox, fake_provider
):
    order = paid(client, sms_outbox, fake_provider)
    sunday_night = dt.datetime(2025, 3, 9, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with time_machine.travel(sunday_night, tick=False):
        order = order_approve(order=order, acting_user=None)
    assert order.pickup_from == dt.date(2025, 3, 11)  # before: Monday 10th, nothing printed yet
    sms = OutboxMessage.objects.get(template="approved_pickup")
    assert "请于2025年3月11日起" in sms.text
    page = client.get(f"/m/orders/{order.pk}/").content.decode()
    assert "请于2025年3月11日起" in page and "待领取" in page


def test_refund_page_title_matches_its_body(client, sms_outbox, fake_provider):
    from campuspass.renewals.services.orders import order_reject

    order = paid(client, sms_outbox, fake_provider)
    order_reject(order=order, reason="照片与登记的车主信息不符", acting_user=None)
    client.post(f"/m/orders/{order.pk}/refund/")
    page = client.get(f"/m/orders/{order.pk}/refund/done/").content.decode()
    assert "<title>退款申请已提交" in page and "退款成功" not in page
    detail = client.get(f"/m/orders/{order.pk}/").content.decode()
    assert detail.count("退款处理中") == 1  # repeated sentences are said once


@pytest.mark.django_db
def test_no_reject_reason_promises_a_reupload():
    assert not RejectReason.objects.filter(text__contains="重新上传").exists()
    with pytest.raises(CampusPassError) as refused:
        reject_reason_create(text="照片模糊，请重新上传", acting_user=None)
    assert "不能重新上传" in refused.value.message
