"""The registry admin: search in any spelling, masked phones, audited phone views, saves through
services, the import (upload → preview → confirm) and export screens, and permissions."""

import io

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from campuspass.core.models import LogEntry
from campuspass.registry import services
from campuspass.registry.columns import HEADERS
from campuspass.registry.models import ImportJob, Pass, Staff, Vehicle
from tests.conftest import pass_second_factor

from .test_imports import row, write_csv, write_xlsx

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def admin_client(client):
    user = User.objects.create_superuser("boss", password="x" * 12)
    client.force_login(user)
    pass_second_factor(client, user)
    client.user = user
    return client


@pytest.fixture
def registry():
    zhang = services.staff_create(staff_no="20010001", name="张三", mobile="13812345678")
    li = services.staff_create(staff_no="20010002", name="李四", mobile="13900001111")
    v1 = services.vehicle_create(plate="京A12345", owner=zhang)
    v2 = services.vehicle_create(plate="京B54321", owner=li)
    p1 = services.pass_create(year=2018, number="YXB201800001", vehicle=v1, holder=zhang)
    p2 = services.pass_create(year=2018, number="YXB201800002", vehicle=v2, holder=li)
    return {"zhang": zhang, "li": li, "v1": v1, "v2": v2, "p1": p1, "p2": p2}


def changelist(client, model, q):
    response = client.get(reverse(f"admin:registry_{model}_changelist"), {"q": q})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


# --- search ---


@pytest.mark.parametrize("term", ["京A12345", "京A·12345", "京 a12345", "京Ａ１２３４５", " 京a-12345 "])
def test_search_by_plate_in_any_spelling(admin_client, registry, term):
    assert changelist(admin_client, "pass", term) == [registry["p1"]]
    assert changelist(admin_client, "vehicle", term) == [registry["v1"]]
    assert changelist(admin_client, "staff", term) == [registry["zhang"]]


def test_search_by_partial_plate(admin_client, registry):
    assert changelist(admin_client, "vehicle", "京 a·123") == [registry["v1"]]


@pytest.mark.parametrize(
    "term", ["13812345678", "+86 138-1234-5678", "138 1234 5678", "８６１３８１２３４５６７８"]
)
def test_search_by_phone_in_any_spelling(admin_client, registry, term):
    assert changelist(admin_client, "staff", term) == [registry["zhang"]]
    assert changelist(admin_client, "pass", term) == [registry["p1"]]
    assert changelist(admin_client, "vehicle", term) == [registry["v1"]]


def test_search_by_name_and_staff_number(admin_client, registry):
    assert changelist(admin_client, "pass", "李四") == [registry["p2"]]
    assert changelist(admin_client, "staff", "20010002") == [registry["li"]]
    assert changelist(admin_client, "pass", "20010001") == [registry["p1"]]


# --- phones ---


@pytest.mark.parametrize("model", ["staff", "vehicle", "pass"])
def test_lists_show_masked_phones_only(admin_client, registry, model):
    html = admin_client.get(reverse(f"admin:registry_{model}_changelist")).content.decode()
    assert "138****5678" in html
    assert "13812345678" not in html
    assert "13900001111" not in html


def test_full_phone_on_the_change_form_is_audited(admin_client, registry):
    zhang = registry["zhang"]
    response = admin_client.get(reverse("admin:registry_staff_change", args=[zhang.pk]))
    assert response.status_code == 200
    assert "13812345678" in response.content.decode()
    entry = LogEntry.objects.get(action="core.phone.viewed")
    assert (entry.actor, entry.staff_no, entry.object_id) == (admin_client.user, "20010001", str(zhang.pk))


# --- saves through services ---


def test_admin_staff_change_goes_through_services(admin_client, registry):
    zhang = registry["zhang"]
    url = reverse("admin:registry_staff_change", args=[zhang.pk])
    data = {"name": "张三", "department": "药学院", "mobile": "+86 139-1111-2222", "status": "active"}
    response = admin_client.post(url, data)
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert (zhang.mobile, zhang.department) == ("13911112222", "药学院")
    entry = LogEntry.objects.get(action="registry.staff.updated")
    assert entry.actor == admin_client.user
    assert entry.data["changes"]["mobile"] == ["13812345678", "13911112222"]


def test_admin_refuses_a_bad_phone_with_the_import_message(admin_client, registry):
    url = reverse("admin:registry_staff_change", args=[registry["zhang"].pk])
    response = admin_client.post(url, {"name": "张三", "mobile": "12345", "status": "active"})
    assert response.status_code == 200
    assert "手机号应为 11 位数字" in response.content.decode()
    assert not LogEntry.objects.filter(action="registry.staff.updated").exists()


def test_admin_pass_add_validates_like_the_import(admin_client, registry):
    url = reverse("admin:registry_pass_add")
    data = {
        "year": "2019",
        "number": " yxb2019 00001",
        "vehicle": registry["v1"].pk,
        "holder": registry["zhang"].pk,
        "review_status": "approved",
        "valid_from": "2019-07-01",
        "valid_to": "2019-06-30",
        "source": "admin",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "早于有效期起" in response.content.decode()
    data["valid_to"] = "2020-06-30"
    assert admin_client.post(url, data).status_code == 302
    permit = Pass.objects.get(year=2019)
    assert permit.number == "YXB201900001"
    assert LogEntry.objects.filter(action="registry.pass.created", object_id=str(permit.pk)).exists()
    # the same vehicle twice in a year: a form error, not a 500
    data["number"] = "YXB201900002"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert Pass.objects.filter(year=2019).count() == 1


def test_admin_vehicle_add_normalises_the_plate(admin_client, registry):
    url = reverse("admin:registry_vehicle_add")
    response = admin_client.post(url, {"plate": "京Ｃ·１２３４５", "owner": registry["li"].pk})
    assert response.status_code == 302
    assert Vehicle.objects.filter(plate="京C12345").exists()
    response = admin_client.post(url, {"plate": "京C1234O", "owner": registry["li"].pk})
    assert "字母 I 或 O" in response.content.decode()


def test_deleting_a_referenced_staff_member_is_refused_without_a_500(admin_client, registry):
    zhang = registry["zhang"]
    url = reverse("admin:registry_staff_delete", args=[zhang.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code in (200, 302)
    assert Staff.objects.filter(pk=zhang.pk).exists()


# --- import screens ---


def upload(client, path, **extra):
    with open(path, "rb") as handle:
        data = {"file": SimpleUploadedFile(path.name, handle.read()), **extra}
    # the preview is queued after the upload's commit
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("admin:registry_pass_import"), data)


def post_committed(client, url):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url)


def test_import_upload_preview_confirm(admin_client, tmp_path, settings):
    rows = [row(), row(工号="20010002", 车牌号="京B54321", 通行证编号="YXB201800002", 手机号="123")]
    response = upload(admin_client, write_xlsx(tmp_path / "名单.xlsx", rows))
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.state == ImportJob.State.PREVIEWED
    assert job.created_by == admin_client.user
    stored = settings.PRIVATE_STORAGE_ROOT / job.stored_path
    assert stored.exists() and "名单" not in stored.name
    assert Pass.objects.count() == 0  # a preview writes nothing

    page = admin_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "确认导入" in html
    assert "第 3 行" in html and "手机号" in html
    assert (job.preview["imported"], len(job.preview["rejected"])) == (1, 1)

    status = admin_client.get(reverse("admin:registry_pass_import_status", args=[job.pk])).json()
    assert status["state"] == "previewed" and status["running"] is False

    confirm = reverse("admin:registry_pass_import_confirm", args=[job.pk])
    assert admin_client.get(confirm).status_code == 405
    assert post_committed(admin_client, confirm).status_code == 302
    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE and job.finished_at
    assert job.report["imported"] == 1
    assert Pass.objects.count() == 1
    assert LogEntry.objects.get(action="registry.pass.imported").actor == admin_client.user
    html = admin_client.get(reverse("admin:registry_pass_import_job", args=[job.pk])).content.decode()
    assert "导入结果" in html and "确认导入" not in html

    # a second confirmation does nothing
    admin_client.post(confirm)
    assert LogEntry.objects.filter(action="registry.import.completed").count() == 1


def test_preview_names_every_field_of_a_row_with_several_problems(admin_client, tmp_path):
    response = upload(
        admin_client, write_csv(tmp_path / "a.csv", [row(手机号="12345678901", 车牌号="京AI2345")])
    )
    html = admin_client.get(response["Location"]).content.decode()
    assert "<td>手机号、车牌号</td>" in html


def test_import_with_year_given_for_a_file_without_year_column(admin_client, tmp_path):
    headers = [h for h in row() if h != "年度"]
    upload(admin_client, write_csv(tmp_path / "a.csv", [row()], headers=headers), year="2018")
    assert ImportJob.objects.get().state == ImportJob.State.PREVIEWED


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "不是表格文件"),
        ("a.csv", "工号,姓名,车牌号\n1,张三,京A12345\n".encode(), "文件缺少必需的列"),
    ],
)
def test_a_bad_file_gives_one_chinese_error_and_writes_nothing(admin_client, name, content, message):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(
            reverse("admin:registry_pass_import"), {"file": SimpleUploadedFile(name, content)}
        )
    job = ImportJob.objects.get()
    assert job.state == ImportJob.State.FAILED
    assert message in job.error
    html = admin_client.get(response["Location"]).content.decode()
    assert message in html and "确认导入" not in html
    assert (Staff.objects.count(), Pass.objects.count()) == (0, 0)
    assert set(LogEntry.objects.values_list("action", flat=True)) <= {
        "core.signin.succeeded",
        "registry.import.uploaded",
    }


def test_upload_refuses_other_extensions_and_large_files(admin_client, settings):
    response = admin_client.post(
        reverse("admin:registry_pass_import"), {"file": SimpleUploadedFile("a.xls", b"abc")}
    )
    assert "只能导入 .xlsx 或 .csv" in response.content.decode()
    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    response = admin_client.post(
        reverse("admin:registry_pass_import"), {"file": SimpleUploadedFile("a.csv", b"x" * 11)}
    )
    assert "文件太大" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_import_form_and_job_pages_render(admin_client):
    html = admin_client.get(reverse("admin:registry_pass_import")).content.decode()
    assert "上传并预览" in html


# --- export screen ---


def test_export_download(admin_client, registry):
    url = reverse("admin:registry_pass_export")
    assert "下载 Excel" in admin_client.get(url).content.decode()
    response = admin_client.get(url, {"year": "2018", "download": "1"})
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS and len(rows) == 3
    entry = LogEntry.objects.get(action="registry.export.created")
    assert entry.actor == admin_client.user and entry.data["rows"] == 2


def test_export_years_are_read_from_the_year_index_bounds(admin_client, registry):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campuspass.registry.admin import pass_years

    low, high = min(pass_years()), max(pass_years())
    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get(reverse("admin:registry_pass_export")).content.decode()
    assert f'value="{high}"' in html and f'value="{low}"' in html
    assert not any("DISTINCT" in q["sql"] for q in queries.captured_queries)


# --- permissions ---


@pytest.fixture
def staff_client(client):
    user = User.objects.create_user("clerk", password="x" * 12, is_staff=True)
    client.force_login(user)
    client.user = user
    return client


def test_staff_without_permissions_gets_403(staff_client, tmp_path):
    assert staff_client.get(reverse("admin:registry_pass_import")).status_code == 403
    assert staff_client.get(reverse("admin:registry_pass_export")).status_code == 403
    assert staff_client.get(reverse("admin:registry_pass_export"), {"download": "1"}).status_code == 403
    response = upload(staff_client, write_csv(tmp_path / "a.csv", [row()]))
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


def test_permissions_open_their_screens(staff_client):
    user = staff_client.user
    user.user_permissions.add(
        Permission.objects.get(codename="view_pass", content_type__app_label="registry")
    )
    assert staff_client.get(reverse("admin:registry_pass_export")).status_code == 200
    assert staff_client.get(reverse("admin:registry_pass_import")).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_pass", content_type__app_label="registry"))
    staff_client.force_login(User.objects.get(pk=user.pk))
    assert staff_client.get(reverse("admin:registry_pass_import")).status_code == 200


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("admin:registry_pass_import"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_admin_lists_have_the_whole_width_and_a_way_home(admin_client, registry):
    """No list of every model beside each page (issue 13): the pass list's columns all show; the
    breadcrumb's 首页 leads to the index, which lists every model the user may see."""
    html = admin_client.get(reverse("admin:registry_pass_changelist")).content.decode()
    assert 'id="nav-sidebar"' not in html
    assert f'<a href="{reverse("admin:index")}">首页</a>' in html
    index = admin_client.get(reverse("admin:index")).content.decode()
    for model in ("staff", "vehicle", "pass"):
        assert reverse(f"admin:registry_{model}_changelist") in index
    assert reverse("admin:renewals_renewalorder_changelist") in index


def test_the_list_of_every_model_is_built_only_where_it_is_shown(admin_client, registry, monkeypatch):
    """Without the sidebar an admin list does not build the list of every app and model (its
    ~35 URL reversals); the index and an app's page still show theirs."""
    from django.contrib.admin import AdminSite

    built = []
    real = AdminSite._build_app_dict
    monkeypatch.setattr(AdminSite, "_build_app_dict", lambda *a, **k: built.append(1) or real(*a, **k))
    for name in ("registry_pass", "registry_staff", "renewals_renewalorder"):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
    assert (
        admin_client.get(reverse("admin:registry_pass_change", args=[registry["p1"].pk])).status_code == 200
    )
    assert built == []
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert built and reverse("admin:registry_pass_changelist") in index
    registry_page = admin_client.get(reverse("admin:app_list", args=["registry"]))
    assert registry_page.status_code == 200
    assert reverse("admin:registry_staff_changelist") in registry_page.content.decode()
    assert "renewalorder" not in registry_page.content.decode()
    assert admin_client.get("/admin/nosuchapp/").status_code == 404


def test_home_page_links_resolve(client):
    assert client.get("/").status_code == 200


def test_the_admin_import_goes_through_the_import_job_service(admin_client, tmp_path, monkeypatch):
    from campuspass.registry import tasks

    calls = []
    real = tasks.import_job_create
    monkeypatch.setattr(
        "campuspass.registry.admin.import_job_create", lambda **kw: calls.append(kw) or real(**kw)
    )
    upload(admin_client, write_csv(tmp_path / "a.csv", [row()]))
    assert len(calls) == 1 and calls[0]["acting_user"] == admin_client.user
    entry = LogEntry.objects.get(action="registry.import.uploaded")
    assert entry.actor == admin_client.user and entry.data["file"] == "a.csv"
