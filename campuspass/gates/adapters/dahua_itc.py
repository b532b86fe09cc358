"""A Dahua ANPR camera's allow list (TrafficRedList, with OpenGate) and deny list (TrafficBlackList)
over its CGI API with digest authentication. Records are removed by record number (RecNo): an insert
answers it; otherwise the list is read back (recordFinder). MasterOfCar carries "CampusPass", never a
person's name, and marks the records we made."""

from __future__ import annotations

import datetime as dt
import os

import requests
from requests.auth import HTTPDigestAuth

from campuspass.core import plate_kinds

from .base import GateAdapter, GateError, Item, PushResult, RemoteItem

TIMEOUT = (5, 20)
LISTS = {"allow": "TrafficRedList", "deny": "TrafficBlackList"}
COLOUR = {
    plate_kinds.BLUE: "Blue",
    plate_kinds.YELLOW: "Yellow",
    plate_kinds.WHITE: "White",
    plate_kinds.BLACK: "Black",
    plate_kinds.GREEN: "Green",
}
MARK = "CampusPass"
FAR_START, FAR_END = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


def _day(text: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(text[:10])
    except (TypeError, ValueError):
        return None
    return None if day in (FAR_START, FAR_END) else day


class DahuaItcAdapter(GateAdapter):
    def __init__(self, *, base_url: str, username: str, password: str, session=None):
        if not (base_url and username and password):
            raise GateError(
                "大华抓拍机缺少地址、用户名或密码（环境变量），请在道闸设置中补全。",
                code="config",
                retryable=False,
            )
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.auth = HTTPDigestAuth(username, password)

    @classmethod
    def for_gate(cls, gate) -> DahuaItcAdapter:
        password = os.environ.get(gate.secret_env, "") if gate.secret_env else ""
        return cls(base_url=gate.base_url, username=gate.username, password=password)

    def _get(self, cgi: str, params: dict) -> str:
        try:
            response = self.session.get(f"{self.base_url}/cgi-bin/{cgi}", params=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise GateError(
                f"大华抓拍机无法连接（{type(exc).__name__}），稍后自动重试。", code="network"
            ) from None
        if response.status_code == 401:
            raise GateError(
                "大华抓拍机拒绝了用户名或密码（摘要认证失败），请核对。", code="auth", retryable=False
            )
        if response.status_code >= 500:
            raise GateError(
                f"大华抓拍机暂时不可用（HTTP {response.status_code}），稍后自动重试。", code="unavailable"
            )
        if response.status_code != 200:
            raise GateError(
                f"大华抓拍机拒绝了请求（{response.text.strip()[:60] or response.status_code}）。",
                code=str(response.status_code),
                retryable=False,
            )
        return response.text

    def _find(self, list_name: str, plate: str | None = None) -> list[dict]:
        params = {"action": "find", "name": list_name, "count": "10000"}
        if plate:
            params["condition.PlateNumber"] = plate
        rows: dict[int, dict] = {}
        for line in self._get("recordFinder.cgi", params).splitlines():
            if line.startswith("records[") and "=" in line:
                head, value = line.split("=", 1)
                index, key = head[len("records[") :].split("].", 1)
                rows.setdefault(int(index), {})[key] = value
        return [rows[i] for i in sorted(rows)]

    def ping(self) -> None:
        self._find(LISTS["allow"], "PING0000")

    def _values(self, item: Item) -> dict:
        values = {
            "PlateNumber": item.plate,
            "MasterOfCar": MARK,
            "PlateColor": COLOUR[item.colour],
            "BeginTime": f"{(item.valid_from or FAR_START).isoformat()} 00:00:00",
            "CancelTime": f"{(item.valid_to or FAR_END).isoformat()} 23:59:59",
        }
        if item.list_type == "allow":
            values["AuthorityList.OpenGate"] = "true"
        return values

    def upsert(self, item: Item) -> PushResult:
        list_name = LISTS[item.list_type]
        other = LISTS["deny" if item.list_type == "allow" else "allow"]
        for row in self._find(other, item.plate):  # moving between the lists: take ours off the other
            if row.get("MasterOfCar") == MARK:
                self._get("recordUpdater.cgi", {"action": "remove", "name": other, "recno": row["RecNo"]})
        rows = self._find(list_name, item.plate)
        ours = [r for r in rows if r.get("RecNo") == item.remote_id or r.get("MasterOfCar") == MARK]
        if ours:
            recno = ours[0]["RecNo"]
            self._get(
                "recordUpdater.cgi",
                {"action": "update", "name": list_name, "recno": recno, **self._values(item)},
            )
            return PushResult(remote_id=recno)
        if rows:
            raise GateError(
                f"大华抓拍机上已有他人录入的 {item.plate} 记录（RecNo {rows[0].get('RecNo')}），本系统不改动他人的记录。",
                code="foreign_record",
                retryable=False,
            )
        answer = self._get("recordUpdater.cgi", {"action": "insert", "name": list_name, **self._values(item)})
        recno = answer.strip().removeprefix("RecNo=")
        return PushResult(remote_id=recno)

    def remove(self, item: Item) -> None:
        for list_name in LISTS.values():
            for row in self._find(list_name, item.plate):
                if row.get("MasterOfCar") == MARK or row.get("RecNo") == item.remote_id:
                    self._get(
                        "recordUpdater.cgi", {"action": "remove", "name": list_name, "recno": row["RecNo"]}
                    )

    def list_items(self) -> list[RemoteItem]:
        items = []
        for list_type, list_name in LISTS.items():
            for row in self._find(list_name):
                items.append(
                    RemoteItem(
                        plate=row.get("PlateNumber", ""),
                        list_type=list_type,
                        valid_from=_day(row.get("BeginTime", "")),
                        valid_to=_day(row.get("CancelTime", "")),
                        remote_id=row.get("RecNo", ""),
                    )
                )
        return items
