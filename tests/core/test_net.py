from django.test import RequestFactory

from campuspass.core.net import client_ip


def request(remote="10.0.0.5", forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request(forwarded="1.2.3.4")) == "10.0.0.5"


def test_behind_one_proxy_the_address_it_saw_is_used(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client may put anything on the left; nginx appends what it saw on the right.
    assert client_ip(request(forwarded="6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(request(forwarded="")) == "10.0.0.5"
    assert client_ip(request(forwarded="not-an-ip")) == "10.0.0.5"
