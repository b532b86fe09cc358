"""docs/performance.md and its plots, written by bench/run.py from bench/results.json (quick size)
and bench/results-full.json (full size), or again from both by `python bench/report.py`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def plots(result: dict, folder: Path, prefix: str = "") -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    web = result["web"]
    names = list(web)
    files = []
    if (result.get("flow") or {}).get("levels"):
        files.append(flow_plot(result["flow"], folder, prefix))
    if not names:
        return files
    height = max(4, 0.28 * len(names))
    fig, axes = plt.subplots(1, 2, figsize=(13, height), sharey=True)
    y = range(len(names))
    axes[0].barh(y, [web[n]["ratio_bare"] or 0 for n in names], color="#4a7ab5", label="× bare JSON (a)")
    axes[0].barh(
        y, [web[n]["ratio_pk"] or 0 for n in names], color="#e0a040", alpha=0.6, label="× pk + template (b)"
    )
    axes[0].axvline(0.5, color="grey", linestyle=":", linewidth=1)
    axes[0].set_xlabel("throughput relative to the reference views")
    axes[0].legend(loc="lower right")
    axes[1].barh(y, [web[n]["p99_ms"] for n in names], color="#b54a4a", label="p99")
    axes[1].barh(y, [web[n]["p50_ms"] for n in names], color="#4ab56a", label="p50")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("latency (ms, log scale)")
    axes[1].legend(loc="lower right")
    axes[0].set_yticks(list(y))
    axes[0].set_yticklabels([n.encode("ascii", "replace").decode() for n in names], fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle(f"CampusPass web figures, {result['generated']['passes']:,} passes ({result['size']})")
    fig.tight_layout()
    path = folder / f"{prefix}web.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    files.append(path.name)

    rounds = {n: [r["rps"] for r in web[n]["rounds"]] for n in names}
    refs = {
        "bare": [r["rps"] for n in names for r in web[n]["bare"]["rounds"]],
        "pk": [r["rps"] for n in names for r in web[n]["pk"]["rounds"]],
    }
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(refs["bare"], label="reference (a) bare JSON, every round", color="#4a7ab5")
    ax.plot(refs["pk"], label="reference (b) pk + template, every round", color="#e0a040")
    ax.set_ylabel("req/s")
    ax.set_xlabel("round (in measuring order)")
    ax.set_title("Reference views through the run: drift shows the shared machine's load")
    ax.legend()
    fig.tight_layout()
    path = folder / f"{prefix}references.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    files.append(path.name)
    del rounds

    runs = result.get("notifications") or []
    if runs:
        fig, ax = plt.subplots(figsize=(10, 3.5))
        for n, run in enumerate(runs, 1):
            points = run.get("schedule") or []
            ax.plot([p[0] for p in points], [p[1] for p in points], ".", markersize=3, label=f"run {n}")
        ax.axhline(100, color="grey", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("scheduled send time (s)")
        ax.set_ylabel("latency from schedule (ms)")
        ax.set_title(
            f"Payment notifications, open loop at {runs[0]['rate_per_s']:.0f}/s (goal p99 <= 100 ms)"
        )
        ax.legend()
        fig.tight_layout()
        path = folder / f"{prefix}notifications.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files.append(path.name)
    return files


def flow_plot(flow: dict, folder: Path, prefix: str = "") -> str:
    """Renewals/s per number of staff against the goal, and each step's p50/p99 at the largest K."""
    import matplotlib.pyplot as plt

    levels = flow["levels"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1, 2]})
    labels = [f"{level['staff']} staff" for level in levels]
    axes[0].bar(labels, [level["renewals_per_s"] for level in levels], color="#4a7ab5")
    axes[0].axhline(levels[0]["goal_per_s"], color="#b54a4a", linestyle=":", label="goal")
    axes[0].set_ylabel("completed renewals / s")
    axes[0].legend()
    last = levels[-1]
    steps = [s for s in last["steps_ms"] if s != "whole renewal"]
    y = range(len(steps))
    axes[1].barh(y, [last["steps_ms"][s]["p99"] for s in steps], color="#b54a4a", label="p99")
    axes[1].barh(y, [last["steps_ms"][s]["p50"] for s in steps], color="#4ab56a", label="p50")
    axes[1].set_yticks(list(y))
    axes[1].set_yticklabels([s.encode("ascii", "replace").decode() for s in steps], fontsize=7)
    axes[1].invert_yaxis()
    axes[1].set_xscale("log")
    axes[1].set_xlabel(f"latency per step at {last['staff']} staff (ms, log scale)")
    axes[1].legend(loc="lower right")
    fig.suptitle("Whole renewal flow, closed loop (bench/flow.py)")
    fig.tight_layout()
    path = folder / f"{prefix}flow.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def _steps(level: dict) -> str:
    return "; ".join(
        f"{step} {level['steps_ms'][step]['p50']:.0f}/{level['steps_ms'][step]['p99']:.0f}"
        for step in level["slowest_steps"]
    )


def flow_lines(flow: dict) -> list[str]:
    """The whole renewal flow (bench/flow.py): one row per number of concurrent staff."""
    if not flow.get("levels"):
        return []
    lines = [
        "## Whole renewal flow (closed loop)",
        "",
        "`bench/flow.py`: K simulated staff at once, each renewing registry plates no one has used (its own",
        "plate, phone, delivery address and X-Forwarded-For address) through every page — plate lookup, SMS",
        "code read from the file SMS backend, 记录/续费/车主, photo upload, 提交订单, 知情同意书, 立即支付, the",
        "payment simulator's cashier, 支付结果 — with no pauses, and the next plate as soon as one is paid.",
        f"Same gunicorn as above, {flow['task_workers']} task workers (`db_worker`: the SMS outbox, the",
        "simulator's payment notifications, gate refreshes). Each number of staff runs"
        f" {flow.get('warmup_s', 0)} s of warm-up (every",
        "staff member under way) before its window; a renewal counts when its result page said",
        "支付成功 within the window and the database has the order paid once the queue drained; errors are",
        "any 5xx, refused connection, unexpected answer or missing SMS code, each listed in the JSON. Client",
        "CPU: the Python load generator's own CPU seconds over the window, as a share of the machine's",
        "two cores (it competes with the server); machine busy: all CPUs over the same window. `sms_code`:",
        "from the lookup POST to its code in the SMS file (the outbox task's queue wait and run). Ceiling:",
        "the bare reference view's req/s (no session) measured just before the flow"
        f" ({flow.get('reference_bare_rps') or '—'} req/s) over the requests one renewal makes — the rate",
        "the machine would allow if every page of the flow cost no more than that view.",
        "",
        "| staff | window s | renewals completed | renewals/s | goal | errors | slowest steps p50/p99 ms "
        "| whole renewal p50/p99 ms | requests per renewal | ceiling at (a) renewals/s | client CPU % "
        "| machine busy % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in flow["levels"]:
        whole = level["steps_ms"].get("whole renewal", {})
        busy = level.get("machine_busy_share")
        per = level.get("requests_per_renewal")
        bare = flow.get("reference_bare_rps")
        ceiling = f"{bare / per:.1f}" if bare and per else "—"
        lines.append(
            f"| {level['staff']} | {level['window_s']} | {level['completed']} | {level['renewals_per_s']} "
            f"| ≥ {level['goal_per_s']:.0f}/s | {level['errors']} | {_steps(level)} "
            f"| {whole.get('p50', '—')}/{whole.get('p99', '—')} | {per or '—'} | {ceiling} "
            f"| {level['client_cpu_share'] * 100:.0f} | {'—' if busy is None else f'{busy * 100:.0f}'} |"
        )
    lines += capacity_lines(flow)
    lines += ["", "In the database after each window (orders the window made):", ""]
    for level in flow["levels"]:
        db = level["database"]
        lines.append(
            f"- {level['staff']} staff: orders {db['statuses']}; payments applied by "
            f"{db['payments_applied_by']} (the result page's query comes first when the notification is "
            f"still queued); notifications not delivered {db['notifications_undelivered']}; "
            f"paid on the result page but not in the database: {len(db['not_paid'])}."
        )
    lines += [
        "",
        f"Settings raised for the benchmark only: {flow['settings_raised']} (the site's daily budget of",
        "verification SMS; the per-phone, per-plate, per-session and per-address limits are untouched:",
        "each renewal is another person). Tasks queued before the flow by the figures above",
        f"({flow['queued_tasks_dropped_before']}, wrk's lookups' SMS and bench/notify.py's deliveries) were dropped first.",
        "",
    ]
    return lines


CAPACITY_ROLES = (
    ("web", "web workers"),
    ("tasks", "task workers"),
    ("database", "PostgreSQL"),
    ("redis", "Redis"),
    ("other", "other"),
)


def capacity_lines(flow: dict) -> list[str]:
    """What one renewal costs in CPU, by part of the system, and the cores the goal's rate needs."""
    levels = [level for level in flow["levels"] if level.get("cpu_s_per_renewal")]
    if not levels:
        return []
    goal = levels[0]["goal_per_s"]
    lines = [
        "",
        "### What one renewal costs, and the cores the renewal week needs",
        "",
        "CPU seconds each part of the system spent in the window (user + system, from /proc: the",
        "gunicorn processes, the `db_worker` processes, every PostgreSQL process, Redis, the client, the",
        "rest), over the renewals completed in it; then the cores that part would keep fully busy at",
        f"{goal:.0f} renewals/s. The client is left out of the cores: in the renewal week it is the",
        "staff's phones. The seconds are this host's: a quicker core does the same renewal in fewer,",
        "so for a quicker host these cores are an upper bound (how quick each host was: the table of",
        "every full-size run near the top of this page).",
        "",
        "| staff | "
        + " | ".join(f"{label} CPU s" for _, label in CAPACITY_ROLES)
        + " | server CPU s per renewal | client CPU s | "
        + " | ".join(f"{label} cores" for _, label in CAPACITY_ROLES)
        + f" | server cores for {goal:.0f}/s |",
        "|---" * (2 * len(CAPACITY_ROLES) + 4) + "|",
    ]
    for level in levels:
        per, cores = level["cpu_s_per_renewal"], level["cores_for_goal"]
        lines.append(
            f"| {level['staff']} | "
            + " | ".join(f"{per.get(role, 0):.3f}" for role, _ in CAPACITY_ROLES)
            + f" | {level['server_cpu_s_per_renewal']:.3f} | {per.get('client', 0):.3f} | "
            + " | ".join(f"{cores.get(role, 0):.1f}" for role, _ in CAPACITY_ROLES)
            + f" | {level['server_cores_for_goal']} |"
        )
    return lines


def _import_table(runs: list[tuple[str, dict]]) -> list[str]:
    """One row per import run: (label, the run's `imports.csv` item of bench/import_bench.py)."""
    lines = [
        "| code | rows | wall s | CPU s (import process) | peak RSS MB | load average (1/5/15) |",
        "|---|---|---|---|---|---|",
    ]
    for label, item in runs:
        lines.append(
            f"| {label} | {item['rows']:,} | {item['seconds']} | {item.get('cpu_seconds', '—')} "
            f"| {item['peak_rss_mb']} | {item.get('load_average', '—')} |"
        )
    return lines


def import_pg_lines() -> list[str]:
    """The registry import on PostgreSQL (`make bench-import-pg`): bench/import_pg.json, and the
    figure before the COPY path (bench/import_pg_before.json) when it is there."""
    runs = []
    for label, name in (("before (multi-row INSERT … RETURNING, IN lists)", "import_pg_before.json"),
                        ("after (keys reserved + COPY, = ANY)", "import_pg.json")):  # fmt: skip
        path = ROOT / "bench" / name
        if path.exists():
            item = json.loads(path.read_text())["imports"]["csv"]
            runs.append((label, item))
    if not runs:
        return []
    lines = [
        "## Registry import on PostgreSQL (`make bench-import-pg`)",
        "",
        "A generated 100,000-row CSV imported with `manage.py import_passes` into an emptied PostgreSQL",
        "database (every row new: staff, vehicle, pass and audit entries). The import process's CPU",
        "seconds move less with the shared machine's load than its wall clock; both are shown.",
        "",
    ]
    lines += _import_table(runs)
    lines += [
        "",
        "Extrapolated to 1,000,000 rows (every step is per chunk and by index, so time is linear):",
        "about 115 s of the import process's CPU plus the server's own work — on a quiet machine",
        "roughly 2–4 minutes, not yet proven ≤ 2 min.",
        "",
    ]
    lines += import_pg_memory_lines()
    return lines


def import_pg_memory_lines() -> list[str]:
    """Peak memory and time by file size (issue 13, the import in bounded memory):
    bench/import_pg_{inmem,scratchonly,scratch,cpubase,cpu}-N.json, each written by
    `bench/import_bench.py --pg … --rows N --out …` (`make bench-import-pg BENCH_IMPORT_ROWS=N
    BENCH_IMPORT_PG_OUT=bench/import_pg_cpu-N.json`)."""
    runs = []
    for label, stem in (
        ("before: per-file maps in memory", "import_pg_inmem"),
        (
            "per-file maps in a scratch file (lookups still planned on the trigram index)",
            "import_pg_scratchonly",
        ),
        ("after: scratch file + B-tree lookups + ANALYZE as the tables grow", "import_pg_scratch"),
        (
            "the same code, run again just before the CPU cuts (same session as the next rows)",
            "import_pg_cpubase",
        ),
        (
            "after the CPU cuts: scratch file in one transaction, GC frozen, COPY text, fewer keys",
            "import_pg_cpu",
        ),
        (
            "after the lookups-only ANALYZE (this session; peak from bench/peak.py, a quiet machine)",
            "import_pg_analyze",
        ),
        (
            "a writer thread writes chunk N while N+1 is decided; keys in one statement (a busy machine)",
            "import_pg_writer",
        ),
        (
            "the writer thread + the audit log's plate and 工号 pattern indexes dropped (a busy machine)",
            "import_pg_auditidx",
        ),
        (
            "the writer thread + every pattern index no search uses dropped (29 → 23 B-tree entries a row)",
            "import_pg_indexes",
        ),
        ("+ each lookup key probed on its own (LATERAL … LIMIT 1)", "import_pg_lateral"),
        ("+ a 0.5 ms switch interval while the writer thread runs", "import_pg_switch"),
        (
            "the same code run again the next day on a quicker host (its CPU seconds: the same work in 56 %)",
            "import_pg_rerun",
        ),
        (
            "the same code again on a slower host (the bare view 1,525 req/s against 3,579: the same work"
            " in 103 s of CPU)",
            "import_pg_slowhost",
        ),
    ):
        for path in sorted(ROOT.glob(f"bench/{stem}-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
            runs.append((label, json.loads(path.read_text())["imports"]["csv"]))
    if not runs:
        return []
    lines = [
        "### Memory and time by file size (bounded memory)",
        "",
        "The import kept per-file maps in memory (the final values of each staff number, how many rows",
        "still use each key, the pass numbers and plates already accepted): about 1.2 KB per row, so",
        "about 1.3 GB at 1,000,000 rows. They now live in a scratch SQLite file per import",
        "(`registry/import_scratch.py`, decision 0032's addendum 2), read and written once per chunk:",
        "the peak RSS stays the same whatever the file's size, on PostgreSQL and SQLite alike.",
        "",
        "The same measurements found where the wall clock went (10–20× the import's CPU): PostgreSQL",
        "planned each chunk's `plate = ANY(…)` lookup on the plate's trigram GIN index (added for the",
        "admin search), whose pending list of fresh inserts every lookup scans — 1 to 4 s per chunk.",
        "The import now turns bitmap scans off for its session (GIN serves only those), so the lookups",
        "use the unique B-trees, and ANALYZEs the registry tables whenever it has doubled what the",
        "planner knew. Measured on the shared 2-core machine while other helpers' tests ran (load",
        "average 4–6): compare CPU and memory more than the wall clock. The scratch file has a price:",
        "the import process's CPU about doubled (10.8 → 22 s at 100,000 rows; a SQLite round trip per",
        "chunk and map, and three keys per row written in pass 1) — the next thing to cut.",
        "",
        "Cut next (decision 0032's addendum 3), profiled with py-spy at 100,000 rows: the scratch file",
        "ran in autocommit mode, so every row of an executemany was its own transaction (now one",
        "transaction for the file's life, never committed); the garbage collector took about an eighth",
        "of the CPU traversing Django's long-lived objects (now frozen for the import, the youngest",
        "generation collected every 50,000 allocations); COPY dumped the same timezone-aware timestamp",
        "seven times per row and wrapped every audit entry in a Jsonb object (now the text psycopg",
        "would send, prepared once or by `json.dumps`); the staff number's last row is its final values'",
        "row (no third key per row), only pass numbers and plates that more than one row uses go to the",
        "first-accepted table, and names and plates in Chinese take `cell_text`'s short way. The import",
        "process's CPU on this machine moves by tens of per cent with the load: the code before was run",
        "again in the same session for a fair comparison (28.5 s then, 22.3 s in the earlier session).",
        "",
    ]
    lines += _import_table(runs)
    lines += [
        "",
        "Not measured: the old code at 300,000 rows (stopped at 23,000 rows after about 3 minutes, about",
        "130 rows/s on the trigram plan; its memory grows as above), and 1,000,000 rows before the CPU",
        "cuts. At 1,000,000 rows after them (a busy machine: another helper's benchmark and test suite",
        "ran alongside) the import process used 116 s of CPU (0.12 ms per row, linear) — within the",
        "2-minute budget for its own CPU, but the wall clock was 536 s: the PostgreSQL backend used more",
        "CPU than the import (seen midway: 2 min 47 s against 1 min 32 s; about 30 index entries and 4",
        "foreign-key checks per row: trigram GIN indexes on staff and plates, ten indexes on the audit",
        "log) and the process waited for a core.",
        "Peak RSS was 223 MB: within 400 MB but not flat (151 MB at 300,000 rows). Pass 1 alone stays",
        "flat (117 MB at 1,000,000 rows, 118 MB at 300,000; the scratch file's cache is bounded), and a",
        "1,000,000-row dry run (pass 2 without writing) peaks at 153 MB with 90 s of CPU and 95 s wall:",
        "the growth is in what writing adds (COPY, journal, keys of written records) — not found yet.",
        "",
    ]
    return lines


def _row(name: str, f: dict) -> str:
    return (
        f"| {name} | {f['rps']:.0f} | {f.get('connections', '')} | {f['p50_ms']:.1f} | {f.get('p95_ms', 0):.1f} "
        f"| {f['p99_ms']:.1f} | {f['ratio_bare']} | {f['ratio_pk']} "
        f"| {f.get('statements', '')} | {f.get('status', '')} | {f['errors']} | {f.get('goal', '')} |"
    )


def _web(result: dict, name: str, key: str):
    return (result.get("web") or {}).get(name, {}).get(key, "—")


def _pair(before: dict, after: dict, name: str, key: str, unit: str = "") -> str:
    return f"{_web(before, name, key)}{unit} → {_web(after, name, key)}{unit}"


def fixes_table(result: dict, before: dict) -> list[str]:
    """One row per cause of issue 13 fixed on the web paths: what changed and what it bought."""
    searches = [
        "counter search: all kinds",
        "admin staff search: all kinds",
        "admin vehicle search: all kinds",
        "admin pass search: all kinds",
        "admin order search: all kinds",
    ]
    export_before = (before.get("exports") or {}).get("orders", {})
    export_csv = (result.get("exports") or {}).get("orders (CSV, streamed)", {})
    rows = [
        (
            "sessions in the database; the lookup saved its session twice",
            "`cached_db` sessions on Redis without key lookup or BEGIN/COMMIT per save; codes bound to a "
            "secret in the session, saved once (decision 0037)",
            f"lookup POST statements {_pair(before, result, 'plate lookup POST', 'statements')}; "
            "记录/续费/订单记录 GET 6/4/2 → 5/3/1 queries (no session query)",
            "`tests/perf/test_session_statements.py`; this run's in-process count",
        ),
        (
            "OTP throttles: UPDATE + re-read per counter (~20 round trips)",
            "counters created and locked by one upsert, counted by one UPDATE; budget and CAPTCHA one read; "
            "budget one upsert",
            "10 counters: 20+2 → 2 statements; lookup POST ×(b) "
            f"{_pair(before, result, 'plate lookup POST', 'ratio_pk')}",
            "same tests; wrk in alternating rounds",
        ),
        (
            "notifications: two transactions, savepoints around the nonce",
            "verify + record + apply in one transaction; nonce `ON CONFLICT DO NOTHING`",
            "30 → 24 statements, 2 → 1 commits per notification; open-loop p99 "
            f"{_notify(before)} → {_notify(result)} ms",
            "`tests/perf/test_notification_statements.py` (PostgreSQL); `bench/notify.py`",
        ),
        *[
            (
                "searches: OR across tables, `UPPER(col) LIKE '%q%'`, full counts" if i == 0 else "″",
                "separate indexed lookups, pg_trgm GIN for substrings, capped admin counts (decision 0038)"
                if i == 0
                else "″",
                f"{name}: p99 {_pair(before, result, name, 'p99_ms', ' ms')}, ×(b) {_pair(before, result, name, 'ratio_pk')}",
                "`tests/perf/test_search_plans.py` (EXPLAIN, no Seq Scan); wrk" if i == 0 else "″",
            )
            for i, name in enumerate(searches)
        ],
        (
            "dashboard: full scans of the orders per view",
            "board cached by the newest audit id (≤ 15 s under a stream of changes)",
            f"p99 {_pair(before, result, 'dashboard /office/', 'p99_ms', ' ms')}, "
            f"×(b) {_pair(before, result, 'dashboard /office/', 'ratio_pk')}",
            "`tests/backoffice/test_dashboard_cache.py`; wrk",
        ),
        (
            "orders export: whole .xlsx built before the first byte (HTTP 500 after 30 s)",
            "streamed CSV (`/office/exports/orders.csv`); .xlsx over 100,000 orders refused with a pointer to it",
            f"{export_before.get('status', '—')} after {export_before.get('seconds_median', '—')} s → "
            f"CSV {export_csv.get('status', '—')} in {export_csv.get('seconds_median', '—')} s "
            f"({export_csv.get('bytes', 0):,} bytes)",
            "`tests/backoffice/test_exports_streamed.py`; one client",
        ),
        (
            "one serial task worker",
            "several `campuspass-worker@N` per host, how many in README (≥ 2 per core in renewal weeks)",
            "1 / 2 / 4 workers: see `bench/queue.json` (`make bench-queue`)",
            "`bench/queue_bench.py`",
        ),
        # the second session's fixes (measured in-process at the full size; their HTTP figures above)
        (
            "the payment handler read the order twice and the ledger with two EXISTS",
            "the order locked once and handed to the ledger; one ledger read",
            "22 statements (was 24); one order read, one ledger read",
            "`tests/perf/test_notification_statements.py`",
        ),
        (
            "gate check: 8 statements (nonce INSERT committed, five registry reads)",
            "nonces in Redis, the plate in one query, SQL built once (decision 0039)",
            "2 reads; 24.5–26.8 → 3.5–6.1 ms per check in-process",
            "`tests/perf/test_gate_check_statements.py`",
        ),
        (
            "admin plate search for a tail (`0007`) at 1,000,000 plates: 690 ms",
            "statistics target 10,000 on the columns searched by substring (decision 0038 addendum)",
            "690 → 1.2 ms for the statement",
            "`tests/perf/test_search_plans.py`; EXPLAIN ANALYZE at full size",
        ),
        (
            "dashboard recomputed by a waiting person every 15 s under changes: 2.5–3.3 s at 500,000 orders",
            "a stale board shown while the task worker computes the next (decision 0040)",
            "views never pay the aggregates after the day's first",
            "`tests/backoffice/test_dashboard_cache.py`",
        ),
        (
            "退款管理 1,054 ms, admin pass list 898 ms, audit log 55 statements at full size",
            "page by key first, list indexes, JIT off, content types cached (decision 0040)",
            "165 ms, 80 ms, 6 statements (in-process, loaded machine)",
            "`tests/core/test_paging.py`, `tests/backoffice/test_audit_at_scale.py`",
        ),
        (
            "three gate-refresh tasks per renewal for orders without a pass",
            "an order asks for a refresh only once it has issued a pass",
            "5 → 2 tasks per renewal while the staff member renews",
            "`tests/gates/test_order_signals.py`; the flow's task count",
        ),
        (
            "import CPU doubled by the scratch file (22 s per 100,000 rows)",
            "scratch file in one transaction, GC frozen, COPY text prepared, fewer scratch keys (0032 addendum 3)",
            "28.5 → 14.4 s CPU per 100,000 rows (same session); 116 s at 1,000,000",
            "`make bench-import-pg`; `bench/import_pg_cpu-*.json`",
        ),
        # the third session's fixes (in-process at the full size unless said; HTTP figures above)
        (
            "a fresh or recycled gunicorn worker imported views and compiled templates on its first"
            " requests: 730–1,330 ms, every 2,000 requests per worker",
            "the master warms the application before it forks (decision 0043)",
            "first page in a fresh worker 40–145 ms (the database connection)",
            "`tests/core/test_warmup.py`",
        ),
        (
            "review queue / review order counted every paid order (10,849 of 10,879 pages read per view)",
            "the header counts in one statement stopping after 1,000 index entries (decision 0041)",
            "7 → 5 / 8 → 5 statements; SQL 57 → 11 / 81 → 23 ms",
            "`tests/perf/test_backoffice_screens.py`",
        ),
        (
            "退款管理: 16 statements (7 tab counts, the open tab counted twice), whole lists sorted",
            "one capped count statement for the tabs, partial indexes giving each tab its order",
            "16 → 6 statements; SQL 101 → 24 ms",
            "`tests/perf/test_backoffice_screens.py` (plans on PostgreSQL)",
        ),
        (
            "送证上门 read every pending delivery twice and drew them all (27,573: 10.2 s, 29 MB of HTML)",
            "ids and addresses for the buildings, the first 200 orders drawn, filters reach the rest",
            "10,209 → ~210 ms; 217 KB",
            "`tests/perf/test_backoffice_screens.py`",
        ),
        (
            "admin lists drew each row's checkbox through the widget templates and resolved each row's link",
            "`core/changelists.py` LightRowsMixin (same HTML, decision 0038 addendum 2)",
            "50-row page CPU 37.6–48.5 → 22.2–28.5 ms",
            "`tests/perf/test_search_statements.py`",
        ),
        (
            "searches sent lookups that could not match (names for plates and phones, 工号 for any text)",
            "each lookup only for text it can match; a plate's vehicles and a number's passes read once",
            "counter by plate 15 → 10 statements; admin by plate 11–13 → 7–8, by phone 12–14 → 8–9",
            "`tests/perf/test_search_statements.py`",
        ),
        (
            "approval read every pass number of the year to take the next (275,000 at this size)",
            "the campaign remembers the last number it issued; the next is read by key",
            "3 statements, none reading the year's numbers",
            "`tests/renewals/test_pass_numbers.py`",
        ),
        (
            "admin audit log: the action filter a DISTINCT over the whole log per page, the search"
            " `UPPER LIKE '%q%'` over five columns, a full count",
            "the catalogue's labels, exact plate / 工号 or action prefix by index, capped count",
            "no statement reads the whole log",
            "`tests/core/test_logentry_admin.py`",
        ),
        (
            "a renewal: 125 statements (session key cycled in 4, eligibility checked twice, order and terms"
            " read twice at 立即支付, the platform asked on every result view)",
            "one statement where there were several; the result page asks the platform only once the"
            " notification is 5 s late, at most every 5 s (decision 0042)",
            "125 → 93 statements per renewal; result page 19 → 1; in-process 400 → 316 ms per renewal",
            "`tests/perf/test_flow_statements.py`, `tests/selfservice/test_result_query.py`",
        ),
        (
            "gate check: 16 middleware and django-ninja for an HMAC-signed machine call; a new Redis"
            " client per cache operation",
            "answered right after SecurityMiddleware (same answers and headers); one Redis client per"
            " pool (decision 0039 addendum 2)",
            "CPU per check 1.41–2.20 → 0.82–1.44 ms; Python calls 3,116 → 1,504 (bare view 1,375)",
            "`tests/gates/test_check_fast_path.py`, `tests/core/test_redis_cache_client.py`",
        ),
        (
            "窗口领取 counted every pass waiting at the counter on every view and search (190,000 at full"
            " size: the page 19 req/s, 待领取名单 4 req/s)",
            "the header counts up to 999 in one statement, the list pages by key through a partial index",
            "counter 19 → 222 req/s, 待领取名单 4 → 57 req/s (full size, 32 connections)",
            "`tests/perf/test_backoffice_screens.py`",
        ),
        (
            "送证上门 read every pending address to find the buildings, then sorted",
            "the building kept on the order, counted and listed through an index by building",
            "no address read but the rows shown; no sort (plan test)",
            "`tests/backoffice/test_delivery.py`, `tests/perf/test_backoffice_screens.py`",
        ),
        (
            "admin searches: an OR of indexed conditions under ORDER BY … LIMIT walked the ordering index",
            "the matches found first in a LIMITed subquery (`core.paging.matching`)",
            "admin pass search by a phone's last 4 digits 246 → 51 ms in-process",
            "`tests/core/test_paging.py`",
        ),
        (
            "the import's peak memory seemed to grow with the registry (375–400 MB)",
            "measured from a small process (`bench/peak.py`): it was the benchmark's own size at exec",
            "100,000 rows beside the full-size registry: 149 MB",
            "`tests/bench/test_bench.py`",
        ),
        (
            "the import's ANALYZE as it grows the registry read every row (the searched columns' target 10,000)",
            "ANALYZE of the lookups' columns only",
            "1.1 → 0.18 s of server time per 100,000 rows",
            "`tests/registry/test_import_memory.py`",
        ),
        # the fourth session's fixes (in-process at the full size unless said; HTTP figures above)
        (
            "gate check: three round trips (gate row, plate rows, nonce) of 0.13–0.20 ms client CPU each;"
            " redis-py's Python reply parser",
            "gate row, plate rows and deny list in one statement (`core.compiled.rows_together`);"
            " `redis[hiredis]`; never-cache headers built once (decision 0039 addendum 3)",
            "CPU per check 0.94–1.00 → 0.56–0.61 ms (bare view 0.26–0.32); 1 statement per check",
            "`tests/gates/test_check_fast_path.py`, `tests/core/test_compiled.py`,"
            " `tests/core/test_redis_cache_client.py`",
        ),
        (
            "窗口领取 search drew 50 cards, each a whole hand-out form (a common name fills them)",
            "20 cards, and the page asks for a fuller plate, 工号 or phone",
            "name search 31–38 → 21–22 ms",
            "`tests/backoffice/test_counter.py`",
        ),
        (
            "送证清单 (print) read and drew every pending delivery, filtered by building in Python",
            "the building filter in SQL; at most 1,000 rows by building through the building index",
            "27,345 rows → 1,000 (page with its 1,000 rows 1.2 s in a browser)",
            "`tests/backoffice/test_delivery.py`",
        ),
        (
            "admin pass export form: a DISTINCT over every pass for its years",
            "the years from the year index's bounds (MIN, MAX)",
            "302 → 1 ms",
            "`tests/registry/test_admin.py`",
        ),
        # the fourth session: the import's server time (decision 0021's addendum)
        (
            "the import's CPU and the server's work (COPY, index entries, foreign-key checks at COMMIT)"
            " ran one after the other: 197 s at 1,000,000 rows, 71 s of it the import's CPU",
            "a writer thread writes chunk N on its own connection while N+1 is decided; each chunk still"
            " one transaction journalled before it commits",
            "100,000 rows in alternating rounds (load 5–7): 24.7 / 22.4 → 17.4 / 18.0 s",
            "`tests/registry/test_import_chunks.py`; `bench/import_pg_writer-1000000.json`",
        ),
        (
            "keys reserved by three statements a chunk, a row per key (1.1 s of server time per 100,000 rows)",
            "one statement, an array per table (`core/bulk.py` `reserve_keys_of`)",
            "100,000 keys in one array: 77 ms in psql",
            "`tests/core/test_bulk.py`, the import tests",
        ),
        (
            "29 B-tree entries per imported row, 6 of them in pattern indexes no search uses (audit log"
            " plate, 工号, one of action's two; staff number, mobile, plate)",
            "dropped (core 0005, registry 0008); every search keeps its index",
            "29 → 23 B-tree entries a row; 20,000 audit rows 372 → 307 ms in psql (the first two); server"
            " CPU at 1,000,000 rows 127 → 112 s (the other four; runs a session apart)",
            "`tests/core/test_logentry_admin.py`, `tests/perf/test_search_plans.py`",
        ),
        (
            "the import's lookups (`= ANY(1,000 keys)`) planned as whole-table scans and hash joins below"
            " a few hundred thousand rows: 5 → 60 ms a lookup, 53 s at 1,000,000 rows",
            "each key probed on its own: the keys as an array, LATERAL subquery with LIMIT 1",
            "lookups at 300,000 rows 13.8 → 2.3 s; 1,000,000 rows 160 → 151 s, server CPU 112 → 98 s",
            "`tests/registry/test_import_memory.py` (the plan)",
        ),
        (
            "the writer thread waited up to 5 ms for the interpreter after each wait for the server",
            "a 0.5 ms switch interval while the writer runs, restored after",
            "300,000 rows 41 → 38 s (two alternating rounds); 1,000,000 rows 151 → 138 s",
            "`tests/registry/test_import_chunks.py` (restored)",
        ),
        (
            "an import beside a large registry: its new year unknown to the statistics until it had written"
            " as many rows as the registry held; pass numbers then looked up through the (year, vehicle)"
            " index, filtering every row of the year so far",
            "the first ANALYZE of the lookups' columns after 5,000 rows written, whatever the registry's size",
            "100,000 rows beside the full-size registry: stalled (4 s a lookup; 310 s with an ANALYZE by hand"
            " midway) → 18 s",
            "`tests/registry/test_import_memory.py`",
        ),
        (
            "a fresh worker's first payment notification: the provider's modules imported and the simulator's"
            " key read on first use (227 ms); the notifications arriving meanwhile queued",
            "each app's own warm-up before the fork (`PaymentsConfig.warm_up`, decision 0043 addendum)",
            "first notification in a fresh worker 227 → 62 ms; full-size notification runs p99 197 → 32 / 32 ms",
            "`tests/core/test_warmup.py`",
        ),
        (
            "gunicorn replaced each worker after 2,000 requests: every few seconds at the gate check's rate,"
            " each new one connecting and planning its statements again",
            "10,000 (`GUNICORN_MAX_REQUESTS`, decision 0043 addendum 2)",
            "quick gate figure at 32 connections 945–1,014 → 1,406–1,422 req/s, p99 111–114 → 52–89 ms",
            "`deploy/gunicorn.conf.py`",
        ),
        # the fifth session (full size; HTTP figures from wrk against the same server, in-process otherwise)
        (
            "two users at once served by one worker in about half of the runs: the first gunicorn worker to"
            " call accept() took every connection, and keep-alive kept it there; two requests then shared one"
            " interpreter lock while the other core idled",
            "a new connection goes to the worker holding the fewest (`core/serving.py`, decision 0043"
            " addendum 3)",
            "admin pass search by a common name at 2 connections, wrk run again and again: p50 26–27 or 46–49"
            " ms (a coin toss) → 25–29 ms every run; searches' worst p95 132 → 56 ms in the full run",
            "`tests/core/test_serving.py` (a real gunicorn: two kept-alive connections, two processes)",
        ),
        (
            "a worker's full garbage collection walked the ~190,000 objects of the preloaded application:"
            " 70 ms each time",
            "the master freezes them out of the collector before each fork (`pre_fork`: `gc.freeze()`)",
            "the same collection in-process: 70 → under 1 ms",
            "`tests/core/test_serving.py` (a worker answers with objects frozen)",
        ),
        (
            "a search's 200 found keys sent as 200 parameters (`IN (%s, …)`), which psycopg re-parsed on"
            " every page (it keeps the parsed form only up to 50 parameters)",
            "one array parameter (`field__any` → `= ANY(%s)`, `core/lookups.py`, decision 0038 addendum 3);"
            " the same plans",
            "admin vehicle list by a common name 19.8 → 17.1 ms, pass list 26.6 → 24.9 ms (in-process, minimum"
            " of 20)",
            "`tests/core/test_lookups.py`, `tests/perf/test_search_plans.py`",
        ),
        (
            "the admin order list: a COUNT and a reversed-and-resolved link per row even when a search fits"
            " one page; one query per handed-out order for its new pass",
            "the registry lists' light change list; the new pass read with the orders",
            "order search by a pass number's digits 17 → 14 statements, 33 → 26 ms in-process",
            "`tests/renewals/test_order_admin.py`",
        ),
        (
            "every admin page drew the list of every model beside it (and the pass list's last three columns"
            " scrolled out of sight at 1280 px)",
            "no navigation sidebar (`admin.site.enable_nav_sidebar`); the breadcrumb's 首页 leads to the index",
            "pass list by a common name 21.6 → 20.3 ms CPU (median of 15, in-process), 9 KB less per page;"
            " full-size p50 32 → 28 ms (p95 56 → 58 ms: its tail did not move)",
            "`tests/registry/test_admin.py`",
        ),
        (
            "Django's `items_for_result` looked every column up again for each of a page's 550 cells and the"
            " template printed them one by one: a third of a 50-row admin page's CPU",
            "`{% light_result_list %}` (`core/changelists.py`): each column settled once per page, a cell's"
            " display once per distinct value, a row handed over as one string; the same HTML (decision 0038"
            " addendum 4)",
            "pass list by a common name 60.8 → 41.2 ms CPU (median of 60, in-process, a slower host); at 2"
            " connections 31–35 → 38–46 pages/s, p95 77–92 → 58–71 ms",
            "`tests/core/test_changelists.py`",
        ),
        # the sixth session (a host slower again: the bare view ~690 req/s against 1,403 and 3,579)
        (
            "the admin order list's date drill-down asked the searched queryset twice more (MIN/MAX of the"
            " creation times, then the distinct years, months or days): a search ran three times per page",
            "read from the page's rows when they are the whole result (`{% light_date_hierarchy %}`,"
            " decision 0038 addendum 5); the same context as Django's",
            "order list by 3 phones and 3 common names 70.6 → 62.7 ms wall, 52.7 → 49.0 ms CPU (median of"
            " 60 alternating rounds, in-process); 2 statements fewer",
            "`tests/core/test_changelists.py`",
        ),
    ]
    return [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]


def _import_rerun_note() -> str:
    """The 1,000,000-row import run again after the text-parameter change, when it was."""
    path = ROOT / "bench" / "import_pg_slowhost2-1000000.json"
    if not path.exists():
        return ""
    item = (json.loads(path.read_text()).get("imports") or {}).get("csv") or {}
    if not item.get("cpu_seconds"):
        return ""
    return (
        f" (one run after it: {item['seconds']:.0f} s, {item['cpu_seconds']:.0f} s of import CPU,"
        f" {item['peak_rss_mb']:.0f} MB; `bench/import_pg_slowhost2-1000000.json`)"
    )


def flow_open_lines(flow: dict) -> list[str]:
    levels = flow.get("levels") or []
    if not levels:
        return [
            "- **Not yet in the benchmark**: the whole renewal flow end to end (OTP read from the SMS file, photo,",
            "  consent, pay, notification) with concurrent staff; the issue's 3.1–3.5 renewals/s stands unmeasured here.",
        ]
    best = max(levels, key=lambda level: level["renewals_per_s"])
    if best["renewals_per_s"] >= best["goal_per_s"] and not any(level["errors"] for level in levels):
        return []
    return [
        f"- **Whole renewal flow**: at most {best['renewals_per_s']} renewals/s ({best['staff']} staff), "
        f"goal ≥ {best['goal_per_s']:.0f}/s with 0 errors; errors "
        + ", ".join(f"{level['errors']} at {level['staff']} staff" for level in levels)
        + " (see the table above)."
    ]


def _load(result: dict):
    load = (result.get("machine_before") or {}).get("load_average_1_5_15") or ["—"]
    return load[0]


def _notify(result: dict) -> str:
    runs = result.get("notifications") or []
    return " / ".join(str(run.get("p99_ms", "—")) for run in runs) or "—"


def measurement_lines(result: dict, folder: Path, prefix: str, title: str) -> list[str]:
    """One run's figures under `title` (level-2 heading; its parts level 3), plots prefixed."""
    images = plots(result, folder, prefix)
    m = result["machine_before"]
    after = result["machine_after"]
    g = result["generated"]
    loaded = m["shared_and_loaded"] or after["shared_and_loaded"]
    lines = [
        f"## {title}",
        "",
        f"- Measured at {result['measured_at']}, size **{result['size']}**: {g['passes']:,} passes, {g['orders']:,} orders,",
        f"  database {result['database']}, gunicorn {result['server']['gunicorn_workers']} workers"
        f"{' × ' + str(result['server']['gunicorn_threads']) + ' threads (deploy/gunicorn.conf.py)' if result['server'].get('gunicorn_threads') else ''}, "
        f"{result['load']['generator']} -c{result['load']['connections']}, {result['load']['rounds']} round(s) of "
        f"{result['load']['seconds_per_round']} s per figure.",
        f"- Machine: {m['cpus']} CPUs, Python {m['python']}, {m['system']}.",
        f"- Load average (1/5/15 min) before: {m['load_average_1_5_15']}, after: {after['load_average_1_5_15']}.",
    ]
    if loaded:
        lines += [
            "",
            "> **Measured under load.** The machine is shared (other engineers' test suites ran during the",
            "> run), so absolute figures are low and noisy. The ratios to the reference views, measured in",
            "> alternating rounds of the same run, are the figures to compare.",
        ]
    lines += [
        "",
        f"Generating the data took {g['total_seconds']} s ({', '.join(f'{k} {v} s' for k, v in g['seconds'].items())}); "
        f"the whole run {result['total_seconds']} s.",
        "",
        "### Web figures",
        "",
        "Throughput (req/s), wrk's connections, latency p50/p95/p99 (ms), throughput ratio to reference (a) the bare JSON view and",
        "(b) the one-primary-key-query view with a page-sized template, the number of SQL statements of one",
        "request (counted in-process), its status code, and wrk's error count (non-2xx/3xx, timeouts).",
        "The references are requested the way the figure is: with the office session for back-office",
        "pages and admin searches, without any session for the staff pages and the gate API.",
        "",
        "| figure | req/s | conns | p50 | p95 | p99 | × (a) | × (b) | statements | status | errors | goal |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    refs: dict[str, list[float]] = {}
    for f in result["web"].values():
        who = "anonymous" if f.get("role") == "anonymous" else "office session"
        refs.setdefault(f"reference (a) bare JSON ({who})", []).append(f["bare"]["rps"])
        refs.setdefault(f"reference (b) pk + template ({who})", []).append(f["pk"]["rps"])
    for name, values in sorted(refs.items()):
        if values:
            lines.append(
                f"| *{name}, median over the run* | {sorted(values)[len(values) // 2]:.0f} | | | | | | | | | | |"
            )
    for name, f in result["web"].items():
        lines.append(_row(name, f))
    lines += ["", *[f"![{name}](performance/{name})" for name in images], ""]
    if result.get("notifications"):
        lines += [
            "### Payment notifications (open loop)",
            "",
            "Signed and encrypted by the payment simulator's keys, posted on a fixed schedule by",
            "`bench/notify.py`; latency counts from each notification's scheduled time.",
            "",
            "| run | rate/s | sent | answered | p50 ms | p99 ms | max ms | statuses | errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for n, r in enumerate(result["notifications"], 1):
            lines.append(
                f"| {n} | {r['rate_per_s']:.0f} | {r['sent']} | {r['answered']} | {r['p50_ms']} | {r['p99_ms']} "
                f"| {r['max_ms']} | {r['statuses']} | {r['errors']} |"
            )
        lines.append("")
    if result.get("exports"):
        lines += [
            "### Exports (one client, whole file)",
            "",
            "| export | status | bytes | seconds (median) | max | failures |",
            "|---|---|---|---|---|---|",
        ]
        for kind, e in result["exports"].items():
            lines.append(
                f"| {kind} | {e['status']} | {e['bytes']:,} | {e['seconds_median']} | {e['seconds_max']} "
                f"| {'; '.join(e.get('failures', []))} |"
            )
        lines.append("")
    if result.get("import"):
        i = result["import"]
        lines += [
            "### Import beside the registry",
            "",
            f"{i['rows']:,} rows (CSV, next year's passes) imported with `manage.py import_passes` into the",
            f"benchmark database beside the generated registry: {i['seconds']} s ({i['rows_per_second']:,} rows/s),",
            f"peak RSS {i['peak_rss_mb']} MB, exit code {i['exit_code']}, imported {i.get('imported')}, rejected {i.get('rejected')}.",
            "",
        ]
        if i.get("note"):
            lines += [f"Note: {i['note']}.", ""]
        before = result.get("import_in_run")
        if before:
            lines += [
                f"In the run itself the import took {before['seconds']} s: {before.get('note', '')}.",
                "",
            ]
    lines += [
        line.replace("## Whole renewal flow", "### Whole renewal flow", 1)
        for line in flow_lines(result.get("flow") or {})
    ]
    return lines


def _figures(result: dict | None, prefix: str) -> list[dict]:
    return [f for name, f in ((result or {}).get("web") or {}).items() if name.startswith(prefix)]


# The figures each search goal is read from, by the start of their names.
SEARCH_GOALS = {
    "counter": ("counter search",),
    "admin": ("admin staff search", "admin vehicle search", "admin pass search", "admin order search"),
}


def _search_figures(result: dict | None, goal: str) -> list[dict]:
    return [f for prefix in SEARCH_GOALS[goal] for f in _figures(result, prefix)]


def _worst_p95(figures: list[dict]) -> float | None:
    return max((f.get("p95_ms") or f["p99_ms"] for f in figures), default=None)


def _goal_cells(result: dict | None) -> dict[str, str]:
    """What one run shows for each goal of the issue (— when it did not measure it)."""
    if not result:
        return {}
    web = result.get("web") or {}
    cells: dict[str, str] = {}

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    # the issue's row: the staff pages (GET); the lookup POST's goal is its statement count (next row)
    staff = [(n, web[n]) for n in ("home /m/",) if n in web]
    if staff:
        worst = min(f["ratio_pk"] or 0 for _, f in staff)
        cells["staff"] = (
            ", ".join(f"{n} ×(b) {f['ratio_pk']}" for n, f in staff) + f" — {verdict(worst >= 0.5)}"
        )
    if "plate lookup POST" in web and web["plate lookup POST"].get("statements"):
        n = web["plate lookup POST"]["statements"]
        cells["post"] = f"{n} statements — {verdict(n <= 12)}"
    levels = (result.get("flow") or {}).get("levels") or []
    if levels:
        best = max(levels, key=lambda level: level["renewals_per_s"])
        errors = sum(level["errors"] for level in levels)
        cells["flow"] = (
            " / ".join(f"{level['renewals_per_s']}/s at {level['staff']} staff" for level in levels)
            + f", {errors} errors — {verdict(best['renewals_per_s'] >= 40 and not errors)}"
        )
    notes = result.get("notifications") or []
    if notes:
        p99s = [run["p99_ms"] for run in notes]
        cells["notify"] = "p99 " + " / ".join(f"{v:.0f}" for v in p99s) + f" ms — {verdict(max(p99s) <= 100)}"
    for key in SEARCH_GOALS:
        figures = _search_figures(result, key)
        if figures:
            worst = _worst_p95(figures)
            cells[key] = f"worst p95 {worst:.0f} ms over {len(figures)} figure(s) — {verdict(worst <= 50)}"
    dashboards = [
        web[name] for name in ("dashboard /office/ (2 connections)", "dashboard /office/") if name in web
    ]
    if dashboards:  # the goal is read at 2 connections where measured (older runs: the run's connections)
        f = dashboards[0]
        cells["dashboard"] = (
            " · ".join(
                f"p50 {d['p50_ms']:.0f} / p95 {d.get('p95_ms') or d['p99_ms']:.0f} ms at {d.get('connections')} connections"
                for d in dashboards
            )
            + f" — {verdict((f.get('p95_ms') or f['p99_ms']) <= 200)}"
        )
    gate = next(iter(_figures(result, "gate check")), None)
    if gate:
        cells["gate"] = (
            f"×(a) {gate['ratio_bare']}, p99 {gate['p99_ms']:.0f} ms at {gate.get('connections')} connections"
            f" — {verdict((gate['ratio_bare'] or 0) >= 1.0 and gate['p99_ms'] <= 20)}"
        )
    return cells


GOALS = [
    ("staff", "staff pages ≥ 0.5× reference (b)"),
    ("post", "plate lookup POST ≤ 12 statements"),
    ("get", "record / 续费 / 订单记录 GET ≤ 6 queries"),
    ("flow", "whole renewal flow ≥ 40 renewals/s, 0 errors"),
    ("notify", "payment notifications p99 ≤ 100 ms in every run"),
    ("counter", "counter search p95 ≤ 50 ms at any size"),
    ("admin", "admin searches p95 ≤ 50 ms"),
    ("dashboard", "dashboard ≤ 200 ms at 500,000 orders"),
    ("import", "import 1,000,000 rows ≤ 2 min, peak RSS ≤ 400 MB"),
    ("gate", "gate check ≥ 1.0× bare, p99 ≤ 20 ms at 32 connections"),
]


def _when(text: str | None) -> dt.datetime:
    """A result file's measured_at (with its UTC offset) as an aware time; the epoch when unknown."""
    try:
        return dt.datetime.strptime(text or "", "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return dt.datetime.fromtimestamp(0, dt.UTC)


def import_goal_cell() -> str:
    """The largest PostgreSQL import measured after the fixes (bench/import_pg*.json)."""
    best = None
    for path in sorted((ROOT / "bench").glob("import_pg*.json")):
        if "before" in path.name or "inmem" in path.name or "scratchonly" in path.name:
            continue
        data = json.loads(path.read_text())
        item = (data.get("imports") or {}).get("csv")
        key = (item["rows"], _when(data.get("measured_at"))) if item else None
        if item and (best is None or key > best[2]):  # the most rows; of those the latest run
            best = (path.name, item, key)
    if best is None:
        return "—"
    name, item, _ = best
    ok = item["rows"] >= 1_000_000 and item["seconds"] <= 120 and item["peak_rss_mb"] <= 400
    verdict = "met" if ok else "**not met**" if item["rows"] >= 1_000_000 else "not shown at 1,000,000"
    cpu = f", {item['cpu_seconds']:.0f} s of import CPU" if item.get("cpu_seconds") else ""
    return (
        f"{item['rows']:,} rows: {item['seconds']:.0f} s{cpu}, {item['peak_rss_mb']:.0f} MB (`bench/{name}`)"
        f" — {verdict}"
    )


def notify_rerun_cell(cell: str, full: dict) -> str:
    """The notification runs of `bench/results-full-notify.json` (the gate figure and the
    notifications alone, `--only "gate check"`), beside the full run's when that file is of a later
    run at the same size."""
    path = ROOT / "bench" / "results-full-notify.json"
    if not path.exists():
        return cell
    data = json.loads(path.read_text())
    same_size = (data.get("generated") or {}).get("passes") == (full.get("generated") or {}).get("passes")
    if not same_size or _when(data.get("measured_at")) <= _when(full.get("measured_at")):
        return cell
    p99s = [run["p99_ms"] for run in data.get("notifications") or []]
    if not p99s:
        return cell
    verdict = "met" if max(p99s) <= 100 else "**not met**"
    return (
        f"{cell}; its own full-size run (`bench/results-full-notify.json`, {data.get('measured_at', '')[:16]}):"
        f" p99 {' / '.join(f'{v:.0f}' for v in p99s)} ms — {verdict}"
    )


def goals_lines(full: dict | None, quick: dict | None) -> list[str]:
    cells = {"full": _goal_cells(full), "quick": _goal_cells(quick)}
    if "notify" in cells["full"]:
        cells["full"]["notify"] = notify_rerun_cell(cells["full"]["notify"], full)
    fixed = {
        "get": "5 / 3 / 1 queries (`tests/perf/test_session_statements.py`) — met",
        "import": import_goal_cell(),
    }
    lines = [
        "## The issue's goals",
        "",
        "Each goal against the full-size run (1,000,000 passes, 500,000 orders) and the quick run, both",
        "on this shared 2-core machine (load averages with each run below). Speed figures move with the",
        "machine's load and with the host's speed, which changes between sessions (the next table);",
        "statement counts and the ratios to the reference views do not.",
        "",
        "| goal | full size | quick size |",
        "|---|---|---|",
    ]
    for key, goal in GOALS:
        if key in fixed:
            lines.append(f"| {goal} | {fixed[key]} | |")
        else:
            lines.append(f"| {goal} | {cells['full'].get(key, '—')} | {cells['quick'].get(key, '—')} |")
    return [*lines, ""]


FULL_RUNS = ROOT / "bench" / "full-runs.json"


def run_summary(result: dict) -> dict:
    """One full-size run in a line: the host's speed (the reference views' req/s, anonymous, at the
    run's connections) beside the figures that move with it."""
    web = result.get("web") or {}
    cells = _goal_cells(result)
    home = web.get("home /m/") or {}
    gate = next(iter(_figures(result, "gate check")), None) or {}
    levels = (result.get("flow") or {}).get("levels") or []
    costs = [level["server_cpu_s_per_renewal"] for level in levels if level.get("server_cpu_s_per_renewal")]
    notes = result.get("notifications") or []
    imported = result.get("import") or {}
    return {
        "measured_at": result.get("measured_at"),
        "bare_rps": (home.get("bare") or {}).get("rps"),
        "pk_rps": (home.get("pk") or {}).get("rps"),
        "connections": home.get("connections"),
        "staff_ratio_pk": home.get("ratio_pk"),
        "gate_rps": gate.get("rps"),
        "gate_ratio_bare": gate.get("ratio_bare"),
        "gate_p99_ms": gate.get("p99_ms"),
        "notify_p99_ms": max((run["p99_ms"] for run in notes), default=None),
        "counter_p95_ms": _worst_p95(_search_figures(result, "counter")),
        "admin_p95_ms": _worst_p95(_search_figures(result, "admin")),
        "flow_best_per_s": max((level["renewals_per_s"] for level in levels), default=None),
        "server_cpu_s_per_renewal": min(costs, default=None),
        "import_rows": imported.get("rows"),
        "import_seconds": imported.get("seconds"),
        "import_cpu_seconds": imported.get("cpu_seconds"),
        "goals_met": sum(1 for cell in cells.values() if cell.endswith("— met")),
        "goals_measured": len(cells),
    }


def remember_full_run(result: dict, path: Path = FULL_RUNS) -> list[dict]:
    """Add (or replace, by its measured_at) this full-size run's summary in `path`, oldest first."""
    runs = json.loads(path.read_text()) if path.exists() else []
    summary = run_summary(result)
    runs = [run for run in runs if run.get("measured_at") != summary["measured_at"]] + [summary]
    runs.sort(key=lambda run: _when(run.get("measured_at")))
    path.write_text(json.dumps(runs, ensure_ascii=False, indent=1) + "\n")
    return runs


def _cell(value, fmt: str = "{}") -> str:
    return "—" if value is None else fmt.format(value)


def full_runs_lines(path: Path = FULL_RUNS) -> list[str]:
    """Every full-size run so far, its host's speed beside the figures that follow it."""
    runs = json.loads(path.read_text()) if path.exists() else []
    if not runs:
        return []
    lines = [
        "## The same code on quicker and slower hosts",
        "",
        "Every full-size run so far (`bench/full-runs.json`, one line per run of `make bench-full`),",
        "oldest first. The machine is a shared virtual 2-core host, and its speed changes from one",
        "session to the next. The reference views' rates in the same run show how quick it was:",
        "(a) the bare JSON view and (b) one primary-key query with a template (anonymous, at the run's",
        "connections). The ratios to them hold from run to run; the absolute latencies and seconds follow",
        "the host. The code changed between runs too (each session's changes, docs/decisions).",
        "",
        "| run (UTC) | bare (a) req/s | pk (b) req/s | staff ×(b) | gate checks/s | gate ×(a) | gate p99 ms "
        "| notifications p99 ms | counter worst p95 ms | admin worst p95 ms | flow best renewals/s "
        "| server CPU s per renewal | import 100,000 rows s (CPU s) | goals met |",
        "|---" * 14 + "|",
    ]
    for run in runs:
        imported = (
            f"{run['import_seconds']:.0f} ({_cell(run.get('import_cpu_seconds'), '{:.0f}')})"
            if run.get("import_seconds") and run.get("import_rows") == 100_000
            else "—"
        )
        lines.append(
            f"| {(run.get('measured_at') or '')[:16].replace('T', ' ')} | {_cell(run.get('bare_rps'), '{:,.0f}')} "
            f"| {_cell(run.get('pk_rps'), '{:,.0f}')} | {_cell(run.get('staff_ratio_pk'))} "
            f"| {_cell(run.get('gate_rps'), '{:,.0f}')} | {_cell(run.get('gate_ratio_bare'))} "
            f"| {_cell(run.get('gate_p99_ms'), '{:.0f}')} | {_cell(run.get('notify_p99_ms'), '{:.0f}')} "
            f"| {_cell(run.get('counter_p95_ms'), '{:.0f}')} | {_cell(run.get('admin_p95_ms'), '{:.0f}')} "
            f"| {_cell(run.get('flow_best_per_s'))} | {_cell(run.get('server_cpu_s_per_renewal'), '{:.2f}')} "
            f"| {imported} | {run.get('goals_met')} of {run.get('goals_measured')} |"
        )
    return [*lines, ""]


def load_result(name: str) -> dict | None:
    path = ROOT / "bench" / name
    return json.loads(path.read_text()) if path.exists() else None


def write_report(result: dict, doc: Path, *, other: dict | None = None) -> None:
    """The page: a summary against the issue's goals, the full-size run and the quick run (whichever
    of them `result` and `other` are), the import, what the fixes bought, what is still open."""
    from bench.run import ISSUE_TABLE

    folder = doc.parent / "performance"
    runs = {r["size"]: r for r in (other, result) if r}
    full, quick = runs.get("full"), runs.get("quick")
    lines = [
        "# Performance (written by `make bench`)",
        "",
        "This page is generated by `bench/run.py` (issue 13) from `bench/results-full.json` (the",
        "full size: 1,000,000 passes, `make bench-full`) and `bench/results.json` (the quick size that",
        "`make bench` and CI run); do not edit it by hand. How to run it and what it measures is at the end.",
        "",
        *goals_lines(full, quick),
        *full_runs_lines(),
    ]
    if full:
        lines += measurement_lines(
            full, folder, "full-", f"Full size: {full['generated']['passes']:,} passes"
        )
    else:
        lines += [
            "## Full size",
            "",
            "Not run yet on this checkout: `make bench-full BENCH_DATABASE_URL=… BENCH_REDIS_URL=…` (below).",
            "",
        ]
    if quick:
        lines += measurement_lines(
            quick, folder, "", f"Quick size (`make bench`): {quick['generated']['passes']:,} passes"
        )
    lines += import_pg_lines()
    result = quick or full

    before_file = ROOT / "bench" / "results-before.json"
    before = json.loads(before_file.read_text()) if before_file.exists() else {}

    lines += [
        "## What issue 13's fixes bought",
        "",
        "Before: `bench/results-before.json` (the same quick benchmark on PostgreSQL, run on the code before",
        "the fixes, 2026-11-29 17:31 UTC); after: this run. Statement counts are exact (in-process, the same",
        "request); req/s and the ratios are from a shared, loaded machine and move by tens of per cent",
        "between runs — compare the ratios and the statements, not the absolute rates. The machine's load",
        f"average (1 min) at the start was {_load(before)} before and {_load(result)} in this run: the",
        "before-run was busier, which flatters the after-figures in absolute terms (not in the ratios).",
        "At the quick size (20,000 passes) a sequential scan is still cheap; the searches' and the",
        "dashboard's gains grow with the registry (the plans are what `tests/perf/` checks).",
        "",
        "| cause | change | before → after | how measured |",
        "|---|---|---|---|",
        *fixes_table(result, before),
        "",
        "The ID photo's cost was fixed with the photo document (decision 0031): decoded at the kept size",
        "(longer side 1600 px) with JPEG draft mode, no extra copies, no `optimize=True` — 131 → 35 ms of",
        "CPU per 3000×2000 upload (`bench/photo_upload.py`, median of 15, on the shared machine).",
        "",
        "## Causes still open",
        "",
        *[
            f"- **Export {kind}**: {'; '.join(e['failures'])}."
            for kind, e in (result.get("exports") or {}).items()
            if e.get("failures")
        ],
        "- **Import**: met on a quick host, not on slower ones. The same code took 89 s (52 s of import",
        "  CPU, 154 MB; `bench/import_pg_rerun-1000000.json`) on a host whose bare view ran 3,579 req/s,",
        "  177 s (103 s of import CPU, 159 MB; `bench/import_pg_slowhost-1000000.json`) on one that ran",
        "  1,525 req/s, and 304 s (209 s of import CPU, 154 MB; `bench/import_pg_slowhost2base-1000000.json`)",
        "  on the sixth session's host (about 690 req/s). The 2 minutes hold only where a core does the work",
        "  at the quicker speed. What is left is work, not waiting: the import's CPU (a CPU profile at",
        "  100,000 rows: reading and parsing about a third, deciding a chunk a quarter, building the COPY",
        "  rows a tenth), plus the server's COPY into four tables with 23 B-tree entries and three trigram",
        "  GIN insertions per row, the foreign-key checks at COMMIT, and 5 GB of WAL. The chunk's keys now",
        "  go to the server as one text parameter (psycopg quoted a 1,000-key list in Python, about 1.5 ms",
        "  a lookup): about 3 % of the CPU in four alternated pairs at 100,000 rows (means 22.4 → 21.6 s),",
        f"  within the host's noise at 1,000,000{_import_rerun_note()}.",
        "- **The import's memory**: what looked like memory growing with the registry (375–400 MB beside",
        "  1,000,000 passes, 146 MB into an empty database) was the measurement: a child started from the",
        "  benchmark's process is charged at exec with that process's resident set (`ru_maxrss`), and",
        "  the benchmark holds the generated registry's bookkeeping. Measured from a small process",
        "  (`bench/peak.py`, now how both import benchmarks measure) or `/usr/bin/time`, 100,000 new",
        "  passes beside the full-size registry peak at 146–149 MB (`tests/bench/test_bench.py`; 10.6 s",
        "  in this full run).",
        *flow_open_lines(result.get("flow") or {}),
        "- **Where a renewal's time goes**: 93 statements per renewal (was 125; `tests/perf/",
        "  test_flow_statements.py` is the budget of every step); a renewal is 18 requests plus the",
        "  result page's reloads while the notification comes. The flow now measures what a renewal costs",
        "  (the table under the flow, decision 0045): about 0.5–0.6 CPU-seconds of the servers on the sixth",
        "  session's host, two thirds of it in the web workers (building SQL from querysets is the largest",
        "  part, then the eligibility check each step repeats), a sixth in PostgreSQL, a tenth in the task",
        "  workers. 40 renewals/s would keep 20–24 such cores busy: the goal is a deployment of several app",
        '  hosts (README, "How many cores"), not two shared cores.',
        "- **Gate check**: ×(a) 0.56–0.79 in every full run since the check was rebuilt (decision 0039),",
        "  whatever the host (table above): 358–2,125 checks/s, p99 39–203 ms at 32 connections. The goal",
        "  is ≥ 1.0× and ≤ 20 ms. The bare view",
        "  touches neither PostgreSQL nor Redis. A check makes one statement (the gate row, the plate's rows",
        "  and the deny list together) and the nonce's SET. It sends no health-check `SELECT 1`: the",
        "  compiled read is its own check and is sent again on a new connection if the kept one has gone",
        "  (decision 0044 addendum). In-process its own Python is lean (no single function above a few",
        "  per cent of a check); the difference to the bare view is the two round trips and the servers'",
        "  CPU on the same two cores. Answering without them means caching the registry or the gate row",
        "  between requests, which decision 0039 refuses (a revoked key or a refund must count on the next",
        "  check). The bare view's own p99 at 32 connections was 24–47 ms on the quicker hosts, so p99",
        "  ≤ 20 ms for the check looks out of reach here.",
        "- **Searches**: every statement is an index read, a first page that holds the whole result is",
        "  not counted again, each new connection goes to the least-loaded worker, and an admin list's",
        "  rows are drawn once per column and distinct value (decision 0038 addendum 4). The admin order",
        "  list's date drill-down is now read from such a page instead of searching twice more (addendum",
        "  5): its ratios to the references rose by a quarter to a half from the run before (by phone ×(a)",
        "  0.132 → 0.177, by name 0.096 → 0.122, by plate 0.153 → 0.245), where the counter's, unchanged,",
        "  stayed level (by phone 0.158 → 0.167). The worst p95 follows the host (table above): counter",
        "  23–28 ms and admin 56–58 ms on the quicker hosts, 52 / 78 ms on one at 1,403 req/s, 100 / 148 ms",
        "  on the sixth session's host at 690 req/s. The searches that fill a page (a common name, a phone",
        "  tail) cost most: their pages are Django's ORM and templates, whose Python is the time.",
        "- **The quick size on the same slow host** (`bench/results-quick-slowhost.json`, 12:23 UTC, not",
        "  the quick run on this page: its 'what the fixes bought' compares with a before-run on a quicker",
        "  host): with 20,000 passes instead of 1,000,000 the same goals failed (notifications p99 543 ms,",
        "  counter worst p95 54 ms, admin 65 ms) while the quick run above met them (19, 18, 25 ms; the",
        "  bare view 3,578 req/s against 1,095). The misses follow the host, not the registry's size; the",
        "  searches' ratios to the bare view were as high or higher (counter ×(a) 0.18 → 0.21, admin",
        "  orders 0.15 → 0.25 with the date drill-down read from the page).",
        "- **Payment notifications on a slow host**: p99 14–42 ms in the runs on quicker hosts; on the",
        "  sixth session's host (about 690 req/s) the 50 notifications a second queued from the first",
        "  second on (p50 362 ms, p99 1.9 s, every one answered 200): there the two cores could not verify,",
        "  record and apply 50 a second. Sizing as for the flow: more app hosts behind nginx.",
        "- **Delivery screen**: 26 req/s at 32 connections with 27,345 pending deliveries (lists 200 under",
        "  their buildings, through `order_delivery_building_idx`); the printed list holds 1,000 at most.",
        "- **Exports at full size**: the fulfilment .xlsx of ~275,000 approved orders 49–66 s, the registry's",
        "  passes .xlsx 42–63 s, the streamed orders CSV 18–25 s (86 MB) in the last three full runs: nginx",
        "  gives these downloads 5 minutes (gunicorn's threaded workers have no per-request timeout).",
        "",
        "## Not measured yet",
        "",
        *[f"- {item}" for item in result.get("not_measured_yet", [])],
        "",
        "## The issue's measured table (before; 1,000,000 passes, PostgreSQL, same machine)",
        "",
        "| path | measured (issue 13) | goal |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in ISSUE_TABLE],
        "",
        "## How to run",
        "",
        "```",
        "make bench                     # --quick size on a fresh SQLite file (a few minutes)",
        ".venv/bin/python bench/run.py --quick --only flow --out /tmp/flow.json --doc /tmp/flow.md   # the flow alone",
        "make bench-full BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/cp13 BENCH_REDIS_URL=redis://127.0.0.1:6379/13",
        "```",
        "",
        "`BENCH_DATABASE_URL` is **wiped** first (schema `public` dropped). The server is gunicorn with",
        "`bench.settings` (production settings, DEBUG off, whitenoise, plain HTTP on 127.0.0.1, one",
        "trusted proxy so each simulated client has its own X-Forwarded-For address) and `bench.urls`",
        "(the product's URLs plus the two reference views, which exist only there). The load generator is",
        "wrk with `bench/wrk/request.lua` (rotating paths, bodies and client addresses): a C event loop",
        "leaves the two cores to the server, where a Python client would compete with it. Each figure is",
        "measured in rounds alternating reference (a), reference (b) and the figure itself; the ratios use",
        "the same rounds. Searches rotate through spellings of rows spread over the registry (plate as",
        "stored, lower case, with a space, without the province, tail only; names; whole and partial staff",
        "numbers; whole phones and last four digits) and missing values.",
        "",
    ]
    doc.write_text("\n".join(lines))


def write_default() -> None:
    """docs/performance.md from both committed runs (`python bench/report.py`)."""
    quick, full = load_result("results.json"), load_result("results-full.json")
    main_result = quick or full
    if main_result is None:
        raise SystemExit("no bench/results.json or bench/results-full.json yet: run make bench first")
    write_report(main_result, ROOT / "docs" / "performance.md", other=full if quick else None)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) > 1:  # one result file, e.g. an experiment's: python bench/report.py x.json [doc]
        doc = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "performance.md"
        write_report(json.loads(Path(sys.argv[1]).read_text()), doc)
    else:
        write_default()
