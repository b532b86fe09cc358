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
