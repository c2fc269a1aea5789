"""The ``audit`` section of the gateway config.

It loads as written::

    audit: {sink: file:///var/lib/gatehouse/audit}   # or s3://bucket/prefix,
                                                     # or https://<account>.blob.core.windows.net/<container>

Every field has a safe default, and without an ``audit`` section the gateway still keeps a
trail: the write-ahead directory sits beside its store (:func:`default_audit_dir`) and closed
segments are archived to ``<dir>/archive``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.audit.location import Immutability, SinkLocation, parse_location

DEFAULT_DIR_NAME = "gatehouse-audit"


class AuditConfig(BaseModel):
    """Where and how the tamper-evident audit trail is kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sink: str | None = Field(
        None,
        description="where closed segments are archived: file:///path, s3://bucket/prefix or "
        "https://<account>.blob.core.windows.net/<container>; default: file://<dir>/archive",
    )
    dir: Path | None = Field(
        None,
        description="the local write-ahead directory (must be on persistent storage); "
        "default: beside the gateway's store",
    )
    segment_max_events: int = Field(
        10_000, ge=1, description="a segment closes at this many events"
    )
    segment_max_bytes: int = Field(
        64 * 1024 * 1024, ge=4096, description="a segment closes when it reaches this size"
    )
    segment_max_seconds: float = Field(
        60.0, gt=0, description="a segment closes this long after its first event"
    )
    signing_key_env: str | None = Field(
        None,
        description="environment variable holding the Ed25519 private key (PEM, or base64 of "
        "the 32-byte raw key) that signs checkpoints; default: a key generated in <dir> on "
        "first start, its public key logged",
    )
    store_content_teams: tuple[str, ...] = Field(
        (), description="teams whose prompts and completions are stored; default: none"
    )
    retention_days: int = Field(
        400, ge=1, description="WORM retention of archived segments (S3 Object Lock, Azure)"
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint override (VPC endpoint, S3-compatible store)"
    )
    azure_account_key_env: str | None = Field(
        None,
        description="environment variable holding the storage account key; default: "
        "DefaultAzureCredential (workload or managed identity)",
    )
    azure_immutability: Immutability = Field(
        "blob",
        description="blob: a locked time-based policy is set on every archived blob (needs "
        "version-level immutability on the container); container: a container-level WORM "
        "policy is required and checked; unprotected: none (emulators only)",
    )

    @field_validator("sink")
    @classmethod
    def _sink(cls, value: str | None) -> str | None:
        if value is not None:
            parse_location(value)
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("https", "http"):
            raise ValueError("an http(s) URL")
        return value

    def resolved_dir(self, default: Path) -> Path:
        """The write-ahead directory: ``dir`` when set, else ``default``."""
        return self.dir if self.dir is not None else default

    def resolved_sink(self, wal_dir: Path) -> SinkLocation:
        """The sink: ``sink`` when set, else ``<wal_dir>/archive``."""
        if self.sink is None:
            return SinkLocation(kind="file", path=wal_dir.absolute() / "archive")
        return parse_location(self.sink)

    def stores_content(self, team: str | None) -> bool:
        return team is not None and team in self.store_content_teams


def default_audit_dir(store_url: str) -> Path:
    """The write-ahead directory beside the gateway's store.

    ``sqlite:///./gatehouse.db`` gives ``./gatehouse-audit``; a server store (PostgreSQL)
    has no local file, so the directory is ``./gatehouse-audit`` under the working directory
    (set ``audit.dir`` to a persistent volume in production).
    """
    if store_url.startswith("sqlite"):
        path = store_url.split(":///", 1)[-1].split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path).parent / DEFAULT_DIR_NAME
    return Path(DEFAULT_DIR_NAME)
