"""Where a trail is archived: the three sink URL forms, parsed once.

* ``file:///var/lib/gatehouse/audit`` — a local (or mounted) directory;
* ``s3://bucket/prefix`` — S3 with Object Lock;
* ``https://<account>.blob.core.windows.net/<container>[/prefix]`` — Azure Blob Storage.
  Plain ``http://`` is accepted only for a loopback emulator (Azurite), whose URLs are
  path-style: ``http://127.0.0.1:10000/<account>/<container>``.

``verify`` also accepts a bare directory path.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

Immutability = Literal["blob", "container", "unprotected"]
"""How Azure blobs are kept immutable (see :mod:`gateway.audit.sinks.azure`)."""

EXPECTED = (
    "file:///absolute/path, s3://bucket/prefix or "
    "https://<account>.blob.core.windows.net/<container>"
)


@dataclass(frozen=True, slots=True)
class SinkLocation:
    kind: Literal["file", "s3", "azure"]
    path: Path | None = None
    bucket: str | None = None
    container_url: str | None = None
    account: str | None = None
    prefix: str = ""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _azure(scheme: str, host: str, port: int | None, path: str) -> SinkLocation:
    parts = [p for p in path.split("/") if p]
    path_style = _loopback(host)
    if scheme == "http" and not path_style:
        raise ValueError(
            "https:// (plain http is allowed only for a loopback emulator), as in "
            "https://<account>.blob.core.windows.net/<container>"
        )
    if path_style:
        if len(parts) < 2:
            raise ValueError("http://127.0.0.1:<port>/<account>/<container> for an emulator")
        account, container, rest = parts[0], parts[1], parts[2:]
        root = f"{scheme}://{host}{f':{port}' if port else ''}/{account}/{container}"
    else:
        if not parts:
            raise ValueError(
                "https://<account>.blob.core.windows.net/<container> (the container is missing)"
            )
        account, container, rest = host.split(".")[0], parts[0], parts[1:]
        root = f"https://{host}{f':{port}' if port else ''}/{container}"
    return SinkLocation(kind="azure", container_url=root, account=account, prefix="/".join(rest))


def parse_location(url: str, *, allow_bare_path: bool = False) -> SinkLocation:
    """Parse a sink URL; raises ``ValueError`` whose message is the form that was expected
    (the caller names the field and the value, as config errors do)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError("file:///absolute/path")
        return SinkLocation(kind="file", path=Path(parts.path))
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError("s3://bucket/prefix (the bucket is missing)")
        return SinkLocation(kind="s3", bucket=parts.netloc, prefix=parts.path.strip("/"))
    if scheme in ("https", "http") and parts.hostname:
        return _azure(scheme, parts.hostname, parts.port, parts.path)
    if allow_bare_path and not scheme and url:
        return SinkLocation(kind="file", path=Path(url))
    raise ValueError(EXPECTED)
