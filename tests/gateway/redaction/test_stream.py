"""Streamed answers: values and placeholders split across chunks are still handled."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.redaction.builtin import BuiltinDetector
from gateway.redaction.config import Mode, RedactionConfig
from gateway.redaction.engine import Redactor
from gateway.redaction.errors import PIIDetected
from gateway.redaction.session import RequestRedaction
from gateway.redaction.stream import MAX_HOLD, TAIL, ChunkRedactor, StreamBuffer

DETECTOR = BuiltinDetector()
CARD = "4111 1111 1111 1111"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSJ9"
    ".c2lnbmF0dXJlLW5vdC1yZWFsLTAxMjM0NTY3ODk"
)


def session(mode: Mode = "redact", *, reversible: bool = False) -> RequestRedaction:
    config = RedactionConfig(mode=mode, reversible=reversible, scan_responses=True)
    return Redactor(config, registry=CollectorRegistry(), detector=DETECTOR).session()


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def run(buffer: StreamBuffer, parts: list[str]) -> tuple[list[str], str]:
    released = [buffer.feed(p) for p in parts]
    released.append(buffer.close())
    return released, "".join(released)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_a_value_split_across_chunks_is_redacted(size: int) -> None:
    text = ("Some prose first. " * 20) + f"card {CARD}, mail ada@example.com, " + ("more. " * 60)
    s = session()
    released, whole = run(StreamBuffer(s, scan=True), pieces(text, size))
    assert CARD not in whole and "ada@example.com" not in whole
    assert whole == text.replace(CARD, "<CREDIT_CARD_1>").replace(
        "ada@example.com", "<EMAIL_ADDRESS_1>"
    )
    assert s.findings == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1}
    # no released piece ever contains a fragment of the values
    for piece in released:
        assert "4111" not in piece and "ada@" not in piece


def test_the_holdback_is_bounded_for_ordinary_text() -> None:
    s = session()
    buffer = StreamBuffer(s, scan=True)
    out = [buffer.feed(w + " ") for w in ("word " * 400).split()]
    released = sum(len(o) for o in out)
    assert released >= 400 * 5 - TAIL - 5  # all but the tail was released before the end


def test_a_token_longer_than_the_tail_is_held_until_it_ends() -> None:
    s = session()
    long_jwt = JWT + "x" * 600  # a signature long enough to outgrow the tail
    text = "token " + long_jwt + " done." + " pad" * 100
    released, whole = run(StreamBuffer(s, scan=True), pieces(text, 4))
    assert whole.startswith("token <JWT_1> done.")
    assert all("eyJ" not in piece for piece in released)


def test_a_private_key_block_streamed_line_by_line_is_redacted_whole() -> None:
    body = "\n".join("A" * 64 for _ in range(40))  # 2.6 KB, far beyond the tail
    key = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"
    text = f"here:\n{key}\nbye" + " pad" * 80
    released, whole = run(StreamBuffer(session(), scan=True), pieces(text, 65))
    assert whole == text.replace(key, "<PRIVATE_KEY_1>")
    assert all("AAAA" not in piece for piece in released)


def test_what_is_held_never_exceeds_the_cap() -> None:
    s = session()
    buffer = StreamBuffer(s, scan=True)
    blob = "A" * (MAX_HOLD * 2)  # one run of token characters, never ending
    out = "".join(buffer.feed(p) for p in pieces(blob, 512))
    assert len(blob) - len(out) <= MAX_HOLD + 512


def test_reversible_restores_a_placeholder_split_across_chunks() -> None:
    s = session(reversible=True)
    assert s.scan("write to ada@example.com") == "write to <EMAIL_ADDRESS_1>"
    answer = "I wrote to <EMAIL_ADDRESS_1> as asked. " + "ok " * 30
    for size in (1, 2, 3, 8):
        _, whole = run(StreamBuffer(s, scan=True), pieces(answer, size))
        assert whole == answer.replace("<EMAIL_ADDRESS_1>", "ada@example.com")


def test_restore_only_holds_back_no_more_than_a_placeholder() -> None:
    config = RedactionConfig(reversible=True)  # answers are not scanned
    s = Redactor(config, registry=CollectorRegistry(), detector=DETECTOR).session()
    s.scan("ada@example.com")
    buffer = StreamBuffer(s, scan=False)
    assert buffer.feed("x" * 100) == "x" * 60
    assert buffer.feed("<EMAIL_") == "x" * 7  # the opening of a placeholder is held
    assert buffer.feed("ADDRESS") == "x" * 7
    released = buffer.feed("_1> " + "y" * 50)
    assert released == "x" * 26 + "ada@example.com" + " " + "y" * 10
    assert buffer.close() == "y" * 40  # never more than 40 characters were held


def test_block_mode_refuses_a_streamed_value_before_any_of_it_leaves() -> None:
    s = session("block")
    buffer = StreamBuffer(s, scan=True)
    out = []
    with pytest.raises(PIIDetected) as caught:
        for p in pieces(("fine. " * 60) + f"card {CARD} " + "tail " * 80, 3):
            out.append(buffer.feed(p))
    assert "4111" not in "".join(out)
    assert caught.value.code == "pii_detected" and "CREDIT_CARD: 1" in caught.value.message


def _chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def _collect(chunks: list[dict[str, Any]]) -> tuple[str, dict[int, str]]:
    content, tools = "", dict[int, str]()
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                args = call["function"].get("arguments") or ""
                tools[call["index"]] = tools.get(call["index"], "") + args
    return content, tools


def test_chunks_content_and_tool_call_arguments_flushed_at_finish() -> None:
    s = session()
    redactor = ChunkRedactor(s, scan=True)
    text = "Reach me at ada@example.com or +49 30 12345678."
    args = '{"iban": "DE89 3704 0044 0532 0130 00", "note": "x"}'
    stream = [_chunk({"role": "assistant", "content": ""})]
    stream += [_chunk({"content": p}) for p in pieces(text, 3)]
    stream.append(
        _chunk(
            {"tool_calls": [{"index": 0, "id": "t", "function": {"name": "pay", "arguments": ""}}]}
        )
    )
    stream += [
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
        for p in pieces(args, 4)
    ]
    stream.append(_chunk({}, finish="tool_calls"))
    out = [redactor.transform(c) for c in stream]
    assert redactor.finish() == []  # everything was flushed with finish_reason
    content, tools = _collect(out)
    assert content == "Reach me at <EMAIL_ADDRESS_1> or <PHONE_NUMBER_1>."
    assert tools == {0: '{"iban": "<IBAN_CODE_1>", "note": "x"}'}
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert (
        out[len(pieces(text, 3)) + 1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"]
        == "pay"
    )


def test_chunks_held_when_the_stream_ends_without_finish_reason() -> None:
    s = session()
    redactor = ChunkRedactor(s, scan=True)
    out = [redactor.transform(_chunk({"content": p})) for p in pieces("mail ada@example.com", 4)]
    tail = redactor.finish()
    content, _ = _collect(out + tail)
    assert content == "mail <EMAIL_ADDRESS_1>"
    assert tail[0]["id"] == "c" and tail[0]["object"] == "chat.completion.chunk"


def test_choices_are_buffered_separately() -> None:
    s = session()
    redactor = ChunkRedactor(s, scan=True)
    out = []
    for a, b in zip(
        pieces("one ada@example.com", 3), pieces("two bob@example.org", 3), strict=False
    ):
        out.append(redactor.transform(_chunk({"content": a}, index=0)))
        out.append(redactor.transform(_chunk({"content": b}, index=1)))
    out.append(redactor.transform(_chunk({}, "stop", index=0)))
    out.append(redactor.transform(_chunk({}, "stop", index=1)))
    by_index: dict[int, str] = {}
    for chunk in out:
        for choice in chunk["choices"]:
            by_index[choice["index"]] = by_index.get(choice["index"], "") + (
                choice["delta"].get("content") or ""
            )
    assert by_index == {0: "one <EMAIL_ADDRESS_1>", 1: "two <EMAIL_ADDRESS_2>"}


def test_usage_only_chunks_pass_through() -> None:
    redactor = ChunkRedactor(session(), scan=True)
    usage = {"id": "c", "choices": [], "usage": {"total_tokens": 3}}
    assert redactor.transform(usage) == usage
