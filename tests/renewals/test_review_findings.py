"""Findings of the review of the renewal core (each failed before its fix)."""

import datetime as dt

import pytest
from django.utils import timezone

from campuspass.core.models import LogEntry
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.orders import order_close, order_create, order_record_consent
from campuspass.renewals.services.photos import purge_id_photos
from campuspass.verification.photos import photo_root

from .factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db


def stored_photo(name: str) -> str:
    root = photo_root()
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(b"\xff\xd8 test photo")
    return name


def test_photo_of_a_closed_unpaid_order_is_deleted_after_the_retention_period():
    campaign = make_campaign(photo_retention_days=30)
    previous = make_pass()
    name = stored_photo("c" * 32 + ".jpg")
    order = order_create(plate=previous.vehicle.plate, campaign=campaign, id_photo=name)
    order_close(order=order, reason="超时未支付，订单自动关闭")

    assert purge_id_photos(now=timezone.now() + dt.timedelta(days=29)) == 0
    assert (photo_root() / name).exists()

    assert purge_id_photos(now=timezone.now() + dt.timedelta(days=31)) == 1
    order.refresh_from_db()
    assert order.id_photo_deleted_at is not None
    assert not (photo_root() / name).exists()
    assert LogEntry.objects.filter(action="renewals.order.photo_deleted", object_id=str(order.pk)).exists()


def test_submitting_again_before_consent_keeps_one_order_with_what_was_confirmed_last(
    django_capture_on_commit_callbacks,
):
    campaign = make_campaign()
    previous = make_pass()
    first_photo, second_photo = stored_photo("d" * 32 + ".jpg"), stored_photo("e" * 32 + ".jpg")
    first = order_create(plate=previous.vehicle.plate, campaign=campaign, id_photo=first_photo)
    with django_capture_on_commit_callbacks(execute=True):
        second = order_create(
            plate=previous.vehicle.plate,
            campaign=campaign,
            id_photo=second_photo,
            fulfilment=RenewalOrder.Fulfilment.DELIVERY,
            delivery_address="逸夫楼 3 层 302 室",
        )
    assert second.pk == first.pk and RenewalOrder.objects.count() == 1
    first.refresh_from_db()
    assert first.id_photo == second_photo
    assert (first.fulfilment, first.delivery_address) == ("delivery", "逸夫楼 3 层 302 室")
    assert not (photo_root() / first_photo).exists()  # the replaced photo is not kept
    entry = LogEntry.objects.get(action="renewals.order.resubmitted")
    assert first_photo not in str(entry.data) and second_photo not in str(entry.data)


def test_an_agreed_order_is_not_changed_by_a_new_submit():
    campaign = make_campaign()
    previous = make_pass()
    order = order_create(plate=previous.vehicle.plate, campaign=campaign, id_photo="f" * 32 + ".jpg")
    order_record_consent(
        order=order, consent_version=campaign.current_consent(), ip_address="127.0.0.1", user_agent="t"
    )
    again = order_create(plate=previous.vehicle.plate, campaign=campaign, id_photo="0" * 32 + ".jpg")
    assert again.pk == order.pk
    order.refresh_from_db()
    assert order.id_photo == "f" * 32 + ".jpg"


def test_abandoned_uploads_are_deleted_after_a_day_and_used_ones_kept(tmp_path):
    import datetime as dt
    import io
    import os

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone
    from PIL import Image

    from campuspass.renewals.services.orders import order_create
    from campuspass.renewals.services.photos import purge_orphan_photos
    from campuspass.verification.photos import open_id_photo, photo_root, store_id_photo

    from .factories import make_campaign, make_pass

    def upload():
        buffer = io.BytesIO()
        Image.new("RGB", (400, 300), (10, 20, 30)).save(buffer, "JPEG")
        return store_id_photo(SimpleUploadedFile("c.jpg", buffer.getvalue(), content_type="image/jpeg")).name

    abandoned, used, fresh = upload(), upload(), upload()
    previous = make_pass()
    order_create(plate=previous.vehicle.plate, campaign=make_campaign(), id_photo=used)
    two_days_ago = (timezone.now() - dt.timedelta(days=2)).timestamp()
    for name in (abandoned, used):
        os.utime(photo_root() / name, (two_days_ago, two_days_ago))
    assert purge_orphan_photos() == 1
    assert not (photo_root() / abandoned).exists()
    assert open_id_photo(used).exists() and open_id_photo(fresh).exists()
