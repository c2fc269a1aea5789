"""The limits configuration: secure defaults and validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.limits import LimitsConfig, RateLimit, create_rate_limiter


def test_defaults_are_fail_closed_and_single_replica() -> None:
    cfg = LimitsConfig()
    assert cfg.on_store_error == "fail_closed"
    assert cfg.backend == "memory"
    assert cfg.enabled


def test_lookup_prefers_the_named_entry_over_the_default() -> None:
    cfg = LimitsConfig(
        default_key=RateLimit(rpm=1), keys={"k1": RateLimit(rpm=5)}, teams={"t": RateLimit()}
    )
    assert cfg.for_key("k1").rpm == 5
    assert cfg.for_key("other").rpm == 1
    assert cfg.for_team("t").rpm is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"default_key": {"rpm": 0}}, "rpm"),
        ({"teams": {"t": {"tpm": -5}}}, "tpm"),
        ({"on_store_error": "fail_open_unsafe"}, "on_store_error"),
        ({"burst_seconds": 0}, "burst_seconds"),
        ({"default_key": {"rmp": 5}}, "rmp"),
    ],
)
def test_invalid_values_are_refused(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        LimitsConfig.model_validate(data)
    assert field in str(info.value)


def test_redis_backend_needs_a_client() -> None:
    with pytest.raises(ValueError, match="no Redis client was given"):
        create_rate_limiter(LimitsConfig(backend="redis"))
