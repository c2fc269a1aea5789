"""The refusals of the rate limiter, in the gateway's OpenAI-style error shape."""

from __future__ import annotations

from gateway.errors import GatewayError
from gateway.limits.gcra import RateDecision
from gateway.limits.headers import format_duration, rate_limit_headers


class RateLimitExceeded(GatewayError):
    """429 ``rate_limit_exceeded``: a key or team limit has no room for this request."""

    def __init__(self, decision: RateDecision) -> None:
        self.decision = decision
        super().__init__(
            429,
            _message(decision),
            type=_error_type(decision),
            code="rate_limit_exceeded",
            headers=rate_limit_headers(decision),
        )


class RateLimiterUnavailable(GatewayError):
    """503 ``rate_limiter_unavailable``: the store is unreachable and limits fail closed."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            503,
            "the rate limiter's store cannot be reached, so the request is refused "
            f"(limits.on_store_error is 'fail_closed'): {detail}",
            type="server_error",
            code="rate_limiter_unavailable",
        )


def _error_type(decision: RateDecision) -> str:
    """OpenAI names the exhausted dimension in ``type``: ``requests`` or ``tokens``."""
    refusing = decision.refusing()
    return refusing[0].quota.dimension if refusing else "requests"


def _message(decision: RateDecision) -> str:
    parts = []
    for state in decision.refusing():
        if state.retry_after is None:
            parts.append(
                f"{state.quota.describe()} with a burst of at most {state.quota.burst}, and "
                f"this request needs {state.cost}, so it can never fit: lower max_tokens "
                "or shorten the prompt, or ask for a higher limit"
            )
        else:
            parts.append(f"{state.quota.describe()}; retry in {format_duration(state.retry_after)}")
    return "rate limit exceeded: " + "; ".join(parts)
