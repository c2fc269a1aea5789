"""OIDC bearer tokens (Entra ID, Okta, Keycloak...) verified against the issuer's JWKS.

* The JWKS location comes from ``{issuer}/.well-known/openid-configuration`` (or the
  config's ``jwks_uri``); keys are cached for ``jwks_cache_seconds`` and refetched when a
  token names an unknown ``kid`` (a key rotation), at most once per
  ``jwks_refetch_min_seconds`` so random kids cannot hammer the issuer.
* Only asymmetric algorithms are accepted (RS*, PS*, ES*, EdDSA); ``none`` and HS* are
  refused before any key is looked up. ``iss``, ``aud``, ``exp`` and ``nbf`` are checked
  with a small leeway; ``exp`` is required.
* Issuer and JWKS URLs must be https unless the host is loopback (checked in the config
  and again for discovered URLs).
* Claims map to the identity as configured: ``team`` may be a list (Entra/Okta
  ``groups``), in which case the first entry found in ``teams`` wins, else the first entry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson

from gateway.config import ASYMMETRIC_ALGORITHMS, OIDCIssuer, require_https_unless_loopback
from gateway.context import Identity
from gateway.errors import GatewayError, unauthorized
from gateway.upstream import ClientPool

log = logging.getLogger("gateway.auth.oidc")

_DISCOVERY = "/.well-known/openid-configuration"


def _provider_unavailable(issuer: str, detail: str) -> GatewayError:
    return GatewayError(
        503,
        f"cannot fetch the signing keys of {issuer}: {detail}",
        type="server_error",
        code="identity_provider_unavailable",
    )


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and str(v)]
    return []


def map_claims(claims: dict[str, Any], issuer: OIDCIssuer) -> Identity:
    """The :class:`Identity` a verified token's claims describe."""
    mapping = issuer.claims
    subject = claims.get(mapping.subject)
    if not isinstance(subject, str) or not subject:
        raise unauthorized(f"the token has no {mapping.subject!r} claim")
    team: str | None = None
    if mapping.team:
        raw_team = claims.get(mapping.team)
        if isinstance(raw_team, list):
            entries = [str(v) for v in raw_team]
            if issuer.teams is not None:
                team = next((e for e in entries if e in issuer.teams), None)
            else:
                team = entries[0] if entries else None
        elif raw_team is not None:
            team = str(raw_team)
    cost_center = claims.get(mapping.cost_center) if mapping.cost_center else None
    jurisdictions = _as_list(claims.get(mapping.jurisdictions)) if mapping.jurisdictions else []
    models = claims.get(mapping.models) if mapping.models else None
    return Identity(
        kind="oidc",
        subject=subject,
        team=team,
        cost_center=None if cost_center is None else str(cost_center),
        jurisdictions=frozenset(j.lower() for j in jurisdictions) or None,
        models=None if models is None else frozenset(_as_list(models)),
        issuer=issuer.issuer,
    )


@dataclass(frozen=True, slots=True)
class SigningKey:
    jwk: jwt.PyJWK
    alg: str | None
    """the JWK's own ``alg``, when it names one"""


class IssuerKeys:
    """The signing keys of one issuer, fetched lazily and cached."""

    def __init__(
        self,
        config: OIDCIssuer,
        pool: ClientPool,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._pool = pool
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._jwks_uri = config.jwks_uri
        self._fetched_at: float | None = None
        self._forced_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _get_json(self, url: str) -> Any:
        try:
            response = await self._pool.client_for(url).get(
                url, headers={"accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise _provider_unavailable(self.config.issuer, type(exc).__name__) from None
        if not response.is_success:
            raise _provider_unavailable(
                self.config.issuer, f"HTTP {response.status_code} from {url}"
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise _provider_unavailable(self.config.issuer, f"{url} did not return JSON") from None

    async def _discover(self) -> str:
        if self._jwks_uri is not None:
            return self._jwks_uri
        url = self.config.issuer.rstrip("/") + _DISCOVERY
        document = await self._get_json(url)
        if not isinstance(document, dict) or not isinstance(document.get("jwks_uri"), str):
            raise _provider_unavailable(self.config.issuer, f"{url} has no jwks_uri")
        if document.get("issuer") != self.config.issuer:
            raise _provider_unavailable(
                self.config.issuer,
                f"the discovery document names issuer {document.get('issuer')!r}",
            )
        jwks_uri: str = document["jwks_uri"]
        try:
            require_https_unless_loopback(jwks_uri, "a JWKS")
        except ValueError as exc:
            raise _provider_unavailable(self.config.issuer, f"jwks_uri: expected {exc}") from None
        self._jwks_uri = jwks_uri
        return jwks_uri

    async def _fetch(self) -> None:
        document = await self._get_json(await self._discover())
        raw_keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(raw_keys, list):
            raise _provider_unavailable(self.config.issuer, "the JWKS has no keys array")
        keys: dict[str, SigningKey] = {}
        for raw in raw_keys:
            if not isinstance(raw, dict) or raw.get("kty") == "oct" or raw.get("use") == "enc":
                continue  # symmetric or encryption keys never verify tokens here
            try:
                key = jwt.PyJWK(raw)
            except jwt.PyJWTError as exc:
                log.warning("skipping a JWKS key of %s: %s", self.config.issuer, exc)
                continue
            alg = raw.get("alg")
            keys[key.key_id or ""] = SigningKey(key, alg if isinstance(alg, str) else None)
        self._keys = keys
        self._fetched_at = self._clock()
        self.fetches += 1

    async def key(self, kid: str | None) -> SigningKey:
        async with self._lock:
            now = self._clock()
            stale = (
                self._fetched_at is None or now - self._fetched_at > self.config.jwks_cache_seconds
            )
            if stale:
                await self._fetch()
            found = self._find(kid)
            if found is None and not stale:
                may_refetch = (
                    self._forced_at is None
                    or now - self._forced_at >= self.config.jwks_refetch_min_seconds
                )
                if may_refetch:
                    self._forced_at = now
                    await self._fetch()
                    found = self._find(kid)
        if found is None:
            raise unauthorized("the token is signed with an unknown key")
        return found

    def _find(self, kid: str | None) -> SigningKey | None:
        if kid is not None:
            return self._keys.get(kid)
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None


_CLAIM_ERRORS: Sequence[tuple[type[jwt.PyJWTError], str]] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidAudienceError, "the token is not meant for this gateway (aud)"),
    (jwt.InvalidIssuerError, "the token's issuer does not match"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.InvalidSignatureError, "the token's signature is invalid"),
)


class OIDCVerifier:
    def __init__(
        self,
        issuers: Sequence[OIDCIssuer],
        pool: ClientPool,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuers = {i.issuer: IssuerKeys(i, pool, clock=clock) for i in issuers}

    async def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise unauthorized("malformed token") from None
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise unauthorized(
                f"token algorithm {alg!r} is not accepted; expected an asymmetric one "
                f"({', '.join(ASYMMETRIC_ALGORITHMS)})"
            )
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise unauthorized("the token's issuer is not trusted by this gateway")
        config = issuer.config
        if alg not in config.algorithms:
            raise unauthorized(f"token algorithm {alg!r} is not accepted for {config.issuer}")
        kid = header.get("kid")
        key = await issuer.key(kid if isinstance(kid, str) else None)
        if key.alg is not None and key.alg != alg:
            raise unauthorized(f"the signing key is for {key.alg}, the token says {alg}")
        try:
            claims = jwt.decode(
                token,
                key=key.jwk.key,
                algorithms=[alg],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            # ValueError/TypeError: the key type does not fit the algorithm.
            message = next((m for kind, m in _CLAIM_ERRORS if isinstance(exc, kind)), None)
            raise unauthorized(message or "invalid token") from None
        return map_claims(claims, config)
