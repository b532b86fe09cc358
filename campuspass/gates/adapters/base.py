"""The push adapter interface (like payments/providers/base.py): an adapter knows one vendor's
protocol, not our passes. sync.py decides what a gate should have; the adapter writes it and reads back
what the gate has."""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass

from campuspass.core.errors import CampusPassError


class GateError(CampusPassError):
    """The gate refused or could not be reached; the message is Chinese and meant for the office.

    `retryable` is False for refusals that the same request will meet again (bad credentials, a plate
    the vendor does not accept): the entry is then marked failed at once instead of retried forever."""

    def __init__(self, message: str, *, code: str = "gate_error", retryable: bool = True):
        super().__init__(message, code=code)
        self.retryable = retryable


@dataclass(frozen=True)
class Item:
    """One plate as we want it on the gate."""

    plate: str
    colour: str  # plate_kinds colour
    plate_type: str  # GA 36 code
    list_type: str  # "allow" | "deny"
    valid_from: dt.date | None
    valid_to: dt.date | None
    remote_id: str = ""  # the gate's own id for the record, when it has one
    op_id: str = ""  # idempotency id: the same op_id twice writes once


@dataclass(frozen=True)
class RemoteItem:
    """One record as the gate has it (ours or anyone else's)."""

    plate: str
    list_type: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    remote_id: str = ""


@dataclass(frozen=True)
class PushResult:
    remote_id: str = ""
    confirmed: bool = True  # False: accepted, the gate applies it later (read back to confirm)


class GateAdapter(abc.ABC):
    #: True when a write is applied asynchronously and must be confirmed by reading back.
    asynchronous = False

    @abc.abstractmethod
    def upsert(self, item: Item) -> PushResult:
        """Make the gate hold `item` (add or change); raises GateError."""

    @abc.abstractmethod
    def remove(self, item: Item) -> None:
        """Remove what we put there for `item.plate`; removing what is already gone is not an error."""

    @abc.abstractmethod
    def list_items(self) -> list[RemoteItem]:
        """Everything the gate holds (read back; includes records others put there)."""

    @abc.abstractmethod
    def ping(self) -> None:
        """A cheap call that shows the gate answers; raises GateError."""
