"""Issue 13: the admin's order list draws its rows like the registry's lists (one reversed URL per
page, no COUNT when the result fits its first page) and reads each order's new pass in the same
statement as the orders, whatever the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.fulfilment import order_hand_out
from tests.backoffice.test_counter import approved_order
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db

URL = "admin:renewals_renewalorder_changelist"


def statements(client, **params) -> tuple[list[str], str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(URL), params)
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries], response.content.decode()


def handed_out(campaign, mobile: str) -> RenewalOrder:
    """In the holder's hands: the list shows 待生效 / 使用中 / 已过期 from the new pass's dates."""
    order = approved_order(campaign, mobile=mobile)
    return order_hand_out(order=order, acting_user=None, old_pass_collected=True, id_checked=True)


def test_more_handed_out_orders_cost_no_more_statements(admin_client):
    campaign = make_campaign()
    handed_out(campaign, "13900000001")
    admin_client.get(reverse(URL))  # the session's first page (whatever it reads once)
    one, _ = statements(admin_client)
    for k in range(2, 5):
        handed_out(campaign, f"1390000000{k}")
    many, page = statements(admin_client)
    assert len(many) == len(one), many[len(one) :]  # no row reads its new pass on its own
    orders = RenewalOrder.objects.filter(new_pass__isnull=False)
    assert orders.count() == 4
    for order in orders:
        assert order.out_trade_no in page
        assert order.status_label in page  # read from the new pass fetched with the rows


def test_a_search_that_fits_one_page_is_not_counted_and_links_keep_the_search(admin_client):
    campaign = make_campaign()
    order = approved_order(campaign, mobile="13900000011")
    approved_order(campaign, mobile="13900000012")
    sql, page = statements(admin_client, q=order.out_trade_no)
    assert not [s for s in sql if s.startswith("SELECT COUNT(")], sql
    assert order.out_trade_no in page
    assert "1 条结果" in page  # the count is the rows read
    change = reverse("admin:renewals_renewalorder_change", args=[order.pk])
    assert f'href="{change}?_changelist_filters=q%3D{order.out_trade_no}"' in page
