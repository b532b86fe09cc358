"""The result page while the payment notification has not come (decision 0042): the platform is not
asked in the first seconds after 立即支付, then at most once per interval per order — and a payment
whose notification never comes still ends as paid, by that query (WeChat Pay: query the order when no
notification arrived)."""

import pytest
from django.core.cache import cache

from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.payments import apply_payment_notification, result_query_key
from tests.renewals.factories import make_campaign, make_pass

from .test_flow import walk_to_payment

pytestmark = pytest.mark.django_db(transaction=True)
S = RenewalOrder.Status


@pytest.fixture(autouse=True)
def long_windows(settings):
    """The hold and the interval last an hour here: on a busy machine a few requests can take more
    than 5 real seconds. The tests end a window by deleting its key, as the time would."""
    settings.PAYMENT_RESULT_QUERY_DELAY_SECONDS = 3600
    settings.PAYMENT_RESULT_QUERY_INTERVAL_SECONDS = 3600


def queries(fake_provider, order) -> int:
    return fake_provider.calls.count(("query", order.out_trade_no))


@pytest.fixture
def placed(client, sms_outbox, fake_provider):
    """An order placed with the platform (立即支付); no notification has come."""
    make_campaign()
    make_pass(plate="京A12345")
    order = walk_to_payment(client, sms_outbox)
    assert client.post(f"/m/orders/{order.pk}/pay/").status_code in (200, 302)
    order.refresh_from_db()
    return order


@pytest.fixture
def paying(placed, fake_provider):
    """…and paid there."""
    fake_provider.pay(placed.out_trade_no, placed.amount_fen)
    return placed


def test_just_after_paying_the_page_waits_for_the_notification_without_asking(client, fake_provider, paying):
    order = paying
    page = client.get(f"/m/orders/{order.pk}/result/").content.decode()
    for n in (1, 2, 3):  # the page and its own refreshes, each counting itself
        assert "支付结果确认中" in page and f'<meta http-equiv="refresh" content="1; url=?n={n}">' in page
        page = client.get(f"/m/orders/{order.pk}/result/", {"n": n}).content.decode()
    assert queries(fake_provider, order) == 0
    # The notification comes: the next refresh shows it, still without asking the platform.
    apply_payment_notification(fake_provider.payment_notification(order.out_trade_no))
    page = client.get(f"/m/orders/{order.pk}/result/").content.decode()
    assert "支付成功" in page and "refresh" not in page
    assert queries(fake_provider, order) == 0


def test_a_notification_that_never_comes_the_page_asks_once_it_is_late(client, fake_provider, paying):
    order = paying
    assert "支付结果确认中" in client.get(f"/m/orders/{order.pk}/result/").content.decode()
    assert queries(fake_provider, order) == 0
    cache.delete(result_query_key(order.out_trade_no))  # the first seconds have passed
    page = client.get(f"/m/orders/{order.pk}/result/").content.decode()
    assert "支付成功" in page and "待审核" in page
    assert queries(fake_provider, order) == 1
    assert RenewalOrder.objects.get(pk=order.pk).status == S.PAID


def test_the_platform_is_asked_at_most_once_per_interval_per_order(client, fake_provider, placed):
    order = placed  # unpaid on the platform: the staff member closed the cashier without paying
    cache.delete(result_query_key(order.out_trade_no))  # the first seconds have passed
    for _ in range(4):  # every refresh within the interval is answered from the database alone
        assert "支付结果确认中" in client.get(f"/m/orders/{order.pk}/result/").content.decode()
        client.get(f"/m/orders/{order.pk}/")  # the order page asks the same way
    assert queries(fake_provider, order) == 1
    cache.delete(result_query_key(order.out_trade_no))  # the interval has passed
    client.get(f"/m/orders/{order.pk}/result/")
    assert queries(fake_provider, order) == 2


def test_without_the_cache_the_page_asks_as_before(client, fake_provider, paying, monkeypatch):
    order = paying

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", down)
    page = client.get(f"/m/orders/{order.pk}/result/").content.decode()
    assert "支付成功" in page and queries(fake_provider, order) == 1


def test_the_page_stops_reloading_itself_after_a_minute(client, fake_provider, placed):
    """An order never paid, its result page left open: a minute of reloads, then the page waits for
    刷新支付结果 — it does not ask the platform every interval until the order closes."""
    order = placed
    last = client.get(f"/m/orders/{order.pk}/result/", {"n": 59}).content.decode()
    assert 'url=?n=60"' in last
    page = client.get(f"/m/orders/{order.pk}/result/", {"n": 60}).content.decode()
    assert "支付结果确认中" in page and "http-equiv" not in page and "刷新支付结果" in page
    # the button starts a new minute
    assert 'url=?n=1"' in client.get(f"/m/orders/{order.pk}/result/").content.decode()
    assert 'url=?n=1"' in client.get(f"/m/orders/{order.pk}/result/", {"n": "x"}).content.decode()  # as 0
