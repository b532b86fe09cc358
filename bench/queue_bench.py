"""Task-queue benchmark for the production backend (decision 0019): django-tasks-db on PostgreSQL.

Enqueues N small tasks (each writes one row, like our tasks do) into a fresh PostgreSQL database,
then drains them with 1, then 2, then 4 `db_worker` processes (stand-ins for workers on several
hosts: separate processes, separate connections) and records tasks/s, enqueue latency, and that
every task ran exactly once (SKIP LOCKED hands each row to one worker). Writes bench/queue.json.

    .venv/bin/python bench/queue_bench.py --pg postgres://postgres@127.0.0.1:5432 [--tasks 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if os.environ.get("DJANGO_SETTINGS_MODULE"):  # in the workers, and once the parent set Django up
    from django_tasks import task

    @task()
    def touch(n: int) -> int:
        """One short write, like a real task's."""
        from django.utils import timezone

        from campuspass.core.models import PeriodicRun

        PeriodicRun.objects.create(job=f"queue-bench-{n}", due_at=timezone.now())
        return n


def _django(env: dict):
    os.environ.update(env)
    import django

    django.setup()


def round_trip(workers: int, tasks: int, env: dict) -> dict:
    from django_tasks_db.models import DBTaskResult

    from bench.queue_bench import touch  # by its importable name, so the workers find it
    from campuspass.core.models import PeriodicRun

    DBTaskResult.objects.all().delete()
    PeriodicRun.objects.filter(job__startswith="queue-bench-").delete()
    start = time.perf_counter()
    for n in range(tasks):
        touch.enqueue(n)
    enqueue_seconds = time.perf_counter() - start
    procs = [
        subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-reload",
                "--interval",
                "0.2",
                "--no-startup-delay",
                "--worker-id",
                f"bench-{i}",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < 300:
            if not DBTaskResult.objects.exclude(status__in=["SUCCESSFUL", "FAILED"]).exists():
                break
            time.sleep(0.2)
        drain_seconds = time.perf_counter() - start
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    ran = PeriodicRun.objects.filter(job__startswith="queue-bench-").count()
    by_worker = {}
    for ids in DBTaskResult.objects.values_list("worker_ids", flat=True):
        for worker in ids:
            by_worker[worker] = by_worker.get(worker, 0) + 1
    return {
        "workers": workers,
        "tasks": tasks,
        "enqueue_ms_per_task": round(enqueue_seconds / tasks * 1000, 2),
        "drain_seconds": round(drain_seconds, 2),
        "tasks_per_second": round(tasks / drain_seconds, 1),
        "ran_exactly_once": ran == tasks and sum(by_worker.values()) == tasks,
        "tasks_by_worker": dict(sorted(by_worker.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", required=True)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "queue.json"))
    options = parser.parse_args()
    db = f"cp_queue_bench_{os.getpid()}"
    subprocess.run(["psql", f"{options.pg}/postgres", "-qc", f"create database {db}"], check=True)  # noqa: S607
    env = {
        "DATABASE_URL": f"{options.pg}/{db}",
        "DJANGO_SETTINGS_MODULE": "campuspass.settings.dev",
        "PAYMENT_PROVIDER": "simulator",
    }
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env={**os.environ, **env}, check=True
        )  # noqa: S603
        _django(env)
        runs = [round_trip(workers, options.tasks, env) for workers in (1, 2, 4)]
    finally:
        from django.db import connections

        connections.close_all()
        subprocess.run(
            ["psql", f"{options.pg}/postgres", "-qc", f"drop database if exists {db} with (force)"],
            check=False,
        )  # noqa: S607
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "backend": "django_tasks_db.DatabaseBackend on PostgreSQL (SELECT … FOR UPDATE SKIP LOCKED)",
        "runs": runs,
    }
    Path(options.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    for run in runs:
        print(json.dumps(run, ensure_ascii=False))


if __name__ == "__main__":
    main()
