"""The cryptography of WeChat Pay API v3, shared by the real provider, the simulator and the verifier.

Signatures are RSA-SHA256 with PKCS#1 v1.5 over newline-terminated lines; notification resources are
AES-256-GCM with the merchant's 32-byte APIv3 key, a 12-character nonce and associated data.
"""

import base64
import os
import secrets
import string
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_ALPHANUM = string.ascii_letters + string.digits


def random_string(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHANUM) for _ in range(length))


def sign_message(private_key: rsa.RSAPrivateKey, *lines: str) -> str:
    """Base64 RSA-SHA256 signature over the lines, each followed by "\\n" (the v3 message format)."""
    message = "".join(f"{line}\n" for line in lines).encode()
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify_message(public_key: rsa.RSAPublicKey, signature: str, *lines: str) -> bool:
    message = "".join(f"{line}\n" for line in lines).encode()
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def aes_gcm_encrypt(key: bytes, plaintext: str, *, nonce: str, associated_data: str) -> str:
    return base64.b64encode(
        AESGCM(key).encrypt(nonce.encode(), plaintext.encode(), associated_data.encode())
    ).decode()


def aes_gcm_decrypt(key: bytes, ciphertext: str, *, nonce: str, associated_data: str) -> str | None:
    """The plaintext, or None when the key, nonce, associated data or ciphertext do not match."""
    try:
        data = base64.b64decode(ciphertext, validate=True)
        return AESGCM(key).decrypt(nonce.encode(), data, associated_data.encode()).decode()
    except (InvalidTag, ValueError, TypeError, UnicodeDecodeError):
        return None


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_key_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def pem_text(value: str) -> str:
    """A key given either as PEM text or as the path of a PEM file: the PEM text."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        return value
    path = Path(os.path.expanduser(value))
    if not path.is_file():
        raise ValueError(f"既不是 PEM 文本也不是存在的文件：{value[:60]}")
    return path.read_text(encoding="utf-8")


def load_private_key(value: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem_text(value).encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("不是 RSA 私钥")
    return key


def load_public_key(value: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem_text(value).encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("不是 RSA 公钥")
    return key
