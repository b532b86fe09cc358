"""Hikvision management platform through its Artemis OpenAPI gateway (parking module, "pms").

A car on our list is a *fixed car* of one car park: the vehicle is added
(/api/resource/v1/vehicle/batch/add) and given a paid period (/api/pms/v1/car/charge with plateNo,
parkSyscode, startTime, endTime); taking it off cancels the period (/api/pms/v1/car/charge/deletion),
after which the platform treats it as a temporary car again. A denied plate is an alarm car
(/api/pms/v1/alarmCar/addition); removing it needs the platform's alarmSyscode, so it is read back
(/api/pms/v1/alarmCar/page) first. Periods are applied by the parking service asynchronously: a charge
is confirmed by reading /api/pms/v1/car/charge/page.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import requests

from campuspass.core import plate_kinds

from . import artemis_sign
from .base import GateAdapter, GateError, Item, PushResult, RemoteItem

TIMEOUT = (5, 15)
PAGE_SIZE = 500
# Hikvision plateColor codes: 0 blue, 1 yellow, 2 white, 3 black, 4 green.
COLOUR_CODE = {
    plate_kinds.BLUE: 0,
    plate_kinds.YELLOW: 1,
    plate_kinds.WHITE: 2,
    plate_kinds.BLACK: 3,
    plate_kinds.GREEN: 4,
}
TZ = dt.timezone(dt.timedelta(hours=8))
# Platform answers that mean "already as you want it" for an idempotent write.
ALREADY_EXISTS = "0x02401033"
NOT_FOUND = "0x02401034"


def _start(day: dt.date | None) -> str:
    day = day or dt.date(2000, 1, 1)
    return dt.datetime.combine(day, dt.time.min, TZ).isoformat()


def _end(day: dt.date | None) -> str:
    day = day or dt.date(2099, 12, 31)
    return dt.datetime.combine(day, dt.time(23, 59, 59), TZ).isoformat()


def _day(text: str | None) -> dt.date | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text).astimezone(TZ).date()


class HikvisionArtemisAdapter(GateAdapter):
    asynchronous = True

    def __init__(self, *, base_url: str, app_key: str, app_secret: str, park_code: str, session=None):
        if not (base_url and app_key and app_secret and park_code):
            raise GateError(
                "海康平台道闸缺少接口地址、AppKey、AppSecret（环境变量）或停车库编码，请在道闸设置中补全。",
                code="config",
                retryable=False,
            )
        self.base_url = base_url.rstrip("/")
        self.app_key, self.app_secret, self.park_code = app_key, app_secret, park_code
        self.session = session or requests.Session()

    @classmethod
    def for_gate(cls, gate) -> HikvisionArtemisAdapter:
        return cls(
            base_url=gate.base_url,
            app_key=gate.username,
            app_secret=os.environ.get(gate.secret_env, "") if gate.secret_env else "",
            park_code=gate.park_code,
        )

    # --- transport ---------------------------------------------------------------------------

    def _post(self, api: str, payload) -> dict | list | None:
        path = "/artemis" + api
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "X-Ca-Key": self.app_key,
            "X-Ca-Nonce": str(uuid.uuid4()),
            "X-Ca-Timestamp": str(int(dt.datetime.now().timestamp() * 1000)),
            "X-Ca-Signature-Headers": ",".join(artemis_sign.SIGNED_HEADERS),
        }
        headers["X-Ca-Signature"] = artemis_sign.signature(self.app_secret, "POST", headers, path)
        try:
            response = self.session.post(self.base_url + path, data=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise GateError(
                f"海康平台无法连接（{type(exc).__name__}），稍后自动重试。", code="network"
            ) from None
        if response.status_code in (401, 403):
            why = response.headers.get("X-Ca-Error-Message", "")
            raise GateError(
                f"海康平台拒绝了签名（{why or response.status_code}），请核对 AppKey/AppSecret 和服务器时间。",
                code="auth",
                retryable=False,
            )
        if response.status_code >= 500:
            raise GateError(
                f"海康平台暂时不可用（HTTP {response.status_code}），稍后自动重试。", code="unavailable"
            )
        try:
            answer = response.json()
        except ValueError:
            raise GateError(
                f"海康平台的回答无法识别（HTTP {response.status_code}）。", code="bad_response"
            ) from None
        code = str(answer.get("code", ""))
        if code != "0":
            raise GateError(
                f"海康平台返回错误 {code}：{answer.get('msg', '')}",
                code=code or "gate_error",
                retryable=False,
            )
        return answer.get("data")

    def _pages(self, api: str, payload: dict) -> list[dict]:
        rows, page = [], 1
        while True:
            data = self._post(api, {**payload, "pageNo": page, "pageSize": PAGE_SIZE}) or {}
            rows.extend(data.get("list") or [])
            if page * PAGE_SIZE >= int(data.get("total") or 0):
                return rows
            page += 1

    # --- the interface -------------------------------------------------------------------------

    def ping(self) -> None:
        self._post("/api/resource/v1/park/parkList", {"parkIndexCodes": self.park_code})

    def _add_vehicle(self, item: Item) -> None:
        data = (
            self._post(
                "/api/resource/v1/vehicle/batch/add",
                [
                    {
                        "clientId": 1,
                        "plateNo": item.plate,
                        "plateColor": COLOUR_CODE[item.colour],
                        "plateType": item.plate_type,
                        "vehicleType": 1,
                    }
                ],
            )
            or {}
        )
        for failure in data.get("failures") or []:
            if str(failure.get("code")) != ALREADY_EXISTS:
                raise GateError(
                    f"海康平台不接受车辆 {item.plate}：{failure.get('msg', '')}",
                    code=str(failure.get("code")),
                )

    def _alarm_ids(self, plate: str) -> list[str]:
        rows = self._pages("/api/pms/v1/alarmCar/page", {"plateNo": plate})
        return [row["alarmSyscode"] for row in rows if row.get("plateNo") == plate]

    def upsert(self, item: Item) -> PushResult:
        if item.list_type == "deny":
            # An allowed period must not outlive the ban; an alarm car is added once.
            self._cancel_charge(item.plate)
            existing = self._alarm_ids(item.plate)
            if existing:
                return PushResult(remote_id=existing[0])
            data = (
                self._post(
                    "/api/pms/v1/alarmCar/addition",
                    {
                        "plateNo": item.plate,
                        "cardNo": "",
                        "driver": "",
                        "driverPhone": "",
                        "remark": "CampusPass",
                    },
                )
                or {}
            )
            return PushResult(remote_id=str(data.get("alarmSyscode", "")))
        for alarm in self._alarm_ids(item.plate):  # a lifted ban
            self._post("/api/pms/v1/alarmCar/deletion", {"alarmSyscodes": alarm})
        self._add_vehicle(item)
        self._post(
            "/api/pms/v1/car/charge",
            {
                "parkSyscode": self.park_code,
                "plateNo": item.plate,
                "startTime": _start(item.valid_from),
                "endTime": _end(item.valid_to),
            },
        )
        return PushResult(confirmed=False)  # the parking service applies it later: read back

    def _cancel_charge(self, plate: str) -> None:
        try:
            self._post("/api/pms/v1/car/charge/deletion", {"parkSyscode": self.park_code, "plateNo": plate})
        except GateError as exc:
            if exc.code != NOT_FOUND:
                raise

    def remove(self, item: Item) -> None:
        self._cancel_charge(item.plate)
        for alarm in self._alarm_ids(item.plate):
            self._post("/api/pms/v1/alarmCar/deletion", {"alarmSyscodes": alarm})

    def list_items(self) -> list[RemoteItem]:
        items = [
            RemoteItem(row["plateNo"], "allow", _day(row.get("startTime")), _day(row.get("endTime")))
            for row in self._pages("/api/pms/v1/car/charge/page", {"parkSyscode": self.park_code})
        ]
        items += [
            RemoteItem(row["plateNo"], "deny", None, None, str(row.get("alarmSyscode", "")))
            for row in self._pages("/api/pms/v1/alarmCar/page", {})
        ]
        return items
