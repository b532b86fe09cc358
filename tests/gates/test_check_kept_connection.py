"""Issue 13: the gate check sends no health-check round trip before its one statement on a kept
PostgreSQL connection (CONN_MAX_AGE, CONN_HEALTH_CHECKS as production sets them), and still answers
when that connection has gone: its read fails, and it is sent once more on a new connection
(core/compiled.py, `_fetch`)."""

import psycopg
import pytest
from django.db import OperationalError, connection, connections
from django.test import Client

from campuspass.core import compiled
from campuspass.gates import keys

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
PATH = "/api/gate/v1/check"


@pytest.fixture
def kept():
    """The default connection as production keeps it: reused across requests, health-checked."""
    if connection.vendor != "postgresql":
        pytest.skip("kept connections and their health check are PostgreSQL's (SQLite: a new one each time)")
    saved = {key: connection.settings_dict[key] for key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS")}
    connection.close()
    connection.settings_dict.update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
    connection.ensure_connection()
    yield connection
    connection.close()
    connection.settings_dict.update(saved)


@pytest.fixture
def health_checks(monkeypatch):
    """How many times Django checked the connection (its `SELECT 1`)."""
    calls = []
    wrapper = type(connections["default"])
    original = wrapper.is_usable

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(wrapper, "is_usable", counted)
    return calls


def check(device, plate="京A12345"):
    gate, key_id, secret = device
    params = {"plate": plate}
    # As at the start of every request in production (request_started → close_old_connections);
    # the test client leaves that signal out.
    connection.close_if_unusable_or_obsolete()
    response = Client().get(
        PATH, params, headers=keys.signed_headers(key_id, secret, "GET", PATH, list(params.items()))
    )
    return response.status_code, response.json()["reason_code"]


def test_no_health_check_before_the_gate_read(kept, health_checks, device, make_permit):
    make_permit()
    assert check(device) == (200, "ok")  # also writes the gate's heartbeat (once a minute), checked
    health_checks.clear()
    assert check(device) == (200, "ok")
    assert check(device) == (200, "ok")
    assert health_checks == []
    assert connection.connection is not None  # still the kept connection


def test_a_dropped_connection_is_replaced_and_the_check_answered(kept, health_checks, device, make_permit):
    make_permit()
    assert check(device) == (200, "ok")
    pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert check(device) == (200, "ok")  # the read failed on the dead connection and was sent again
    assert connection.connection.info.backend_pid != pid
    assert check(device) == (200, "ok")


def test_a_failure_on_a_sound_connection_is_not_retried(kept, monkeypatch):
    sent = []

    class TimedOut:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql, params):
            sent.append(sql)
            raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(compiled, "_cursor", lambda connection: TimedOut())
    with pytest.raises(OperationalError):
        compiled._fetch(connection, "SELECT 1", [])
    assert len(sent) == 1  # the connection is sound: sending it again would only wait twice as long
    assert connection.connection is not None and not connection.connection.broken
