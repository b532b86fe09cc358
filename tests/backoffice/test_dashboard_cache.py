"""Issue 13, dashboard: a view does not scan the orders when nothing changed; an audited change is
seen at once when the board is older than the reuse window; within the window under a stream of
changes the board is reused."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice.roles import FINANCE
from campuspass.renewals.selectors_dashboard import cached_campaign_dashboard
from tests.backoffice.test_counter import paid_order
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_on(settings):
    from django.core.cache import cache

    settings.DASHBOARD_CACHE_SECONDS = 15
    cache.clear()


def order_scans(captured) -> list[str]:
    return [q["sql"] for q in captured if "renewals_renewalorder" in q["sql"]]


def test_a_second_view_reads_no_orders(office_client):
    campaign = make_campaign()
    paid_order(campaign)
    client, _ = office_client(FINANCE)
    url = reverse("backoffice:dashboard")
    first = client.get(url, {"year": campaign.year})
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as second:
        response = client.get(url, {"year": campaign.year})
    assert response.status_code == 200
    assert "待审核" in response.content.decode()
    assert order_scans(second.captured_queries) == []


def test_an_audited_change_is_counted_once_the_window_is_over():
    campaign = make_campaign()
    paid_order(campaign)
    assert cached_campaign_dashboard(campaign).count("paid") == 1
    paid_order(campaign)  # audited: the version moves
    assert cached_campaign_dashboard(campaign).count("paid") == 1  # within 15 s: reused
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=16)):
        board = cached_campaign_dashboard(campaign)
    assert board.count("paid") == 2 and board.total_orders == 2


def test_without_changes_the_board_is_reused_past_the_window_but_not_for_long(settings):
    settings.DASHBOARD_CACHE_SECONDS = 15
    campaign = make_campaign()
    paid_order(campaign)
    cached_campaign_dashboard(campaign)
    with (
        time_machine.travel(timezone.now() + dt.timedelta(seconds=50)),
        CaptureQueriesContext(connection) as captured,
    ):
        board = cached_campaign_dashboard(campaign)
    assert board.count("paid") == 1
    assert order_scans(captured.captured_queries) == []
    assert len(captured.captured_queries) == 1  # the newest audit id
    # The id is only a hint (a lower id can commit later on PostgreSQL): past 4× the window the
    # board is computed again even though the newest id did not change.
    with (
        time_machine.travel(timezone.now() + dt.timedelta(seconds=61)),
        CaptureQueriesContext(connection) as captured,
    ):
        cached_campaign_dashboard(campaign)
    assert order_scans(captured.captured_queries) != []


@pytest.fixture
def shared_cache(monkeypatch):
    """The web and the worker processes share the cache (Redis in production); in the test both run
    in this process, so the memory cache stands in for it."""
    monkeypatch.setattr("campuspass.renewals.selectors_dashboard._cache_is_shared", lambda: True)


def test_a_stale_board_is_shown_at_once_and_the_worker_computes_the_next(settings, shared_cache):
    """Past the window a view does not scan the orders itself (a second or more at 500,000 orders):
    it shows the board it has and asks the task worker, once, for the next one."""
    from django_tasks_db.models import DBTaskResult

    from campuspass.renewals.tasks import refresh_dashboard_task

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    campaign = make_campaign()
    paid_order(campaign)
    first = cached_campaign_dashboard(campaign)
    paid_order(campaign)  # audited: the version moves
    later = timezone.now() + dt.timedelta(seconds=20)
    with time_machine.travel(later), CaptureQueriesContext(connection) as captured:
        board = cached_campaign_dashboard(campaign)
        again = cached_campaign_dashboard(campaign)
    assert order_scans(captured.captured_queries) == []
    assert board.count("paid") == again.count("paid") == 1  # the board it had
    assert board.computed_at == first.computed_at
    asked = DBTaskResult.objects.filter(task_path=refresh_dashboard_task.module_path)
    assert [task.args_kwargs["args"] for task in asked] == [[campaign.pk]]  # asked once
    with time_machine.travel(later):
        refresh_dashboard_task.call(campaign.pk)  # what the worker runs
        with CaptureQueriesContext(connection) as captured:
            fresh = cached_campaign_dashboard(campaign)
    assert order_scans(captured.captured_queries) == []
    assert fresh.count("paid") == 2 and fresh.computed_at > first.computed_at


def test_without_a_shared_cache_the_view_computes_a_stale_board_itself(settings):
    """One host without Redis: the worker's board would land in its own memory, never the web's."""
    from django_tasks_db.models import DBTaskResult

    from campuspass.renewals.selectors_dashboard import _cache_is_shared

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert _cache_is_shared() is False

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    campaign = make_campaign()
    paid_order(campaign)
    cached_campaign_dashboard(campaign)
    paid_order(campaign)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=20)):
        board = cached_campaign_dashboard(campaign)
    assert board.count("paid") == 2
    assert not DBTaskResult.objects.exists()


def test_the_screen_says_when_its_numbers_were_computed(office_client, shared_cache, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    campaign = make_campaign()
    paid_order(campaign)
    client, _ = office_client(FINANCE)
    url = reverse("backoffice:dashboard")
    computed = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=1)
    with time_machine.travel(computed, tick=False):
        client.get(url, {"year": campaign.year})
    paid_order(campaign)
    with time_machine.travel(computed + dt.timedelta(seconds=90), tick=False):
        page = client.get(url, {"year": campaign.year}).content.decode()
    # the Beijing time the board shown was computed, not the time of the view
    assert f"数据截至 {timezone.localtime(computed):%H:%M:%S}" in page and "正在更新" in page


def test_with_no_worker_a_long_stale_board_is_computed_by_the_view(settings, shared_cache):
    from campuspass.renewals.selectors_dashboard import STALE_LIMIT

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    campaign = make_campaign()
    paid_order(campaign)
    cached_campaign_dashboard(campaign)
    paid_order(campaign)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=15 * STALE_LIMIT + 1)):
        board = cached_campaign_dashboard(campaign)
    assert board.count("paid") == 2
