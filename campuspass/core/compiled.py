"""Reads on hot paths whose SQL the ORM builds once per database, not once per request (issue 13).

Building a queryset with joins and subqueries (resolving lookups, joins, annotations, then compiling)
costs milliseconds of Python per request on the gate check, more than the database takes to run it.
A `CompiledRead` builds its queryset once per database connection settings with stand-in values for
its parameters, keeps the SQL, the parameter list and the columns' converters, and afterwards only
swaps in the values, runs the SQL and converts the columns exactly as the ORM would (dates from
SQLite's text and so on). The queryset stays the single definition of the read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import QuerySet


@dataclass(frozen=True)
class _Plan:
    sql: str
    params: tuple
    slots: tuple[tuple[int, int], ...]  # (position in params, index of the caller's argument)
    converters: tuple[tuple[int, tuple, Any], ...]  # (column, converter functions, expression)


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
            plan = self._plans[key] = _Plan(sql, tuple(params), slots, converters)
        return plan

    def rows(self, *arguments) -> list[list]:
        connection = connections[self.using]
        plan = self._plan(connection)
        params = list(plan.params)
        for pos, n in plan.slots:
            params[pos] = arguments[n]
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, params)
            rows = [list(row) for row in cursor.fetchall()]
        for row in rows:
            for pos, convs, expression in plan.converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
        return rows
