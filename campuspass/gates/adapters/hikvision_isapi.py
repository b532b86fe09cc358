"""A Hikvision ANPR camera's own allow/deny list over ISAPI (digest authentication).

The camera decides locally and keeps working when we are down. Records are written with
PUT …/licensePlateAuditData/record (listType whiteList/blockList, effective dates); deleting needs the
camera's record id, which only reading the list back tells, so a new record is read back after it is
written and its id kept on our entry. We only ever change or delete records whose id we hold."""

from __future__ import annotations

import datetime as dt
import json
import os

import requests
from requests.auth import HTTPDigestAuth

from .base import GateAdapter, GateError, Item, PushResult, RemoteItem

TIMEOUT = (5, 20)
LIST_TYPE = {"allow": "whiteList", "deny": "blockList"}
OUR_TYPE = {v: k for k, v in LIST_TYPE.items()}
FAR_START, FAR_END = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


def _date(text: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(text[:10])
    except (TypeError, ValueError):
        return None
    return None if day in (FAR_START, FAR_END) else day


class HikvisionIsapiAdapter(GateAdapter):
    def __init__(self, *, base_url: str, username: str, password: str, channel: int = 1, session=None):
        if not (base_url and username and password):
            raise GateError(
                "抓拍机缺少地址、用户名或密码（环境变量），请在道闸设置中补全。",
                code="config",
                retryable=False,
            )
        self.base_url = base_url.rstrip("/")
        self.channel = channel
        self.session = session or requests.Session()
        self.session.auth = HTTPDigestAuth(username, password)

    @classmethod
    def for_gate(cls, gate) -> HikvisionIsapiAdapter:
        return cls(
            base_url=gate.base_url,
            username=gate.username,
            password=os.environ.get(gate.secret_env, "") if gate.secret_env else "",
            channel=gate.channel,
        )

    def _call(self, method: str, path: str, payload=None) -> dict:
        url = f"{self.base_url}{path}"
        body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None
        try:
            response = self.session.request(
                method, url, data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            raise GateError(
                f"抓拍机无法连接（{type(exc).__name__}），稍后自动重试。", code="network"
            ) from None
        if response.status_code == 401:
            raise GateError(
                "抓拍机拒绝了用户名或密码（摘要认证失败），请核对。", code="auth", retryable=False
            )
        if response.status_code >= 500:
            raise GateError(
                f"抓拍机暂时不可用（HTTP {response.status_code}），稍后自动重试。", code="unavailable"
            )
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        if response.status_code >= 400 or answer.get("statusCode", 1) != 1:
            sub = answer.get("subStatusCode", "") or str(response.status_code)
            raise GateError(
                f"抓拍机拒绝了请求（{answer.get('statusString', '')} {sub}）。", code=sub, retryable=False
            )
        return answer

    def _path(self, tail: str) -> str:
        return f"/ISAPI/Traffic/channels/{self.channel}/{tail}?format=json"

    def ping(self) -> None:
        try:
            response = self.session.get(f"{self.base_url}/ISAPI/System/deviceInfo", timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise GateError(f"抓拍机无法连接（{type(exc).__name__}）。", code="network") from None
        if response.status_code != 200:
            raise GateError(f"抓拍机没有正常应答（HTTP {response.status_code}）。", code="unavailable")

    def _records(self) -> list[dict]:
        return self._call("GET", self._path("licensePlateAuditData")).get("LicensePlateInfoList") or []

    def _write(self, item: Item, record_id: str) -> None:
        self._call(
            "PUT",
            self._path("licensePlateAuditData/record"),
            {
                "LicensePlateInfoList": [
                    {
                        "LicensePlate": item.plate,
                        "listType": LIST_TYPE[item.list_type],
                        "createTime": dt.datetime.now().strftime("%Y-%m-%dT%H:%M:%S"),
                        "effectiveStartDate": (item.valid_from or FAR_START).isoformat(),
                        "effectiveTime": (item.valid_to or FAR_END).isoformat(),
                        "id": record_id,
                    }
                ]
            },
        )

    def upsert(self, item: Item) -> PushResult:
        records = self._records()
        ours = [r for r in records if item.remote_id and str(r.get("id")) == item.remote_id]
        if ours:
            self._write(item, item.remote_id)
            return PushResult(remote_id=item.remote_id)
        others = [r for r in records if r.get("LicensePlate") == item.plate]
        if others:
            raise GateError(
                f"抓拍机上已有他人录入的 {item.plate} 记录（id {others[0].get('id')}），本系统不改动他人的记录，请在设备上核对后重试。",
                code="foreign_record",
                retryable=False,
            )
        self._write(item, "")
        # The camera assigns the id; only reading the list back tells it.
        for record in self._records():
            if record.get("LicensePlate") == item.plate:
                return PushResult(remote_id=str(record.get("id")))
        raise GateError(f"抓拍机接受了 {item.plate} 但读回名单中没有它，稍后重试。", code="not_stored")

    def remove(self, item: Item) -> None:
        if not item.remote_id:
            return  # we never learned an id: nothing of ours to delete
        if not any(str(r.get("id")) == item.remote_id for r in self._records()):
            return  # already gone
        self._call(
            "PUT", self._path("DelLicensePlateAuditData"), {"id": [item.remote_id], "deleteAllEnabled": False}
        )

    def list_items(self) -> list[RemoteItem]:
        return [
            RemoteItem(
                plate=r.get("LicensePlate", ""),
                list_type=OUR_TYPE.get(r.get("listType", ""), "allow"),
                valid_from=_date(r.get("effectiveStartDate", "")),
                valid_to=_date(r.get("effectiveTime", "")),
                remote_id=str(r.get("id", "")),
            )
            for r in self._records()
        ]
