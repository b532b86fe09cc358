"""Trigram (pg_trgm) GIN indexes for substring search, on PostgreSQL only (decision 0038).

Used by migrations: ``trigram_indexes(("table", "index name", "expression"), ...)`` gives the
operation (the ``pg_trgm`` extension, then the indexes). On SQLite (the embedded default, small
registries) it does nothing, forwards or backwards."""

from __future__ import annotations

from django.db import migrations


def trigram_indexes(*indexes: tuple[str, str, str]) -> list:
    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, name, expression in indexes:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}) gin_trgm_ops)"
            )

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for _, name, _ in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        # The extension stays: other objects may use it, and it costs nothing unused.

    return [migrations.RunPython(forwards, backwards, elidable=False)]


# The planner estimates how many rows a substring (``LIKE '%…%'``) matches from the column's
# histogram. With the default 100 buckets a million plates gave '%0007%' 20,000 rows instead of 200,
# and PostgreSQL walked the whole ``ORDER BY plate`` index filtering row by row (0.7 s) rather than
# asking the trigram index (1 ms). 10,000 buckets (the maximum; ANALYZE then reads ~1 s per million
# rows) make the estimate right (issue 13, decision 0038 addendum).
SEARCH_STATISTICS = 10_000


def search_statistics(*columns: tuple[str, str]) -> list:
    """``(table, column)`` pairs searched by substring: their statistics target raised, then
    ANALYZEd so the estimate holds at once. ``(index, "1")`` for an expression index's column.
    PostgreSQL only; backwards restores the default."""

    def apply(schema_editor, target: int) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for relation, column in columns:
            kind = "INDEX" if column.isdigit() else "TABLE"
            column_sql = column if column.isdigit() else schema_editor.quote_name(column)
            schema_editor.execute(
                f"ALTER {kind} {schema_editor.quote_name(relation)} "
                f"ALTER COLUMN {column_sql} SET STATISTICS {target}"
            )
        for table in sorted({r for r, c in columns if not c.isdigit()}):
            schema_editor.execute(f"ANALYZE {schema_editor.quote_name(table)}")

    return [
        migrations.RunPython(
            lambda apps, schema_editor: apply(schema_editor, SEARCH_STATISTICS),
            lambda apps, schema_editor: apply(schema_editor, -1),
            elidable=False,
        )
    ]
