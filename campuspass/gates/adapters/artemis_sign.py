"""The Artemis OpenAPI gateway's request signature (Hikvision iSecure Center / HikCentral), shared by
the adapter and the simulator so that both build the same string (decision 0028 lists the sources).

    METHOD\\n
    Accept\\n          (each of these four lines only when the header is sent)
    Content-MD5\\n
    Content-Type\\n
    Date\\n
    x-ca-key:…\\n      (the headers named in X-Ca-Signature-Headers, lower-case, sorted)
    x-ca-nonce:…\\n
    x-ca-timestamp:…\\n
    /artemis/api/…     (path; query parameters sorted, as key=value joined by &)

X-Ca-Signature = base64(HMAC-SHA256(appSecret, that string)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNED_HEADERS = ("x-ca-key", "x-ca-nonce", "x-ca-timestamp")


def string_to_sign(
    method: str, headers: dict[str, str], path: str, query: dict[str, str] | None = None
) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    lines = [method.upper()]
    for name in ("accept", "content-md5", "content-type", "date"):
        if lower.get(name):
            lines.append(lower[name])
    signed = [h.strip().lower() for h in lower.get("x-ca-signature-headers", "").split(",") if h.strip()]
    text = "\n".join(lines) + "\n"
    for name in sorted(signed):
        text += f"{name}:{lower.get(name, '')}\n"
    resource = path
    if query:
        resource += "?" + "&".join(f"{k}={v}" if v != "" else k for k, v in sorted(query.items()))
    return text + resource


def signature(secret: str, method: str, headers: dict[str, str], path: str, query=None) -> str:
    message = string_to_sign(method, headers, path, query).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
