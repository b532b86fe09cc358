"""Issue 13, the whole renewal flow: the SQL statements and cache round trips of every one of its 18
requests, walked through the Django test client as `bench/flow.py` walks them over HTTP (现场长租查询 →
SMS code → 记录 → 续费 → 车主 → photo → 提交订单 → 知情同意书 → 立即支付 → the simulator's cashier →
支付结果). These are the budget: a step that needs more fails here, with its statements listed.

Production-like as tests/perf/test_session_statements.py: the cached-db session engine over the
test's shared in-memory cache (Redis in production), the database task backend (the SMS and the
payment notification wait in the queue, as with a worker), the payment simulator. One renewal is
walked first, unmeasured, so per-process caches (content types) are as warm as in a running server.
BEGIN, COMMIT, SAVEPOINT and RELEASE are counted: each is a round trip to PostgreSQL too.
"""

import re
from contextlib import contextmanager

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from campuspass.renewals.models import RenewalOrder
from tests.renewals.factories import make_campaign, make_pass
from tests.selfservice.conftest import jpeg_upload

pytestmark = pytest.mark.django_db(transaction=True)

CODE = 123456
CACHE_CALLS = (
    "get",
    "set",
    "add",
    "delete",
    "incr",
    "get_many",
    "set_many",
    "delete_many",
    "touch",
    "has_key",
)

# step → (SQL statements, cache round trips). What each statement is for, in order:
BUDGET = {
    # throttle counter of this address (does it need the CAPTCHA?)
    "lookup_page": (1, 0),
    # phone on file; the SMS budget/CAPTCHA counters; BEGIN; the missing counters created; all ten
    # counted in one UPDATE; older codes of this plate+session invalidated; the code; the SMS in the
    # outbox; the daily budget upsert; COMMIT; the SMS task queued; the new session INSERTed
    # (the session to the cache: 1 round trip)
    "lookup": (12, 1),
    # the campaign (contact phones and place on the page); session from the cache
    "verify_page": (1, 1),
    # BEGIN; the code row; the failure/lock counters reset; the code used; COMMIT; the old session
    # DELETEd; the new session INSERTed (cached: read, delete old, set new)
    "verify": (7, 3),
    # vehicle + owner; campaign; last passes of the vehicle; eligibility: previous pass, open order
    "record": (5, 1),
    # campaign; eligibility: previous pass, open order
    "renew": (3, 1),
    "owner": (3, 1),
    "photo_page": (3, 1),
    # campaign; eligibility (2); the photo row; the session UPDATE (+ its cache set)
    "photo_upload": (5, 2),
    # campaign; eligibility (2); the pending photo
    "confirm_page": (4, 1),
    # campaign; eligibility (2); the pending photo (view); BEGIN; eligibility under the pass's lock
    # (pass FOR UPDATE, open order); SAVEPOINT; photo locked; photo attached; order INSERT; RELEASE;
    # audit entry; COMMIT; session UPDATE (+ cache set)
    "submit": (15, 2),
    # order (own plate); the consent version
    "consent_page": (2, 1),
    # order; consent version; BEGIN; order locked; consent record; status UPDATE; audit; COMMIT
    "consent": (8, 1),
    # order; frozen terms (the deadline on the page)
    "pay_page": (2, 1),
    # order; frozen terms (none yet: deadline and terms from one read); terms INSERT (autocommit);
    # the simulator's platform: BEGIN, transaction locked, INSERT, COMMIT; the result query held
    # (one cache set)
    "pay": (7, 2),
    # the simulator's platform (stands in for WeChat Pay's own cashier): BEGIN, transaction, COMMIT
    "cashier_page": (3, 1),
    # the simulator: its transaction read, then paid and its notification queued (BEGIN … COMMIT,
    # a savepoint around its lock) and the delivery task queued
    "cashier_pay": (11, 1),
    # the notification has not come yet and the payment started under a few seconds ago: the order
    # only, and the one cache round trip that says whether the platform may be asked (no)
    "result": (1, 2),
    # the notification still missing a few seconds later: order; the platform asked (simulator:
    # BEGIN, transaction, COMMIT); its backoff row cleared (one DELETE); the payment applied:
    # BEGIN, order locked, ledger read, SAVEPOINT, payment INSERT, RELEASE, status UPDATE, the
    # payment's and the move's audit entries in one INSERT, COMMIT; the order read again for the page
    "result_late": (15, 2),
}


class CacheCalls:
    """Round trips to the cache: every public call of the in-memory backend, nested ones (get_many
    → get) counted once, as Redis answers each in one."""

    def __init__(self, monkeypatch):
        self.count = 0
        self._depth = 0
        for name in CACHE_CALLS:
            monkeypatch.setattr(LocMemCache, name, self._wrap(getattr(LocMemCache, name)))

    def _wrap(self, method):
        def counted(cache, *args, **kwargs):
            if self._depth == 0:
                self.count += 1
            self._depth += 1
            try:
                return method(cache, *args, **kwargs)
            finally:
                self._depth -= 1

        return counted


@pytest.fixture
def production_like(settings, monkeypatch, tmp_path):
    settings.SESSION_ENGINE = "campuspass.core.sessions"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.SESSION_CACHE_ALIAS = "default"  # (with REDIS_URL the sessions have their own alias)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.PAYMENT_PROVIDER = "simulator"
    settings.PAYMENT_SIMULATOR_DIR = tmp_path / "paysim"
    settings.PAYMENT_SIMULATOR_FAULTS = []
    settings.SMS_BACKEND = "locmem"
    import secrets

    from campuspass.payments.providers import reset_provider

    monkeypatch.setattr(secrets, "randbelow", lambda n: CODE)  # the code, since no SMS is sent here
    reset_provider()
    make_campaign()
    make_pass(plate="京A11111")
    make_pass(plate="京A12345")
    yield CacheCalls(monkeypatch)
    reset_provider()


class Walk:
    def __init__(self, client: Client, calls: CacheCalls):
        self.client, self.calls = client, calls
        self.steps: dict[str, tuple[list[str], int]] = {}

    @contextmanager
    def step(self, name):
        before = self.calls.count
        with CaptureQueriesContext(connection) as queries:
            yield
        self.steps[name] = ([q["sql"] for q in queries.captured_queries], self.calls.count - before)

    def get(self, name, path, status=200):
        with self.step(name):
            response = self.client.get(path)
        assert response.status_code == status, (name, response.status_code)
        return response

    def post(self, name, path, data, expect):
        with self.step(name):
            response = self.client.post(path, data)
        assert response.status_code == 302 and re.search(expect, response["Location"]), (
            name,
            response.status_code,
            response.get("Location"),
        )
        return response["Location"]


def renew(client: Client, calls: CacheCalls, plate: str) -> Walk:
    """One renewal, step by step as bench/flow.py's StaffClient walks it."""
    walk = Walk(client, calls)
    walk.get("lookup_page", "/m/lookup/?for=lookup")
    walk.post("lookup", "/m/lookup/", {"plate": plate, "for": "lookup"}, r"/m/verify/$")
    walk.get("verify_page", "/m/verify/")
    walk.post("verify", "/m/verify/", {"code": str(CODE)}, r"/m/record/$")
    walk.get("record", "/m/record/")
    walk.get("renew", "/m/renew/")
    walk.get("owner", "/m/renew/owner/")
    walk.get("photo_page", "/m/renew/photo/")
    walk.post("photo_upload", "/m/renew/photo/", {"photo": jpeg_upload()}, r"/m/renew/confirm/$")
    walk.get("confirm_page", "/m/renew/confirm/")
    consent = walk.post("submit", "/m/renew/confirm/", {"fulfilment": "pickup"}, r"/m/orders/\d+/consent/$")
    walk.get("consent_page", consent)
    pay = walk.post("consent", consent, {}, r"/pay/$")
    walk.get("pay_page", pay)
    cashier = walk.post("pay", pay, {}, r"/pay/sim/cashier/")
    walk.get("cashier_page", cashier)
    result = walk.post("cashier_pay", cashier, {"action": "confirm"}, r"/result/$")
    page = walk.get("result", result).content.decode()
    assert "支付结果确认中" in page and 'http-equiv="refresh"' in page  # the notification is queued
    # A few seconds later, still no notification: the page asks the platform (the hold has expired).
    order = RenewalOrder.objects.get(plate=plate)
    from django.core.cache import cache

    from campuspass.renewals.services.payments import result_query_key

    cache.delete(result_query_key(order.out_trade_no))
    page = walk.get("result_late", result).content.decode()
    assert "支付成功" in page and "refresh" not in page
    return walk


def test_every_step_of_a_renewal_keeps_its_budget(production_like):
    renew(Client(), production_like, "京A11111")  # warm: content types and the like, as a server is
    walk = renew(Client(), production_like, "京A12345")
    report = []
    for name, (sqls, cache_calls) in walk.steps.items():
        budget, cache_budget = BUDGET[name]
        report.append(
            f"{name}: {len(sqls)} statements (budget {budget}), {cache_calls} cache (budget {cache_budget})"
        )
    over = [
        f"{name}: {len(sqls)} > {BUDGET[name][0]} statements or {cache_calls} > {BUDGET[name][1]} cache calls\n  "
        + "\n  ".join(s[:160] for s in sqls)
        for name, (sqls, cache_calls) in walk.steps.items()
        if len(sqls) > BUDGET[name][0] or cache_calls > BUDGET[name][1]
    ]
    print("\n".join(report))
    assert not over, "\n".join(over)
    assert set(walk.steps) == set(BUDGET)
    assert RenewalOrder.objects.get(plate="京A12345").status == RenewalOrder.Status.PAID
