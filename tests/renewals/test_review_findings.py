"""Findings of the review of the renewal core (each failed before its fix)."""

import datetime as dt

import pytest
from django.utils import timezone

from campuspass.core.models import LogEntry
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.orders import order_close, order_create, order_record_consent
from campuspass.renewals.services.photos import purge_id_photos
from campuspass.verification.storage import photo_store
from tests.photos import photo_for, stored_photo_for

from .factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db


def test_photo_of_a_closed_unpaid_order_is_deleted_after_the_retention_period(
    django_capture_on_commit_callbacks,
):
    campaign = make_campaign(photo_retention_days=30)
    previous = make_pass()
    photo = stored_photo_for(previous.vehicle.plate)
    order = order_create(plate=previous.vehicle.plate, campaign=campaign, id_photo=photo)
    order_close(order=order, reason="超时未支付，订单自动关闭")

    assert purge_id_photos(now=timezone.now() + dt.timedelta(days=29)) == 0
    assert photo_store().exists(photo.name)

    with django_capture_on_commit_callbacks(execute=True):
        assert purge_id_photos(now=timezone.now() + dt.timedelta(days=31)) == 1
    order.refresh_from_db()
    assert order.id_photo.deleted_at is not None
    assert not photo_store().exists(photo.name)
    assert LogEntry.objects.filter(action="verification.photo.deleted", object_id=str(order.pk)).exists()


def test_submitting_again_before_consent_keeps_one_order_with_what_was_confirmed_last(
    django_capture_on_commit_callbacks,
):
    campaign = make_campaign()
    previous = make_pass()
    plate = previous.vehicle.plate
    first_photo, second_photo = stored_photo_for(plate), stored_photo_for(plate)
    first = order_create(plate=plate, campaign=campaign, id_photo=first_photo)
    with django_capture_on_commit_callbacks(execute=True):
        second = order_create(
            plate=plate,
            campaign=campaign,
            id_photo=second_photo.key,
            fulfilment=RenewalOrder.Fulfilment.DELIVERY,
            delivery_address="逸夫楼 3 层 302 室",
        )
    assert second.pk == first.pk and RenewalOrder.objects.count() == 1
    first.refresh_from_db()
    assert first.id_photo == second_photo
    assert (first.fulfilment, first.delivery_address) == ("delivery", "逸夫楼 3 层 302 室")
    first_photo.refresh_from_db()
    assert first_photo.deleted_at is not None  # the replaced photo is not kept
    assert not photo_store().exists(first_photo.name)
    entry = LogEntry.objects.get(action="renewals.order.resubmitted")
    assert entry.data["photo_replaced"] is True
    assert first_photo.key not in str(entry.data) and second_photo.key not in str(entry.data)


def test_an_agreed_order_is_not_changed_by_a_new_submit():
    campaign = make_campaign()
    previous = make_pass()
    kept = photo_for(previous.vehicle.plate)
    order = order_create(plate=previous.vehicle.plate, campaign=campaign, id_photo=kept)
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address="127.0.0.1", user_agent="t"
    )
    later = photo_for(previous.vehicle.plate)
    again = order_create(plate=previous.vehicle.plate, campaign=campaign, id_photo=later)
    assert again.pk == order.pk
    order.refresh_from_db()
    assert order.id_photo == kept
    later.refresh_from_db()
    assert later.attached_at is None  # not used: deleted with the other unused uploads after a day


def test_abandoned_uploads_are_deleted_after_a_day_and_used_ones_kept(django_capture_on_commit_callbacks):
    """Found by rows (upload + 1 day), not by file times."""
    previous = make_pass()
    plate = previous.vehicle.plate
    abandoned, used = stored_photo_for(plate), stored_photo_for(plate)
    order_create(plate=plate, campaign=make_campaign(), id_photo=used)
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_id_photos(now=timezone.now() + dt.timedelta(hours=23)) == 0
        fresh = stored_photo_for(plate, color="black")
        assert purge_id_photos(now=timezone.now() + dt.timedelta(hours=25)) == 2  # abandoned, fresh
    for photo in (abandoned, used, fresh):
        photo.refresh_from_db()
    assert abandoned.deleted_at and not photo_store().exists(abandoned.name)
    assert used.deleted_at is None and photo_store().exists(used.name)
    # Uploads no order used are not audited (nobody's order lost a photo).
    assert not LogEntry.objects.filter(action="verification.photo.deleted").exists()
