"""The outbox: `sms_enqueue` stores a message in the caller's transaction and has it sent after
commit; `sms_send` sends one stored message (called by the task)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.phones import normalize_phone

from .backends import SendResult, SmsMessage, get_backend
from .models import OutboxMessage
from .templates import clean_params, render

logger = logging.getLogger("campuspass.sms")

#: Stop retrying automatically after this many attempts (an operator can still resend).
MAX_ATTEMPTS = 3
#: Message kinds not worth sending late: a code expires in minutes, the person asks again.
NOT_RETRIED = frozenset({"otp"})
#: A queued message this old whose task never ran (lost enqueue) is picked up by the retry.
STALE_QUEUED_AFTER = timedelta(minutes=10)
_ERROR_MAX = 1000


def _enqueue_send(message_id: int) -> None:
    from .tasks import send_sms  # the task module imports this one

    send_sms.enqueue(message_id=message_id)


def _on_commit_send(message_id: int) -> None:
    # robust: the caller's change is committed already; a queue hiccup must not turn its
    # response into an error. The message stays queued and retry_failed_sms picks it up.
    transaction.on_commit(lambda: _enqueue_send(message_id), robust=True)


#: Parameters that are secrets (a one-time code): never stored in clear, not even while the message
#: waits for the worker. They are sealed (Fernet, a key derived from SECRET_KEY) under SEALED_KEY and
#: opened only to hand the text to the backend; the outbox text and params show "******".
SECRET_PARAMS = {"otp": ("code",)}
SEALED_KEY = "sealed"
HIDDEN = "******"
#: A sealed secret older than this is useless (a code lives 5 minutes) and is not opened.
SEALED_TTL_SECONDS = 30 * 60


def _fernet():
    import base64
    import hashlib

    from cryptography.fernet import Fernet
    from django.conf import settings

    digest = hashlib.sha256(f"campuspass.sms.outbox:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _seal(template: str, params: dict[str, Any]) -> dict[str, Any]:
    secret_names = SECRET_PARAMS.get(template, ())
    secrets = {name: str(params[name]) for name in secret_names if name in params}
    if not secrets:
        return params
    fernet = _fernet()
    stored = {**params, **dict.fromkeys(secrets, HIDDEN)}
    stored[SEALED_KEY] = {name: fernet.encrypt(value.encode()).decode() for name, value in secrets.items()}
    return stored


def _opened(message: OutboxMessage) -> tuple[str, dict[str, Any]]:
    """The text and parameters to hand to the backend (secrets opened). Raises nothing: a secret
    that cannot be opened (expired, another SECRET_KEY) stays hidden."""
    sealed = message.params.get(SEALED_KEY)
    if not sealed:
        return message.text, message.params
    from cryptography.fernet import InvalidToken

    params = {k: v for k, v in message.params.items() if k != SEALED_KEY}
    fernet = _fernet()
    for name, token in sealed.items():
        try:
            params[name] = fernet.decrypt(token.encode(), ttl=SEALED_TTL_SECONDS).decode()
        except (InvalidToken, ValueError, TypeError):
            return message.text, {k: v for k, v in message.params.items() if k != SEALED_KEY}
    return render(message.template, params), params


def sms_enqueue(*, phone: str, template: str, params: Mapping[str, Any], related: str = "") -> OutboxMessage:
    """Store the message (text rendered now, secrets sealed) and send it after the caller's
    transaction commits. Raises InvalidPhone for a number that is not a mainland mobile,
    SmsTemplateError for an unknown template or parameters that do not fit it."""
    number = normalize_phone(phone)
    cleaned = clean_params(template, params)
    message = OutboxMessage.objects.create(
        phone=number,
        template=template,
        params=_seal(template, cleaned),
        text=render(template, {**cleaned, **dict.fromkeys(SECRET_PARAMS.get(template, ()), HIDDEN)}),
        related=related[:100],
    )
    _on_commit_send(message.pk)
    return message


def _scrub(error: str, message: OutboxMessage, text: str, params: Mapping[str, Any]) -> str:
    """Vendor errors and exceptions may echo the request: keep the number, the text and a code
    out of logs and of last_error."""
    error = (
        error.replace(text, "[短信内容]")
        .replace(message.text, "[短信内容]")
        .replace(message.phone, "[手机号]")
    )
    for name in SECRET_PARAMS.get(message.template, ()):
        value = str(params.get(name) or "")
        if value and value != HIDDEN:
            error = error.replace(value, HIDDEN)
    return error


def sms_send(*, message_id: int) -> OutboxMessage | None:
    """Send one outbox message unless it was sent already, and record the outcome. Raises
    nothing for a send that fails: the failure is recorded on the message.

    No transaction is open during the vendor's HTTP call: the attempt is claimed first with a
    compare-and-set on `attempts` (so the task and a retry, or a second worker, never both send),
    then the vendor is called, then the result is recorded in a second short transaction. A sealed
    one-time code is opened for the backend only."""
    message = OutboxMessage.objects.filter(pk=message_id).first()
    if message is None:
        logger.warning("sms: outbox message %s does not exist", message_id)
        return None
    if message.status == OutboxMessage.Status.SENT:
        return message
    claimed = (
        OutboxMessage.objects.filter(pk=message.pk, attempts=message.attempts)
        .exclude(status=OutboxMessage.Status.SENT)
        .update(attempts=F("attempts") + 1)
    )
    if not claimed:
        return OutboxMessage.objects.get(pk=message.pk)  # someone else is sending or has sent it
    message.attempts += 1
    text, params = _opened(message)
    try:
        result = get_backend().send(
            SmsMessage(phone=message.phone, text=text, template=message.template, params=params)
        )
    except Exception as exc:  # any backend failure is recorded, never raised into the caller
        result = SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    with transaction.atomic():
        if result.ok:
            message.status = OutboxMessage.Status.SENT
            message.sent_at = timezone.now()
            message.last_error = ""
        else:
            message.status = OutboxMessage.Status.FAILED
            message.last_error = _scrub(result.error or "unknown error", message, text, params)[:_ERROR_MAX]
        message.provider_id = (result.provider_id or "")[:100]
        fields = ["status", "sent_at", "last_error", "provider_id"]  # attempts: counted by the claim
        if SEALED_KEY in message.params:
            # A one-time code is the key to a person's records: once the one attempt is made it is
            # never needed again, not even sealed.
            message.params = {k: v for k, v in message.params.items() if k != SEALED_KEY}
            fields += ["params"]
        message.save(update_fields=fields)
    if result.ok:
        logger.info(
            "sms: message %s (%s, %s) sent, attempt %s",
            message.pk,
            message.template,
            message.related,
            message.attempts,
        )
    else:
        logger.warning(
            "sms: message %s (%s, %s) failed, attempt %s: %s",
            message.pk,
            message.template,
            message.related,
            message.attempts,
            message.last_error,
        )
    return message


def sms_retry_failed(*, max_attempts: int = MAX_ATTEMPTS, now: datetime | None = None) -> int:
    """Send again the failed messages (and queued ones whose task was lost) with fewer than
    `max_attempts` attempts, codes excepted. Returns how many were tried. Raises nothing."""
    now = now or timezone.now()
    candidates = (
        OutboxMessage.objects.filter(attempts__lt=max_attempts)
        .exclude(template__in=NOT_RETRIED)
        .filter(
            Q(status=OutboxMessage.Status.FAILED)
            | Q(status=OutboxMessage.Status.QUEUED, created_at__lt=now - STALE_QUEUED_AFTER)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    tried = 0
    for message_id in list(candidates):
        sms_send(message_id=message_id)
        tried += 1
    return tried


@transaction.atomic
def sms_resend(*, message_ids: Iterable[int], acting_user: Any) -> int:
    """Queue the failed messages among `message_ids` for another attempt (the admin action),
    audited as sms.outbox.resent. Returns how many were queued. Raises nothing."""
    messages = list(
        OutboxMessage.objects.select_for_update()
        .filter(pk__in=list(message_ids), status=OutboxMessage.Status.FAILED)
        .order_by("pk")
    )
    for message in messages:
        log_action(
            actor=acting_user,
            action="sms.outbox.resent",
            obj=message,
            data={"template": message.template, "attempts": message.attempts, "related": message.related},
        )
        _on_commit_send(message.pk)
    return len(messages)
