#!/usr/bin/env python3
"""`make soak` (issue 12 item 6): CampusPass as it is deployed — nginx in front of two gunicorn app
servers, two task workers and one scheduler, on PostgreSQL and Redis with the production settings —
under hundreds of staff renewing at once through HTTP, while the payment simulator duplicates,
delays and reorders its notifications, the office rejects and refunds some orders, and one app
server and one worker are killed with `kill -9` and restarted. Afterwards `bench/soak_checks.py`
reads the database with plain SQL and every photo is fetched through both app servers; the numbers
and each check's result go to bench/soak.json, and the exit status is 1 if a check failed.

Hosts: with root and `ip netns`, each app "host" is a network namespace (cpsoak-a, cpsoak-b) on a
bridge (10.203.0.0/24); nginx, PostgreSQL and Redis stay on the machine (10.203.0.1; socat relays
the two loopback-only services onto the bridge). Host A runs web + worker 1 + the scheduler, host B
web + worker 2. Without network namespaces the hosts are two loopback ports (said in the JSON).

    .venv/bin/python bench/soak.py --quick      # ~4 minutes: 120 staff, 2 minutes of load
    .venv/bin/python bench/soak.py              # ~15 minutes: 400 staff, 9 minutes of load

Options: --pg (admin URL of the PostgreSQL server), --db (the database the soak owns; DROPPED and
created again), --redis (a Redis db of its own; FLUSHED), --out, --staff, --load-seconds, --no-netns.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import html
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urljoin, urlsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

VENV_BIN = REPO / ".venv" / "bin"
PY = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
BRIDGE, BRIDGE_IP, NET = "cpsoak0", "10.203.0.1", "10.203.0"
HOSTS = {"a": f"{NET}.11", "b": f"{NET}.12"}
HTTPS_PORT, HTTP_PORT, APP_PORT = 18543, 18580, 8000
# The photo check reaches each app host through nginx on a port of its own (the same site, one upstream).
PINNED_PORTS = {"a": 18553, "b": 18554}
X_ACCEL_PREFIX = "/_protected/id-photos/"  # deploy/campuspass.env.example, deploy/nginx/campuspass.conf
# The private store's group: nginx's user reads the photos through it (README step 3; production's
# group is the app user's own, `campuspass`). Only the soak's nginx workers are in it.
STORE_GROUP, NGINX_USER = "cpsoak-store", "www-data"
SERVED_MARK = "X-Soak-Served-By"  # added to the internal location in the soak's copy only
# The soak's tasks take seconds: a row RUNNING for a minute was left by the worker killed mid-task, and
# the every-minute housekeeping marks it failed (production's default bound is an hour).
TASK_STALE_AFTER_SECONDS = 60
FAULT_PHASES = [
    ["delay", "duplicate"],
    ["duplicate", "reorder"],
    ["delay", "duplicate", "reorder"],
    ["duplicate"],
]
UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 CampusPassSoak"
)
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CODE_RE = re.compile(r"验证码 ?(\d{6})")
ORDER_RE = re.compile(r"/m/orders/(\d+)/")
REFRESH_RE = re.compile(
    r'<meta http-equiv="refresh" content="(\d+); url=([^"]*)">'
)  # the result page waiting


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"n": len(ordered), "p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99), "max": pick(1.0)}


# --- the machine: namespaces, relays, processes ----------------------------------------------------


class Machine:
    """Everything started here, so that every exit path takes it down again."""

    def __init__(self, work: Path, use_netns: bool):
        self.work = work
        self.use_netns = use_netns
        self.procs: dict[str, subprocess.Popen] = {}
        self.extra: list[subprocess.Popen] = []
        self.netns_made: list[str] = []
        self.bridge_made = False

    # network
    def setup_network(self) -> bool:
        if not self.use_netns:
            return False
        try:
            self.teardown_network(quiet=True)
            run = lambda *a: subprocess.run(["ip", *a], check=True, capture_output=True)  # noqa: E731
            run("link", "add", BRIDGE, "type", "bridge")
            self.bridge_made = True
            run("addr", "add", f"{BRIDGE_IP}/24", "dev", BRIDGE)
            run("link", "set", BRIDGE, "up")
            for name, address in HOSTS.items():
                ns, outer, inner = f"cpsoak-{name}", f"cpsoak-{name}0", f"cpsoak-{name}1"
                run("netns", "add", ns)
                self.netns_made.append(ns)
                run("link", "add", outer, "type", "veth", "peer", "name", inner)
                run("link", "set", inner, "netns", ns)
                run("link", "set", outer, "master", BRIDGE, "up")
                run("-n", ns, "addr", "add", f"{address}/24", "dev", inner)
                run("-n", ns, "link", "set", inner, "up")
                run("-n", ns, "link", "set", "lo", "up")
            for port in (5432, 6379):  # PostgreSQL and Redis listen on loopback only
                self.extra.append(
                    subprocess.Popen(
                        [
                            "socat",
                            f"TCP-LISTEN:{port},bind={BRIDGE_IP},reuseaddr,fork",
                            f"TCP:127.0.0.1:{port}",
                        ],
                        start_new_session=True,
                        stderr=subprocess.DEVNULL,
                    )
                )
            time.sleep(0.5)
            check = subprocess.run(
                ["ip", "netns", "exec", "cpsoak-a", "bash", "-c", f"exec 3<>/dev/tcp/{BRIDGE_IP}/5432"],
                capture_output=True,
                timeout=10,
            )
            if check.returncode != 0:
                raise RuntimeError("the namespace cannot reach PostgreSQL through the bridge")
            return True
        except (OSError, subprocess.CalledProcessError, RuntimeError, subprocess.TimeoutExpired) as exc:
            log(f"network namespaces not available ({exc}); falling back to loopback ports")
            self.teardown_network(quiet=True)
            return False

    def teardown_network(self, quiet: bool = False) -> None:
        for proc in self.extra:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.extra = []
        for name in HOSTS:
            subprocess.run(["ip", "netns", "del", f"cpsoak-{name}"], capture_output=True)
            subprocess.run(["ip", "link", "del", f"cpsoak-{name}0"], capture_output=True)
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
        self.netns_made, self.bridge_made = [], False

    # processes
    def start(self, name: str, argv: list[str], env: dict, host: str | None = None) -> subprocess.Popen:
        prefix = ["ip", "netns", "exec", f"cpsoak-{host}"] if (host and self.use_netns) else []
        logfile = open(self.work / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            [*prefix, *argv],
            cwd=REPO,
            env=env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def kill9(self, name: str) -> int:
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the master and every process it forked: a host dies
        proc.wait(timeout=10)
        return proc.pid

    def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs = {}
        self.teardown_network(quiet=True)


# --- the SMS "vendor": the file backend's lines ----------------------------------------------------


class SmsBox:
    """Tails the file the workers' SMS backend appends to; staff clients wait here for their code."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.codes: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        buffer = b""
        while not self.stop.is_set():
            if self.path.exists():
                with self.path.open("rb") as handle:
                    handle.seek(self.offset)
                    chunk = handle.read()
                self.offset += len(chunk)
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                found = []
                for line in complete:
                    with contextlib.suppress(ValueError):
                        message = json.loads(line)
                        match = CODE_RE.search(message.get("text", ""))
                        if message.get("template") == "otp" and match:
                            found.append((message["phone"], match.group(1)))
                if found:
                    with self.cond:
                        for phone, code in found:
                            self.codes[phone].append((time.time(), code))
                        self.cond.notify_all()
            time.sleep(0.2)

    def wait_code(self, phone: str, since: float, timeout: float) -> str | None:
        deadline = time.time() + timeout
        with self.cond:
            while True:
                fresh = [code for seen, code in self.codes.get(phone, []) if seen >= since - 1]
                if fresh:
                    return fresh[-1]
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 1.0))

    def all_lines(self) -> list[dict]:
        lines = []
        if self.path.exists():
            for raw in self.path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(raw))
        return lines


# --- one staff member renewing through HTTP --------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: Counter = Counter()
        self.retries = 0
        self.requests = 0
        self.server_errors: list[str] = []
        self.outcomes: Counter = Counter()
        self.behaviours: Counter = Counter()
        self.failures: list[str] = []

    def add(self, step: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latency[step].append(seconds)
            self.status[str(status)] += 1
            self.requests += 1


class Failed(Exception):
    pass


BEHAVIOURS = [
    ("normal", 41),
    ("no_result_page", 15),  # pays and closes the browser: only the notification tells us
    ("double_pay", 10),  # taps 确认支付 twice at once
    ("double_submit", 8),  # taps 提交订单 twice
    ("cancel_then_pay", 10),  # 取消支付 in the cashier, then 继续支付
    ("abandon_consent", 8),  # leaves at the 知情同意书: closed by the timeout, never placed
    ("abandon_pay", 8),  # agrees, never pays: closed by the timeout on the platform
]


class StaffClient:
    """One staff member on their phone. The soak gives each a behaviour from BEHAVIOURS and a person's
    pauses between pages; `bench/flow.py` (the flow benchmark of `make bench`) asks for the plain
    "normal" walk with no pauses (`behaviour`, `think`), a shorter wait for the SMS and no 重新获取
    (`sms_wait`, `resends`: a missing code is an error there, not something to sit out)."""

    def __init__(
        self,
        n: int,
        plate: str,
        phone: str,
        site: str,
        cert: str | bool,
        stats: Stats,
        sms: SmsBox,
        stop,
        *,
        behaviour: str | None = None,
        think: tuple[float, float] = (0.2, 1.2),
        sms_wait: float = 45.0,
        resends: int = 2,
    ):
        import requests

        rng = random.Random(1000 + n)
        self.n, self.plate, self.phone, self.site = n, plate, phone, site
        self.stats, self.sms, self.stop = stats, sms, stop
        population = [b for b, weight in BEHAVIOURS for _ in range(weight)]
        self.behaviour = population[n % len(population)] if n < len(population) else rng.choice(population)
        if behaviour is not None:
            self.behaviour = behaviour
        self.think_range, self.sms_wait, self.resends = think, sms_wait, resends
        self.sms_wait_s: float | None = None  # lookup POST sent → its code read from the SMS file
        self.result_text = ""  # the result page (支付结果) as last seen
        self.requests = 0  # answered requests of this staff member
        self.delivery = rng.random() < 0.3
        self.address = f"医学部{n // 40 + 1}号楼{n % 40 + 101}室"
        self.ip = f"10.{100 + n // 65000}.{(n // 250) % 250 + 1}.{n % 250 + 1}"
        self.session = requests.Session()
        self.session.verify = self.cert = cert
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would beat `verify`
        self.session.headers.update({"User-Agent": UA, "X-Forwarded-For": self.ip})
        self.order: int | None = None
        self.rng = rng
        self.photo = self._photo(n)

    @staticmethod
    def _photo(n: int) -> bytes:
        from PIL import Image, ImageDraw

        image = Image.new("RGB", (900, 600), ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256))
        ImageDraw.Draw(image).text((40, 40), f"staff {n}", fill=(255, 255, 255))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=80)
        return buffer.getvalue()

    def think(self) -> None:
        low, high = self.think_range
        if high > 0:
            time.sleep(self.rng.uniform(low, high))

    def call(self, step: str, method: str, path: str, *, data=None, files=None, referer: str | None = None):
        """One request as a person makes it: a 502/503/504 or a dead connection (an app server was
        just killed) is tried again after a moment, like pressing the button again."""
        import requests

        url = urljoin(self.site, path)
        headers = {}
        if method == "POST":
            headers = {"Referer": urljoin(self.site, referer or path), "Origin": self.site}
        for attempt in range(10):
            if self.stop.is_set():
                raise Failed("stopped")
            started = time.perf_counter()
            try:
                response = self.session.request(
                    method,
                    url,
                    data=data,
                    files=files,
                    headers=headers,
                    allow_redirects=False,
                    timeout=(5, 60),
                )
            except requests.RequestException as exc:
                with self.stats.lock:
                    self.stats.retries += 1
                    self.stats.status[type(exc).__name__] += 1
                time.sleep(1 + attempt)
                continue
            self.stats.add(step, time.perf_counter() - started, response.status_code)
            self.requests += 1
            if response.status_code in (502, 503, 504):
                with self.stats.lock:
                    self.stats.retries += 1
                time.sleep(1 + attempt)
                continue
            if response.status_code >= 500:
                with self.stats.lock:
                    self.stats.server_errors.append(f"{method} {urlsplit(url).path} → {response.status_code}")
                raise Failed(f"{step}: {response.status_code}")
            return response
        raise Failed(f"{step}: no answer after 10 tries")

    def form(self, step: str, path: str) -> tuple[str, str]:
        response = self.call(step, "GET", path)
        if response.status_code != 200:
            raise Failed(
                f"{step}: GET {path} → {response.status_code} {response.headers.get('Location', '')}"
            )
        match = CSRF_RE.search(response.text)
        if not match:
            raise Failed(f"{step}: no form on {path}")
        return match.group(1), response.text

    def post(self, step: str, path: str, fields: dict, *, expect: str, files=None, referer=None) -> str:
        response = self.call(step, "POST", path, data=fields, files=files, referer=referer)
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not re.search(expect, location):
            raise Failed(f"{step}: POST {path} → {response.status_code} {location}")
        return location

    def run(self) -> str:
        self.stats.behaviours[self.behaviour] += 1
        # 现场长租查询 → plate → SMS code
        token, _ = self.form("lookup", "/m/lookup/?for=lookup")
        asked = time.time()
        self.post(
            "lookup",
            "/m/lookup/",
            {"csrfmiddlewaretoken": token, "for": "lookup", "plate": self.plate},
            expect=r"/m/verify/",
            referer="/m/lookup/?for=lookup",
        )
        code = self.sms.wait_code(self.phone, asked, self.sms_wait)
        if code:
            self.sms_wait_s = time.time() - asked
        for _ in range(self.resends):  # no code: 重新获取 once the minute has passed
            if code:
                break
            time.sleep(max(0.0, asked + 62 - time.time()))
            token, _ = self.form("verify", "/m/verify/")
            asked = time.time()
            self.post(
                "resend",
                "/m/lookup/",
                {"csrfmiddlewaretoken": token, "for": "lookup", "plate": self.plate},
                expect=r"/m/verify/",
                referer="/m/verify/",
            )
            code = self.sms.wait_code(self.phone, asked, self.sms_wait)
        if not code:
            raise Failed("no SMS code")
        token, _ = self.form("verify", "/m/verify/")
        self.post("verify", "/m/verify/", {"csrfmiddlewaretoken": token, "code": code}, expect=r"/m/record/")
        for step, path in (("record", "/m/record/"), ("renew", "/m/renew/"), ("owner", "/m/renew/owner/")):
            self.think()
            if self.call(step, "GET", path).status_code != 200:
                raise Failed(f"{step}: not 200")
        # 添加图片 → 确认 / 提交订单
        token, _ = self.form("photo", "/m/renew/photo/")
        self.post(
            "photo_upload",
            "/m/renew/photo/",
            {"csrfmiddlewaretoken": token},
            files={"photo": (f"card-{self.n}.jpg", self.photo, "image/jpeg")},
            expect=r"/m/renew/confirm/",
        )
        self.think()
        token, _ = self.form("confirm", "/m/renew/confirm/")
        fields = {"csrfmiddlewaretoken": token, "fulfilment": "delivery" if self.delivery else "pickup"}
        if self.delivery:
            fields["address"] = self.address
        location = self.post("submit", "/m/renew/confirm/", fields, expect=r"/m/orders/\d+/consent/")
        self.order = int(ORDER_RE.search(location).group(1))
        if self.behaviour == "double_submit":
            again = self.post("submit", "/m/renew/confirm/", fields, expect=r"/m/orders/\d+/")
            if int(ORDER_RE.search(again).group(1)) != self.order:
                raise Failed("a second 提交订单 made a second order")
        # 知情同意书 → 同意
        if self.behaviour == "abandon_consent":
            self.call("consent", "GET", f"/m/orders/{self.order}/consent/")
            return "abandoned"
        token, _ = self.form("consent", f"/m/orders/{self.order}/consent/")
        self.think()
        self.post(
            "consent", f"/m/orders/{self.order}/consent/", {"csrfmiddlewaretoken": token}, expect=r"/pay/$"
        )
        if self.behaviour == "abandon_pay":
            self.call("pay_page", "GET", f"/m/orders/{self.order}/pay/")
            return "abandoned"
        cashier = self._to_cashier()
        if self.behaviour == "cancel_then_pay":
            token, _ = self.form("cashier", cashier)
            back = self.post(
                "cashier_cancel",
                cashier,
                {"csrfmiddlewaretoken": token, "action": "cancel"},
                expect="cancelled=1",
            )
            self.call("result", "GET", back)
            self.think()
            cashier = self._to_cashier()
        token, _ = self.form("cashier", cashier)
        confirm = {"csrfmiddlewaretoken": token, "action": "confirm"}
        if self.behaviour == "double_pay":
            second = threading.Thread(target=self._quietly, args=(cashier, confirm))
            second.start()
            result = self.post("cashier_pay", cashier, confirm, expect=r"/result/")
            second.join()
        else:
            result = self.post("cashier_pay", cashier, confirm, expect=r"/result/")
        if self.behaviour != "no_result_page":
            page = self.call("result", "GET", result)
            # 支付结果确认中 (the notification has not come yet) reloads itself, as the phone does;
            # the page asks the platform itself once the notification is a few seconds late.
            deadline = time.time() + 60
            while (refresh := REFRESH_RE.search(page.text)) and time.time() < deadline:
                if page.status_code != 200:
                    break
                time.sleep(float(refresh.group(1)))
                page = self.call("result", "GET", result.split("?")[0] + html.unescape(refresh.group(2)))
            if page.status_code != 200:
                raise Failed(f"result: {page.status_code}")
            self.result_text = page.text
        return "paid"

    def _to_cashier(self) -> str:
        token, _ = self.form("pay_page", f"/m/orders/{self.order}/pay/")
        return self.post(
            "pay", f"/m/orders/{self.order}/pay/", {"csrfmiddlewaretoken": token}, expect=r"/pay/sim/cashier/"
        )

    def _quietly(self, cashier: str, fields: dict) -> None:
        with contextlib.suppress(Exception):
            self.call("cashier_pay", "POST", cashier, data=fields)

    def request_refund(self) -> bool:
        """申请退款 / 确定 on the staff member's own rejected order."""
        token, _ = self.form("refund_page", f"/m/orders/{self.order}/refund/")
        self.post(
            "refund",
            f"/m/orders/{self.order}/refund/",
            {"csrfmiddlewaretoken": token},
            expect=r"/refund/done/",
        )
        return True


# --- Django-side helpers, run as subprocesses with the production environment ----------------------


def django_setup_command(args) -> None:
    """`soak.py _setup N`: schema, static files, the campaign, the registry, the office's users."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from bench.generate import generate, mobile_of, plate_of
    from campuspass.core.roles import ensure_groups
    from campuspass.demo.loader import ensure_campaign

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    ensure_groups()
    campaign = ensure_campaign(dt.date.today().year - 1)
    # Abandoned orders are closed by the every-minute job once this timeout has passed.
    campaign.unpaid_timeout_minutes = args.timeout_minutes
    campaign.save(update_fields=["unpaid_timeout_minutes"])
    generate(passes=args.staff, orders=0, campaign=campaign)
    User = get_user_model()
    for username, role in (("soak-reviewer", "审核员"), ("soak-finance", "财务")):
        user = User.objects.create_user(username, password=secrets.token_urlsafe(16))
        user.groups.add(Group.objects.get(name=role))
    print(json.dumps({"staff": [[plate_of(i), mobile_of(i)] for i in range(args.staff)]}))


def django_office_command(args) -> None:
    """`soak.py _office STOPFILE`: the office during the week — reviewers approve or reject every paid
    order, finance refunds rejected orders (on the staff member's behalf when they have not asked
    within `--staff-grace` seconds) and any money no order wants. Services only, as the screens do."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import close_old_connections
    from django.utils import timezone

    from campuspass.core.errors import CampusPassError
    from campuspass.renewals.models import Payment, RenewalOrder
    from campuspass.renewals.services.refunds import live_refund, refund_payment, refund_request
    from campuspass.renewals.services.review import review_approve, review_reject

    User = get_user_model()
    reviewer = User.objects.get(username="soak-reviewer")
    finance = User.objects.get(username="soak-finance")
    stop = Path(args.stopfile)
    done: Counter = Counter()
    errors: Counter = Counter()
    rejected_at: dict[int, float] = {}
    quiet_rounds = 0
    while True:
        close_old_connections()
        acted = 0
        try:
            for pk in list(
                RenewalOrder.objects.filter(status="paid").order_by("pk").values_list("pk", flat=True)[:25]
            ):
                try:
                    if (pk * 7919) % 100 < args.reject_percent:
                        review_reject(order=pk, acting_user=reviewer, reason="照片不清晰（压力测试）")
                        done["rejected"] += 1
                        rejected_at[pk] = time.time()
                    else:
                        review_approve(order=pk, acting_user=reviewer)
                        done["approved"] += 1
                    acted += 1
                except CampusPassError as exc:
                    errors[exc.code or type(exc).__name__] += 1
            for order in RenewalOrder.objects.filter(status="rejected").order_by("pk")[:25]:
                since = rejected_at.setdefault(order.pk, time.time())
                # Odd orders are the staff member's to ask for (HTTP, by the soak); finance steps in later.
                if order.pk % 2 and time.time() - since < args.staff_grace and not stop.exists():
                    continue
                try:
                    refund_request(order=order, acting_user=finance, reason="审核未通过，财务代为退款")
                    done["refund_requested"] += 1
                    acted += 1
                except CampusPassError as exc:
                    errors[exc.code or type(exc).__name__] += 1
            for payment in Payment.objects.filter(state="unclaimed"):
                if live_refund(payment) is None and not payment.refunds.filter(status="succeeded").exists():
                    try:
                        refund_payment(payment=payment, acting_user=finance, reason="重复或迟到的支付退回")
                        done["unclaimed_refunded"] += 1
                        acted += 1
                    except CampusPassError as exc:
                        errors[exc.code or type(exc).__name__] += 1
        except Exception as exc:  # a database hiccup: try again next round, but say so
            errors[type(exc).__name__] += 1
        quiet_rounds = 0 if acted else quiet_rounds + 1
        if stop.exists() and quiet_rounds >= 2:
            break
        time.sleep(1.5)
    print(json.dumps({"done": dict(done), "errors": dict(errors), "finished_at": timezone.now().isoformat()}))


# --- the run -------------------------------------------------------------------------------------


def ensure_tool(command: str, package: str) -> str | None:
    """The command's path, installing its Debian package first if it is missing (as .ci/run does)."""
    if shutil.which(command):
        return shutil.which(command)
    log(f"installing {package} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "install", "-y", "-qq", package], ["apt-get", "update", "-qq"]):
        subprocess.run(argv, capture_output=True, env=env)
        if shutil.which(command):
            break
    else:
        subprocess.run(["apt-get", "install", "-y", "-qq", package], capture_output=True, env=env)
    return shutil.which(command)


def nginx_config(
    work: Path,
    front: str,
    upstreams: list[str],
    static: Path,
    store: Path,
    pinned: dict[str, str] | None = None,
) -> Path:
    """deploy/nginx/campuspass.conf with this run's addresses, certificate, directories and app hosts.

    `pinned`: {port: upstream} — the same TLS site again on these ports with that one app host behind
    it, so that the photo check can ask each host through nginx. The internal location of the soak's
    copy also marks what it sends (SERVED_MARK), so the check knows nginx sent the file."""
    site = (REPO / "deploy" / "nginx" / "campuspass.conf").read_text()
    servers = "\n".join(f"    server {u} max_fails=2 fail_timeout=10s;" for u in upstreams)
    site = re.sub(r"    server 127\.0\.0\.1:8000[^\n]*\n", servers + "\n", site)
    site = site.replace("listen 80;", f"listen {front}:{HTTP_PORT};").replace(
        "listen 443 ssl http2;", f"listen {front}:{HTTPS_PORT} ssl http2;"
    )
    site = re.sub(r"\s*listen \[::\][^\n]*", "", site)
    site = (
        site.replace("/etc/ssl/campuspass", str(work / "tls"))
        .replace("/var/www/campuspass-static", str(static))
        .replace("/srv/campuspass-private", str(store))
        .replace(
            "/etc/nginx/campuspass_proxy_params", str(REPO / "deploy" / "nginx" / "campuspass_proxy_params")
        )
        .replace("/var/log/nginx/campuspass.access.log", str(work / "logs" / "nginx-access.log"))
        .replace("pass.example.edu.cn", front)
    )
    internal = "        internal;\n"
    if internal not in site:
        raise SystemExit("deploy/nginx/campuspass.conf has no internal location for the ID photos")
    site = site.replace(internal, internal + f"        add_header {SERVED_MARK} nginx-internal always;\n", 1)
    tls_server = site[site.index("server {", site.index(f"listen {front}:{HTTP_PORT};")) :]
    for i, (port, upstream) in enumerate(sorted((pinned or {}).items())):
        name = f"campuspass_pinned_{i}"
        site += f"\nupstream {name} {{\n    server {upstream};\n}}\n" + tls_server.replace(
            f"listen {front}:{HTTPS_PORT} ssl http2;", f"listen {front}:{port} ssl http2;"
        ).replace("proxy_pass http://campuspass_app;", f"proxy_pass http://{name};")
    (work / "nginx-site.conf").write_text(site)
    temp = work / "nginx-temp"
    temp.mkdir(exist_ok=True)
    conf = work / "nginx.conf"
    # As root, nginx's workers run as its user (Debian: www-data), which reads the store by its group.
    user = f"user {NGINX_USER};\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""{user}worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/logs/nginx-error.log warn;
events {{ worker_connections 2048; }}
http {{
  include /etc/nginx/mime.types;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  include {work}/nginx-site.conf;
}}
"""
    )
    return conf


def share_store_with_nginx(private: Path) -> str | None:
    """What README step 3 has the operator run, for the soak's store: a group that nginx's user is in
    (and nobody else), the store 0750 in that group, its id-photos folder too. The soak's app processes
    run as root, whose own group is not that one, so the folder is setgid: the photos they write (0640,
    ID_PHOTO_X_ACCEL_PREFIX) take the folder's group, as the `campuspass` user's photos take its own.
    Returns the group, or None when not root (then nginx runs as the same user and reads them anyway)."""
    if os.geteuid() != 0:
        return None
    for argv in (["groupadd", "-f", "-r", STORE_GROUP], ["usermod", "-aG", STORE_GROUP, NGINX_USER]):
        subprocess.run(argv, check=True, capture_output=True)
    photos = private / "id-photos"
    photos.mkdir(parents=True, exist_ok=True)
    for folder, mode in ((private, 0o750), (photos, 0o2750)):
        shutil.chown(folder, group=STORE_GROUP)
        os.chmod(folder, mode)
    return STORE_GROUP


def wait_http(url: str, headers: dict, seconds: float, verify: str | bool = True) -> bool:
    import requests

    session = requests.Session()
    session.trust_env = False
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if session.get(url, headers=headers, timeout=3, verify=verify).status_code == 200:
                return True
        time.sleep(0.5)
    return False


def psql(pg: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        pg.replace("postgres://", "postgresql://", 1) + "/postgres", autocommit=True
    ) as conn:
        conn.execute(sql)


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - one run, told in order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="120 staff, 2 minutes of load (~4 minutes)")
    parser.add_argument("--staff", type=int)
    parser.add_argument("--load-seconds", type=int)
    parser.add_argument("--pg", default=os.environ.get("SOAK_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--db", default=os.environ.get("SOAK_DB", "cp_soak"))
    parser.add_argument("--redis", default=os.environ.get("SOAK_REDIS", "redis://127.0.0.1:6379/3"))
    parser.add_argument("--out", help="bench/soak.json (full) or var/soak-quick.json (quick)")
    parser.add_argument("--no-netns", action="store_true", help="two loopback ports instead of namespaces")
    parser.add_argument("--reject-percent", type=int, default=15)
    options = parser.parse_args(argv)
    mode = "quick" if options.quick else "full"
    if not options.out:
        options.out = str(REPO / ("var/soak-quick.json" if options.quick else "bench/soak.json"))
        Path(options.out).parent.mkdir(parents=True, exist_ok=True)
    staff_count = options.staff or (120 if options.quick else 400)
    load_seconds = options.load_seconds or (120 if options.quick else 540)
    drain_limit = 170 if options.quick else 240
    timeout_minutes = 2
    began = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)

    work = Path(tempfile.mkdtemp(prefix="campuspass-soak."))
    os.chmod(work, 0o755)  # noqa: S103 - nginx's user reads the static files below it
    for sub in ("logs", "tls", "shared/private", "shared/paysim", "static", "host-a", "host-b"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    machine = Machine(
        work, use_netns=not options.no_netns and os.geteuid() == 0 and shutil.which("ip") is not None
    )

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return run(
            options,
            mode,
            staff_count,
            load_seconds,
            drain_limit,
            timeout_minutes,
            work,
            machine,
            began,
            started_at,
        )
    finally:
        machine.stop_all()
        log(f"stopped every process; logs in {work}/logs")


def run(
    options, mode, staff_count, load_seconds, drain_limit, timeout_minutes, work, machine, began, started_at
) -> int:  # noqa: C901
    import psycopg
    import requests

    from bench import soak_checks

    nginx = ensure_tool("nginx", "nginx-light")
    if not nginx:
        raise SystemExit("nginx is needed (apt-get install nginx-light) and could not be installed")
    if machine.use_netns and not ensure_tool("socat", "socat"):
        machine.use_netns = False  # no relay onto the bridge: loopback ports instead
    netns = machine.setup_network()
    front = BRIDGE_IP if netns else "127.0.0.1"
    app = {
        name: (HOSTS[name] if netns else "127.0.0.1", APP_PORT if netns else 18500 + i)
        for i, name in enumerate("ab")
    }
    site = f"https://{front}:{HTTPS_PORT}"
    db_host = BRIDGE_IP if netns else "127.0.0.1"
    pg_admin = options.pg.rstrip("/")
    db_name = options.db
    log(
        f"{mode}: {staff_count} staff, {load_seconds}s of load; hosts {'in network namespaces' if netns else 'on loopback ports'}"
    )

    # TLS: a certificate for the front address (the workers' notifications go to SITE_URL and check it)
    cert, key = work / "tls" / "fullchain.pem", work / "tls" / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={front}",
         "-addext", f"subjectAltName=IP:{front}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    # database and Redis of our own
    psql(pg_admin, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    psql(pg_admin, f'CREATE DATABASE "{db_name}"')
    subprocess.run(["redis-cli", "-u", options.redis, "flushdb"], check=True, capture_output=True)
    redis_db = options.redis.rsplit("/", 1)[-1]
    shared = work / "shared"
    hosts_allowed = ",".join(sorted({front, *(a for a, _ in app.values()), "127.0.0.1", "localhost"}))
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "campuspass.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": hosts_allowed,
        "CSRF_TRUSTED_ORIGINS": site,
        "SITE_URL": site,
        # A campus load balancer in front of nginx: each staff member's own address is one hop further.
        "TRUSTED_PROXY_COUNT": "2",
        "PRIVATE_STORAGE_ROOT": str(shared / "private"),
        "STATIC_ROOT": str(work / "static"),
        "PAYMENT_PROVIDER": "simulator",
        "ALLOW_SIMULATOR_IN_PRODUCTION": "1",
        "PAYMENT_SIMULATOR_DIR": str(shared / "paysim"),
        "PAYMENT_SIMULATOR_TIME_SCALE": "10",
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": str(shared / "sms.jsonl"),
        "ALLOW_TEST_SMS_IN_PRODUCTION": "1",
        "VERIFICATION_DAILY_SMS_BUDGET": "100000",
        "METRICS_TOKEN": "soak-metrics",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        "REQUESTS_CA_BUNDLE": str(cert),
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_TIMEOUT": "60",
        # nginx sends the ID photos from the shared store (decision 0031); the apps check and audit.
        "ID_PHOTO_X_ACCEL_PREFIX": X_ACCEL_PREFIX,
        "TASK_STALE_AFTER_SECONDS": str(TASK_STALE_AFTER_SECONDS),
    }

    def env_for(host: str | None) -> dict:
        where = db_host if (host and netns) else "127.0.0.1"
        env = dict(base_env)
        env["DATABASE_URL"] = f"{pg_admin.rsplit('@', 1)[0]}@{where}:5432/{db_name}"
        env["REDIS_URL"] = f"redis://{where}:6379/{redis_db}"
        env["CAMPUSPASS_VAR_DIR"] = str(work / f"host-{host or 'a'}")
        if host:
            address, port = app[host]
            env["GUNICORN_BIND"] = f"{address}:{port}"
            env["GUNICORN_FORWARDED_ALLOW_IPS"] = f"{front},127.0.0.1"
            env["PROMETHEUS_MULTIPROC_DIR"] = str(work / f"host-{host}" / "metrics")
            # Each host its own runtime directory (gunicorn's control socket lives there), as systemd gives.
            runtime = work / f"host-{host}" / "run"
            runtime.mkdir(mode=0o700, exist_ok=True)
            env["XDG_RUNTIME_DIR"] = str(runtime)
        return env

    # setup: schema, static, campaign, registry, users
    phase = time.monotonic()
    setup = subprocess.run(
        [PY, str(Path(__file__).resolve()), "_setup", "--staff", str(staff_count), "--timeout-minutes", str(timeout_minutes)],
        cwd=REPO, env=env_for(None), capture_output=True, text=True,
    )  # fmt: skip
    if setup.returncode != 0:
        (work / "logs" / "setup.log").write_text(setup.stdout + setup.stderr)
        raise SystemExit(f"setup failed:\n{setup.stderr[-3000:]}")
    registry = json.loads(setup.stdout.strip().splitlines()[-1])["staff"]
    setup_seconds = time.monotonic() - phase

    # the services, as the systemd units start them
    gunicorn = str(VENV_BIN / "gunicorn")

    def web(host: str) -> list[str]:
        return [gunicorn, "-c", str(REPO / "deploy" / "gunicorn.conf.py"), "campuspass.wsgi"]

    def worker(host: str) -> list[str]:
        return [
            PY,
            "manage.py",
            "db_worker",
            "--no-reload",
            "--interval",
            "1",
            "--worker-id",
            f"host-{host}-1",
        ]

    def scheduler(host: str) -> list[str]:
        return [PY, "manage.py", "run_scheduler"]

    starts = {
        "web-a": (web, "a"),
        "web-b": (web, "b"),
        "worker-a": (worker, "a"),
        "worker-b": (worker, "b"),
        "scheduler": (scheduler, "a"),
    }
    for name, (argv, host) in starts.items():
        machine.start(name, argv(host), env_for(host), host=host)
    store_group = share_store_with_nginx(shared / "private")
    conf = nginx_config(
        work,
        front,
        [f"{a}:{p}" for a, p in app.values()],
        work / "static",
        shared / "private",
        pinned={PINNED_PORTS[h]: f"{a}:{p}" for h, (a, p) in app.items()},
    )
    nginx_proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-e", str(work / "logs" / "nginx-error.log"), "-g", "daemon off;"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=open(work / "logs" / "nginx.log", "ab"),  # noqa: SIM115
    )  # fmt: skip
    machine.procs["nginx"] = nginx_proc
    forwarded = {"X-Forwarded-Proto": "https"}
    for name, (address, port) in app.items():
        if not wait_http(f"http://{address}:{port}/health/live/", forwarded, 90):
            raise SystemExit(f"app server {name} did not come up (logs in {work}/logs)")
    if not wait_http(f"{site}/m/", {}, 30, verify=str(cert)):
        raise SystemExit("nginx did not come up")
    log(f"up: nginx {site} → {', '.join(f'{a}:{p}' for a, p in app.values())}; setup {setup_seconds:.0f}s")

    # load
    stats = Stats()
    sms = SmsBox(shared / "sms.jsonl")
    sms.thread.start()
    stop_load = threading.Event()
    clients = [
        StaffClient(i, plate, phone, site, str(cert), stats, sms, stop_load)
        for i, (plate, phone) in enumerate(registry)
    ]
    faults_file = shared / "paysim" / "faults.json"
    fault_log: list[dict] = []
    kills: list[dict] = []
    office_stop = work / "office.stop"
    office = subprocess.Popen(
        [PY, str(Path(__file__).resolve()), "_office", str(office_stop), "--reject-percent", str(options.reject_percent)],
        cwd=REPO, env=env_for(None), stdout=subprocess.PIPE, stderr=open(work / "logs" / "office.log", "ab"), text=True,  # noqa: SIM115
        start_new_session=True,
    )  # fmt: skip
    machine.procs["office"] = office
    load_start = time.monotonic()
    t = lambda: round(time.monotonic() - load_start, 1)  # noqa: E731
    ramp = load_seconds * 0.5

    def staff_thread(client: StaffClient, delay: float) -> None:
        time.sleep(delay)
        try:
            outcome = client.run()
        except Failed as exc:
            outcome = "failed"
            with stats.lock:
                stats.failures.append(f"staff {client.n} ({client.behaviour}): {exc}")
        except Exception as exc:
            outcome = "failed"
            with stats.lock:
                stats.failures.append(f"staff {client.n} ({client.behaviour}): {type(exc).__name__}: {exc}")
        with stats.lock:
            stats.outcomes[outcome] += 1

    threads = [
        threading.Thread(target=staff_thread, args=(c, ramp * i / max(1, len(clients) - 1)), daemon=True)
        for i, c in enumerate(clients)
    ]
    for thread in threads:
        thread.start()

    def set_faults(faults: list[str]) -> None:
        tmp = faults_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(faults)))
        tmp.replace(faults_file)
        fault_log.append({"at_s": t(), "faults": sorted(faults)})

    def chaos() -> None:
        plan = [
            (0.35, "web-a", 5.0, "app server A (gunicorn master and workers)"),
            (0.5, "worker-b", 3.0, "task worker B"),
        ]
        for fraction, name, down, what in plan:
            while t() < load_seconds * fraction:
                if stop_load.is_set():
                    return
                time.sleep(0.2)
            running, running_ids = [], []
            if name.startswith("worker"):
                # Mid-task: wait (up to 15 s) until this worker runs a task that moves money or sends an
                # SMS (a payment notification, a refund, an SMS); after 10 s any task will do.
                worker_id = f"host-{name[-1]}-1"
                with psycopg.connect(admin_dsn, autocommit=True) as watch:
                    for tick in range(150):
                        mine = [
                            r
                            for r in soak_checks.rows(
                                watch,
                                "SELECT id, task_path, worker_ids FROM django_tasks_database_dbtaskresult "
                                "WHERE status = 'RUNNING'",
                            )
                            if worker_id in (r["worker_ids"] or [])
                        ]
                        running = [r["task_path"].rsplit(".", 1)[-1] for r in mine]
                        running_ids = [str(r["id"]) for r in mine]
                        if any(not task.startswith("refresh_plates") for task in running) or (
                            running and tick > 100
                        ):
                            break
                        time.sleep(0.1)
            pid = machine.kill9(name)
            killed_at = t()
            log(
                f"kill -9 {name} (pid {pid}) at {killed_at}s{' while running ' + ', '.join(running) if running else ''}"
            )
            time.sleep(down)
            argv, host = starts[name]
            machine.start(name, argv(host), env_for(host), host=host)
            entry = {
                "what": what,
                "process": name,
                "pid": pid,
                "signal": "SIGKILL",
                "killed_at_s": killed_at,
                "restarted_at_s": t(),
            }
            if name.startswith("worker"):
                entry["tasks_running_when_killed"] = running
                entry["task_rows"] = running_ids  # their fate is looked up after the drain
            if name.startswith("web"):
                address, port = app[name[-1]]
                wait_http(f"http://{address}:{port}/health/live/", forwarded, 60)
                entry["healthy_again_at_s"] = t()
            kills.append(entry)

    admin_dsn = f"{pg_admin.replace('postgres://', 'postgresql://', 1)}/{db_name}"
    chaos_thread = threading.Thread(target=chaos, daemon=True)
    chaos_thread.start()

    # the staff member's own refund request for odd rejected orders (the office does the even ones)
    by_order: dict[int, StaffClient] = {}
    refunds_by_staff: Counter = Counter()

    def staff_refunds(conn) -> None:
        for c in clients:
            if c.order:
                by_order.setdefault(c.order, c)
        rejected = soak_checks.rows(conn, "SELECT id FROM renewals_renewalorder WHERE status = 'rejected'")
        for row in rejected:
            client = by_order.get(row["id"])
            if client and row["id"] % 2 and not refunds_by_staff.get(f"done:{row['id']}"):
                try:
                    client.request_refund()
                    refunds_by_staff["requested"] += 1
                except Failed as exc:
                    refunds_by_staff["refused"] += 1
                    stats.failures.append(f"refund by staff {client.n}: {exc}")
                refunds_by_staff[f"done:{row['id']}"] = 1

    phase_index = 0
    set_faults(FAULT_PHASES[0])
    next_phase = 20.0
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while t() < load_seconds and any(th.is_alive() for th in threads):
            time.sleep(1)
            if t() >= next_phase:
                phase_index += 1
                set_faults(FAULT_PHASES[phase_index % len(FAULT_PHASES)])
                next_phase += 20.0
            if int(t()) % 3 == 0:
                staff_refunds(conn)
        stop_load.set()
        for thread in threads:
            thread.join(timeout=70)
        chaos_thread.join(timeout=80)
        load_done = t()
        set_faults([])
        log(f"load over at {load_done}s: {dict(stats.outcomes)}; draining")

        # drain: the system settles by itself (notifications, the every-minute jobs, the office)
        drain_start = time.monotonic()
        drained = False
        while time.monotonic() - drain_start < drain_limit:
            staff_refunds(conn)
            now = dt.datetime.now(dt.UTC)
            busy = soak_checks.rows(
                conn,
                """SELECT
                (SELECT count(*) FROM renewals_renewalorder WHERE status IN ('paid', 'rejected', 'refunding')) AS deciding,
                (SELECT count(*) FROM renewals_refund WHERE status IN ('pending', 'processing')) AS refunds,
                (SELECT count(*) FROM payments_simnotification WHERE NOT acknowledged AND NOT dropped) AS notifications,
                (SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'READY' AND run_after <= %s) AS tasks,
                (SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING' AND started_at < %s) AS stale_tasks,
                (SELECT count(*) FROM renewals_renewalorder WHERE status IN ('awaiting_consent', 'pending_payment')) AS unpaid,
                (SELECT count(*) FROM sms_outboxmessage WHERE status <> 'sent') AS sms""",
                [now, now - dt.timedelta(seconds=TASK_STALE_AFTER_SECONDS)],
            )[0]
            if not any(busy.values()):
                drained = True  # nothing left for the office either: it may go home
                break
            time.sleep(2)
        office_stop.touch()
        drain_seconds = round(time.monotonic() - drain_start, 1)
        log(f"drained={drained} after {drain_seconds}s; checking")
        with contextlib.suppress(subprocess.TimeoutExpired):
            office.wait(timeout=30)
        office_report = {}
        if office.poll() is not None and office.stdout:
            with contextlib.suppress(ValueError, IndexError):
                office_report = json.loads(office.stdout.read().strip().splitlines()[-1])

        # the checks
        check_start = time.monotonic()
        checks = soak_checks.run_all(
            conn,
            now=dt.datetime.now(dt.UTC),
            grace=dt.timedelta(seconds=90),
            sms_lines=sms.all_lines(),
            stale_after=dt.timedelta(seconds=TASK_STALE_AFTER_SECONDS),
        )
        photos = soak_checks.live_photos(conn)
        fetches = []
        direct = requests.Session()
        direct.trust_env = False
        photo_dir = shared / "private" / "id-photos"
        for row in photos:
            client = by_order.get(row["id"])
            if client is None:
                continue
            cookie = "; ".join(f"{k}={v}" for k, v in client.session.cookies.items())
            path = f"/m/orders/{row['id']}/photo/"
            for name, (address, port) in app.items():
                # The app server itself: it checks the session, audits, and names the file for nginx.
                answer = direct.get(
                    f"http://{address}:{port}{path}",
                    headers={**forwarded, "Cookie": cookie, "Host": address},
                    timeout=30,
                    allow_redirects=False,
                )
                accel = answer.headers.get("X-Accel-Redirect", "")
                stored = photo_dir / row["name"]
                # The same request through nginx to that server: nginx follows the app's answer.
                response = client.session.get(
                    f"https://{front}:{PINNED_PORTS[name]}{path}", timeout=30, allow_redirects=False
                )
                fetches.append(
                    {
                        "order": row["id"],
                        "server": f"web-{name}",
                        "status": response.status_code,
                        "sha256": hashlib.sha256(response.content).hexdigest(),
                        "app_status": answer.status_code,
                        "app_accel": accel,
                        "app_bytes": len(answer.content),
                        "nginx_location": response.headers.get(SERVED_MARK) == "nginx-internal",
                        "leaked_accel": "X-Accel-Redirect" in response.headers,
                        "stored_sha256": hashlib.sha256(stored.read_bytes()).hexdigest()
                        if stored.is_file()
                        else "missing",
                    }
                )
        checks["photos_from_both_servers"] = soak_checks.check_photos(
            fetches, [f"web-{n}" for n in app], x_accel_prefix=X_ACCEL_PREFIX
        )
        photo_problems = []
        if fetches and fetches[0]["app_accel"]:
            # The internal location is not reachable from outside (404), even knowing a file's name.
            outside = requests.Session()
            outside.trust_env = False
            probe = outside.get(f"{site}{fetches[0]['app_accel']}", verify=str(cert), timeout=30)
            if probe.status_code != 404:
                photo_problems.append(
                    f"{fetches[0]['app_accel']} asked from outside: {probe.status_code}, not 404"
                )
        if len({f["order"] for f in fetches}) < len(photos):
            photo_problems.append(
                f"{len(photos) - len({f['order'] for f in fetches})} photos had no staff session to ask with"
            )
        if photo_problems:
            check = checks["photos_from_both_servers"]
            check["problems"] = photo_problems + check["problems"]
            check["problem_count"] += len(photo_problems)
            check["ok"] = False
        checks["no_server_errors"] = soak_checks.result(
            stats.requests, list(stats.server_errors), note="5xx other than 502/503/504 while a host was down"
        )
        paid = stats.outcomes.get("paid", 0)
        expected_paid = sum(1 for c in clients if not c.behaviour.startswith("abandon"))
        checks["load_happened"] = soak_checks.result(
            len(clients),
            []
            if paid >= 0.8 * expected_paid
            else [f"only {paid} of {expected_paid} paying staff got through"],
            failures=stats.failures[:25],
        )
        checks["drained"] = soak_checks.result(1, [] if drained else [f"not settled within {drain_limit}s"])
        counts = {
            "orders": {r["status"]: r["n"] for r in soak_checks.rows(conn, "SELECT status, count(*) AS n FROM renewals_renewalorder GROUP BY status")},
            "payments": {r["state"]: r["n"] for r in soak_checks.rows(conn, "SELECT state, count(*) AS n FROM renewals_payment GROUP BY state")},
            "refunds": {r["status"]: r["n"] for r in soak_checks.rows(conn, "SELECT status, count(*) AS n FROM renewals_refund GROUP BY status")},
            "sms": {r["template"]: r["n"] for r in soak_checks.rows(conn, "SELECT template, count(*) AS n FROM sms_outboxmessage GROUP BY template")},
            "notifications": soak_checks.rows(
                conn,
                "SELECT count(*) AS stored, count(DISTINCT event_id) AS events, coalesce(sum(attempts), 0) AS attempts, "
                "count(*) FILTER (WHERE acknowledged) AS acknowledged FROM payments_simnotification",
            )[0],
            "notifications_received": {r["outcome"]: {"events": r["n"], "deliveries": r["deliveries"]} for r in soak_checks.rows(
                conn, "SELECT CASE WHEN verified THEN 'verified' ELSE 'refused' END AS outcome, count(*) AS n, "
                "coalesce(sum(deliveries), 0) AS deliveries FROM payments_receivednotification GROUP BY 1")},
            "tasks": {r["status"]: r["n"] for r in soak_checks.rows(conn, "SELECT status, count(*) AS n FROM django_tasks_database_dbtaskresult GROUP BY status")},
            "audit_entries": soak_checks.rows(conn, "SELECT count(*) AS n FROM core_logentry")[0]["n"],
        }  # fmt: skip
        for entry in kills:
            if entry.get("task_rows"):
                # A task that was still running at the kill stays RUNNING until the housekeeping marks
                # it failed (TASK_STALE_AFTER_SECONDS); one that finished in the instant before is done.
                entry["task_rows"] = {
                    str(r["id"]): {"status": r["status"], "marked_stale": r["exception_class_path"] == soak_checks.STALE_TASK_EXCEPTION}
                    for r in soak_checks.rows(
                        conn,
                        "SELECT id, status, exception_class_path FROM django_tasks_database_dbtaskresult "
                        "WHERE id::text = ANY(%s)",
                        [entry["task_rows"]],
                    )
                }  # fmt: skip
        check_seconds = round(time.monotonic() - check_start, 1)

    ok = all(check["ok"] for check in checks.values())
    load_wall = max(load_done, 1)
    report = {
        "what": "make soak (issue 12 item 6): two app hosts, two workers and one scheduler behind nginx on "
        "PostgreSQL + Redis, hundreds of staff renewing through HTTP under payment-notification faults "
        "and kill -9; independent SQL checks afterwards (bench/soak_checks.py)",
        "ok": ok,
        "mode": mode,
        "started_at": started_at.isoformat(timespec="seconds"),
        "config": {
            "staff": staff_count,
            "load_seconds": load_seconds,
            "ramp_seconds": ramp,
            "drain_limit_seconds": drain_limit,
            "behaviours": dict(BEHAVIOURS),
            "reject_percent": options.reject_percent,
            "unpaid_timeout_minutes": timeout_minutes,
            "payment_simulator_time_scale": 10,
            "fault_phase_seconds": 20,
            "settings": "campuspass.settings.production",
            "gunicorn": {"workers": 2, "threads": 4},
        },
        "topology": {
            "network_namespaces": netns,
            "front": f"nginx {site} (TLS, deploy/nginx/campuspass.conf)",
            "hosts": {
                f"host-{h}": {
                    "address": f"{a}:{p}",
                    "runs": [n for n, (_, host) in starts.items() if host == h],
                }
                for h, (a, p) in app.items()
            },
            "database": "PostgreSQL (one database of the soak's own)",
            "redis": options.redis.rsplit("@", 1)[-1],
            "shared_store": "one directory for both hosts (the NFS export of README 'Running it for real')",
            "id_photos": f"sent by nginx (X-Accel-Redirect {X_ACCEL_PREFIX}); store group {store_group or 'n/a'}",
        },
        "machine": {"cpus": os.cpu_count(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "timeline_seconds": {
            "setup": round(setup_seconds, 1),
            "load": load_done,
            "drain": drain_seconds,
            "checks": check_seconds,
            "total": round(time.monotonic() - began, 1),
        },
        "staff": {
            "outcomes": dict(stats.outcomes),
            "behaviours": dict(stats.behaviours),
            "refunds_asked_by_staff": refunds_by_staff.get("requested", 0),
            "failures": stats.failures[:25],
        },
        "http": {
            "requests": stats.requests,
            "by_status": dict(stats.status),
            "retried": stats.retries,
        },
        "throughput": {
            "requests_per_second": round(stats.requests / load_wall, 1),
            "paid_renewals_per_minute": round(stats.outcomes.get("paid", 0) * 60 / load_wall, 1),
        },
        "latency_ms": {step: percentiles(values) for step, values in sorted(stats.latency.items())},
        "kills": kills,
        "faults": fault_log,
        "office": office_report,
        "counts": counts,
        "checks": checks,
    }
    Path(options.out).write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n")
    for name, check in checks.items():
        log(f"check {name}: {'ok' if check['ok'] else 'FAILED'} ({check['checked']} checked)")
        for problem in check["problems"][:5]:
            log(f"    {problem}")
    log(f"{'SOAK OK' if ok else 'SOAK FAILED'}; numbers in {options.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("_setup", "_office"):
        helper = argparse.ArgumentParser()
        helper.add_argument("command")
        helper.add_argument("stopfile", nargs="?")
        helper.add_argument("--staff", type=int, default=0)
        helper.add_argument("--timeout-minutes", type=int, default=2)
        helper.add_argument("--reject-percent", type=int, default=15)
        helper.add_argument("--staff-grace", type=float, default=20.0)
        helper_args = helper.parse_args()
        (django_setup_command if helper_args.command == "_setup" else django_office_command)(helper_args)
        sys.exit(0)
    sys.exit(main())
