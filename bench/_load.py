"""Load generation for the gateway benchmarks: ``wrk`` and a time-to-first-token probe.

:func:`wrk` drives one endpoint with ``wrk`` (Debian package ``wrk``): ``clients``
connections in a closed loop, each sending the same POST (``bench/wrk/chat.lua`` sets body
and headers and writes a JSON report with latency percentiles). ``think_ms`` makes each
client pause between its requests for a random time, exponentially distributed with that
mean (wrk's ``delay()``): independent clients, whose arrivals are close to a Poisson
stream. A fixed pause would keep wrk's clients in phase: they would arrive in bursts of
``clients`` requests, which measures the burst, not one client's wait.

wrk reads each response whole, so it cannot see a stream's first token. :func:`ttft` does:
one client on raw sockets that sends the streaming request over and over and notes when
the first ``data:`` bytes arrive, while wrk drives the other ``clients - 1`` connections
with the same request.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson

SCRIPT = Path(__file__).with_name("wrk") / "chat.lua"
THINK_SCRIPT_TAIL = """
math.randomseed(os.time())
function delay()
  return math.floor(-{think_ms} * math.log(1 - math.random()) + 0.5)
end
"""


class LoadError(RuntimeError):
    pass


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadError("wrk is not on the PATH; install it with `apt-get install wrk`")
    return found


@dataclass(frozen=True, slots=True)
class Request:
    """One POST: where, with which headers and body."""

    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    """non-2xx/3xx answers, connect, read, write errors and timeouts"""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class TTFTResult:
    samples: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _write_inputs(request: Request, workdir: Path, think_ms: float) -> tuple[Path, dict[str, str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    body = workdir / "body.json"
    body.write_bytes(request.body)
    headers = workdir / "headers.txt"
    lines = {"Content-Type": "application/json", **request.headers}
    headers.write_text("".join(f"{k}: {v}\n" for k, v in lines.items()))
    script = SCRIPT
    if think_ms:
        script = workdir / "think.lua"
        script.write_text(SCRIPT.read_text() + THINK_SCRIPT_TAIL.format(think_ms=float(think_ms)))
    env = {
        **os.environ,
        "BENCH_WRK_BODY": str(body),
        "BENCH_WRK_HEADERS": str(headers),
        "BENCH_WRK_REPORT": str(workdir / "report.json"),
    }
    return script, env


def _wrk_command(script: Path, clients: int, seconds: float, url: str) -> list[str]:
    return [
        require_wrk(),
        "-t1",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",  # wrk takes whole seconds
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]


def wrk(request: Request, clients: int, seconds: float, *, think_ms: float = 0) -> WrkResult:
    """Closed loop of ``clients`` connections for ``seconds``; see the module docstring."""
    with tempfile.TemporaryDirectory(prefix="gatehouse-wrk-") as tmp:
        workdir = Path(tmp)
        script, env = _write_inputs(request, workdir, think_ms)
        command = _wrk_command(script, clients, seconds, request.url)
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        report = workdir / "report.json"
        if done.returncode != 0 or not report.exists():
            raise LoadError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        data = orjson.loads(report.read_bytes())
    latency = data["latency_us"]
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        errors=sum(data["errors"].values()),
    )


def _raw_request(request: Request) -> tuple[str, int, bytes]:
    parts = urlsplit(request.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Host": f"{host}:{port}",
        "Content-Type": "application/json",
        "Content-Length": str(len(request.body)),
        "Connection": "close",
        **request.headers,
    }
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return host, port, head.encode("latin-1") + b"\r\n" + request.body


async def _first_token(host: str, port: int, raw: bytes) -> float | None:
    """Seconds from sending ``raw`` to the first ``data:`` bytes; ``None`` on failure."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(raw)
        seen = b""
        first: float | None = None
        status_ok = False
        while chunk := await reader.read(65536):
            if first is None:
                seen += chunk
                status_ok = status_ok or seen.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2"))
                head_end = seen.find(b"\r\n\r\n")
                if head_end >= 0 and b"data:" in seen[head_end:]:
                    first = time.perf_counter()
        return first - started if first is not None and status_ok else None
    finally:
        writer.close()


async def _probe(request: Request, seconds: float) -> TTFTResult:
    host, port, raw = _raw_request(request)
    samples: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        try:
            async with asyncio.timeout(30):
                took = await _first_token(host, port, raw)
        except (OSError, TimeoutError):
            took = None
        if took is None:
            errors += 1
        else:
            samples.append(took * 1000)
    if not samples:
        return TTFTResult(0, float("nan"), float("nan"), float("nan"), errors)
    return TTFTResult(
        len(samples),
        _percentile(samples, 50),
        _percentile(samples, 90),
        _percentile(samples, 99),
        errors,
    )


def ttft(request: Request, clients: int, seconds: float) -> TTFTResult:
    """Time to first token seen by one client while wrk drives ``clients - 1`` others."""
    if clients <= 1:
        return asyncio.run(_probe(request, seconds))
    with tempfile.TemporaryDirectory(prefix="gatehouse-wrk-") as tmp:
        script, env = _write_inputs(request, Path(tmp), 0)
        command = _wrk_command(script, clients - 1, seconds + 1, request.url)
        background = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(0.3)  # let wrk open its connections first
            return asyncio.run(_probe(request, seconds))
        finally:
            background.terminate()
            background.wait(timeout=30)
