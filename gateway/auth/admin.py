"""The bootstrap admin credential (``GATEHOUSE_ADMIN_KEY`` by default).

Unset or empty: the admin API is disabled and answers 404. A configured key shorter than
:data:`MIN_ADMIN_KEY_LENGTH` characters is refused at start-up.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from gateway.auth.bearer import bearer_token
from gateway.config import ConfigError
from gateway.errors import not_found, unauthorized

MIN_ADMIN_KEY_LENGTH = 24


class AdminGuard:
    def __init__(self, env_name: str, environ: Mapping[str, str]) -> None:
        secret = environ.get(env_name, "")
        if secret and len(secret) < MIN_ADMIN_KEY_LENGTH:
            raise ConfigError(
                f"environment variable {env_name}: got a key of {len(secret)} characters; "
                f"expected at least {MIN_ADMIN_KEY_LENGTH} (e.g. `openssl rand -hex 32`)"
            )
        self._env_name = env_name
        self._digest = hashlib.sha256(secret.encode()).digest() if secret else None

    @property
    def enabled(self) -> bool:
        return self._digest is not None

    def check(self, headers: Mapping[str, str]) -> None:
        if self._digest is None:
            raise not_found(
                f"the admin API is disabled; set {self._env_name} to enable it",
                code="admin_disabled",
            )
        token = bearer_token(headers)
        presented = hashlib.sha256(token.encode()).digest()
        if not hmac.compare_digest(presented, self._digest):
            raise unauthorized("invalid admin key")
