"""A gateway with the ledger on, against an upstream whose usage is the reserved worst case."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai

from gateway.audit import verify
from gateway.audit.records import decode_line, is_checkpoint
from gateway.audit.sinks.local import LocalSink
from gateway.config import GatewayConfig
from gateway.ledger.estimate import estimate_prompt_tokens
from tests.gateway.conftest import (
    ADMIN_KEY,
    Gateway,
    gateway_config,
    openai_deployment,
    run_gateway,
)
from tests.gateway.fakes.openai import FakeOpenAI
from tests.gateway.fakes.server import serve

UNIT_PRICE = {"input_per_mtok": 1_000_000.0, "output_per_mtok": 1_000_000.0}
"""one currency unit per prompt or completion token"""
PROMPT: Any = [{"role": "user", "content": "hello"}]
MAX_TOKENS = 8
WORST = Decimal(2 + MAX_TOKENS)
"""'hello' is 5 bytes, estimated at 2 prompt tokens, plus the 8-token cap: 10 units"""


class WorstCaseFake(FakeOpenAI):
    """Reports the prompt estimate and the whole output cap as usage: each request then
    costs exactly what was reserved for it, so exactly budget / worst case requests fit."""

    def usage(self, body: dict[str, Any], text: str) -> dict[str, int]:
        prompt = estimate_prompt_tokens(body)
        completion = body.get("max_completion_tokens") or body.get("max_tokens") or 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


def ledger_config(
    store: str, upstream: str, *, price: dict[str, float] = UNIT_PRICE, **sections: Any
) -> GatewayConfig:
    deployment = openai_deployment(f"{upstream}/v1", price=price, region="eu-west-1")
    return gateway_config(store, {"chat-eu": [deployment]}, **sections)


@contextmanager
def ledger_gateway(
    store: str,
    *,
    fake: FakeOpenAI | None = None,
    price: dict[str, float] = UNIT_PRICE,
    environ: dict[str, str] | None = None,
    **sections: Any,
) -> Iterator[tuple[Gateway, FakeOpenAI]]:
    """A running gateway on ``store`` with the given config sections (e.g. ``budgets``);
    ``environ`` adds variables to the admin key (a Redis URL...)."""
    upstream = fake or WorstCaseFake()
    env = {"GATEHOUSE_ADMIN_KEY": ADMIN_KEY, **(environ or {})}
    with (
        serve(upstream) as url,
        run_gateway(ledger_config(store, url, price=price, **sections), environ=env) as gw,
    ):
        yield gw, upstream


_REFUSAL = re.compile(
    r"budget of (?P<amount>[\d.]+) \w+; (?P<spent>[\d.]+) \w+ is spent and "
    r"(?P<reserved>[\d.]+) \w+ is held by requests in flight, and this request may cost up "
    r"to (?P<needed>[\d.]+)"
)


def refusal_was_justified(message: str) -> bool:
    """Whether the budget, as the store saw it when refusing, really had no room."""
    found = _REFUSAL.search(message)
    assert found is not None, message
    amount, spent, reserved, needed = (
        Decimal(found[k]) for k in ("amount", "spent", "reserved", "needed")
    )
    return spent + reserved + needed > amount


@dataclass
class Outcome:
    served: int = 0
    refused: int = 0
    unjustified: int = 0
    other: list[str] = field(default_factory=list)


async def one_request(
    client: openai.AsyncOpenAI, outcome: Outcome, *, stream: bool = False
) -> None:
    try:
        if stream:
            async for _ in await client.chat.completions.create(
                model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS, stream=True
            ):
                pass
        else:
            await client.chat.completions.create(
                model="chat-eu", messages=PROMPT, max_tokens=MAX_TOKENS
            )
    except openai.RateLimitError as err:
        if err.code != "budget_exceeded":
            outcome.other.append(f"429 {err.code}")
            return
        outcome.refused += 1
        if not refusal_was_justified(err.message):
            outcome.unjustified += 1
        return
    except openai.APIError as err:
        outcome.other.append(repr(err))
        return
    outcome.served += 1


async def contend(clients: list[openai.AsyncOpenAI], count: int) -> Outcome:
    """``count`` concurrent requests, spread over ``clients`` (one per gateway)."""
    outcome = Outcome()
    try:
        await asyncio.gather(
            *(one_request(clients[i % len(clients)], outcome) for i in range(count))
        )
    finally:
        for client in clients:
            await client.close()
    return outcome


def audit_events(wal_dir: Path) -> list[dict[str, Any]]:
    """The events of the trail archived under ``wal_dir``, after checking it is intact."""
    archive = wal_dir / "archive"
    result = verify(archive, str(wal_dir / "signing-key.pub"))
    assert result.ok, result.problems
    sink = LocalSink(archive)
    events = []
    for name in sorted(sink.list()):
        data = sink.get(name)
        assert data is not None
        for raw in data.split(b"\n")[:-1]:
            record = decode_line(raw)
            if not is_checkpoint(record):
                events.append(record["event"])
    return events
