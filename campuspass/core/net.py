"""The client's address, for throttles and the audit log.

`X-Forwarded-For` is whatever the client says, unless a proxy we run appends to it. With
`TRUSTED_PROXY_COUNT = N` (the number of reverse proxies in front of the app, e.g. 1 for nginx) the
address N hops from the right of X-Forwarded-For is used; with 0 (the default) only REMOTE_ADDR."""

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104 - a key, never bound
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies <= 0:
        return remote
    hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(hops) < proxies:
        return remote
    candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
