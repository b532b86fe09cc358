"""Dashboard benchmark: a year with 100,000 renewal orders in a fresh SQLite database (bulk_create),
then the time of the dashboard's selector (campaign_dashboard) and its number of queries. Writes
bench/dashboard.json. Target: under 1 s on the 2-core reference machine, a constant number of
queries.

    .venv/bin/python bench/dashboard_bench.py [--orders 100000] [--out bench/dashboard.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_SECONDS = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "dashboard.json"))
    options = parser.parse_args()

    var = tempfile.mkdtemp(prefix="campuspass-dashbench-")
    os.environ["CAMPUSPASS_VAR_DIR"] = var
    os.environ["DJANGO_SETTINGS_MODULE"] = "campuspass.settings.dev"
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from campuspass.registry.models import Pass, Staff, Vehicle
    from campuspass.renewals.models import Campaign, Refund, RenewalOrder
    from campuspass.renewals.selectors_dashboard import campaign_dashboard

    call_command("migrate", verbosity=0)
    n = options.orders
    rng = random.Random(2019)
    start = time.perf_counter()
    now = timezone.now()
    campaign = Campaign.objects.create(
        year=2019,
        previous_year=2018,
        product_name="2019年医学部机动车通行证",
        price_fen=15000,
        window_start=now - dt.timedelta(days=7),
        window_end=now + dt.timedelta(days=1),
        valid_from=timezone.localdate(),
        valid_to=timezone.localdate() + dt.timedelta(days=365),
    )
    batch = 5000
    Staff.objects.bulk_create(
        (
            Staff(staff_no=f"B{i:07d}", name=f"职工{i}", mobile=f"139{i:08d}", status="active")
            for i in range(n)
        ),
        batch_size=batch,
    )
    staff_ids = list(Staff.objects.order_by("pk").values_list("pk", flat=True))
    Vehicle.objects.bulk_create(
        (
            Vehicle(plate=f"京{chr(65 + i // 100000)}{i % 100000:05d}", owner_id=sid)
            for i, sid in enumerate(staff_ids)
        ),
        batch_size=batch,
    )
    vehicle_ids = list(Vehicle.objects.order_by("pk").values_list("pk", "plate"))
    Pass.objects.bulk_create(
        (
            Pass(year=2018, number=f"YXB2018{i:06d}", vehicle_id=vid, holder_id=sid, review_status="approved")
            for i, ((vid, _), sid) in enumerate(zip(vehicle_ids, staff_ids, strict=True))
        ),
        batch_size=batch,
    )
    pass_ids = list(Pass.objects.order_by("pk").values_list("pk", flat=True))
    statuses = [
        ("approved", 55),
        ("paid", 12),
        ("pending_payment", 3),
        ("closed", 15),
        ("rejected", 5),
        ("refunding", 2),
        ("refunded", 7),
        ("refund_failed", 1),
    ]
    population = [s for s, w in statuses for _ in range(w)]

    def order(i: int) -> RenewalOrder:
        status = rng.choice(population)
        created = campaign.window_start + dt.timedelta(seconds=rng.randrange(8 * 86400))
        paid = status not in ("pending_payment", "closed")
        return RenewalOrder(
            campaign=campaign,
            previous_pass_id=pass_ids[i],
            staff_id=staff_ids[i],
            vehicle_id=vehicle_ids[i][0],
            plate=vehicle_ids[i][1],
            status=status,
            validity=rng.choice(["not_yet", "in_use"]) if status == "approved" else "",
            amount_fen=15000,
            paid_amount_fen=15000 if paid else 0,
            paid_at=created + dt.timedelta(minutes=3) if paid else None,
            out_trade_no=f"CPB{i:010d}",
            transaction_id=f"4200B{i:020d}" if paid else None,
            fulfilment="delivery" if rng.random() < 0.2 else "pickup",
            handed_out_at=now if status == "approved" and rng.random() < 0.4 else None,
            created_at=created,
        )

    RenewalOrder.objects.bulk_create((order(i) for i in range(n)), batch_size=batch)
    refund_orders = RenewalOrder.objects.filter(
        status__in=["refunding", "refunded", "refund_failed"]
    ).values_list("pk", "status")
    refund_status = {"refunding": "processing", "refunded": "succeeded", "refund_failed": "failed"}
    Refund.objects.bulk_create(
        (
            Refund(
                order_id=pk,
                out_refund_no=f"RB{pk:010d}",
                amount_fen=15000,
                status=refund_status[s],
                reason="审核未通过",
            )
            for pk, s in refund_orders
        ),
        batch_size=batch,
    )
    setup_seconds = time.perf_counter() - start

    timings = []
    for _ in range(options.runs):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            board = campaign_dashboard(campaign)
            timings.append(time.perf_counter() - t0)
    result = {
        "orders": board.total_orders,
        "queries": len(queries.captured_queries),
        "seconds_median": round(statistics.median(timings), 4),
        "seconds_max": round(max(timings), 4),
        "runs": options.runs,
        "target_seconds": TARGET_SECONDS,
        "ok": statistics.median(timings) <= TARGET_SECONDS,
        "setup_seconds": round(setup_seconds, 1),
        "database": connection.vendor,
        "backlog": board.backlog,
        "days": len(board.days),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    Path(options.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    connection.close()
    shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
