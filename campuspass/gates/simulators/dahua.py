"""A local stand-in for a Dahua ANPR camera's plate lists over its CGI API (decision 0028):

- HTTP digest authentication (the same RFC 2617 check as the ISAPI simulator);
- GET /cgi-bin/recordUpdater.cgi?action=insert&name=TrafficRedList|TrafficBlackList&PlateNumber=…
  &PlateColor=…&BeginTime=YYYY-MM-DD hh:mm:ss&CancelTime=…[&AuthorityList.OpenGate=true]
  answers "RecNo=<n>"; action=update&recno=<n>&… and action=remove&recno=<n> answer "OK";
  an unknown recno, a bad time or a missing plate answer HTTP 400 "Error\\r\\nBad Request!";
  a plate already on that list cannot be inserted again;
- GET /cgi-bin/recordFinder.cgi?action=find&name=…[&condition.PlateNumber=…] answers
  "totalCount=…\\r\\nfound=…\\r\\nrecords[i].RecNo=…\\r\\nrecords[i].PlateNumber=…" — the only way to learn a
  record number, which removing needs."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import requests

from .isapi import IsapiSimulator

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
LISTS = ("TrafficRedList", "TrafficBlackList")
BAD = (400, {}, "Error\r\nBad Request!\r\n")


class DahuaSimulator(IsapiSimulator):
    def __init__(self, *, username: str, password: str):
        super().__init__(username=username, password=password)
        self.lists: dict[str, dict[str, dict]] = {name: {} for name in LISTS}  # list -> recno -> record

    def add_foreign(self, plate: str, list_name: str = "TrafficRedList") -> str:
        return self._insert(
            list_name,
            {
                "PlateNumber": plate,
                "MasterOfCar": "保安室",
                "BeginTime": "2020-01-01 00:00:00",
                "CancelTime": "2099-12-31 23:59:59",
            },
        )

    def handle(self, request: requests.PreparedRequest):
        if self._faults:
            status = self._faults.pop(0)
            if status == 0:
                raise requests.ConnectionError("simulated: camera unreachable")
            return status, {}, ""
        split = urlsplit(request.url)
        if not self._authorised(request.method, request.headers.get("Authorization", ""), split):
            return super().handle(request)  # the digest challenge
        self.calls.append(f"{split.path}?{split.query}")
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        name = params.get("name", "")
        if request.method != "GET" or name not in LISTS:
            return BAD
        records = self.lists[name]
        if split.path == "/cgi-bin/recordFinder.cgi" and params.get("action") == "find":
            plate = params.get("condition.PlateNumber")
            rows = [r for r in records.values() if plate is None or r["PlateNumber"] == plate]
            lines = [f"totalCount={len(records)}", f"found={len(rows)}"]
            for i, row in enumerate(rows):
                lines += [f"records[{i}].{k}={v}" for k, v in row.items()]
            return 200, {"Content-Type": "text/plain"}, "\r\n".join(lines) + "\r\n"
        if split.path != "/cgi-bin/recordUpdater.cgi":
            return 404, {}, "Error\r\nNot Found!\r\n"
        action = params.get("action")
        if action == "insert":
            if not params.get("PlateNumber") or not self._times_ok(params):
                return BAD
            if any(r["PlateNumber"] == params["PlateNumber"] for r in records.values()):
                return BAD
            return 200, {}, f"RecNo={self._insert(name, params)}\r\n"
        recno = params.get("recno", "")
        if recno not in records:
            return BAD
        if action == "update":
            if not self._times_ok(params):
                return BAD
            records[recno].update({k: v for k, v in params.items() if k not in ("action", "name", "recno")})
            return 200, {}, "OK\r\n"
        if action == "remove":
            del records[recno]
            return 200, {}, "OK\r\n"
        return BAD

    @staticmethod
    def _times_ok(params) -> bool:
        return all(TIME_RE.match(params[k]) for k in ("BeginTime", "CancelTime") if k in params)

    def _insert(self, name: str, params: dict) -> str:
        recno = str(self.next_id)
        self.next_id += 1
        record = {"RecNo": recno}
        record.update({k: v for k, v in params.items() if k not in ("action", "name")})
        self.lists[name][recno] = record
        return recno
