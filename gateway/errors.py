"""Errors the gateway answers with, in OpenAI's error shape.

Every refusal is a :class:`GatewayError`; one handler (:mod:`gateway.middleware`) turns it
into ``{"error": {"message", "type", "code", "param"}}`` with its HTTP status. The helpers
below are the whole vocabulary, so the same condition always reads the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from gateway.providers.base import UpstreamError


class GatewayError(Exception):
    """A request the gateway refuses or cannot complete."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def payload(self) -> dict[str, dict[str, str | None]]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }

    def body(self) -> bytes:
        return orjson.dumps(self.payload())

    def __repr__(self) -> str:
        return f"GatewayError({self.status}, {self.code!r}, {self.message!r})"


def unauthorized(message: str) -> GatewayError:
    return GatewayError(
        401,
        message,
        code="invalid_api_key",
        headers={"www-authenticate": 'Bearer realm="gatehouse"'},
    )


def forbidden(message: str, code: str) -> GatewayError:
    return GatewayError(403, message, type="permission_error", code=code)


def not_found(message: str, code: str = "not_found") -> GatewayError:
    return GatewayError(404, message, code=code)


def bad_request(
    message: str, param: str | None = None, code: str = "invalid_value"
) -> GatewayError:
    return GatewayError(400, message, code=code, param=param)


def too_large(limit: int) -> GatewayError:
    return GatewayError(
        413, f"request body exceeds the limit of {limit} bytes", code="request_too_large"
    )


def unsupported_media_type(received: str) -> GatewayError:
    return GatewayError(
        415,
        f"unsupported content type {received or '(none)'!r}; expected 'application/json'",
        code="unsupported_media_type",
    )


def method_not_allowed(method: str, allowed: str) -> GatewayError:
    return GatewayError(
        405,
        f"method {method} is not allowed here; use {allowed}",
        code="method_not_allowed",
        headers={"allow": allowed},
    )


def internal(message: str = "internal error") -> GatewayError:
    return GatewayError(500, message, type="server_error", code="internal_error")


def unavailable(message: str) -> GatewayError:
    return GatewayError(503, message, type="server_error", code="no_healthy_deployment")


def from_upstream(err: UpstreamError) -> GatewayError:
    """The client-facing form of the upstream error that ended a request.

    4xx answers pass through with the provider's message, except 401/403: those concern
    the gateway's own upstream credential, so the client gets 502 rather than being told
    its key is bad. 429 stays 429 (with Retry-After); timeouts become 504; other upstream
    failures 502.
    """
    headers: dict[str, str] = {}
    if err.retry_after is not None:
        headers["retry-after"] = str(max(0, round(err.retry_after)))
    param = err.extra.get("param")
    param = param if isinstance(param, str) else None
    if err.status in (401, 403):
        return GatewayError(
            502,
            f"the upstream rejected the gateway's credential: {err.message}",
            type="upstream_error",
            code="upstream_auth_failed",
        )
    if err.status == 429 or (400 <= err.status < 500 and not err.retryable):
        return GatewayError(
            err.status, err.message, type=err.type, code=err.code, param=param, headers=headers
        )
    status = 504 if err.code == "upstream_timeout" else 502
    return GatewayError(status, err.message, type=err.type, code=err.code, headers=headers)
