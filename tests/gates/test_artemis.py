"""The Hikvision platform adapter against its simulator, through the sync engine: adds, updates,
suspensions, deletions, the read-back, failures and retries, and a full comparison that leaves
foreign entries alone."""

import datetime as dt

import pytest
from django.utils import timezone

from campuspass.gates import services, sync
from campuspass.gates.adapters import GateError
from campuspass.gates.adapters.hikvision_artemis import HikvisionArtemisAdapter
from campuspass.gates.models import GateEntry

pytestmark = pytest.mark.django_db
E = GateEntry.State


def run(plate="京A12345"):
    """What the after-commit hook does: recompute the plate and push."""
    for entry in sync.refresh_plate(plate):
        sync.push_entry(entry)
    return GateEntry.objects.filter(plate=plate).first()


def later(seconds=3600):
    return timezone.now() + dt.timedelta(seconds=seconds)


def test_signature_is_checked_by_the_gateway(artemis_gate, artemis):
    adapter = HikvisionArtemisAdapter.for_gate(artemis_gate)
    adapter.ping()
    adapter.app_secret = "wrong"
    with pytest.raises(GateError, match="签名") as caught:
        adapter.ping()
    assert caught.value.retryable is False


def test_missing_secret_is_named(artemis_gate, monkeypatch):
    monkeypatch.delenv("GATE_TEST_ARTEMIS_SECRET")
    with pytest.raises(GateError, match="AppSecret"):
        HikvisionArtemisAdapter.for_gate(artemis_gate)


def test_add_is_confirmed_by_reading_back(artemis_gate, artemis, make_permit):
    permit = make_permit()
    entry = run()
    # The parking service applies the charge asynchronously: accepted, not yet confirmed.
    assert entry.state == E.CONFIRMING
    assert "/api/resource/v1/vehicle/batch/add" in artemis.calls and "/api/pms/v1/car/charge" in artemis.calls
    sync.push_due(artemis_gate, now=later())
    entry.refresh_from_db()
    assert entry.state == E.SYNCED and entry.pushed_hash == entry.desired_hash
    period = artemis.charges[("park-1", "京A12345")]
    assert period["startTime"] == f"{permit.valid_from}T00:00:00+08:00"
    assert period["endTime"] == f"{permit.valid_to}T23:59:59+08:00"
    artemis_gate.refresh_from_db()
    assert artemis_gate.last_sync_at is not None


def test_a_charge_that_never_shows_up_is_sent_again(artemis_gate, artemis, make_permit):
    make_permit()
    artemis.charge_delay = 1000
    entry = run()
    for n in range(sync.CONFIRM_READS):
        sync.push_due(artemis_gate, now=later(60 * (n + 1)))
    entry.refresh_from_db()
    assert entry.state == E.PENDING and "重新提交" in entry.last_error
    sync.push_due(artemis_gate, now=later(3600))
    assert artemis.calls.count("/api/pms/v1/car/charge") >= 2  # re-submitted after three empty read-backs


def test_an_update_changes_the_period(artemis_gate, artemis, make_permit, today):
    permit = make_permit()
    run()
    artemis.settle()
    sync.push_due(artemis_gate, now=later())
    permit.valid_to = today + dt.timedelta(days=10)
    permit.save()
    entry = run()
    assert entry.state == E.CONFIRMING
    artemis.settle()
    sync.push_due(artemis_gate, now=later())
    entry.refresh_from_db()
    assert entry.state == E.SYNCED
    assert artemis.charges[("park-1", "京A12345")]["endTime"].startswith(str(permit.valid_to))


def test_suspension_removes_the_period_and_resuming_restores_it(artemis_gate, artemis, make_permit):
    make_permit()
    run()
    artemis.settle()
    services.suspend_pass(plate="京A12345", reason="违规停车", acting_user=None)
    entry = run()
    assert ("park-1", "京A12345") not in artemis.charges
    assert entry.state == E.SYNCED and entry.pushed_hash == ""
    services.lift_suspension(plate="京A12345", reason="已处理", acting_user=None)
    run()
    artemis.settle()
    assert ("park-1", "京A12345") in artemis.charges


def test_deny_list_makes_an_alarm_car_and_lifting_it_reads_the_id_back(artemis_gate, artemis, make_permit):
    make_permit()
    run()
    artemis.settle()
    services.deny_plate(plate="京A12345", reason="闯杆", acting_user=None)
    entry = run()
    assert entry.list_type == "deny" and entry.state == E.SYNCED
    assert [a["plateNo"] for a in artemis.alarms.values()] == ["京A12345"]
    assert ("park-1", "京A12345") not in artemis.charges  # no allowed period beside the ban
    alarm_id = next(iter(artemis.alarms))
    assert entry.remote_id == alarm_id
    services.lift_deny(plate="京A12345", reason="申诉通过", acting_user=None)
    run()
    assert artemis.alarms == {}
    assert "/api/pms/v1/alarmCar/page" in artemis.calls  # deletion needed the platform's id


def test_expiry_removes_the_car_on_the_day_after(artemis_gate, artemis, make_permit, today):
    make_permit(valid_to=today)
    entry = run()
    artemis.settle()
    assert entry.review_at is not None
    tomorrow = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0, 1)))
    sync.review_due(now=tomorrow)
    sync.push_due(artemis_gate, now=tomorrow)
    assert ("park-1", "京A12345") not in artemis.charges
    assert not GateEntry.objects.filter(plate="京A12345").exists()


def test_a_pass_starting_later_is_pushed_from_its_start_date(artemis_gate, artemis, make_permit, today):
    start = today + dt.timedelta(days=5)
    make_permit(valid_from=start)
    entry = run()
    assert entry.list_type == "none" and "/api/pms/v1/car/charge" not in artemis.calls
    day = timezone.make_aware(dt.datetime.combine(start, dt.time(0, 1)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "localdate", lambda *a, **k: start)
        sync.review_due(now=day)
    sync.push_due(artemis_gate, now=day)
    assert "/api/pms/v1/car/charge" in artemis.calls


def test_outage_is_retried_with_backoff_then_succeeds(artemis_gate, artemis, make_permit):
    make_permit()
    artemis.fail_next(1, 503)
    entry = run()
    assert entry.state == E.FAILED and "暂时不可用" in entry.last_error
    first_wait = entry.next_attempt_at - timezone.now()
    assert dt.timedelta(seconds=50) < first_wait <= dt.timedelta(seconds=60)
    # Not yet due: nothing is sent.
    assert sync.push_due(artemis_gate)["pushed"] == 0
    artemis.fail_next(1, 0)  # a dropped connection
    sync.push_due(artemis_gate, now=later(61))
    entry.refresh_from_db()
    assert entry.state == E.FAILED and entry.attempts == 2 and "无法连接" in entry.last_error
    assert entry.next_attempt_at - timezone.now() > dt.timedelta(seconds=100)  # the wait grew
    sync.push_due(artemis_gate, now=later(3600))  # pushed, then read back in the same run
    entry.refresh_from_db()
    assert entry.state == E.SYNCED and entry.attempts == 0
    artemis_gate.refresh_from_db()
    assert artemis_gate.last_error == ""


def test_a_refusal_is_not_retried_until_the_office_asks(
    artemis_gate, artemis, make_permit, django_capture_on_commit_callbacks
):
    make_permit()
    artemis.parks = {"another-park"}
    entry = run()
    assert entry.state == E.FAILED and "停车库不存在" in entry.last_error and entry.next_attempt_at is None
    artemis.parks = {"park-1"}
    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_gate(gate=artemis_gate, acting_user=None) == 1
    entry.refresh_from_db()
    assert entry.state in (E.CONFIRMING, E.SYNCED) and entry.last_error == ""


def test_pushing_twice_writes_once(artemis_gate, artemis, make_permit):
    make_permit()
    run()
    run()
    assert artemis.calls.count("/api/pms/v1/car/charge") == 1


def test_full_comparison_repairs_drift_and_leaves_foreign_entries_alone(
    artemis_gate, artemis, make_permit, today
):
    make_permit("京A12345")
    make_permit("京B22222")
    expired = make_permit("京C33333")
    for plate in ("京A12345", "京B22222", "京C33333"):
        run(plate)
    artemis.settle()
    sync.push_due(artemis_gate, now=later())
    assert GateEntry.objects.filter(state=E.SYNCED).count() == 3
    artemis.add_foreign_charge("京F99999")  # the parking office's own fixed car
    del artemis.charges[("park-1", "京B22222")]  # someone removed ours on the platform
    # A bulk change that sent no signal: the pass ended yesterday.
    type(expired).objects.filter(pk=expired.pk).update(valid_to=today - dt.timedelta(days=1))
    result = sync.full_compare(artemis_gate)
    artemis.settle()
    sync.push_due(artemis_gate, now=later())
    assert result["repaired"] == 1 and result["foreign_left_alone"] == 1
    assert ("park-1", "京B22222") in artemis.charges
    assert ("park-1", "京C33333") not in artemis.charges
    assert ("park-1", "京F99999") in artemis.charges
    assert not GateEntry.objects.filter(plate="京F99999").exists()


def test_a_quiet_gate_is_pinged_and_an_unreachable_one_shows_why(artemis_gate, artemis):
    sync.push_due(artemis_gate)
    artemis_gate.refresh_from_db()
    assert artemis_gate.last_heartbeat_at is not None and "/api/resource/v1/park/parkList" in artemis.calls
    artemis.fail_next(1, 0)
    sync.push_due(artemis_gate, now=later(600))
    artemis_gate.refresh_from_db()
    assert "无法连接" in artemis_gate.last_error
