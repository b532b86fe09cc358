"""Decision 0034: the stored validity (待生效 → 使用中 → 已过期) moves through the VALIDITY table at
00:00 Beijing time — not up to an hour late — idempotently, and a midnight missed while no scheduler
ran is caught up when one starts again."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType

from campuspass.core import scheduler
from campuspass.core.models import LogEntry, PeriodicRun
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.orders import order_approve, order_update_validity
from tests.backoffice.test_counter import paid_order

from .factories import make_campaign

SH = ZoneInfo("Asia/Shanghai")
V = RenewalOrder.Validity
JOB = "campuspass.renewals.tasks.update_validity_task"
pytestmark = pytest.mark.django_db

VALID_FROM = dt.date(2026, 12, 1)
VALID_TO = dt.date(2027, 11, 30)


def at(*args):
    return time_machine.travel(dt.datetime(*args, tzinfo=SH), tick=False)


@pytest.fixture
def order():
    with at(2026, 11, 28, 10, 0):
        campaign = make_campaign(valid_from=VALID_FROM, valid_to=VALID_TO)
        order = order_approve(order=paid_order(campaign), acting_user=None)
    assert order.validity == V.NOT_YET
    return order


def validity_entries(order):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(RenewalOrder),
        object_id=str(order.pk),
        data__axis="validity",
    ).order_by("pk")


def test_the_approval_sets_validity_through_the_table_with_its_own_entry(order):
    entry = validity_entries(order).get()
    assert (entry.data["from"], entry.data["to"]) == ("", V.NOT_YET)
    assert entry.action == "renewals.order.validity_changed"


def test_in_use_at_midnight_beijing_not_a_second_before(order):
    with at(2026, 11, 30, 23, 59, 59):
        assert order_update_validity() == 0
    order.refresh_from_db()
    assert order.validity == V.NOT_YET
    with at(2026, 12, 1, 0, 0, 0):
        assert order_update_validity() == 1
        assert order_update_validity() == 0  # a second run (another worker, a catch-up) moves nothing
    order.refresh_from_db()
    assert order.validity == V.IN_USE == order.current_validity(VALID_FROM)
    moves = [(e.data["from"], e.data["to"]) for e in validity_entries(order)]
    assert moves == [("", V.NOT_YET), (V.NOT_YET, V.IN_USE)]


def test_expired_at_midnight_after_the_last_valid_day(order):
    with at(2026, 12, 1, 0, 0, 1):
        order_update_validity()
    with at(2027, 11, 30, 23, 59, 59):
        assert order_update_validity() == 0
    with at(2027, 12, 1, 0, 0, 0):
        assert order_update_validity() == 1
    order.refresh_from_db()
    assert order.validity == V.EXPIRED


def test_a_year_missed_goes_straight_to_expired_in_one_move(order):
    with at(2028, 1, 5, 0, 0):
        assert order_update_validity() == 1
    order.refresh_from_db()
    assert order.validity == V.EXPIRED
    assert [(e.data["from"], e.data["to"]) for e in validity_entries(order)][-1] == (V.NOT_YET, V.EXPIRED)


def test_dates_moved_back_by_hand_never_move_the_pass_back(order):
    with at(2026, 12, 1, 0, 0):
        order_update_validity()
    order.new_pass.valid_from = dt.date(2026, 12, 20)
    order.new_pass.save()
    with at(2026, 12, 2, 0, 0):
        assert order_update_validity() == 0  # 使用中 → 待生效 is not in the table
    order.refresh_from_db()
    assert order.validity == V.IN_USE


def test_the_job_fires_at_midnight_beijing_time():
    (job,) = [j for j in scheduler.load_jobs() if j.path == JOB]
    before = dt.datetime(2026, 11, 30, 23, 30, tzinfo=SH)
    fire = job.trigger().get_next_fire_time(None, before)
    assert fire == dt.datetime(2026, 12, 1, 0, 0, tzinfo=SH)


def test_a_midnight_missed_by_the_scheduler_is_caught_up_when_it_starts(order, settings):
    settings.PERIODIC_TASKS = [(JOB, "0 * * * *")]
    jobs = scheduler.load_jobs()
    with at(2026, 11, 30, 22, 0, 5):
        assert scheduler.run_due(jobs) == []  # first sight: remembered only
    with at(2026, 11, 30, 23, 0, 0):
        assert scheduler.run_due(jobs) == [JOB]
    order.refresh_from_db()
    assert order.validity == V.NOT_YET
    # No scheduler ran from 23:00 to 00:40; the one that starts runs the missed job once, at once.
    with at(2026, 12, 1, 0, 40):
        assert scheduler.run_due(jobs) == [JOB]
        assert scheduler.run_due(jobs) == []
    order.refresh_from_db()
    assert order.validity == V.IN_USE
    assert PeriodicRun.objects.filter(job=JOB, due_at=dt.datetime(2026, 12, 1, 0, 0, tzinfo=SH)).exists()
