"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser) against the live
test server. Screenshots of every step go to test-artifacts/screenshots/ (kept by CI)."""

import os
import shutil
import time
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the Django calls the tests make between
# browser steps are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2055A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47.2560(0x28002F30) "
    "WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64"
)


def _browser_missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return "Debian chromium is not installed (apt-get install chromium fonts-noto-cjk)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "python playwright is not installed"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _browser_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


class Shots:
    """Numbered screenshots of one test's steps."""

    def __init__(self, page, name: str):
        self.page = page
        self.folder = ARTIFACTS / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


# Every page of the walks runs under the Content-Security-Policy: a violation (a blocked inline
# script or handler, a blocked image or style) is reported by the browser and fails the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + e.blockedURI + " on " + document.location.pathname + " sample " + e.sample);
});
"""


def _watch_csp(context):
    violations: list[str] = []
    context.add_init_script(CSP_LISTENER)

    def on_page(page):
        page.on(
            "console",
            lambda msg: (
                violations.append(msg.text)
                if "CSP violation" in msg.text or "Content Security Policy" in msg.text
                else None
            ),
        )
        page.on("pageerror", lambda error: violations.append(f"page error: {error}"))

    context.on("page", on_page)
    return violations


@pytest.fixture
def phone(browser):
    """A phone-sized page with WeChat's user agent."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        user_agent=WECHAT_UA,
        locale="zh-CN",
    )
    violations = _watch_csp(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not violations, violations


@pytest.fixture
def office(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    violations = _watch_csp(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not violations, violations


@pytest.fixture
def shots():
    return Shots


@pytest.fixture
def live_settings(settings, live_server, tmp_path):
    """The live server with the file SMS backend and the payment simulator (shared by the walks)."""
    settings.SITE_URL = live_server.url
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    settings.PAYMENT_PROVIDER = "simulator"
    settings.PAYMENT_SIMULATOR_DIR = tmp_path / "paysim"
    settings.PAYMENT_SIMULATOR_TIME_SCALE = 1000.0
    settings.PAYMENT_SIMULATOR_FAULTS = []
    return settings


def settled(read, seconds: float = 10):
    """Run a database read from the test thread while the live server may be writing. The test
    database is SQLite's shared in-memory one, which answers "table is locked" at once instead of
    waiting as a file database would: retry for a while, then let the error through."""
    from django.db import OperationalError

    deadline = time.monotonic() + seconds
    while True:
        try:
            return read()
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def reload(obj, page=None):
    """refresh_from_db() that waits out the live server's writes (see settled())."""
    settled(obj.refresh_from_db)
    return obj
