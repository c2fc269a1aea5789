"""The process entry point: config errors exit 2 naming the field; the issue's YAML builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.config import load_config
from gateway.server import EXIT_CONFIG, build_parser, main
from tests.gateway.test_config import ISSUE_YAML


def test_invalid_config_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(ISSUE_YAML.replace("currency: EUR", "currency: euro"))
    assert main(["--config", str(path)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "currency: got 'euro'; expected" in err


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "absent.yaml")]) == EXIT_CONFIG
    assert "cannot read the config file" in capsys.readouterr().err


def test_missing_secret_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    path = tmp_path / "gateway.yaml"
    path.write_text(ISSUE_YAML)
    assert main(["--config", str(path)]) == EXIT_CONFIG
    assert "VLLM_API_KEY is not set" in capsys.readouterr().err


def test_bad_worker_count_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "x.yaml"), "--workers", "0"]) == EXIT_CONFIG
    assert "--workers: got 0" in capsys.readouterr().err


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["--config", "g.yaml"])
    assert (args.host, args.port, args.workers, args.access_log) == (None, None, 1, False)


def test_the_issue_yaml_builds_every_provider(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        ISSUE_YAML.replace("sqlite:///./gatehouse.db", f"sqlite:///{tmp_path / 'g.db'}")
    )
    app = create_app(load_config(path), environ={"VLLM_API_KEY": "v", "ANTHROPIC_API_KEY": "a"})
    providers = {
        name: [t.adapter.provider for t in targets] for name, targets in app.routes.items()
    }
    assert providers == {
        "chat-eu": ["openai", "azure_openai", "bedrock", "anthropic"],
        "embed-eu": ["openai"],
    }


def test_serving_moves_the_start_up_heap_out_of_the_collectors_reach() -> None:
    import gc

    from gateway.server import for_serving

    marker = object()
    try:
        assert for_serving(marker) is marker  # type: ignore[arg-type]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
