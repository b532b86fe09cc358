"""One selector per question: the counter, the on-site desk and the admin find a person by any
spelling — plate (whole or part), 工号 (whole or part), name, phone (whole or last 4 digits), pass
number (last year's or the new one) and order number — and all read the box the same way."""

import pytest
from django.urls import reverse

from campuspass.backoffice import roles
from campuspass.backoffice.views_onsite import search_registry
from campuspass.registry.models import Staff
from campuspass.registry.selectors import Query, find_staff
from campuspass.renewals.selectors import find_orders
from tests.renewals.factories import make_campaign

from .test_counter import approved_order, paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    campaign = make_campaign()
    wanted = approved_order(campaign, mobile="13912348765")
    other = paid_order(campaign, mobile="13800001111")
    return campaign, wanted, other


def spellings(order):
    staff = order.staff
    return [
        order.plate,
        f"{order.plate[0]} {order.plate[1].lower()}·{order.plate[2:]}",  # another spelling
        order.plate[2:],  # part of the plate
        staff.staff_no,
        staff.staff_no[-4:],  # part of the staff number
        staff.name,
        "+86 139-1234-8765",
        "8765",  # last 4 phone digits
        order.previous_pass.number,
        order.new_pass.number,  # the new pass number
        order.out_trade_no,  # the order number
    ]


def test_the_counter_finds_an_order_by_any_spelling(world, office_client):
    campaign, wanted, other = world
    client, _ = office_client(roles.COUNTER)
    for text in spellings(wanted):
        found = list(find_orders(text, campaign=campaign))
        assert wanted in found and other not in found, text
        page = client.get(reverse("backoffice:counter"), {"q": text}).content.decode()
        assert wanted.out_trade_no in page and other.out_trade_no not in page, text


def test_the_on_site_desk_finds_the_person_by_the_same_spellings(world):
    _, wanted, other = world
    for text in spellings(wanted):
        if text == wanted.out_trade_no:
            continue  # an order number is a question for the order finder
        people = {s.pk for s in search_registry(text)}
        assert wanted.staff_id in people and other.staff_id not in people, text


def test_the_admin_search_box_finds_by_last_four_phone_digits_and_any_plate_spelling(world, admin_client):
    _, wanted, other = world
    url = reverse("admin:registry_staff_changelist")
    for text in ("8765", "+86 139 1234 8765", wanted.plate[2:]):
        page = admin_client.get(url, {"q": text}).content.decode()
        assert wanted.staff.staff_no in page and other.staff.staff_no not in page, text


def test_a_query_is_read_once_for_every_screen():
    query = Query.read(" 京a·12345\x00 ")
    assert query.plate == "京A12345" and query.phone is None
    assert Query.read("8765").phone_tail == "8765"
    assert Query.read("0001").staff_no_part == "0001"
    assert Query.read("A").plate_part is None and Query.read("").text == ""
    assert not find_staff("").exists() and Staff.objects.count() == 0


def test_every_door_to_a_full_phone_number_writes_one_shape(world, office_client):
    from campuspass.core.models import LogEntry

    _, wanted, _ = world
    client, user = office_client(roles.ADMIN)
    user.is_staff = user.is_superuser = True
    user.save()
    client.post(reverse("backoffice:order-full-phone", args=[wanted.pk]))
    client.post(reverse("backoffice:onsite_staff_phone", args=[wanted.staff_id]))
    assert client.get(reverse("admin:registry_staff_change", args=[wanted.staff_id])).status_code == 200
    entries = list(LogEntry.objects.filter(action="core.phone.viewed").order_by("pk"))
    assert len(entries) == 3
    for entry in entries:
        assert set(entry.data) == {"where", "order"}
        assert (
            entry.staff_no == wanted.staff.staff_no
            and entry.reason
            and entry.object_id == str(wanted.staff_id)
        )
    assert entries[0].plate == wanted.plate and entries[0].data["order"] == wanted.pk
    assert [e.data["where"] for e in entries][2] == "admin.staff.change"
