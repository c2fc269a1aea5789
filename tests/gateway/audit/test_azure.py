"""The Azure Blob sink against Azurite: shipping, idempotence, verify from the URL, and the
immutability modes Azurite cannot honour being reported rather than silently skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob import ContainerClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import AuditTrail, Backoff, ShipFailure, verify
from gateway.audit.cli import main
from tests.gateway.audit.azurite import ACCOUNT, ACCOUNT_KEY, KEY_ENV, Azurite
from tests.gateway.audit.support import append_sequentially, config, public_b64, wait_until

pytestmark = pytest.mark.services


@pytest.fixture
def container(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> ContainerClient:
    monkeypatch.setenv(KEY_ENV, ACCOUNT_KEY)
    client = ContainerClient.from_container_url(
        azurite.container_url(), credential=AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY)
    )
    client.create_container()
    return client


def azure_config(container: ContainerClient, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "sink": f"{container.url}/prod",
        "azure_account_key_env": KEY_ENV,
        "azure_immutability": "unprotected",
        "segment_max_events": 3,
    }
    fields.update(overrides)
    return config(**fields)


def blobs(container: ContainerClient) -> dict[str, str]:
    return {b.name: str(b.etag) for b in container.list_blobs(name_starts_with="prod/")}


async def run_trail(directory: Path, cfg: Any, events: int, **extra: Any) -> AuditTrail:
    trail = AuditTrail(cfg, default_dir=directory, **extra)
    await trail.start()
    await append_sequentially(trail, events)
    await trail.aclose()
    return trail


async def test_ships_to_azure_and_verifies_from_the_url(
    container: ContainerClient,
    tmp_path: Path,
    signing_key: Ed25519PrivateKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trail = await run_trail(tmp_path / "wal", azure_config(container), 7)
    assert sorted(blobs(container)) == [f"prod/{trail.trail_id}/{n:012d}.jsonl" for n in (1, 2, 3)]
    props = container.get_blob_client(f"prod/{trail.trail_id}/000000000001.jsonl")
    assert props.get_blob_properties().content_settings.content_md5 is not None
    public = public_b64(signing_key.public_key())
    url = f"{container.url}/prod"
    result = verify(url, public, azure_account_key_env=KEY_ENV)
    assert result.ok, result.problems
    assert result.trails[0].events == 7
    code = main(["verify", url, "--public-key", public, "--azure-account-key-env", KEY_ENV])
    assert code == 0, capsys.readouterr().err


async def test_restart_reships_without_duplicates_or_rewrites(
    container: ContainerClient, tmp_path: Path, signing_key: object
) -> None:
    directory = tmp_path / "wal"
    await run_trail(directory, azure_config(container), 6)
    before = blobs(container)
    (directory / "shipped.json").unlink()
    failures: list[ShipFailure] = []
    await run_trail(directory, azure_config(container), 0, on_ship_failure=failures.append)
    assert failures == []
    assert blobs(container) == before  # same names, same etags: nothing re-written


@pytest.mark.parametrize(
    ("mode", "message"),
    [("blob", "not implemented"), ("container", "no immutability (WORM) policy")],
)
async def test_immutability_azurite_cannot_honour_is_reported(
    container: ContainerClient, tmp_path: Path, signing_key: object, mode: str, message: str
) -> None:
    failures: list[ShipFailure] = []
    trail = AuditTrail(
        azure_config(container, azure_immutability=mode, segment_max_events=1),
        default_dir=tmp_path / "wal",
        on_ship_failure=failures.append,
        backoff=Backoff(initial=0.01, maximum=0.02),
    )
    await trail.start()
    await append_sequentially(trail, 1)
    await wait_until(lambda: bool(failures))
    await trail.aclose()
    assert message in failures[0].error.lower() or message in failures[0].error
    assert not (tmp_path / "wal" / "shipped.json").exists()  # never counted as archived
