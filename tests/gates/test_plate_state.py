"""desired.plate_state for every combination the gates meet, and its reads: one query for a
registered plate, two for any other (issue 13: the check as fast as the bare view)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campuspass.gates import desired, services
from campuspass.gates.desired import DENIED, EXPIRED, NOT_YET, OK, SUSPENDED, UNKNOWN, plate_state
from campuspass.gates.models import GateGroup, PassSuspension
from campuspass.registry.models import Vehicle
from campuspass.renewals.models import RenewalOrder
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db
PLATE = "京A12345"
D = dt.timedelta


def state_of(plate=PLATE):
    with CaptureQueriesContext(connection) as queries:
        state = plate_state(plate)
    return state, len(queries.captured_queries)


def issued_by_order(permit, status):
    campaign = make_campaign(year=permit.year, previous_year=permit.year - 1)
    return RenewalOrder.objects.create(
        campaign=campaign,
        previous_pass=permit,
        staff=permit.holder,
        vehicle=permit.vehicle,
        plate=permit.vehicle.plate,
        status=status,
        amount_fen=15000,
        out_trade_no=f"T{permit.pk:010d}",
        new_pass=permit,
    )


def test_an_unknown_plate_is_unknown_with_the_kind_its_characters_imply(db):
    state, reads = state_of("京AD12345")
    assert (state.reason_code, state.colour, state.plate_type) == (UNKNOWN, "green", "52")
    assert (state.valid_from, state.valid_to, state.groups, state.pass_id) == (None, None, None, None)
    assert reads == 2  # no vehicle: the deny list is read on its own


def test_a_denied_plate_without_a_vehicle_is_denied_in_the_deny_entrys_colour(db):
    services.deny_plate(plate=PLATE, colour="yellow", reason="多次闯杆", acting_user=None)
    state, _ = state_of()
    assert (state.reason_code, state.colour) == (DENIED, "yellow")


def test_the_deny_list_beats_a_valid_pass_and_keeps_the_vehicles_type(make_permit):
    make_permit(colour="blue")
    services.deny_plate(plate=PLATE, colour="yellow", reason="多次闯杆", acting_user=None)
    state, reads = state_of()
    assert (state.reason_code, state.colour, state.plate_type) == (DENIED, "yellow", "02")
    assert state.pass_id is None
    assert reads == 1
    services.lift_deny(plate=PLATE, reason="申诉通过", acting_user=None)
    assert plate_state(PLATE).reason_code == OK


def test_a_vehicle_without_passes_is_unknown_in_its_own_colour(make_permit):
    make_permit(colour="yellow").delete()
    assert Vehicle.objects.filter(plate=PLATE).exists()
    state, reads = state_of()
    assert (state.reason_code, state.colour, state.pass_id) == (UNKNOWN, "yellow", None)
    assert reads == 1


def test_current_pass_wins_over_expired_and_upcoming(make_permit, today):
    make_permit(valid_from=today - D(400), valid_to=today - D(40), year=2001)
    current = make_permit(valid_from=today - D(39), valid_to=today + D(10), year=2002)
    make_permit(valid_from=today + D(11), valid_to=today + D(300), year=2003)
    state, reads = state_of()
    assert (state.reason_code, state.pass_id) == (OK, current.pk)
    assert (state.valid_from, state.valid_to) == (current.valid_from, current.valid_to)
    assert state.next_change == current.valid_to + D(1) and state.groups is None
    assert reads == 1


def test_of_two_current_passes_the_one_valid_longer_is_the_permit(make_permit, today):
    make_permit(valid_from=today - D(10), valid_to=today + D(5), year=2001)
    longer = make_permit(valid_from=today - D(5), valid_to=today + D(50), year=2002)
    assert plate_state(PLATE).pass_id == longer.pk


def test_the_first_upcoming_pass_is_not_yet_valid_and_changes_on_its_start(make_permit, today):
    make_permit(valid_from=today + D(40), valid_to=today + D(100), year=2002)
    first = make_permit(valid_from=today + D(3), valid_to=today + D(30), year=2001)
    state = plate_state(PLATE)
    assert (state.reason_code, state.pass_id, state.next_change) == (NOT_YET, first.pk, first.valid_from)
    assert (state.valid_from, state.valid_to, state.groups) == (first.valid_from, first.valid_to, None)


def test_expired_passes_report_the_last_ones_dates(make_permit, today):
    make_permit(valid_from=today - D(800), valid_to=today - D(400), year=2001)
    last = make_permit(valid_from=today - D(399), valid_to=today - D(1), year=2002)
    state = plate_state(PLATE)
    assert (state.reason_code, state.valid_from, state.valid_to) == (EXPIRED, last.valid_from, last.valid_to)
    assert state.pass_id is None and state.next_change is None


def test_a_pass_not_approved_does_not_count(make_permit, today):
    make_permit(review="rejected")
    assert plate_state(PLATE).reason_code == UNKNOWN


@pytest.mark.parametrize("status", ["refunded", "refunding", "refund_failed"])
def test_a_pass_of_an_order_no_longer_approved_does_not_count(make_permit, today, status):
    old = make_permit(valid_from=today - D(400), valid_to=today - D(40), year=2001)
    refunded = make_permit(valid_from=today - D(39), valid_to=today + D(300), year=2002)
    issued_by_order(refunded, status)
    state = plate_state(PLATE)
    assert (state.reason_code, state.valid_to) == (EXPIRED, old.valid_to)


def test_a_pass_of_an_approved_order_counts(make_permit, today):
    permit = make_permit()
    issued_by_order(permit, "approved")
    state, reads = state_of()
    assert (state.reason_code, state.pass_id) == (OK, permit.pk)
    assert reads == 1


def test_an_open_suspension_of_the_permit_suspends_and_a_lifted_one_does_not(make_permit):
    permit = make_permit()
    services.suspend_pass(plate=PLATE, reason="违规停车", acting_user=None)
    state, reads = state_of()
    assert (state.reason_code, state.pass_id, state.valid_to) == (SUSPENDED, permit.pk, permit.valid_to)
    assert not state.admitted and reads == 1
    services.lift_suspension(plate=PLATE, reason="已整改", acting_user=None)
    assert plate_state(PLATE).reason_code == OK


def test_a_suspension_of_another_pass_does_not_stop_the_permit(make_permit, today):
    old = make_permit(valid_from=today - D(400), valid_to=today - D(40), year=2001)
    PassSuspension.objects.create(pass_obj=old, reason="旧证违规")
    permit = make_permit(valid_from=today - D(39), year=2002)
    assert (plate_state(PLATE).reason_code, plate_state(PLATE).pass_id) == (OK, permit.pk)


def test_groups_are_the_permits_own_sorted_and_read_in_the_same_query(make_permit, today):
    old = make_permit(valid_from=today - D(400), valid_to=today - D(40), year=2001)
    permit = make_permit(valid_from=today - D(39), year=2002)
    for code in ("west", "east", "garage"):
        GateGroup.objects.create(code=code, name=code)
    services.set_pass_groups(permit=old, codes=["garage"], acting_user=None)
    services.set_pass_groups(permit=permit, codes=["west", "east"], acting_user=None)
    state, reads = state_of()
    assert (state.reason_code, state.groups) == (OK, ("east", "west"))
    assert reads == 1
    services.set_pass_groups(permit=permit, codes=[], acting_user=None)
    assert plate_state(PLATE).groups is None


def test_a_suspended_permit_with_groups_is_one_state(make_permit):
    """Suspension, groups and dates of one permit come from one row set (no duplicates per group)."""
    permit = make_permit()
    for code in ("east", "west"):
        GateGroup.objects.create(code=code, name=code)
    services.set_pass_groups(permit=permit, codes=["east", "west"], acting_user=None)
    services.suspend_pass(plate=PLATE, reason="违规停车", acting_user=None)
    state = plate_state(PLATE)
    assert (state.reason_code, state.groups, state.pass_id) == (SUSPENDED, ("east", "west"), permit.pk)
    gate = type("G", (), {"group": None})()
    assert desired.answer_for_gate(state, gate) == SUSPENDED  # not out_of_scope: suspended wins
