"""Shared helpers for the audit tests: events, trails and archive surgery."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit import (
    AuditConfig,
    AuditTrail,
    DeploymentRef,
    Principal,
    RequestEvent,
    Residency,
    Tokens,
)
from gateway.audit.canonical import canonical, digest
from gateway.audit.keys import raw_public
from gateway.config import OpenAIDeployment

SIGNING_ENV = "GATEHOUSE_TEST_AUDIT_SIGNING_KEY"


def request_event(number: int, **overrides: Any) -> RequestEvent:
    fields: dict[str, Any] = {
        "request_id": f"req-{number}",
        "principal": Principal(key_id="key-1", team="payments", cost_center="cc-42"),
        "model": "gpt-4o",
        "operation": "chat",
        "deployment": DeploymentRef(
            id="aoai-sweden", provider="azure_openai", region="swedencentral", jurisdiction="SE"
        ),
        "residency": Residency(decision="allowed"),
        "redaction": {"EMAIL_ADDRESS": 1},
        "tokens": Tokens(input=10, output=20),
        "status": 200,
        "latency_ms": 12.5,
    }
    fields.update(overrides)
    return RequestEvent(**fields)


def public_b64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public(key)).decode()


async def append_sequentially(trail: AuditTrail, count: int, start: int = 1) -> None:
    """One append at a time, so every event is its own batch (segments split exactly)."""
    for number in range(start, start + count):
        await trail.append(request_event(number))


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def config(**overrides: Any) -> AuditConfig:
    return AuditConfig(signing_key_env=SIGNING_ENV, **overrides)


# --- archive surgery ------------------------------------------------------------------------


def segment_path(archive: Path, trail: str, number: int) -> Path:
    return archive / trail / f"{number:012d}.jsonl"


def read_records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.chmod(0o644)
    path.write_bytes(b"".join(canonical(r) + b"\n" for r in records))


def rehash(record: dict[str, Any], prev: str) -> dict[str, Any]:
    """What a forger who knows the format but not the signing key would write."""
    body = {"event": record["event"], "prev": prev, "seq": record["seq"]}
    return {**body, "hash": digest(body)}


DEPLOYMENT = OpenAIDeployment(
    provider="openai",
    base_url="https://vllm.internal/v1",
    model="m",
    region="eu-central-1",
    jurisdiction="DE",
)
"""a deployment for events that name one"""
