"""Issue 14 item 7: the import preview lists every pass the file gives to another person or vehicle
and needs an explicit confirmation of them; the import is reachable from /office/ (管理员)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campuspass.backoffice.roles import ADMIN, COUNTER
from campuspass.core.errors import CampusPassError
from campuspass.registry import tasks
from campuspass.registry.imports import import_passes
from campuspass.registry.models import ImportJob, Pass
from tests.registry.test_imports import row, write_csv

pytestmark = pytest.mark.django_db

ORIGINAL = [
    row(),
    row(工号="20010002", 姓名="李四", 手机号="13912345678", 车牌号="京B22222", 通行证编号="YXB201800002"),
]
# The same two pass numbers: the first now on 李四's car, the second given to a new person.
MOVED = [
    row(车牌号="京C33333", 通行证编号="YXB201800001"),
    row(工号="20010003", 姓名="王五", 手机号="13712345678", 车牌号="京B22222", 通行证编号="YXB201800002"),
]


def csv_bytes(tmp_path, rows, name):
    return write_csv(tmp_path / name, rows).read_bytes()


def test_the_report_lists_passes_moving_to_another_person_or_vehicle(tmp_path):
    import_passes(path=write_csv(tmp_path / "a.csv", ORIGINAL))
    report = import_passes(path=write_csv(tmp_path / "b.csv", MOVED), dry_run=True)
    assert report.moved_total == 2
    first, second = report.moved
    assert (first["number"], first["from_plate"], first["to_plate"]) == (
        "YXB201800001",
        "京A12345",
        "京C33333",
    )
    assert first["from_staff_no"] == first["to_staff_no"] == "20010001"
    assert (second["from_name"], second["to_name"], second["to_staff_no"]) == ("李四", "王五", "20010003")
    assert Pass.objects.get(number="YXB201800002").holder.name == "李四"  # a dry run


def test_office_import_needs_the_moves_confirmed(tmp_path, office_client, django_capture_on_commit_callbacks):
    """The upload and the confirmation queue their jobs after commit (registry.tasks, the one door)."""
    import_passes(path=write_csv(tmp_path / "a.csv", ORIGINAL))
    client, _ = office_client(ADMIN)
    assert "导入" in client.get("/office/").content.decode()  # in the navigation
    upload = SimpleUploadedFile(
        "2018登记表.csv", csv_bytes(tmp_path, MOVED, "b.csv"), content_type="text/csv"
    )
    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post("/office/import/", {"file": upload, "year": ""})
    job = ImportJob.objects.get()
    assert posted["Location"] == f"/office/import/{job.pk}/"
    page = client.get(posted["Location"]).content.decode()
    assert "通行证转移（2 张）" in page and "京A12345" in page and "京C33333" in page
    assert "李四（20010002）" in page and "王五（20010003）" in page
    assert 'name="confirm_moves"' in page

    refused = client.post(f"/office/import/{job.pk}/confirm/", follow=True)
    assert "请逐条核对" in refused.content.decode()
    job.refresh_from_db()
    assert job.state == ImportJob.State.PREVIEWED
    assert Pass.objects.get(number="YXB201800002").holder.name == "李四"

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/office/import/{job.pk}/confirm/", {"confirm_moves": "1"})
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    assert Pass.objects.get(number="YXB201800002").holder.name == "王五"
    assert "导入已完成" in client.get(f"/office/import/{job.pk}/").content.decode()


def test_a_file_without_moves_needs_no_extra_confirmation(
    tmp_path, office_client, django_capture_on_commit_callbacks
):
    client, _ = office_client(ADMIN)
    upload = SimpleUploadedFile("a.csv", csv_bytes(tmp_path, ORIGINAL, "a.csv"), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/office/import/", {"file": upload})
    job = ImportJob.objects.get()
    assert "confirm_moves" not in client.get(f"/office/import/{job.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/office/import/{job.pk}/confirm/")
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE and Pass.objects.count() == 2


def test_confirm_import_refuses_unconfirmed_moves(tmp_path):
    job = ImportJob(preview={"moved_total": 3, "moved": []}, state=ImportJob.State.PREVIEWED)
    with pytest.raises(CampusPassError) as refused:
        tasks.confirm_import(job)
    assert "3 张通行证" in refused.value.message


def test_only_administrators_import(office_client):
    client, _ = office_client(COUNTER)
    assert client.get("/office/import/").status_code == 403
