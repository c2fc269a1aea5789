"""Every rejection is an OpenAI-style error and makes no upstream call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.fakes.openai import FakeOpenAI

Fake = tuple[FakeOpenAI, str]
CHAT = "/v1/chat/completions"
GOOD = {"model": "chat-eu", "messages": [{"role": "user", "content": "hi"}]}


def assert_refused(
    response: httpx.Response, status: int, code: str, fake: FakeOpenAI
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == code
    assert error["message"]
    assert fake.calls == 0, "a refused request must not reach the upstream"
    return error


def test_no_credential(gateway: Gateway, fake_openai: Fake) -> None:
    response = gateway.post(CHAT, None, json=GOOD)
    assert_refused(response, 401, "invalid_api_key", fake_openai[0])
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "credential",
    [
        "Bearer gth_0123456789abcdef_notarealsecret",
        "Bearer gth_short",
        "Bearer sk-not-ours",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b.c",
    ],
)
def test_bad_credential(gateway: Gateway, fake_openai: Fake, credential: str) -> None:
    gateway.create_key()
    response = gateway.post(CHAT, None, json=GOOD, headers={"authorization": credential})
    assert_refused(response, 401, "invalid_api_key", fake_openai[0])


def test_a_real_key_with_a_wrong_secret(gateway: Gateway, fake_openai: Fake) -> None:
    key = gateway.create_key()
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert_refused(gateway.post(CHAT, forged, json=GOOD), 401, "invalid_api_key", fake_openai[0])


def test_unknown_model(gateway: Gateway, fake_openai: Fake) -> None:
    response = gateway.post(CHAT, gateway.create_key(), json={**GOOD, "model": "gpt-9"})
    error = assert_refused(response, 404, "model_not_found", fake_openai[0])
    assert "gpt-9" in error["message"]


def test_model_not_allowed(gateway: Gateway, fake_openai: Fake) -> None:
    key = gateway.create_key(models=["embed-eu"])
    assert_refused(gateway.post(CHAT, key, json=GOOD), 403, "model_not_allowed", fake_openai[0])


def test_jurisdiction_not_allowed(gateway: Gateway, fake_openai: Fake) -> None:
    key = gateway.create_key(jurisdictions=["us"])
    error = assert_refused(
        gateway.post(CHAT, key, json=GOOD), 403, "residency_violation", fake_openai[0]
    )
    assert "(us; from the key)" in error["message"]
    assert "served in: eu" in error["message"]


def test_malformed_json(gateway: Gateway, fake_openai: Fake) -> None:
    response = gateway.post(
        CHAT,
        gateway.create_key(),
        content=b'{"model": "chat-eu", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert_refused(response, 400, "invalid_json", fake_openai[0])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": 7, "messages": GOOD["messages"]}, "model"),
        ({"model": "chat-eu"}, "messages"),
        ({"model": "chat-eu", "messages": "hi"}, "messages"),
        ({"model": "chat-eu", "messages": []}, "messages"),
        ({**GOOD, "stream": "yes"}, "stream"),
        ({**GOOD, "temperature": "hot"}, "temperature"),
        ({**GOOD, "max_tokens": 1.5}, "max_tokens"),
        ({**GOOD, "max_tokens": True}, "max_tokens"),
        ({**GOOD, "tools": {"type": "function"}}, "tools"),
        ({"model": "chat-eu", "messages": [{"content": "no role"}]}, "messages[0].role"),
        ({"model": "chat-eu", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"model": "chat-eu", "messages": [{"role": "user", "content": [{"text": "x"}]}]},
            "messages[0].content[0]",
        ),
    ],
)
def test_wrong_field_is_named(
    gateway: Gateway, fake_openai: Fake, body: dict[str, Any], param: str
) -> None:
    response = gateway.post(CHAT, gateway.create_key(), json=body)
    error = response.json()["error"]
    assert response.status_code == 400, response.text
    assert error["param"] == param
    assert param in error["message"]
    assert fake_openai[0].calls == 0


def test_wrong_embeddings_field(gateway: Gateway, fake_openai: Fake) -> None:
    response = gateway.post(
        "/v1/embeddings", gateway.create_key(), json={"model": "embed-eu", "input": 3}
    )
    assert response.json()["error"]["param"] == "input"
    assert_refused(response, 400, "invalid_value", fake_openai[0])


def test_body_over_the_default_limit(gateway: Gateway, fake_openai: Fake) -> None:
    big = "x" * (4 * 1024 * 1024)
    body = {"model": "chat-eu", "messages": [{"role": "user", "content": big}]}
    assert_refused(
        gateway.post(CHAT, gateway.create_key(), json=body),
        413,
        "request_too_large",
        fake_openai[0],
    )


def test_body_over_the_limit_without_content_length(gateway: Gateway, fake_openai: Fake) -> None:
    def chunks() -> Any:
        yield b'{"model": "chat-eu", "messages": [{"role": "user", "content": "'
        for _ in range(5):
            yield b"y" * (1024 * 1024)
        yield b'"}]}'

    response = gateway.post(
        CHAT,
        gateway.create_key(),
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_refused(response, 413, "request_too_large", fake_openai[0])


def test_just_under_the_limit_is_accepted(gateway: Gateway, fake_openai: Fake) -> None:
    filler = "z" * (4 * 1024 * 1024 - 200)
    body = {"model": "chat-eu", "messages": [{"role": "user", "content": filler}]}
    response = gateway.post(CHAT, gateway.create_key(), json=body)
    assert response.status_code == 200
    assert fake_openai[0].calls == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_unsupported_media_type(
    gateway: Gateway, fake_openai: Fake, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = gateway.post(
        CHAT, gateway.create_key(), content=b'{"model":"chat-eu"}', headers=headers
    )
    assert_refused(response, 415, "unsupported_media_type", fake_openai[0])


def test_json_with_charset_is_accepted(gateway: Gateway, fake_openai: Fake) -> None:
    response = gateway.post(
        CHAT,
        gateway.create_key(),
        content=b'{"model": "chat-eu", "messages": [{"role": "user", "content": "x"}]}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_unknown_path_and_wrong_method(gateway: Gateway, fake_openai: Fake) -> None:
    missing = httpx.get(f"{gateway.url}/v1/completions")
    assert_refused(missing, 404, "not_found", fake_openai[0])
    wrong = httpx.get(f"{gateway.url}{CHAT}")
    assert_refused(wrong, 405, "method_not_allowed", fake_openai[0])
    assert wrong.headers["allow"] == "POST"
