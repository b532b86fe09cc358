"""审核: claims (two reviewers never decide the same order; an expired claim can be taken over),
approve / reject through the renewal core with the staff member's SMS, the queue oldest first,
"next", and the review screens."""

import datetime as dt
import itertools

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice.roles import ADMIN, COUNTER, REVIEWER
from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.renewals.models import RejectReason, RenewalOrder
from campuspass.renewals.services.orders import order_create, order_mark_paid, order_record_consent
from campuspass.renewals.services.review import (
    AlreadyDecided,
    ClaimedByOther,
    compose_reject_reason,
    order_claim,
    order_release,
    review_approve,
    review_next,
    review_queue,
    review_reject,
)
from campuspass.sms.models import OutboxMessage
from campuspass.verification.models import IdPhoto
from tests.photos import photo_for, stored_photo_for
from tests.renewals.factories import make_campaign, make_pass

S = RenewalOrder.Status
_tx = itertools.count(1)


def paid_order(campaign, *, paid_at=None, fulfilment="pickup", address="", **pass_kwargs) -> RenewalOrder:
    """A 待审核 order of `campaign`, paid at `paid_at`, through the renewal core's services."""
    previous = make_pass(year=campaign.previous_year, **pass_kwargs)
    order = order_create(
        plate=previous.vehicle.plate,
        campaign=campaign,
        id_photo=photo_for(previous.vehicle.plate),
        fulfilment=fulfilment,
        delivery_address=address,
    )
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address="127.0.0.1", user_agent="test"
    )
    order, changed = order_mark_paid(
        out_trade_no=order.out_trade_no,
        transaction_id=f"4200TEST{next(_tx):020d}",
        amount_fen=order.amount_fen,
        paid_at=paid_at,
        source="test",
    )
    assert changed and order.status == S.PAID
    return order


@pytest.fixture
def campaign(db):
    return make_campaign()


@pytest.fixture
def reviewers(make_user):
    return make_user(REVIEWER, "reviewer-a"), make_user(REVIEWER, "reviewer-b")


# --- services -------------------------------------------------------------------------------


def test_claim_holds_the_order_and_a_second_reviewer_is_refused(campaign, reviewers):
    a, b = reviewers
    order = paid_order(campaign)
    claimed = order_claim(order=order, acting_user=a)
    assert claimed.claimed_by == a
    assert claimed.claimed_until > timezone.now()
    with pytest.raises(ClaimedByOther) as refused:
        order_claim(order=order, acting_user=b)
    assert "该订单正由 审核员（reviewer-a） 审核" in refused.value.message
    with pytest.raises(ClaimedByOther):
        review_approve(order=order, acting_user=b)
    with pytest.raises(ClaimedByOther):
        review_reject(order=order, acting_user=b, reason="照片不清晰")
    order.refresh_from_db()
    assert order.status == S.PAID and order.claimed_by == a


def test_own_claim_is_renewed(campaign, reviewers):
    a, _ = reviewers
    order = paid_order(campaign)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        first = order_claim(order=order, acting_user=a).claimed_until
        traveller.shift(dt.timedelta(minutes=4))
        second = order_claim(order=order, acting_user=a).claimed_until
    assert second - first == dt.timedelta(minutes=4)
    assert LogEntry.objects.filter(action="renewals.order.claimed", object_id=str(order.pk)).count() == 1


def test_expired_claim_can_be_taken_over(campaign, reviewers):
    a, b = reviewers
    order = paid_order(campaign)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        order_claim(order=order, acting_user=a, minutes=5)
        traveller.shift(dt.timedelta(minutes=4, seconds=59))
        with pytest.raises(ClaimedByOther):
            order_claim(order=order, acting_user=b)
        traveller.shift(dt.timedelta(seconds=2))
        taken = order_claim(order=order, acting_user=b)
        assert taken.claimed_by == b
        approved = review_approve(order=order, acting_user=b)
    assert approved.status == S.APPROVED
    entry = LogEntry.objects.filter(action="renewals.order.claimed", actor=b).get()
    assert entry.data["taken_over_from"] == a.pk


def test_approve_sends_the_pickup_sms_and_clears_the_claim(campaign, reviewers):
    a, _ = reviewers
    order = paid_order(campaign)
    order_claim(order=order, acting_user=a)
    approved = review_approve(order=order, acting_user=a)
    approved.refresh_from_db()
    assert approved.status == S.APPROVED
    assert approved.decided_by == a
    assert approved.claimed_by is None and approved.claimed_until is None
    assert approved.new_pass is not None and approved.pickup_from is not None
    sms = OutboxMessage.objects.get(related=f"order:{order.pk}")
    assert sms.template == "approved_pickup"
    assert sms.phone == order.staff.mobile
    assert campaign.pickup_place in sms.text


def test_approve_delivery_order_sends_the_delivery_sms(campaign, reviewers):
    a, _ = reviewers
    order = paid_order(campaign, fulfilment="delivery", address="行政楼 3 层 301")
    review_approve(order=order, acting_user=a)  # nobody holds a claim: allowed
    assert OutboxMessage.objects.get(related=f"order:{order.pk}").template == "approved_delivery"


def test_reject_sends_the_reason_by_sms(campaign, reviewers):
    a, _ = reviewers
    blurry = RejectReason.objects.create(text="照片不清晰", position=1)
    RejectReason.objects.create(text="已停用的原因", active=False)
    order = paid_order(campaign)
    order_claim(order=order, acting_user=a)
    reason = compose_reject_reason(reason_ids=[str(blurry.pk)], note="  请重新拍摄  工作证正面 ")
    assert reason == "照片不清晰；请重新拍摄 工作证正面"
    rejected = review_reject(order=order, acting_user=a, reason=reason)
    rejected.refresh_from_db()
    assert rejected.status == S.REJECTED and rejected.reject_reason == reason
    assert rejected.claimed_by is None
    sms = OutboxMessage.objects.get(related=f"order:{order.pk}")
    assert sms.template == "rejected"
    assert "照片不清晰" in sms.text


def test_inactive_reasons_are_ignored_and_an_empty_reason_is_refused(campaign, reviewers):
    a, _ = reviewers
    off = RejectReason.objects.create(text="停用", active=False)
    assert compose_reject_reason(reason_ids=[off.pk, "x"], note="") == ""
    order = paid_order(campaign)
    with pytest.raises(CampusPassError) as refused:
        review_reject(order=order, acting_user=a, reason="")
    assert "原因" in refused.value.message
    order.refresh_from_db()
    assert order.status == S.PAID


def test_a_decided_order_cannot_be_decided_again(campaign, reviewers):
    a, b = reviewers
    order = paid_order(campaign)
    review_approve(order=order, acting_user=a)
    with pytest.raises(AlreadyDecided) as refused:
        review_reject(order=order, acting_user=b, reason="重复")
    assert "该订单已被处理（当前状态：" in refused.value.message
    with pytest.raises(AlreadyDecided):
        order_claim(order=order, acting_user=b)
    assert OutboxMessage.objects.filter(related=f"order:{order.pk}").count() == 1


def test_release_gives_back_only_ones_own_claim(campaign, reviewers):
    a, b = reviewers
    order = paid_order(campaign)
    order_claim(order=order, acting_user=a)
    order_release(order=order, acting_user=b)
    order.refresh_from_db()
    assert order.claimed_by == a
    order_release(order=order, acting_user=a)
    order.refresh_from_db()
    assert order.claimed_by is None
    assert order_claim(order=order, acting_user=b).claimed_by == b


def test_queue_is_oldest_payment_first_and_next_skips_orders_held_by_others(campaign, reviewers):
    a, b = reviewers
    now = timezone.now()
    newest = paid_order(campaign, paid_at=now - dt.timedelta(minutes=5))
    oldest = paid_order(campaign, paid_at=now - dt.timedelta(hours=3))
    middle = paid_order(campaign, paid_at=now - dt.timedelta(hours=1))
    paid_order(campaign)  # a fourth, paid now
    assert [o.pk for o in review_queue()][:3] == [oldest.pk, middle.pk, newest.pk]
    order_claim(order=oldest, acting_user=a)
    assert review_next(acting_user=a) == oldest  # one's own claim is still one's own
    assert review_next(acting_user=b) == middle  # a's order is skipped
    # skipping: the one after, wrapping round, never the same order
    assert review_next(acting_user=b, after=middle) == newest
    last = review_queue().last()
    assert review_next(acting_user=b, after=last) == middle


def test_next_is_none_when_the_queue_is_empty(campaign, reviewers):
    a, _ = reviewers
    order = paid_order(campaign)
    review_approve(order=order, acting_user=a)
    assert review_next(acting_user=a) is None


# --- screens --------------------------------------------------------------------------------


def test_opening_an_order_claims_it_and_shows_the_record(campaign, office_client):
    client, user = office_client(REVIEWER)
    order = paid_order(campaign, mobile="13912345678")
    response = client.get(reverse("backoffice:review-order", args=[order.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert order.staff.name in body and order.staff.staff_no in body and order.plate in body
    assert "139****5678" in body and "13912345678" not in body
    assert order.previous_pass.number in body
    assert "审核通过" in body and "审核不通过" in body
    order.refresh_from_db()
    assert order.claimed_by == user


def test_next_redirects_to_the_oldest_order(campaign, office_client):
    client, _ = office_client(REVIEWER)
    now = timezone.now()
    paid_order(campaign, paid_at=now)
    oldest = paid_order(campaign, paid_at=now - dt.timedelta(hours=2))
    response = client.get(reverse("backoffice:review-next"))
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:review-order", args=[oldest.pk])


def test_approve_screen_goes_straight_to_the_next_order(campaign, office_client):
    client, user = office_client(REVIEWER)
    now = timezone.now()
    first = paid_order(campaign, paid_at=now - dt.timedelta(hours=2))
    second = paid_order(campaign, paid_at=now - dt.timedelta(hours=1))
    client.get(reverse("backoffice:review-order", args=[first.pk]))
    response = client.post(reverse("backoffice:review-approve", args=[first.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("backoffice:review-order", args=[second.pk])
    first.refresh_from_db()
    assert first.status == S.APPROVED and first.decided_by == user


def test_reject_screen_combines_the_reason_and_the_note(campaign, office_client):
    client, _ = office_client(REVIEWER)
    reason = RejectReason.objects.create(text="照片与登记信息不符")
    order = paid_order(campaign)
    response = client.post(
        reverse("backoffice:review-reject", args=[order.pk]), {"reason": [reason.pk], "note": "车牌看不清"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == S.REJECTED
    assert order.reject_reason == "照片与登记信息不符；车牌看不清"


def test_reject_without_a_reason_stays_on_the_order(campaign, office_client):
    client, _ = office_client(REVIEWER)
    order = paid_order(campaign)
    response = client.post(reverse("backoffice:review-reject", args=[order.pk]), {"note": " "}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("backoffice:review-order", args=[order.pk])
    assert "请选择或填写不通过的原因" in response.content.decode()
    order.refresh_from_db()
    assert order.status == S.PAID


def test_deciding_an_order_someone_else_decided_moves_on(campaign, office_client, make_user):
    client, _ = office_client(REVIEWER)
    order = paid_order(campaign)
    review_approve(order=order, acting_user=make_user(REVIEWER, "colleague"))
    response = client.post(reverse("backoffice:review-approve", args=[order.pk]), follow=True)
    body = response.content.decode()
    assert "该订单已被处理（当前状态：" in body
    assert response.redirect_chain[-1][0] == reverse("backoffice:review")


def test_an_order_held_by_another_reviewer_is_shown_read_only(campaign, office_client, make_user):
    other = make_user(REVIEWER, "colleague")
    order = paid_order(campaign)
    order_claim(order=order, acting_user=other)
    client, _ = office_client(REVIEWER)
    body = client.get(reverse("backoffice:review-order", args=[order.pk])).content.decode()
    assert "该订单正由 审核员（colleague） 审核" in body
    assert 'id="approve-form"' not in body
    response = client.post(reverse("backoffice:review-approve", args=[order.pk]))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == S.PAID and order.claimed_by == other


def test_skip_releases_the_claim_and_opens_the_next(campaign, office_client):
    client, _ = office_client(REVIEWER)
    now = timezone.now()
    first = paid_order(campaign, paid_at=now - dt.timedelta(hours=2))
    second = paid_order(campaign, paid_at=now - dt.timedelta(hours=1))
    client.get(reverse("backoffice:review-order", args=[first.pk]))
    response = client.post(
        reverse("backoffice:review-release", args=[first.pk]), {"then": "next"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("backoffice:review-order", args=[second.pk])
    first.refresh_from_db()
    assert first.claimed_by is None


def test_queue_lists_orders_oldest_first_with_counts(campaign, office_client):
    client, _ = office_client(REVIEWER)
    now = timezone.now()
    late = paid_order(campaign, paid_at=now - dt.timedelta(minutes=1))
    early = paid_order(campaign, paid_at=now - dt.timedelta(hours=5))
    body = client.get(reverse("backoffice:review")).content.decode()
    assert body.index(early.plate) < body.index(late.plate)
    assert 'id="count-waiting">2<' in body


def test_photo_view_is_audited_and_a_deleted_photo_is_explained(campaign, office_client):
    order = paid_order(campaign)
    # The order's photo, as the staff member uploaded it (a real file in the private store).
    photo = stored_photo_for(order.plate)
    RenewalOrder.objects.filter(pk=order.pk).update(id_photo=photo)
    client, user = office_client(COUNTER)
    response = client.get(reverse("backoffice:order-photo", args=[order.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert LogEntry.objects.filter(
        action="verification.photo.viewed", actor=user, object_id=str(order.pk)
    ).exists()

    IdPhoto.objects.filter(pk=photo.pk).update(deleted_at=timezone.now())
    assert client.get(reverse("backoffice:order-photo", args=[order.pk])).status_code == 404
    admin_client, _ = office_client(ADMIN, "admin-1")
    body = admin_client.get(reverse("backoffice:review-order", args=[order.pk])).content.decode()
    assert "证件照片已按保留期限删除" in body
