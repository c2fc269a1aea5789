"""The S3 sink against moto: Object Lock COMPLIANCE retention, idempotence, verify from s3://."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from moto import mock_aws

from gateway.audit import AuditTrail, Backoff, ShipFailure, verify
from gateway.audit.cli import main
from tests.gateway.audit.support import append_sequentially, config, public_b64, wait_until

BUCKET = "gatehouse-audit"
REGION = "eu-central-1"
SINK = f"s3://{BUCKET}/prod/eu"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=BUCKET,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=True,
        )
        yield client


def keys(client: Any, prefix: str = "prod/eu/") -> list[str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


async def run_trail(directory: Path, events: int, **extra: Any) -> AuditTrail:
    trail = AuditTrail(config(sink=SINK, segment_max_events=3), default_dir=directory, **extra)
    await trail.start()
    await append_sequentially(trail, events)
    await trail.aclose()
    return trail


async def test_objects_carry_compliance_retention_and_verify_from_s3(
    s3: Any, tmp_path: Path, signing_key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = await run_trail(tmp_path / "wal", 7)
    names = keys(s3)
    assert names == [f"prod/eu/{trail.trail_id}/{n:012d}.jsonl" for n in (1, 2, 3)]
    now = datetime.now(UTC)
    for key in names:
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        until = head["ObjectLockRetainUntilDate"]
        assert now + timedelta(days=399) < until < now + timedelta(days=401)
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert head["ETag"].strip('"') == hashlib.md5(body, usedforsecurity=False).hexdigest()
        with pytest.raises(s3.exceptions.ClientError):  # COMPLIANCE: not even deletable
            s3.delete_object(Bucket=BUCKET, Key=key, VersionId=head["VersionId"])

    public = public_b64(signing_key.public_key())
    result = verify(SINK, public)
    assert result.ok, result.problems
    assert result.trails[0].events == 7
    assert main(["verify", SINK, "--public-key", public]) == 0
    assert "7 event(s)" in capsys.readouterr().out


async def test_restart_reships_without_duplicates(
    s3: Any, tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    directory = tmp_path / "wal"
    await run_trail(directory, 6)
    (directory / "shipped.json").unlink()  # crash after the upload, before recording it
    failures: list[ShipFailure] = []
    await run_trail(directory, 1, on_ship_failure=failures.append)
    assert failures == []
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="prod/eu/")["Versions"]
    per_key: dict[str, int] = {}
    for version in versions:
        per_key[version["Key"]] = per_key.get(version["Key"], 0) + 1
    assert len(per_key) == 3 and set(per_key.values()) == {1}
    assert verify(SINK, public_b64(signing_key.public_key())).ok


async def test_overwritten_object_version_is_detected(
    s3: Any, tmp_path: Path, signing_key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = await run_trail(tmp_path / "wal", 6)
    key = f"prod/eu/{trail.trail_id}/000000000002.jsonl"
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    forged = body.replace(b'"status":200', b'"status":201', 1)
    s3.put_object(  # a new version on top of the locked one
        Bucket=BUCKET,
        Key=key,
        Body=forged,
        ContentMD5=base64.b64encode(hashlib.md5(forged, usedforsecurity=False).digest()).decode(),
    )
    public = public_b64(signing_key.public_key())
    problem = verify(SINK, public).first_problem
    assert problem is not None and (problem.segment, problem.seq) == (2, 4)
    assert main(["verify", SINK, "--public-key", public]) == 1
    assert "segment 2 seq 4" in capsys.readouterr().err


async def test_bucket_without_object_lock_is_reported(
    s3: Any, tmp_path: Path, signing_key: object
) -> None:
    s3.create_bucket(Bucket="no-lock", CreateBucketConfiguration={"LocationConstraint": REGION})
    failures: list[ShipFailure] = []
    trail = AuditTrail(
        config(sink="s3://no-lock/audit", segment_max_events=2),
        default_dir=tmp_path / "wal",
        on_ship_failure=failures.append,
        backoff=Backoff(initial=0.01, maximum=0.02),
    )
    await trail.start()
    await append_sequentially(trail, 2)
    await wait_until(lambda: bool(failures))
    await trail.aclose()
    assert "ObjectLockConfiguration" in failures[0].error
    assert s3.list_objects_v2(Bucket="no-lock").get("KeyCount", 0) == 0
