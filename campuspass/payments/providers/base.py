"""The payment provider interface. Payments is an adapter: it knows WeChat Pay, not our orders."""

import abc
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from campuspass.core.errors import CampusPassError


class PaymentProviderError(CampusPassError):
    """The platform refused or could not be reached; the message is Chinese and meant for a person.

    `code` is the platform's error code when there is one (e.g. ORDER_NOT_EXIST, ORDERPAID,
    NOT_ENOUGH), else "provider_error". `call` names the call that answered (one of
    `payments.errors.CALLS`) when the provider knows it, e.g. "download_bill" inside `download_bill`.
    """

    def __init__(self, message: str, *, code: str = "provider_error", call: str = ""):
        super().__init__(message, code=code)
        self.call = call


class NotificationRejected(Exception):  # noqa: N818 - the name the rest of the project uses
    """A notification failed verification; nothing but a log row may be written for it."""

    def __init__(self, reason_code: str, message: str, *, status: int = 401):
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class JsapiPayment:
    out_trade_no: str
    params: dict[str, str]  # for WeixinJSBridge getBrandWCPayRequest
    cashier_url: str | None = None  # the simulator's cashier page; None for real WeChat Pay


@dataclass(frozen=True)
class TradeState:
    out_trade_no: str
    trade_state: str  # SUCCESS, NOTPAY, CLOSED, USERPAYING, PAYERROR, REFUND, REVOKED
    transaction_id: str = ""
    amount_fen: int | None = None
    payer_openid: str = ""
    success_time: dt.datetime | None = None
    appid: str = ""
    mchid: str = ""

    @property
    def is_paid(self) -> bool:
        # REFUND means it was paid and (part of it) has been refunded since.
        return self.trade_state in {"SUCCESS", "REFUND"}


@dataclass(frozen=True)
class RefundState:
    out_refund_no: str
    refund_id: str
    status: str  # SUCCESS, PROCESSING, ABNORMAL, CLOSED
    amount_fen: int
    total_fen: int
    success_time: dt.datetime | None = None
    out_trade_no: str = ""


@dataclass(frozen=True)
class Notification:
    event_id: str
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED
    resource: dict[str, Any]  # decrypted
    received_at: dt.datetime
    summary: str = ""
    create_time: str = ""
    kind: str = field(default="")  # payment / refund, set by the endpoint that received it


@dataclass(frozen=True)
class BillRow:
    kind: str  # payment / refund
    out_trade_no: str
    out_refund_no: str
    transaction_id: str
    amount_fen: int
    state: str
    time: dt.datetime | None


OAUTH_STATE_RE = re.compile(r"[A-Za-z0-9]{1,128}")


def check_oauth_state(state: str) -> str:
    """WeChat's web OAuth takes a state of letters and digits only, at most 128 bytes."""
    if not OAUTH_STATE_RE.fullmatch(state or ""):
        raise ValueError("OAuth state must be 1-128 letters and digits (WeChat's rule)")
    return state


class PaymentProvider(abc.ABC):
    name: str = ""
    appid: str = ""
    mchid: str = ""

    @abc.abstractmethod
    def create_jsapi(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        openid: str,
        notify_url: str,
        expire_at: dt.datetime,
        return_url: str | None = None,
    ) -> JsapiPayment:
        """Place the order with the platform; raises PaymentProviderError.

        `return_url` (a same-site relative path) is where the simulator's cashier sends the browser
        afterwards; real WeChat Pay ignores it (the page's JS continues after WeixinJSBridge)."""

    @abc.abstractmethod
    def query(self, out_trade_no: str) -> TradeState:
        """The platform's view of the order; raises PaymentProviderError (code ORDER_NOT_EXIST …)."""

    @abc.abstractmethod
    def close(self, out_trade_no: str) -> None:
        """Close an unpaid order; raises PaymentProviderError (code ORDERPAID when it was paid)."""

    @abc.abstractmethod
    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        amount_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str,
    ) -> RefundState:
        """Request a refund; the same out_refund_no returns the same refund. Raises PaymentProviderError."""

    @abc.abstractmethod
    def query_refund(self, out_refund_no: str) -> RefundState:
        """Raises PaymentProviderError (code RESOURCE_NOT_EXISTS when unknown)."""

    @abc.abstractmethod
    def verify_notification(self, headers, body: bytes) -> Notification:
        """Verify and decrypt a notification; raises NotificationRejected."""

    @abc.abstractmethod
    def download_bill(self, date: dt.date) -> list[BillRow]:
        """Every payment and refund of that day (Asia/Shanghai); raises PaymentProviderError."""

    @abc.abstractmethod
    def oauth_url(self, redirect_uri: str, state: str) -> str:
        """Where to send the browser to learn the user's openid (snsapi_base, no consent page)."""

    @abc.abstractmethod
    def openid_from_code(self, code: str) -> str:
        """Exchange the OAuth code for the openid; raises PaymentProviderError."""
