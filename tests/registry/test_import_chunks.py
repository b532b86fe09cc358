"""A large import commits chunk by chunk (other writers go on between chunks), its dry run equals the
import, and a failure leaves nothing half-written (decision 0021)."""

import json
import sys
import threading

import pytest
from django.db import connection, transaction

from campuspass.core.models import LogEntry
from campuspass.registry import imports
from campuspass.registry.imports import import_passes, recover_unfinished_imports
from campuspass.registry.models import Pass, Staff, Vehicle

from .test_imports import registry_state, row, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 2)  # every cross-chunk case with a handful of rows


def existing_registry(tmp_path):
    import_passes(
        path=write_csv(
            tmp_path / "before.csv",
            [
                row(),
                row(
                    工号="20010002",
                    姓名="李四",
                    手机号="13900000002",
                    车牌号="京B22222",
                    通行证编号="YXB201800002",
                ),
                row(
                    工号="20010003",
                    姓名="王五",
                    手机号="13900000003",
                    车牌号="京C33333",
                    通行证编号="YXB201800003",
                ),
            ],
        )
    )


def tricky_file(tmp_path):
    """Changes that depend on earlier rows in other chunks: a staff member's later row wins, a pass
    moves to a vehicle created two chunks before, a duplicate number, a plate taken by an earlier row."""
    return write_csv(
        tmp_path / "tricky.csv",
        [
            row(
                工号="20010009",
                姓名="赵六",
                手机号="13900000009",
                车牌号="京D44444",
                通行证编号="YXB201800009",
            ),
            row(
                工号="20010002",
                姓名="李四",
                手机号="13900000002",
                车牌号="京B22222",
                通行证编号="YXB201800002",
            ),
            row(工号="20010001", 姓名="张三", 部门="药学院", 车牌号="京E55555", 通行证编号="YXB201800010"),
            row(
                工号="20010003",
                姓名="王五",
                手机号="13900000003",
                车牌号="京D44444",
                通行证编号="YXB201800003",
            ),
            row(
                工号="20010009",
                姓名="赵六",
                手机号="13900000019",
                车牌号="京F66666",
                通行证编号="YXB201800009",
            ),
            row(
                工号="20010004",
                姓名="孙七",
                手机号="13900000004",
                车牌号="京E55555",
                通行证编号="YXB201800011",
            ),
            row(工号="20010001", 姓名="张三", 审核状态="待审核", 通行证编号="YXB201800001"),
        ],
    )


def test_the_dry_run_writes_nothing_and_equals_the_import(tmp_path):
    existing_registry(tmp_path)
    before, entries = registry_state(), LogEntry.objects.count()
    path = tricky_file(tmp_path)
    preview = import_passes(path=path, dry_run=True)
    assert registry_state() == before and LogEntry.objects.count() == entries
    report = import_passes(path=path)
    as_dict = report.as_dict()
    assert {**preview.as_dict(), "dry_run": False} == as_dict
    assert as_dict["rejected"] and report.imported and report.updated  # the file exercised all three
    assert registry_state() != before


@pytest.mark.django_db(transaction=True)
def test_each_chunk_commits_on_its_own(tmp_path):
    outside = []
    import_passes(
        path=tricky_file(tmp_path),
        progress=lambda done, total: outside.append(not connection.in_atomic_block),
    )
    assert len(outside) > 3 and all(outside)  # between chunks no transaction is open
    assert not list(imports.journal_dir().glob("*.journal"))


def test_a_failure_midway_undoes_what_earlier_chunks_wrote(tmp_path, monkeypatch):
    existing_registry(tmp_path)
    before = registry_state()
    real_flush, calls = imports.Importer._flush, []

    def flaky_flush(self, pending):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        real_flush(self, pending)

    monkeypatch.setattr(imports.Importer, "_flush", flaky_flush)
    with pytest.raises(RuntimeError):
        import_passes(path=tricky_file(tmp_path))
    assert registry_state() == before
    assert LogEntry.objects.filter(action="registry.import.rolled_back").count() == 1
    assert not LogEntry.objects.filter(action="registry.import.completed", data__file="tricky.csv").exists()
    assert not list(imports.journal_dir().glob("*.journal"))


def test_an_import_whose_process_died_is_undone_before_the_next_one(tmp_path, monkeypatch):
    existing_registry(tmp_path)
    before = registry_state()
    real_flush, calls = imports.Importer._flush, []

    def dies(self, pending):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # stands in for kill -9: the in-process undo below never runs
        real_flush(self, pending)

    monkeypatch.setattr(imports.Importer, "_flush", dies)
    monkeypatch.setattr(imports, "_undo", lambda path, reason: 0)
    with pytest.raises(KeyboardInterrupt):
        import_passes(path=tricky_file(tmp_path))
    assert registry_state() != before  # two chunks were committed and left behind
    assert len(list(imports.journal_dir().glob("*.journal"))) == 1
    monkeypatch.undo()
    assert recover_unfinished_imports() == 1
    assert registry_state() == before
    assert Staff.objects.filter(staff_no="20010009").count() == 0
    assert not Vehicle.objects.filter(plate="京D44444").exists() and Pass.objects.count() == 3


def audit_state():
    """The import's audit rows as comparable values (their keys and times aside)."""
    return sorted(
        (action, object_repr, plate, staff_no, json.dumps(data, sort_keys=True, ensure_ascii=False))
        for action, object_repr, plate, staff_no, data in LogEntry.objects.filter(
            action__startswith="registry."
        )
        .exclude(action="registry.import.completed")
        .values_list("action", "object_repr", "plate", "staff_no", "data")
    )


def writer_threads(monkeypatch):
    """The threads each chunk was written from (in the order written)."""
    real_flush, threads = imports.Importer._flush, []

    def flush(self, writes):
        threads.append(threading.current_thread())
        real_flush(self, writes)

    monkeypatch.setattr(imports.Importer, "_flush", flush)
    return threads


@pytest.mark.django_db(transaction=True)
def test_chunks_written_by_the_writer_thread_leave_what_writing_in_turn_leaves(tmp_path, monkeypatch):
    threads = writer_threads(monkeypatch)
    interval = sys.getswitchinterval()
    existing_registry(tmp_path)
    import_passes(path=tricky_file(tmp_path))
    threaded = registry_state(), audit_state()
    assert sys.getswitchinterval() == interval  # shortened for the writer, restored after
    if connection.vendor == "postgresql":  # a writer thread of its own; SQLite writes in turn
        assert threads and all(thread is not threading.main_thread() for thread in threads)
    Pass.objects.all().delete()
    Vehicle.objects.all().delete()
    Staff.objects.all().delete()
    LogEntry.objects.all().delete()
    del threads[:]
    with transaction.atomic():  # inside a caller's transaction each chunk is written at once
        existing_registry(tmp_path)
        import_passes(path=tricky_file(tmp_path))
    assert threads and all(thread is threading.main_thread() for thread in threads)
    assert (registry_state(), audit_state()) == threaded
    assert threaded[0]["passes"] and threaded[1]


@pytest.mark.django_db(transaction=True)
def test_a_failure_in_the_writer_undoes_every_chunk(tmp_path, monkeypatch):
    existing_registry(tmp_path)
    before = registry_state()
    real_flush, calls = imports.Importer._flush, []

    def flaky_flush(self, writes):
        calls.append(threading.current_thread())
        if len(calls) == 3:
            raise RuntimeError("disk full")
        real_flush(self, writes)

    monkeypatch.setattr(imports.Importer, "_flush", flaky_flush)
    interval = sys.getswitchinterval()
    with pytest.raises(RuntimeError, match="disk full"):
        import_passes(path=tricky_file(tmp_path))
    assert sys.getswitchinterval() == interval
    assert len(calls) == 3  # nothing written after the failure
    assert registry_state() == before
    assert LogEntry.objects.filter(action="registry.import.rolled_back").count() == 1
    assert not LogEntry.objects.filter(action="registry.import.completed", data__file="tricky.csv").exists()
    assert not list(imports.journal_dir().glob("*.journal"))
    assert not any(thread.name == "campuspass-import-writer" for thread in threading.enumerate())


@pytest.mark.django_db(transaction=True)
def test_a_failure_while_deciding_stops_the_writer_and_undoes_its_chunks(tmp_path, monkeypatch):
    existing_registry(tmp_path)
    before = registry_state()
    real_apply, chunks = imports.Importer.apply_chunk, []

    def flaky_apply(self, rows, *, write=True):
        chunks.append(rows)
        if len(chunks) == 4:
            raise RuntimeError("bad row")
        real_apply(self, rows, write=write)

    written = writer_threads(monkeypatch)
    monkeypatch.setattr(imports.Importer, "apply_chunk", flaky_apply)
    with pytest.raises(RuntimeError, match="bad row"):
        import_passes(path=tricky_file(tmp_path))
    assert len(written) >= 2  # earlier chunks had been written (and committed) before the failure
    assert registry_state() == before
    assert LogEntry.objects.filter(action="registry.import.rolled_back").count() == 1
    assert not list(imports.journal_dir().glob("*.journal"))
    assert not any(thread.name == "campuspass-import-writer" for thread in threading.enumerate())
