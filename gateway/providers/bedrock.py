"""The ``bedrock`` provider: Amazon Bedrock Converse and ConverseStream, signed with SigV4.

* ``POST {endpoint}/model/{model id}/converse`` and ``.../converse-stream``; the model id
  (a model, inference-profile or ARN) is percent-encoded as one path segment, as botocore
  does. The endpoint is ``deployment.endpoint_url`` or the public regional endpoint.
* Requests are signed with botocore's ``SigV4Auth`` (service ``bedrock``, the deployment's
  region) using credentials from botocore's default chain: environment, shared config and
  SSO, web identity (EKS IRSA), container and instance roles. Refreshable credentials are
  frozen per request, refreshed off the event loop when they near expiry.
* Translation lives in ``_bedrock_converse`` (request and response) and ``_bedrock_stream``
  (event-stream decoding).
* Embeddings are not served by Converse: an embeddings request is refused with a 400.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import botocore.session
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from gateway.config import BedrockDeployment, ConfigError
from gateway.providers._bedrock_converse import (
    PROVIDER,
    converse_request,
    converse_response,
    error_message,
)
from gateway.providers._bedrock_stream import ConverseStreamTranslator
from gateway.providers.base import JSON, Operation, UpstreamError, UpstreamRequest
from gateway.providers.openai_shapes import (
    new_completion_id,
    parse_json_object,
    upstream_error,
)

# The public Bedrock Runtime endpoint of a region.
# https://docs.aws.amazon.com/general/latest/gr/bedrock.html
PUBLIC_ENDPOINT = "https://bedrock-runtime.{region}.amazonaws.com"
SIGNING_SERVICE = "bedrock"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")

CredentialSource = Callable[[], Any]
"""Returns botocore ``Credentials`` (possibly refreshable), or ``None`` when none exist."""


def _credentials_unavailable(detail: str) -> UpstreamError:
    # Retryable so that the router falls back to another deployment.
    return UpstreamError(
        status=503,
        message=f"no usable AWS credentials for Bedrock: {detail}",
        type="server_error",
        code="aws_credentials_unavailable",
        retryable=True,
    )


def _error_code(headers: Mapping[str, str], body: bytes) -> str | None:
    """Bedrock's error name, from ``x-amzn-ErrorType`` (``Name:namespace``) or ``__type``."""
    for key, value in headers.items():
        if key.lower() == "x-amzn-errortype" and value:
            return value.split(":", 1)[0]
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    kind = data.get("__type") if isinstance(data, dict) else None
    return kind.rsplit("#", 1)[-1] if isinstance(kind, str) and kind else None


class BedrockAdapter:
    """Adapter for one Bedrock deployment (one model id in one region)."""

    provider = PROVIDER

    def __init__(self, deployment: BedrockDeployment, credentials: CredentialSource) -> None:
        if not _REGION.fullmatch(deployment.region):
            raise ConfigError(
                f"bedrock deployment {deployment.model!r}: region: got {deployment.region!r}; "
                "expected an AWS region name such as 'eu-central-1'"
            )
        self.model = deployment.model
        self.region = deployment.region
        endpoint = (
            str(deployment.endpoint_url).rstrip("/")
            if deployment.endpoint_url is not None
            else PUBLIC_ENDPOINT.format(region=deployment.region)
        )
        self._model_url = f"{endpoint}/model/{quote(deployment.model, safe='')}"
        self._source = credentials
        self._credentials: Any = None
        self._resolving = asyncio.Lock()

    async def _frozen_credentials(self) -> Any:
        """This request's credentials; resolving or refreshing them may do network I/O."""
        try:
            credentials = self._credentials
            if credentials is None:
                async with self._resolving:
                    if self._credentials is None:
                        self._credentials = await asyncio.to_thread(self._source)
                    credentials = self._credentials
            if credentials is None:
                raise _credentials_unavailable("botocore's default credential chain found none")
            if isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed():
                return await asyncio.to_thread(credentials.get_frozen_credentials)
            return credentials.get_frozen_credentials()
        except (BotoCoreError, ClientError) as exc:
            raise _credentials_unavailable(str(exc)) from exc

    async def build_request(self, op: Operation, body: JSON, *, stream: bool) -> UpstreamRequest:
        if op != "chat":
            raise UpstreamError(
                status=400,
                message=f"model {body.get('model')!r} is served by Bedrock Converse, "
                f"which does not provide {op}",
                type="invalid_request_error",
                code="unsupported_operation",
            )
        payload = orjson.dumps(converse_request(body))
        url = f"{self._model_url}/{'converse-stream' if stream else 'converse'}"
        request = AWSRequest(
            method="POST", url=url, data=payload, headers={"Content-Type": "application/json"}
        )
        credentials = await self._frozen_credentials()
        SigV4Auth(credentials, SIGNING_SERVICE, self.region).add_auth(request)
        headers = {str(name): str(value) for name, value in request.headers.items()}
        return UpstreamRequest(method="POST", url=url, headers=headers, body=payload)

    def translate_response(self, op: Operation, status: int, body: bytes) -> JSON:
        data = parse_json_object(PROVIDER, body)
        return converse_response(data, model=self.model, completion_id=new_completion_id())

    def stream_translator(self, model_alias: str) -> ConverseStreamTranslator:
        return ConverseStreamTranslator(model_alias)

    def translate_error(self, status: int, headers: dict[str, str], body: bytes) -> UpstreamError:
        message = error_message(body) or f"Bedrock answered HTTP {status}"
        return upstream_error(status, message, code=_error_code(headers, body), headers=headers)


def create(deployment: BedrockDeployment, environ: Mapping[str, str]) -> BedrockAdapter:
    """The adapter for ``deployment``, with credentials from botocore's default chain.

    botocore reads its own environment variables (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``,
    ``AWS_WEB_IDENTITY_TOKEN_FILE``, ...) from the process environment, not from
    ``environ``. Credentials are resolved at the first request, not here, so start-up never
    waits on the instance metadata service.
    """
    del environ
    return BedrockAdapter(deployment, botocore.session.Session().get_credentials)
