"""Findings of the review of the back office (each failed before its fix)."""

import pytest
from django.urls import reverse

from campuspass.backoffice import roles
from campuspass.core.models import LogEntry
from campuspass.renewals.services.fulfilment import order_assign_courier
from tests.renewals.factories import make_campaign

from .test_counter import approved_order, paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return make_campaign()


def test_a_courier_sees_full_numbers_only_of_passes_still_to_deliver_to_them(
    campaign, office_client, make_user
):
    client, courier = office_client(roles.COURIER)
    url = lambda order: reverse("backoffice:order-full-phone", args=[order.pk])  # noqa: E731
    pickup = approved_order(campaign, mobile="13911110001")
    unpaid_review = paid_order(campaign, mobile="13911110002")
    others = approved_order(campaign, fulfilment="delivery", address="逸夫楼3层301", mobile="13911110003")
    order_assign_courier(orders=[others], courier=make_user(roles.COURIER, "other-courier"), acting_user=None)
    mine = approved_order(campaign, fulfilment="delivery", address="逸夫楼3层302", mobile="13911110004")
    order_assign_courier(orders=[mine], courier=courier, acting_user=None)

    for order in (pickup, unpaid_review, others):
        response = client.post(url(order), {"where": "delivery"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 404
        assert order.staff.mobile not in response.content.decode()
    assert not LogEntry.objects.filter(action="core.phone.viewed").exists()

    response = client.post(url(mine), {"where": "delivery"}, HTTP_HX_REQUEST="true")
    assert "13911110004" in response.content.decode()
    assert LogEntry.objects.filter(action="core.phone.viewed", actor=courier).count() == 1


def test_the_counter_still_sees_any_orders_full_number(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    order = approved_order(campaign, mobile="13911110005")
    response = client.post(
        reverse("backoffice:order-full-phone", args=[order.pk]), {"where": "counter"}, HTTP_HX_REQUEST="true"
    )
    assert "13911110005" in response.content.decode()


def test_a_revealed_full_number_is_not_put_in_a_cookie(campaign, office_client):
    client, _ = office_client(roles.COUNTER)
    order = approved_order(campaign, mobile="13911110006")
    response = client.post(reverse("backoffice:order-full-phone", args=[order.pk]), {"where": "counter"})
    assert response.status_code == 302
    cookies = " ".join(morsel.value for morsel in response.cookies.values())
    assert "13911110006" not in cookies and "messages" not in response.cookies
    page = client.get(response["Location"])
    assert "13911110006" in page.content.decode()  # the clerk still sees it, once
