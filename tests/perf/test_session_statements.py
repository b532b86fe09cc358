"""Issue 13, sessions and the SMS-code throttles: statements per staff page, counted in-process as
the benchmark counts them (same middleware, the database task backend production uses).

The production session engine with Redis (`campuspass.core.sessions`, decision 0037) is used here
over the test's in-memory cache, which is what Redis is to it: one shared cache."""

import os
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db(transaction=True)

CODE = 123456


@pytest.fixture
def production_like(settings, monkeypatch):
    settings.SESSION_ENGINE = "campuspass.core.sessions"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    import secrets

    monkeypatch.setattr(secrets, "randbelow", lambda n: CODE)  # the code, since no SMS is sent here
    make_campaign()
    make_pass(plate="京A12345")


def statements(fn):
    with CaptureQueriesContext(connection) as queries:
        response = fn()
    sqls = [q["sql"] for q in queries.captured_queries]
    return response, [s for s in sqls if s not in ("BEGIN", "COMMIT")], sqls


def session_sql(sqls):
    return [s for s in sqls if "django_session" in s]


def test_anonymous_home_touches_no_session(client, production_like):
    response, _, sqls = statements(lambda: client.get("/m/"))
    assert response.status_code == 200
    assert session_sql(sqls) == []
    assert len(sqls) <= 1
    assert "sessionid" not in response.cookies


def test_plate_lookup_post_is_at_most_12_statements_and_saves_the_session_once(client, production_like):
    response, _, sqls = statements(lambda: client.post("/m/lookup/", {"plate": "京A12345"}))
    assert response.status_code == 302 and response["Location"] == "/m/verify/"
    assert len(sqls) <= 12, "\n".join(sqls)
    writes = [s for s in session_sql(sqls) if s.startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 1  # not saved early for its key and again with the pending state
    assert not [s for s in session_sql(sqls) if s.startswith("SELECT")]  # no lookup of a new key


def test_throttle_counters_are_locked_and_counted_in_one_statement_each(client, production_like):
    _, _, sqls = statements(lambda: client.post("/m/lookup/", {"plate": "京A12345"}))
    counter = [s for s in sqls if "verification_throttlecounter" in s]
    updates = [s for s in counter if s.startswith("UPDATE")]
    assert len(updates) == 1  # ten counters, one UPDATE
    # no re-read of a counter after its update: the reads are the budget/CAPTCHA check before
    first_update = sqls.index(updates[0])
    assert not [s for s in sqls[first_update + 1 :] if s.startswith("SELECT") and "throttlecounter" in s]


@pytest.mark.parametrize("path", ["/m/record/", "/m/renew/", "/m/orders/"])
def test_verified_pages_are_at_most_6_queries_and_read_the_session_from_the_cache(
    client, production_like, path
):
    client.post("/m/lookup/", {"plate": "京A12345"})
    client.post("/m/verify/", {"code": str(CODE)})
    response, _, sqls = statements(lambda: client.get(path))
    assert response.status_code == 200
    assert len(sqls) <= 6, "\n".join(sqls)
    assert session_sql(sqls) == []


def test_a_code_still_opens_the_record_after_the_single_save(client, production_like):
    client.post("/m/lookup/", {"plate": "京A12345"})
    page = client.post("/m/verify/", {"code": str(CODE)}, follow=True)
    assert "京A12345" in page.content.decode()


@pytest.mark.parametrize(
    ("redis", "engine"),
    [("redis://127.0.0.1:6379/0", "campuspass.core.sessions"), ("", "django.contrib.sessions.backends.db")],
)
def test_session_engine_follows_redis(redis, engine):
    env = {**os.environ, "REDIS_URL": redis, "DJANGO_SETTINGS_MODULE": "campuspass.settings.dev"}
    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SESSION_ENGINE)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == engine
