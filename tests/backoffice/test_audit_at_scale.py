"""The audit log screen at the size a renewal week leaves it (issue 13): a page costs the same few
statements whatever it shows, and the whole log is not counted on every view."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campuspass.backoffice.roles import ADMIN
from campuspass.core.audit import log_action
from campuspass.core.models import LogEntry
from campuspass.core.paging import CappedPaginator
from tests.renewals.factories import make_pass

pytestmark = pytest.mark.django_db


@pytest.fixture
def passes():
    return [make_pass(plate=f"京A{k:05d}") for k in range(3)]


def entries(passes, n: int) -> None:
    for k in range(n):
        item = passes[k % 3]
        log_action(actor=None, action="registry.pass.imported", obj=item, plate=item.vehicle.plate)
        log_action(
            actor=None, action="registry.staff.updated", obj=item.holder, staff_no=item.holder.staff_no
        )


def statements(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("backoffice:audit"))
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_a_page_reads_each_entry_type_once_not_once_per_entry(office_client, passes):
    client, _ = office_client(ADMIN)
    entries(passes, 2)
    client.get(reverse("backoffice:audit"))  # warm: the content types are read once per process
    few = statements(client)
    entries(passes, 20)
    assert statements(client) == few


def test_a_long_log_is_counted_up_to_the_cap(office_client, monkeypatch, passes):
    monkeypatch.setattr(CappedPaginator, "cap", 10)
    client, _ = office_client(ADMIN)
    entries(passes, 8)
    assert LogEntry.objects.count() > 10
    page = client.get(reverse("backoffice:audit")).content.decode()
    assert "共 10 条以上" in page
    narrow = client.get(reverse("backoffice:audit"), {"plate": "京A00001"}).content.decode()
    assert "以上" not in narrow.split("最新的在前")[0]


def test_exactly_the_cap_is_not_more_than_the_cap(office_client, monkeypatch, passes):
    client, _ = office_client(ADMIN)
    entries(passes, 5)
    monkeypatch.setattr(CappedPaginator, "cap", LogEntry.objects.count())
    page = client.get(reverse("backoffice:audit")).content.decode()
    assert f"共 {LogEntry.objects.count()} 条，" in page
