"""概览: the numbers on a small known data set, days in Asia/Shanghai, and a number of queries that
does not grow with the number of orders."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice.roles import COURIER, FINANCE, REVIEWER
from campuspass.renewals.models import Campaign, Refund, RenewalOrder
from campuspass.renewals.selectors_dashboard import campaign_dashboard
from campuspass.renewals.services.review import review_approve, review_reject
from tests.renewals.factories import make_campaign

from .test_review import paid_order

SH = ZoneInfo("Asia/Shanghai")
S = RenewalOrder.Status
pytestmark = pytest.mark.django_db


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2019, 6, day, hour, minute, tzinfo=SH)


@pytest.fixture
def campaign():
    return make_campaign(
        valid_from=timezone.localdate() - dt.timedelta(days=1),
        valid_to=timezone.localdate() + dt.timedelta(days=300),
    )


def set_window(campaign, start, end) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(window_start=start, window_end=end)
    campaign.refresh_from_db()


def build(campaign, reviewer, *, scale: int = 1) -> dict:
    """Per `scale`: 2 waiting, 2 approved (1 pickup, 1 delivery), 1 handed out, 1 rejected and
    refunded, 1 unpaid — with known creation days."""
    made = {"paid": [], "approved": []}
    # orders can only be created while the window is open; the window is then set to 2019's
    set_window(campaign, timezone.now() - dt.timedelta(days=1), timezone.now() + dt.timedelta(days=6))
    oldest_paid = at(13, 9)
    for i in range(scale):
        waiting_old = paid_order(campaign, paid_at=oldest_paid if i == 0 else at(14, 9))
        waiting_new = paid_order(campaign, paid_at=at(15, 10))
        pickup = paid_order(campaign, paid_at=at(13, 10))
        delivery = paid_order(campaign, paid_at=at(13, 11), fulfilment="delivery", address="教学楼 2 层")
        handed = paid_order(campaign, paid_at=at(13, 12))
        rejected = paid_order(campaign, paid_at=at(14, 12))
        for order in (pickup, delivery, handed):
            review_approve(order=order, acting_user=reviewer)
        review_reject(order=rejected, acting_user=reviewer, reason="照片不清晰")
        # the refund went through (the refund flow itself is tested with the renewal core)
        RenewalOrder.objects.filter(pk=rejected.pk).update(status=S.REFUNDED)
        Refund.objects.create(
            payment=rejected.applied_payment(),
            order=rejected,
            out_refund_no=f"R{rejected.pk}",
            amount_fen=rejected.paid_amount_fen,
            status=Refund.Status.SUCCEEDED,
            reason="审核未通过",
        )
        RenewalOrder.objects.filter(pk=handed.pk).update(
            handed_out_at=timezone.now(), fulfilment_status=RenewalOrder.Handover.COLLECTED
        )
        unpaid = paid_order(campaign)
        unpaid.payments.all().delete()
        RenewalOrder.objects.filter(pk=unpaid.pk).update(status=S.PENDING_PAYMENT, paid_at=None)
        # creation days: 06-12 (2), 06-13 00:30 Shanghai = 06-12 16:30 UTC (3), 06-14 (2)
        for order, when in (
            (waiting_old, at(12, 9)),
            (waiting_new, at(12, 23, 59)),
            (pickup, at(13, 0, 30)),
            (delivery, at(13, 10)),
            (handed, at(13, 11)),
            (rejected, at(14, 8)),
            (unpaid, at(14, 9)),
        ):
            RenewalOrder.objects.filter(pk=order.pk).update(created_at=when)
        made["paid"] += [waiting_old, waiting_new]
    set_window(campaign, at(12, 8), at(19, 17))
    return made


def test_dashboard_numbers(campaign, make_user):
    build(campaign, make_user(REVIEWER, "rv"))
    board = campaign_dashboard(campaign)
    assert board.total_orders == 7
    assert board.count("paid") == 2
    # As the staff member sees it: the two not yet in hand show where the pass is, not 使用中.
    assert board.count("approved:in_use") == 1
    assert board.count("approved:to_collect") == 1 and board.count("approved:to_deliver") == 1
    assert board.count("approved:not_yet") == 0
    assert board.count("refunded") == 1
    assert board.count("pending_payment") == 1
    assert board.backlog == 2
    assert board.oldest_waiting_paid_at == at(13, 9)
    assert board.pickups_pending == 1  # the handed-out one is not pending
    assert board.deliveries_pending == 1
    assert board.taken_fen == 6 * 15000  # the unpaid order took nothing
    assert board.paid_orders == 6
    assert board.refunded_fen == 15000 and board.refunded_count == 1
    assert board.net_fen == 5 * 15000
    per_day = {d.day: d.orders for d in board.days}
    assert per_day[dt.date(2019, 6, 12)] == 2
    assert per_day[dt.date(2019, 6, 13)] == 3
    assert per_day[dt.date(2019, 6, 14)] == 2
    assert per_day[dt.date(2019, 6, 19)] == 0  # every day of the window is on the chart
    assert [d.day for d in board.days][0] == dt.date(2019, 6, 12)
    assert len(board.days) == 8
    paid_per_day = {d.day: d.paid for d in board.days}
    assert paid_per_day[dt.date(2019, 6, 14)] == 1


def test_approved_split_into_not_yet_and_in_use(make_user):
    future = make_campaign(
        valid_from=timezone.localdate() + dt.timedelta(days=30),
        valid_to=timezone.localdate() + dt.timedelta(days=300),
    )
    review_approve(order=paid_order(future), acting_user=make_user(REVIEWER, "rv"))
    order = paid_order(future)
    review_approve(order=order, acting_user=make_user(REVIEWER, "rv2"))
    RenewalOrder.objects.filter(pk=order.pk).update(fulfilment_status=RenewalOrder.Handover.COLLECTED)
    board = campaign_dashboard(future)
    assert board.count("approved:to_collect") == 1  # approved, waiting at the counter
    assert board.count("approved:not_yet") == 1  # in hand, its dates not yet begun
    labels = [row.label for row in board.statuses]
    assert labels[:8] == ["待支付", "待审核", "待领取", "待送证", "配送中", "待生效", "使用中", "已过期"]


def test_selector_queries_do_not_grow_with_orders(campaign, make_user):
    reviewer = make_user(REVIEWER, "rv")
    build(campaign, reviewer)
    with CaptureQueriesContext(connection) as small:
        campaign_dashboard(campaign)
    build(campaign, reviewer, scale=3)
    with CaptureQueriesContext(connection) as large:
        board = campaign_dashboard(campaign)
    assert board.total_orders == 28
    assert len(small.captured_queries) == len(large.captured_queries) == 4  # orders, days, payments, refunds


def test_dashboard_screen(campaign, office_client, make_user, django_assert_max_num_queries):
    build(campaign, make_user(REVIEWER, "rv"), scale=2)
    client, _ = office_client(FINANCE)
    # The first page after signing in stamps the idle clock in the session (a write that later pages
    # make only once a minute): measure a page as the office sees it all day.
    client.get(reverse("backoffice:dashboard"), {"year": campaign.year})
    with django_assert_max_num_queries(12):  # 11 + today's SMS budget (issue 14)
        response = client.get(reverse("backoffice:dashboard"), {"year": campaign.year})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="stat-backlog">4<' in body
    assert 'id="stat-taken">¥1800.00<' in body
    assert 'id="stat-refunded">¥300.00<' in body
    assert 'id="stat-pickups">2<' in body
    assert 'id="stat-deliveries">2<' in body
    assert "<svg" in body and body.count('class="cbar-paid"') == 8
    for label in (
        "待支付",
        "待审核",
        "待领取",
        "待送证",
        "使用中",
        "审核未通过",
        "退款中",
        "已退款",
        "退款异常",
    ):
        assert label in body


def test_dashboard_without_a_campaign(office_client):
    client, _ = office_client(COURIER)
    response = client.get(reverse("backoffice:dashboard"))
    assert response.status_code == 200
    assert "还没有续费活动" in response.content.decode()


def test_year_selector_shows_another_campaign(campaign, office_client):
    other = make_campaign(year=2020, previous_year=2019)
    client, _ = office_client(FINANCE)
    body = client.get(reverse("backoffice:dashboard"), {"year": "2020"}).content.decode()
    assert f"{other.year}年度续费" in body
