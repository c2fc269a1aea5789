"""Authentication: one bearer credential becomes an :class:`~gateway.context.Identity`.

``gth_...`` tokens are API keys (:mod:`gateway.auth.api_keys`); anything shaped like a JWT
goes to the OIDC verifier (:mod:`gateway.auth.oidc`) when issuers are configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gateway.auth.api_keys import KeyCache, looks_like_key
from gateway.auth.bearer import bearer_token
from gateway.context import Identity
from gateway.errors import unauthorized


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Identity: ...


class Authenticator:
    def __init__(self, keys: KeyCache | None, tokens: TokenVerifier | None) -> None:
        self._keys = keys
        self._tokens = tokens

    async def authenticate(self, headers: Mapping[str, str]) -> Identity:
        token = bearer_token(headers)
        if looks_like_key(token):
            if self._keys is None:
                raise unauthorized("API keys are not accepted by this gateway")
            return self._keys.authenticate(token)
        if token.count(".") == 2:
            if self._tokens is None:
                raise unauthorized("OIDC tokens are not accepted by this gateway")
            return await self._tokens.verify(token)
        raise unauthorized("invalid credential: neither an API key nor a JWT")
