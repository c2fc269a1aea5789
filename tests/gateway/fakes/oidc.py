"""A fake OpenID Connect issuer: discovery document and JWKS on loopback, keys rotatable."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any
    publish_alg: bool = True

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm = RSAAlgorithm if self.alg.startswith(("RS", "PS")) else ECAlgorithm
        data: dict[str, Any] = algorithm.to_jwk(public, as_dict=True)
        data.update({"kid": self.kid, "use": "sig"})
        if self.publish_alg:
            data["alg"] = self.alg
        return data


def rsa_key(alg: str = "RS256", *, publish_alg: bool = True) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(f"rsa-{uuid.uuid4().hex[:8]}", alg, private, publish_alg)


def ec_key() -> SigningKey:
    return SigningKey(
        f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1())
    )


@dataclass
class FakeIssuer:
    """Serve with ``tests.gateway.fakes.server.serve``; set ``url`` to the served base URL."""

    keys: list[SigningKey] = field(default_factory=list)
    url: str = ""
    jwks_fetches: int = 0
    discovery_fetches: int = 0
    discovery_overrides: dict[str, Any] = field(default_factory=dict)

    def token(
        self,
        key: SigningKey,
        *,
        audience: str = "api://gatehouse",
        lifetime: float = 300,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        now = time.time()
        payload = {
            "iss": self.url,
            "aud": audience,
            "sub": "user-1",
            "iat": int(now),
            "exp": int(now + lifetime),
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key.private, algorithm=key.alg, headers={"kid": kid or key.kid})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/.well-known/openid-configuration":
            self.discovery_fetches += 1
            body: Any = {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/keys",
                **self.discovery_overrides,
            }
        elif scope["path"] == "/keys":
            self.jwks_fetches += 1
            body = {"keys": [k.jwk() for k in self.keys]}
        else:
            body = {"error": "not found"}
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(body)})
