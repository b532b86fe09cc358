"""Benchmark data: a registry of N passes (one staff member, one vehicle, one pass each, last
year's) and M renewal orders for this year's campaign, written straight into the tables.

PostgreSQL: COPY (psycopg's `cursor.copy`, rows streamed, no per-row statement). SQLite:
`executemany` of one short INSERT inside one transaction. Both paths fill every column the way
Django would (field defaults, auto_now), so the rows are indistinguishable from imported ones;
indexes stay in place (the point is to measure with them).

Values are derived from the row number, so they are unique without bookkeeping and the benchmark
can name present and missing people, plates, staff numbers and phones without reading them back:
see `plate_of`, `staff_no_of`, `mobile_of`, `name_of`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections.abc import Callable, Iterable

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from campuspass.renewals.buildings import building_of

PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国志红文辉"
DEPARTMENTS = ["基础医学院", "药学院", "公共卫生学院", "护理学院", "医学人文学院", "后勤党委", "图书馆"]
# Order statuses with their share (per 100) of the generated orders.
ORDER_MIX = [
    ("approved", 55),
    ("paid", 12),
    ("pending_payment", 3),
    ("closed", 15),
    ("rejected", 5),
    ("refunding", 2),
    ("refunded", 7),
    ("refund_failed", 1),
]
MAX_PASSES = len(PLATE_LETTERS) * 100_000
# Statuses a reviewer has decided (approved, or rejected and then refunded or not).
DECIDED = {"approved", "rejected", "refunding", "refunded", "refund_failed"}
BUILDINGS = ["行政", "教学", "科研", "实验", "图书馆", "附属医院门诊", "附属医院住院部", "基础医学"]


def address_of(i: int) -> str:
    """A campus address of the kind staff type in (building first: the delivery screen groups by it)."""
    return f"{BUILDINGS[i % len(BUILDINGS)]}{i % 9 + 1}号楼{i % 6 + 1}层{100 + i % 40}室"


def handover_of(status: str, fulfilment: str, i: int) -> tuple[str, bool]:
    """An approved order's place on the fulfilment axis (decision 0034), spread as in the week after
    review: at the counter 待领取 or 已领取, to deliver 待送证 or 已送达; "" before approval. Returns
    (fulfilment_status, handed over)."""
    if status != "approved":
        return "", False
    if fulfilment == "delivery":
        return ("delivered", True) if i % 10 < 4 else ("to_deliver", False)
    return ("collected", True) if i % 10 < 3 else ("to_collect", False)


def plate_of(i: int) -> str:
    """京 + letter + five digits: 2.4 million distinct plates."""
    return f"京{PLATE_LETTERS[i // 100_000]}{i % 100_000:05d}"


def staff_no_of(i: int) -> str:
    return f"{20_000_000 + i}"


def mobile_of(i: int) -> str:
    return f"13{i:09d}"


def name_of(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // len(SURNAMES)) % len(GIVEN)] + GIVEN[i % 7]


def _columns(model: type[Model]) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _write(model: type[Model], rows: Iterable[dict], now: dt.datetime) -> int:
    """Write dicts (attname -> value) as rows of `model`; missing columns get the field default
    (auto_now/auto_now_add: `now`). Returns the number of rows."""
    fields = _columns(model)
    names = [f.column for f in fields]
    fillers: list[tuple[str, Callable[[], object]]] = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            fillers.append((f.attname, lambda: now))
        else:  # the field's default; "" for a blank text field, None for a nullable one
            default = f.get_default()
            fillers.append((f.attname, (lambda d=default: d)))
    # SQLite stores dates and times as text in Django's format; PostgreSQL takes them as they are.
    adapters = [None] * len(fields)
    if connection.vendor != "postgresql":
        for n, f in enumerate(fields):
            kind = f.get_internal_type()
            if kind == "DateTimeField":
                adapters[n] = connection.ops.adapt_datetimefield_value
            elif kind == "DateField":
                adapters[n] = connection.ops.adapt_datefield_value
    adapt = [(n, a) for n, a in enumerate(adapters) if a]

    def tuples():
        for row in rows:
            values = [row[a] if a in row else fill() for a, fill in fillers]
            for n, a in adapt:
                values[n] = a(values[n])
            yield tuple(values)

    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(n) for n in names)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # noqa: S608
                for values in tuples():
                    copy.write_row(values)
                    count += 1
        else:
            marks = ", ".join(["%s"] * len(names))
            sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"  # noqa: S608
            batch: list[tuple] = []
            for values in tuples():
                batch.append(values)
                if len(batch) >= 10_000:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
    return count


def _first_id(model: type[Model], **where) -> int:
    """The primary key of the first generated row (rows are generated in order, ids ascend)."""
    return model.objects.filter(**where).order_by("pk").values_list("pk", flat=True).first()


def settle_postgresql() -> None:
    """Leave the freshly written tables as a registry in service is, before anything is measured:
    vacuumed (visibility map and hint bits set, as autovacuum leaves them: index-only scans work and
    the first reads do not write) and analysed, then checkpointed, so that the first figures do not
    pay for flushing the generator's gigabytes of dirty buffers. Inside a transaction (the test
    suite) VACUUM cannot run: ANALYZE only. CHECKPOINT needs a superuser or pg_checkpoint."""
    from django.db import DatabaseError

    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute("ANALYZE")
            return
        cursor.execute("VACUUM (ANALYZE)")
        # Not allowed for every role: then the server checkpoints on its own time.
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")


def generate(*, passes: int, orders: int, campaign, seed: int = 2019) -> dict:
    """Fill the registry (last year = campaign.previous_year) and this campaign's orders. The
    tables must not hold registry rows yet (the benchmark migrates a fresh database)."""
    from campuspass.registry.models import Pass, Staff, Vehicle
    from campuspass.renewals.models import Payment, Refund, RenewalOrder

    if passes > MAX_PASSES:
        raise ValueError(f"at most {MAX_PASSES} passes")
    if orders > passes:
        raise ValueError("at most one order per pass")
    if Staff.objects.exists():
        raise ValueError("the registry is not empty: generate into a fresh database")
    rng = random.Random(seed)
    now = timezone.now()
    year = campaign.previous_year
    timings = {}
    with transaction.atomic():
        t0 = time.perf_counter()
        _write(
            Staff,
            (
                {
                    "staff_no": staff_no_of(i),
                    "name": name_of(i),
                    "department": DEPARTMENTS[i % len(DEPARTMENTS)],
                    "mobile": mobile_of(i),
                    "status": "active",
                }
                for i in range(passes)
            ),
            now,
        )
        staff0 = _first_id(Staff)
        timings["staff"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _write(
            Vehicle,
            (
                {"plate": plate_of(i), "vehicle_type": "小型汽车", "color": "白色", "owner_id": staff0 + i}
                for i in range(passes)
            ),
            now,
        )
        vehicle0 = _first_id(Vehicle)
        timings["vehicles"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _write(
            Pass,
            (
                {
                    "year": year,
                    "number": f"YXB{year}{i:07d}",
                    "vehicle_id": vehicle0 + i,
                    "holder_id": staff0 + i,
                    "review_status": "approved",
                    "valid_from": dt.date(year, 7, 1),
                    "valid_to": dt.date(year + 1, 6, 30),
                    "source": "import",
                }
                for i in range(passes)
            ),
            now,
        )
        pass0 = _first_id(Pass)
        timings["passes"] = time.perf_counter() - t0
        population = [s for s, w in ORDER_MIX for _ in range(w)]
        statuses = [rng.choice(population) for _ in range(orders)]
        span = max(int((now - campaign.window_start).total_seconds()), 60)
        # Approval issues the new year's pass (renewals.services.orders.order_approve): one per
        # approved order, numbered as the approvals number them, in order.
        t0 = time.perf_counter()
        approved = [i for i, status in enumerate(statuses) if status == "approved"]
        prefix = f"{campaign.pass_number_prefix}{campaign.year}"
        _write(
            Pass,
            (
                {
                    "year": campaign.year,
                    "number": f"{prefix}{k + 1:05d}",
                    "vehicle_id": vehicle0 + i,
                    "holder_id": staff0 + i,
                    "review_status": "approved",
                    "valid_from": campaign.valid_from,
                    "valid_to": campaign.valid_to,
                    "source": "renewal",
                }
                for k, i in enumerate(approved)
            ),
            now,
        )
        if approved:  # what the approvals would have left on the campaign (orders._next_pass_number)
            type(campaign).objects.filter(pk=campaign.pk).update(
                last_pass_number=f"{prefix}{len(approved):05d}"
            )
        first = _first_id(Pass, year=campaign.year) if approved else 0
        new_pass_of = {i: first + k for k, i in enumerate(approved)}
        timings["new passes"] = time.perf_counter() - t0
        t0 = time.perf_counter()

        def order(i: int) -> dict:
            status = statuses[i]
            created = campaign.window_start + dt.timedelta(seconds=rng.randrange(span))
            paid = status not in ("pending_payment", "closed")
            fulfilment = "delivery" if i % 5 == 0 else "pickup"
            handover, handed_out = handover_of(status, fulfilment, i)
            return {
                "campaign_id": campaign.pk,
                "previous_pass_id": pass0 + i,
                "staff_id": staff0 + i,
                "vehicle_id": vehicle0 + i,
                "plate": plate_of(i),
                "channel": "online",
                "status": status,
                "validity": "not_yet" if status == "approved" else "",
                "amount_fen": campaign.price_fen,
                "out_trade_no": f"CPB{i:012d}",
                "paid_at": created + dt.timedelta(minutes=2) if paid else None,
                "fulfilment": fulfilment,
                "delivery_address": address_of(i) if fulfilment == "delivery" else "",
                "delivery_building": building_of(address_of(i)) if fulfilment == "delivery" else "",
                "fulfilment_status": handover,
                "new_pass_id": new_pass_of.get(i),
                "decided_at": created + dt.timedelta(days=1) if status in DECIDED else None,
                "handed_out_at": created + dt.timedelta(days=3) if handed_out else None,
                "closed_at": created + dt.timedelta(minutes=15) if status == "closed" else None,
                "created_at": created,
            }

        _write(RenewalOrder, (order(i) for i in range(orders)), now)
        timings["orders"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        order0 = _first_id(RenewalOrder) if orders else 0
        # The ledger (decision 0006): every paid order has its applied WeChat payment.
        paid_orders = [i for i, s in enumerate(statuses) if s not in ("pending_payment", "closed")]
        _write(
            Payment,
            (
                {
                    "campaign_id": campaign.pk,
                    "order_id": order0 + i,
                    "kind": "renewal",
                    "method": "wechat",
                    "reference": f"4200B{i:020d}",
                    "out_trade_no": f"CPB{i:012d}",
                    "amount_fen": campaign.price_fen,
                    "state": "applied",
                    "paid_at": campaign.window_start + dt.timedelta(minutes=2),
                    "source": "bench",
                    "created_at": now,
                }
                for i in paid_orders
            ),
            now,
        )
        payment0 = _first_id(Payment) if paid_orders else 0
        payment_of = {i: payment0 + n for n, i in enumerate(paid_orders)}
        timings["payments"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        refund_status = {"refunding": "processing", "refunded": "succeeded", "refund_failed": "failed"}
        _write(
            Refund,
            (
                {
                    "order_id": order0 + i,
                    "payment_id": payment_of[i],
                    "out_refund_no": f"RB{i:012d}",
                    "amount_fen": campaign.price_fen,
                    "status": refund_status[s],
                    "reason": "审核未通过",
                    "created_at": now,
                }
                for i, s in enumerate(statuses)
                if s in refund_status
            ),
            now,
        )
        timings["refunds"] = time.perf_counter() - t0
    if connection.vendor == "postgresql":
        t0 = time.perf_counter()
        settle_postgresql()
        timings["vacuum, analyze"] = time.perf_counter() - t0
    return {
        "passes": passes,
        "orders": orders,
        "new_passes": sum(1 for status in statuses if status == "approved"),
        "statuses": {s: statuses.count(s) for s, _ in ORDER_MIX},
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "database": connection.vendor,
    }
