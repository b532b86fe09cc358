"""Reads on hot paths whose SQL the ORM builds once per database, not once per request (issue 13).

Building a queryset with joins and subqueries (resolving lookups, joins, annotations, then compiling)
costs milliseconds of Python per request on the gate check, more than the database takes to run it.
A `CompiledRead` builds its queryset once per database connection settings with stand-in values for
its parameters, keeps the SQL, the parameter list and the columns' converters, and afterwards only
swaps in the values, runs the SQL and converts the columns exactly as the ORM would (dates from
SQLite's text and so on). The queryset stays the single definition of the read.

On PostgreSQL with `DATABASE_PREPARED=on` (decision 0044) the read's parameters are bound on the
server, so psycopg prepares the statement after `prepare_threshold` executions on a connection and
PostgreSQL stops planning it on every request (planning took 0.5 ms of the gate check's 0.6). Only
these reads: their arguments are compared with a column for equality, so a plan made for any value
suits every value — unlike a search's `LIKE` pattern. Django's own cursors bind on the client and
never prepare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import InterfaceError, OperationalError, connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import QuerySet


class _LoggedCursor(CursorDebugWrapper):
    """Django's query log for the server-binding cursor: psycopg keeps no SQL text for the
    execution of a prepared statement, so the logged SQL is composed as Django's own cursor sends it."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
            return CursorWrapper.execute(self, sql, params)


def _cursor(connection):
    """A cursor binding its parameters on the server where statements are prepared (PostgreSQL with
    a `prepare_threshold`, decision 0044), Django's own cursor elsewhere; wrapped like Django's
    (query log, execute wrappers)."""
    if (
        connection.vendor != "postgresql"
        or connection.settings_dict["OPTIONS"].get("prepare_threshold") is None
    ):
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = ServerBindingCursor(connection.connection)
    return _LoggedCursor(raw, connection) if connection.queries_logged else CursorWrapper(raw, connection)


def _fetch(connection, sql: str, params) -> list[tuple]:
    """The read's rows; once more on a new connection when the kept one turns out to have gone.

    The server-binding cursor (`_cursor`) is made on the raw connection, so Django's health check
    (CONN_HEALTH_CHECKS: a `SELECT 1` before a request's first statement on a kept connection) does
    not run before these reads. Here the read itself is the check: when it fails on a kept connection
    psycopg has found broken (the server restarted, the link dropped), the connection is closed and
    the read sent again on a new one, as the health check would have done first. That is safe
    because a read changes nothing. A failure on a sound connection (a statement timeout, say), on a
    connection opened for this read, or inside a transaction is raised as before."""
    kept = connection.connection is not None and not connection.in_atomic_block
    try:
        return _run(connection, sql, params)
    except (OperationalError, InterfaceError):
        raw = connection.connection
        if not kept or not (raw is None or getattr(raw, "broken", False) or getattr(raw, "closed", False)):
            raise
    connection.close()
    return _run(connection, sql, params)


def _run(connection, sql: str, params) -> list[tuple]:
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass(frozen=True)
class _Plan:
    sql: str
    params: tuple
    slots: tuple[tuple[int, int], ...]  # (position in params, index of the caller's argument)
    converters: tuple[tuple[int, tuple, Any], ...]  # (column, converter functions, expression)
    width: int  # number of columns


class CompiledRead:
    """`build(*arguments)` returns a `values_list()` queryset on the default database; each argument
    must reach the SQL as one parameter unchanged (a string compared with a column, not a LIKE
    pattern or a transformed value), which is checked when the SQL is built."""

    def __init__(self, build: Callable[..., QuerySet], arity: int, using: str = "default"):
        self.build, self.arity, self.using = build, arity, using
        self._plans: dict[tuple, _Plan] = {}

    def _plan(self, connection) -> _Plan:
        key = (connection.vendor, connection.settings_dict.get("NAME"))
        plan = self._plans.get(key)
        if plan is None:
            stand_ins = [f"\x1fcampuspass-compiled-{n}\x1f" for n in range(self.arity)]
            compiler = self.build(*stand_ins).query.get_compiler(using=self.using)
            sql, params = compiler.as_sql()
            slots = tuple((pos, stand_ins.index(p)) for pos, p in enumerate(params) if p in stand_ins)
            if sorted({n for _, n in slots}) != list(range(self.arity)):
                raise ValueError("every argument of a CompiledRead must reach its SQL as a parameter")
            columns = [select[0] for select in compiler.select[: compiler.col_count]]
            converters = tuple(
                (pos, tuple(convs), expression)
                for pos, (convs, expression) in compiler.get_converters(columns).items()
            )
            plan = self._plans[key] = _Plan(sql, tuple(params), slots, converters, compiler.col_count)
        return plan

    def _params(self, plan: _Plan, arguments) -> list:
        if len(arguments) != self.arity:
            raise TypeError(f"this read takes {self.arity} argument(s), not {len(arguments)}")
        params = list(plan.params)
        for pos, n in plan.slots:
            params[pos] = arguments[n]
        return params

    @staticmethod
    def _convert(plan: _Plan, row: list, connection) -> list:
        for pos, convs, expression in plan.converters:
            value = row[pos]
            for convert in convs:
                value = convert(value, expression, connection)
            row[pos] = value
        return row

    def rows(self, *arguments) -> list[list]:
        connection = connections[self.using]
        plan = self._plan(connection)
        fetched = _fetch(connection, plan.sql, self._params(plan, arguments))
        return [self._convert(plan, list(row), connection) for row in fetched]


def rows_together(
    many: tuple[CompiledRead, tuple],
    *single: tuple[CompiledRead, tuple],
    order: tuple[tuple[int, str], ...] = (),
):
    """Several reads of the default database in one statement (one round trip; issue 13, the gate
    check): `many` may give any number of rows, each of `single` at most one (it is cut to its first).
    Returns `(rows of many, row or None for each of single)`, the same values each read's `rows()`
    gives, in the same order.

    The statement joins the reads side by side, `(SELECT 1) LEFT JOIN (read) ON 1=1 ...`, each read
    wrapped with a leading 1 that tells a row from an absent one; the single reads give one row, so
    the result has one row per row of `many` (the only side with more than one row), or one row
    when it has none.

    `many`'s own ORDER BY does not survive the join on every database (SQLite may read the joined
    side first), so its order is given again as `order`: pairs (index of a column of its
    values_list, "ASC" or "DESC"), applied to the joined rows with each database's default NULL
    placement, as the ORM's order_by() does. A `many` with an ordering and no `order` is refused."""
    reads = [many, *single]
    connection = connections[many[0].using]
    if any(read.using != many[0].using for read, _ in single):
        raise ValueError("rows_together reads one database")
    plans = [read._plan(connection) for read, _ in reads]
    if not order and " ORDER BY " in plans[0].sql:
        raise ValueError("give rows_together the order of its many read (its ORDER BY may be lost)")
    if any(not 0 <= column < plans[0].width or way not in ("ASC", "DESC") for column, way in order):
        raise ValueError(f"order: (column of the many read, 'ASC' or 'DESC') pairs, not {order!r}")
    key = (connection.vendor, connection.settings_dict.get("NAME"), tuple(id(p) for p in plans), order)
    sql = _TOGETHER.get(key)
    if sql is None:
        parts = ["SELECT * FROM (SELECT 1 AS cp_one) cp_one"]
        for n, plan in enumerate(plans):
            limit = " LIMIT 1" if n else ""
            # The ORM compiled each read with its parameters left as placeholders: nothing is spliced.
            joined = (
                f"LEFT JOIN (SELECT 1 AS cp_hit, cp_q{n}.* FROM ({plan.sql}) cp_q{n}{limit}) cp_r{n} ON 1=1"  # noqa: S608
            )
            parts.append(joined)
        if order:  # positions in the joined row: cp_one, cp_hit, then the many read's columns
            parts.append("ORDER BY " + ", ".join(f"{column + 3} {way}" for column, way in order))
        sql = _TOGETHER[key] = " ".join(parts)
    params = [
        p for (read, arguments), plan in zip(reads, plans, strict=True) for p in read._params(plan, arguments)
    ]
    fetched = _fetch(connection, sql, params)
    found: list[list] = [[] for _ in reads]
    for row in fetched:
        start = 1
        for n, plan in enumerate(plans):
            if row[start] is not None and (n == 0 or not found[n]):
                found[n].append(
                    reads[n][0]._convert(plan, list(row[start + 1 : start + 1 + plan.width]), connection)
                )
            start += 1 + plan.width
    return found[0], [rows[0] if rows else None for rows in found[1:]]


_TOGETHER: dict[tuple, str] = {}
