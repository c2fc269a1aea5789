"""Azure OpenAI: URL and api-version, api-key or Entra token (cached, refreshed early)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from gateway.config import AzureOpenAIDeployment, Deployment
from gateway.providers import azure_openai, create_adapter
from gateway.providers.base import Adapter, UpstreamError
from tests.gateway.conftest import gateway_config, run_gateway, sqlite_store
from tests.gateway.fakes.azure import FakeAzureOpenAI
from tests.gateway.fakes.server import serve

API_KEY = "azure-resource-key"
BODY = {"model": "chat", "messages": [{"role": "user", "content": "bonjour"}]}


class FakeCredential:
    """Counts token requests; each token lives ``lifetime`` seconds from the fake clock."""

    def __init__(self, clock: list[float], lifetime: float = 3600, fail: bool = False) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.fail = fail
        self.calls: list[tuple[str, ...]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append(scopes)
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("no managed identity endpoint")
        return AccessToken(f"entra-token-{len(self.calls)}", int(self.clock[0] + self.lifetime))

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FakeCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def deployment(endpoint: str, **auth: Any) -> dict[str, Any]:
    return {
        "provider": "azure_openai",
        "endpoint": endpoint,
        "deployment": "gpt-4o",
        "api_version": "2024-10-21",
        "region": "swedencentral",
        "jurisdiction": "eu",
        **(auth or {"api_key_env": "AZURE_OPENAI_KEY"}),
    }


@pytest.fixture
def azure() -> Iterator[tuple[FakeAzureOpenAI, str]]:
    fake = FakeAzureOpenAI(api_key=API_KEY, tokens=frozenset({"entra-token-1", "entra-token-2"}))
    with serve(fake) as url:
        yield fake, url


def test_api_key_auth_end_to_end(azure: tuple[FakeAzureOpenAI, str], tmp_path: Path) -> None:
    fake, url = azure
    config = gateway_config(sqlite_store(tmp_path), {"chat": [deployment(url)]})
    env = {"GATEHOUSE_ADMIN_KEY": "a" * 32, "AZURE_OPENAI_KEY": API_KEY}
    with run_gateway(config, environ=env) as gw:
        response = gw.admin("POST", "/admin/keys", json={"team": "t"})
        assert response.status_code == 401  # this environ's admin key differs
        gw.http.headers["authorization"] = f"Bearer {'a' * 32}"
        key = gw.http.post(f"{gw.url}/admin/keys", json={"team": "t"}).json()["key"]
        del gw.http.headers["authorization"]
        client = gw.client(key)
        plain = client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "bonjour"}]
        )
        assert plain.choices[0].message.content == "echo: bonjour"
        streamed = client.chat.completions.create(
            model="chat",
            messages=[{"role": "user", "content": "salut"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(streamed)
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 3
    for sent in fake.requests:
        assert sent.path == "/openai/deployments/gpt-4o/chat/completions"
        assert sent.query["api-version"] == ["2024-10-21"]
        assert sent.headers["api-key"] == API_KEY
        assert "authorization" not in sent.headers
        assert "model" not in sent.body
        assert key not in str(sent.headers)


async def test_entra_token_is_cached_and_refreshed_before_expiry() -> None:
    clock = [1000.0]
    credential = FakeCredential(clock, lifetime=3600)
    token = azure_openai.EntraToken(credential, clock=lambda: clock[0])
    assert await token.get() == "entra-token-1"
    assert credential.calls == [(azure_openai.ENTRA_SCOPE,)]
    clock[0] += 3600 - azure_openai.REFRESH_MARGIN_SECONDS - 1
    assert await token.get() == "entra-token-1"  # still comfortably valid
    clock[0] += 1
    assert await token.get() == "entra-token-2"  # refreshed five minutes before expiry
    assert len(credential.calls) == 2
    clock[0] += 10_000
    tokens = await asyncio.gather(*(token.get() for _ in range(20)))
    assert set(tokens) == {"entra-token-3"} and len(credential.calls) == 3  # one refresh for all
    await token.aclose()
    assert credential.closed


async def test_token_failure_is_a_retryable_upstream_error() -> None:
    token = azure_openai.EntraToken(FakeCredential([0.0], fail=True))
    with pytest.raises(UpstreamError) as caught:
        await token.get()
    assert caught.value.retryable and caught.value.code == "upstream_auth_failed"


def test_managed_identity_end_to_end(azure: tuple[FakeAzureOpenAI, str], tmp_path: Path) -> None:
    fake, url = azure
    clock = [time.time()]  # the adapter's token cache uses the real clock
    credential = FakeCredential(clock)

    def factory(dep: Deployment, environ: Mapping[str, str]) -> Adapter:
        if dep.provider == "azure_openai":
            return azure_openai.create(dep, environ, credential=credential)
        return create_adapter(dep, environ)

    config = gateway_config(
        sqlite_store(tmp_path), {"chat": [deployment(url, auth="managed_identity")]}
    )
    with run_gateway(config, adapter_factory=factory) as gw:
        key = gw.create_key()
        for _ in range(3):
            assert gw.post("/v1/chat/completions", key, json=BODY).status_code == 200
    assert len(credential.calls) == 1  # cached across requests
    assert credential.closed  # closed with the app
    assert {s.headers["authorization"] for s in fake.requests} == {"Bearer entra-token-1"}
    assert all("api-key" not in s.headers for s in fake.requests)


def test_wrong_api_version_is_refused_by_the_fake(
    azure: tuple[FakeAzureOpenAI, str], tmp_path: Path
) -> None:
    fake, url = azure
    config = gateway_config(
        sqlite_store(tmp_path), {"chat": [{**deployment(url), "api_version": "2023-05-15"}]}
    )
    with run_gateway(
        config, environ={"GATEHOUSE_ADMIN_KEY": "b" * 32, "AZURE_OPENAI_KEY": API_KEY}
    ) as gw:
        gw.http.headers["authorization"] = f"Bearer {'b' * 32}"
        key = gw.http.post(f"{gw.url}/admin/keys", json={"team": "t"}).json()["key"]
        response = gw.http.post(
            f"{gw.url}/v1/chat/completions", json=BODY, headers={"authorization": f"Bearer {key}"}
        )
    assert response.status_code == 404
    assert "Resource not found" in response.json()["error"]["message"]
    assert fake.calls == 1


def test_wrong_azure_key_is_a_502(azure: tuple[FakeAzureOpenAI, str], tmp_path: Path) -> None:
    _, url = azure
    config = gateway_config(sqlite_store(tmp_path), {"chat": [deployment(url)]})
    with run_gateway(
        config, environ={"GATEHOUSE_ADMIN_KEY": "c" * 32, "AZURE_OPENAI_KEY": "stale"}
    ) as gw:
        gw.http.headers["authorization"] = f"Bearer {'c' * 32}"
        key = gw.http.post(f"{gw.url}/admin/keys", json={"team": "t"}).json()["key"]
        response = gw.http.post(
            f"{gw.url}/v1/chat/completions", json=BODY, headers={"authorization": f"Bearer {key}"}
        )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    assert "Access denied" in response.json()["error"]["message"]


async def test_urls_and_bodies() -> None:
    adapter = azure_openai.AzureOpenAIAdapter(
        "https://acme-eu.openai.azure.com/", "gpt 4o", "2024-10-21", api_key="k"
    )
    request = await adapter.build_request(
        "embeddings", {"model": "embed", "input": "x"}, stream=False
    )
    assert (
        request.url
        == "https://acme-eu.openai.azure.com/openai/deployments/gpt%204o/embeddings?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == "k"
    assert b'"model"' not in request.body
    streamed = await adapter.build_request("chat", BODY, stream=True)
    assert b'"include_usage":true' in streamed.body


async def test_managed_identity_credentials_are_built_without_network() -> None:
    from azure.identity.aio import ManagedIdentityCredential, WorkloadIdentityCredential

    config = AzureOpenAIDeployment.model_validate(
        deployment("https://acme-eu.openai.azure.com", auth="managed_identity")
    )
    plain = azure_openai.managed_identity_credential(config, {})
    assert isinstance(plain, ManagedIdentityCredential)
    await plain.close()
    workload = azure_openai.managed_identity_credential(
        config,
        {
            "AZURE_FEDERATED_TOKEN_FILE": "/var/run/token",
            "AZURE_TENANT_ID": "t",
            "AZURE_CLIENT_ID": "c",
        },
    )
    assert isinstance(workload, WorkloadIdentityCredential)
    await workload.close()


def test_missing_key_variable_is_a_config_error() -> None:
    from gateway.config import ConfigError

    config = AzureOpenAIDeployment.model_validate(deployment("https://acme-eu.openai.azure.com"))
    with pytest.raises(ConfigError, match="AZURE_OPENAI_KEY is not set"):
        azure_openai.create(config, {})
