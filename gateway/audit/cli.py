"""``gatehouse audit verify <path | s3://bucket/prefix | https://<account>.blob.core.windows.net/<container>>``

Exit status: 0 when every trail is intact, 1 when anything was modified, deleted, inserted,
reordered or truncated (the first bad event is named), 2 when the archive could not be read
or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway.audit.location import parse_location
from gateway.audit.verify import VerifyResult, verify


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatehouse audit", description="Audit trail tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "verify", help="verify an archived audit trail (hash chain and signed checkpoints)"
    )
    check.add_argument(
        "source",
        help="a directory, file:///path, s3://bucket/prefix or "
        "https://<account>.blob.core.windows.net/<container>",
    )
    check.add_argument(
        "--public-key",
        required=True,
        action="append",
        help="the checkpoint signing key's public half: PEM or base64 (32 raw bytes), "
        "or a file holding either; repeat it for every key used since a rotation",
    )
    check.add_argument("--s3-endpoint-url", help="S3 endpoint override")
    check.add_argument(
        "--azure-account-key-env",
        metavar="NAME",
        help="environment variable holding the storage account key "
        "(default: DefaultAzureCredential)",
    )
    return parser


def _report(result: VerifyResult) -> int:
    for trail in result.trails:
        print(
            f"trail {trail.trail}: {trail.segments} segment(s), {trail.events} event(s) "
            f"from {trail.first_time} to {trail.last_time}, intact; "
            f"last checkpoint {trail.last_checkpoint}"
        )
    if result.ok:
        print(f"OK: {result.source} is intact")
        return 0
    for problem in result.problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the audit CLI; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        parse_location(args.source, allow_bare_path=True)
    except ValueError as exc:
        print(f"error: source: got {args.source!r}; expected {exc}", file=sys.stderr)
        return 2
    try:
        result = verify(
            args.source,
            args.public_key,
            s3_endpoint_url=args.s3_endpoint_url,
            azure_account_key_env=args.azure_account_key_env,
        )
    except Exception as exc:
        print(f"error: cannot verify {args.source}: {exc}", file=sys.stderr)
        return 2
    return _report(result)


if __name__ == "__main__":
    raise SystemExit(main())
