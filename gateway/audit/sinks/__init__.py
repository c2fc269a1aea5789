"""Sinks for closed segments: a local directory, S3 with Object Lock, Azure Blob with
immutability. :func:`open_sink` builds the one a :class:`SinkLocation` names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from gateway.audit.errors import AuditConfigError
from gateway.audit.location import Immutability, SinkLocation
from gateway.audit.sinks.base import Sink, ship_object
from gateway.audit.sinks.local import LocalSink

__all__ = ["LocalSink", "Sink", "open_sink", "ship_object"]


def _azure_credential(
    location: SinkLocation, account_key_env: str | None, environ: Mapping[str, str]
) -> Any:
    if account_key_env is None:
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()
    key = environ.get(account_key_env)
    if not key:
        raise AuditConfigError(
            f"audit.azure_account_key_env names {account_key_env!r}, but that environment "
            "variable is not set or empty; expected the storage account key"
        )
    from azure.core.credentials import AzureNamedKeyCredential

    return AzureNamedKeyCredential(str(location.account), key)


def open_sink(
    location: SinkLocation,
    *,
    s3_endpoint_url: str | None = None,
    azure_account_key_env: str | None = None,
    azure_immutability: Immutability = "blob",
    environ: Mapping[str, str] = os.environ,
) -> Sink:
    """The sink at ``location``; cloud SDKs are imported only when used."""
    if location.kind == "file":
        assert location.path is not None
        return LocalSink(location.path)
    if location.kind == "s3":
        import boto3

        from gateway.audit.sinks.s3 import S3Sink

        client = boto3.client("s3", endpoint_url=s3_endpoint_url)
        return S3Sink(client, str(location.bucket), location.prefix)
    from gateway.audit.sinks.azure import AzureBlobSink

    return AzureBlobSink.from_url(
        str(location.container_url),
        prefix=location.prefix,
        credential=_azure_credential(location, azure_account_key_env, environ),
        immutability=azure_immutability,
    )
