"""Helpers shared by provider adapters: retry classification, Retry-After, secrets, errors."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from gateway.config import ConfigError
from gateway.providers.base import UpstreamError

_MAX_MESSAGE = 2000


def is_retryable(status: int) -> bool:
    """Worth another try: request timeout, rate limiting and server-side failures."""
    return status in (408, 429) or status >= 500


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def require_env(environ: Mapping[str, str], name: str) -> str:
    """The secret held by environment variable ``name``; a start-up error when unset."""
    value = environ.get(name, "")
    if not value:
        raise ConfigError(f"api_key_env: environment variable {name} is not set or empty")
    return value


def _text(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text[:_MAX_MESSAGE] or "(empty body)"


def openai_style_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> UpstreamError:
    """An :class:`UpstreamError` from an OpenAI, Azure OpenAI or vLLM error answer.

    Understands ``{"error": {"message", "type", "code", "param"}}`` and vLLM's flat
    ``{"message", "type", "code"}``; anything else keeps the raw text as the message.
    """
    message, err_type, code, param = "", "upstream_error", None, None
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    detail = data.get("error", data) if isinstance(data, dict) else None
    if isinstance(detail, dict):
        message = str(detail.get("message") or "")
        err_type = str(detail.get("type") or err_type)
        raw_code = detail.get("code")
        code = None if raw_code is None else str(raw_code)
        raw_param = detail.get("param")
        param = raw_param if isinstance(raw_param, str) else None
    elif isinstance(detail, str):
        message = detail
    return UpstreamError(
        status=status,
        message=(message or _text(body))[:_MAX_MESSAGE],
        type=err_type,
        code=code,
        retryable=is_retryable(status),
        retry_after=parse_retry_after(headers),
        extra={"provider": provider, "param": param},
    )
