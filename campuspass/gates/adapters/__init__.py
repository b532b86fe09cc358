"""`adapter_for(gate)`: the push adapter of a gate's kind."""

from __future__ import annotations

from .base import GateAdapter, GateError, Item, PushResult, RemoteItem

__all__ = ["GateAdapter", "GateError", "Item", "PushResult", "RemoteItem", "adapter_for"]


def adapter_for(gate) -> GateAdapter:
    if gate.kind == "hik_artemis":
        from .hikvision_artemis import HikvisionArtemisAdapter

        return HikvisionArtemisAdapter.for_gate(gate)
    if gate.kind == "hik_isapi":
        from .hikvision_isapi import HikvisionIsapiAdapter

        return HikvisionIsapiAdapter.for_gate(gate)
    if gate.kind == "dahua_itc":
        from .dahua_itc import DahuaItcAdapter

        return DahuaItcAdapter.for_gate(gate)
    raise GateError(f"道闸类型 {gate.kind} 不需要推送名单。", code="not_push", retryable=False)
