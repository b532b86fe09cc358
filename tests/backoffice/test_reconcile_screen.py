"""Issue 14 item 9: finance sees each day's reconciliation and its differences in /office/."""

import datetime as dt

import pytest

from campuspass.backoffice.roles import COUNTER, FINANCE
from campuspass.renewals.models import ReconciliationRun

pytestmark = pytest.mark.django_db


def make_runs():
    ReconciliationRun.objects.create(
        day=dt.date(2026, 3, 2), payments_ours=10, payments_bill=10, paid_total_fen=150000
    )
    ReconciliationRun.objects.create(
        day=dt.date(2026, 3, 3),
        payments_ours=5,
        payments_bill=6,
        paid_total_fen=75000,
        differences=[
            {
                "kind": "payment",
                "key": "CP20260303X1",
                "ours_fen": None,
                "bill_fen": 15000,
                "problem": "账单中有，本系统没有记录",
            },
            {"kind": "refund", "key": "RF1", "ours_fen": 15000, "bill_fen": 12000, "problem": "金额不一致"},
        ],
    )


def test_finance_sees_each_day_and_its_differences(office_client):
    make_runs()
    client, _ = office_client(FINANCE)
    assert "对账" in client.get("/office/").content.decode()  # in finance's navigation
    page = client.get("/office/reconcile/").content.decode()
    assert "2026-03-02" in page and "一致" in page
    assert "差异 2 项" in page and "1 天有差异" in page and "¥1500.00" in page
    detail = client.get("/office/reconcile/2026-03-03/").content.decode()
    assert "CP20260303X1" in detail and "账单中有，本系统没有记录" in detail
    assert "150.00" in detail and "120.00" in detail and "退款" in detail
    assert client.get("/office/reconcile/2026-03-09/").status_code == 404
    assert client.get("/office/reconcile/not-a-day/").status_code == 404


def test_an_empty_screen_says_what_will_appear(office_client):
    client, _ = office_client(FINANCE)
    assert "还没有对账结果" in client.get("/office/reconcile/").content.decode()


def test_the_counter_cannot_see_reconciliation(office_client):
    client, _ = office_client(COUNTER)
    assert client.get("/office/reconcile/").status_code == 403
