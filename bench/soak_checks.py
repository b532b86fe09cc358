"""The soak's independent checks (issue 12 item 6): read the tables with plain SQL after the run and
say, per invariant, whether it held. Nothing here imports the application: no selectors, no models,
no services — the point is to catch the application being wrong, so its own reading of the data is
not trusted.

Every check takes a DB-API connection (psycopg's, or Django's `connection` in the tests: both answer
`.cursor()` with `%s` parameters) and returns ``{"ok": bool, "checked": int, "problems": [...]}``;
`problems` is cut to the first `MAX_PROBLEMS` lines, `problem_count` says how many there were.

The simulator's tables (payments_sim*) are the payment platform's side: money WeChat Pay took and
gave back. Our side is the ledger (renewals_payment), the refunds (renewals_refund), the orders and
the audit log (core_logentry), the SMS outbox (sms_outboxmessage) and what the SMS "vendor" received
(the file backend's JSON lines).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable

MAX_PROBLEMS = 25
PAID_STATUSES = {"paid", "approved", "rejected", "refunding", "refunded", "refund_failed"}
UNPAID_OPEN = {"awaiting_consent", "pending_payment"}
REJECTED_LIKE = {"rejected", "refunding", "refunded", "refund_failed"}
LIVE_REFUND = {"pending", "processing"}


def rows(conn, sql: str, params: Iterable = ()) -> list[dict]:
    with conn.cursor() as cursor:
        cursor.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def as_json(value) -> dict:
    """A JSON column: a dict from psycopg (jsonb), a string from SQLite."""
    if isinstance(value, dict):
        return value
    if value in (None, ""):
        return {}
    try:
        loaded = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def as_utc(value) -> dt.datetime | None:
    """A timestamp column: aware from PostgreSQL, naive UTC (or text) from SQLite."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def result(checked: int, problems: list[str], **extra) -> dict:
    return {
        "ok": not problems,
        "checked": checked,
        "problem_count": len(problems),
        "problems": problems[:MAX_PROBLEMS],
        **extra,
    }


# --- money in ------------------------------------------------------------------------------------


def check_paid_once(conn) -> dict:
    """Every payment the platform took is in the ledger exactly once, with its amount; the ledger has
    no WeChat payment the platform did not take; an order that counts as paid has exactly one applied
    payment, an unpaid one none."""
    taken = rows(
        conn,
        "SELECT out_trade_no, transaction_id, amount_fen FROM payments_simtransaction "
        "WHERE state IN ('SUCCESS', 'REFUND')",
    )
    ledger = rows(
        conn,
        "SELECT id, order_id, reference, out_trade_no, amount_fen, state FROM renewals_payment "
        "WHERE method = 'wechat'",
    )
    orders = rows(conn, "SELECT id, status, amount_fen FROM renewals_renewalorder")
    problems: list[str] = []
    by_reference: dict[str, list[dict]] = defaultdict(list)
    for payment in ledger:
        by_reference[payment["reference"]].append(payment)
    taken_ids = {tx["transaction_id"] for tx in taken}
    for tx in taken:
        recorded = by_reference.get(tx["transaction_id"], [])
        if len(recorded) != 1:
            problems.append(
                f"{tx['out_trade_no']}: the platform took the money once, the ledger has it {len(recorded)} times"
            )
            continue
        payment = recorded[0]
        if payment["amount_fen"] != tx["amount_fen"] or payment["out_trade_no"] != tx["out_trade_no"]:
            problems.append(
                f"{tx['out_trade_no']}: ledger amount or out_trade_no differs from the platform's"
            )
    for payment in ledger:
        if payment["reference"] not in taken_ids:
            problems.append(f"payment {payment['id']}: in the ledger, never taken by the platform")
    applied: Counter = Counter(p["order_id"] for p in ledger if p["state"] == "applied" and p["order_id"])
    for order in orders:
        count = applied.get(order["id"], 0)
        if order["status"] in PAID_STATUSES and count != 1:
            problems.append(f"order {order['id']} ({order['status']}): {count} applied payments, expected 1")
        elif order["status"] not in PAID_STATUSES and count:
            problems.append(
                f"order {order['id']} ({order['status']}): unpaid but has {count} applied payment(s)"
            )
    return result(
        len(taken) + len(orders), problems, platform_payments=len(taken), ledger_payments=len(ledger)
    )


# --- money out -----------------------------------------------------------------------------------


def check_refunded_once(conn) -> dict:
    """Every refund the platform made is one of ours, made once, never more than was paid; a refunded
    order got its money back exactly once; money no order wants (unclaimed) went back."""
    ours = rows(
        conn,
        "SELECT r.id, r.order_id, r.payment_id, r.out_refund_no, r.amount_fen, r.status, p.method "
        "FROM renewals_refund r JOIN renewals_payment p ON p.id = r.payment_id",
    )
    platform = rows(conn, "SELECT out_refund_no, out_trade_no, amount_fen, status FROM payments_simrefund")
    payments = rows(conn, "SELECT id, order_id, out_trade_no, amount_fen, state FROM renewals_payment")
    orders = rows(conn, "SELECT id, status, amount_fen FROM renewals_renewalorder")
    problems: list[str] = []
    ours_by_no: dict[str, list[dict]] = defaultdict(list)
    for refund in ours:
        ours_by_no[refund["out_refund_no"]].append(refund)
    platform_by_no = {r["out_refund_no"]: r for r in platform}
    given_back: Counter = Counter()
    for refund in platform:
        if refund["status"] != "SUCCESS":
            continue
        given_back[refund["out_trade_no"]] += refund["amount_fen"]
        mine = ours_by_no.get(refund["out_refund_no"], [])
        if len(mine) != 1:
            problems.append(f"platform refund {refund['out_refund_no']}: {len(mine)} refunds of ours")
        elif mine[0]["status"] != "succeeded" or mine[0]["amount_fen"] != refund["amount_fen"]:
            problems.append(
                f"refund {refund['out_refund_no']}: the platform paid it back, ours says {mine[0]['status']}"
            )
    for refund in ours:
        if refund["method"] == "wechat" and refund["status"] == "succeeded":
            seen = platform_by_no.get(refund["out_refund_no"])
            if seen is None or seen["status"] != "SUCCESS":
                problems.append(f"refund {refund['out_refund_no']}: succeeded here, not on the platform")
    for payment in payments:
        back = given_back.get(payment["out_trade_no"], 0) if payment["out_trade_no"] else 0
        if back > payment["amount_fen"]:
            problems.append(f"payment {payment['id']}: {back} fen given back of {payment['amount_fen']} paid")
    succeeded: Counter = Counter()
    for refund in ours:
        if refund["status"] in ("succeeded", "paid_out"):
            succeeded[refund["payment_id"]] += refund["amount_fen"]
    by_order: dict[int, list[dict]] = defaultdict(list)
    for payment in payments:
        if payment["order_id"]:
            by_order[payment["order_id"]].append(payment)
        if payment["state"] == "unclaimed" and succeeded.get(payment["id"], 0) != payment["amount_fen"]:
            problems.append(f"payment {payment['id']}: unclaimed money not given back")
    for order in orders:
        if order["status"] != "refunded":
            continue
        applied = [p for p in by_order.get(order["id"], []) if p["state"] == "applied"]
        back = sum(succeeded.get(p["id"], 0) for p in applied)
        paid = sum(p["amount_fen"] for p in applied)
        if not applied or back != paid:
            problems.append(f"order {order['id']}: refunded, {back} fen back of {paid} paid")
    return result(len(ours) + len(platform), problems, refunds=len(ours), platform_refunds=len(platform))


# --- SMS -----------------------------------------------------------------------------------------


def check_sms_once(conn, delivered: list[dict] | None) -> dict:
    """Every outbox message was sent, and reached the vendor exactly once (`delivered`: the file
    backend's lines); an order's news went out once per event (one approval, one rejection, one
    refund SMS per refund)."""
    outbox = rows(conn, "SELECT id, phone, template, related, status FROM sms_outboxmessage")
    orders = rows(conn, "SELECT id, status FROM renewals_renewalorder")
    refunds = rows(conn, "SELECT order_id, status FROM renewals_refund")
    problems: list[str] = []
    for message in outbox:
        if message["status"] != "sent":
            problems.append(f"sms {message['id']} ({message['template']}): {message['status']}, not sent")
    per_event: Counter = Counter(
        (m["related"], m["template"]) for m in outbox if (m["related"] or "").startswith("order:")
    )
    refunds_done: Counter = Counter(r["order_id"] for r in refunds if r["status"] == "succeeded")
    kinds: dict[str, Counter] = defaultdict(Counter)
    for (related, template), count in per_event.items():
        kind = (
            "approved"
            if template.startswith("approved")
            else "rejected"
            if template.startswith("rejected")
            else template
        )
        kinds[related][kind] += count
    for order in orders:
        got = kinds.get(f"order:{order['id']}", Counter())
        expected = Counter()
        if order["status"] == "approved":
            expected["approved"] = 1
        if order["status"] in REJECTED_LIKE:
            expected["rejected"] = 1
        if refunds_done.get(order["id"]):
            expected["refunded"] = refunds_done[order["id"]]
        if got != expected:
            problems.append(
                f"order {order['id']} ({order['status']}): SMS {dict(got)}, expected {dict(expected)}"
            )
    if delivered is not None:
        sent = Counter((m["phone"], m["template"]) for m in outbox if m["status"] == "sent")
        received = Counter((line.get("phone"), line.get("template")) for line in delivered)
        for key in sorted(set(sent) | set(received), key=str):
            if sent[key] != received[key]:
                what = "twice or more" if received[key] > sent[key] else "never"
                problems.append(
                    f"{key[1]} to …{str(key[0])[-4:]}: outbox {sent[key]}, vendor {received[key]} (sent {what})"
                )
    return result(len(outbox), problems, outbox=len(outbox), vendor_lines=len(delivered or []))


# --- nothing stuck -------------------------------------------------------------------------------


STALE_TASK_EXCEPTION = "campuspass.core.housekeeping.StaleTask"


def check_no_stuck(
    conn, *, now: dt.datetime, grace: dt.timedelta, stale_after: dt.timedelta | None = None
) -> dict:
    """No unpaid order past its expiry (+ grace: the every-minute job closes it), no 退款中 order
    without a live refund, no refund unfinished for longer than `grace`, no platform notification
    left undelivered, no task waiting in the queue for longer than `grace`, and (with `stale_after`,
    the deployment's TASK_STALE_AFTER_SECONDS) no task row left RUNNING longer than `stale_after` +
    `grace`: a worker killed mid-task leaves its row RUNNING, and the every-minute housekeeping
    must have marked it failed (counted as `tasks_abandoned`)."""
    problems: list[str] = []
    orders = rows(
        conn,
        "SELECT o.id, o.status, o.created_at, c.unpaid_timeout_minutes FROM renewals_renewalorder o "
        "JOIN renewals_campaign c ON c.id = o.campaign_id",
    )
    refunds = rows(conn, "SELECT id, order_id, status, created_at FROM renewals_refund")
    live = {r["order_id"] for r in refunds if r["status"] in LIVE_REFUND}
    for order in orders:
        if order["status"] in UNPAID_OPEN:
            expiry = as_utc(order["created_at"]) + dt.timedelta(minutes=order["unpaid_timeout_minutes"])
            if expiry + grace < now:
                problems.append(f"order {order['id']}: {order['status']} since {expiry:%H:%M:%S} (expired)")
        if order["status"] == "refunding" and order["id"] not in live:
            problems.append(f"order {order['id']}: 退款中 without a live refund")
    for refund in refunds:
        if refund["status"] in LIVE_REFUND and as_utc(refund["created_at"]) + grace < now:
            problems.append(
                f"refund {refund['id']}: {refund['status']} since {as_utc(refund['created_at']):%H:%M:%S}"
            )
    waiting = rows(
        conn,
        "SELECT id, event_type, created_at FROM payments_simnotification "
        "WHERE acknowledged = %s AND dropped = %s",
        [False, False],
    )
    for notification in waiting:
        if as_utc(notification["created_at"]) + grace < now:
            problems.append(
                f"notification {notification['id']} ({notification['event_type']}) never acknowledged"
            )
    tasks = rows(
        conn,
        "SELECT id, task_path, status, enqueued_at, run_after, started_at, exception_class_path "
        "FROM django_tasks_database_dbtaskresult",
    )
    for task in tasks:
        due = max(as_utc(task["enqueued_at"]), as_utc(task["run_after"]) or as_utc(task["enqueued_at"]))
        if task["status"] == "READY" and due + grace < now:
            problems.append(
                f"task {task['id']} ({task['task_path'].rsplit('.', 1)[-1]}) waiting since {due:%H:%M:%S}"
            )
        if (
            stale_after is not None
            and task["status"] == "RUNNING"
            and task["started_at"] is not None
            and as_utc(task["started_at"]) + stale_after + grace < now
        ):
            problems.append(
                f"task {task['id']} ({task['task_path'].rsplit('.', 1)[-1]}) left RUNNING since "
                f"{as_utc(task['started_at']):%H:%M:%S}"
            )
    orphaned = [t["task_path"].rsplit(".", 1)[-1] for t in tasks if t["status"] == "RUNNING"]
    abandoned = [
        t["task_path"].rsplit(".", 1)[-1]
        for t in tasks
        if t["status"] == "FAILED" and t["exception_class_path"] == STALE_TASK_EXCEPTION
    ]
    return result(
        len(orders) + len(refunds) + len(waiting) + len(tasks),
        problems,
        tasks_left_running=dict(Counter(orphaned)),
        tasks_abandoned=dict(Counter(abandoned)),
    )


# --- the audit log -------------------------------------------------------------------------------

# Where each axis starts: an order by its channel (below); a refund's creation is itself an entry
# from "" (to pending, or straight to succeeded / paid_out at the counter); validity and fulfilment
# from "": the approval moves each with an entry of its own (renewals.order.validity_changed,
# renewals.order.handover_pending).
INITIAL = {"order": None, "refund": "", "validity": "", "fulfilment": ""}


def check_audit_chains(conn) -> dict:
    """One audit row per state move: each order's and refund's entries on an axis, in order, form an
    unbroken chain (each `from` is the previous `to`) from the initial state to the state the row
    holds now — a move without its entry, an entry without its move, or an entry written twice
    breaks the chain."""
    types = {
        r["model"]: r["id"]
        for r in rows(
            conn,
            "SELECT id, model FROM django_content_type WHERE app_label = 'renewals' "
            "AND model IN ('renewalorder', 'refund')",
        )
    }
    if not types:
        return result(0, ["no content types for renewals.renewalorder / renewals.refund"])
    entries = rows(
        conn,
        "SELECT id, content_type_id, object_id, data FROM core_logentry WHERE content_type_id IN (%s, %s) "
        "ORDER BY id",
        [types.get("renewalorder", -1), types.get("refund", -1)],
    )
    chains: dict[tuple, list[dict]] = defaultdict(list)
    for entry in entries:
        data = as_json(entry["data"])
        axis = data.get("axis")
        if axis in INITIAL and "from" in data and "to" in data:
            chains[(entry["content_type_id"], str(entry["object_id"]), axis)].append(data)
    problems: list[str] = []
    subjects: list[tuple] = []
    for order in rows(
        conn, "SELECT id, channel, status, validity, fulfilment_status FROM renewals_renewalorder"
    ):
        start = "awaiting_consent" if order["channel"] == "online" else "pending_payment"
        subjects.append((types.get("renewalorder"), order["id"], "order", start, order["status"]))
        for axis, column in (("validity", "validity"), ("fulfilment", "fulfilment_status")):
            subjects.append((types.get("renewalorder"), order["id"], axis, "", order[column] or ""))
    for refund in rows(conn, "SELECT id, status FROM renewals_refund"):
        subjects.append((types.get("refund"), refund["id"], "refund", "", refund["status"]))
    moves = 0
    for type_id, pk, axis, start, now_state in subjects:
        chain = chains.pop((type_id, str(pk), axis), [])
        moves += len(chain)
        state = start
        for step, data in enumerate(chain):
            if data["from"] != state:
                problems.append(
                    f"{axis} {pk}: entry {step + 1} moves from {data['from']!r}, the state was {state!r}"
                )
                break
            state = data["to"]
        else:
            if state != now_state:
                problems.append(f"{axis} {pk}: the audit log ends at {state!r}, the row holds {now_state!r}")
    for (_type_id, pk, axis), chain in chains.items():
        problems.append(f"{axis} {pk}: {len(chain)} audit moves for a row that does not exist")
    return result(len(subjects), problems, moves=moves)


# --- photos --------------------------------------------------------------------------------------


def live_photos(conn) -> list[dict]:
    """Every order's photo that is still kept: {"id": the order, "name": the file in the store}
    (verification.IdPhoto rows, decision 0031; the file is `<key>.jpg` in `id-photos/`)."""
    return rows(
        conn,
        "SELECT o.id, p.key || '.jpg' AS name FROM renewals_renewalorder o "
        "JOIN verification_idphoto p ON p.id = o.id_photo_id WHERE p.deleted_at IS NULL ORDER BY o.id",
    )


def check_photos(fetches: list[dict], servers: list[str], *, x_accel_prefix: str = "") -> dict:
    """`fetches`: one {"order", "server", "status", "sha256"} per order and app server. Every photo
    answered 200 from every server, with the same bytes.

    With `x_accel_prefix` (nginx sends the photos, decision 0031) each fetch also says what the app
    server answered when asked directly (`app_status`, `app_accel`: its X-Accel-Redirect header,
    `app_bytes`: the length of its body) and what nginx answered when the request went through it to
    that server (`status`, `sha256`, `nginx_location`: the internal location's own header was there,
    `leaked_accel`: nginx passed X-Accel-Redirect on to the browser), plus `stored_sha256`, the file in
    the shared store. The bytes must have come via X-Accel: the app answered an empty 200 naming a file
    under the prefix, nginx sent that file from its internal location, and they are the stored bytes."""
    problems: list[str] = []
    by_order: dict[int, dict[str, dict]] = defaultdict(dict)
    for fetch in fetches:
        by_order[fetch["order"]][fetch["server"]] = fetch
    via_accel = 0
    for order, seen in sorted(by_order.items()):
        for server in servers:
            fetch = seen.get(server)
            if fetch is None or fetch["status"] != 200:
                problems.append(
                    f"order {order}: photo from {server}: {fetch['status'] if fetch else 'not asked'}"
                )
                continue
            if not x_accel_prefix:
                continue
            accel = fetch.get("app_accel") or ""
            wrong = []
            if fetch.get("app_status") != 200 or not accel.startswith(x_accel_prefix.rstrip("/") + "/"):
                wrong.append(f"the app answered {fetch.get('app_status')} without X-Accel-Redirect")
            if fetch.get("app_bytes"):
                wrong.append(f"the app sent {fetch['app_bytes']} bytes itself")
            if not fetch.get("nginx_location"):
                wrong.append("nginx did not send it from its internal location")
            if fetch.get("leaked_accel"):
                wrong.append("X-Accel-Redirect reached the browser")
            if fetch.get("stored_sha256") and fetch["sha256"] != fetch["stored_sha256"]:
                wrong.append("the bytes are not the stored file's")
            if wrong:
                problems.append(f"order {order}: photo from {server}: {'; '.join(wrong)}")
            else:
                via_accel += 1
        digests = {f["sha256"] for f in seen.values() if f["status"] == 200}
        if len(digests) > 1:
            problems.append(f"order {order}: the app servers return different photo bytes")
    extra = {"fetches": len(fetches)}
    if x_accel_prefix:
        extra["via_x_accel"] = via_accel
    return result(len(by_order), problems, **extra)


def run_all(
    conn,
    *,
    now: dt.datetime,
    grace: dt.timedelta,
    sms_lines: list[dict] | None,
    stale_after: dt.timedelta | None = None,
) -> dict:
    return {
        "paid_once": check_paid_once(conn),
        "refunded_once": check_refunded_once(conn),
        "sms_once": check_sms_once(conn, sms_lines),
        "no_stuck": check_no_stuck(conn, now=now, grace=grace, stale_after=stale_after),
        "audit_one_row_per_move": check_audit_chains(conn),
    }
