"""Does a 100,000-row registry import stop the world? (`make bench-import-concurrency`)

For SQLite (and PostgreSQL with --pg ADMIN_URL): a fresh database with the demo loaded and a few
orders waiting for payment; then a child process imports a generated 100,000-row registry while this
process keeps doing what staff and WeChat Pay do meanwhile, each in its own short transaction:
- an OTP request (`verification.otp.request_code`: throttles, code row, SMS outbox), and
- a payment notification (the simulator confirms a payment; its signed notification is POSTed to
  /pay/notify/payment/ through Django's test client: verify, decrypt, apply to the order).
It records each one's latency during the import (and before it, as the baseline) and writes
bench/import_concurrency.json. Numbers, not a pass/fail test: the decision is in docs/decisions/0021.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _stats(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(values),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def prober(env: dict, rows_file: Path, orders: int) -> dict:
    """Runs in this process after the environment points at the benchmark database."""
    os.environ.update(env)
    import django

    django.setup()
    from django.test import Client

    from campuspass.payments.simulator import bank
    from campuspass.registry.models import Pass
    from campuspass.renewals.models import Campaign, RenewalOrder
    from campuspass.renewals.services.orders import NotEligible, order_create, order_record_consent
    from campuspass.renewals.services.payments import payment_start
    from campuspass.verification import otp
    from campuspass.verification.models import IdPhoto

    campaign = Campaign.objects.order_by("-year").first()
    passes = list(
        Pass.objects.filter(year=campaign.previous_year, review_status=Pass.ReviewStatus.APPROVED)
        .select_related("vehicle", "holder")
        .order_by("pk")[: 3 * orders + 400]
    )
    pending = []
    for permit in passes[: 3 * orders]:
        if len(pending) >= orders:
            break
        try:
            order = order_create(
                plate=permit.vehicle.plate,
                campaign=campaign,
                id_photo=IdPhoto.objects.create(key=uuid.uuid4().hex, plate=permit.vehicle.plate),
            )
        except NotEligible:
            continue
        order_record_consent(
            order=order,
            consent_version=campaign.current_consent(),
            ip_address="127.0.0.1",
            user_agent="bench",
        )
        payment_start(order=order, openid="oBENCH" + uuid.uuid4().hex[:20])
        pending.append(order.out_trade_no)
    otp_plates = [(p.vehicle.plate, p.holder.mobile) for p in passes[3 * orders :]] or [
        (p.vehicle.plate, p.holder.mobile) for p in passes
    ]
    client = Client(HTTP_HOST="127.0.0.1")

    def one_otp(i: int) -> float:
        plate, phone = otp_plates[i % len(otp_plates)]
        start = time.perf_counter()
        otp.request_code(
            plate=plate,
            phone_on_file=phone,
            session_key=uuid.uuid4().hex,
            ip=f"127.0.{i // 250 % 250}.{i % 250 + 1}",
            purpose="renew",
        )
        return time.perf_counter() - start

    def one_notification(out_trade_no: str) -> float:
        bank.confirm_payment(out_trade_no)
        note = bank.SimNotification.objects.filter(kind="payment").latest("pk")  # the one just queued
        start = time.perf_counter()
        response = client.post(
            "/pay/notify/payment/",
            note.body,
            content_type="application/json",
            headers=bank.signed_headers(note.body),
        )
        elapsed = time.perf_counter() - start
        if response.status_code not in (200, 204):
            raise SystemExit(f"notification refused: {response.status_code} {response.content[:200]!r}")
        return elapsed

    baseline = {
        "otp": [one_otp(i) for i in range(20)],
        "notification": [one_notification(pending.pop()) for _ in range(5)],
    }
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "import_passes", str(rows_file), "--no-progress"],
        env={**os.environ},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    during = {"otp": [], "notification": []}
    started = time.perf_counter()
    i = 100
    while child.poll() is None and time.perf_counter() - started < 600:
        during["otp"].append(one_otp(i))
        i += 1
        if pending:
            during["notification"].append(one_notification(pending.pop()))
        time.sleep(0.05)
    import_seconds = time.perf_counter() - started
    if child.wait(timeout=600) != 0:
        raise SystemExit("the import failed")
    paid = RenewalOrder.objects.filter(status=RenewalOrder.Status.PAID).count()
    return {
        "import_seconds": round(import_seconds, 1),
        "orders_paid_during_and_before": paid,
        "baseline": {k: _stats(v) for k, v in baseline.items()},
        "during_import": {k: _stats(v) for k, v in during.items()},
    }


def run_engine(engine: str, rows_file: Path, orders: int, pg_admin: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="campuspass-bench-") as var:
        env = {
            "CAMPUSPASS_VAR_DIR": var,
            "DJANGO_SETTINGS_MODULE": "campuspass.settings.dev",
            "SMS_BACKEND": "locmem",
            "PAYMENT_PROVIDER": "simulator",
        }
        db_name = None
        if engine == "postgresql":
            db_name = f"cp_bench_{os.getpid()}"
            subprocess.run(["psql", f"{pg_admin}/postgres", "-qc", f"create database {db_name}"], check=True)  # noqa: S607
            env["DATABASE_URL"] = f"{pg_admin}/{db_name}"
        else:
            os.environ.pop("DATABASE_URL", None)
        full = {**os.environ, **env}
        try:
            for command in (["migrate", "-v0", "--noinput"], ["load_demo"]):
                subprocess.run(
                    [sys.executable, "manage.py", *command],
                    env=full,
                    cwd=ROOT,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )  # noqa: S603
            # One probe process per engine: Django is set up once per process.
            out = subprocess.run(  # noqa: S603
                [sys.executable, __file__, "--probe", str(rows_file), "--orders", str(orders)],
                env=full,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            if out.returncode:
                raise SystemExit(f"probe failed:\n{out.stderr[-3000:]}")
            return json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            if db_name:
                subprocess.run(
                    [
                        "psql",
                        f"{pg_admin}/postgres",
                        "-qc",
                        f"drop database if exists {db_name} with (force)",
                    ],
                    check=False,
                )  # noqa: S607


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument(
        "--pg", help="PostgreSQL admin URL without database, e.g. postgres://postgres@127.0.0.1:5432"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "import_concurrency.json"))
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.probe:
        print(json.dumps(prober({}, Path(options.probe), options.orders)))
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "campuspass.settings.dev")
    from bench.import_bench import make_files

    rows_file = make_files(options.rows, ROOT / "bench" / "data")["csv"]
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": options.rows,
        "engines": {"sqlite": run_engine("sqlite", rows_file, options.orders, None)},
    }
    if options.pg:
        results["engines"]["postgresql"] = run_engine("postgresql", rows_file, options.orders, options.pg)
    Path(options.out).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    for engine, item in results["engines"].items():
        print(engine, json.dumps(item, ensure_ascii=False))


if __name__ == "__main__":
    main()
