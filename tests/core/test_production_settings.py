"""Production refuses to start with the development stand-ins or without a secret key."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_production(**env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PAYMENT_", "SMS_"))}
    base.pop("SECRET_KEY", None)
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import campuspass.settings.production"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_needs_a_secret_key():
    result = load_production(PAYMENT_PROVIDER="wechatpay", SMS_BACKEND="aliyun")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_refuses_the_simulator_and_test_sms():
    result = load_production(SECRET_KEY="x" * 50, SMS_BACKEND="aliyun")
    assert result.returncode != 0 and "simulator" in result.stderr
    result = load_production(SECRET_KEY="x" * 50, PAYMENT_PROVIDER="wechatpay")
    assert result.returncode != 0 and "SMS_BACKEND is 'console'" in result.stderr
    ok = load_production(
        SECRET_KEY="x" * 50,
        PAYMENT_PROVIDER="wechatpay",
        SMS_BACKEND="tencent",
        SITE_URL="https://pass.example",
    )
    assert ok.returncode == 0, ok.stderr
    staging = load_production(
        SECRET_KEY="x" * 50,
        ALLOW_SIMULATOR_IN_PRODUCTION="1",
        ALLOW_TEST_SMS_IN_PRODUCTION="1",
        SITE_URL="https://staging.example",
    )
    assert staging.returncode == 0, staging.stderr


def test_production_refuses_a_site_url_that_is_not_https():
    """WeChat Pay calls only https notify_url addresses; today an http SITE_URL starts fine."""
    env = {"SECRET_KEY": "x" * 50, "PAYMENT_PROVIDER": "wechatpay", "SMS_BACKEND": "tencent"}
    result = load_production(**env, SITE_URL="http://pass.example")
    assert result.returncode != 0 and "SITE_URL must be an https://" in result.stderr
    assert load_production(**env, SITE_URL="https://pass.example").returncode == 0


def test_production_sends_a_content_security_policy_and_a_permissions_policy():
    code = (
        "import campuspass.settings.production as s;"
        "d = s.CONTENT_SECURITY_POLICY['DIRECTIVES'];"
        "assert 'csp.middleware.CSPMiddleware' in s.MIDDLEWARE;"
        "assert 'campuspass.core.headers.SecurityHeadersMiddleware' in s.MIDDLEWARE;"
        "assert \"'unsafe-inline'\" not in d['script-src'] and d['frame-ancestors'] == [\"'none'\"]"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PAYMENT_", "SMS_"))}
    env.update(
        SECRET_KEY="x" * 50,
        PAYMENT_PROVIDER="wechatpay",
        SMS_BACKEND="tencent",
        SITE_URL="https://pass.example",
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
