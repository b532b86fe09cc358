"""The Dahua camera adapter against its simulator: digest auth, RecNo from insert, updates, moving
between allow and deny lists, deletion by record number, failures and retries, a full comparison that
leaves others' records alone."""

import datetime as dt

import pytest
from django.utils import timezone

from campuspass.gates import services, sync
from campuspass.gates.adapters import GateError
from campuspass.gates.adapters.dahua_itc import DahuaItcAdapter
from campuspass.gates.models import GateEntry

pytestmark = pytest.mark.django_db
E = GateEntry.State


def run(plate="京A12345"):
    for entry in sync.refresh_plate(plate):
        sync.push_entry(entry)
    return GateEntry.objects.filter(plate=plate).first()


def red(dahua):
    return {r["PlateNumber"]: r for r in dahua.lists["TrafficRedList"].values()}


def test_digest_auth_is_checked(dahua_gate, dahua, monkeypatch):
    DahuaItcAdapter.for_gate(dahua_gate).ping()
    monkeypatch.setenv("GATE_TEST_DAHUA_PASSWORD", "wrong")
    with pytest.raises(GateError, match="摘要认证失败"):
        DahuaItcAdapter.for_gate(dahua_gate).ping()


def test_add_update_and_remove_by_record_number(dahua_gate, dahua, make_permit, today):
    permit = make_permit("京AD12345", colour="green")
    entry = run("京AD12345")
    record = red(dahua)["京AD12345"]
    assert entry.state == E.SYNCED and entry.remote_id == record["RecNo"]
    assert record["PlateColor"] == "Green" and record["AuthorityList.OpenGate"] == "true"
    assert record["MasterOfCar"] == "CampusPass"  # nothing personal goes to the camera
    assert record["CancelTime"] == f"{permit.valid_to} 23:59:59"
    permit.valid_to = today + dt.timedelta(days=2)
    permit.save()
    run("京AD12345")
    assert red(dahua)["京AD12345"]["CancelTime"] == f"{permit.valid_to} 23:59:59"
    assert len(dahua.lists["TrafficRedList"]) == 1
    services.suspend_pass(plate="京AD12345", reason="违规", acting_user=None)
    run("京AD12345")
    assert dahua.lists["TrafficRedList"] == {}
    assert any("action=remove" in call for call in dahua.calls)


def test_deny_moves_the_plate_to_the_black_list(dahua_gate, dahua, make_permit):
    make_permit()
    run()
    services.deny_plate(plate="京A12345", reason="闯杆", acting_user=None)
    run()
    assert dahua.lists["TrafficRedList"] == {}
    assert [r["PlateNumber"] for r in dahua.lists["TrafficBlackList"].values()] == ["京A12345"]


def test_others_records_are_not_touched_and_outages_retry(dahua_gate, dahua, make_permit):
    dahua.add_foreign("京A12345")
    make_permit()
    entry = run()
    assert entry.state == E.FAILED and "他人录入" in entry.last_error
    make_permit("京B22222")
    dahua.fail_next(1, 503)
    entry = run("京B22222")
    assert entry.state == E.FAILED and entry.next_attempt_at is not None
    sync.push_due(dahua_gate, now=timezone.now() + dt.timedelta(minutes=2))
    entry.refresh_from_db()
    assert entry.state == E.SYNCED and "京B22222" in red(dahua)


def test_full_comparison_repairs_and_leaves_foreign(dahua_gate, dahua, make_permit):
    make_permit("京A12345")
    run("京A12345")
    foreign = dahua.add_foreign("京F99999")
    dahua.lists["TrafficRedList"].pop(red(dahua)["京A12345"]["RecNo"])
    result = sync.full_compare(dahua_gate)
    assert result["repaired"] == 1 and result["foreign_left_alone"] == 1
    assert set(red(dahua)) == {"京A12345", "京F99999"} and foreign in dahua.lists["TrafficRedList"]
