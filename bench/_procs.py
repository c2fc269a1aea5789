"""Server processes for the benchmarks: start, wait until ready, sample memory, stop.

Every process is started by :class:`Services` and stopped by process id, with its
descendants (a server that forks workers), when its ``with`` block ends, on an exception
or on Ctrl-C alike. Peak memory is the sum, over the server's process tree, of each
process's ``VmHWM`` (its resident-set high-water mark) read from ``/proc/<pid>/status``,
sampled while it runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType

import httpx

PROC = Path("/proc")
Probe = Callable[[str], bool]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren..., from ``/proc/<pid>/task/*/children``."""
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        with contextlib.suppress(OSError):
            for task in (PROC / str(parent) / "task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    children = [int(c) for c in (task / "children").read_text().split()]
                    found += children
                    stack += children
    return found


def peak_kib(pid: int) -> int | None:
    """``VmHWM`` of one process in KiB; ``None`` once it is gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class Service:
    """One started server process; a thread samples its tree's peak memory."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.name = name
        self.process = process
        self.url = url
        self.log = log
        self._peaks: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._sample_loop, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _sample(self) -> None:
        for pid in (self.pid, *descendants(self.pid)):
            kib = peak_kib(pid)
            with self._lock:
                if kib is not None and kib > self._peaks.get(pid, 0):
                    self._peaks[pid] = kib

    def _sample_loop(self) -> None:
        while not self._stopped.wait(0.25):
            self._sample()

    def peak_rss_mb(self) -> float:
        """Sum of the peak resident sets of the process tree so far, in MB (10^6 bytes)."""
        self._sample()
        with self._lock:
            return sum(self._peaks.values()) * 1024 / 1e6

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, probe: Probe, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not probe(self.url):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with status {self.process.returncode}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start in {timeout:g} s:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM the process and its descendants by pid; SIGKILL what is left after 15 s."""
        self._stopped.set()
        pids = [self.pid, *descendants(self.pid)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=15)
        for pid in pids[1:] if self.process.poll() is not None else pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def http_ok(path: str) -> Probe:
    """A readiness probe: ``GET <url><path>`` answers with a status below 500."""

    def probe(url: str) -> bool:
        try:
            return httpx.get(f"{url}{path}", timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    return probe


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class Services:
    """Starts processes; every one still running is stopped when the block ends."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._running: list[Service] = []
        self._previous: object = None

    def __enter__(self) -> Services:
        self._previous = signal.signal(signal.SIGTERM, _interrupt)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        while self._running:
            self._running.pop().stop()
        signal.signal(signal.SIGTERM, self._previous)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def running(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        *,
        env: Mapping[str, str],
        probe: Probe,
        timeout: float = 120.0,
        cwd: Path | None = None,
    ) -> Iterator[Service]:
        """Start ``command`` (it must listen on ``port``), yield once ``probe`` passes, stop."""
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                list(command),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        service = Service(name, process, f"http://127.0.0.1:{port}", log)
        self._running.append(service)
        try:
            service.wait_ready(probe, timeout)
            yield service
        finally:
            if service in self._running:
                self._running.remove(service)
                service.stop()


def uvicorn_command(target: str, port: int, *extra: str) -> list[str]:
    """``python -m uvicorn`` as the benchmarks serve Python apps, with the settings of
    ``gateway.server``: uvloop, httptools, no access log, no proxy headers, no server header."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        *extra,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-proxy-headers",
        "--no-server-header",
        "--log-level",
        "warning",
    ]


def fake_upstream(
    services: Services, env: Mapping[str, str], cwd: Path | None = None
) -> contextlib.AbstractContextManager[Service]:
    """Start the fake OpenAI upstream of :mod:`bench._fake_upstream` on a free port."""
    port = free_port()
    command = uvicorn_command("bench._fake_upstream:create_app", port, "--factory")
    return services.running("upstream", command, port, env=env, probe=http_ok("/healthz"), cwd=cwd)
