"""Trigram (pg_trgm) GIN indexes for substring search, on PostgreSQL only (decision 0038).

Used by migrations: ``trigram_indexes(("table", "index name", "expression"), ...)`` gives the
operations. On SQLite (the embedded default, small registries) they do nothing."""

from __future__ import annotations

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


def trigram_indexes(*indexes: tuple[str, str, str]) -> list:
    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, name, expression in indexes:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}) gin_trgm_ops)"
            )

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for _, name, _ in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    return [TrigramExtension(), migrations.RunPython(forwards, backwards, elidable=False)]
