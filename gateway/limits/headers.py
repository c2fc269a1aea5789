"""Rate-limit response headers, as OpenAI sends them.

OpenAI documents ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``,
``x-ratelimit-reset-requests`` and the ``-tokens`` variants, the reset being "the time until
the rate limit resets to its initial state" written as a duration such as ``1s``, ``6m0s`` or
``12ms``: https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers .
429 answers also carry ``Retry-After`` (whole seconds, RFC 9110 section 10.2.3) and
``retry-after-ms``, which OpenAI's SDKs read before ``Retry-After``.

When a key and its team both limit a dimension, the headers describe the tighter of the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.limits.gcra import Dimension, Quota, RateDecision, standing

_NAMES: dict[Dimension, tuple[str, str, str]] = {
    dimension: (
        f"x-ratelimit-limit-{dimension}",
        f"x-ratelimit-remaining-{dimension}",
        f"x-ratelimit-reset-{dimension}",
    )
    for dimension in ("requests", "tokens")
}
"""the limit, remaining and reset header names of each dimension, in the order sent"""


def format_duration(seconds: float) -> str:
    """A duration the way OpenAI writes it: ``0s``, ``12ms``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    millis = math.ceil(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    """``x-ratelimit-*`` headers for any answer; plus ``retry-after`` when refused."""
    headers: dict[str, str] = {}
    tightest = decision.tightest()
    for dimension, names in _NAMES.items():
        state = tightest.get(dimension)
        if state is not None:
            _describe(headers, names, state.quota, state.remaining, state.reset_after)
    if not decision.allowed:
        wait = decision.retry_after
        if wait is not None:
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
    return headers


HeaderLayout = tuple[tuple[tuple[str, str, str], int, tuple[int, ...]], ...]
"""per dimension with a quota, in the order sent: its header names, the index of its first
quota and those of its other quotas"""


def header_layout(quotas: Sequence[Quota]) -> HeaderLayout:
    """Which of ``quotas`` compete for each dimension's headers; derived once per quota set."""
    layout = []
    for dimension, names in _NAMES.items():
        members = [i for i, q in enumerate(quotas) if q.dimension == dimension]
        if members:
            layout.append((names, members[0], tuple(members[1:])))
    return tuple(layout)


def admitted_headers(
    quotas: Sequence[Quota], layout: HeaderLayout, after: Sequence[float], now: float
) -> dict[str, str]:
    """:func:`rate_limit_headers` of an admitted request, from the TATs after its charges.

    The same headers, without building the decision: a dimension's headers describe its
    tightest quota, the one with least remaining, then longest reset, the first on a tie.
    """
    headers: dict[str, str] = {}
    for names, tightest, others in layout:
        left, reset_after = standing(quotas[tightest], after[tightest], now)
        for i in others:
            other_left, other_reset = standing(quotas[i], after[i], now)
            if other_left < left or (other_left == left and other_reset > reset_after):
                tightest, left, reset_after = i, other_left, other_reset
        _describe(headers, names, quotas[tightest], left, reset_after)
    return headers


def _describe(
    headers: dict[str, str],
    names: tuple[str, str, str],
    quota: Quota,
    remaining: int,
    reset_after: float,
) -> None:
    """Add the limit, remaining and reset headers of one dimension's tightest quota."""
    limit, left, reset = names
    headers[limit] = str(quota.limit)
    headers[left] = str(remaining)
    headers[reset] = format_duration(reset_after)
