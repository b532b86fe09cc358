"""Issue 13, the back-office screens reviewers and finance use all day (审核, 退款管理, 送证上门):
statements per view that do not grow with the rows, every count in one statement read up to a cap,
no count of the open 退款管理 tab twice, the delivery screen rendering a bounded number of rows — and,
on PostgreSQL, plans that read those lists and counts by indexes in their own order (no sequential
scan of the big tables, no sort of every candidate row).

At full size (500,000 orders: 60,000 paid, 25,000 rejected, 27,000 pending deliveries) a count of
the paid orders read every page of the orders table, the refunds screen counted seven tabs and
the open one again, and the delivery screen rendered every pending delivery (10 s, 29 MB)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campuspass.backoffice import roles, views_counter, views_delivery, views_refunds
from campuspass.payments import providers
from campuspass.renewals.services import review
from campuspass.renewals.services.fulfilment import order_assign_courier
from campuspass.renewals.services.refunds import refund_request
from tests.backoffice.conftest import make_user, office_client  # noqa: F401 (fixtures)
from tests.backoffice.test_counter import approved_order, paid_order, rejected_order
from tests.renewals.factories import make_campaign
from tests.renewals.fakes import FakeProvider

pytestmark = pytest.mark.django_db

BIG = ("registry_staff", "registry_vehicle", "registry_pass", "renewals_renewalorder", "renewals_payment")
TABS = [key for key, _ in views_refunds.TABS]


@pytest.fixture
def campaign():
    return make_campaign()


@pytest.fixture
def fake(monkeypatch):
    fake = FakeProvider()
    monkeypatch.setattr(providers, "_provider", fake)
    return fake


def delivery_order(campaign, address="行政2号楼1层122室"):
    return approved_order(campaign, fulfilment="delivery", address=address)


def read(client, url, params=None):
    client.get(url, params or {})  # the first view of a session saves it: not the screen's cost
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    sqls = [q["sql"] for q in captured.captured_queries]
    return response.content.decode(), [s for s in sqls if s not in ("BEGIN", "COMMIT")]


def counts(sqls):
    return [s for s in sqls if "COUNT(" in s.upper()]


def screen_sqls(sqls):
    """The statements that read the screen's own tables (not the session, user, second factor)."""
    return [s for s in sqls if "renewals_" in s or "payments_" in s]


# --- 审核 ------------------------------------------------------------------------------------------------


def test_review_queue_counts_in_one_statement_whatever_the_queue(campaign, office_client):  # noqa: F811
    client, _ = office_client(roles.REVIEWER)
    paid_order(campaign)
    _, before = read(client, reverse("backoffice:review"))
    for _ in range(3):
        paid_order(campaign)
    body, after = read(client, reverse("backoffice:review"))
    assert len(after) == len(before), "\n".join(after)
    assert len(screen_sqls(after)) == 2, "\n".join(after)  # the page's 50 rows, the three counts
    (count,) = counts(after)
    assert count.count("COUNT(") == 3 and "LIMIT" in count  # waiting, held by others, mine today
    assert 'id="count-waiting">4<' in body


def test_review_header_says_more_than_the_cap(campaign, office_client, monkeypatch):  # noqa: F811
    monkeypatch.setattr(review, "COUNT_CAP", 2)
    client, _ = office_client(roles.REVIEWER)
    for _ in range(3):
        paid_order(campaign)
    body, _ = read(client, reverse("backoffice:review"))
    assert 'id="count-waiting">2+<' in body and 'id="start-review"' in body


def test_review_order_page_reads_its_order_once_and_counts_once(campaign, office_client):  # noqa: F811
    client, _ = office_client(roles.REVIEWER)
    decided = approved_order(campaign)
    paid_order(campaign)
    body, sqls = read(client, reverse("backoffice:review-order", args=[decided.pk]))
    orders = [s for s in sqls if s.startswith("SELECT") and 'FROM "renewals_renewalorder"' in s]
    assert len(orders) == 2, "\n".join(sqls)  # the order with its joins, the one counting statement
    assert len(counts(sqls)) == 1 and "待审核 1 单" in body


# --- 退款管理 -------------------------------------------------------------------------------------------


@pytest.fixture
def refunds_world(campaign, fake, django_capture_on_commit_callbacks):
    rejected_order(campaign)  # 未申请退款
    with django_capture_on_commit_callbacks(execute=True):
        refund_request(order=rejected_order(campaign))  # 退款处理中


def more_refunds(campaign):
    for _ in range(2):
        rejected_order(campaign)


@pytest.mark.parametrize("tab", ["", *TABS])
def test_refunds_screen_counts_every_tab_in_one_statement(
    campaign,
    refunds_world,
    office_client,  # noqa: F811
    tab,
):
    client, _ = office_client(roles.FINANCE)
    params = {"tab": tab} if tab else {}
    _, before = read(client, reverse("backoffice:refunds"), params)
    more_refunds(campaign)
    _, after = read(client, reverse("backoffice:refunds"), params)
    assert len(after) == len(before), "\n".join(after)
    (count,) = counts(after)  # seven tabs, and the open one is not counted again for its pages
    assert count.count("COUNT(") == len(TABS) and "LIMIT" in count
    assert not [s for s in after if "EXISTS" in s and s.endswith("LIMIT 1")]  # no exists() per tab
    assert len(screen_sqls(after)) <= 4, "\n".join(after)  # counts, page keys, page rows, prefetch


def test_refund_tab_badges_say_more_than_the_cap(campaign, refunds_world, office_client, monkeypatch):  # noqa: F811
    monkeypatch.setattr(views_refunds, "TAB_CAP", 1)
    more_refunds(campaign)
    client, _ = office_client(roles.FINANCE)
    response = client.get(reverse("backoffice:refunds"), {"tab": "processing"})
    tabs = {t["key"]: (t["count"], t["more"]) for t in response.context["tabs"]}
    assert tabs["unrequested"] == (1, True) and tabs["processing"] == (1, False)
    assert re.search(r"未申请退款<span class=\"count\">1\+</span>", response.content.decode())


# --- 送证上门 -------------------------------------------------------------------------------------------


def test_delivery_screen_statements_do_not_grow_and_rows_are_bounded(campaign, office_client, monkeypatch):  # noqa: F811
    monkeypatch.setattr(views_delivery, "LIST_LIMIT", 2)
    client, _ = office_client(roles.COUNTER)
    first = delivery_order(campaign)
    delivery_order(campaign, address="逸夫楼3层301")
    _, before = read(client, reverse("backoffice:delivery"))
    later = [delivery_order(campaign) for _ in range(2)]
    body, after = read(client, reverse("backoffice:delivery"))
    assert len(after) == len(before), "\n".join(after)
    assert "待送达 4 个" in body and "列出 2 / 共 3 个" in body and 'id="list-limited"' in body
    assert first.plate in body and later[-1].plate not in body  # the building's first two only
    assert '<option value="逸夫楼"' in body  # a building not listed is still offered by the filter
    body, _ = read(client, reverse("backoffice:delivery"), {"building": "逸夫楼"})
    assert "列出" not in body and first.plate not in body


def test_couriers_own_deliveries_and_the_rest(campaign, office_client, make_user):  # noqa: F811
    client, courier = office_client(roles.COURIER)
    mine = delivery_order(campaign)
    other = delivery_order(campaign, address="药学院 305室")
    order_assign_courier(orders=[mine], courier=courier, acting_user=None)
    body, _ = read(client, reverse("backoffice:delivery"))
    assert "待送达 2 个" in body and body.index(mine.plate) < body.index(other.plate)
    assert '<option value="药学院"' in body and '<option value="行政2号楼"' in body


# --- PostgreSQL plans -------------------------------------------------------------------------------------

# A full sort (not an Incremental Sort) of a big table's rows: its key names the table or its alias.
SORT = re.compile(r"^\s*(->\s+)?Sort\s+\(cost.*\n\s*Sort Key: (\w+?)(_\d+)?\.", re.MULTILINE)


# --- 窗口领取 ------------------------------------------------------------------------------------------


def test_counter_counts_its_pickup_queue_up_to_a_cap_and_pages_it_by_key(
    campaign,
    office_client,  # noqa: F811
    monkeypatch,
):
    client, _ = office_client(roles.COUNTER, "clerk")
    approved_order(campaign)
    _, one = read(client, reverse("backoffice:counter"))
    _, one_list = read(client, reverse("backoffice:counter-pending"))
    for _ in range(2):
        approved_order(campaign)
    monkeypatch.setattr(views_counter, "PENDING_COUNT_CAP", 2)
    monkeypatch.setattr(views_counter, "PENDING_LIST_CAP", 2)
    page, three = read(client, reverse("backoffice:counter"))
    assert '<span id="pending-count">2+</span>' in page  # the header never counts the whole week
    listing, three_list = read(client, reverse("backoffice:counter-pending"))
    assert "共 2+ 个（列出前 2 个）" in listing
    # the same statements for 3 waiting passes as for 1, the counts capped (LIMIT) in one statement
    assert len(screen_sqls(three)) == len(screen_sqls(one)) and len(three_list) == len(one_list)
    assert all("LIMIT" in sql for sql in counts(three + three_list))


def bad_plans(sqls) -> list[str]:
    """Plans, with sequential scans and sorts discouraged, of the statements over big tables that
    still scan one of them sequentially or sort (no index gives the rows or their order)."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        try:
            for sql in sqls:
                if not sql.startswith("SELECT") or not any(
                    table in sql for table in (*BIG, "renewals_refund")
                ):
                    continue
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                scans = re.findall(r"Seq Scan on (\w+)", plan)
                sorted_ = [match[1] for match in SORT.findall(plan)]
                if any(table in (*BIG, "renewals_refund") for table in (*scans, *sorted_)):
                    found.append(f"{sql}\n{plan}")
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")
    return found


@pytest.mark.postgres
def test_screens_read_by_indexes_in_their_own_order(
    campaign,
    refunds_world,
    office_client,  # noqa: F811
    make_user,  # noqa: F811
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    paid_order(campaign)
    delivery_order(campaign)
    approved_order(campaign)  # waiting at the counter
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    pages = [
        (roles.REVIEWER, reverse("backoffice:review"), {}),
        (roles.REVIEWER, reverse("backoffice:review-order", args=[campaign.orders.first().pk]), {}),
        (roles.COUNTER, reverse("backoffice:delivery"), {}),
        (roles.COUNTER, reverse("backoffice:counter"), {}),
        (roles.COUNTER, reverse("backoffice:counter-pending"), {}),
        *[(roles.FINANCE, reverse("backoffice:refunds"), {"tab": tab}) for tab in ["", *TABS]],
    ]
    for n, (role, url, params) in enumerate(pages):
        client, _ = office_client(role, f"user-{n}")
        _, sqls = read(client, url, params)
        bad = bad_plans(sqls)
        assert bad == [], (url, params, "\n\n".join(bad))


@pytest.mark.postgres
def test_delivery_reads_buildings_and_their_first_rows_from_the_building_index(campaign):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    from campuspass.renewals.services.fulfilment import first_by_building, pending_deliveries

    for address in ("逸夫楼3层301", "行政2号楼1层122室", "逸夫楼5层502"):
        delivery_order(campaign, address=address)
    orders = pending_deliveries(campaign=campaign)
    assert [name for name, _ in first_by_building(orders, 2)] == ["行政2号楼", "逸夫楼"]
    named = orders.exclude(delivery_building__in=["", "其他"]).order_by(
        "delivery_building", "decided_at", "pk"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE renewals_renewalorder")
        # As on a big table: neither a whole-table read nor a sort is cheap there (on a handful of
        # rows the planner may sort another index's few rows). With no index in the screen's order
        # the plan would still have to sort.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_sort = off")
        try:
            plan = named.values_list("pk")[:200].explain()
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_sort")
    # read in the screen's order from the index: no sort of the pending deliveries
    assert "order_delivery_building_idx" in plan and "Sort" not in plan, plan
