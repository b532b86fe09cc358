"""Keys of gate devices that ask us (check API, feed) and how their requests are signed (decision 0027).

A device's secret is never stored: it is HMAC-SHA256(SECRET_KEY, key id + salt), shown once when the
office issues the key. Revoking clears nothing but sets `key_revoked_at`; the next request with that
key is refused (the check reads the row every time, no cache).

Request signature (HMAC-SHA256, base64) over six lines joined by "\\n":
    METHOD, path, canonical query (pairs sorted, RFC 3986 percent-encoding), timestamp, nonce,
    SHA-256 of the body in lower-case hex (of the empty string for GET)
sent as X-Gate-Key, X-Gate-Timestamp (Unix seconds, within ±300 s), X-Gate-Nonce (16–64 characters
[A-Za-z0-9_-], never accepted twice for a key: Redis or GateNonce, decision 0039) and X-Gate-Signature.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from campuspass.core.compiled import CompiledRead
from campuspass.core.fieldrules import parse_int

from .models import Gate, GateGroup, GateNonce

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 300
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def derive_secret(key_id: str, salt: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"campuspass.gate-key|{key_id}|{salt}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_key() -> tuple[str, str]:
    """(key id, salt) for a new device key."""
    return "gk_" + secrets.token_hex(8), secrets.token_hex(16)


def canonical_query(params) -> str:
    """`params`: a QueryDict, dict or list of pairs."""
    if hasattr(params, "lists"):
        pairs = [(k, v) for k, values in params.lists() for v in values]
    elif hasattr(params, "items"):
        pairs = list(params.items())
    else:
        pairs = list(params)
    return "&".join(f"{quote(str(k), safe='-_.~')}={quote(str(v), safe='-_.~')}" for k, v in sorted(pairs))


def string_to_sign(method: str, path: str, params, timestamp: str, nonce: str, body: bytes = b"") -> str:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, canonical_query(params), timestamp, nonce, body_hash])


def sign(secret: str, method: str, path: str, params, timestamp: str, nonce: str, body: bytes = b"") -> str:
    message = string_to_sign(method, path, params, timestamp, nonce, body).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def signed_headers(
    key_id: str, secret: str, method: str, path: str, params, *, body: bytes = b"", now: float | None = None
):
    """The headers a device sends (used by tests and the README's example)."""
    timestamp, nonce = str(int(now if now is not None else time.time())), secrets.token_urlsafe(24)
    return {
        "X-Gate-Key": key_id,
        "X-Gate-Timestamp": timestamp,
        "X-Gate-Nonce": nonce,
        "X-Gate-Signature": sign(secret, method, path, params, timestamp, nonce, body),
    }


class Refused(Exception):  # noqa: N818 - read as "the request was refused"
    def __init__(self, code: str, message: str, status: int = 401):
        super().__init__(code)
        self.code, self.message, self.status = code, message, status


_GATE_COLUMNS = [f.attname for f in Gate._meta.concrete_fields]
_GROUP_COLUMNS = [f.attname for f in GateGroup._meta.concrete_fields]
_GATE_READ = CompiledRead(
    lambda key_id: (
        Gate.objects.filter(key_id=key_id)
        .order_by()
        .values_list(*_GATE_COLUMNS, *(f"group__{name}" for name in _GROUP_COLUMNS))
    ),
    1,
)


def _gate_from_row(row) -> Gate:
    split = len(_GATE_COLUMNS)
    gate = Gate.from_db("default", _GATE_COLUMNS, row[:split])
    gate.group = GateGroup.from_db("default", _GROUP_COLUMNS, row[split:]) if gate.group_id else None
    return gate


def gate_by_key(key_id: str) -> Gate | None:
    """The gate of a device key with its group, in one indexed read whose SQL is built once."""
    rows = _GATE_READ.rows(key_id)
    return _gate_from_row(rows[0]) if rows else None


def gate_read(key_id: str) -> tuple[CompiledRead, tuple]:
    """The read of `gate_by_key` to run with others in one round trip (compiled.rows_together);
    `gate_from_read` makes its row a Gate."""
    return _GATE_READ, (key_id[:32],)


def gate_from_read(row) -> Gate | None:
    return _gate_from_row(row) if row is not None else None


@dataclass(frozen=True)
class Caller:
    gate: Gate


@dataclass(frozen=True)
class Signed:
    """A request's signature headers, checked for everything that needs no database."""

    key_id: str
    timestamp: str
    nonce: str
    signature: str


def signed_parts(request) -> Signed:
    """The signature headers, the timestamp window and the nonce's form; raises Refused."""
    headers = request.headers
    key_id = headers.get("X-Gate-Key", "")
    timestamp = headers.get("X-Gate-Timestamp", "")
    nonce = headers.get("X-Gate-Nonce", "")
    signature = headers.get("X-Gate-Signature", "")
    if not (key_id and timestamp and nonce and signature):
        raise Refused(
            "missing_headers", "缺少签名头：X-Gate-Key、X-Gate-Timestamp、X-Gate-Nonce、X-Gate-Signature。"
        )
    when = parse_int(timestamp, maximum=2**40)  # ASCII digits only: "²".isdigit() is true, int("²") fails
    if when is None or abs(time.time() - when) > WINDOW_SECONDS:
        raise Refused("timestamp", "时间戳无效或与服务器相差超过 300 秒，请校准设备时钟。")
    if not NONCE_RE.fullmatch(nonce):
        raise Refused("nonce_format", "X-Gate-Nonce 应为 16–64 位字母、数字、- 或 _。")
    return Signed(key_id[:32], timestamp, nonce, signature)


def authenticate(request, signed: Signed, gate: Gate | None) -> Caller:
    """The checks that need the key's gate (read every request: a revoked key or disabled gate stops
    at once), then the signature, the nonce's first use and the heartbeat; raises Refused."""
    if gate is None:
        raise Refused("unknown_key", "密钥 ID 不存在，请在保卫处后台“道闸同步”中查看本设备的密钥。")
    if gate.key_revoked_at is not None or not gate.enabled:
        raise Refused("key_revoked", "本设备的密钥已被吊销或设备已停用，请联系保卫处重新签发。")
    secret = derive_secret(gate.key_id, gate.key_salt)
    expected = sign(
        secret, request.method, request.path, request.GET, signed.timestamp, signed.nonce, request.body
    )
    if not hmac.compare_digest(expected.encode(), signed.signature.encode()):
        raise Refused("signature", "签名不正确，请按接口文档核对待签名字符串和密钥。")
    if not first_use(gate.key_id, signed.nonce):
        raise Refused("replay", "该 nonce 已使用过，请每次请求生成新的 nonce。")
    now = timezone.now()
    if gate.last_heartbeat_at is None or (now - gate.last_heartbeat_at).total_seconds() > 60:
        Gate.objects.filter(pk=gate.pk).update(last_heartbeat_at=now)
    return Caller(gate)


def verify(request) -> Caller:
    """Check a device's request; raises Refused with a code and a Chinese message. The checks that
    need no database first (signed_parts), then the gate row and the rest (authenticate)."""
    signed = signed_parts(request)
    return authenticate(request, signed, gate_by_key(signed.key_id))


NONCE_SECONDS = 2 * WINDOW_SECONDS  # a nonce is remembered past the last second its timestamp passes


def first_use(key_id: str, nonce: str) -> bool:
    """Record a nonce of a key; False if it was used before. With Redis (settings.GATE_NONCE_STORE
    "cache": the shared default cache) one SET NX EX; otherwise an INSERT into GateNonce, whose unique
    constraint refuses the second use. A Redis that does not answer refuses the request (503): a
    replay must never slip through because the store that knows the nonce is away."""
    if settings.GATE_NONCE_STORE == "cache":
        try:
            return cache.add(f"gate-nonce:{key_id}:{nonce}", 1, timeout=NONCE_SECONDS)
        except (RedisError, OSError):
            logger.warning("gates: nonce store (Redis) unavailable, request refused")
            raise Refused("unavailable", "服务暂时不可用，请稍后重试。", status=503) from None
    # In autocommit the INSERT is its own transaction; inside one, a savepoint keeps a refused
    # duplicate from breaking the caller's transaction.
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with guard:
            GateNonce.objects.create(key_id=key_id, nonce=nonce)
    except IntegrityError:
        return False
    return True


def prune_nonces() -> int:
    cutoff = timezone.now() - dt.timedelta(seconds=NONCE_SECONDS)
    return GateNonce.objects.filter(created_at__lt=cutoff).delete()[0]
