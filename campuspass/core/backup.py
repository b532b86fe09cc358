"""What a backup must bring back (deploy/backup.sh, deploy/restore.sh; decision 0021).

`manifest()` records, at backup time, the row count of every CampusPass table and of the users, the
applied migrations, and every file of the private store (ID photos, import files) with its size and
SHA-256. `check_restore(manifest)` compares a restored database and store against it and returns the
problems found (an empty list means everything came back)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

# Tables that only grow (rows are added, never deleted by the application): a restore may have more
# rows than the manifest if the manifest was taken a moment before the dump, never fewer.
APPS = ("core", "registry", "renewals", "sms", "payments", "verification", "auth")


def table_counts() -> dict[str, int]:
    counts = {}
    for model in apps.get_models():
        if model._meta.app_label in APPS and not model._meta.proxy and model._meta.managed:
            counts[model._meta.label] = model._default_manager.count()
    return dict(sorted(counts.items()))


def _store_owners() -> list:
    """Apps whose part of the private store is listed by their own service (``backup_prefix`` +
    ``backup_files()`` on the AppConfig: the ID photos, through the photo service, by their rows)."""
    return [c for c in apps.get_app_configs() if callable(getattr(c, "backup_files", None))]


def store_files(root: Path | None = None) -> dict[str, dict]:
    root = Path(root or settings.PRIVATE_STORAGE_ROOT)
    files = {}
    owners = _store_owners()
    prefixes = tuple(c.backup_prefix for c in owners)
    for config in owners:
        files.update(config.backup_files())
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if prefixes and str(path.relative_to(root)).startswith(prefixes):
                continue
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            files[str(path.relative_to(root))] = {"size": path.stat().st_size, "sha256": digest.hexdigest()}
    return dict(sorted(files.items()))


def applied_migrations() -> list[str]:
    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations())


def manifest() -> dict:
    return {"tables": table_counts(), "migrations": applied_migrations(), "files": store_files()}


def check_restore(expected: dict) -> list[str]:
    problems = []
    missing = sorted(set(expected["migrations"]) - set(applied_migrations()))
    if missing:
        problems.append(f"migrations not in the restored database: {', '.join(missing[:5])}")
    counts = table_counts()
    for label, count in expected["tables"].items():
        if counts.get(label, 0) < count:
            problems.append(f"{label}: {counts.get(label, 0)} rows restored, {count} backed up")
    files = store_files()
    for name, meta in expected["files"].items():
        if meta.get("sha256") is None:
            continue  # the file was already missing when the backup was taken: nothing to compare
        got = files.get(name)
        if got is None or got.get("sha256") is None:  # no row, or a row without its file
            problems.append(f"file missing from the restored store: {name}")
        elif got != meta:
            problems.append(f"file differs from the backup: {name}")
    return problems
