"""Headers: no-store on every page and file with personal data, a Content-Security-Policy whose
nonce is the one the page's inline scripts carry, and a Permissions-Policy."""

import re

import pytest
from django.urls import reverse

from campuspass.backoffice import roles
from campuspass.core.headers import PERMISSIONS_POLICY

pytestmark = pytest.mark.django_db


def _no_store(response):
    return "no-store" in response.get("Cache-Control", "")


def test_every_page_is_no_store_with_csp_and_permissions_policy(client):
    for url in ("/", "/m/", "/m/pass/", "/office/login/", "/admin/login/"):
        response = client.get(url)
        assert _no_store(response), url
        assert response["Permissions-Policy"] == PERMISSIONS_POLICY
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_back_office_pages_and_exports_are_no_store(office_client):
    from tests.renewals.factories import make_campaign

    make_campaign()
    client, _ = office_client(roles.ADMIN)
    for url in (
        reverse("backoffice:dashboard"),
        reverse("backoffice:audit"),
        reverse("backoffice:exports-download", args=["orders"]),
        reverse("backoffice:audit_export"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response) and "private" in response["Cache-Control"], url


def test_the_review_page_runs_no_inline_script_and_the_policy_allows_none(office_client):
    """The review page's keyboard, zoom and undo live in a static file (review.js): the policy's
    script-src is 'self' (a per-response nonce where a page needs one), never 'unsafe-inline'."""
    from tests.backoffice.test_review import paid_order
    from tests.renewals.factories import make_campaign

    order = paid_order(make_campaign())
    client, _ = office_client(roles.REVIEWER)
    response = client.get(reverse("backoffice:review-order", args=[order.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>", body)
    assert scripts and all("src=" in attrs or "nonce=" in attrs for attrs in scripts)
    assert "backoffice/review.js" in body
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'self'" in script_src and "'unsafe-inline'" not in script_src
    assert "<script>" not in body and not re.search(r"\son[a-z]+=", body)  # no inline handler either
