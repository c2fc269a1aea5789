"""Reading the ``Authorization: Bearer`` credential, the only place credentials come from."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.errors import unauthorized


def bearer_token(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("missing credential: send 'Authorization: Bearer <key or token>'")
    return token
