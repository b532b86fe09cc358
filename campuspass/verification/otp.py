"""SMS one-time codes: the only key to a person's records, so treated like a password.

Public API (keyword-only):

- ``request_code(plate=, phone_on_file=, session_key=, ip=, purpose=) -> RequestResult``
- ``verify_code(plate=, session_key=, purpose=, code=, ip=) -> VerifyResult``
- ``grant(session, plate)`` / ``granted_plate(session)`` / ``revoke(session)``
- ``session_binding(session)``: what a page passes as ``session_key`` (a secret kept in the session)
- ``purge_stale()`` for a periodic clean-up task.

Rules (product.md §3 and the issue): 6 digits from ``secrets``, stored as HMAC-SHA256, valid 5
minutes, single use, bound to plate + browser session + purpose; 5 wrong entries kill a code; 10
failures per phone per day lock the phone for an hour; sends limited per phone (1/60 s, 5/h,
10/day), per plate (same), per session and per IP. An unknown plate gets the same answer, the same
throttles and the same database writes as a known one — only no SMS is sent.

Throttles live in the database (the source of truth). With ``settings.REDIS_URL`` a per-IP Redis
counter sheds floods before the database is touched; if Redis is down the database still decides.

Logs carry short HMAC prefixes only — never a phone number, a plate or a code.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.crypto import salted_hmac

from campuspass.core.phones import InvalidPhone, normalize_phone
from campuspass.core.plates import normalize_plate

from .models import OtpCode, ThrottleCounter

__all__ = [
    "PURPOSE_LOOKUP",
    "captcha_needed",
    "sms_budget_today",
    "PURPOSE_ORDERS",
    "RequestResult",
    "VerifyResult",
    "grant",
    "granted_plate",
    "purge_stale",
    "request_code",
    "revoke",
    "session_binding",
    "verify_code",
]

logger = logging.getLogger("campuspass.verification")

PURPOSE_LOOKUP = "lookup"  # 现场长租查询
PURPOSE_ORDERS = "orders"  # 订单记录

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
MAX_ATTEMPTS_PER_CODE = 5
MAX_FAILURES_PER_DAY = 10
LOCK_SECONDS = 3600
MINUTE, HOUR, DAY = 60, 3600, 86400

# (period seconds, max events), overridable in settings. The person is limited by what belongs to
# them (phone, plate, browser session, WeChat openid); campus Wi-Fi puts hundreds of staff behind one
# address, so the address only has a high flood ceiling, and past IP_CAPTCHA_AFTER sends in an hour a
# human check (CAPTCHA) before each further send (decision 0022).
PHONE_SEND_LIMITS = ((MINUTE, 1), (HOUR, 5), (DAY, 10))
PLATE_SEND_LIMITS = PHONE_SEND_LIMITS
SESSION_SEND_LIMITS = ((HOUR, 10), (DAY, 20))
OPENID_SEND_LIMITS = SESSION_SEND_LIMITS
IP_SEND_LIMITS = ((HOUR, 400), (DAY, 2000))
IP_CAPTCHA_AFTER = 10  # sends from one address within an hour before the CAPTCHA is asked
# Verification SMS a day (Beijing date) for the whole site; the office is alerted at 80 % and at 100 %.
DAILY_SMS_BUDGET = 3000
BUDGET_ALERT_SHARE = 0.8
# Redis flood shield per IP (attempts, accepted or not): kind -> (period, max).
REDIS_IP_LIMITS = {"send": (MINUTE, 60), "verify": (MINUTE, 120)}

GRANT_SESSION_KEY = "verification.grant"
GRANT_TTL_SECONDS = 30 * 60

MSG_SENT = (
    "验证码已发送至该车牌登记的手机号，{minutes} 分钟内有效。"
    "如果没有收到，登记的手机号可能有误，请联系保卫处或到现场办理。"
)
MSG_TOO_FREQUENT = "验证码刚刚已发送，请先查看短信；如需重新获取，请在 {wait}后重试。"
MSG_NETWORK_BUSY = (
    "您所在的网络（如校园 Wi-Fi）此时获取验证码的人很多，为防止短信被滥用，请在 {wait}后重试，"
    "或关闭 Wi-Fi 改用手机流量后重试。"
)
MSG_CAPTCHA = "您所在的网络此时获取验证码的人很多，请输入图中的字符后再点“确定”。"
MSG_BUDGET = "今天的验证码短信已达到系统上限，保卫处已收到提醒。请明天再试，或到现场办理。"
MSG_LOCKED = "验证失败次数过多，请 {wait}后再试。"
MSG_OK = "验证成功。"
MSG_FORMAT = "请输入短信中的 6 位数字验证码。"
MSG_NO_CODE = "验证码无效或已使用，请重新获取验证码。"
MSG_EXPIRED = "验证码已过期，请重新获取验证码。"
MSG_WRONG = "验证码不正确，还可以输入 {left} 次。"
MSG_DEAD = "验证码输入错误次数过多，请重新获取验证码。"
MSG_BUSY = "您所在的网络此时验证的人很多，请在 {wait}后重试，或关闭 Wi-Fi 改用手机流量后重试。"

_PURPOSE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_CODE_RE = re.compile(r"[0-9]{6}")
_CODE_JUNK = frozenset(" -‐‑‒–—―−_.·")


@dataclass(frozen=True)
class RequestResult:
    """``sent`` means "accepted"; it is True for an unknown plate too (nothing is sent then)."""

    sent: bool
    retry_after_seconds: int
    message: str
    code: str = ""  # reason: "sent", "throttled", "locked"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    message: str
    code: str  # reason: ok, invalid_format, no_code, expired, wrong, too_many_attempts, locked, throttled


@dataclass(frozen=True)
class _Limit:
    scope: str
    period: int
    max_count: int


# --- helpers --------------------------------------------------------------------------------------


def _digest(kind: str, value: str) -> str:
    """Keyed HMAC-SHA256 (SECRET_KEY); a plain hash of a phone or 6-digit code is brute-forceable."""
    return salted_hmac(f"campuspass.verification.{kind}", value, algorithm="sha256").hexdigest()


def _code_hash(*, purpose: str, plate: str, session_hash: str, code: str) -> str:
    return _digest("code", f"{purpose}\x00{plate}\x00{session_hash}\x00{code}")


def _short(digest: str) -> str:
    """What a log line may carry: enough to correlate events, useless to recover the value."""
    return digest[:12]


def _wait_text(seconds: int) -> str:
    """Waits are said in whole minutes (rounded up), as people read them on a phone."""
    return f"{max(1, math.ceil(seconds / MINUTE))} 分钟"


def _ip_scope(ip: str) -> str:
    """IPv4 as is; IPv6 by its /64 (one subscriber usually owns a whole /64)."""
    try:
        addr = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return "invalid"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


def _check_purpose(purpose: str) -> str:
    if not isinstance(purpose, str) or not _PURPOSE_RE.fullmatch(purpose):
        raise ValueError("purpose must be a short lower-case token, e.g. 'lookup'")
    return purpose


def _normalize_code(raw: object) -> str | None:
    """'１２３ ４５６' → '123456'; None when it is not 6 digits after clean-up."""
    if not isinstance(raw, str):
        return None
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(ch for ch in text if not ch.isspace() and ch not in _CODE_JUNK)
    return text if _CODE_RE.fullmatch(text) else None


def _setting(name: str, default):
    return getattr(settings, name, default)


def _seconds_left(start: datetime, period: int, now: datetime) -> int:
    return max(1, math.ceil((start + timedelta(seconds=period) - now).total_seconds()))


# --- database throttles ---------------------------------------------------------------------------


def _lock_counters(limits: list[_Limit], now: datetime) -> dict[tuple[str, int], ThrottleCounter]:
    """Create missing counter rows and lock all of them, in one order (to avoid deadlocks), in one
    statement: an upsert whose conflict branch locks the existing row, returning every row (issue
    13; PostgreSQL and SQLite 3.35+). Call inside ``transaction.atomic``."""
    keys = sorted({(limit.scope, limit.period) for limit in limits})
    if not keys:
        return {}
    q = connection.ops.quote_name
    table = q(ThrottleCounter._meta.db_table)
    start = ThrottleCounter._meta.get_field("window_start").get_db_prep_value(now, connection)
    columns = ", ".join(q(name) for name in ("id", "scope", "period", "window_start", "count"))
    sql = (
        f"INSERT INTO {table} ({q('scope')}, {q('period')}, {q('window_start')}, {q('count')}, "  # noqa: S608
        f"{q('updated_at')}) VALUES {', '.join(['(%s, %s, %s, 0, %s)'] * len(keys))} "
        f"ON CONFLICT ({q('scope')}, {q('period')}) DO UPDATE SET {q('scope')} = excluded.{q('scope')} "
        f"RETURNING {columns}"
    )
    params = [value for scope, period in keys for value in (scope, period, start, start)]
    return {(row.scope, row.period): row for row in ThrottleCounter.objects.raw(sql, params)}


def _active(row: ThrottleCounter, now: datetime) -> bool:
    return now < row.window_start + timedelta(seconds=row.period)


def _current(row: ThrottleCounter, now: datetime) -> int:
    return row.count if _active(row, now) else 0


def _bump(rows: list[ThrottleCounter], now: datetime) -> list[int]:
    """Count one event on each of these locked rows in ONE statement; a window that has ended
    starts again now. Returns the new counts, in the order of `rows`.

    The rows are locked (by ``_lock_counters``' upsert on PostgreSQL; SQLite's IMMEDIATE transaction
    holds the write lock), so the counts read with them are the current ones and the new counts follow
    without reading the rows again (issue 13: one UPDATE instead of an UPDATE and a re-read each)."""
    if not rows:
        return []
    active = [row.pk for row in rows if _active(row, now)]
    ThrottleCounter.objects.filter(pk__in=[row.pk for row in rows]).update(
        count=Case(When(pk__in=active, then=F("count") + 1), default=Value(1)),
        window_start=Case(When(pk__in=active, then=F("window_start")), default=Value(now)),
        updated_at=now,
    )
    counts = []
    for row in rows:
        if row.pk in active:
            row.count += 1
        else:
            row.window_start, row.count = now, 1
        counts.append(row.count)
    return counts


def _lock_scope(subject: str) -> str:
    return f"lock:phone:{subject}"


def _fail_scope(subject: str) -> str:
    return f"fail:phone:{subject}"


def _locked_for(rows: dict, subject: str, now: datetime) -> int:
    row = rows.get((_lock_scope(subject), LOCK_SECONDS))
    if row is not None and row.count > 0 and _active(row, now):
        return _seconds_left(row.window_start, row.period, now)
    return 0


# --- optional Redis layer -------------------------------------------------------------------------

_redis_clients: dict[str, object] = {}


def _redis_client(url: str):
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        _redis_clients[url] = client
    return client


def _redis_precheck(kind: str, ip: str) -> int:
    """Seconds to wait if this IP is flooding (0 = go on). Counts attempts, accepted or not.

    Never the last word: it only refuses early; the database decides everything else. Any Redis
    failure lets the request through to the database.
    """
    url = _setting("REDIS_URL", "")
    if not url:
        return 0
    period, max_count = _setting("VERIFICATION_REDIS_IP_LIMITS", REDIS_IP_LIMITS)[kind]
    prefix = _setting("VERIFICATION_REDIS_PREFIX", "campuspass:verification:")
    key = f"{prefix}{kind}:ip:{_ip_scope(ip)}"
    try:
        import redis

        pipe = _redis_client(url).pipeline(transaction=True)
        pipe.set(key, 0, ex=period, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
    except (redis.RedisError, OSError):
        logger.warning("verification: redis pre-check unavailable, falling back to the database")
        return 0
    if count > max_count:
        return max(int(ttl), 1)
    return 0


# --- request_code ---------------------------------------------------------------------------------


def _send_limits(
    *, subject: str, plate_hash: str, session_hash: str, ip: str, openid: str = ""
) -> list[_Limit]:
    tables = [
        (f"send:phone:{subject}", _setting("VERIFICATION_PHONE_SEND_LIMITS", PHONE_SEND_LIMITS)),
        (f"send:plate:{plate_hash}", _setting("VERIFICATION_PLATE_SEND_LIMITS", PLATE_SEND_LIMITS)),
        (f"send:session:{session_hash}", _setting("VERIFICATION_SESSION_SEND_LIMITS", SESSION_SEND_LIMITS)),
        (_ip_send_scope(ip), _setting("VERIFICATION_IP_SEND_LIMITS", IP_SEND_LIMITS)),
    ]
    if openid:
        tables.append(
            (
                f"send:openid:{_digest('openid', openid)}",
                _setting("VERIFICATION_OPENID_SEND_LIMITS", OPENID_SEND_LIMITS),
            )
        )
    limits = []
    for prefix, table in tables:
        limits.extend(_Limit(prefix, period, max_count) for period, max_count in table)
    return limits


def _ip_send_scope(ip: str) -> str:
    return f"send:ip:{_ip_scope(ip)}"


def captcha_needed(ip: str) -> bool:
    """True when this address has asked for more codes within the hour than honest use explains, so
    that each further code needs a human check first (the CAPTCHA on the lookup page)."""
    after = int(_setting("VERIFICATION_IP_CAPTCHA_AFTER", IP_CAPTCHA_AFTER))
    now = timezone.now()
    row = (
        ThrottleCounter.objects.filter(scope=_ip_send_scope(ip), period=HOUR)
        .only("count", "window_start", "period")
        .first()
    )
    return row is not None and _current(row, now) >= after


# --- the daily SMS budget -------------------------------------------------------------------------

BUDGET_ACTION_WARNING = "verification.sms_budget.warning"
BUDGET_ACTION_EXHAUSTED = "verification.sms_budget.exhausted"


def _budget_scope(now: datetime) -> str:
    return f"budget:sms:{timezone.localdate(now).isoformat()}"


def daily_budget() -> int:
    return int(_setting("VERIFICATION_DAILY_SMS_BUDGET", DAILY_SMS_BUDGET))


def sms_budget_today(now: datetime | None = None) -> tuple[int, int]:
    """(verification SMS sent today, the daily budget) — the back office's dashboard shows them."""
    now = now or timezone.now()
    row = ThrottleCounter.objects.filter(scope=_budget_scope(now), period=DAY).only("count").first()
    return (row.count if row else 0), daily_budget()


def _budget_exhausted(now: datetime) -> bool:
    used, budget = sms_budget_today(now)
    return used >= budget


def _budget_and_captcha(now: datetime, ip: str, *, check_captcha: bool) -> tuple[bool, bool]:
    """(today's SMS budget is spent, this address needs the CAPTCHA) in one read: the same answers
    as ``_budget_exhausted`` and ``captcha_needed``, one statement instead of two (issue 13)."""
    budget_key, ip_key = (_budget_scope(now), DAY), (_ip_send_scope(ip), HOUR)
    condition = Q(scope=budget_key[0], period=budget_key[1])
    if check_captcha:
        condition |= Q(scope=ip_key[0], period=ip_key[1])
    rows = {
        (row.scope, row.period): row
        for row in ThrottleCounter.objects.filter(condition).only("scope", "period", "count", "window_start")
    }
    budget_row = rows.get(budget_key)
    budget_out = (budget_row.count if budget_row else 0) >= daily_budget()
    after = int(_setting("VERIFICATION_IP_CAPTCHA_AFTER", IP_CAPTCHA_AFTER))
    ip_row = rows.get(ip_key) if check_captcha else None
    return budget_out, ip_row is not None and _current(ip_row, now) >= after


def _budget_spend(now: datetime) -> None:
    """Count one verification SMS against today's budget; alert the office once at 80 % and at 100 %
    (an audit entry the dashboard shows, and a warning in the log)."""
    used = _budget_increment(_budget_scope(now), now)
    budget = daily_budget()
    share = float(_setting("VERIFICATION_BUDGET_ALERT_SHARE", BUDGET_ALERT_SHARE))
    for action, threshold in (
        (BUDGET_ACTION_EXHAUSTED, budget),
        (BUDGET_ACTION_WARNING, math.ceil(budget * share)),
    ):
        if used >= threshold:
            _budget_alert(action, used=used, budget=budget, now=now)
            break


def _budget_increment(scope: str, now: datetime) -> int:
    """Today's budget counter plus one, created at 1 if missing, in one statement (an upsert that
    returns the new count; PostgreSQL and SQLite 3.35+ both speak it). It is the last statement before
    the commit, as the UPDATE it replaces was: every code request of the site counts on this row,
    so its lock is held as briefly as possible."""
    table = connection.ops.quote_name(ThrottleCounter._meta.db_table)
    field = ThrottleCounter._meta.get_field
    values = [
        field("window_start").get_db_prep_value(now, connection),
        field("updated_at").get_db_prep_value(now, connection),
    ]
    q = connection.ops.quote_name
    scope_, period, start, count, updated = (
        q(name) for name in ("scope", "period", "window_start", "count", "updated_at")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({scope_}, {period}, {start}, {count}, {updated}) "  # noqa: S608
            f"VALUES (%s, %s, %s, 1, %s) ON CONFLICT ({scope_}, {period}) "
            f"DO UPDATE SET {count} = {table}.{count} + 1, {updated} = excluded.{updated} RETURNING {count}",
            [scope, DAY, values[0], values[1]],
        )
        return int(cursor.fetchone()[0])


def _budget_alert(action: str, *, used: int, budget: int, now: datetime) -> None:
    from campuspass.core.audit import log_action
    from campuspass.core.models import LogEntry

    today = timezone.localdate(now).isoformat()
    if LogEntry.objects.filter(action=action, data__date=today).exists():
        return
    reason = (
        f"今天已发送验证码短信 {used} 条，达到每日上限 {budget} 条，今天不再发送验证码。"
        if action == BUDGET_ACTION_EXHAUSTED
        else f"今天已发送验证码短信 {used} 条，接近每日上限 {budget} 条。"
    )
    log_action(actor=None, action=action, reason=reason, data={"date": today, "sent": used, "budget": budget})
    logger.warning("verification: %s sent=%s budget=%s", action, used, budget)


def _phone_blocked(rows: dict, limits: list[_Limit], subject: str, now: datetime) -> bool:
    """True when only the phone's own limits or lock refuse a send (everything else allows it)."""
    others_full = any(
        _current(rows[(limit.scope, limit.period)], now) >= limit.max_count
        for limit in limits
        if not limit.scope.startswith("send:phone:")
    )
    if others_full:
        return False  # refused for a reason an unknown plate would meet too
    phone_full = any(
        _current(rows[(limit.scope, limit.period)], now) >= limit.max_count
        for limit in limits
        if limit.scope.startswith("send:phone:")
    )
    return phone_full or bool(_locked_for(rows, subject, now))


def request_code(
    *,
    plate: str,
    phone_on_file: str | None,
    session_key: str,
    ip: str,
    purpose: str,
    openid: str = "",
    human_checked: bool = False,
) -> RequestResult:
    """Issue a code for (plate, session, purpose) and SMS it to the number on file; raises InvalidPlate.

    ``phone_on_file`` is the registry's number for the plate, or None when the plate is not on file:
    then nothing is sent but the answer, throttles and rows are the same. Never pass a number the
    person typed in. ``session_key`` binds the code to the browser session: pages pass
    ``session_binding(request.session)``.

    ``openid`` (the WeChat user, when known) is limited like the session. ``human_checked`` says the
    caller has checked a CAPTCHA for this request: when ``captcha_needed(ip)`` it is required, and the
    answer without it has ``code == "captcha"``.
    """
    plate = normalize_plate(plate)
    purpose = _check_purpose(purpose)
    if not session_key:
        raise ValueError("session_key is required: save the session before requesting a code")

    phone = None
    if phone_on_file:
        try:
            phone = normalize_phone(phone_on_file)
        except InvalidPhone:
            # Bad data on file: nobody can receive a code; answer like for an unknown plate.
            logger.warning("verification: phone on file is invalid plate=%s", _short(_digest("plate", plate)))
    plate_hash = _digest("plate", plate)
    plate_subject = _digest("unknown-plate", plate)
    subject = _digest("phone", phone) if phone else plate_subject
    session_hash = _digest("session", session_key)

    wait = _redis_precheck("send", ip)
    if wait:
        return RequestResult(False, wait, MSG_NETWORK_BUSY.format(wait=_wait_text(wait)), "network_busy")

    now = timezone.now()
    budget_out, captcha = _budget_and_captcha(now, ip, check_captcha=not human_checked)
    if budget_out:
        # Everyone, known plate or not, gets this answer: it tells nothing about the plate.
        return RequestResult(False, 0, MSG_BUDGET, "budget")
    if captcha:
        return RequestResult(False, 0, MSG_CAPTCHA, "captcha")
    limits = _send_limits(
        subject=subject, plate_hash=plate_hash, session_hash=session_hash, ip=ip, openid=openid
    )
    lock_limits = [_Limit(_lock_scope(subject), LOCK_SECONDS, 1)]
    if subject != plate_subject:
        lock_limits.append(_Limit(_lock_scope(plate_subject), LOCK_SECONDS, 1))
    with transaction.atomic():
        rows = _lock_counters([*limits, *lock_limits], now)
        plate_locked = _locked_for(rows, plate_subject, now)
        if plate_locked:
            # Locked by failures on this very plate: an unknown plate is locked the same way.
            return RequestResult(
                False, plate_locked, MSG_LOCKED.format(wait=_wait_text(plate_locked)), "locked"
            )
        if phone is not None and _phone_blocked(rows, limits, subject, now):
            # The plate, session and address may ask, but the phone on file is throttled or locked —
            # because its owner just asked for another of their cars. Refusing would tell whoever typed
            # this plate that it is registered, and to whom it belongs: answer exactly as for an unknown
            # plate instead (a code row that can never match, no SMS). The owner simply asks again later.
            logger.info("verification: phone throttled, answered as unknown subject=%s", _short(subject))
            phone = None
            subject = plate_subject
            limits = _send_limits(
                subject=subject, plate_hash=plate_hash, session_hash=session_hash, ip=ip, openid=openid
            )
            rows = _lock_counters([*limits, _Limit(_lock_scope(subject), LOCK_SECONDS, 1)], now)
        locked = _locked_for(rows, subject, now)
        if locked:
            logger.info("verification: send refused, locked subject=%s", _short(subject))
            return RequestResult(False, locked, MSG_LOCKED.format(wait=_wait_text(locked)), "locked")
        wait, network = 0, False
        for limit in limits:
            row = rows[(limit.scope, limit.period)]
            if _current(row, now) >= limit.max_count:
                wait = max(wait, _seconds_left(row.window_start, row.period, now))
                network = network or limit.scope.startswith("send:ip:")
        if wait:
            logger.info("verification: send throttled subject=%s wait=%s", _short(subject), wait)
            if network:
                # The address's flood ceiling: said as what it is, never as this person's doing.
                return RequestResult(
                    False, wait, MSG_NETWORK_BUSY.format(wait=_wait_text(wait)), "network_busy"
                )
            return RequestResult(False, wait, MSG_TOO_FREQUENT.format(wait=_wait_text(wait)), "throttled")
        _bump([rows[(limit.scope, limit.period)] for limit in limits], now)

        OtpCode.objects.filter(
            plate=plate,
            session_hash=session_hash,
            purpose=purpose,
            used_at__isnull=True,
            invalidated_at__isnull=True,
        ).update(invalidated_at=now)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        otp = OtpCode.objects.create(
            purpose=purpose,
            plate=plate,
            session_hash=session_hash,
            phone_hash=subject,
            code_hash=(
                _code_hash(purpose=purpose, plate=plate, session_hash=session_hash, code=code)
                if phone
                else ""
            ),
            created_at=now,
            expires_at=now + CODE_TTL,
        )
        if phone:
            # Inside the transaction: the outbox row and the code commit together or not at all.
            from campuspass.sms.services import sms_enqueue

            sms_enqueue(
                phone=phone,
                template="otp",
                params={"code": code, "minutes": int(CODE_TTL.total_seconds() // 60)},
                related=f"otp:{otp.pk}",
            )
            _budget_spend(now)
    logger.info("verification: code issued otp=%s subject=%s", otp.pk, _short(subject))
    cooldown = min(period for period, _ in _setting("VERIFICATION_PHONE_SEND_LIMITS", PHONE_SEND_LIMITS))
    return RequestResult(True, cooldown, MSG_SENT.format(minutes=int(CODE_TTL.total_seconds() // 60)), "sent")


# --- verify_code ----------------------------------------------------------------------------------

_DUMMY_HASH = "0" * 64


def verify_code(*, plate: str, session_key: str, purpose: str, code: str, ip: str) -> VerifyResult:
    """Check a code for (plate, session, purpose); consumes it on success. Raises InvalidPlate.

    On success call ``grant(request.session, plate)``. Wrong entries count against the code (5) and
    against the phone's day (10, then a 1-hour lock).
    """
    plate = normalize_plate(plate)
    purpose = _check_purpose(purpose)
    entered = _normalize_code(code)
    if entered is None:
        return VerifyResult(False, MSG_FORMAT, "invalid_format")
    if not session_key:
        return VerifyResult(False, MSG_NO_CODE, "no_code")

    wait = _redis_precheck("verify", ip)
    if wait:
        return VerifyResult(False, MSG_BUSY.format(wait=_wait_text(wait)), "throttled")

    session_hash = _digest("session", session_key)
    now = timezone.now()
    with transaction.atomic():
        otp = (
            OtpCode.objects.select_for_update()
            .filter(
                plate=plate,
                session_hash=session_hash,
                purpose=purpose,
                used_at__isnull=True,
                invalidated_at__isnull=True,
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if otp is None:
            return VerifyResult(False, MSG_NO_CODE, "no_code")
        subject = otp.phone_hash
        plate_subject = _digest("unknown-plate", plate)
        rows = _lock_counters(
            [
                _Limit(_lock_scope(subject), LOCK_SECONDS, 1),
                _Limit(_lock_scope(plate_subject), LOCK_SECONDS, 1),
                _Limit(_fail_scope(subject), DAY, MAX_FAILURES_PER_DAY),
            ],
            now,
        )
        locked = _locked_for(rows, subject, now)
        if locked:
            return VerifyResult(False, MSG_LOCKED.format(wait=_wait_text(locked)), "locked")
        if now >= otp.expires_at:
            return VerifyResult(False, MSG_EXPIRED, "expired")
        if otp.attempts >= MAX_ATTEMPTS_PER_CODE:
            return VerifyResult(False, MSG_DEAD, "too_many_attempts")

        # Always compute and compare, also for an unknown plate (empty hash), for even timing.
        computed = _code_hash(purpose=purpose, plate=plate, session_hash=session_hash, code=entered)
        matches = hmac.compare_digest(computed, otp.code_hash or _DUMMY_HASH) and bool(otp.code_hash)

        if matches:
            # The conditional update is what makes the code single-use under concurrency.
            if OtpCode.objects.filter(pk=otp.pk, used_at__isnull=True, invalidated_at__isnull=True).update(
                used_at=now
            ):
                logger.info("verification: code verified otp=%s subject=%s", otp.pk, _short(subject))
                return VerifyResult(True, MSG_OK, "ok")
            return VerifyResult(False, MSG_NO_CODE, "no_code")

        OtpCode.objects.filter(pk=otp.pk).update(attempts=F("attempts") + 1)
        attempts = otp.attempts + 1
        (failures,) = _bump([rows[(_fail_scope(subject), DAY)]], now)
        logger.info(
            "verification: wrong code otp=%s subject=%s attempts=%s failures=%s",
            otp.pk,
            _short(subject),
            attempts,
            failures,
        )
        if failures >= MAX_FAILURES_PER_DAY:
            # The phone is locked, and so is the plate the failures were made on (so that asking for
            # this plate again says so, as it would for an unknown plate).
            lock_rows = {
                rows[(_lock_scope(subject), LOCK_SECONDS)].pk,
                rows[(_lock_scope(plate_subject), LOCK_SECONDS)].pk,
            }
            ThrottleCounter.objects.filter(pk__in=lock_rows).update(window_start=now, count=1, updated_at=now)
            logger.warning("verification: subject locked for 1 hour subject=%s", _short(subject))
            return VerifyResult(False, MSG_LOCKED.format(wait=_wait_text(LOCK_SECONDS)), "locked")
        if attempts >= MAX_ATTEMPTS_PER_CODE:
            return VerifyResult(False, MSG_DEAD, "too_many_attempts")
        return VerifyResult(False, MSG_WRONG.format(left=MAX_ATTEMPTS_PER_CODE - attempts), "wrong")


# --- session grant --------------------------------------------------------------------------------


BINDING_SESSION_KEY = "verification.binding"


def session_binding(session) -> str:
    """The secret a code is bound to for this browser session (``session_key=`` of request_code and
    verify_code): a random value kept inside the session, made on first use.

    Only the holder of the session cookie can reach it, like the session key itself, but it exists
    before the session is stored: the page asking for a code saves its session once, at the end
    (issue 13), instead of saving it early to learn its key and again with the pending state. It
    survives ``grant``'s key cycling, which is harmless: the cycled session is the same browser's."""
    value = session.get(BINDING_SESSION_KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        session[BINDING_SESSION_KEY] = value
    return value


def grant(session, plate: str) -> None:
    """Unlock exactly one plate for this browser session for a limited time (replacing any other).

    The session key is cycled first (session fixation: a key planted before verification must not
    inherit the unlocked records).
    """
    plate = normalize_plate(plate)
    session.cycle_key()
    ttl = int(_setting("VERIFICATION_GRANT_SECONDS", GRANT_TTL_SECONDS))
    session[GRANT_SESSION_KEY] = {"plate": plate, "expires_at": timezone.now().timestamp() + ttl}


def granted_plate(session) -> str | None:
    """The plate this session has unlocked, or None (never unlocked, or expired)."""
    data = session.get(GRANT_SESSION_KEY)
    if not isinstance(data, dict):
        return None
    plate, expires_at = data.get("plate"), data.get("expires_at")
    if not isinstance(plate, str) or not isinstance(expires_at, int | float):
        revoke(session)
        return None
    if timezone.now().timestamp() >= expires_at:
        revoke(session)
        return None
    return plate


def revoke(session) -> None:
    session.pop(GRANT_SESSION_KEY, None)


# --- housekeeping ---------------------------------------------------------------------------------


def purge_stale(*, now: datetime | None = None) -> tuple[int, int]:
    """Delete codes older than a day and counters whose window ended; returns (codes, counters)."""
    now = now or timezone.now()
    codes, _ = OtpCode.objects.filter(created_at__lt=now - timedelta(days=1)).delete()
    counters, _ = ThrottleCounter.objects.filter(window_start__lt=now - timedelta(seconds=DAY)).delete()
    return codes, counters
