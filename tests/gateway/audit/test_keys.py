"""The checkpoint signing key: from the environment, or generated once and reused."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import AuditConfigError
from gateway.audit.keys import (
    load_signing_key,
    parse_public_key,
    public_key_b64,
    raw_private,
    raw_public,
)


def pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_key_from_env_as_pem_or_base64(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("AUDIT_KEY", pem(key))
    loaded = load_signing_key("AUDIT_KEY", tmp_path)
    assert raw_public(loaded.public_key()) == raw_public(key.public_key())
    monkeypatch.setenv("AUDIT_KEY", base64.b64encode(raw_private(key)).decode())
    loaded = load_signing_key("AUDIT_KEY", tmp_path)
    assert raw_public(loaded.public_key()) == raw_public(key.public_key())
    assert not (tmp_path / "signing-key.pem").exists()


def test_configured_but_missing_env_is_an_error_not_a_fallback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    with pytest.raises(AuditConfigError, match="AUDIT_KEY"):
        load_signing_key("AUDIT_KEY", tmp_path)
    monkeypatch.setenv("AUDIT_KEY", "not a key")
    with pytest.raises(AuditConfigError, match="expected a PEM Ed25519 private key") as error:
        load_signing_key("AUDIT_KEY", tmp_path)
    assert "not a key" not in str(error.value)  # the value is never echoed


def test_generated_key_is_private_logged_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.audit.keys"):
        first = load_signing_key(None, tmp_path)
    assert public_key_b64(first.public_key()) in caplog.text
    assert (tmp_path / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    public = parse_public_key((tmp_path / "signing-key.pub").read_text())
    assert raw_public(public) == raw_public(first.public_key())
    again = load_signing_key(None, tmp_path)
    assert raw_public(again.public_key()) == raw_public(first.public_key())


def test_rsa_key_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    monkeypatch.setenv("AUDIT_KEY", text)
    with pytest.raises(AuditConfigError, match="expected an Ed25519 private key"):
        load_signing_key("AUDIT_KEY", tmp_path)
