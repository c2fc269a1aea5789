"""The admin API: secure default, key lifecycle, strict bodies."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from gateway.config import parse_config
from tests.gateway.conftest import ADMIN_KEY, Gateway, openai_deployment, run_gateway, sqlite_store
from tests.gateway.fakes.openai import FakeOpenAI

Fake = tuple[FakeOpenAI, str]
CHAT_BODY = {"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]}


def test_admin_api_is_disabled_without_an_admin_key(tmp_path: Path, fake_openai: Fake) -> None:
    config = parse_config(
        {
            "store": sqlite_store(tmp_path),
            "models": [{"name": "chat-eu", "deployments": [openai_deployment(fake_openai[1])]}],
        }
    )
    with run_gateway(config, environ={}) as gw:
        for method in ("POST", "GET"):
            response = gw.admin(
                method, "/admin/keys", json={"team": "t"} if method == "POST" else None
            )
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "admin_disabled"
        assert gw.admin("DELETE", "/admin/keys/abc").status_code == 404


def test_wrong_or_missing_admin_key(gateway: Gateway) -> None:
    for headers in ({}, {"authorization": "Bearer not-the-admin-key-but-long-enough"}):
        response = httpx.post(f"{gateway.url}/admin/keys", json={"team": "t"}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    key = gateway.create_key()
    # an ordinary API key is not an admin credential
    response = httpx.get(f"{gateway.url}/admin/keys", headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 401


def test_create_list_revoke(gateway: Gateway) -> None:
    created = gateway.admin(
        "POST",
        "/admin/keys",
        json={
            "team": "payments",
            "cost_center": "CC-1001",
            "jurisdictions": ["EU"],
            "models": ["chat-eu"],
            "expires_at": None,
            "redaction": "mask",
        },
    )
    assert created.status_code == 201
    body = created.json()
    key, key_id = body["key"], body["id"]
    assert key.startswith(f"gth_{key_id}_")
    assert body["jurisdictions"] == ["eu"]
    assert body["redaction"] == "mask"
    listed = gateway.admin("GET", "/admin/keys").json()["data"]
    (entry,) = [e for e in listed if e["id"] == key_id]
    assert entry["team"] == "payments" and entry["cost_center"] == "CC-1001"
    assert "key" not in entry and "key_hash" not in entry
    assert key not in gateway.admin("GET", "/admin/keys").text
    # the plaintext key is nowhere in the database, only its hash
    db = sqlite3.connect(gateway.app.store.url.removeprefix("sqlite:///"))
    dump = "\n".join(db.iterdump())
    db.close()
    assert key not in dump
    assert key_id in dump

    assert gateway.post("/v1/chat/completions", key, json=CHAT_BODY).status_code == 200
    revoked = gateway.admin("DELETE", f"/admin/keys/{key_id}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True and revoked.json()["revoked_at"]
    after = gateway.post("/v1/chat/completions", key, json=CHAT_BODY)
    assert after.status_code == 401
    assert "revoked" in after.json()["error"]["message"]
    assert gateway.admin("DELETE", f"/admin/keys/{key_id}").status_code == 200  # idempotent


def test_revoke_unknown_key(gateway: Gateway) -> None:
    response = gateway.admin("DELETE", "/admin/keys/0000000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "key_not_found"


def test_unknown_field_is_named(gateway: Gateway) -> None:
    response = gateway.admin("POST", "/admin/keys", json={"team": "t", "quota": 10})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "quota"
    assert "quota: got 10; expected no such field" in error["message"]


def test_wrong_types_and_values_are_named(gateway: Gateway) -> None:
    cases = [
        ({"cost_center": "x"}, "team"),
        ({"team": "t", "jurisdictions": "eu"}, "jurisdictions"),
        ({"team": "t", "redaction": "shred"}, "redaction"),
        ({"team": "t", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"team": "t", "expires_at": "2999-01-01T00:00:00"}, "expires_at"),
        ({"team": "t", "models": ["chat-eu", "gpt-9"]}, "models[1]"),
    ]
    for body, param in cases:
        response = gateway.admin("POST", "/admin/keys", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["param"] == param, response.text


def test_expired_key_is_refused(gateway: Gateway) -> None:
    import datetime as dt

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
    key = gateway.create_key(expires_at=soon)
    assert gateway.post("/v1/chat/completions", key, json=CHAT_BODY).status_code == 200
    import time

    time.sleep(1.1)
    response = gateway.post("/v1/chat/completions", key, json=CHAT_BODY)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_an_expiry_with_a_utc_offset_is_kept_as_that_instant(gateway: Gateway) -> None:
    import datetime as dt

    # SQLite keeps no offset: stored as given, -05:00 expired 5 hours early, +05:00 late
    west = dt.timezone(dt.timedelta(hours=-5))
    in_an_hour = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    key = gateway.create_key(expires_at=in_an_hour.astimezone(west).isoformat())
    assert gateway.post("/v1/chat/completions", key, json=CHAT_BODY).status_code == 200
    listed = gateway.admin("GET", "/admin/keys").json()
    stored = [k["expires_at"] for k in listed.get("data", listed)]
    expiries = [dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in stored if v]
    assert any(abs((e - in_an_hour).total_seconds()) < 1 for e in expiries), stored


def test_admin_key_is_compared_whole(gateway: Gateway) -> None:
    prefix = httpx.get(
        f"{gateway.url}/admin/keys", headers={"authorization": f"Bearer {ADMIN_KEY[:-1]}"}
    )
    assert prefix.status_code == 401
