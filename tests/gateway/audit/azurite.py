"""Azurite (the Azure Storage emulator from npm) as a session fixture.

Installed by ``npm install --prefix tests/node``. When it is not installed the Azure tests
skip, unless ``GATEHOUSE_REQUIRE_SERVICES=1``, when they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gateway.fakes.server import free_port

AZURITE = Path(__file__).resolve().parents[2] / "node" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's fixed, publicly documented development account key (not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
KEY_ENV = "GATEHOUSE_TEST_AZURITE_KEY"


@dataclass(frozen=True)
class Azurite:
    port: int

    def container_url(self) -> str:
        """The URL of a new, not yet created container."""
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}/audit-{uuid.uuid4().hex[:12]}"


def _unavailable(message: str) -> None:
    if os.environ.get("GATEHOUSE_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"azurite exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"azurite did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    if not AZURITE.exists():
        _unavailable("Azurite is not installed: run `npm install --prefix tests/node`")
    port = free_port()
    process = subprocess.Popen(
        [
            str(AZURITE),
            "--silent",
            "--inMemoryPersistence",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--skipApiVersionCheck",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(process, port, timeout=30)
    except RuntimeError as exc:
        process.kill()
        process.wait()
        _unavailable(f"Azurite could not be started: {exc}")
    try:
        yield Azurite(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
