"""The whole renewal flow end to end, with many concurrent simulated staff (issue 13, item 1).

A closed loop: K staff at once, each taking a registry plate no one has used yet (a distinct person:
their own plate, phone, address and X-Forwarded-For address), walks the notice's flow over HTTP with
`bench.soak.StaffClient` — 现场长租查询 → SMS code (read from the file SMS backend) → 验证 →
记录 / 续费 / 车主 → photo upload → 提交订单 → 知情同意书 同意 → 立即支付 → the simulator's cashier
确认支付 → 支付结果 — and starts again with the next plate as soon as one is done. No pauses between
pages: the figure is how many renewals the server completes, not how fast people read.

Measured for each K over a fixed window: completed renewals per second (the result page said
支付成功 within the window, and the database says the order is paid once the queue has drained),
every error listed (any 5xx, a refused connection, an answer the flow did not expect, a code that
never came, a payment the database lost), per-step latency, and the load generator's own CPU time —
a Python client shares the two cores with the server, so its share is part of the reading.

Also measured: the CPU time each part of the system spent in the window (the web workers, the task
workers, PostgreSQL, Redis, the client, anything else), read from /proc, and from it the CPU seconds
one renewal costs and the cores a rate of GOAL_PER_SECOND renewals would keep busy: the capacity a
renewal week needs, whatever the machine the run was on.

The server is `bench/run.py`'s gunicorn (bench.settings, plain HTTP on loopback, one trusted proxy);
this module starts the task workers the flow needs (the SMS outbox, the payment simulator's
notifications) with the same environment and stops them at the end. `bench/run.py` calls `measure`;
alone: `.venv/bin/python bench/run.py --quick --only flow`.
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = {
    "quick": {"staff": [4, 8], "seconds": 15, "warmup": 5, "workers": 2},
    "full": {"staff": [8, 32], "seconds": 30, "warmup": 15, "workers": 4},
}
GOAL_PER_SECOND = 40.0
SMS_WAIT_SECONDS = 20.0  # a code later than this is an error (the soak waits 45 s and asks again)
JOIN_SECONDS = 90.0  # after the window: the slowest request's timeout (60 s) and an SMS wait
DRAIN_SECONDS = 60.0  # after the window: queued SMS and notifications finish
# Bench-only settings a real campus sets too (see `bench_environment`).
BUDGET = 100_000


def bench_environment(site: str) -> dict[str, str]:
    """What the flow needs in the server's and the workers' environment, beside bench/run.py's:

    - BENCH_SITE_URL: the payment simulator posts its notifications to the loopback server
      (bench/settings.py; production insists on https and the benchmark has no TLS);
    - VERIFICATION_DAILY_SMS_BUDGET: the site's daily budget of verification SMS (3,000 by default)
      raised to 100,000 — a campus renewing tens of thousands of passes in two weeks sets it so too,
      and the wrk figures before the flow already spend thousands of codes. The per-phone, per-plate,
      per-session and per-address limits stay as they are: every renewal is a different person
      with a different phone, plate, browser session and address, so none of them is reached.
    """
    return {"BENCH_SITE_URL": site, "VERIFICATION_DAILY_SMS_BUDGET": str(BUDGET)}


def reserved_plates(passes: int, orders: int) -> range:
    """The registry rows the flow renews: the top quarter of the registry (at least a few hundred
    rows), never below the generated orders (rows 0…orders-1 already have this year's order). wrk's
    plate lookups stay below it (bench/run.py), so no plate or phone is throttled before the flow."""
    size = max(passes // 4, min(500, passes - orders))
    return range(max(orders, passes - size), passes)


class PlatePool:
    """Registry rows handed out once each, across every K of the run."""

    def __init__(self, rows: Iterable[int]):
        self._rows: Iterator[int] = iter(rows)
        self._lock = threading.Lock()
        self.taken = 0

    def take(self) -> int | None:
        with self._lock:
            row = next(self._rows, None)
            if row is not None:
                self.taken += 1
            return row


@dataclass
class Renewal:
    """One staff member's attempt: `outcome` paid (the result page said 支付成功), error, or cut (the
    window closed while it was under way: neither a completion nor an error)."""

    row: int
    started: float  # seconds from the window's start
    ended: float
    outcome: str
    order: int | None = None
    error: str = ""
    sms_wait: float | None = None
    requests: int = 0  # HTTP requests it made (answered)


@dataclass
class LevelRecord:
    """What one K's window produced, before it is summarised."""

    staff: int
    seconds: float
    renewals: list[Renewal] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    retried: list[str] = field(default_factory=list)  # 502/503/504 or a dead connection, tried again
    client_cpu_s: float = 0.0
    machine_busy: float | None = None  # share of all CPUs busy during the window (/proc/stat)
    cpu_by_role: dict[str, float] | None = None  # CPU seconds of each part in the window (/proc)
    database: dict = field(default_factory=dict)
    pool_exhausted: bool = False  # the window ended early: no plate left to renew


def percentiles_ms(values: list[float]) -> dict:
    from bench.soak import percentiles

    return percentiles(values)


def summarise(record: LevelRecord, cpus: int) -> dict:
    """The figures of one K: completions within the window per second, errors (each listed), the
    per-step percentiles (ms) and the client's CPU. A completion the database does not confirm
    (the order not paid once the queue drained) is an error, not a completion."""
    lost = set(record.database.get("not_paid", []))
    completed = [
        r
        for r in record.renewals
        if r.outcome == "paid" and 0 <= r.ended <= record.seconds and r.order not in lost
    ]
    errors = [f"plate row {r.row}: {r.error}" for r in record.renewals if r.outcome == "error"]
    errors += [
        f"plate row {r.row}: the result page said 支付成功 but order {r.order} is not paid in the database"
        for r in record.renewals
        if r.outcome == "paid" and r.order in lost
    ]
    errors += record.retried
    errors += [f"task failed: {line}" for line in record.database.get("tasks_failed", [])]
    if record.database.get("notifications_undelivered"):
        n = record.database["notifications_undelivered"]
        errors.append(f"{n} payment notification(s) not delivered after the queue drained")
    steps = {step: percentiles_ms(values) for step, values in sorted(record.latency.items()) if values}
    durations = [r.ended - r.started for r in completed]
    if durations:
        steps["whole renewal"] = percentiles_ms(durations)
    waits = [r.sms_wait for r in record.renewals if r.sms_wait is not None]
    if waits:
        steps["sms_code"] = percentiles_ms(waits)  # lookup POST sent → its code read from the SMS file
    slowest = sorted(
        (s for s in steps if s not in ("whole renewal",)), key=lambda s: steps[s].get("p99", 0), reverse=True
    )[:3]
    seconds = record.seconds
    return {
        "staff": record.staff,
        "window_s": round(seconds, 1),
        "completed": len(completed),
        "renewals_per_s": round(len(completed) / seconds, 2) if seconds else 0.0,
        "goal_per_s": GOAL_PER_SECOND,
        "started": len(record.renewals),
        "cut_at_window_end": sum(1 for r in record.renewals if r.outcome == "cut"),
        "late": sum(1 for r in record.renewals if r.outcome == "paid" and r.ended > seconds),
        "in_warmup": sum(1 for r in record.renewals if r.outcome == "paid" and r.ended < 0),
        "plates_ran_out": record.pool_exhausted,
        "errors": len(errors),
        "error_list": errors[:50],
        "http_statuses": dict(sorted(record.statuses.items())),
        "requests": sum(record.statuses.values()),
        "steps_ms": steps,
        "slowest_steps": slowest,
        "client_cpu_s": round(record.client_cpu_s, 2),
        # The client's CPU time over the window's wall time on all CPUs: its share of the machine.
        "client_cpu_share": round(record.client_cpu_s / (seconds * cpus), 3) if seconds else None,
        "machine_busy_share": None if record.machine_busy is None else round(record.machine_busy, 3),
        **capacity(record.cpu_by_role, len(completed)),
        "median_renewal_s": round(statistics.median(durations), 2) if durations else None,
        # What one renewal asks of the server: with the bare reference view's req/s (bench/run.py),
        # the ceiling this many requests per renewal would leave even if each cost no more than it.
        "requests_per_renewal": round(statistics.fmean(r.requests for r in completed), 1)
        if completed
        else None,
        "database": record.database,
    }


# ---------------------------------------------------------------- the machine


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, or None off Linux."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


ROLES = ("web", "tasks", "database", "redis", "client", "other")


def _role(pid: int, client: int) -> str:
    """Which part of the system a process is: gunicorn (the web workers and their master), a task
    worker (`db_worker`), PostgreSQL (the server and every backend), Redis, this client, or other."""
    if pid == client:
        return "client"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "other"
    if b"gunicorn" in command:
        return "web"
    if b"db_worker" in command:
        return "tasks"
    if name == "postgres" or command.startswith(b"postgres"):
        return "database"
    if name.startswith("redis-server"):
        return "redis"
    return "other"


def process_cpu() -> dict[str, float] | None:
    """CPU seconds (user + system) used so far by every process on the machine, summed by role
    (`_role`), or None off Linux. A process's own time plus the time of its children that have ended
    (cutime, cstime): when a backend or a replaced gunicorn worker ends within a window, its time
    moves to its parent's count, so the difference of two readings still holds it. A process that
    both starts and ends between two readings is counted in its parent's."""
    try:
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    client = os.getpid()
    totals = dict.fromkeys(ROLES, 0.0)
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # ended since the listing: its time is in its parent's count
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
        used = sum(int(x) for x in fields[11:15]) / tick  # utime, stime, cutime, cstime
        totals[_role(pid, client)] += used
    return totals


def capacity(cpu_by_role: dict[str, float] | None, completed: int) -> dict:
    """The CPU seconds one renewal cost in the window, by role and in all, and how many cores a rate
    of GOAL_PER_SECOND renewals would keep fully busy (the client's own share left out: in the
    renewal week it runs on the staff's phones)."""
    if not cpu_by_role or not completed:
        return {}
    per_renewal = {role: round(seconds / completed, 4) for role, seconds in cpu_by_role.items()}
    server = sum(seconds for role, seconds in cpu_by_role.items() if role != "client") / completed
    return {
        "cpu_s_by_role": {role: round(seconds, 2) for role, seconds in cpu_by_role.items()},
        "cpu_s_per_renewal": per_renewal,
        "server_cpu_s_per_renewal": round(server, 4),
        "cores_for_goal": {
            role: round(GOAL_PER_SECOND * seconds / completed, 2)
            for role, seconds in cpu_by_role.items()
            if role != "client"
        },
        "server_cores_for_goal": round(GOAL_PER_SECOND * server, 1),
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process: the whole client
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def workers(env: dict[str, str], count: int, logs: Path):
    """`count` task workers (`manage.py db_worker`, as campuspass-worker@N runs them) with the
    server's environment; stopped (SIGTERM, then SIGKILL after 20 s) whatever happens."""
    procs = []
    try:
        for n in range(count):
            handle = open(logs / f"flow-worker-{n}.log", "ab")  # noqa: SIM115 - closed below
            procs.append(
                (
                    subprocess.Popen(  # noqa: S603
                        [
                            sys.executable,
                            "manage.py",
                            "db_worker",
                            "--no-reload",
                            "--interval",
                            "0.1",
                            "--no-startup-delay",
                            "--worker-id",
                            f"bench-flow-{n}",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                    ),
                    handle,
                )
            )
        # Ready when each says so (Django set up, polling the queue): the window must not pay for
        # their start-up, as production's workers are up long before the first staff member.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            logs_now = [(logs / f"flow-worker-{n}.log").read_text(errors="replace") for n in range(count)]
            if all("Starting worker" in text for text in logs_now):
                break
            if any(proc.poll() is not None for proc, _ in procs):
                raise RuntimeError(f"a task worker exited: {logs_now}")
            time.sleep(0.2)
        else:
            raise RuntimeError("the task workers did not start within 60 s")
        yield [p for p, _ in procs]
    finally:
        for proc, _ in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        deadline = time.monotonic() + 20
        for proc, handle in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            handle.close()


# ---------------------------------------------------------------- the database (this process)


def drop_queued_tasks() -> int:
    """Tasks queued before the flow (the SMS of wrk's plate lookups, the deliveries of the
    notifications bench/notify.py posted itself): not the flow's work, dropped before its workers
    start. Returns how many."""
    from django_tasks_db.models import DBTaskResult

    deleted, _ = DBTaskResult.objects.filter(status="READY").delete()
    return deleted


def queue_busy() -> int:
    """Tasks ready now or running."""
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.ready().count() + DBTaskResult.objects.running().count()


def check_database(site: str, orders: list[int], paid_by_client: list[int], since) -> dict:
    """The orders the window made, as the database has them once the queue has drained: statuses,
    how each paid order's payment arrived (the notification, or the result page's query), every
    order the result page called paid that is not, the payment notifications still not delivered
    and the tasks (enqueued `since` the window began) that failed."""
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    from campuspass.payments.models import SimNotification
    from campuspass.renewals.models import Payment, RenewalOrder

    statuses = dict(
        RenewalOrder.objects.filter(pk__in=orders).values_list("status").annotate(n=Count("id")).order_by()
    )
    sources = dict(
        Payment.objects.filter(order_id__in=orders, state="applied")
        .values_list("source")
        .annotate(n=Count("id"))
        .order_by()
    )
    paid = set(RenewalOrder.objects.filter(pk__in=paid_by_client, status="paid").values_list("pk", flat=True))
    undelivered = SimNotification.objects.filter(
        kind="payment", acknowledged=False, dropped=False, url__startswith=site + "/"
    )  # the flow's (bench/notify.py's own go to another address and are posted by it)
    tasks = DBTaskResult.objects.filter(enqueued_at__gte=since)
    failed = [
        f"{path.rsplit('.', 1)[-1]}: {exception or 'failed'}"
        for path, exception in tasks.failed().values_list("task_path", "exception_class_path")
    ]
    return {
        "orders": len(orders),
        "statuses": statuses,
        "payments_applied_by": sources,
        "notifications_undelivered": undelivered.count(),
        "not_paid": sorted(set(paid_by_client) - paid),
        "tasks": {
            path.rsplit(".", 1)[-1]: n
            for path, n in tasks.values_list("task_path").annotate(n=Count("id")).order_by()
        },
        "tasks_failed": failed,
    }


# ---------------------------------------------------------------- one window


def run_level(
    site: str,
    staff: int,
    seconds: float,
    pool: PlatePool,
    sms,
    *,
    warmup: float = 0.0,
    think: tuple[float, float] = (0.0, 0.0),
) -> LevelRecord:
    """K = `staff` concurrent staff: `warmup` seconds to fill the pipeline (every staff member under
    way, the server saturated), then the measured window of `seconds`. Times are from the window's
    start (a renewal finished in the warm-up ends before 0); latency and statuses are the window's,
    but an error in the warm-up is still an error. Every thread ends by itself (bounded join)."""
    from bench.generate import mobile_of, plate_of
    from bench.soak import Failed, StaffClient, Stats

    stats = Stats()
    stop = threading.Event()
    record = LevelRecord(staff=staff, seconds=seconds)
    lock = threading.Lock()
    started_at = time.monotonic() + warmup
    clock = lambda: time.monotonic() - started_at  # noqa: E731

    def loop() -> None:
        while not stop.is_set():
            row = pool.take()
            if row is None:
                return  # the reserved block is used up: said in the summary (started < expected)
            begun = clock()
            client = StaffClient(
                row,
                plate_of(row),
                mobile_of(row),
                site,
                True,
                stats,
                sms,
                stop,
                behaviour="normal",
                think=think,
                sms_wait=SMS_WAIT_SECONDS,
                resends=0,
            )
            try:
                client.run()
                if "支付成功" in client.result_text:
                    outcome, error = "paid", ""
                else:
                    outcome, error = "error", "the result page did not say 支付成功"
            except Failed as exc:
                outcome, error = ("cut", "") if stop.is_set() else ("error", str(exc))
            except Exception as exc:  # a broken client is an error of the run, listed
                outcome, error = "error", f"{type(exc).__name__}: {exc}"
            with lock:
                record.renewals.append(
                    Renewal(
                        row,
                        begun,
                        clock(),
                        outcome,
                        client.order,
                        error[:300],
                        client.sms_wait_s,
                        client.requests,
                    )
                )

    threads = [threading.Thread(target=loop, name=f"flow-staff-{n}", daemon=True) for n in range(staff)]
    for thread in threads:
        thread.start()
    while clock() < 0 and any(thread.is_alive() for thread in threads):
        time.sleep(min(0.2, -clock()))
    with stats.lock:  # the window's latency and statuses from here; the warm-up's retries are kept
        warm_statuses = Counter(stats.status)
        stats.latency.clear()
        stats.status.clear()
    cpu_before, machine_before, roles_before = _own_cpu(), _cpu_times(), process_cpu()
    while clock() < seconds and any(thread.is_alive() for thread in threads):
        time.sleep(min(0.2, max(0.0, seconds - clock())))
    if clock() < seconds:  # every thread ended early: the reserved plates are used up
        record.seconds = max(clock(), 0.001)
        record.pool_exhausted = True
    record.client_cpu_s = _own_cpu() - cpu_before
    machine_after, roles_after = _cpu_times(), process_cpu()
    if roles_before is not None and roles_after is not None:
        record.cpu_by_role = {role: max(0.0, roles_after[role] - roles_before[role]) for role in ROLES}
    if machine_before and machine_after and machine_after[1] > machine_before[1]:
        record.machine_busy = (machine_after[0] - machine_before[0]) / (machine_after[1] - machine_before[1])
    stop.set()
    deadline = time.monotonic() + JOIN_SECONDS
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    with stats.lock:
        record.latency = {k: list(v) for k, v in stats.latency.items()}
        record.statuses = Counter(stats.status)
        record.retried = [
            f"{status} answered (tried again)" for status, n in (stats.status + warm_statuses).items()
            for _ in range(n) if status in ("502", "503", "504") or not status.isdigit()
        ]  # fmt: skip
    return record


def measure(
    site: str,
    env: dict[str, str],
    rows: Iterable[int],
    *,
    levels: list[int],
    seconds: float,
    warmup: float,
    worker_count: int,
    logs: Path,
) -> dict:
    """Every K in `levels` in turn against the server at `site`, with `worker_count` task workers;
    the database is read in this process (Django set up with the server's settings)."""
    from django.db import connections
    from django.utils import timezone

    from bench.soak import SmsBox

    dropped = drop_queued_tasks()
    connections.close_all()
    sms_file = Path(env.get("SMS_FILE_PATH") or Path(env["CAMPUSPASS_VAR_DIR"]) / "sms.jsonl")
    sms = SmsBox(sms_file)
    sms.offset = sms_file.stat().st_size if sms_file.exists() else 0  # the codes wrk asked for: not ours
    sms.thread.start()
    pool = PlatePool(rows)
    cpus = os.cpu_count() or 1
    results = []
    try:
        with workers(env, worker_count, logs):
            for staff in levels:
                since = timezone.now()
                record = run_level(site, staff, seconds, pool, sms, warmup=warmup)
                started = time.monotonic()
                while time.monotonic() - started < DRAIN_SECONDS and queue_busy():
                    time.sleep(0.5)
                orders = [r.order for r in record.renewals if r.order]
                paid = [r.order for r in record.renewals if r.outcome == "paid" and r.order]
                record.database = check_database(site, orders, paid, since)
                record.database["drain_s"] = round(time.monotonic() - started, 1)
                connections.close_all()
                figure = summarise(record, cpus)
                results.append(figure)
                print(
                    f"flow K={staff:3d}: {figure['completed']} renewals in {figure['window_s']} s = "
                    f"{figure['renewals_per_s']}/s, errors {figure['errors']}, client CPU "
                    f"{figure['client_cpu_share']:.0%} of the machine, steps p99 "
                    + ", ".join(f"{s} {figure['steps_ms'][s]['p99']} ms" for s in figure["slowest_steps"]),
                    flush=True,
                )
                for line in figure["error_list"][:5]:
                    print(f"    {line}", flush=True)
    finally:
        sms.stop.set()
        sms.thread.join(timeout=5)
    return {
        "levels": results,
        "window_s": seconds,
        "warmup_s": warmup,
        "task_workers": worker_count,
        "plates_used": pool.taken,
        "queued_tasks_dropped_before": dropped,
        "client": "Python threads (bench.soak.StaffClient, requests), one per simulated staff member",
        "think_time_s": 0,
        "sms_wait_limit_s": SMS_WAIT_SECONDS,
        "settings_raised": {"VERIFICATION_DAILY_SMS_BUDGET": BUDGET},
    }
