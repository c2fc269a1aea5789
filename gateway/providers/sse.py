"""Incremental decoder for server-sent events (``text/event-stream``).

Bytes may be split anywhere, including inside a UTF-8 sequence or between ``\\r`` and
``\\n``; events come out once their terminating blank line has arrived.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str


class SSEDecoder:
    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""

    @property
    def pending(self) -> bool:
        """True when a partial line or an undispatched event is buffered."""
        return bool(self._buffer.strip() or self._data)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk
        if buffer.endswith(b"\r"):  # may be the first half of \r\n
            buffer, self._buffer = buffer[:-1], b"\r"
        else:
            self._buffer = b""
        lines = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = lines.pop() + self._buffer
        events: list[SSEEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append(SSEEvent(self._event or "message", "\n".join(self._data)))
                self._data, self._event = [], ""
                continue
            line = raw.decode("utf-8", "replace")
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
        return events
