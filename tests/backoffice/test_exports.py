"""导出 (issue 5, item 9): orders (by status and date), refunds, pickups and deliveries as .xlsx, and
the new year's passes in the registry import format — which re-imports with nothing rejected."""

import datetime as dt
import io
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from campuspass.backoffice import roles
from campuspass.backoffice.exports import FULFILMENT_HEADERS, ORDER_HEADERS, REFUND_HEADERS
from campuspass.core.models import LogEntry
from campuspass.payments import providers
from campuspass.registry.columns import HEADERS as REGISTRY_HEADERS
from campuspass.registry.imports import import_passes
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.fulfilment import order_hand_out
from campuspass.renewals.services.refunds import refund_request
from tests.renewals.factories import make_campaign
from tests.renewals.fakes import FakeProvider

from .test_counter import approved_order, paid_order, rejected_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return make_campaign()


@pytest.fixture
def finance(office_client):
    return office_client(roles.FINANCE)


def download(client, kind, **params):
    response = client.get(reverse("backoffice:exports-download", args=[kind]), params)
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return response, content, rows[0], rows[1:]


def by_header(header, row):
    return dict(zip(header, row, strict=True))


def test_orders_export_has_the_columns_and_masks_phones(campaign, finance, make_user):
    client, user = finance
    order = approved_order(campaign, mobile="13912345678")
    reviewer = make_user(roles.REVIEWER, "rev")
    RenewalOrder.objects.filter(pk=order.pk).update(decided_by=reviewer)
    response, content, header, rows = download(client, "orders")
    assert header == ORDER_HEADERS
    assert len(rows) == 1
    row = by_header(header, rows[0])
    assert row["订单号"] == order.out_trade_no and row["车牌号"] == order.plate
    assert row["工号"] == order.staff.staff_no and row["姓名"] == order.staff.name
    assert row["手机号"] == "139****5678" and b"13912345678" not in content
    # Approved, not yet collected: where the pass is, as on every screen (not 使用中).
    assert row["状态"] == "待领取" and Decimal(str(row["金额(元)"])) == Decimal("150.00")
    assert row["审核人"] == reviewer.get_full_name() and row["领取方式"] == "到保卫处领取"
    local_paid = timezone.localtime(order.paid_at).replace(tzinfo=None)  # Beijing wall-clock time
    assert abs(row["支付时间"] - local_paid) < dt.timedelta(seconds=1)
    # An RFC 5987 Chinese file name.
    assert "filename*=utf-8''" + quote("续费订单") in response["Content-Disposition"]
    entry = LogEntry.objects.get(action="backoffice.export.created")
    assert entry.actor == user and entry.data["kind"] == "orders" and entry.data["rows"] == 1
    assert entry.data["filters"]["year"] == campaign.year


def test_orders_export_filters_by_status_and_created_date(campaign, finance):
    client, _ = finance
    approved = approved_order(campaign)
    waiting = paid_order(campaign)
    old = paid_order(campaign)
    RenewalOrder.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=5))
    _, _, header, rows = download(client, "orders", status="paid")
    assert {by_header(header, r)["订单号"] for r in rows} == {waiting.out_trade_no, old.out_trade_no}
    today = timezone.localdate().isoformat()
    _, _, header, rows = download(client, "orders", date_from=today, date_to=today)
    assert {by_header(header, r)["订单号"] for r in rows} == {approved.out_trade_no, waiting.out_trade_no}
    entry = LogEntry.objects.filter(action="backoffice.export.created").latest("pk")
    assert entry.data["filters"]["date_from"] == today and entry.data["rows"] == 2


def test_bad_dates_are_refused_in_chinese(campaign, finance):
    client, _ = finance
    url = reverse("backoffice:exports-download", args=["orders"])
    response = client.get(url, {"date_from": "2019-13-01"}, follow=True)
    assert "不是有效日期" in response.content.decode()
    response = client.get(url, {"date_from": "2019-06-20", "date_to": "2019-06-12"}, follow=True)
    assert "开始日期晚于结束日期" in response.content.decode()
    assert not LogEntry.objects.filter(action="backoffice.export.created").exists()


def test_refunds_export(campaign, finance, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(providers, "_provider", FakeProvider())
    client, _ = finance
    order = rejected_order(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_request(order=order)
    _, _, header, rows = download(client, "refunds")
    assert header == REFUND_HEADERS and len(rows) == 1
    row = by_header(header, rows[0])
    assert row["退款单号"] == refund.out_refund_no and row["订单号"] == order.out_trade_no
    assert Decimal(str(row["退款金额(元)"])) == Decimal(str(row["实付金额(元)"])) == Decimal("150")
    assert row["状态"] == "退款处理中" and row["平台状态"] == "PROCESSING"
    _, _, _, rows = download(client, "refunds", status="succeeded")
    assert rows == []


def test_pickups_and_deliveries_export_handed_out_or_pending(campaign, finance, make_user):
    client, _ = finance
    clerk = make_user(roles.COUNTER)
    collected = approved_order(campaign)
    order_hand_out(order=collected, acting_user=clerk, old_pass_collected=True, id_checked=True)
    waiting = approved_order(campaign)
    delivery = approved_order(campaign, fulfilment="delivery", address="逸夫楼3层301")
    paid_order(campaign)  # not approved: not in this export
    _, _, header, rows = download(client, "fulfilment")
    assert header == FULFILMENT_HEADERS
    table = {by_header(header, r)["订单号"]: by_header(header, r) for r in rows}
    assert set(table) == {collected.out_trade_no, waiting.out_trade_no, delivery.out_trade_no}
    done = table[collected.out_trade_no]
    assert (
        done["发放状态"] == "已领取" and done["发放人"] == clerk.get_full_name() != clerk.username
    )  # a name, as 审核人
    assert done["旧证已收回"] == "是" and done["工作证已核验"] == "是"
    assert done["新证编号"] == collected.new_pass.number
    assert table[delivery.out_trade_no]["楼宇"] == "逸夫楼"
    assert table[waiting.out_trade_no]["发放状态"] == "待领取"
    assert table[delivery.out_trade_no]["发放状态"] == "待送证"
    _, _, header, rows = download(client, "fulfilment", state="pending", fulfilment="pickup")
    assert [by_header(header, r)["订单号"] for r in rows] == [waiting.out_trade_no]


def test_new_years_passes_export_reimports_with_nothing_rejected(campaign, finance, tmp_path):
    client, _ = finance
    orders = [approved_order(campaign) for _ in range(3)]
    response, content, header, rows = download(client, "passes", year=campaign.year)
    assert header == REGISTRY_HEADERS
    numbers = {by_header(header, r)["通行证编号"] for r in rows}
    assert numbers == {o.new_pass.number for o in orders}
    path = tmp_path / "passes.xlsx"
    path.write_bytes(content)
    report = import_passes(path=path, dry_run=True)
    assert report.rejected == [] and report.total_rows == 3
    assert report.unchanged == 3  # the same passes: importing them again changes nothing
    kinds = {e.data["kind"] for e in LogEntry.objects.filter(action="backoffice.export.created")}
    assert kinds == {"passes"}


def test_exports_page_lists_the_downloads(campaign, finance):
    client, _ = finance
    html = client.get(reverse("backoffice:exports")).content.decode()
    for kind in ("orders", "refunds", "fulfilment", "passes"):
        assert reverse("backoffice:exports-download", args=[kind]) in html


@pytest.mark.parametrize("role", [roles.COUNTER, roles.REVIEWER, roles.COURIER])
def test_exports_are_for_finance_and_administrators(campaign, office_client, role):
    client, _ = office_client(role)
    assert client.get(reverse("backoffice:exports-download", args=["orders"])).status_code == 403
    assert not LogEntry.objects.filter(action="backoffice.export.created").exists()


def test_unknown_export_is_refused(campaign, finance):
    client, _ = finance
    response = client.get(reverse("backoffice:exports-download", args=["staff"]), follow=True)
    assert "没有这种导出" in response.content.decode()


def test_payments_export_names_the_clerk_like_the_other_exports(campaign, finance, make_user):
    """Issue 14 item 12: one export showed a username where the others show a name."""
    from campuspass.renewals.services.onsite import onsite_renewal
    from tests.renewals.factories import make_pass

    client, _ = finance
    clerk = make_user(roles.COUNTER, "clerk7")
    onsite_renewal(
        previous_pass=make_pass(), campaign=campaign, acting_user=clerk, method="cash", receipt_no="R7"
    )
    _, _, header, rows = download(client, "payments")
    row = by_header(header, rows[0])
    assert row["登记人"] == clerk.get_full_name() != clerk.username
