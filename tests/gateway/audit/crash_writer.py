"""Run by test_durability in a child process: append events, report, then wait to be killed.

Usage: python -m tests.gateway.audit.crash_writer <dir> <count>
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.audit import AuditTrail
from tests.gateway.audit.support import append_sequentially, config


async def _main(directory: Path, count: int) -> None:
    trail = AuditTrail(config(segment_max_events=4), default_dir=directory, poll_seconds=3600)
    await trail.start()
    await append_sequentially(trail, count)
    print("durable", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(_main(Path(sys.argv[1]), int(sys.argv[2])))
