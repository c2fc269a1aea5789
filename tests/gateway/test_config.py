"""The config model: the issue's YAML loads as written; bad configs fail with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app import create_app
from gateway.config import (
    AzureOpenAIDeployment,
    BedrockDeployment,
    ConfigError,
    GatewayConfig,
    OpenAIDeployment,
    load_config,
    parse_config,
    render_config,
)

ISSUE_YAML = """\
listen: {host: 127.0.0.1, port: 8080}
store: sqlite:///./gatehouse.db
currency: EUR
jurisdictions: [eu]            # allowed for callers whose identity names none
models:
  - name: chat-eu              # the "model" clients send
    deployments:
      - provider: openai       # any OpenAI-compatible server: vLLM, OpenAI
        base_url: http://127.0.0.1:9100/v1
        model: llama-3.1-8b
        region: onprem-fra1
        jurisdiction: eu
        api_key_env: VLLM_API_KEY
        price: {input_per_mtok: 0.10, output_per_mtok: 0.20}
      - provider: azure_openai
        endpoint: https://acme-eu.openai.azure.com
        deployment: gpt-4o
        api_version: "2024-10-21"
        region: swedencentral
        jurisdiction: eu
        auth: managed_identity # or api_key_env: AZURE_OPENAI_KEY
      - provider: bedrock
        region: eu-central-1
        model: eu.anthropic.claude-3-7-sonnet-20250219-v1:0
        jurisdiction: eu
      - provider: anthropic
        model: claude-sonnet-4-5
        region: us
        jurisdiction: us
        api_key_env: ANTHROPIC_API_KEY
  - name: embed-eu
    deployments:
      - provider: openai
        base_url: http://127.0.0.1:9100/v1
        model: bge-m3
        region: onprem-fra1
        jurisdiction: eu
auth:
  api_keys: true
  oidc:
    - issuer: https://login.microsoftonline.com/TENANT/v2.0
      audience: api://gatehouse
      claims: {team: groups, cost_center: costCenter, jurisdictions: dataZones}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def minimal(**overrides: Any) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "chat",
                "deployments": [
                    {
                        "provider": "openai",
                        "base_url": "http://127.0.0.1:9100/v1",
                        "model": "m",
                        "region": "r",
                        "jurisdiction": "eu",
                    }
                ],
            }
        ],
        **overrides,
    }


def error_of(data: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return str(caught.value)


def test_the_issue_yaml_loads_exactly_as_written(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ISSUE_YAML))
    assert (cfg.listen.host, cfg.listen.port) == ("127.0.0.1", 8080)
    assert cfg.store == "sqlite:///./gatehouse.db"
    assert cfg.currency == "EUR"
    assert cfg.jurisdictions == ["eu"]
    chat, embed = cfg.models
    vllm, azure, bedrock, anthropic = chat.deployments
    assert isinstance(vllm, OpenAIDeployment)
    assert vllm.api_key_env == "VLLM_API_KEY"
    assert vllm.price.input_per_mtok == 0.10
    assert isinstance(azure, AzureOpenAIDeployment)
    assert (azure.auth, azure.api_version, azure.deployment) == (
        "managed_identity",
        "2024-10-21",
        "gpt-4o",
    )
    assert isinstance(bedrock, BedrockDeployment)
    assert bedrock.model == "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
    assert anthropic.jurisdiction == "us"
    assert embed.name == "embed-eu"
    assert cfg.auth.api_keys is True
    (issuer,) = cfg.auth.oidc
    assert issuer.issuer == "https://login.microsoftonline.com/TENANT/v2.0"
    assert (issuer.claims.team, issuer.claims.cost_center, issuer.claims.jurisdictions) == (
        "groups",
        "costCenter",
        "dataZones",
    )
    assert cfg.max_body_bytes == 4 * 1024 * 1024


def test_render_round_trips(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ISSUE_YAML))
    rendered = render_config(cfg)
    assert load_config(write(tmp_path, rendered)) == cfg
    first = yaml.safe_load(rendered)["models"][0]["deployments"][0]
    assert next(iter(first)) == "provider"


def test_secure_defaults() -> None:
    cfg = parse_config(minimal())
    assert cfg.listen.host == "127.0.0.1"
    assert cfg.jurisdictions == []  # callers naming no jurisdiction reach nothing
    assert cfg.store == "sqlite:///./gatehouse.db"
    assert cfg.auth.admin_key_env == "GATEHOUSE_ADMIN_KEY"
    assert cfg.auth.key_refresh_seconds <= 1.0
    assert cfg.max_body_bytes == 4 * 1024 * 1024


def test_every_problem_is_named_with_path_value_and_expectation() -> None:
    data = yaml.safe_load(ISSUE_YAML)
    data["models"][0]["deployments"][1]["endpoint"] = "ftp://acme"
    data["models"][0]["deployments"][0]["price"]["input_per_mtok"] = "cheap"
    del data["models"][1]["deployments"][0]["region"]
    data["listen"]["prot"] = 1
    message = error_of(data)
    assert "models[0].deployments[1].endpoint: got 'ftp://acme'; expected" in message
    assert (
        "models[0].deployments[0].price.input_per_mtok: got 'cheap'; expected a valid number"
        in message
    )
    assert "models[1].deployments[0].region: got nothing; expected this required field" in message
    assert "listen.prot: got 1; expected no such field" in message


def test_unknown_provider_is_named() -> None:
    data = minimal()
    data["models"][0]["deployments"][0]["provider"] = "cohere"
    message = error_of(data)
    assert (
        "models[0].deployments[0].provider: got 'cohere'; "
        "expected one of 'openai', 'azure_openai', 'bedrock', 'anthropic'"
    ) in message
    del data["models"][0]["deployments"][0]["provider"]
    assert "models[0].deployments[0].provider: got nothing" in error_of(data)


def test_store_password_in_config_is_refused() -> None:
    message = error_of(minimal(store="postgresql://app:hunter2@db:5432/gatehouse"))
    assert "store: got 'postgresql://app:hunter2@db:5432/gatehouse'" in message
    assert "PGPASSWORD" in message
    assert parse_config(minimal(store="postgresql://app@db:5432/gatehouse")).store.startswith(
        "postgresql"
    )


def test_unknown_store_scheme_is_refused() -> None:
    assert "store: got 'mysql://db/x'" in error_of(minimal(store="mysql://db/x"))


@pytest.mark.parametrize(
    ("issuer", "ok"),
    [
        ("https://login.example.com/tenant/v2.0", True),
        ("http://127.0.0.1:8443/realms/x", True),
        ("http://localhost:8443", True),
        ("http://idp.example.com", False),
        ("http://10.0.0.5/realms/x", False),
    ],
)
def test_oidc_issuer_must_be_https_unless_loopback(issuer: str, ok: bool) -> None:
    data = minimal(auth={"oidc": [{"issuer": issuer, "audience": "api://gatehouse"}]})
    if ok:
        assert parse_config(data).auth.oidc[0].issuer == issuer
    else:
        message = error_of(data)
        assert f"auth.oidc[0].issuer: got '{issuer}'; expected an https URL" in message


def test_oidc_refuses_symmetric_algorithms() -> None:
    data = minimal(
        auth={
            "oidc": [
                {"issuer": "https://idp.example.com", "audience": "a", "algorithms": ["HS256"]}
            ]
        }
    )
    assert "auth.oidc[0].algorithms[0]: got 'HS256'" in error_of(data)


def test_plain_http_upstream_needs_an_explicit_opt_in() -> None:
    data = minimal()
    data["models"][0]["deployments"][0]["base_url"] = "http://vllm.internal:8000/v1"
    assert "allow_insecure_http" in error_of(data)
    data["models"][0]["deployments"][0]["allow_insecure_http"] = True
    assert parse_config(data).models[0].deployments[0].provider == "openai"


def test_azure_auth_must_be_chosen() -> None:
    azure = {
        "provider": "azure_openai",
        "endpoint": "https://x.openai.azure.com",
        "deployment": "gpt-4o",
        "api_version": "2024-10-21",
        "region": "swedencentral",
        "jurisdiction": "eu",
    }
    data = minimal()
    data["models"][0]["deployments"] = [azure]
    assert "api_key_env" in error_of(data)
    data["models"][0]["deployments"] = [{**azure, "api_key_env": "AZURE_OPENAI_KEY"}]
    assert parse_config(data).models[0].deployments[0].provider == "azure_openai"
    data["models"][0]["deployments"] = [{**azure, "auth": "managed_identity", "api_key_env": "K"}]
    assert "not both" in error_of(data)


def test_some_authentication_must_be_enabled() -> None:
    message = error_of(minimal(auth={"api_keys": False}))
    assert "auth: got" in message and "at least one oidc issuer" in message


def test_duplicate_model_names_are_refused() -> None:
    data = minimal()
    data["models"] = data["models"] * 2
    assert "repeated: chat" in error_of(data)


def test_yaml_errors_and_missing_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "models: [\n"))
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_missing_upstream_secret_fails_at_start_up(tmp_path: Path) -> None:
    data = minimal(store=f"sqlite:///{tmp_path / 'g.db'}")
    data["models"][0]["deployments"][0]["api_key_env"] = "VLLM_API_KEY"
    cfg = parse_config(data)
    with pytest.raises(ConfigError) as caught:
        create_app(cfg, environ={})
    assert "models[0].deployments[0].api_key_env" in str(caught.value)
    assert "VLLM_API_KEY is not set" in str(caught.value)


def test_short_admin_key_fails_at_start_up(tmp_path: Path) -> None:
    cfg = parse_config(minimal(store=f"sqlite:///{tmp_path / 'g.db'}"))
    with pytest.raises(ConfigError, match="GATEHOUSE_ADMIN_KEY: got a key of 5 characters"):
        create_app(cfg, environ={"GATEHOUSE_ADMIN_KEY": "short"})


def test_config_model_is_frozen() -> None:
    cfg = parse_config(minimal())
    with pytest.raises(ValueError, match="frozen"):
        cfg.currency = "EUR"  # type: ignore[misc]
    assert isinstance(cfg, GatewayConfig)
