import pytest

from stacks.spec import SpecError, spec_from_config

BASE = {
    "gatehouse:business_unit": "payments",
    "gatehouse:cost_center": "CC-1001",
    "gatehouse:data_classification": "confidential",
}


def problems(config: dict[str, str]) -> list[str]:
    with pytest.raises(SpecError) as err:
        spec_from_config(config)
    return err.value.problems


def test_minimal_spec_defaults_to_zone_eu_without_global_processing() -> None:
    spec = spec_from_config(BASE)
    assert spec.residency.zone == "eu"
    assert spec.residency.allow_global_processing is False
    assert spec.context("dev").jurisdictions == frozenset({"eu"})


def test_wrong_value_names_key_value_and_expectation() -> None:
    (problem,) = problems({**BASE, "gatehouse:data_classification": "secret"})
    assert problem.startswith("gatehouse:data_classification: got 'secret'; expected")
    assert "confidential" in problem


def test_unknown_top_level_key_lists_the_valid_ones() -> None:
    (problem,) = problems({**BASE, "gatehouse:cost_centre": "CC-1"})
    assert problem.startswith("gatehouse:cost_centre: unknown key; expected one of:")
    assert "cost_center" in problem


def test_unknown_nested_key_lists_the_section_keys() -> None:
    (problem,) = problems({**BASE, "gatehouse:residency": '{"zone": "eu", "regions": []}'})
    assert problem.startswith("gatehouse:residency.regions: unknown key")
    assert "allowed_regions" in problem


def test_missing_key_is_named() -> None:
    config = dict(BASE)
    del config["gatehouse:cost_center"]
    (problem,) = problems(config)
    assert problem.startswith("gatehouse:cost_center: missing")


def test_unknown_zone_and_region() -> None:
    found = problems(
        {**BASE, "gatehouse:residency": '{"zone": "mars", "allowed_regions": ["moon-1"]}'}
    )
    assert any(p.startswith("gatehouse:residency.zone: got 'mars'") for p in found)
    assert any("gatehouse:residency.allowed_regions: got ['moon-1']" in p for p in found)


def test_extra_jurisdictions_extend_the_zone() -> None:
    spec = spec_from_config(
        {**BASE, "gatehouse:residency": '{"zone": "eu", "extra_jurisdictions": ["ch"]}'}
    )
    assert spec.context("dev").jurisdictions == frozenset({"eu", "ch"})
    assert spec.policy_settings()["extraJurisdictions"] == ["ch"]


def test_colocation_exception_needs_a_written_reason() -> None:
    (problem,) = problems(
        {
            **BASE,
            "gatehouse:residency": '{"colocation_exceptions": [{"compute_region": '
            '"eu-central-1", "data_region": "eu-west-1", "reason": "x"}]}',
        }
    )
    assert problem.startswith("gatehouse:residency.colocation_exceptions[0].reason")
