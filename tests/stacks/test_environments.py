from pathlib import Path

import pytest

from stacks.environments import (
    SECRET_PLACEHOLDER,
    EnvironmentError_,
    list_environments,
    load_stack_config,
    to_engine_config,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text)
    return path


def test_missing_environment_lists_the_available_ones(tmp_path: Path) -> None:
    write(tmp_path, "dev-eu", "config: {}\n")
    write(tmp_path, "prod-eu", "config: {}\n")
    with pytest.raises(EnvironmentError_) as err:
        load_stack_config(tmp_path, "staging")
    message = str(err.value)
    assert "'staging' not found" in message
    assert "Available environments: dev-eu, prod-eu" in message


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "bad", "config:\n  gatehouse:cost_center: [unclosed\n")
    with pytest.raises(EnvironmentError_) as err:
        load_stack_config(tmp_path, "bad")
    assert "Pulumi.bad.yaml is not valid YAML at line" in str(err.value)


def test_stack_file_without_config_mapping(tmp_path: Path) -> None:
    write(tmp_path, "empty", "- just\n- a list\n")
    with pytest.raises(EnvironmentError_, match="has no 'config:' mapping"):
        load_stack_config(tmp_path, "empty")


def test_key_without_namespace_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "nons", "config:\n  cost_center: CC-1\n")
    with pytest.raises(EnvironmentError_, match="has no namespace"):
        load_stack_config(tmp_path, "nons")


def test_engine_config_is_flat_strings_and_hides_secrets() -> None:
    flat = to_engine_config(
        {
            "gatehouse:cost_center": "CC-1",
            "gatehouse:residency": {"zone": "eu", "allowed_regions": ["swedencentral"]},
            "gatehouse:flag": True,
            "gatehouse:secret": {"secure": "v1:abc"},
        }
    )
    assert flat["gatehouse:cost_center"] == "CC-1"
    assert flat["gatehouse:residency"] == '{"zone": "eu", "allowed_regions": ["swedencentral"]}'
    assert flat["gatehouse:flag"] == "true"
    assert flat["gatehouse:secret"] == SECRET_PLACEHOLDER


def test_list_environments(tmp_path: Path) -> None:
    write(tmp_path, "b", "config: {}\n")
    write(tmp_path, "a", "config: {}\n")
    assert list_environments(tmp_path) == ["a", "b"]
