"""Who may renew online (product.md section 5): each reason has its own message."""

import datetime as dt

import pytest
from django.utils import timezone

from campuspass.registry.models import Pass, Staff
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.selectors import renewal_eligibility

from .factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return make_campaign()


def check(plate, campaign, **kwargs):
    return renewal_eligibility(plate=plate, campaign=campaign, **kwargs)


def test_active_staff_with_approved_previous_pass_and_local_plate_may_renew(campaign):
    permit = make_pass()
    result = check(permit.vehicle.plate, campaign)
    assert result.ok and result.previous_pass == permit


@pytest.mark.parametrize("status", [Staff.Status.LEFT, Staff.Status.RETIRED])
def test_staff_not_in_service(campaign, status):
    permit = make_pass(status=status)
    result = check(permit.vehicle.plate, campaign)
    assert (result.ok, result.code) == (False, "not_in_service")
    assert Staff.Status(status).label in result.message
    assert campaign.pickup_place in result.message and "82802290" in result.message


def test_no_pass_for_the_previous_year(campaign):
    make_pass(plate="京B11111", year=2017)
    result = check("京B11111", campaign)
    assert result.code == "no_previous_pass"
    assert "2018" in result.message and "现场办理" in result.message


def test_unknown_plate_is_treated_like_no_previous_pass(campaign):
    assert check("京C99999", campaign).code == "no_previous_pass"


@pytest.mark.parametrize("review", [Pass.ReviewStatus.REJECTED, Pass.ReviewStatus.PENDING])
def test_previous_pass_not_approved(campaign, review):
    permit = make_pass(review=review)
    result = check(permit.vehicle.plate, campaign)
    assert result.code == "previous_not_approved"
    assert Pass.ReviewStatus(review).label in result.message


def test_out_of_province_plate(campaign):
    permit = make_pass(plate="冀A12345")
    result = check(permit.vehicle.plate, campaign)
    assert result.code == "not_local_plate"
    assert "外省（市）号牌" in result.message and "需到现场办理" in result.message


def test_local_prefixes_are_configurable(campaign):
    campaign.local_prefixes = "京,冀"
    campaign.save()
    assert check(make_pass(plate="冀A12345").vehicle.plate, campaign).ok


def test_window_not_yet_open_and_closed(campaign):
    permit = make_pass()
    before = campaign.window_start - dt.timedelta(minutes=1)
    after = campaign.window_end + dt.timedelta(minutes=1)
    assert check(permit.vehicle.plate, campaign, at=before).code == "window_closed"
    result = check(permit.vehicle.plate, campaign, at=after)
    assert result.code == "window_closed" and "已结束" in result.message
    start = timezone.localtime(campaign.window_start)
    assert f"{start:%Y年%-m月%-d日}" in result.message


@pytest.mark.parametrize("status", [RenewalOrder.Status.PAID, RenewalOrder.Status.APPROVED])
def test_open_or_approved_order_exists(campaign, status):
    permit = make_pass()
    RenewalOrder.objects.create(
        campaign=campaign,
        previous_pass=permit,
        staff=permit.holder,
        vehicle=permit.vehicle,
        plate=permit.vehicle.plate,
        amount_fen=campaign.price_fen,
        out_trade_no="T1",
        status=status,
    )
    result = check(permit.vehicle.plate, campaign)
    assert result.code == "order_exists" and "订单记录" in result.message


@pytest.mark.parametrize("status", [RenewalOrder.Status.CLOSED, RenewalOrder.Status.REFUNDED])
def test_finished_orders_do_not_block_a_new_one(campaign, status):
    permit = make_pass()
    RenewalOrder.objects.create(
        campaign=campaign,
        previous_pass=permit,
        staff=permit.holder,
        vehicle=permit.vehicle,
        plate=permit.vehicle.plate,
        amount_fen=campaign.price_fen,
        out_trade_no="T1",
        status=status,
    )
    assert check(permit.vehicle.plate, campaign).ok


def test_no_campaign():
    assert renewal_eligibility(plate="京A12345", campaign=None).code == "no_campaign"


def test_each_reason_has_its_own_message(campaign):
    messages = {
        check(make_pass(status=Staff.Status.LEFT).vehicle.plate, campaign).message,
        check("京Z99999", campaign).message,
        check(make_pass(review=Pass.ReviewStatus.PENDING).vehicle.plate, campaign).message,
        check(make_pass(plate="津A12345").vehicle.plate, campaign).message,
        check(make_pass().vehicle.plate, campaign, at=campaign.window_end).message,
    }
    assert len(messages) == 5
