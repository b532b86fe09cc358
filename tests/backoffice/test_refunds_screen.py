"""退款管理 (issue 5, item 5): refunds by state with their platform state; a failed refund is
retried with the same out_refund_no; a processing one is queried; never more than was paid; a
rejected order the staff member has not applied for can be applied for on their behalf."""

import pytest
from django.urls import reverse

from campuspass.backoffice import roles
from campuspass.core.models import LogEntry
from campuspass.payments import providers
from campuspass.renewals.models import Refund, RenewalOrder
from campuspass.renewals.services.refunds import refund_request
from tests.renewals.factories import make_campaign
from tests.renewals.fakes import FakeProvider

from .test_counter import rejected_order

S = RenewalOrder.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(monkeypatch):
    fake = FakeProvider()
    monkeypatch.setattr(providers, "_provider", fake)
    return fake


@pytest.fixture
def campaign():
    return make_campaign()


@pytest.fixture
def finance(office_client):
    client, user = office_client(roles.FINANCE)
    return client, user


def failed_refund(campaign, fake, capture) -> Refund:
    fake.refund_answer = "NOT_ENOUGH"  # the platform refuses: a final "no"
    order = rejected_order(campaign)
    with capture(execute=True):
        refund = refund_request(order=order)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    return refund


def refund_calls(fake):
    return [call for call in fake.calls if call[0] == "refund"]


def test_failed_refund_is_listed_with_its_platform_state_and_retried_with_the_same_number(
    campaign, fake, finance, django_capture_on_commit_callbacks
):
    client, user = finance
    refund = failed_refund(campaign, fake, django_capture_on_commit_callbacks)
    html = client.get(reverse("backoffice:refunds"), {"tab": "failed"}).content.decode()
    assert refund.out_refund_no in html and "NOT_ENOUGH" in html and "重试" in html and "150.00" in html

    fake.refund_answer = "PROCESSING"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("backoffice:refunds-retry", args=[refund.order_id]), {"tab": "failed"}, follow=True
        )
    assert f"已用原退款单号 {refund.out_refund_no} 重新提交" in response.content.decode()
    assert Refund.objects.filter(order_id=refund.order_id).count() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    assert [call[1] for call in refund_calls(fake)] == [refund.out_refund_no, refund.out_refund_no]
    assert RenewalOrder.objects.get(pk=refund.order_id).status == S.REFUNDING
    entry = LogEntry.objects.get(action="renewals.refund.retried")
    assert entry.actor == user and entry.data["out_refund_no"] == refund.out_refund_no


def test_processing_refund_is_queried_to_done_and_shows_paid_against_refunded(
    campaign, fake, finance, django_capture_on_commit_callbacks
):
    client, _ = finance
    order = rejected_order(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(order=order)
    html = client.get(reverse("backoffice:refunds"), {"tab": "processing"}).content.decode()
    assert refund.out_refund_no in html and "查询" in html

    fake.refunds[refund.out_refund_no]["status"] = "SUCCESS"
    response = client.post(
        reverse("backoffice:refunds-sync", args=[refund.pk]), {"tab": "processing"}, follow=True
    )
    assert "退款成功" in response.content.decode()
    assert RenewalOrder.objects.get(pk=order.pk).status == S.REFUNDED
    html = client.get(reverse("backoffice:refunds"), {"tab": "done"}).content.decode()
    assert refund.out_refund_no in html and "150.00 / 150.00" in html


def test_query_of_a_refund_still_processing_says_so(
    campaign, fake, finance, django_capture_on_commit_callbacks
):
    client, _ = finance
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(order=rejected_order(campaign))
    response = client.post(reverse("backoffice:refunds-sync", args=[refund.pk]), follow=True)
    assert "仍在处理中" in response.content.decode()


def test_never_more_than_was_paid_through_the_screen(
    campaign, fake, finance, django_capture_on_commit_callbacks
):
    client, _ = finance
    fake.refund_answer = "SUCCESS"
    order = rejected_order(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        refund_request(order=order)
    assert RenewalOrder.objects.get(pk=order.pk).status == S.REFUNDED
    with django_capture_on_commit_callbacks(execute=True):
        retried = client.post(reverse("backoffice:refunds-retry", args=[order.pk]), follow=True)
        requested = client.post(reverse("backoffice:refunds-request", args=[order.pk]), follow=True)
    assert "没有可重试的退款" in retried.content.decode()
    assert "不能" in requested.content.decode()
    refunds = Refund.objects.filter(order=order)
    assert refunds.count() == 1
    assert sum(r.amount_fen for r in refunds if r.status == Refund.Status.SUCCEEDED) == order.paid_amount_fen
    assert len(refund_calls(fake)) == 1


def test_rejected_orders_without_a_request_can_be_applied_for_on_the_staff_members_behalf(
    campaign, fake, finance, django_capture_on_commit_callbacks
):
    client, user = finance
    order = rejected_order(campaign)
    html = client.get(reverse("backoffice:refunds"), {"tab": "unrequested"}).content.decode()
    assert order.plate in html and "代为申请退款" in html and "照片不清晰" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("backoffice:refunds-request", args=[order.pk]), {"tab": "unrequested"}, follow=True
        )
    refund = Refund.objects.get(order=order)
    assert refund.requested_by == user and refund.amount_fen == order.paid_amount_fen
    assert f"退款单号 {refund.out_refund_no}" in response.content.decode()
    assert RenewalOrder.objects.get(pk=order.pk).status == S.REFUNDING
    # Asking twice does not create a second refund.
    client.post(reverse("backoffice:refunds-request", args=[order.pk]))
    assert Refund.objects.filter(order=order).count() == 1


def test_rejection_does_not_refund_by_itself_unless_the_campaign_says_so(
    fake, django_capture_on_commit_callbacks
):
    manual = make_campaign()
    assert not Refund.objects.filter(order=rejected_order(manual)).exists()
    automatic = make_campaign(year=2020, previous_year=2018, auto_refund_on_reject=True)
    with django_capture_on_commit_callbacks(execute=True):
        order = rejected_order(automatic)
    assert Refund.objects.filter(order=order).count() == 1


def test_tabs_count_each_state(campaign, fake, finance, django_capture_on_commit_callbacks):
    client, _ = finance
    rejected_order(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        refund_request(order=rejected_order(campaign))
    failed_refund(campaign, fake, django_capture_on_commit_callbacks)
    response = client.get(reverse("backoffice:refunds"))
    tabs = {t["key"]: t["count"] for t in response.context["tabs"]}
    assert tabs == {
        "attention": 1,  # NOT_ENOUGH is a FINANCE answer: 需要处理 (decision 0035)
        "unclaimed": 0,
        "pending": 0,
        "processing": 1,
        "done": 0,
        "failed": 1,
        "unrequested": 1,
    }
    assert response.context["tab"] == "attention"  # what needs finance's attention first


@pytest.mark.parametrize("role", [roles.COUNTER, roles.REVIEWER, roles.COURIER])
def test_refunds_are_for_finance_and_administrators(campaign, fake, office_client, role):
    client, _ = office_client(role)
    order = rejected_order(campaign)
    assert client.get(reverse("backoffice:refunds")).status_code == 403
    assert client.post(reverse("backoffice:refunds-request", args=[order.pk])).status_code == 403
    assert not Refund.objects.exists()
