"""Payment notifications at a steady rate (open loop): the payment simulator confirms unpaid
orders (its own keys encrypt and sign, as WeChat Pay's would), and a fixed schedule posts one
notification every 1/rate seconds whatever the server does. Latency is measured from each
notification's scheduled time, so a server that falls behind shows as a growing latency instead
of as a slower client (coordinated omission).

Python threads, not wrk: the rate is low (tens per second) and every request needs a fresh RSA
signature over its body at send time (the receiver refuses stale timestamps)."""

from __future__ import annotations

import datetime as dt
import http.client
import queue
import statistics
import threading
import time
from urllib.parse import urlsplit


def prepare(count: int, notify_url: str) -> list[str]:
    """Bodies of `count` TRANSACTION.SUCCESS notifications for unpaid orders (their simulator
    transactions are created and confirmed here; the simulator's own delivery is never run: the
    benchmark has no task worker)."""
    from django.db import transaction
    from django.utils import timezone

    from campuspass.payments.models import SimNotification
    from campuspass.payments.simulator import bank
    from campuspass.renewals.models import RenewalOrder

    orders = list(
        RenewalOrder.objects.filter(status="pending_payment")
        .order_by("pk")
        .values_list("out_trade_no", "amount_fen")[:count]
    )
    expire = timezone.now() + dt.timedelta(hours=6)
    for out_trade_no, amount in orders:
        with transaction.atomic():
            bank.create_transaction(
                out_trade_no=out_trade_no,
                description="基准测试",
                amount_fen=amount,
                openid=f"bench-{out_trade_no}",
                notify_url=notify_url,
                expire_at=expire,
            )
            bank.confirm_payment(out_trade_no)
    return list(
        SimNotification.objects.filter(kind="payment", url=notify_url)
        .order_by("pk")
        .values_list("body", flat=True)
    )[: len(orders)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def run(base: str, bodies: list[str], rate: float, threads: int = 32) -> dict:
    """Post `bodies` at `rate` per second (bounded: len(bodies) / rate seconds plus stragglers,
    each with a 30 s timeout). Returns latency from the schedule and the status codes."""
    from campuspass.payments.simulator.bank import signed_headers

    target = urlsplit(base)
    path = "/pay/notify/payment/"
    jobs: queue.Queue = queue.Queue()
    results: list[tuple[float, float, int]] = []
    lock = threading.Lock()

    def worker():
        while True:
            item = jobs.get()
            if item is None:
                return
            scheduled, body = item
            status = 0
            try:
                data = body.encode()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                conn.request("POST", path, body=data, headers=signed_headers(body))
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except OSError:
                status = -1
            finished = time.perf_counter()
            with lock:
                results.append((scheduled - start, finished - scheduled, status))

    if bodies:
        # The simulator platform's signing key is loaded on first use (~40 ms, under a lock): in
        # the client's own threads at the start of the schedule it was counted as the server's
        # latency of the first notifications. Loaded before the clock starts.
        signed_headers(bodies[0])
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    start = time.perf_counter() + 0.2
    for k, body in enumerate(bodies):
        scheduled = start + k / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put((scheduled, body))
    for _ in pool:
        jobs.put(None)
    for t in pool:
        t.join(timeout=60)
    results.sort()
    latencies = [r[1] * 1000 for r in results]
    statuses: dict[str, int] = {}
    for _, _, s in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    return {
        "rate_per_s": rate,
        "sent": len(bodies),
        "answered": len(results),
        "seconds": round(len(bodies) / rate, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1) if latencies else 0.0,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else 0.0,
        "statuses": statuses,
        "errors": sum(n for s, n in statuses.items() if s not in ("200", "204")),
        "schedule": [[round(at, 3), round(lat * 1000, 1)] for at, lat, _ in results],
    }
