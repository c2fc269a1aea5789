"""Admin changes reach the audit trail before they take effect; a broken trail shows in
/readyz and refuses the change."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from gateway.audit import AuditTrail, FileOps
from gateway.audit.hook import AuditHook
from tests.gateway.audit.support import config
from tests.gateway.audit.test_hook import ENV, Fake, recorded
from tests.gateway.conftest import gateway_config, openai_deployment, run_gateway, sqlite_store


def _config(fake: Fake, tmp_path: Path) -> object:
    _, base_url = fake
    return gateway_config(
        sqlite_store(tmp_path),
        {"chat-eu": [openai_deployment(base_url, api_key_env="VLLM_API_KEY")]},
    )


def test_key_creation_and_revocation_are_audited(
    fake_openai: Fake, tmp_path: Path, signing_key: object
) -> None:
    trail_dir = tmp_path / "audit"
    trail = AuditTrail(config(), default_dir=trail_dir)
    with run_gateway(_config(fake_openai, tmp_path), environ=ENV, hooks=[AuditHook(trail)]) as gw:
        created = gw.admin("POST", "/admin/keys", json={"team": "payments", "cost_center": "CC-1"})
        assert created.status_code == 201
        key_id, key = created.json()["id"], created.json()["key"]
        assert gw.admin("DELETE", f"/admin/keys/{key_id}").status_code == 200
    admin = recorded(trail_dir, admin=True)
    assert [(e["action"], e["target"]) for e in admin] == [
        ("key.create", key_id),
        ("key.revoke", key_id),
    ]
    assert admin[0]["details"]["team"] == "payments"
    assert admin[0]["details"]["cost_center"] == "CC-1"
    raw = b"".join(p.read_bytes() for p in (trail_dir / "wal").iterdir())
    assert key.encode() not in raw


def test_unrecordable_admin_change_is_refused_and_readyz_fails(
    fake_openai: Fake, tmp_path: Path, signing_key: object
) -> None:
    """A failed write whose rollback also fails leaves the log unusable until restart."""
    broken = threading.Event()

    def write(fd: int, data: bytes) -> int:
        if broken.is_set():
            raise OSError(28, "No space left on device")
        return os.write(fd, data)

    def fsync(fd: int) -> None:
        if broken.is_set():
            raise OSError(5, "Input/output error")
        os.fsync(fd)

    trail = AuditTrail(
        config(), default_dir=tmp_path / "audit", ops=FileOps(write=write, fsync=fsync)
    )
    with run_gateway(_config(fake_openai, tmp_path), environ=ENV, hooks=[AuditHook(trail)]) as gw:
        gw.create_key()
        assert gw.http.get(f"{gw.url}/readyz").status_code == 200
        broken.set()
        refused = gw.admin("POST", "/admin/keys", json={"team": "claims"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "audit_unavailable"
        teams = [k["team"] for k in gw.admin("GET", "/admin/keys").json()["data"]]
        assert teams == ["payments"]
        ready = gw.http.get(f"{gw.url}/readyz")
        assert ready.status_code == 503
        assert "audit trail" in ready.json()["error"]["message"]
