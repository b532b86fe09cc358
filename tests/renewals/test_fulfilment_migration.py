"""Migrations 0011–0012 (decision 0034): existing orders get their place on the FULFILMENT axis from
what they record — waiting at the counter, waiting for a courier, with a courier, handed out at the
counter, delivered — and orders that were never approved stay outside it."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tests.migrating import back_to_the_latest, migrate  # noqa: F401 - the fixture is autouse

BEFORE = [("renewals", "0011_order_id_photo_document")]
AFTER = [("renewals", "0013_fill_fulfilment_status")]


@pytest.mark.django_db(transaction=True)
def test_existing_orders_get_their_place_on_the_fulfilment_axis():
    old = migrate(BEFORE)
    Campaign = old.get_model("renewals", "Campaign")
    Order = old.get_model("renewals", "RenewalOrder")
    Staff = old.get_model("registry", "Staff")
    Vehicle = old.get_model("registry", "Vehicle")
    Pass = old.get_model("registry", "Pass")
    LogEntry = old.get_model("core", "LogEntry")
    ContentType = old.get_model("contenttypes", "ContentType")
    courier_id = User.objects.create_user("courier-m").pk
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
    )

    def order(n, status="approved", fulfilment="pickup", **fields):
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
            status=status,
            fulfilment=fulfilment,
            delivery_address="逸夫楼 302" if fulfilment == "delivery" else "",
            **fields,
        )

    to_collect = order(1)
    to_deliver = order(2, fulfilment="delivery")
    delivering = order(3, fulfilment="delivery", courier_id=courier_id, courier_assigned_at=now)
    collected = order(4, handed_out_at=now, old_pass_collected=True, id_checked=True)
    delivered = order(5, fulfilment="delivery", handed_out_at=now, old_pass_collected=True, id_checked=True)
    came_by = order(6, fulfilment="delivery", handed_out_at=now, old_pass_collected=True, id_checked=True)
    paid = order(7, status="paid", fulfilment="delivery")
    refunded = order(8, status="refunded")
    order_type = ContentType.objects.get_or_create(app_label="renewals", model="renewalorder")[0]
    for row, channel in ((delivered, "delivery"), (came_by, "counter"), (collected, "counter")):
        LogEntry.objects.create(
            actor_label="clerk",
            action="renewals.order.handed_out",
            content_type=order_type,
            object_id=str(row.pk),
            data={"channel": channel},
        )

    new = migrate(AFTER)
    Order = new.get_model("renewals", "RenewalOrder")
    states = dict(Order.objects.values_list("pk", "fulfilment_status"))
    assert states == {
        to_collect.pk: "to_collect",
        to_deliver.pk: "to_deliver",
        delivering.pk: "delivering",
        collected.pk: "collected",
        delivered.pk: "delivered",
        came_by.pk: "collected",  # a delivery order handed out at the counter
        paid.pk: "",
        refunded.pk: "",
    }
