"""A local stand-in for the Hikvision platform's Artemis gateway and parking service, strict where the
vendor's documentation and SDKs are (decision 0028):

- every request must carry X-Ca-Key, X-Ca-Nonce, X-Ca-Timestamp (ms, within 15 minutes),
  X-Ca-Signature-Headers and X-Ca-Signature; the signature is recomputed from what arrived; a nonce is
  accepted once. Refusals are HTTP 401 with X-Ca-Error-Message, as the gateway answers;
- answers are {"code": "0", "msg": "success", "data": …}; business errors carry another code;
- a charge needs the vehicle to exist and the park to exist; it becomes visible in charge/page only
  after `charge_delay` further requests (the parking service applies it asynchronously);
- alarm cars get a platform id (alarmSyscode) that deletion needs;
- faults: `fail_next(n, status)` answers the next n requests with that HTTP status (or a dropped
  connection for status 0).

`handle(request)` takes a requests.PreparedRequest and returns (status, headers, body): tests plug it in
with `responses.add_callback`, exactly like a remote server."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlsplit

import requests

from campuspass.gates.adapters import artemis_sign

ALREADY_EXISTS = "0x02401033"
NOT_FOUND = "0x02401034"
BAD_PARAMETER = "0x02401001"


class ArtemisSimulator:
    def __init__(self, *, app_key: str, app_secret: str, parks=("park-1",)):
        self.app_key, self.app_secret = app_key, app_secret
        self.parks = set(parks)
        self.vehicles: dict[str, dict] = {}  # plateNo -> vehicle
        self.charges: dict[tuple[str, str], dict] = {}  # (park, plate) -> period (visible)
        self.pending: list[list] = []  # [requests left, (park, plate), period or None]
        self.alarms: dict[str, dict] = {}  # alarmSyscode -> alarm car
        self.nonces: set[str] = set()
        self.calls: list[str] = []
        self.charge_delay = 1
        self._faults: list[int] = []

    # --- test helpers ---------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        self._faults.extend([status] * count)

    def settle(self) -> None:
        """Apply every pending charge (as if the parking service caught up)."""
        for pending in self.pending:
            self._apply(pending)
        self.pending.clear()

    def add_foreign_charge(self, plate: str, park: str = "park-1") -> None:
        """A fixed car someone else (the parking office) put on the platform."""
        self.vehicles.setdefault(plate, {"plateNo": plate})
        self.charges[(park, plate)] = {
            "plateNo": plate,
            "parkSyscode": park,
            "startTime": "2020-01-01T00:00:00+08:00",
            "endTime": "2099-12-31T23:59:59+08:00",
        }

    # --- the gateway ----------------------------------------------------------------------------

    def handle(self, request: requests.PreparedRequest):
        if self._faults:
            status = self._faults.pop(0)
            if status == 0:
                raise requests.ConnectionError("simulated: connection reset")
            return status, {}, json.dumps({"code": str(status), "msg": "simulated outage"})
        split = urlsplit(request.url)
        headers = dict(request.headers)
        refusal = self._check_signature(request.method, headers, split.path)
        if refusal:
            return 401, {"X-Ca-Error-Message": refusal}, ""
        self._tick()
        try:
            payload = json.loads(request.body or b"null")
        except ValueError:
            return 200, {}, self._error(BAD_PARAMETER, "请求体不是 JSON")
        api = split.path.removeprefix("/artemis")
        self.calls.append(api)
        route = {
            "/api/resource/v1/park/parkList": self._park_list,
            "/api/resource/v1/vehicle/batch/add": self._vehicle_add,
            "/api/pms/v1/car/charge": self._charge,
            "/api/pms/v1/car/charge/deletion": self._charge_delete,
            "/api/pms/v1/car/charge/page": self._charge_page,
            "/api/pms/v1/alarmCar/addition": self._alarm_add,
            "/api/pms/v1/alarmCar/deletion": self._alarm_delete,
            "/api/pms/v1/alarmCar/page": self._alarm_page,
        }.get(api)
        if route is None:
            return 404, {}, json.dumps({"code": "404", "msg": "Not Found"})
        return 200, {"Content-Type": "application/json"}, route(payload)

    def _check_signature(self, method: str, headers: dict[str, str], path: str) -> str:
        lower = {k.lower(): v for k, v in headers.items()}
        for name in ("x-ca-key", "x-ca-signature", "x-ca-signature-headers", "x-ca-timestamp", "x-ca-nonce"):
            if not lower.get(name):
                return f"Missing Header {name}"
        if lower["x-ca-key"] != self.app_key:
            return "Invalid AppKey"
        stamp = lower["x-ca-timestamp"]
        if not (stamp.isascii() and stamp.isdigit()) or abs(time.time() * 1000 - int(stamp)) > 900_000:
            return "Invalid Timestamp"
        expected = artemis_sign.signature(self.app_secret, method, headers, path)
        if expected != lower["x-ca-signature"]:
            return "Invalid Signature"
        if lower["x-ca-nonce"] in self.nonces:
            return "Nonce Used"
        self.nonces.add(lower["x-ca-nonce"])
        return ""

    def _tick(self) -> None:
        still = []
        for pending in self.pending:
            pending[0] -= 1
            if pending[0] <= 0:
                self._apply(pending)
            else:
                still.append(pending)
        self.pending = still

    def _apply(self, pending) -> None:
        _, key, period = pending
        if period is None:
            self.charges.pop(key, None)
        else:
            self.charges[key] = period

    @staticmethod
    def _ok(data=None) -> str:
        return json.dumps({"code": "0", "msg": "success", "data": data}, ensure_ascii=False)

    @staticmethod
    def _error(code: str, msg: str) -> str:
        return json.dumps({"code": code, "msg": msg, "data": None}, ensure_ascii=False)

    @staticmethod
    def _page(rows: list[dict], payload: dict) -> dict:
        number, size = int(payload.get("pageNo", 1)), int(payload.get("pageSize", 20))
        return {
            "total": len(rows),
            "pageNo": number,
            "pageSize": size,
            "list": rows[(number - 1) * size : number * size],
        }

    def _park_list(self, payload):
        return self._ok([{"parkIndexCode": code, "parkName": code} for code in sorted(self.parks)])

    def _vehicle_add(self, payload):
        if not isinstance(payload, list) or not payload:
            return self._error(BAD_PARAMETER, "车辆列表不能为空")
        successes, failures = [], []
        for vehicle in payload:
            plate = vehicle.get("plateNo", "")
            if not plate or vehicle.get("plateColor") not in (0, 1, 2, 3, 4):
                failures.append(
                    {
                        "clientId": vehicle.get("clientId"),
                        "code": BAD_PARAMETER,
                        "msg": "车牌号或车牌颜色无效",
                    }
                )
            elif plate in self.vehicles:
                failures.append(
                    {"clientId": vehicle.get("clientId"), "code": ALREADY_EXISTS, "msg": "车牌号已存在"}
                )
            else:
                self.vehicles[plate] = {**vehicle, "vehicleId": uuid.uuid4().hex}
                successes.append(
                    {"clientId": vehicle.get("clientId"), "vehicleId": self.vehicles[plate]["vehicleId"]}
                )
        return self._ok({"successes": successes, "failures": failures})

    def _charge(self, payload):
        park, plate = payload.get("parkSyscode", ""), payload.get("plateNo", "")
        if park not in self.parks:
            return self._error(BAD_PARAMETER, "停车库不存在")
        if plate not in self.vehicles:
            return self._error(NOT_FOUND, "车辆不存在，请先添加车辆")
        if (
            not payload.get("startTime")
            or not payload.get("endTime")
            or payload["startTime"] > payload["endTime"]
        ):
            return self._error(BAD_PARAMETER, "包期开始时间或结束时间无效")
        period = {k: payload[k] for k in ("plateNo", "parkSyscode", "startTime", "endTime")}
        self.pending.append([self.charge_delay, (park, plate), period])
        if self.charge_delay <= 0:
            self._tick()
        return self._ok()

    def _charge_delete(self, payload):
        key = (payload.get("parkSyscode", ""), payload.get("plateNo", ""))
        if key not in self.charges and not any(p[1] == key for p in self.pending):
            return self._error(NOT_FOUND, "车辆包期不存在")
        self.pending = [p for p in self.pending if p[1] != key]
        self.charges.pop(key, None)
        return self._ok()

    def _charge_page(self, payload):
        rows = [
            period
            for (park, plate), period in sorted(self.charges.items())
            if park == payload.get("parkSyscode", park) and plate == payload.get("plateNo", plate)
        ]
        return self._ok(self._page(rows, payload))

    def _alarm_add(self, payload):
        plate = payload.get("plateNo", "")
        if not plate:
            return self._error(BAD_PARAMETER, "车牌号不能为空")
        if any(alarm["plateNo"] == plate for alarm in self.alarms.values()):
            return self._error(ALREADY_EXISTS, "该车辆已布控")
        code = uuid.uuid4().hex[:16]
        self.alarms[code] = {"alarmSyscode": code, "plateNo": plate}
        return self._ok({"alarmSyscode": code, "plateNo": plate})

    def _alarm_delete(self, payload):
        codes = [c for c in str(payload.get("alarmSyscodes", "")).split(",") if c]
        missing = [c for c in codes if c not in self.alarms]
        if not codes or missing:
            return self._error(NOT_FOUND, f"布控记录不存在：{','.join(missing)}")
        for code in codes:
            del self.alarms[code]
        return self._ok()

    def _alarm_page(self, payload):
        rows = [a for a in self.alarms.values() if a["plateNo"] == payload.get("plateNo", a["plateNo"])]
        return self._ok(self._page(rows, payload))
