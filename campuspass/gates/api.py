"""The API for gates that ask (check) and systems that pull (whitelist feed), with OpenAPI docs at
/api/gate/v1/docs. Every request is signed with the device's own key (keys.py); answers carry
nothing personal: a plate's status, never a name, phone or staff number."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from ninja import NinjaAPI, Query, Schema
from ninja.security import APIKeyHeader

from campuspass.core import plate_kinds
from campuspass.core.errors import CampusPassError

from . import desired, feed, keys, services

SIGNING = (
    "每个请求都用本设备的密钥签名：X-Gate-Key（密钥 ID）、X-Gate-Timestamp（Unix 秒，与服务器相差不超过 300 秒）、"
    "X-Gate-Nonce（16–64 位，不可重复使用）、X-Gate-Signature = Base64(HMAC-SHA256(密钥, 待签名字符串))。"
    "待签名字符串为以下六行用 \\n 连接：请求方法、路径、按参数名排序并经 RFC 3986 编码的查询串、时间戳、nonce、"
    "请求体 SHA-256（小写十六进制，GET 为空串的 SHA-256）。"
)


class DeviceKey(APIKeyHeader):
    param_name = "X-Gate-Key"

    def authenticate(self, request, key):
        return keys.verify(request)


api = NinjaAPI(
    title="CampusPass 道闸接口",
    version="1",
    description=SIGNING,
    urls_namespace="gate-api",
    auth=DeviceKey(),
)


class ErrorOut(Schema):
    code: str
    message: str


@api.exception_handler(keys.Refused)
def _refused(request, exc: keys.Refused):
    return api.create_response(request, {"code": exc.code, "message": exc.message}, status=exc.status)


@api.exception_handler(CampusPassError)
def _bad_input(request, exc: CampusPassError):
    return api.create_response(request, {"code": exc.code, "message": exc.message}, status=400)


class CheckOut(Schema):
    allowed: bool
    valid_until: dt.date | None = None
    reason_code: str


class CheckIn(Schema):
    plate: str
    colour: str | None = None


@api.get(
    "/check",
    response={200: CheckOut, 400: ErrorOut, 401: ErrorOut, 503: ErrorOut},
    summary="车牌放行查询",
    description="reason_code：" + "；".join(f"{k} {v}" for k, v in desired.REASON_CODES.items()),
)
def check(request, params: Query[CheckIn]):
    return answer(request.auth.gate, params.plate, params.colour)


def answer(gate, plate: str, colour: str | None) -> dict:
    """The check's answer for a verified gate (CheckOut's fields, in its order); raises CampusPassError
    for a bad plate or colour. One definition for this view and the fast path (fastpath.py)."""
    plate, colour = checked_plate(plate, colour)
    return answer_for_state(gate, desired.plate_state(plate), colour)


def checked_plate(plate: str, colour: str | None) -> tuple[str, str]:
    """The plate and colour as the registry spells them; raises CampusPassError (400)."""
    try:
        return plate_kinds.plate_and_colour(plate, colour)
    except plate_kinds.InvalidPlate as exc:
        raise CampusPassError(exc.reason, code="plate") from None
    except ValueError as exc:
        raise CampusPassError(str(exc), code="colour") from None


def answer_for_state(gate, state: desired.PlateState, colour: str) -> dict:
    reason = desired.answer_for_gate(state, gate)
    if reason != desired.UNKNOWN and state.colour != colour:
        reason = desired.UNKNOWN  # same characters, other colour: another car
    allowed = reason == desired.OK
    return {"allowed": allowed, "valid_until": state.valid_to if allowed else None, "reason_code": reason}


class FeedItem(Schema):
    plate: str
    plate_colour: str
    plate_type: str
    status: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    groups: list[str]
    cursor: int


class FeedOut(Schema):
    entries: list[FeedItem]
    next_cursor: int
    has_more: bool


class FeedIn(Schema):
    cursor: int = 0
    full: bool = False
    limit: int = 500


@api.get(
    "/whitelist",
    response={200: FeedOut, 400: ErrorOut, 401: ErrorOut, 503: ErrorOut},
    summary="白名单（全量或自游标起增量）",
    description=(
        "full=true：全部 normal/suspended 条目（分页：以 next_cursor 续取直至 has_more=false）；"
        "否则返回 cursor 之后变化的条目，含 deleted。status：normal 正常放行，suspended 暂停（含禁止通行），"
        "deleted 删除。groups 为空表示全部车场。"
    ),
)
def whitelist(request, params: Query[FeedIn]):
    if params.cursor < 0 or not 1 <= params.limit <= 2000:
        raise CampusPassError("cursor 不能为负数，limit 应在 1–2000 之间。", code="paging")
    rows, next_cursor, more = feed.read(cursor=params.cursor, full=params.full, limit=params.limit)
    entries = [
        {
            "plate": row.plate,
            "plate_colour": row.plate_colour,
            "plate_type": row.plate_type,
            "status": row.status,
            "valid_from": row.valid_from,
            "valid_to": row.valid_to,
            "groups": row.groups,
            "cursor": row.seq,
        }
        for row in rows
    ]
    return {"entries": entries, "next_cursor": next_cursor, "has_more": more}


class HeartbeatOut(Schema):
    server_time: dt.datetime


@api.get(
    "/heartbeat",
    response={200: HeartbeatOut, 401: ErrorOut, 503: ErrorOut},
    summary="心跳（同时返回服务器时间）",
)
def heartbeat(request):
    return {"server_time": timezone.now()}


class CrossingIn(Schema):
    event_id: str
    plate: str
    direction: str
    allowed: bool
    crossed_at: dt.datetime


class CrossingsOut(Schema):
    stored: int


@api.post(
    "/crossings",
    response={200: CrossingsOut, 400: ErrorOut, 401: ErrorOut, 503: ErrorOut},
    summary="上报过车记录（保留 90 天）",
)
def crossings(request, events: list[CrossingIn]):
    if len(events) > 500:
        raise CampusPassError("每次最多上报 500 条过车记录。", code="too_many")
    stored = 0
    for event in events:
        stored += services.record_crossing(
            gate=request.auth.gate, plate=event.plate, direction=event.direction,
            allowed=event.allowed, crossed_at=event.crossed_at, event_id=event.event_id,
        )  # fmt: skip
    return {"stored": stored}
