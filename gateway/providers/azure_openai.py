"""Azure OpenAI: the deployments path with ``api-version``, key or Entra ID auth.

The wire format is OpenAI's, so translation is inherited from :mod:`gateway.providers.openai`;
only the URL, the auth header and the body's ``model`` (Azure takes the deployment from the
path) differ. With ``auth: managed_identity`` an Entra ID token is obtained from
azure-identity's async credentials (workload identity when AKS projects a federated token,
else the managed identity endpoint), cached, and refreshed a few minutes before it expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from azure.core.credentials_async import AsyncTokenCredential

from gateway.config import AzureOpenAIDeployment
from gateway.providers.base import JSON, Adapter, Operation, UpstreamError
from gateway.providers.common import require_env
from gateway.providers.openai import OpenAIWire

log = logging.getLogger("gateway.providers.azure_openai")

# Data-plane inference facts, from the Azure OpenAI REST reference
# (https://learn.microsoft.com/en-us/azure/ai-services/openai/reference):
#   POST {endpoint}/openai/deployments/{deployment-id}/chat/completions?api-version=...
#   POST {endpoint}/openai/deployments/{deployment-id}/embeddings?api-version=...
#   auth: an "api-key" header, or "Authorization: Bearer <Microsoft Entra ID token>"
#   whose scope is https://cognitiveservices.azure.com/.default
_OPERATIONS: Mapping[Operation, str] = {"chat": "chat/completions", "embeddings": "embeddings"}
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
REFRESH_MARGIN_SECONDS = 300.0
"""a cached token is replaced this long before it expires"""


class EntraToken:
    """One cached bearer token for :data:`ENTRA_SCOPE`, refreshed before it expires."""

    def __init__(
        self,
        credential: AsyncTokenCredential,
        *,
        clock: Callable[[], float] = time.time,
        margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._credential = credential
        self._clock = clock
        self._margin = margin
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._expires_on - self._margin

    async def get(self) -> str:
        if not self._fresh():
            async with self._lock:  # one refresh for many concurrent requests
                if not self._fresh():
                    await self._refresh()
        assert self._token is not None
        return self._token

    async def _refresh(self) -> None:
        try:
            access = await self._credential.get_token(ENTRA_SCOPE)
        except Exception as exc:
            raise UpstreamError(
                502,
                f"cannot obtain a Microsoft Entra token for Azure OpenAI: {exc}",
                code="upstream_auth_failed",
                retryable=True,
            ) from None
        self._token, self._expires_on = access.token, float(access.expires_on)

    async def aclose(self) -> None:
        await self._credential.close()


class AzureOpenAIAdapter(OpenAIWire):
    provider = "azure_openai"

    def __init__(
        self,
        endpoint: str,
        deployment: str,
        api_version: str,
        *,
        api_key: str | None = None,
        token: EntraToken | None = None,
    ) -> None:
        if (api_key is None) == (token is None):
            raise ValueError("exactly one of api_key and token is needed")
        base = f"{endpoint.rstrip('/')}/openai/deployments/{quote(deployment, safe='')}"
        version = quote(api_version, safe="")
        super().__init__(
            {op: f"{base}/{path}?api-version={version}" for op, path in _OPERATIONS.items()},
            {} if api_key is None else {"api-key": api_key},
        )
        self._token = token

    async def auth_headers(self) -> dict[str, str]:
        if self._token is None:
            return self._headers
        return {**self._headers, "authorization": f"Bearer {await self._token.get()}"}

    def prepare(self, body: JSON) -> JSON:
        return {k: v for k, v in body.items() if k != "model"}

    async def aclose(self) -> None:
        if self._token is not None:
            await self._token.aclose()


def managed_identity_credential(
    deployment: AzureOpenAIDeployment, environ: Mapping[str, str]
) -> AsyncTokenCredential:
    """Workload identity when AKS projects a federated token, else the managed identity.

    azure-core's default async transport needs aiohttp; without it the requests-based
    asyncio transport that azure-core ships is used.
    """
    from azure.identity.aio import ManagedIdentityCredential, WorkloadIdentityCredential

    kwargs: dict[str, Any] = {}
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        from azure.core.pipeline.transport import AsyncioRequestsTransport

        kwargs["transport"] = AsyncioRequestsTransport()
    client_id = deployment.managed_identity_client_id or environ.get("AZURE_CLIENT_ID")
    token_file = environ.get("AZURE_FEDERATED_TOKEN_FILE")
    credential: AsyncTokenCredential
    if token_file:
        credential = WorkloadIdentityCredential(
            tenant_id=environ.get("AZURE_TENANT_ID"),
            client_id=client_id,
            token_file_path=token_file,
            **kwargs,
        )
    else:
        credential = ManagedIdentityCredential(client_id=client_id, **kwargs)
    return credential


def create(
    deployment: Any,
    environ: Mapping[str, str],
    *,
    credential: AsyncTokenCredential | None = None,
) -> Adapter:
    """``credential`` overrides the managed identity (tests, or a custom chain)."""
    if not isinstance(deployment, AzureOpenAIDeployment):
        raise TypeError(f"expected an AzureOpenAIDeployment, got {type(deployment).__name__}")
    common = (str(deployment.endpoint), deployment.deployment, deployment.api_version)
    if deployment.auth == "api_key":
        assert deployment.api_key_env is not None  # guaranteed by the config model
        return AzureOpenAIAdapter(*common, api_key=require_env(environ, deployment.api_key_env))
    credential = credential or managed_identity_credential(deployment, environ)
    return AzureOpenAIAdapter(*common, token=EntraToken(credential))
