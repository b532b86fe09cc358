"""Verification of WeChat Pay v3 notifications: one verifier for the real platform and the simulator.

Checks run in a fixed order, cheapest and key-free first, so that a forged request costs us no
cryptography and leaves nothing behind but a log row (written by the endpoint).
"""

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .crypto import aes_gcm_decrypt, verify_message
from .models import UsedNonce
from .providers.base import Notification, NotificationRejected

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# WeChat Pay sends probe requests whose signature starts with this; they must fail verification.
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
HEADER_NAMES = ("wechatpay-serial", "wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature")
NONCE_RETENTION = dt.timedelta(days=1)
# A platform certificate serial as WeChat sends it in Wechatpay-Serial: hexadecimal (40 digits today).
CERT_SERIAL_RE = re.compile(r"[0-9A-Fa-f]{8,40}")


def normalize_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case dash names, whether given as HTTP headers or as Django META keys."""
    result = {}
    for key, value in headers.items():
        name = key.lower().replace("_", "-")
        name = name.removeprefix("http-")
        result[name] = str(value)
    return result


HEADER_VALUE_MAX = 128  # enough to diagnose; a flood of huge headers stores no more than this


def header_subset(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping for diagnosis, each cut to HEADER_VALUE_MAX characters."""
    normalized = normalize_headers(headers)
    keep = (*HEADER_NAMES, "wechatpay-signature-type", "content-type", "user-agent")
    subset = {name: normalized[name][:HEADER_VALUE_MAX] for name in keep if name in normalized}
    if "wechatpay-signature" in subset:  # enough to recognise it, not a replayable copy
        subset["wechatpay-signature"] = subset["wechatpay-signature"][:24] + "…"
    return subset


class NotificationVerifier:
    """`public_keys`: serial → key for the serials known up front (the platform public key ID, the
    simulator's). `certificate_key`: optional lookup for platform-certificate serials (certificate
    mode); it is only asked for a serial that looks like a certificate serial, and answers None for
    one it does not know, so an unknown serial is still refused before any signature check."""

    def __init__(
        self,
        public_keys: Mapping[str, Any],
        apiv3_key: bytes,
        tolerance: int = 300,
        certificate_key: Callable[[str], Any] | None = None,
    ):
        if len(apiv3_key) != 32:
            raise ValueError("APIv3 key must be 32 bytes")
        self.public_keys = dict(public_keys)
        self.apiv3_key = apiv3_key
        self.tolerance = tolerance
        self.certificate_key = certificate_key

    def key_for(self, serial: str):
        key = self.public_keys.get(serial)
        if key is None and self.certificate_key is not None and CERT_SERIAL_RE.fullmatch(serial):
            key = self.certificate_key(serial.upper())
        return key

    def verify(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verified and decrypted notification; raises NotificationRejected with a reason code."""
        h = normalize_headers(headers)
        missing = [name for name in HEADER_NAMES if not h.get(name)]
        if missing:
            raise NotificationRejected("missing_headers", f"缺少请求头：{', '.join(missing)}", status=400)
        serial, timestamp, nonce, signature = (h[name] for name in HEADER_NAMES)

        public_key = self.key_for(serial)
        if public_key is None:
            raise NotificationRejected("unknown_serial", f"未知的平台公钥/证书序列号：{serial[:64]}")
        if signature.startswith(SIGNTEST_PREFIX):
            raise NotificationRejected("signtest_signature", "签名探测请求，拒绝")
        signature_type = h.get("wechatpay-signature-type")
        if signature_type and signature_type != SIGNATURE_TYPE:
            raise NotificationRejected(
                "unsupported_signature_type", f"不支持的签名类型：{signature_type[:40]}"
            )
        try:
            ts = int(timestamp)
        except ValueError:
            raise NotificationRejected("bad_timestamp", "时间戳格式错误", status=400) from None
        if abs(int(time.time()) - ts) > self.tolerance:  # whole seconds, as the header has
            raise NotificationRejected("stale_timestamp", "时间戳超出允许范围")
        if len(nonce) > 64:
            raise NotificationRejected("bad_nonce", "随机串过长", status=400)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationRejected("bad_body", "报文不是 UTF-8", status=400) from None
        if not verify_message(public_key, signature, timestamp, nonce, text):
            raise NotificationRejected("bad_signature", "签名验证失败")

        # The nonce row and the decryption succeed or fail together: a rejected notification must
        # not use up its nonce (the caller's log row is the only trace it leaves). The endpoint
        # calls this inside the one transaction that also records and applies the notification
        # (issue 13), so a rejection raised here rolls the nonce back with everything else; no
        # savepoint of its own.
        with transaction.atomic(savepoint=False):
            if not _claim_nonce(nonce):
                raise NotificationRejected("nonce_reused", "随机串已使用过（重放）")
            return self._decode(text)

    def _decode(self, text: str) -> Notification:
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            event_id = str(envelope["id"])
            event_type = str(envelope["event_type"])
        except (ValueError, KeyError, TypeError):
            raise NotificationRejected("bad_body", "报文格式错误", status=400) from None
        if not isinstance(resource, dict) or envelope.get("resource_type") != "encrypt-resource":
            raise NotificationRejected("bad_body", "不是加密资源", status=400)
        if resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise NotificationRejected("unsupported_algorithm", "不支持的加密算法", status=400)
        plaintext = aes_gcm_decrypt(
            self.apiv3_key,
            str(resource.get("ciphertext", "")),
            nonce=str(resource.get("nonce", "")),
            associated_data=str(resource.get("associated_data") or ""),
        )
        if plaintext is None:
            raise NotificationRejected("decrypt_failed", "资源解密失败", status=400)
        try:
            decrypted = json.loads(plaintext)
        except ValueError:
            raise NotificationRejected("bad_resource", "解密后的资源不是 JSON", status=400) from None
        if not isinstance(decrypted, dict):
            raise NotificationRejected("bad_resource", "解密后的资源格式错误", status=400)
        return Notification(
            event_id=event_id,
            event_type=event_type,
            resource=decrypted,
            received_at=timezone.now(),
            summary=str(envelope.get("summary", "")),
            create_time=str(envelope.get("create_time", "")),
        )


def _claim_nonce(nonce: str) -> bool:
    """Record a nonce; False when it was already used. One statement that cannot fail on the
    duplicate (ON CONFLICT DO NOTHING, told by its row count), so no savepoint is needed around it."""
    table = connection.ops.quote_name(UsedNonce._meta.db_table)
    q = connection.ops.quote_name
    created = UsedNonce._meta.get_field("created_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({q('nonce')}, {q('created_at')}) VALUES (%s, %s) "  # noqa: S608
            f"ON CONFLICT ({q('nonce')}) DO NOTHING",
            [nonce, created],
        )
        return cursor.rowcount == 1


def prune_used_nonces(*, older_than: dt.timedelta = NONCE_RETENTION) -> int:
    """Delete nonces older than a day (timestamps that old are rejected anyway); schedule daily."""
    deleted, _ = UsedNonce.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def _mismatch(mismatches: list[str], name: str, expected, actual) -> None:
    if expected != actual:
        mismatches.append(f"{name}: 应为 {expected!r}，实为 {actual!r}")


def check_payment_resource(
    resource: Mapping[str, Any], *, appid: str, mchid: str, out_trade_no: str, amount_fen: int
) -> list[str]:
    """What in a decrypted TRANSACTION.SUCCESS resource disagrees with our order (empty: all agree)."""
    mismatches: list[str] = []
    _mismatch(mismatches, "appid", appid, resource.get("appid"))
    _mismatch(mismatches, "mchid", mchid, resource.get("mchid"))
    _mismatch(mismatches, "out_trade_no", out_trade_no, resource.get("out_trade_no"))
    _mismatch(mismatches, "trade_state", "SUCCESS", resource.get("trade_state"))
    amount = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
    _mismatch(mismatches, "amount.total", amount_fen, amount.get("total"))
    _mismatch(mismatches, "amount.currency", "CNY", amount.get("currency", "CNY"))
    if not resource.get("transaction_id"):
        mismatches.append("transaction_id: 缺失")
    return mismatches


def check_refund_resource(
    resource: Mapping[str, Any], *, mchid: str, out_trade_no: str, out_refund_no: str, amount_fen: int
) -> list[str]:
    """What in a decrypted REFUND.* resource disagrees with our refund (empty: all agree)."""
    mismatches: list[str] = []
    _mismatch(mismatches, "mchid", mchid, resource.get("mchid"))
    _mismatch(mismatches, "out_trade_no", out_trade_no, resource.get("out_trade_no"))
    _mismatch(mismatches, "out_refund_no", out_refund_no, resource.get("out_refund_no"))
    amount = resource.get("amount") if isinstance(resource.get("amount"), dict) else {}
    _mismatch(mismatches, "amount.refund", amount_fen, amount.get("refund"))
    if resource.get("refund_status") not in {"SUCCESS", "ABNORMAL", "CLOSED"}:
        mismatches.append(f"refund_status: 未知值 {resource.get('refund_status')!r}")
    return mismatches


def parse_time(value: str | None) -> dt.datetime | None:
    """WeChat's RFC 3339 times ("2018-06-08T10:34:56+08:00") as aware datetimes."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else None


def purge_refused_notifications(*, now: dt.datetime | None = None) -> int:
    """Delete refused notification rows older than PAYMENT_REFUSED_NOTIFICATION_DAYS (default 30):
    they only serve to diagnose a misconfiguration or an attack, and must not grow without end."""
    from django.conf import settings

    from .models import ReceivedNotification

    days = int(getattr(settings, "PAYMENT_REFUSED_NOTIFICATION_DAYS", 30))
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    deleted, _ = ReceivedNotification.objects.filter(verified=False, received_at__lt=cutoff).delete()
    return deleted
