"""Registry import benchmark (`make bench`): generate a 100,000-row registry as CSV and XLSX, import
each into a fresh SQLite database in a child process, and write rows/s and peak memory to a JSON
file. Targets on the 2-core reference machine: CSV ≤ 10 s, XLSX ≤ 30 s, peak RSS ≤ 400 MB."""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campuspass.settings.dev")
TARGETS = {"csv": {"seconds": 10, "peak_rss_mb": 400}, "xlsx": {"seconds": 30, "peak_rss_mb": 400}}


def make_files(rows: int, folder: Path, kinds: tuple[str, ...] = ("csv", "xlsx")) -> dict[str, Path]:
    import django

    django.setup()
    from openpyxl import Workbook

    from campuspass.demo.loader import generate_registry

    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"registry-{rows}.csv"
    xlsx_path = folder / f"registry-{rows}.xlsx"
    if not csv_path.exists():
        generate_registry(csv_path, rows=rows, year=2018, seed=rows)
    if "xlsx" in kinds and not xlsx_path.exists():  # a 1,000,000-row workbook takes minutes
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("通行证")
        with open(csv_path, encoding="utf-8-sig", newline="") as handle:
            for record in csv.reader(handle):
                sheet.append(record)
        workbook.save(xlsx_path)
    return {kind: path for kind, path in (("csv", csv_path), ("xlsx", xlsx_path)) if kind in kinds}


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run a child process (its listing of rows goes nowhere: the report file has it); return
    (seconds, peak RSS in MB, exit code), measured by bench/peak.py (the child's own peak, not this
    process's size inherited at exec). The child's CPU seconds (user + system) are kept in
    `run_child.cpu`: on a shared machine they move less with the load than the wall clock."""
    from bench.peak import measured

    run = measured(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    run_child.cpu = run["cpu_seconds"]
    return run["seconds"], run["peak_rss_mb"], run["exit_code"]


def bench_one(kind: str, path: Path, rows: int, database_url: str | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="campuspass-bench-") as var:
        env = {**os.environ, "CAMPUSPASS_VAR_DIR": var, "DJANGO_SETTINGS_MODULE": "campuspass.settings.dev"}
        env.pop("DATABASE_URL", None)
        if database_url:  # PostgreSQL: the given database, emptied before each run
            env["DATABASE_URL"] = database_url
        python = sys.executable
        _, _, code = run_child([python, "manage.py", "migrate", "-v0", "--noinput"], env)
        if code:
            raise SystemExit(f"migrate failed ({code})")
        if database_url:
            _, _, code = run_child([python, "manage.py", "flush", "-v0", "--noinput"], env)
            if code:
                raise SystemExit(f"flush failed ({code})")
        report_path = Path(var) / "report.json"
        seconds, rss, code = run_child(
            [python, "manage.py", "import_passes", str(path), "--no-progress", "--report", str(report_path)],
            env,
        )
        if code:
            raise SystemExit(f"import of {path} failed ({code})")
        report = json.loads(report_path.read_text())
    target = TARGETS[kind]
    return {
        "file": path.name,
        "rows": rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(run_child.cpu, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "rows_per_second": round(rows / seconds),
        "peak_rss_mb": round(rss, 1),
        "imported": report["imported"],
        "rejected": len(report["rejected"]),
        "target_seconds": target["seconds"],
        "target_peak_rss_mb": target["peak_rss_mb"],
        "within_targets": seconds <= target["seconds"] and rss <= target["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--data", default=str(ROOT / "bench" / "data"))
    parser.add_argument(
        "--pg", help="a PostgreSQL DATABASE_URL to import into (emptied first) instead of SQLite"
    )
    parser.add_argument("--kinds", default="csv,xlsx", help="which files: csv, xlsx or both")
    options = parser.parse_args()
    files = make_files(options.rows, Path(options.data), tuple(options.kinds.split(",")))
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "database": "PostgreSQL, emptied per run" if options.pg else "SQLite (WAL), fresh per run",
        "imports": {kind: bench_one(kind, path, options.rows, options.pg) for kind, path in files.items()},
    }
    Path(options.out).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    for kind, item in results["imports"].items():
        print(
            f"{kind}: {item['rows']} 行 {item['seconds']} s（{item['rows_per_second']} 行/秒），"
            f"峰值内存 {item['peak_rss_mb']} MB，{'达标' if item['within_targets'] else '未达标'}"
        )
    print(f"结果已写入 {options.out}")


if __name__ == "__main__":
    main()
