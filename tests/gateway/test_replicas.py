"""Two gateway processes (``python -m gateway``) sharing PostgreSQL: a key revoked on one
stops working on the other within one second."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.gateway.conftest import ADMIN_KEY
from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.fakes.server import free_port, serve
from tests.gateway.ledger.processes import wait_ready

pytestmark = [pytest.mark.services, pytest.mark.slow]

BODY = {"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, str, FakeOpenAI]]:
    fake = FakeOpenAI()
    with serve(fake) as upstream:
        config = {
            "store": postgres_url,
            "jurisdictions": ["eu"],
            "auth": {"key_refresh_seconds": 0.25},
            "models": [
                {
                    "name": "chat-eu",
                    "deployments": [
                        {
                            "provider": "openai",
                            "base_url": f"{upstream}/v1",
                            "model": "m",
                            "region": "r",
                            "jurisdiction": "eu",
                        }
                    ],
                }
            ],
        }
        env = {**os.environ, "GATEHOUSE_ADMIN_KEY": ADMIN_KEY}
        ports = [free_port(), free_port()]
        processes = []
        for replica, port in enumerate(ports):
            # each replica keeps its own local audit write-ahead directory
            path = tmp_path / f"gateway-{replica}.yaml"
            audit = {"dir": str(tmp_path / f"audit-{replica}")}
            path.write_text(yaml.safe_dump({**config, "audit": audit}))
            command = [sys.executable, "-m", "gateway", "--config", str(path), "--port", str(port)]
            processes.append(
                subprocess.Popen(
                    [*command, "--log-level", "warning"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            deadline = time.monotonic() + 30
            for url, process in zip(urls, processes, strict=True):
                wait_ready(url, process, deadline)
            yield urls[0], urls[1], fake
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                _, stderr = process.communicate(timeout=15)
                # uvicorn shuts down gracefully, then re-raises the signal it caught
                assert process.returncode in (0, -signal.SIGTERM), stderr.decode()


def poll_until(url: str, key: str, status: int, limit: float) -> float:
    """Seconds until ``url`` answers ``status`` for ``key`` (fails after ``limit``).

    The test process's own garbage collector is paused meanwhile: late in a full test run
    its heap is large, and a full collection in this process would be timed as the
    gateway's delay.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        started = time.monotonic()
        with httpx.Client(timeout=2) as client:
            while True:
                response = client.post(
                    f"{url}/v1/chat/completions",
                    json=BODY,
                    headers={"authorization": f"Bearer {key}"},
                )
                elapsed = time.monotonic() - started
                if response.status_code == status:
                    return elapsed
                assert elapsed < limit, f"still {response.status_code} after {elapsed:.2f}s"
                time.sleep(0.02)
    finally:
        if was_enabled:
            gc.enable()


def test_revocation_on_one_replica_reaches_the_other_within_one_second(
    replicas: tuple[str, str, FakeOpenAI],
) -> None:
    a, b, fake = replicas
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    created = httpx.post(f"{a}/admin/keys", json={"team": "payments"}, headers=admin, timeout=5)
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["id"]
    assert poll_until(b, key, 200, limit=1.0) < 1.0  # a new key reaches B by polling too

    revoked = httpx.delete(f"{a}/admin/keys/{key_id}", headers=admin, timeout=5)
    assert revoked.status_code == 200
    assert poll_until(a, key, 401, limit=0.2) < 0.2  # at once where it was revoked
    assert poll_until(b, key, 401, limit=1.0) < 1.0
    listed = httpx.get(f"{b}/admin/keys", headers=admin, timeout=5).json()["data"]
    assert [k["revoked_at"] is not None for k in listed if k["id"] == key_id] == [True]
    assert fake.calls >= 1
