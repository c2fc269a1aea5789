"""Gateway processes (``python -m gateway``) sharing PostgreSQL and Redis, for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import redis
import yaml

from tests.gateway.conftest import ADMIN_KEY, TLS, unavailable_service
from tests.gateway.fakes.server import free_port
from tests.gateway.ledger.gateway_support import UNIT_PRICE
from tests.gateway.limits.redis_support import REDIS_URL


@contextmanager
def redis_prefix() -> Iterator[tuple[redis.Redis, str]]:
    """A sync client on the shared Redis and a fresh key prefix, deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        unavailable_service(f"Redis at {REDIS_URL}")
        raise
    prefix = f"gatehouse-test:{uuid.uuid4().hex}:"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
        client.close()


def wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"gateway exited early: {err}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready in time")


class Replicas:
    def __init__(self, config: dict[str, Any], directory: Path, count: int) -> None:
        self.path = directory / "gateway.yaml"
        self.path.write_text(yaml.safe_dump(config))
        self.directory = directory
        self.env = {
            **os.environ,
            "GATEHOUSE_ADMIN_KEY": ADMIN_KEY,
            "GATEHOUSE_REDIS_URL": REDIS_URL,
        }
        self.ports = [free_port() for _ in range(count)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, index: int) -> subprocess.Popen[bytes]:
        """Start replica ``index`` (each has its own working directory, for its audit trail);
        :meth:`wait_ready` waits until every started replica answers."""
        workdir = self.directory / f"replica-{index}"
        workdir.mkdir(exist_ok=True)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "--config",
                str(self.path),
                "--port",
                str(self.ports[index]),
                "--log-level",
                "warning",
            ],
            env=self.env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.processes.append(process)
        return process

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        for url, process in zip(self.urls, self.processes, strict=True):
            wait_ready(url, process, deadline)

    def stop(self) -> None:
        """Stop every replica still running; each must shut down cleanly."""
        running = [p for p in self.processes if p.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            code = process.wait(timeout=20)
            err = process.stderr.read().decode() if process.stderr else ""
            # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done
            assert code in (0, -signal.SIGTERM), f"the gateway did not stop cleanly ({code}): {err}"

    def admin(self, method: str, path: str, index: int = 0, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {ADMIN_KEY}"}
        return httpx.request(
            method, f"{self.urls[index]}{path}", headers=headers, timeout=10, **kwargs
        )

    def create_key(self, **spec: Any) -> str:
        """A key created on replica 0, once every replica knows it."""
        created = self.admin("POST", "/admin/keys", json=spec)
        assert created.status_code == 201, created.text
        key: str = created.json()["key"]
        for url in self.urls:
            deadline = time.monotonic() + 5
            while (
                httpx.get(
                    f"{url}/v1/models", headers={"authorization": f"Bearer {key}"}
                ).status_code
                != 200
            ):
                assert time.monotonic() < deadline, f"{url} does not know the new key"
                time.sleep(0.05)
        return key


@contextmanager
def replicas(config: dict[str, Any], directory: Path, count: int = 2) -> Iterator[Replicas]:
    """``count`` gateway processes on ``config``; stopped (cleanly) when the block ends."""
    group = Replicas(config, directory, count)
    try:
        for index in range(count):
            group.start(index)
        group.wait_ready()
        yield group
    finally:
        try:
            group.stop()
        finally:
            for process in group.processes:
                if process.poll() is None:
                    process.kill()


def async_client(url: str, key: str) -> openai.AsyncOpenAI:
    """An async SDK client for one replica; the caller closes it."""
    return openai.AsyncOpenAI(
        api_key=key,
        base_url=f"{url}/v1",
        max_retries=0,
        timeout=30,
        http_client=httpx2.AsyncClient(verify=TLS),
    )


def deployment(upstream: str) -> dict[str, Any]:
    return {
        "provider": "openai",
        "base_url": f"{upstream}/v1",
        "model": "m",
        "region": "eu-west-1",
        "jurisdiction": "eu",
        "price": dict(UNIT_PRICE),
    }


def replica_config(store: str, upstream: str, **sections: Any) -> dict[str, Any]:
    return {
        "store": store,
        "jurisdictions": ["eu"],
        "auth": {"key_refresh_seconds": 0.25},
        "models": [{"name": "chat-eu", "deployments": [deployment(upstream)]}],
        **sections,
    }
