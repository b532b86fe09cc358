"""The Hikvision camera (ISAPI) adapter against its simulator: digest auth, adds with the read-back for
the camera's id, updates, suspensions, deletions by id, failures and retries, and a full comparison
that leaves records others put on the camera alone."""

import datetime as dt

import pytest
from django.utils import timezone

from campuspass.gates import services, sync
from campuspass.gates.adapters import GateError
from campuspass.gates.adapters.hikvision_isapi import HikvisionIsapiAdapter
from campuspass.gates.models import GateEntry

pytestmark = pytest.mark.django_db
E = GateEntry.State


def run(plate="京A12345"):
    for entry in sync.refresh_plate(plate):
        sync.push_entry(entry)
    return GateEntry.objects.filter(plate=plate).first()


def plates(camera):
    return {r["LicensePlate"]: r for r in camera.records.values()}


def test_digest_auth_is_required_and_checked(camera_gate, camera, monkeypatch):
    HikvisionIsapiAdapter.for_gate(camera_gate).ping()
    monkeypatch.setenv("GATE_TEST_CAMERA_PASSWORD", "wrong")
    with pytest.raises(GateError, match="摘要认证失败") as caught:
        HikvisionIsapiAdapter.for_gate(camera_gate).list_items()
    assert caught.value.retryable is False


def test_add_reads_back_the_cameras_id(camera_gate, camera, make_permit):
    permit = make_permit()
    entry = run()
    record = plates(camera)["京A12345"]
    assert entry.state == E.SYNCED and entry.remote_id == record["id"]
    assert record["listType"] == "whiteList"
    assert (record["effectiveStartDate"], record["effectiveTime"]) == (
        str(permit.valid_from),
        str(permit.valid_to),
    )
    assert camera.calls[-1] == "GET /ISAPI/Traffic/channels/1/licensePlateAuditData"  # the read-back


def test_update_writes_the_same_record(camera_gate, camera, make_permit, today):
    permit = make_permit()
    first = run()
    permit.valid_to = today + dt.timedelta(days=3)
    permit.save()
    entry = run()
    assert entry.remote_id == first.remote_id and len(camera.records) == 1
    assert plates(camera)["京A12345"]["effectiveTime"] == str(permit.valid_to)


def test_suspension_deletes_by_id_and_deny_writes_a_block_record(camera_gate, camera, make_permit):
    make_permit()
    run()
    services.suspend_pass(plate="京A12345", reason="违规", acting_user=None)
    run()
    assert camera.records == {}
    assert "PUT /ISAPI/Traffic/channels/1/DelLicensePlateAuditData" in camera.calls
    services.deny_plate(plate="京A12345", reason="闯杆", acting_user=None)
    entry = run()
    assert plates(camera)["京A12345"]["listType"] == "blockList" and entry.state == E.SYNCED
    services.lift_deny(plate="京A12345", reason="解除", acting_user=None)
    run()
    assert camera.records == {}


def test_a_plate_someone_else_put_there_is_not_touched(camera_gate, camera, make_permit):
    foreign_id = camera.add_foreign("京A12345")
    make_permit()
    entry = run()
    assert entry.state == E.FAILED and "他人录入" in entry.last_error and entry.next_attempt_at is None
    assert plates(camera)["京A12345"]["id"] == foreign_id


def test_unreachable_camera_is_retried_with_backoff(camera_gate, camera, make_permit):
    make_permit()
    camera.fail_next(1, 0)
    entry = run()
    assert entry.state == E.FAILED and "无法连接" in entry.last_error and entry.next_attempt_at is not None
    sync.push_due(camera_gate, now=timezone.now() + dt.timedelta(minutes=2))
    entry.refresh_from_db()
    assert entry.state == E.SYNCED and "京A12345" in plates(camera)


def test_full_comparison_repairs_and_leaves_foreign_records(camera_gate, camera, make_permit):
    make_permit("京A12345")
    make_permit("京B22222")
    run("京A12345")
    run("京B22222")
    foreign_id = camera.add_foreign("京F99999", "blockList")
    lost = plates(camera)["京B22222"]["id"]
    del camera.records[lost]  # reset on the device
    result = sync.full_compare(camera_gate)
    assert result["repaired"] == 1 and result["foreign_left_alone"] == 1
    assert set(plates(camera)) == {"京A12345", "京B22222", "京F99999"}
    assert camera.records[foreign_id]["LicensePlate"] == "京F99999"
    assert GateEntry.objects.get(plate="京B22222").remote_id != lost  # re-added, new id read back
