"""Issue 13, exports: the orders export of a big year is streamed as CSV while it is read (the first
bytes leave before the query has been read to its end; memory holds one chunk), and the .xlsx of
more orders than it can build in time is refused with what to do instead — never a 500."""

import csv
import io
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campuspass.backoffice import exports, roles
from campuspass.backoffice.exports import ORDER_HEADERS
from campuspass.core.models import LogEntry
from tests.renewals.factories import make_campaign

from .test_counter import approved_order, paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return make_campaign()


@pytest.fixture
def finance(office_client):
    return office_client(roles.FINANCE)


def url(**params):
    return reverse("backoffice:exports-download", args=["orders"]), params


def test_orders_csv_is_streamed_with_the_xlsx_columns(campaign, finance):
    client, user = finance
    order = approved_order(campaign, mobile="13912345678")
    path, params = url(format="csv")
    response = client.get(path, params)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "filename*=utf-8''" + quote("续费订单") in response["Content-Disposition"]
    assert response["Content-Disposition"].endswith(".csv")
    content = b"".join(response.streaming_content)
    assert content.startswith("\ufeff".encode())  # Excel reads the Chinese headers
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ORDER_HEADERS
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["订单号"] == order.out_trade_no and row["手机号"] == "139****5678"
    assert row["状态"] == "待领取" and row["金额(元)"] == "150.00"  # as the screens say
    assert b"13912345678" not in content
    entry = LogEntry.objects.get(action="backoffice.export.created")
    assert entry.actor == user and entry.data["file"].endswith(".csv")


def test_the_csv_reads_in_chunks_and_sends_before_the_end(campaign, finance, monkeypatch):
    monkeypatch.setattr(exports, "READ_CHUNK", 2)
    client, _ = finance
    for _ in range(5):
        paid_order(campaign)
    path, params = url(format="csv")
    response = client.get(path, params)
    stream = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as before_first:
        first = next(stream)  # the header block: sent before any order is read
    assert first.decode("utf-8-sig").startswith("订单号")
    assert not [q for q in before_first.captured_queries if "renewals_renewalorder" in q["sql"]]
    blocks = list(stream)
    assert len(blocks) >= 3  # one block per chunk of 2 orders, not one block at the end
    body = (first + b"".join(blocks)).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(body)))) == 6


def test_the_csv_has_its_own_address(campaign, finance):
    client, _ = finance
    paid_order(campaign)
    response = client.get(reverse("backoffice:exports-download-csv", args=["orders"]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert reverse("backoffice:exports-download-csv", args=["orders"]).endswith("/orders.csv")


def test_a_csv_cell_cannot_become_a_formula(campaign, finance):
    client, _ = finance
    order = paid_order(campaign)
    order.staff.name = "=HYPERLINK(1)"
    order.staff.save()
    path, params = url(format="csv")
    body = b"".join(client.get(path, params).streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body


def test_too_many_orders_for_an_xlsx_is_a_chinese_message_not_a_500(campaign, finance, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ORDERS", 2)
    from campuspass.backoffice import views_exports

    monkeypatch.setattr(views_exports, "XLSX_MAX_ORDERS", 2)
    client, _ = finance
    for _ in range(3):
        paid_order(campaign)
    path, params = url()
    response = client.get(path, params, follow=True)
    assert response.status_code == 200
    assert "CSV" in response.content.decode() and "超过" in response.content.decode()
    assert not LogEntry.objects.filter(action="backoffice.export.created").exists()
