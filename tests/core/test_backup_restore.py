"""Backups: deploy/backup.sh writes a dump, the private store and a manifest; deploy/restore.sh
restores them into a fresh database and directory and checks what came back (decision 0021).

The end-to-end test needs PostgreSQL (pg_dump/pg_restore) and runs in CI's PostgreSQL suite."""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from campuspass.core.backup import check_restore, manifest
from campuspass.core.models import LogEntry
from tests.renewals.test_order_lifecycle import new_order

ROOT = Path(__file__).resolve().parents[2]


def _url(name: str) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DJANGO_SETTINGS_MODULE="campuspass.settings.dev", PY=str(ROOT / ".venv/bin/python"), **extra)
    return env


@pytest.mark.django_db
def test_the_restore_check_names_what_did_not_come_back(tmp_path):
    from campuspass.verification.storage import photo_store
    from tests.photos import stored_photo_for

    # An import file on the private store, and an ID photo (listed through the photo service).
    imports = Path(settings.PRIVATE_STORAGE_ROOT) / "imports"
    imports.mkdir(parents=True, exist_ok=True)
    (imports / "check-a.csv").write_bytes(b"a,b")
    photo = stored_photo_for("京A12345")
    photo_path = Path(photo_store().path(photo.name))
    new_order()
    expected = manifest()
    assert f"id-photos/{photo.name}" in expected["files"] and "imports/check-a.csv" in expected["files"]
    assert check_restore(expected) == []
    LogEntry.objects.all().delete()
    (imports / "check-a.csv").write_bytes(b"changed")
    photo_path.write_bytes(b"\xff\xd8changed")
    problems = check_restore(expected)
    assert any(p.startswith("core.LogEntry: 0 rows restored") for p in problems)
    assert "file differs from the backup: imports/check-a.csv" in problems
    assert f"file differs from the backup: id-photos/{photo.name}" in problems
    photo_path.unlink()
    assert f"file missing from the restored store: id-photos/{photo.name}" in check_restore(expected)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_into_a_fresh_database_brings_everything_back(tmp_path, settings):
    if connection.vendor != "postgresql" or not shutil.which("pg_dump"):
        pytest.skip("needs PostgreSQL and pg_dump")
    store = tmp_path / "store"
    (store / "id-photos").mkdir(parents=True)
    for _ in range(3):
        (store / "id-photos" / f"{uuid.uuid4().hex}.jpg").write_bytes(os.urandom(2048))
    settings.PRIVATE_STORAGE_ROOT = store  # the orders' ID photos go into the store backed up
    orders = [new_order() for _ in range(3)]
    assert all((store / "id-photos" / order.id_photo.name).is_file() for order in orders)
    source = _url(connection.settings_dict["NAME"])
    backups = tmp_path / "backups"
    run = subprocess.run(
        ["bash", "deploy/backup.sh"],
        cwd=ROOT,
        env=_env(DATABASE_URL=source, PRIVATE_STORAGE_ROOT=str(store), BACKUP_DIR=str(backups)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    (backup,) = backups.iterdir()
    assert {p.name for p in backup.iterdir()} == {
        "database.dump",
        "private.tar",
        "manifest.json",
        "SHA256SUMS",
    }

    target_name = f"{connection.settings_dict['NAME']}_restore"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{target_name}"')
        cursor.execute(f'CREATE DATABASE "{target_name}"')
    target_root = tmp_path / "restored"
    try:
        restore = subprocess.run(
            ["bash", "deploy/restore.sh", str(backup), _url(target_name), str(target_root)],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert restore.returncode == 0, restore.stderr
        assert "恢复核对通过" in restore.stdout
        assert sorted(p.name for p in (target_root / "id-photos").iterdir()) == sorted(
            p.name for p in (store / "id-photos").iterdir()
        )
        import psycopg

        with psycopg.connect(_url(target_name)) as restored:
            trade_nos = {row[0] for row in restored.execute("select out_trade_no from renewals_renewalorder")}
        assert trade_nos == {order.out_trade_no for order in orders}

        # A second restore into the now non-empty database is refused, and a damaged backup too.
        again = subprocess.run(
            ["bash", "deploy/restore.sh", str(backup), _url(target_name), str(tmp_path / "other")],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode != 0 and "不是空库" in again.stderr
        with (backup / "private.tar").open("r+b") as handle:
            handle.seek(600)
            handle.write(b"XX")
        damaged = subprocess.run(
            ["bash", "deploy/restore.sh", str(backup), _url(target_name), str(tmp_path / "other")],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert damaged.returncode != 0 and "校验和不符" in damaged.stderr
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
