"""The Ed25519 key that signs segment checkpoints.

The private key comes from the environment variable named by ``audit.signing_key_env``
(PEM, or base64 of the 32-byte raw key). When no variable is configured, a key is generated
in the write-ahead directory on first start (``signing-key.pem``, mode 0600, with the public
half in ``signing-key.pub``) and its public key is logged: copy it somewhere the verifier can
trust. A configured variable that is missing or malformed is an error, never a fallback.

Verification takes the public key only: PEM, base64 of the 32 raw bytes, or a file holding
either.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.audit.canonical import sha256_hex
from gateway.audit.errors import AuditConfigError

log = logging.getLogger(__name__)

PRIVATE_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "signing-key.pub"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def raw_private(key: Ed25519PrivateKey) -> bytes:
    """The 32 raw bytes of a private key (the base64 form ``signing_key_env`` accepts)."""
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def key_id(key: Ed25519PublicKey) -> str:
    """A short, stable fingerprint of a public key (first 16 hex of SHA-256 of the raw key)."""
    return sha256_hex(raw_public(key))[:16]


def public_key_b64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public(key)).decode("ascii")


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _raw32(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def parse_private_key(text: str, *, source: str) -> Ed25519PrivateKey:
    """Parse a PEM or base64-raw Ed25519 private key; errors name ``source``, never the key."""
    if "-----BEGIN" in text:
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise AuditConfigError(f"{source}: not a readable PEM private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditConfigError(
                f"{source}: got a {type(key).__name__}, expected an Ed25519 private key"
            )
        return key
    raw = _raw32(text)
    if raw is None:
        raise AuditConfigError(
            f"{source}: expected a PEM Ed25519 private key or base64 of its 32 raw bytes"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def parse_public_key(text: str, *, source: str = "public key") -> Ed25519PublicKey:
    """Parse a PEM, or base64 of the 32 raw bytes, Ed25519 public key."""
    if "-----BEGIN" in text:
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError) as exc:
            raise AuditConfigError(f"{source}: not a readable PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise AuditConfigError(
                f"{source}: got a {type(key).__name__}, expected an Ed25519 public key"
            )
        return key
    raw = _raw32(text)
    if raw is None:
        raise AuditConfigError(
            f"{source}: expected a PEM Ed25519 public key or base64 of its 32 raw bytes"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public_key(value: str) -> Ed25519PublicKey:
    """``value`` is a key (PEM or base64) or the path of a file holding one."""
    path = Path(value)
    if "-----BEGIN" not in value and _raw32(value) is None and path.is_file():
        return parse_public_key(path.read_text(encoding="utf-8"), source=str(path))
    return parse_public_key(value)


def verify_signature(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_signing_key(
    env_name: str | None, directory: Path, environ: Mapping[str, str] = os.environ
) -> Ed25519PrivateKey:
    """The checkpoint signing key (see the module docstring for where it comes from)."""
    if env_name is not None:
        text = environ.get(env_name)
        if not text:
            raise AuditConfigError(
                f"audit.signing_key_env names {env_name!r}, but that environment variable "
                "is not set or empty; expected an Ed25519 private key (PEM or base64 raw)"
            )
        return parse_private_key(text, source=f"environment variable {env_name}")
    path = directory / PRIVATE_KEY_FILE
    if path.exists():
        return parse_private_key(path.read_text(encoding="utf-8"), source=str(path))
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_new(path, pem, 0o600)
    _write_new(directory / PUBLIC_KEY_FILE, public_key_pem(key.public_key()), 0o644)
    log.warning(
        "audit: no signing key configured (audit.signing_key_env); generated one in %s. "
        "Public key for `gatehouse audit verify --public-key`: %s",
        path,
        public_key_b64(key.public_key()),
    )
    return key
