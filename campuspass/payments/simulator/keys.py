"""The simulator's platform key pair, serial and APIv3 key, generated on first use and never in git."""

import contextlib
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from ..crypto import generate_private_key, load_private_key, private_key_pem, random_string

KEYS_FILE = "keys.json"
FAULTS_FILE = "faults.json"
KNOWN_FAULTS = ("drop", "delay", "duplicate", "reorder", "refund_fail", "refund_closed")

_lock = threading.Lock()
_cache: dict[str, "SimulatorKeys"] = {}


@dataclass(frozen=True)
class SimulatorKeys:
    private_key: rsa.RSAPrivateKey
    serial: str
    apiv3_key: bytes

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def cert_serial(self) -> str:
        """The serial of the simulator's "platform certificate" (certificate mode): 40 hex digits,
        like WeChat's, derived from the same key so nothing more has to be stored."""
        der = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(der).hexdigest()[:40].upper()


def simulator_dir() -> Path:
    path = Path(settings.PAYMENT_SIMULATOR_DIR)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _write_private(path: Path, text: str) -> None:
    """Write a 0600 file atomically; if another process got there first, keep theirs."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # link() fails if the file exists: web and worker must not end up with two different keys.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def get_keys() -> SimulatorKeys:
    directory = simulator_dir()
    path = directory / KEYS_FILE
    with _lock:
        cached = _cache.get(str(path))
        if cached is not None and path.exists():
            return cached
        if not path.exists():
            data = {
                "serial": "PUB_KEY_ID_SIM" + random_string(24).upper(),
                "apiv3_key": random_string(32),
                "private_key": private_key_pem(generate_private_key()),
            }
            _write_private(path, json.dumps(data))
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = SimulatorKeys(
            private_key=load_private_key(data["private_key"]),
            serial=data["serial"],
            apiv3_key=data["apiv3_key"].encode(),
        )
        _cache[str(path)] = keys
        return keys


def get_faults() -> set[str]:
    """Faults in force: the file written by `paysim faults` if any, else settings.PAYMENT_SIMULATOR_FAULTS."""
    path = Path(settings.PAYMENT_SIMULATOR_DIR) / FAULTS_FILE
    if path.exists():
        try:
            return {f for f in json.loads(path.read_text(encoding="utf-8")) if f in KNOWN_FAULTS}
        except (ValueError, TypeError):
            return set()
    return {f for f in settings.PAYMENT_SIMULATOR_FAULTS if f in KNOWN_FAULTS}


def set_faults(faults: list[str] | None) -> None:
    """Persist faults (overriding the setting); None removes the file so the setting applies again."""
    path = simulator_dir() / FAULTS_FILE
    if faults is None:
        path.unlink(missing_ok=True)
        return
    unknown = [f for f in faults if f not in KNOWN_FAULTS]
    if unknown:
        raise ValueError(f"未知的故障：{', '.join(unknown)}；可用：{', '.join(KNOWN_FAULTS)}")
    path.write_text(json.dumps(sorted(set(faults))), encoding="utf-8")
