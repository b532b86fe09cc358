"""Plain multi-row INSERTs for the few places that write tens of thousands of rows at once (the
registry import). Django's bulk_create prepares every field of every object through the ORM, which
measured at about 0.3 ms per row on SQLite here; a prepared statement with executemany is an order of
magnitude faster. Callers pass values already in database form (see `db_value`).

These statements run through a cursor without DEBUG query logging (`bulk_cursor`): with DEBUG on,
formatting each multi-row statement with its thousands of parameters for `connection.queries` took
about a sixth of an import's time and kept megabytes of SQL text alive. Errors are still turned into
Django's exceptions and `connection.execute_wrapper` hooks still apply."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.utils import CursorWrapper


def db_value(model: type[models.Model], field_name: str, value: Any) -> Any:
    """A Python value as the database adapter expects it for this field."""
    field = model._meta.get_field(field_name)
    return field.get_db_prep_save(value, connection)


def db_converter(model: type[models.Model], field_name: str) -> Callable[[Any], Any]:
    """`db_value` for many values of one field: the field and the connection are looked up once."""
    field = model._meta.get_field(field_name)
    db = connections[DEFAULT_DB_ALIAS]
    prepare = field.get_db_prep_save
    if isinstance(field, models.JSONField):
        adapt, encoder = db.ops.adapt_json_value, field.encoder

        def convert_json(value: Any) -> Any:
            # For a plain dict or list, JSONField.get_db_prep_save comes down to exactly this call.
            if value.__class__ is dict or value.__class__ is list:
                return adapt(value, encoder)
            return prepare(value, db)

        return convert_json
    return lambda value: prepare(value, db)


def insert_converter(model: type[models.Model], field_name: str) -> Callable[[Any], Any]:
    """`db_converter` for values that only go to `insert_many` / `insert_returning_keys`. On
    PostgreSQL those are written with COPY in its text format, so a JSON value can be handed over as
    the very text psycopg's Jsonb dumper would write for it (`json.dumps` with the field's encoder,
    as Django's `adapt_json_value` sets it up) and a date as its ISO text (psycopg's date dumper
    writes `str(date)`): the same bytes reach the server, without a Jsonb wrapper per value and
    psycopg's per-value dispatch. Elsewhere, and for other fields, exactly `db_converter`."""
    field = model._meta.get_field(field_name)
    if connection.vendor == "postgresql":
        if isinstance(field, models.JSONField):
            prepare = db_converter(model, field_name)
            dumps = json.dumps if field.encoder is None else partial(json.dumps, cls=field.encoder)

            def json_text(value: Any) -> Any:
                if value.__class__ is dict or value.__class__ is list:
                    return dumps(value)
                return prepare(value)

            return json_text
        if field.get_internal_type() == "DateField":
            return lambda value: None if value is None else str(value)
    return db_converter(model, field_name)


def insert_constant(model: type[models.Model], field_name: str, value: Any) -> Any:
    """A value written on every row of an `insert_many` / `insert_returning_keys` (the import's
    timestamp), prepared once. On PostgreSQL: the text psycopg's own dumper writes into COPY for it,
    so the server receives the same text as before; dumping a timezone-aware datetime on every row
    cost about 2.4 µs a time, a second of CPU per 100,000 imported rows. Elsewhere `db_value`."""
    value = db_value(model, field_name, value)
    if connection.vendor != "postgresql" or value is None:
        return value
    from psycopg.adapt import PyFormat, Transformer

    connection.ensure_connection()
    dumped = Transformer(connection.connection).get_dumper(value, PyFormat.TEXT).dump(value)
    return bytes(dumped).decode(connection.connection.info.encoding)


@contextmanager
def bulk_cursor() -> Iterator[CursorWrapper]:
    """A cursor on the default connection that does not log its queries, even with DEBUG on."""
    with connection.cursor() as cursor:
        yield connections[DEFAULT_DB_ALIAS].make_cursor(cursor.cursor)


def _copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: stream rows into the table with COPY … FROM STDIN (psycopg 3). One short statement
    whatever the number of rows, no SQL text to build or parse, values sent in COPY's text format."""
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with bulk_cursor() as cursor, cursor.cursor.copy(sql) as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def reserve_keys(model: type[models.Model], count: int) -> list[int]:
    """PostgreSQL: `count` new primary keys from the table's own sequence (as an INSERT would take
    them), so rows can be COPYed with their keys known beforehand."""
    return reserve_keys_of({model: count})[model]


def reserve_keys_of(counts: dict[type[models.Model], int]) -> dict[type[models.Model], list[int]]:
    """`reserve_keys` for several tables in one statement, each table's keys as one array: the
    import reserved three tables' keys per chunk as three statements of a row per key, and the
    server's time for them was about 1 s per 100,000 imported rows (nextval itself: about 0.5 µs
    a key). Tables asked for 0 keys get []."""
    wanted = [(model, count) for model, count in counts.items() if count > 0]
    keys: dict[type[models.Model], list[int]] = {model: [] for model in counts}
    if not wanted:
        return keys
    # The sequence's name in a scalar subquery: computed once per statement (called per key,
    # pg_get_serial_sequence's catalogue look-up was most of the statement's time).
    arrays = ", ".join(
        "ARRAY(SELECT nextval((SELECT pg_get_serial_sequence(%s, %s))) FROM generate_series(1, %s))"
        for _ in wanted
    )
    params = [
        value for model, count in wanted for value in (model._meta.db_table, model._meta.pk.column, count)
    ]
    with bulk_cursor() as cursor:
        cursor.execute(f"SELECT {arrays}", params)
        row = cursor.fetchone()
    for (model, count), values in zip(wanted, row, strict=True):
        if len(values) != count:
            raise RuntimeError(f"{model._meta.db_table}: {len(values)} keys reserved for {count} rows")
        keys[model] = values
    return keys


def copy_rows(model: type[models.Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: rows already in database form (the key first when `field_names` starts with
    "pk") written with one COPY (see `_copy_rows`)."""
    columns = [
        model._meta.pk.column if name == "pk" else model._meta.get_field(name).column for name in field_names
    ]
    _copy_rows(model, columns, rows)


def insert_many(model: type[models.Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    if connection.vendor == "postgresql":
        _copy_rows(model, [model._meta.get_field(name).column for name in field_names], rows)
        return
    rows = list(rows)
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in field_names)
    placeholders = ", ".join(["%s"] * len(field_names))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with bulk_cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_returning_keys(
    model: type[models.Model],
    field_names: Sequence[str],
    records: Sequence[Any],
    values: Callable[[Any], Sequence[Any]],
    batch_size: int = 500,
) -> None:
    """Insert one row per record and set each record's `pk`: on PostgreSQL, keys reserved from the
    sequence and one COPY; elsewhere multi-row INSERT … RETURNING.

    Relies on the database returning the keys in the order of the VALUES list, as PostgreSQL and
    SQLite (3.35+) do and as Django's own bulk_create relies on.
    """
    if not records:
        return
    if connection.vendor == "postgresql":
        # Keys first, then one COPY: no multi-row INSERT text for psycopg to build and re-split.
        keys = reserve_keys(model, len(records))
        for record, key in zip(records, keys, strict=True):
            record.pk = key
        columns = [model._meta.pk.column, *(model._meta.get_field(name).column for name in field_names)]
        _copy_rows(model, columns, ((record.pk, *values(record)) for record in records))
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in field_names)
    # On SQLite, its own "?" placeholders: Django's SQLite cursor rewrites every "%s" of a statement
    # with a regular expression, which for thousands of parameters per INSERT took a tenth of an
    # import; with "?" it finds nothing to rewrite.
    placeholder = "?" if connection.vendor == "sqlite" else "%s"
    row_placeholder = "(" + ", ".join([placeholder] * len(field_names)) + ")"
    pk_column = quote(model._meta.pk.column)
    with bulk_cursor() as cursor:
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            params = [value for record in batch for value in values(record)]
            sql = (
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([row_placeholder] * len(batch))} RETURNING {pk_column}"
            )
            cursor.execute(sql, params)
            keys = [row[0] for row in cursor.fetchall()]
            if len(keys) != len(batch):
                raise RuntimeError(
                    f"INSERT into {model._meta.db_table} returned {len(keys)} keys for {len(batch)} rows"
                )
            for record, key in zip(batch, keys, strict=True):
                record.pk = key


def update_many(model: type[models.Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """UPDATE … SET fields WHERE pk = last value of each row; one statement per row, in order."""
    rows = list(rows)
    if not rows:
        return
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in field_names)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608
    with bulk_cursor() as cursor:
        cursor.executemany(sql, rows)


def delete_rows(queryset: models.QuerySet) -> int:
    """Delete the rows of `queryset` with one DELETE statement. For models no row references and no
    signal watches (sessions, backoff rows): Django's `QuerySet.delete()` collects first and, outside a
    transaction, wraps its DELETE in BEGIN … COMMIT — three round trips where one does (issue 13)."""
    return queryset._raw_delete(queryset.db)
