"""OIDC: discovery, JWKS caching and rotation, algorithm policy, claim checks and mapping."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.auth.oidc import OIDCVerifier, map_claims
from gateway.config import OIDCIssuer, Timeouts, UpstreamPool
from gateway.errors import GatewayError
from gateway.upstream import ClientPool
from tests.gateway.conftest import gateway_config, openai_deployment, run_gateway, sqlite_store
from tests.gateway.fakes.oidc import FakeIssuer, ec_key, rsa_key
from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.fakes.server import serve


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    fake = FakeIssuer(keys=[rsa_key(), ec_key()])
    with serve(fake) as url:
        fake.url = url
        yield fake


def issuer_config(fake: FakeIssuer, **overrides: Any) -> OIDCIssuer:
    return OIDCIssuer.model_validate(
        {
            "issuer": fake.url,
            "audience": "api://gatehouse",
            "claims": {"team": "groups", "cost_center": "costCenter", "jurisdictions": "dataZones"},
            "jwks_refetch_min_seconds": 60,
            **overrides,
        }
    )


@pytest.fixture
async def verifier(issuer: FakeIssuer) -> AsyncIterator[OIDCVerifier]:
    pool = ClientPool(Timeouts(), UpstreamPool())
    yield OIDCVerifier([issuer_config(issuer)], pool)
    await pool.aclose()


async def refused(verifier: OIDCVerifier, token: str) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await verifier.verify(token)
    assert caught.value.status == 401
    return caught.value


async def test_valid_rs256_and_es256_tokens(verifier: OIDCVerifier, issuer: FakeIssuer) -> None:
    rsa, ec = issuer.keys
    for key in (rsa, ec):
        identity = await verifier.verify(
            issuer.token(key, groups=["payments"], costCenter="CC-9", dataZones=["EU"])
        )
        assert identity.kind == "oidc" and identity.subject == "user-1"
        assert (identity.team, identity.cost_center) == ("payments", "CC-9")
        assert identity.jurisdictions == frozenset({"eu"})
        assert identity.issuer == issuer.url
    assert (issuer.discovery_fetches, issuer.jwks_fetches) == (1, 1)  # cached


async def test_expired_token(verifier: OIDCVerifier, issuer: FakeIssuer) -> None:
    error = await refused(verifier, issuer.token(issuer.keys[0], lifetime=-120))
    assert "expired" in error.message
    # within the leeway (30 s) a just-expired token still passes: clocks drift
    assert (await verifier.verify(issuer.token(issuer.keys[0], lifetime=-5))).subject == "user-1"


async def test_not_yet_valid_token(verifier: OIDCVerifier, issuer: FakeIssuer) -> None:
    error = await refused(verifier, issuer.token(issuer.keys[0], nbf=int(time.time()) + 600))
    assert "not valid yet" in error.message


async def test_wrong_audience(verifier: OIDCVerifier, issuer: FakeIssuer) -> None:
    error = await refused(verifier, issuer.token(issuer.keys[0], audience="api://someone-else"))
    assert "aud" in error.message


async def test_missing_exp_is_refused(verifier: OIDCVerifier, issuer: FakeIssuer) -> None:
    import jwt

    token = jwt.encode(
        {"iss": issuer.url, "aud": "api://gatehouse", "sub": "u"},
        issuer.keys[0].private,
        algorithm="RS256",
        headers={"kid": issuer.keys[0].kid},
    )
    await refused(verifier, token)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


async def test_alg_none_is_refused(verifier: OIDCVerifier, issuer: FakeIssuer) -> None:
    claims = {
        "iss": issuer.url,
        "aud": "api://gatehouse",
        "sub": "attacker",
        "exp": int(time.time()) + 300,
    }
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    error = await refused(verifier, token)
    assert "'none' is not accepted" in error.message
    assert issuer.jwks_fetches == 0  # refused before any key lookup


async def test_hs256_with_the_public_key_as_secret_is_refused(
    verifier: OIDCVerifier, issuer: FakeIssuer
) -> None:
    import hashlib
    import hmac

    public_pem = (
        issuer.keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    claims = {
        "iss": issuer.url,
        "aud": "api://gatehouse",
        "sub": "attacker",
        "exp": int(time.time()) + 300,
    }
    signing_input = f"{_b64({'alg': 'HS256', 'kid': issuer.keys[0].kid})}.{_b64(claims)}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    error = await refused(verifier, token)
    assert "'HS256' is not accepted" in error.message


async def test_unknown_kid_then_rotation(verifier: OIDCVerifier, issuer: FakeIssuer) -> None:
    old = issuer.keys[0]
    assert (await verifier.verify(issuer.token(old))).subject == "user-1"
    assert issuer.jwks_fetches == 1
    new = rsa_key()
    issuer.keys = [new]  # the issuer rotates its signing key
    identity = await verifier.verify(issuer.token(new, sub="user-2"))
    assert identity.subject == "user-2"
    assert issuer.jwks_fetches == 2  # refetched once for the unknown kid
    # the old key is gone from the refreshed set
    error = await refused(verifier, issuer.token(old))
    assert "unknown key" in error.message
    # random kids cannot make the gateway hammer the issuer: one refetch per interval
    for i in range(5):
        await refused(verifier, issuer.token(new, kid=f"random-{i}"))
    assert issuer.jwks_fetches == 2


async def test_untrusted_issuer(verifier: OIDCVerifier, issuer: FakeIssuer) -> None:
    import jwt

    key = issuer.keys[0]
    token = jwt.encode(
        {
            "iss": "https://evil.example.com",
            "aud": "api://gatehouse",
            "sub": "u",
            "exp": int(time.time()) + 60,
        },
        key.private,
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    error = await refused(verifier, token)
    assert "not trusted" in error.message


async def test_jwk_alg_must_match_the_token(issuer: FakeIssuer) -> None:
    key = rsa_key("RS256")
    issuer.keys = [key]
    pool = ClientPool(Timeouts(), UpstreamPool())
    verifier = OIDCVerifier([issuer_config(issuer)], pool)
    import jwt

    token = jwt.encode(
        {"iss": issuer.url, "aud": "api://gatehouse", "sub": "u", "exp": int(time.time()) + 60},
        key.private,
        algorithm="PS256",
        headers={"kid": key.kid},
    )
    error = await refused(verifier, token)
    assert "for RS256" in error.message
    await pool.aclose()


async def test_discovery_must_name_the_same_issuer(issuer: FakeIssuer) -> None:
    issuer.discovery_overrides = {"issuer": "https://other.example.com"}
    pool = ClientPool(Timeouts(), UpstreamPool())
    verifier = OIDCVerifier([issuer_config(issuer)], pool)
    with pytest.raises(GatewayError) as caught:
        await verifier.verify(issuer.token(issuer.keys[0]))
    assert caught.value.status == 503
    await pool.aclose()


async def test_discovered_jwks_uri_must_be_https_unless_loopback(issuer: FakeIssuer) -> None:
    issuer.discovery_overrides = {"jwks_uri": "http://keys.example.com/jwks"}
    pool = ClientPool(Timeouts(), UpstreamPool())
    verifier = OIDCVerifier([issuer_config(issuer)], pool)
    with pytest.raises(GatewayError) as caught:
        await verifier.verify(issuer.token(issuer.keys[0]))
    assert caught.value.status == 503
    assert "https" in caught.value.message
    assert issuer.jwks_fetches == 0
    await pool.aclose()


def test_claims_mapping_for_entra_and_okta_groups() -> None:
    config = OIDCIssuer.model_validate(
        {
            "issuer": "https://login.example.com/t/v2.0",
            "audience": "api://gatehouse",
            "claims": {
                "team": "groups",
                "cost_center": "costCenter",
                "jurisdictions": "dataZones",
                "models": "models",
            },
            "teams": ["payments", "risk"],
        }
    )
    claims = {
        "sub": "s",
        "groups": ["all-staff", "risk", "payments"],
        "costCenter": 1001,
        "dataZones": "eu ch",
        "models": "chat-eu,embed-eu",
    }
    identity = map_claims(claims, config)
    assert identity.team == "risk"  # the first group that is a configured team
    assert identity.cost_center == "1001"
    assert identity.jurisdictions == frozenset({"eu", "ch"})
    assert identity.models == frozenset({"chat-eu", "embed-eu"})
    unlisted = map_claims({**claims, "groups": ["all-staff"]}, config)
    assert unlisted.team is None
    no_zones = map_claims({"sub": "s", "groups": "payments"}, config)
    assert (
        no_zones.team == "payments" and no_zones.jurisdictions is None and no_zones.models is None
    )
    without_allowlist = OIDCIssuer.model_validate({**config.model_dump(), "teams": None})
    assert map_claims(claims, without_allowlist).team == "all-staff"


def test_oidc_end_to_end_with_claimed_jurisdictions(issuer: FakeIssuer, tmp_path: Path) -> None:
    upstream = FakeOpenAI()
    with serve(upstream) as url:
        config = gateway_config(
            sqlite_store(tmp_path),
            {
                "chat": [openai_deployment(f"{url}/v1", "eu")],
                "chat-us": [openai_deployment(f"{url}/v1", "us")],
            },
            auth={
                "api_keys": False,
                "oidc": [
                    {
                        "issuer": issuer.url,
                        "audience": "api://gatehouse",
                        "claims": {"team": "groups", "jurisdictions": "dataZones"},
                    }
                ],
            },
        )
        with run_gateway(config) as gw:
            body = {"model": "chat-us", "messages": [{"role": "user", "content": "hi"}]}
            eu_token = issuer.token(issuer.keys[0], groups=["payments"])
            refused = gw.post("/v1/chat/completions", eu_token, json=body)
            assert refused.status_code == 403
            assert "from the default" in refused.json()["error"]["message"]
            us_token = issuer.token(issuer.keys[0], groups=["payments"], dataZones=["us"])
            assert gw.post("/v1/chat/completions", us_token, json=body).status_code == 200
            assert [m.id for m in gw.client(us_token).models.list()] == ["chat-us"]
            expired = issuer.token(issuer.keys[0], lifetime=-600)
            assert gw.post("/v1/chat/completions", expired, json=body).status_code == 401
            key_like = gw.post("/v1/chat/completions", "gth_0123456789abcdef_x", json=body)
            assert key_like.status_code == 401
            assert "API keys are not accepted" in key_like.json()["error"]["message"]
        assert upstream.calls == 1
