"""A local stand-in for a Hikvision ANPR camera's ISAPI list of plates (decision 0028):

- HTTP digest authentication (RFC 2617, MD5, qop=auth) as the cameras require: a request without it
  gets 401 with a challenge; a wrong password gets 401 again; a nonce count is never accepted twice;
- PUT /ISAPI/Traffic/channels/<ch>/licensePlateAuditData/record?format=json writes records of
  {"LicensePlateInfoList": [{"LicensePlate", "listType" (whiteList/blockList), "createTime",
  "effectiveStartDate", "effectiveTime", "id"}]}: an empty id adds (the camera assigns the id, and
  refuses a plate it already has), a known id changes that record, an unknown id is refused;
- GET /ISAPI/Traffic/channels/<ch>/licensePlateAuditData?format=json reads the whole list with ids —
  the only way to learn a record's id;
- PUT /ISAPI/Traffic/channels/<ch>/DelLicensePlateAuditData?format=json {"id": [...]} deletes by id;
- answers are ResponseStatus JSON: statusCode 1 = OK, 4 = Invalid Operation, 6 = Invalid Content;
- faults: `fail_next(n, status)` as in the Artemis simulator."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from urllib.parse import urlsplit

import requests

REALM = "IP Camera(CAMPUSPASS-SIM)"
CHANNEL_RE = re.compile(
    r"^/ISAPI/Traffic/channels/(\d+)/(licensePlateAuditData/record|licensePlateAuditData|DelLicensePlateAuditData)$"
)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _status(code: int, string: str, sub: str, **extra) -> str:
    return json.dumps({"statusCode": code, "statusString": string, "subStatusCode": sub, **extra})


class IsapiSimulator:
    def __init__(self, *, username: str, password: str, channels=(1,)):
        self.username, self.password = username, password
        self.channels = set(channels)
        self.records: dict[str, dict] = {}  # id -> record
        self.next_id = 1
        self.nonces: dict[str, int] = {}  # issued nonce -> highest nonce count seen
        self.calls: list[str] = []
        self._faults: list[int] = []

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        self._faults.extend([status] * count)

    def add_foreign(self, plate: str, list_type: str = "whiteList") -> str:
        """A record someone put on the camera by hand."""
        return self._store(
            "",
            {
                "LicensePlate": plate,
                "listType": list_type,
                "effectiveStartDate": "2020-01-01",
                "effectiveTime": "2099-12-31",
            },
        )

    # --- HTTP ---------------------------------------------------------------------------------

    def handle(self, request: requests.PreparedRequest):
        if self._faults:
            status = self._faults.pop(0)
            if status == 0:
                raise requests.ConnectionError("simulated: camera unreachable")
            return status, {}, ""
        split = urlsplit(request.url)
        if not self._authorised(request.method, request.headers.get("Authorization", ""), split):
            nonce = secrets.token_hex(16)
            self.nonces[nonce] = 0
            challenge = f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", opaque="", stale="FALSE"'
            return 401, {"WWW-Authenticate": challenge}, _status(4, "Invalid Operation", "unauthorized")
        self.calls.append(f"{request.method} {split.path}")
        if split.path == "/ISAPI/System/deviceInfo" and request.method == "GET":
            body = "<?xml version='1.0' encoding='UTF-8'?><DeviceInfo><model>SIM-ANPR</model></DeviceInfo>"
            return 200, {"Content-Type": "application/xml"}, body
        match = CHANNEL_RE.match(split.path)
        if not match or "format=json" not in (split.query or ""):
            return 404, {}, _status(4, "Invalid Operation", "notSupport")
        if int(match[1]) not in self.channels:
            return 400, {}, _status(6, "Invalid Content", "badParameters")
        kind = match[2]
        if kind == "licensePlateAuditData" and request.method == "GET":
            rows = sorted(self.records.values(), key=lambda r: int(r["id"]))
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({"LicensePlateInfoList": rows}, ensure_ascii=False),
            )
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return 400, {}, _status(6, "Invalid Content", "badJsonFormat")
        if kind == "licensePlateAuditData/record" and request.method == "PUT":
            return self._put_records(payload)
        if kind == "DelLicensePlateAuditData" and request.method == "PUT":
            return self._delete(payload)
        return 405, {}, _status(4, "Invalid Operation", "methodNotAllowed")

    def _authorised(self, method: str, header: str, split) -> bool:
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
        nonce, nc = fields.get("nonce", ""), fields.get("nc", "")
        if nonce not in self.nonces or fields.get("username") != self.username or fields.get("qop") != "auth":
            return False
        try:
            count = int(nc, 16)
        except ValueError:
            return False
        if count <= self.nonces[nonce]:
            return False  # a replayed nonce count
        uri = split.path + (f"?{split.query}" if split.query else "")
        if fields.get("uri") != uri:
            return False
        ha1 = _md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        expected = _md5(f"{ha1}:{nonce}:{nc}:{fields.get('cnonce', '')}:auth:{ha2}")
        if not secrets.compare_digest(expected, fields.get("response", "")):
            return False
        self.nonces[nonce] = count
        return True

    # --- the list -------------------------------------------------------------------------------

    def _store(self, record_id: str, record: dict) -> str:
        if not record_id:
            record_id = str(self.next_id)
            self.next_id += 1
        self.records[record_id] = {
            "id": record_id,
            "LicensePlate": record["LicensePlate"],
            "listType": record["listType"],
            "createTime": record.get("createTime", ""),
            "effectiveStartDate": record.get("effectiveStartDate", ""),
            "effectiveTime": record.get("effectiveTime", ""),
        }
        return record_id

    def _put_records(self, payload):
        rows = payload.get("LicensePlateInfoList")
        if not isinstance(rows, list) or not rows:
            return 400, {}, _status(6, "Invalid Content", "badParameters")
        for row in rows:
            plate, list_type = row.get("LicensePlate", ""), row.get("listType", "")
            if not plate or list_type not in ("whiteList", "blockList"):
                return 400, {}, _status(6, "Invalid Content", "badParameters")
            for name in ("effectiveStartDate", "effectiveTime"):
                if row.get(name) and not DATE_RE.match(row[name]):
                    return 400, {}, _status(6, "Invalid Content", "badParameters", errorMsg=name)
            record_id = str(row.get("id") or "")
            if record_id and record_id not in self.records:
                return 400, {}, _status(4, "Invalid Operation", "noSuchRecord")
            if not record_id and any(r["LicensePlate"] == plate for r in self.records.values()):
                return 400, {}, _status(6, "Invalid Content", "licensePlateExist")
        for row in rows:
            self._store(str(row.get("id") or ""), row)
        return 200, {}, _status(1, "OK", "ok")

    def _delete(self, payload):
        ids = payload.get("id")
        if payload.get("deleteAllEnabled"):
            return 400, {}, _status(4, "Invalid Operation", "notSupport")  # never needed by us
        if not isinstance(ids, list) or not ids or any(str(i) not in self.records for i in ids):
            return 400, {}, _status(4, "Invalid Operation", "noSuchRecord")
        for record_id in ids:
            del self.records[str(record_id)]
        return 200, {}, _status(1, "OK", "ok")
