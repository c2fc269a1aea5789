"""Shared fixtures: fake upstreams, a running gateway, an isolated PostgreSQL database."""

from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import psycopg
import pytest

from gateway.app import GatewayApp, create_app
from gateway.config import GatewayConfig, parse_config
from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.fakes.server import serve

ADMIN_KEY = "test-admin-key-0123456789abcdef"
TLS = ssl.create_default_context()
"""built once: creating a TLS context per HTTP client costs tens of milliseconds"""


def services_required() -> bool:
    return os.environ.get("GATEHOUSE_REQUIRE_SERVICES") == "1"


def unavailable_service(what: str) -> None:
    """Skip, or fail when CI demands the services (GATEHOUSE_REQUIRE_SERVICES=1)."""
    if services_required():
        pytest.fail(f"{what} is required (GATEHOUSE_REQUIRE_SERVICES=1) but unreachable")
    pytest.skip(f"{what} is not reachable")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    try:
        admin = psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
            autocommit=True,
            connect_timeout=2,
        )
    except psycopg.OperationalError:
        unavailable_service("PostgreSQL on 127.0.0.1:5432")
        raise
    name = f"gatehouse_gw_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def openai_deployment(base_url: str, jurisdiction: str = "eu", **extra: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "base_url": base_url,
        "model": extra.pop("model", "llama-3.1-8b"),
        "region": extra.pop("region", f"{jurisdiction}-region"),
        "jurisdiction": jurisdiction,
        **extra,
    }


def gateway_config(
    store: str, models: dict[str, list[dict[str, Any]]], **overrides: Any
) -> GatewayConfig:
    data: dict[str, Any] = {
        "store": store,
        "jurisdictions": ["eu"],
        "models": [{"name": name, "deployments": deps} for name, deps in models.items()],
        "retry": {"attempts": 2, "backoff_initial_seconds": 0.001, "backoff_max_seconds": 0.005},
        **overrides,
    }
    return parse_config(data)


@dataclass
class Gateway:
    url: str
    app: GatewayApp
    http: httpx.Client
    opened: list[openai.OpenAI] = field(default_factory=list)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {ADMIN_KEY}"}
        return self.http.request(method, f"{self.url}{path}", headers=headers, **kwargs)

    def create_key(self, **spec: Any) -> str:
        response = self.admin("POST", "/admin/keys", json={"team": "payments", **spec})
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key

    def client(self, key: str) -> openai.OpenAI:
        """A sync SDK client, closed when the test ends."""
        client = openai.OpenAI(
            api_key=key,
            base_url=f"{self.url}/v1",
            max_retries=0,
            timeout=10,
            http_client=httpx2.Client(verify=TLS),
        )
        self.opened.append(client)
        return client

    def close_clients(self) -> None:
        while self.opened:
            self.opened.pop().close()

    def async_client(self, key: str) -> openai.AsyncOpenAI:
        """An async SDK client; the test must close it."""
        return openai.AsyncOpenAI(
            api_key=key,
            base_url=f"{self.url}/v1",
            max_retries=0,
            timeout=10,
            http_client=httpx2.AsyncClient(verify=TLS),
        )

    def post(self, path: str, key: str | None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers.setdefault("authorization", f"Bearer {key}")
        return self.http.post(f"{self.url}{path}", headers=headers, **kwargs)

    def get(self, path: str, key: str | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return self.http.get(f"{self.url}{path}", headers=headers)


@contextmanager
def run_gateway(
    config: GatewayConfig, *, environ: dict[str, str] | None = None, **kwargs: Any
) -> Iterator[Gateway]:
    env = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY} if environ is None else environ
    app = create_app(config, environ=env, **kwargs)
    with serve(app) as url, httpx.Client(verify=TLS, timeout=10) as http:
        gateway = Gateway(url, app, http)
        try:
            yield gateway
        finally:
            gateway.close_clients()


def sqlite_store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gatehouse.db'}"


@pytest.fixture(scope="module")
def _shared_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FakeOpenAI, str, Gateway]]:
    fake = FakeOpenAI(name="vllm")
    with serve(fake) as fake_url:
        base_url = f"{fake_url}/v1"
        config = gateway_config(
            sqlite_store(tmp_path_factory.mktemp("gateway")),
            {
                "chat-eu": [openai_deployment(base_url, api_key_env="VLLM_API_KEY")],
                "embed-eu": [
                    openai_deployment(base_url, model="bge-m3", api_key_env="VLLM_API_KEY")
                ],
            },
        )
        env = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, "VLLM_API_KEY": "upstream-secret-vllm"}
        with run_gateway(config, environ=env) as gw:
            yield fake, base_url, gw


@pytest.fixture
def fake_openai(_shared_gateway: tuple[FakeOpenAI, str, Gateway]) -> tuple[FakeOpenAI, str]:
    """The fake vLLM (shared by a test module), with no recorded requests and no script."""
    fake, base_url, _ = _shared_gateway
    fake.reset()
    return fake, base_url


@pytest.fixture
def gateway(
    _shared_gateway: tuple[FakeOpenAI, str, Gateway], fake_openai: tuple[FakeOpenAI, str]
) -> Iterator[Gateway]:
    """A gateway (shared by a test module) with ``chat-eu`` and ``embed-eu`` on the fake
    vLLM, jurisdiction eu, upstream key ``upstream-secret-vllm``."""
    gateway = _shared_gateway[2]
    yield gateway
    gateway.close_clients()
