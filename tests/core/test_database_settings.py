"""Database connection settings (issue 13): PostgreSQL connections persist between requests unless the
operator says otherwise; a malformed value stops the start with a clear message."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from campuspass.settings.base import database_config

PG = "postgres://app@db.example:5432/campuspass"


def test_postgres_keeps_connections_open_with_health_checks_by_default():
    config = database_config(PG, environ={})
    assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is True
    assert config.get("DISABLE_SERVER_SIDE_CURSORS", False) is False


def test_sqlite_opens_a_connection_per_request_by_default():
    config = database_config("sqlite:////tmp/x.sqlite3", environ={})
    assert config["CONN_MAX_AGE"] == 0 and config["CONN_HEALTH_CHECKS"] is False
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_pgbouncer_transaction_pooling_settings():
    config = database_config(
        PG, environ={"DATABASE_CONN_MAX_AGE": "0", "DATABASE_DISABLE_SERVER_SIDE_CURSORS": "1"}
    )
    assert config["CONN_MAX_AGE"] == 0 and config["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_unlimited_and_explicit_ages():
    assert database_config(PG, environ={"DATABASE_CONN_MAX_AGE": "none"})["CONN_MAX_AGE"] is None
    assert database_config(PG, environ={"DATABASE_CONN_MAX_AGE": "300"})["CONN_MAX_AGE"] == 300


@pytest.mark.parametrize("bad", ["-1", "1.5", "sixty", "６０"])
def test_a_malformed_age_is_refused_with_its_name(bad):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE"):
        database_config(PG, environ={"DATABASE_CONN_MAX_AGE": bad})


def test_postgres_jit_is_off_unless_the_operator_says_otherwise():
    assert database_config(PG, environ={})["OPTIONS"]["options"] == "-c jit=off"
    assert database_config(PG, environ={"DATABASE_JIT": "on"})["OPTIONS"]["options"] == "-c jit=on"
    # behind pgbouncer: no startup option at all (it refuses `options`); the server's setting rules
    assert "options" not in database_config(PG, environ={"DATABASE_JIT": "server"}).get("OPTIONS", {})
    assert "options" not in database_config("sqlite:////tmp/x.sqlite3", environ={})["OPTIONS"]
    given = database_config(PG + "?options=-c%20statement_timeout%3D5000", environ={})
    assert given["OPTIONS"]["options"] == "-c statement_timeout=5000 -c jit=off"
    with pytest.raises(ImproperlyConfigured, match="DATABASE_JIT"):
        database_config(PG, environ={"DATABASE_JIT": "maybe"})


@pytest.mark.django_db
def test_the_connection_runs_without_jit_on_postgres():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_prepared_hot_reads_on_postgres_by_default_and_off_on_request():
    # psycopg prepares only the server-binding cursor's statements (CompiledRead, decision 0044);
    # the ORM keeps Django's client-side binding
    config = database_config(PG, environ={})
    assert config["OPTIONS"]["prepare_threshold"] == 5 and "server_side_binding" not in config["OPTIONS"]
    assert database_config(PG, environ={"DATABASE_PREPARED": " ON "})["OPTIONS"]["prepare_threshold"] == 5
    assert "prepare_threshold" not in database_config(PG, environ={"DATABASE_PREPARED": "off"})["OPTIONS"]
    assert "prepare_threshold" not in database_config("sqlite:////tmp/x.sqlite3", environ={})["OPTIONS"]


@pytest.mark.parametrize("bad", ["1", "yes", "maybe", "all"])
def test_a_malformed_prepared_setting_is_refused(bad):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_PREPARED must be on or off"):
        database_config(PG, environ={"DATABASE_PREPARED": bad})
