"""Redaction of streamed answers, where a value can be split across chunks.

Each streamed text field (a choice's ``content``, ``refusal``, one tool call's
``arguments``) gets a :class:`StreamBuffer`. It releases only the prefix that can no longer
change and holds back a bounded tail:

* the last :data:`TAIL` characters (longer than any bounded entity: an e-mail address is at
  most 254), or :data:`~gateway.redaction.vault.MAX_PLACEHOLDER` when only placeholders are
  restored;
* a detected value that reaches into that tail (it may continue: a private-key block, a
  token);
* a run of token characters (base64, base64url) cut by that tail: a JWT or a bearer token
  can be longer than the tail and is held until it ends;
* in reversible mode, a ``<`` that may open a placeholder.

What is held never exceeds :data:`MAX_HOLD` characters: beyond that the buffer is released
up to the tail, and a value cut there is redacted up to the cut. The rest is released when
the choice finishes (``finish_reason``) or the stream ends.
"""

from __future__ import annotations

import string
from typing import Any

from gateway.providers.base import JSON
from gateway.redaction.base import Finding
from gateway.redaction.session import RequestRedaction
from gateway.redaction.vault import MAX_PLACEHOLDER

TAIL = 256
MAX_HOLD = 16_384
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "._~+/=%-")


class StreamBuffer:
    def __init__(self, session: RequestRedaction, *, scan: bool) -> None:
        self._session = session
        self._scan = scan
        self._restore = session.reversible
        self._tail = TAIL if scan else MAX_PLACEHOLDER
        self._buf = ""

    def feed(self, text: str) -> str:
        """Take the next piece; return what can be released now (possibly ``""``)."""
        self._buf += text
        if len(self._buf) <= self._tail:
            return ""
        return self._release(final=False)

    def close(self) -> str:
        """The stream field ended: release everything held."""
        return self._release(final=True) if self._buf else ""

    def _release(self, *, final: bool) -> str:
        buf = self._buf
        found = self._session.detect(buf) if self._scan else []
        cut = len(buf) if final else self._cut(buf, found)
        if cut <= 0:
            return ""
        self._buf = buf[cut:]
        kept = [Finding(f.entity, f.start, min(f.end, cut)) for f in found if f.start < cut]
        out = self._session.apply(buf[:cut], kept, "response")
        self._session.enforce("response")
        return self._session.restore(out)

    def _cut(self, buf: str, found: list[Finding]) -> int:
        cut = len(buf) - self._tail
        if self._scan:
            while cut > 0 and buf[cut - 1] in _TOKEN_CHARS and buf[cut] in _TOKEN_CHARS:
                cut -= 1
            for f in found:
                if f.start < cut < f.end:
                    cut = f.start
                    break
        if self._restore:
            opening = buf.rfind("<", max(0, cut - MAX_PLACEHOLDER), cut)
            if opening >= 0 and ">" not in buf[opening:cut]:
                cut = opening
        if cut < len(buf) - MAX_HOLD:
            cut = len(buf) - self._tail
        return cut


class ChunkRedactor:
    """Applies :class:`StreamBuffer` to every text field of ``chat.completion.chunk`` objects."""

    def __init__(self, session: RequestRedaction, *, scan: bool) -> None:
        self._session = session
        self._scan = scan
        self._buffers: dict[tuple[int, str, int], StreamBuffer] = {}
        self._envelope: JSON = {}

    def transform(self, chunk: JSON) -> JSON:
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return chunk
        self._envelope = {k: v for k, v in chunk.items() if k not in ("choices", "usage")}
        return {**chunk, "choices": [self._choice(c) for c in choices]}

    def finish(self) -> list[JSON]:
        """The stream ended: what is still held, as one last chunk (none if nothing is)."""
        indexes = sorted({key[0] for key in self._buffers})
        choices = []
        for index in indexes:
            delta = self._flush(index, {})
            if delta:
                choices.append({"index": index, "delta": delta, "finish_reason": None})
        return [{**self._envelope, "choices": choices}] if choices else []

    def _choice(self, choice: Any) -> Any:
        if not isinstance(choice, dict):
            return choice
        index = choice.get("index", 0)
        delta = choice.get("delta")
        out = dict(choice)
        if isinstance(delta, dict):
            out["delta"] = self._delta(index, delta)
        if choice.get("finish_reason") is not None:
            out["delta"] = self._flush(index, dict(out.get("delta") or {}))
        return out

    def _buffer(self, key: tuple[int, str, int]) -> StreamBuffer:
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = StreamBuffer(self._session, scan=self._scan)
        return buffer

    def _delta(self, index: int, delta: JSON) -> JSON:
        out = dict(delta)
        for field in ("content", "refusal"):
            if isinstance(delta.get(field), str):
                out[field] = self._buffer((index, field, 0)).feed(delta[field])
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            out["tool_calls"] = [self._call(index, c) for c in calls]
        function = delta.get("function_call")
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            fed = self._buffer((index, "function_call", 0)).feed(function["arguments"])
            out["function_call"] = {**function, "arguments": fed}
        return out

    def _call(self, index: int, call: Any) -> Any:
        if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
            return call
        arguments = call["function"].get("arguments")
        if not isinstance(arguments, str):
            return call
        fed = self._buffer((index, "tool_calls", call.get("index", 0))).feed(arguments)
        return {**call, "function": {**call["function"], "arguments": fed}}

    def _flush(self, index: int, delta: JSON) -> JSON:
        for key in sorted(k for k in self._buffers if k[0] == index):
            rest = self._buffers.pop(key).close()
            if not rest:
                continue
            _, field, sub = key
            if field in ("content", "refusal"):
                delta[field] = (delta.get(field) or "") + rest
            elif field == "function_call":
                previous = delta.get("function_call") or {}
                delta["function_call"] = {
                    **previous,
                    "arguments": previous.get("arguments", "") + rest,
                }
            else:
                delta["tool_calls"] = _append_arguments(delta.get("tool_calls") or [], sub, rest)
        return delta


def _append_arguments(calls: list[Any], index: int, rest: str) -> list[Any]:
    """``rest`` appended to the tool call ``index`` of this delta (added if absent)."""
    out = list(calls)
    for i, call in enumerate(out):
        if isinstance(call, dict) and call.get("index", 0) == index:
            function = dict(call.get("function") or {})
            function["arguments"] = (function.get("arguments") or "") + rest
            out[i] = {**call, "function": function}
            return out
    out.append({"index": index, "function": {"arguments": rest}})
    return out
