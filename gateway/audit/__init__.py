"""A tamper-evident audit trail on WORM storage.

One event per request decision and per admin change is appended to a local write-ahead file
(group commit: durable before the response leaves), hash-chained, sealed into segments with
Ed25519-signed checkpoints, and shipped to a directory, S3 with Object Lock or Azure Blob
with immutability. :func:`verify` proves an archive intact or names the first bad event.
"""

from gateway.audit.config import AuditConfig, default_audit_dir
from gateway.audit.errors import AuditConfigError, AuditUnavailable, ShipConflict, ShipError
from gateway.audit.events import (
    AdminEvent,
    DeploymentRef,
    Principal,
    RequestEvent,
    Residency,
    StoredContent,
    Tokens,
)
from gateway.audit.shipper import Backoff, ShipFailure
from gateway.audit.trail import AuditTrail
from gateway.audit.verify import Problem, TrailSummary, VerifyResult, verify
from gateway.audit.wal import FileOps, Receipt

__all__ = [
    "AdminEvent",
    "AuditConfig",
    "AuditConfigError",
    "AuditTrail",
    "AuditUnavailable",
    "Backoff",
    "DeploymentRef",
    "FileOps",
    "Principal",
    "Problem",
    "Receipt",
    "RequestEvent",
    "Residency",
    "ShipConflict",
    "ShipError",
    "ShipFailure",
    "StoredContent",
    "Tokens",
    "TrailSummary",
    "VerifyResult",
    "default_audit_dir",
    "verify",
]
