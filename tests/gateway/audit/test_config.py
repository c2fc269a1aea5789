"""AuditConfig: the YAML forms load as written; defaults are the safe ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from gateway.audit import AuditConfig, default_audit_dir
from gateway.audit.location import parse_location
from gateway.validation import problems


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("audit: {sink: file:///var/lib/gatehouse/audit}", "file"),
        ("audit: {sink: s3://bucket/prefix}", "s3"),
        ("audit: {sink: 'https://acct.blob.core.windows.net/container'}", "azure"),
    ],
)
def test_sink_forms_load_as_written(text: str, kind: str) -> None:
    cfg = AuditConfig.model_validate(yaml.safe_load(text)["audit"])
    assert cfg.resolved_sink(Path("/unused")).kind == kind


def test_locations_are_parsed() -> None:
    file = parse_location("file:///var/lib/gatehouse/audit")
    assert file.path == Path("/var/lib/gatehouse/audit")
    s3 = parse_location("s3://bucket/a/b/")
    assert (s3.bucket, s3.prefix) == ("bucket", "a/b")
    azure = parse_location("https://acct.blob.core.windows.net/container/p")
    assert (azure.account, azure.container_url, azure.prefix) == (
        "acct",
        "https://acct.blob.core.windows.net/container",
        "p",
    )
    emulator = parse_location("http://127.0.0.1:10000/devstoreaccount1/c")
    assert (emulator.account, emulator.container_url) == (
        "devstoreaccount1",
        "http://127.0.0.1:10000/devstoreaccount1/c",
    )


@pytest.mark.parametrize(
    ("sink", "expected"),
    [
        ("ftp://host/x", "file:///absolute/path, s3://bucket/prefix or https://"),
        ("file://relative/x", "file:///absolute/path"),
        ("s3:///prefix", "s3://bucket/prefix (the bucket is missing)"),
        ("http://acct.blob.core.windows.net/c", "plain http is allowed only for a loopback"),
        ("https://acct.blob.core.windows.net", "(the container is missing)"),
    ],
)
def test_bad_sink_names_field_value_and_expectation(sink: str, expected: str) -> None:
    data = {"sink": sink}
    with pytest.raises(ValidationError) as error:
        AuditConfig.model_validate(data)
    (problem,) = problems(error.value, data)
    assert (problem.path, problem.received) == ("sink", repr(sink))
    assert expected in problem.expected
    assert str(problem).startswith(f"sink: got {sink!r}; expected ")


def test_defaults_are_safe() -> None:
    cfg = AuditConfig()
    assert cfg.store_content_teams == ()
    assert not cfg.stores_content("payments") and not cfg.stores_content(None)
    assert cfg.retention_days == 400
    assert cfg.azure_immutability == "blob"
    assert cfg.signing_key_env is None
    with pytest.raises(ValidationError):
        AuditConfig(retention_days=0)
    with pytest.raises(ValidationError):
        AuditConfig(unknown=1)  # type: ignore[call-arg]


def test_content_is_stored_only_for_listed_teams() -> None:
    cfg = AuditConfig(store_content_teams=("research",))
    assert cfg.stores_content("research") and not cfg.stores_content("payments")


def test_without_a_section_the_trail_sits_beside_the_store(tmp_path: Path) -> None:
    assert default_audit_dir("sqlite:///./gatehouse.db") == Path("gatehouse-audit")
    assert default_audit_dir("sqlite:////srv/gh/gatehouse.db") == Path("/srv/gh/gatehouse-audit")
    assert default_audit_dir("postgresql://db/gh") == Path("gatehouse-audit")
    cfg = AuditConfig()
    wal = cfg.resolved_dir(tmp_path / "gatehouse-audit")
    assert wal == tmp_path / "gatehouse-audit"
    sink = cfg.resolved_sink(wal)
    assert (sink.kind, sink.path) == ("file", wal / "archive")
