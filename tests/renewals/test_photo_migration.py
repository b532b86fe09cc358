"""Migration renewals 0011: each order's bare photo file name becomes an IdPhoto row linked to the
order (owner, dates, retention, deletion kept; the file stays where it is), and files no order
names become orphan rows that the daily job deletes by row."""

import datetime as dt
from io import BytesIO
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from tests.migrating import back_to_the_latest, migrate  # noqa: F401 - the fixture is autouse

BEFORE = [("renewals", "0010_reject_reason_without_reupload"), ("verification", "0002_id_photo")]
AFTER = [("renewals", "0011_order_id_photo_document")]


@pytest.mark.django_db(transaction=True)
def test_photo_names_become_documents_linked_to_their_orders(tmp_path, settings):
    settings.PRIVATE_STORAGE_ROOT = tmp_path
    folder = Path(settings.PRIVATE_STORAGE_ROOT) / "id-photos"
    folder.mkdir()

    def photo_file(key):
        out = BytesIO()
        Image.new("RGB", (640, 400), "white").save(out, "JPEG")
        (folder / f"{key}.jpg").write_bytes(out.getvalue())
        return f"{key}.jpg"

    old = migrate(BEFORE)
    Campaign = old.get_model("renewals", "Campaign")
    Order = old.get_model("renewals", "RenewalOrder")
    Staff = old.get_model("registry", "Staff")
    Vehicle = old.get_model("registry", "Vehicle")
    Pass = old.get_model("registry", "Pass")
    now = timezone.now()
    campaign = Campaign.objects.create(
        year=2019,
        previous_year=2018,
        product_name="通行证",
        price_fen=15000,
        window_start=now - dt.timedelta(days=1),
        window_end=now + dt.timedelta(days=5),
        valid_from=dt.date(2019, 7, 1),
        valid_to=dt.date(2020, 6, 30),
        photo_retention_days=30,
    )

    def order(n, **fields):
        staff = Staff.objects.create(staff_no=f"S{n}", name=f"职工{n}", mobile=f"1390000000{n}")
        vehicle = Vehicle.objects.create(plate=f"京A0000{n}", owner=staff)
        previous = Pass.objects.create(year=2018, number=f"P{n}", vehicle=vehicle, holder=staff)
        return Order.objects.create(
            campaign=campaign,
            previous_pass=previous,
            staff=staff,
            vehicle=vehicle,
            plate=vehicle.plate,
            amount_fen=15000,
            out_trade_no=f"CP{n}",
            **fields,
        )

    decided_at = now - dt.timedelta(days=3)
    open_order = order(1, status="paid", id_photo=photo_file("1" * 32))
    decided = order(2, status="approved", decided_at=decided_at, id_photo=photo_file("2" * 32))
    deleted = order(
        3,
        status="rejected",
        decided_at=now - dt.timedelta(days=60),
        id_photo="3" * 32 + ".jpg",
        id_photo_deleted_at=now - dt.timedelta(days=30),
    )
    onsite = order(4, status="paid", channel="onsite")
    orphan = photo_file("9" * 32)

    new = migrate(AFTER)
    Order = new.get_model("renewals", "RenewalOrder")
    IdPhoto = new.get_model("verification", "IdPhoto")

    photo = Order.objects.get(pk=open_order.pk).id_photo
    assert (photo.key, photo.plate, photo.staff_no) == ("1" * 32, "京A00001", "S1")
    assert (photo.width, photo.height) == (640, 400) and photo.size == (
        folder / f"{'1' * 32}.jpg"
    ).stat().st_size
    assert photo.attached_at is not None and photo.retain_until is None and photo.deleted_at is None

    photo = Order.objects.get(pk=decided.pk).id_photo
    assert photo.retain_until == decided_at + dt.timedelta(days=30)

    photo = Order.objects.get(pk=deleted.pk).id_photo
    assert photo.deleted_at == now - dt.timedelta(days=30)

    assert Order.objects.get(pk=onsite.pk).id_photo is None
    stray = IdPhoto.objects.get(key=orphan[:32])
    assert (
        stray.plate == ""
        and stray.retain_until is not None
        and stray.retain_until <= timezone.now() + dt.timedelta(days=1)
    )
    assert IdPhoto.objects.count() == 4

    # And back: the names return to the orders.
    old = migrate(BEFORE)
    Order = old.get_model("renewals", "RenewalOrder")
    assert Order.objects.get(pk=open_order.pk).id_photo == "1" * 32 + ".jpg"
    assert Order.objects.get(pk=deleted.pk).id_photo_deleted_at is not None
    migrate(AFTER)
