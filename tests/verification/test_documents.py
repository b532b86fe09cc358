"""The ID photo as a private document (issue #11 item 4, decision 0031): one service for upload,
attach, view (which audits itself, for every viewer), replace and expiry by row; nginx delivery."""

import datetime as dt
import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.core.roles import ADMIN, COUNTER, COURIER, REVIEWER, ensure_groups
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.orders import (
    order_approve,
    order_close,
    order_create,
    order_reject,
)
from campuspass.renewals.services.photos import purge_id_photos
from campuspass.verification import documents
from campuspass.verification.models import IdPhoto
from campuspass.verification.storage import photo_store
from tests.backoffice.test_review import paid_order
from tests.conftest import pass_second_factor
from tests.photos import jpeg_upload, stored_photo_for
from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db


def user_with(role: str, name: str | None = None) -> User:
    ensure_groups()
    user = User.objects.create_user(username=name or f"u-{role}", password="pw-Test-1234")  # noqa: S106
    user.groups.add(Group.objects.get(name=role))
    return user


def order_with_photo(plate: str = "京A12345", **campaign_fields) -> RenewalOrder:
    campaign = make_campaign(**campaign_fields)
    previous = make_pass(plate=plate)
    photo = stored_photo_for(plate, staff_no=previous.holder.staff_no)
    return order_create(plate=plate, campaign=campaign, id_photo=photo)


# --- owner binding --------------------------------------------------------------------------------


def test_a_photo_uploaded_under_plate_a_cannot_be_attached_to_plate_bs_order():
    campaign = make_campaign()
    make_pass(plate="京A12345")
    make_pass(plate="京B67890")
    photo_of_a = stored_photo_for("京A12345")
    with pytest.raises(CampusPassError) as refused:
        order_create(plate="京B67890", campaign=campaign, id_photo=photo_of_a.key)
    assert refused.value.code == "photo_not_found"
    assert not RenewalOrder.objects.filter(plate="京B67890").exists()
    photo_of_a.refresh_from_db()
    assert photo_of_a.attached_at is None
    # A's own order takes it.
    order = order_create(plate="京A12345", campaign=campaign, id_photo=photo_of_a.key)
    assert order.id_photo == photo_of_a


def test_a_photo_serves_one_order_only():
    campaign = make_campaign()
    make_pass(plate="京A12345")
    photo = stored_photo_for("京A12345")
    first = order_create(plate="京A12345", campaign=campaign, id_photo=photo)
    order_close(order=first, reason="测试")
    with pytest.raises(CampusPassError) as refused:
        order_create(plate="京A12345", campaign=campaign, id_photo=photo.key)
    assert refused.value.code == "photo_in_use"


def test_a_deleted_photo_cannot_be_attached(django_capture_on_commit_callbacks):
    campaign = make_campaign()
    make_pass(plate="京A12345")
    photo = stored_photo_for("京A12345")
    with django_capture_on_commit_callbacks(execute=True):
        documents.discard(photo.key)
    with pytest.raises(CampusPassError) as refused:
        order_create(plate="京A12345", campaign=campaign, id_photo=photo.key)
    assert refused.value.code == "photo_not_found"


def test_upload_records_owner_size_and_a_one_day_retention():
    before = timezone.now()
    photo = documents.upload(jpeg_upload(size=(640, 400)), plate="京A12345", staff_no="S001")
    assert (photo.plate, photo.staff_no, photo.width, photo.height) == ("京A12345", "S001", 640, 400)
    assert photo.size == len(photo_store().open(photo.name).read())
    assert before + dt.timedelta(days=1) <= photo.retain_until <= timezone.now() + dt.timedelta(days=1)
    assert len(photo.key) == 32 and photo.attached_at is None


def test_replace_deletes_the_previous_pending_photo_not_an_attached_one(django_capture_on_commit_callbacks):
    pending = stored_photo_for("京A12345")
    with django_capture_on_commit_callbacks(execute=True):
        newer = documents.replace(pending.key, jpeg_upload(), plate="京A12345")
    pending.refresh_from_db()
    assert pending.deleted_at is not None and not photo_store().exists(pending.name)
    order = order_with_photo("京C11111")
    with django_capture_on_commit_callbacks(execute=True):
        documents.replace(order.id_photo.key, jpeg_upload(), plate="京C11111")
    order.id_photo.refresh_from_db()
    assert order.id_photo.deleted_at is None and photo_store().exists(order.id_photo.name)
    assert newer.deleted_at is None


# --- viewing: the service audits every viewer in one shape ------------------------------------------


@pytest.mark.parametrize("role", [REVIEWER, COUNTER, ADMIN])
def test_every_back_office_view_is_audited_by_the_service_itself(role):
    order = order_with_photo()
    user = user_with(role)
    response = documents.view(order.id_photo, viewer=user, where="test")
    assert response.status_code == 200
    entry = LogEntry.objects.get(action="verification.photo.viewed")
    assert entry.actor == user and entry.object_id == str(order.pk)
    assert (entry.plate, entry.staff_no) == (order.plate, order.staff.staff_no)
    assert entry.data == {"viewer": role, "where": "test", "photo": order.id_photo.pk}


def test_the_owners_view_is_audited_in_the_same_shape():
    order = order_with_photo()
    documents.view(order.id_photo, plate=order.plate, where="selfservice.order")
    entry = LogEntry.objects.get(action="verification.photo.viewed")
    assert entry.actor is None and entry.object_id == str(order.pk)
    assert entry.data == {"viewer": "职工本人", "where": "selfservice.order", "photo": order.id_photo.pk}


def test_a_role_without_the_photo_screen_and_another_plate_are_refused_and_nothing_is_audited():
    order = order_with_photo()
    with pytest.raises(PermissionDenied):
        documents.view(order.id_photo, viewer=user_with(COURIER), where="test")
    with pytest.raises(CampusPassError):
        documents.view(order.id_photo, plate="京B67890", where="test")
    assert not LogEntry.objects.filter(action="verification.photo.viewed").exists()


def test_the_review_screen_and_the_staff_page_views_are_audited(client):
    """Through the views: the back office's photo view and the staff member's order photo."""
    order = order_with_photo()
    user = user_with(COUNTER)
    client.force_login(user)
    pass_second_factor(client, user)
    assert client.get(reverse("backoffice:order-photo", args=[order.pk])).status_code == 200
    assert LogEntry.objects.filter(action="verification.photo.viewed", actor=user).count() == 1


# --- nginx X-Accel-Redirect ---------------------------------------------------------------------------


def test_with_the_x_accel_prefix_nginx_sends_the_file_and_the_app_still_checks_and_audits(settings, client):
    settings.ID_PHOTO_X_ACCEL_PREFIX = "/_protected/id-photos/"
    order = order_with_photo()
    reviewer = user_with(REVIEWER)
    client.force_login(reviewer)
    pass_second_factor(client, reviewer)
    response = client.get(reverse("backoffice:order-photo", args=[order.pk]))
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/_protected/id-photos/{order.id_photo.key}.jpg"
    assert response.content == b""
    assert response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert LogEntry.objects.filter(action="verification.photo.viewed", actor=reviewer).count() == 1

    courier = Client()
    user = user_with(COURIER)
    courier.force_login(user)
    pass_second_factor(courier, user)
    refused = courier.get(reverse("backoffice:order-photo", args=[order.pk]))
    assert refused.status_code == 403 and "X-Accel-Redirect" not in refused
    # The staff page: another session (no verified plate) gets no redirect to the file.
    stranger = Client().get(reverse("selfservice:order-photo", args=[order.pk]))
    assert "X-Accel-Redirect" not in stranger
    assert LogEntry.objects.filter(action="verification.photo.viewed").count() == 1


def test_without_the_prefix_the_app_streams_the_file(settings):
    settings.ID_PHOTO_X_ACCEL_PREFIX = ""
    order = order_with_photo()
    response = documents.view(order.id_photo, plate=order.plate, where="test")
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == photo_store().open(order.id_photo.name).read()


# --- retention and expiry by row -------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["approve", "reject", "close"])
def test_the_decision_or_closing_dates_the_photos_deletion(decision):
    if decision == "close":
        order = order_with_photo(photo_retention_days=10)
        order = order_close(order=order, reason="超时未支付")
        ended = order.closed_at
    else:
        order = paid_order(make_campaign(photo_retention_days=10))
        reviewer = user_with(REVIEWER)
        if decision == "approve":
            order = order_approve(order=order, acting_user=reviewer)
        else:
            order = order_reject(order=order, acting_user=reviewer, reason="照片不清晰")
        ended = order.decided_at
    order.id_photo.refresh_from_db()
    assert order.id_photo.retain_until == ended + dt.timedelta(days=10)


def test_an_open_order_keeps_its_photo_however_old():
    order = order_with_photo()
    assert order.id_photo.retain_until is None
    assert purge_id_photos(now=timezone.now() + dt.timedelta(days=400)) == 0


def test_expiry_is_by_row_not_by_file_time(django_capture_on_commit_callbacks):
    order = order_with_photo(photo_retention_days=30)
    order_close(order=order, reason="超时未支付")
    order.refresh_from_db()
    pending = stored_photo_for("京A12345")
    # An old file time means nothing: the rows say when.
    for photo in (order.id_photo, pending):
        path = photo_store().path(photo.name)
        os.utime(path, (0, 0))
    assert purge_id_photos(now=timezone.now() + dt.timedelta(hours=1)) == 0
    # A photo whose row is due goes, whatever its file time says.
    IdPhoto.objects.filter(pk=pending.pk).update(retain_until=timezone.now() - dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_id_photos() == 1
    assert not photo_store().exists(pending.name) and photo_store().exists(order.id_photo.name)
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_id_photos(now=timezone.now() + dt.timedelta(days=31)) == 1
    order.id_photo.refresh_from_db()
    assert order.id_photo.deleted_at is not None and not photo_store().exists(order.id_photo.name)
    entry = LogEntry.objects.get(action="verification.photo.deleted")
    assert entry.object_id == str(order.pk) and entry.plate == order.plate


# --- backups: the photos are listed through the service -------------------------------------------


def test_the_backup_manifest_lists_live_photos_through_the_service():
    from campuspass.core.backup import check_restore, manifest

    order = order_with_photo()
    expected = manifest()
    name = f"id-photos/{order.id_photo.key}.jpg"
    assert expected["files"][name]["size"] == order.id_photo.size
    assert check_restore(expected) == []
    os.unlink(photo_store().path(order.id_photo.name))
    assert any(name in problem for problem in check_restore(expected))


def test_no_file_is_left_without_its_row(monkeypatch, settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path

    def fail(**fields):
        raise RuntimeError("database gone")

    monkeypatch.setattr(IdPhoto.objects, "create", fail)
    with pytest.raises(RuntimeError):
        documents.upload(jpeg_upload(), plate="京A12345")
    assert list((tmp_path / "id-photos").iterdir()) == []
