"""An Azure Blob sink (``https://<account>.blob.core.windows.net/<container>[/prefix]``).

Blobs are created with ``overwrite=False`` (an existing name is never replaced) and a
Content-MD5 the service checks. Immutability follows ``audit.azure_immutability``:

* ``blob`` (default): each blob is uploaded with a *Locked* time-based immutability policy
  until ``retain_until``, and ``protect`` reads it back, setting it when missing. The
  container must have version-level immutability support enabled, or Azure refuses.
* ``container``: the container must carry a container-level WORM policy (set by the
  platform); ``protect`` checks that it does.
* ``unprotected``: no immutability at all; for emulators only. Azurite implements neither
  blob immutability policies nor container WORM (``Set Blob Immutability Policy`` answers
  *not implemented* and containers report no immutability policy), so the test suite runs
  the ``blob`` and ``container`` modes against it only to see their failure reported.

Sources: https://learn.microsoft.com/rest/api/storageservices/set-blob-immutability-policy,
https://learn.microsoft.com/azure/storage/blobs/immutable-policy-configure-version-scope,
https://learn.microsoft.com/azure/storage/blobs/immutable-container-level-worm-policies
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings, ImmutabilityPolicy

from gateway.audit.errors import ShipError
from gateway.audit.location import Immutability


class AzureBlobSink:
    def __init__(
        self, container: ContainerClient, prefix: str = "", immutability: Immutability = "blob"
    ) -> None:
        self._container = container
        self.prefix = prefix.strip("/")
        self.immutability = immutability
        self._container_checked = False

    @classmethod
    def from_url(
        cls,
        container_url: str,
        *,
        prefix: str = "",
        credential: Any = None,
        immutability: Immutability = "blob",
    ) -> AzureBlobSink:
        return cls(
            ContainerClient.from_container_url(container_url, credential=credential),
            prefix,
            immutability,
        )

    @property
    def url(self) -> str:
        base = self._container.url.rstrip("/")
        return f"{base}/{self.prefix}" if self.prefix else base

    def _name(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def get(self, name: str) -> bytes | None:
        try:
            return self._container.download_blob(self._name(name)).readall()
        except ResourceNotFoundError:
            return None

    def put_new(self, name: str, data: bytes, retain_until: datetime) -> bool:
        md5 = bytearray(hashlib.md5(data, usedforsecurity=False).digest())
        options: dict[str, Any] = {}
        if self.immutability == "blob":
            options["immutability_policy"] = ImmutabilityPolicy(
                expiry_time=retain_until, policy_mode="Locked"
            )
        try:
            self._container.upload_blob(
                self._name(name),
                data,
                overwrite=False,
                content_settings=ContentSettings(
                    content_type="application/x-ndjson", content_md5=md5
                ),
                validate_content=True,
                **options,
            )
        except ResourceExistsError:
            return False
        return True

    def protect(self, name: str, retain_until: datetime) -> None:
        if self.immutability == "container":
            self._check_container()
        elif self.immutability == "blob":
            blob = self._container.get_blob_client(self._name(name))
            policy = blob.get_blob_properties().immutability_policy
            if policy is None or policy.expiry_time is None:
                blob.set_immutability_policy(
                    ImmutabilityPolicy(expiry_time=retain_until, policy_mode="Locked")
                )

    def _check_container(self) -> None:
        if self._container_checked:
            return
        if not self._container.get_container_properties().has_immutability_policy:
            raise ShipError(
                f"{self.url}: audit.azure_immutability is 'container' but the container has "
                "no immutability (WORM) policy"
            )
        self._container_checked = True

    def list(self) -> list[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        return sorted(
            blob.name[len(start) :]
            for blob in self._container.list_blobs(name_starts_with=start or None)
        )
