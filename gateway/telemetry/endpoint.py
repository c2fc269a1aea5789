"""``GET /metrics``: the app's registry in Prometheus text format, for authorised scrapers.

Metrics name teams, models and spend, so they are not public by default. A scraper sends
``Authorization: Bearer <token>`` with the metrics token (``telemetry.metrics.token_env``,
default ``GATEHOUSE_METRICS_TOKEN``) or the admin key; anything else gets 401. With neither
secret set the endpoint answers 404, like the disabled admin API. Only
``telemetry.metrics.allow_unauthenticated: true`` serves it to anyone.

The registry is created here, per app, with the process and platform collectors; nothing is
registered on prometheus_client's global default registry.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from gateway.asgi import Request, Response
from gateway.auth.admin import MIN_ADMIN_KEY_LENGTH
from gateway.auth.bearer import bearer_token
from gateway.config import ConfigError
from gateway.context import RequestContext
from gateway.errors import not_found, unauthorized
from gateway.telemetry.config import MetricsAccess

METRICS_PATH = "/metrics"


def new_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class MetricsEndpoint:
    """Serves ``registry``; see the module docstring for who may read it."""

    def __init__(
        self,
        access: MetricsAccess,
        environ: Mapping[str, str],
        *,
        admin_key_env: str,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else new_registry()
        self._public = access.allow_unauthenticated
        self._token_env = access.token_env
        token = environ.get(access.token_env, "")
        if token and len(token) < MIN_ADMIN_KEY_LENGTH:
            raise ConfigError(
                f"environment variable {access.token_env}: got a token of {len(token)} "
                f"characters; expected at least {MIN_ADMIN_KEY_LENGTH} "
                "(e.g. `openssl rand -hex 32`)"
            )
        secrets = (token, environ.get(admin_key_env, ""))
        self._digests = tuple(_digest(s) for s in secrets if s)

    def authorise(self, headers: Mapping[str, str]) -> None:
        if self._public:
            return
        if not self._digests:
            raise not_found(
                f"GET {METRICS_PATH} is disabled: set {self._token_env} (or the admin key) and "
                "scrape with 'Authorization: Bearer <token>'",
                code="metrics_disabled",
            )
        presented = _digest(bearer_token(headers))
        # compare with every secret, so timing does not tell which one matched
        matches = [hmac.compare_digest(presented, d) for d in self._digests]
        if not any(matches):
            raise unauthorized("invalid metrics token")

    async def serve(self, request: Request, ctx: RequestContext) -> Response:
        self.authorise(request.headers)
        # the Prometheus text format, or OpenMetrics when the scraper asks for it
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(200, encode(self.registry), [(b"content-type", content_type.encode())])
