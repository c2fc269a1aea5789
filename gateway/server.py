"""The gateway's process entry point: ``python -m gateway`` and ``gatehouse serve``.

:func:`main` loads and validates the config (exit status 2 with the offending fields when it
is invalid), then runs uvicorn with uvloop and httptools. With ``--workers N`` > 1 each
worker process builds its own app from the same config file.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from gateway.app import GatewayApp, create_app
from gateway.config import ConfigError, is_loopback_host, load_config

log = logging.getLogger("gateway.server")

CONFIG_ENV = "GATEHOUSE_CONFIG"
EXIT_CONFIG = 2
EXIT_STARTUP = 3


def build_parser(prog: str = "python -m gateway") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run the Gatehouse LLM gateway.")
    parser.add_argument(
        "--config",
        default=os.environ.get(CONFIG_ENV, "gateway.yaml"),
        help=f"YAML config file (default: ${CONFIG_ENV} or ./gateway.yaml)",
    )
    parser.add_argument("--host", help="interface to bind (default: listen.host of the config)")
    parser.add_argument("--port", type=int, help="port to bind (default: listen.port)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (default: off)"
    )
    return parser


def for_serving(app: GatewayApp) -> GatewayApp:
    """Settle this process's heap before it serves ``app``.

    What exists now (modules, the config, compiled patterns and models, the hooks) lives as
    long as the process. ``gc.freeze()`` moves it out of the cyclic collector's reach, so a
    full collection walks only what requests allocate instead of the whole start-up heap
    (such a walk stalled a loaded worker for hundreds of milliseconds; docs/benchmarks.md).
    Frozen objects are still freed by reference counting.
    """
    gc.collect()
    gc.freeze()
    return app


def app_from_environment() -> GatewayApp:
    """The app factory each worker calls when ``--workers`` > 1."""
    return for_serving(create_app(load_config(os.environ[CONFIG_ENV])))


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m gateway") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.workers < 1:
        print(f"{prog}: --workers: got {args.workers}; expected at least 1", file=sys.stderr)
        return EXIT_CONFIG
    try:
        config = load_config(args.config)
        app = for_serving(create_app(config))  # validates the config's secrets, once, here
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    host = args.host or config.listen.host
    port = args.port or config.listen.port
    if not is_loopback_host(host):
        log.warning(
            "listening on %s:%d, reachable beyond this machine: keep it behind TLS and a "
            "network policy",
            host,
            port,
        )
    common = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": args.access_log,
        "log_level": args.log_level,
        "proxy_headers": False,
        "server_header": False,
    }
    if args.workers > 1:
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
        uvicorn.run(
            "gateway.server:app_from_environment", factory=True, workers=args.workers, **common
        )
        return 0
    server = uvicorn.Server(uvicorn.Config(app, **common))
    server.run()
    return 0 if server.started else EXIT_STARTUP
