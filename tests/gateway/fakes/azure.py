"""A fake Azure OpenAI resource: the deployments path, ``api-version`` and auth are checked.

Requests with a wrong ``api-version`` get Azure's 404 ``DeploymentNotFound``-style refusal
and a missing or wrong ``api-key`` / Entra bearer token gets 401, before anything else.
"""

from __future__ import annotations

from typing import Any

from tests.gateway.fakes.openai import FakeOpenAI, Recorded


class FakeAzureOpenAI(FakeOpenAI):
    def __init__(
        self,
        *,
        deployment: str = "gpt-4o",
        api_version: str = "2024-10-21",
        api_key: str | None = None,
        tokens: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(name="azure", base_path=f"/openai/deployments/{deployment}")
        self.api_version = api_version
        self.api_key = api_key
        self.tokens = tokens

    def reject(self, recorded: Recorded) -> tuple[int, Any] | None:
        version = recorded.query.get("api-version")
        if version != [self.api_version]:
            message = f"Resource not found (api-version {version})"
            return 404, {"error": {"code": "404", "message": message}}
        key = recorded.headers.get("api-key")
        bearer = recorded.headers.get("authorization", "")
        if key is not None and key == self.api_key:
            return None
        if bearer.startswith("Bearer ") and bearer.removeprefix("Bearer ") in self.tokens:
            return None
        return 401, {
            "error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint.",
            }
        }
