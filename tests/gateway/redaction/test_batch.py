"""All the texts of a request are detected in one pass: the same results as text by text.

The per-text path (``scan`` / ``detect`` / ``Scanner.scan`` / ``stdnum.iban.is_valid``) is
the reference; the batched path must agree with it exactly, on a randomised corpus whose
values sit at the start and the end of texts and are cut across two texts.
"""

from __future__ import annotations

import copy
import random
import string
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from stdnum import iban as stdnum_iban
from stdnum import numdb
from stdnum.iso7064 import mod_97_10 as stdnum_mod_97_10

from gateway.context import Identity, RequestContext
from gateway.redaction import entities as E
from gateway.redaction import iban
from gateway.redaction.base import Finding
from gateway.redaction.builtin import BuiltinDetector
from gateway.redaction.config import Mode, RedactionConfig
from gateway.redaction.engine import Redactor
from gateway.redaction.errors import PIIDetected, RedactionUnavailable
from gateway.redaction.hook import FINDINGS_KEY, RedactionHook
from gateway.redaction.payload import (
    map_request,
    map_request_texts,
    map_response,
    replace_texts,
    request_texts,
)
from gateway.redaction.scanner import HyperscanScanner, ReScanner, make_scanner
from gateway.redaction.session import RequestRedaction
from tests.gateway.redaction.test_detector import FALSE_POSITIVES, TRUE_POSITIVES

DETECTORS = {
    "hyperscan": BuiltinDetector(prefer_hyperscan=True),
    "re": BuiltinDetector(prefer_hyperscan=False),
}
FILLER = ["", " ", "\n", "ok", "Grüße 🙂", "the invoice", "—", "x", "1", "@", "-"]


def _fragment(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        _, value, template = rng.choice(TRUE_POSITIVES)
        return value if rng.random() < 0.5 else template.format(value)  # alone: at both ends
    if kind < 0.6:
        return rng.choice(FALSE_POSITIVES)[1]
    return rng.choice(FILLER)


def corpus(seed: int) -> list[list[str]]:
    """Requests of 0 to 8 texts; some values are cut in two across neighbouring texts."""
    rng = random.Random(seed)
    requests: list[list[str]] = []
    for _ in range(60):
        texts = [
            "".join(_fragment(rng) for _ in range(rng.randint(0, 3)))
            for _ in range(rng.randint(0, 8))
        ]
        for i in range(len(texts) - 1):
            if rng.random() < 0.3 and texts[i]:
                cut = rng.randint(0, len(texts[i]))
                texts[i], texts[i + 1] = texts[i][:cut], texts[i][cut:] + texts[i + 1]
        requests.append(texts)
    return requests


# ----------------------------------------------------------------------------- scanner


@pytest.mark.parametrize("engine", ["hyperscan", "re"])
@pytest.mark.parametrize("seed", range(4))
def test_scan_all_finds_the_hits_of_each_text_alone(engine: str, seed: int) -> None:
    scanner = DETECTORS[engine]._scanner
    assert scanner is not None and scanner.engine == engine
    for texts in corpus(seed):
        datas = [t.encode() for t in texts]
        assert scanner.scan_all(datas) == [scanner.scan(d) for d in datas]


def test_the_real_triggers_never_need_the_text_by_text_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scanner = BuiltinDetector()._scanner
    assert isinstance(scanner, HyperscanScanner)

    def fallback(data: bytes) -> list[Any]:
        raise AssertionError("a trigger matched across two texts")

    monkeypatch.setattr(scanner, "scan", fallback)
    for seed in range(4):
        for texts in corpus(seed):
            scanner.scan_all([t.encode() for t in texts])


def test_a_trigger_match_across_texts_falls_back_to_one_scan_per_text() -> None:
    """A trigger that can match the separator would report the leftmost start, in the
    previous text, and hide the hit that starts in the next one."""
    triggers = [[rb"x[^0-9]{0,5}y"], [rb"\bz"]]
    texts = [b"x", b"xy", b"", b"z", b"az"]
    expected = [[], [(0, 0, 2)], [], [(1, 0, 1)], []]
    for scanner in (make_scanner(triggers), ReScanner(triggers)):
        assert scanner.scan_all(texts) == [scanner.scan(t) for t in texts] == expected


def test_values_at_the_edges_of_texts_are_found_and_never_joined() -> None:
    detector = DETECTORS["hyperscan"]
    texts = ["ada@example.com", "4111 1111", "1111 1111", "mail ada@", "example.com", "BSN"]
    texts += ["111222333", "DE89 3704 0044 0532 0130 00"]
    found = detector.detect_all(texts)
    assert found == [detector.detect(t) for t in texts]
    assert [[(f.entity, f.start, f.end) for f in each] for each in found] == [
        [(E.EMAIL_ADDRESS, 0, 15)],
        [],
        [],
        [],
        [],
        [],
        [],
        [(E.IBAN_CODE, 0, 27)],
    ]


# ----------------------------------------------------------------------------- detector


@pytest.mark.parametrize("engine", ["hyperscan", "re"])
@pytest.mark.parametrize("seed", range(4))
def test_detect_all_equals_detect_of_each_text(engine: str, seed: int) -> None:
    detector = DETECTORS[engine]
    for texts in corpus(seed):
        assert detector.detect_all(texts) == [detector.detect(t) for t in texts]


def test_detect_all_with_no_rule_enabled() -> None:
    detector = BuiltinDetector([])
    assert detector.detect_all(["ada@example.com", ""]) == [[], []]


# ----------------------------------------------------------------------------- IBAN


def _random_iban(rng: random.Random, country: str, bban_format: str) -> str:
    alphabet = {"n": string.digits, "a": string.ascii_uppercase}
    bban = ""
    for length, kind in stdnum_iban._struct_re.findall(bban_format):
        chars = alphabet.get(kind, string.digits + string.ascii_uppercase)
        bban += "".join(rng.choice(chars) for _ in range(int(length)))
    return country + stdnum_iban.calc_check_digits(country + "00" + bban) + bban


def _variants(rng: random.Random, number: str) -> list[str]:
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    position = rng.randrange(len(number))
    changed = number[:position] + rng.choice(string.digits + "AZ") + number[position + 1 :]
    return [
        number,
        spaced,
        number[:2] + f"{(int(number[2:4]) + 1) % 100:02d}" + number[4:],  # wrong check
        changed,
        number[:-1],
        number + "7",
        number[:4] + number[4:].lower(),
        "ZZ" + number[2:],
    ]


def test_the_iban_check_agrees_with_stdnum_for_every_registry_country() -> None:
    rng = random.Random(13616)
    countries = [(p[1], p[3].get("bban", "")) for p in numdb.get("iban").prefixes]
    assert len(countries) > 80
    checked = valid = 0
    for country, bban_format in countries:
        for _ in range(12):
            for value in _variants(rng, _random_iban(rng, country, bban_format)):
                assert iban.is_valid(value) == stdnum_iban.is_valid(value), value
                checked += 1
                valid += iban.is_valid(value)
    assert valid > len(countries)  # both answers occur for most countries
    for value in ("", "N", "NL", "NL91", "1", "BE68 5390 0754 7034", "NL91ABNA0417164300"):
        assert iban.is_valid(value) == stdnum_iban.is_valid(value), value
    assert checked > 5000


# ----------------------------------------------------------------------------- payload


def reference_map_message(message: Any, fn: Any) -> Any:
    """The text-by-text walk the payload module replaced, kept as the oracle: it copies
    every container it passes and maps every text in body order."""
    if not isinstance(message, dict):
        return message
    out = dict(message)
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = fn(content)
    elif isinstance(content, list):
        out["content"] = [
            {**p, p["type"]: fn(p[p["type"]])}
            if isinstance(p, dict)
            and p.get("type") in ("text", "refusal")
            and isinstance(p.get(p["type"]), str)
            else p
            for p in content
        ]
    if isinstance(message.get("refusal"), str):
        out["refusal"] = fn(message["refusal"])
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [reference_map_call(c, fn) for c in calls]
    if isinstance(message.get("function_call"), dict):
        out["function_call"] = reference_map_function(message["function_call"], fn)
    return out


def reference_map_call(call: Any, fn: Any) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    return {**call, "function": reference_map_function(call["function"], fn)}


def reference_map_function(function: dict[str, Any], fn: Any) -> dict[str, Any]:
    if not isinstance(function.get("arguments"), str):
        return function
    return {**function, "arguments": fn(function["arguments"])}


def reference_map_request(op: str, body: dict[str, Any], fn: Any) -> dict[str, Any]:
    if op == "embeddings":
        value = body.get("input")
        if isinstance(value, str):
            return {**body, "input": fn(value)}
        if isinstance(value, list) and any(isinstance(v, str) for v in value):
            return {**body, "input": [fn(v) if isinstance(v, str) else v for v in value]}
        return body
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    return {**body, "messages": [reference_map_message(m, fn) for m in messages]}


def _message(rng: random.Random, pending: list[str]) -> Any:
    """One message of a random shape holding texts taken from ``pending`` (odd shapes
    included: they must be left alone)."""

    def take() -> str:
        return pending.pop(0) if pending else "plain"

    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    shape = rng.randrange(8)
    if shape == 0:
        return {"role": "user", "content": take()}
    if shape == 1:
        parts: list[Any] = [{"type": "text", "text": take()}, image, "odd", {"text": "x"}]
        if pending:
            parts.insert(0, {"type": "refusal", "refusal": take()})
        return {"role": "user", "content": parts}
    if shape == 2:
        calls: list[Any] = [{"id": "c", "function": {"name": "f", "arguments": take()}}]
        calls += ["odd", {"id": "d"}, {"function": {"arguments": 3}}]
        return {"role": "assistant", "content": None, "tool_calls": calls}
    if shape == 3:
        function = {"name": "f", "arguments": take()}
        return {"role": "assistant", "content": "", "function_call": function}
    if shape == 4:
        message = {"role": "assistant", "refusal": take(), "content": None}
        if pending:
            message["content"] = take()
        return message
    if shape == 5:
        return {"role": "tool", "content": [{"type": "text", "text": 4}], "tool_call_id": "c"}
    if shape == 6:
        return "not a message"
    return {"role": "assistant", "function_call": {"name": "f"}, "tool_calls": None}


def random_body(rng: random.Random, texts: list[str]) -> tuple[str, dict[str, Any]]:
    if rng.random() < 0.2:
        value: Any = [*texts, [1, 2]] if rng.random() < 0.8 else (texts[0] if texts else [1])
        return "embeddings", {"model": "e", "input": value}
    pending = list(texts)
    messages = [_message(rng, pending) for _ in range(rng.randint(0, 2))]
    while pending:
        messages.append(_message(rng, pending))
    if messages and rng.random() < 0.2:
        messages.append(messages[0])  # the same object twice: each place is its own
    body = {"model": "chat", "tools": [{"type": "function"}], "messages": messages}
    return "chat", body


def _redactor(mode: Mode = "redact", **config: Any) -> Redactor:
    return Redactor(
        RedactionConfig(mode=mode, **config),
        registry=CollectorRegistry(),
        detector=DETECTORS["hyperscan"],
    )


@pytest.mark.parametrize("seed", range(4))
def test_the_payload_mapping_equals_the_copying_reference_walk(seed: int) -> None:
    rng = random.Random(seed)
    for texts in corpus(seed):
        op, body = random_body(rng, texts)
        before = copy.deepcopy(body)
        reference = _redactor().session()
        expected = reference_map_request(op, body, reference.scan)
        by_text, batched = _redactor().session(), _redactor().session()
        assert map_request(op, body, by_text.scan) == expected
        assert map_request_texts(op, body, batched.scan_all) == expected
        assert body == before  # not mutated
        assert by_text.findings == batched.findings == reference.findings
        assert map_request(op, body, str.upper) == reference_map_request(op, body, str.upper)
        response = {
            "id": "r",
            "choices": [{"index": 0, "message": m} for m in body.get("messages", [])],
        }
        assert map_response("chat", response, str.upper) == {
            **response,
            "choices": [
                {**c, "message": reference_map_message(c["message"], str.upper)}
                for c in response["choices"]
            ],
        }
        if expected == body:
            assert map_request_texts(op, body, batched.scan_all) is body  # nothing copied


def test_only_the_containers_on_the_way_to_a_changed_text_are_copied() -> None:
    body = {
        "model": "chat",
        "tools": [{"type": "function"}],
        "messages": [
            {"role": "system", "content": "plain"},
            {"role": "user", "content": [{"type": "text", "text": "mail ada@example.com"}, {}]},
            {"role": "user", "content": "also plain"},
        ],
    }
    out = map_request_texts("chat", body, _redactor().session().scan_all)
    assert out is not body and out["messages"] is not body["messages"]
    assert out["tools"] is body["tools"]
    assert out["messages"][0] is body["messages"][0]
    assert out["messages"][2] is body["messages"][2]
    assert out["messages"][1]["content"][1] is body["messages"][1]["content"][1]
    assert out["messages"][1]["content"][0]["text"] == "mail <EMAIL_ADDRESS_1>"
    assert body["messages"][1]["content"][0]["text"] == "mail ada@example.com"
    assert map_request("chat", body, lambda text: text) is body


def test_replace_texts_copies_each_container_once() -> None:
    body = {"messages": [{"content": "a", "refusal": "b"}]}
    located = request_texts("chat", body)
    assert located == [(("messages", 0, "content"), "a"), (("messages", 0, "refusal"), "b")]
    out = replace_texts(body, [(path, text.upper()) for path, text in located])
    assert out == {"messages": [{"content": "A", "refusal": "B"}]}
    assert body == {"messages": [{"content": "a", "refusal": "b"}]}
    assert replace_texts(body, []) is body


# ----------------------------------------------------------------------------- session


@pytest.mark.parametrize("mode", ["redact", "mask", "block", "off"])
@pytest.mark.parametrize("reversible", [False, True])
def test_scan_all_equals_scan_of_each_text_in_every_mode(mode: Mode, reversible: bool) -> None:
    for texts in corpus(7):
        one_by_one = _redactor(mode, reversible=reversible).session()
        batched = _redactor(mode, reversible=reversible).session()
        expected = [one_by_one.scan(t) for t in texts]
        assert batched.scan_all(texts) == expected
        assert batched.findings == one_by_one.findings
        assert batched.restore(" ".join(expected)) == one_by_one.restore(" ".join(expected))
        if mode == "block" and batched.findings:
            with pytest.raises(PIIDetected) as batched_error:
                batched.enforce()
            with pytest.raises(PIIDetected) as expected_error:
                one_by_one.enforce()
            assert batched_error.value.counts == expected_error.value.counts


class FailsOnSecondText:
    """``detect_all`` fails; ``detect`` fails on the second text it is given."""

    def __init__(self) -> None:
        self.detect_calls = 0

    def detect_all(self, texts: list[str]) -> list[list[Finding]]:
        raise RuntimeError(f"crashed on {texts!r}")

    def detect(self, text: str) -> list[Finding]:
        self.detect_calls += 1
        if self.detect_calls == 2:
            raise RuntimeError(f"crashed on {text!r}")
        return DETECTORS["re"].detect(text)


def test_a_failing_batch_is_handled_text_by_text_like_scan() -> None:
    texts = ["mail ada@example.com", "mail bob@example.org", "mail cy@example.net"]
    registry = CollectorRegistry()
    detector = FailsOnSecondText()
    config = RedactionConfig(fail_open=True)
    session = Redactor(config, registry=registry, detector=detector).session()
    # fail open: the first text is redacted, the one that failed and the rest pass
    assert session.scan_all(texts) == ["mail <EMAIL_ADDRESS_1>", texts[1], texts[2]]
    assert session.failed_open and detector.detect_calls == 2
    assert registry.get_sample_value("gatehouse_redaction_fail_open_total") == 1
    assert session.findings == {E.EMAIL_ADDRESS: 1}
    # fail closed: refused, as scan refuses
    closed = Redactor(RedactionConfig(), registry=CollectorRegistry(), detector=FailsOnSecondText())
    with pytest.raises(RedactionUnavailable) as caught:
        closed.session().scan_all(texts)
    assert "ada@" not in caught.value.message


def test_a_detector_without_detect_all_is_called_text_by_text() -> None:
    seen: list[str] = []

    class OneByOne:
        def detect(self, text: str) -> list[Finding]:
            seen.append(text)
            return DETECTORS["re"].detect(text)

    session = RequestRedaction(OneByOne(), "redact")
    assert session.scan_all(["a@example.com", "", "b"]) == ["<EMAIL_ADDRESS_1>", "", "b"]
    assert seen == ["a@example.com", "b"]  # empty texts are not sent, as with scan


# ----------------------------------------------------------------------------- hook


async def test_the_hook_rewrites_a_request_as_the_text_by_text_path_does() -> None:
    values = ("maria.jansen@example.nl", "NL91 ABNA 0417 1643 00")
    body = {
        "model": "chat",
        "messages": [
            {"role": "system", "content": "You are the assistant of a bank."},
            {"role": "user", "content": f"My account is {values[1]}, write to {values[0]}"},
            {"role": "assistant", "content": "Noted."},
        ],
        "temperature": 0.2,
    }
    redactor = _redactor()
    hook = RedactionHook(redactor)
    ctx = RequestContext(method="POST", path="/v1/chat/completions", op="chat")
    ctx.identity = Identity(kind="api_key", subject="k1", team="t")
    ctx.body = copy.deepcopy(body)
    await hook.transform_request(ctx)
    reference = redactor.session()
    assert ctx.body == map_request("chat", body, reference.scan)
    assert ctx.state[FINDINGS_KEY] == reference.findings == {E.EMAIL_ADDRESS: 1, E.IBAN_CODE: 1}
    assert not any(value in str(ctx.body) for value in values)
    assert ctx.body["messages"][0] is not body["messages"][0]  # deepcopy: ctx's own
    untouched = ctx.body["messages"][2]
    assert untouched == {"role": "assistant", "content": "Noted."}


def test_mod_97_10_agrees_with_stdnum() -> None:
    rng = random.Random(97)
    alphabet = string.ascii_letters + string.digits
    for _ in range(20000):
        number = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 34)))
        assert iban.mod_97_10(number) == stdnum_mod_97_10.is_valid(number), number
    for number in ("", "0", "1", "98", "A1", "a1", "1_0", " 1", "-1", "+1", "1.0", "A-1", "é1"):
        assert iban.mod_97_10(number) == stdnum_mod_97_10.is_valid(number), number
