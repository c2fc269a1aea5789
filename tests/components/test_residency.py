"""The residency tables: lookups, zones, Azure OpenAI SKU scopes, Bedrock profiles, integrity."""

from __future__ import annotations

import re
from datetime import date

import pytest

from components import residency as r

EU_ZONE = r.zone_jurisdictions("eu")


# --- EU member states and region -> jurisdiction ------------------------------------------


def test_eu_member_states_are_the_27_iso_codes() -> None:
    assert len(r.EU_MEMBER_STATES) == 27
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in r.EU_MEMBER_STATES)
    assert "GR" in r.EU_MEMBER_STATES  # ISO code, not the EU's own "EL"
    assert "EL" not in r.EU_MEMBER_STATES
    assert {"GB", "CH", "NO", "IS", "LI"}.isdisjoint(r.EU_MEMBER_STATES)


@pytest.mark.parametrize(
    ("country", "expected"),
    [("DE", "eu"), ("se", "eu"), ("GR", "eu"), ("GB", "uk"), ("CH", "ch"), ("NO", "no")],
)
def test_jurisdiction_for_country(country: str, expected: str) -> None:
    assert r.jurisdiction_for_country(country) == expected


# Countries of EU member states that host at least one region in the tables. Listed
# explicitly so a row dropped or re-mapped by mistake shows up here.
EU_COUNTRIES_WITH_AWS_REGIONS = {"DE", "SE", "IT", "ES", "IE", "FR"}
EU_COUNTRIES_WITH_AZURE_REGIONS = {"AT", "BE", "DK", "FR", "DE", "IE", "IT", "NL", "PL", "ES", "SE"}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (r.AWS_REGIONS, EU_COUNTRIES_WITH_AWS_REGIONS),
        (r.AZURE_REGIONS, EU_COUNTRIES_WITH_AZURE_REGIONS),
    ],
    ids=["aws", "azure"],
)
def test_every_eu_member_state_with_a_region_maps_to_eu(
    table: dict[str, r.Region], expected: set[str]
) -> None:
    eu_countries_present = {reg.country for reg in table.values()} & r.EU_MEMBER_STATES
    assert eu_countries_present == expected
    for reg in table.values():
        if reg.country in r.EU_MEMBER_STATES:
            assert reg.jurisdiction == "eu", reg
        else:
            assert reg.jurisdiction != "eu", reg


@pytest.mark.parametrize(
    ("cloud", "region", "jurisdiction"),
    [
        ("aws", "eu-central-1", "eu"),
        ("aws", "eu-west-1", "eu"),
        ("aws", "eu-north-1", "eu"),
        ("aws", "eu-south-2", "eu"),
        ("aws", "eu-west-2", "uk"),  # London
        ("aws", "eu-central-2", "ch"),  # Zurich
        ("aws", "us-east-1", "us"),
        ("aws", "ca-west-1", "ca"),
        ("aws", "ap-east-1", "hk"),
        ("aws", "il-central-1", "il"),
        ("aws", "us-gov-west-1", "us"),  # GovCloud partition
        ("aws", "cn-north-1", "cn"),  # China partition
        ("aws", "eusc-de-east-1", "eu"),  # European Sovereign Cloud
        ("azure", "swedencentral", "eu"),
        ("azure", "germanywestcentral", "eu"),
        ("azure", "westeurope", "eu"),
        ("azure", "northeurope", "eu"),
        ("azure", "uksouth", "uk"),
        ("azure", "switzerlandnorth", "ch"),
        ("azure", "norwayeast", "no"),  # Oslo
        ("azure", "norwaywest", "no"),  # Stavanger
        ("azure", "westus", "us"),
        ("azure", "eastasia", "hk"),
        ("azure", "southeastasia", "sg"),
    ],
)
def test_jurisdiction_of(cloud: str, region: str, jurisdiction: str) -> None:
    assert r.jurisdiction_of(cloud, region) == jurisdiction


@pytest.mark.parametrize(
    ("cloud", "region"),
    [
        ("aws", "eu-west-2"),
        ("aws", "eu-central-2"),
        ("azure", "uksouth"),
        ("azure", "ukwest"),
        ("azure", "switzerlandnorth"),
        ("azure", "switzerlandwest"),
        ("azure", "norwayeast"),
        ("azure", "norwaywest"),
    ],
)
def test_london_zurich_and_norway_are_outside_the_default_zone(cloud: str, region: str) -> None:
    assert r.zone_jurisdictions("eu") == {"eu"}
    assert not r.region_in_zone(cloud, region, EU_ZONE)


def test_a_spec_can_add_uk_ch_and_no_explicitly() -> None:
    allowed = r.zone_jurisdictions("eu", ["uk", "CH", " no "])
    assert allowed == {"eu", "uk", "ch", "no"}
    assert r.region_in_zone("azure", "uksouth", allowed)
    assert r.region_in_zone("aws", "eu-central-2", allowed)
    assert r.region_in_zone("azure", "norwayeast", allowed)
    assert not r.region_in_zone("aws", "us-east-1", allowed)


def test_azure_global_location_is_outside_every_zone() -> None:
    assert r.jurisdiction_of("azure", "Global") == r.GLOBAL_JURISDICTION
    for zone in r.ZONES:
        assert not r.region_in_zone("azure", "global", r.zone_jurisdictions(zone))


# --- Normalisation and errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sweden Central", "swedencentral"),
        (" SWEDEN  central ", "swedencentral"),
        ("swedencentral", "swedencentral"),
        ("West US 2", "westus2"),
        ("Germany West Central", "germanywestcentral"),
    ],
)
def test_normalize_azure_location(value: str, expected: str) -> None:
    assert r.normalize_azure_location(value) == expected
    assert r.region_info("azure", value).name == expected


def test_every_azure_display_name_normalises_to_its_programmatic_name() -> None:
    for name, reg in r.AZURE_REGIONS.items():
        assert r.normalize_azure_location(reg.display_name) == name
        assert r.jurisdiction_of("azure", reg.display_name) == reg.jurisdiction


def test_aws_region_lookup_ignores_case_and_surrounding_space() -> None:
    assert r.jurisdiction_of("aws", " EU-West-1 ") == "eu"


@pytest.mark.parametrize(
    ("cloud", "region", "hint"),
    [
        ("aws", "eu-west-9", "eu-central-1"),
        ("aws", "swedencentral", "eu-central-1"),  # an Azure name given for AWS
        ("azure", "eu-west-1", "swedencentral"),  # an AWS code given for Azure
        ("azure", "Mars North", "Sweden Central"),
        ("aws", "us-iso-east-1", "eu-central-1"),  # isolated partitions are excluded
        ("azure", "centraluseuap", "swedencentral"),
    ],
)
def test_unknown_region_names_value_and_expectation(cloud: str, region: str, hint: str) -> None:
    with pytest.raises(r.UnknownRegionError) as caught:
        r.jurisdiction_of(cloud, region)
    message = str(caught.value)
    assert repr(region) in message
    assert cloud in message
    assert hint in message
    assert caught.value.cloud == cloud
    assert caught.value.region == region
    with pytest.raises(r.UnknownRegionError):
        r.region_in_zone(cloud, region, EU_ZONE)


def test_unknown_region_lists_every_known_region() -> None:
    with pytest.raises(r.UnknownRegionError) as caught:
        r.region_info("azure", "nowhere")
    assert all(name in str(caught.value) for name in r.AZURE_REGIONS)


def test_non_string_region_fails_closed() -> None:
    with pytest.raises(r.UnknownRegionError):
        r.jurisdiction_of("azure", None)  # type: ignore[arg-type]


def test_unknown_cloud_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown cloud 'gcp': expected one of aws, azure"):
        r.jurisdiction_of("gcp", "europe-west1")


# --- Zones ----------------------------------------------------------------------------------


def test_default_zone_eu_admits_only_eu() -> None:
    assert r.ZONES["eu"] == frozenset({"eu"})
    assert r.zone_jurisdictions(" EU ") == frozenset({"eu"})


def test_unknown_zone_names_valid_zones() -> None:
    with pytest.raises(ValueError) as caught:
        r.zone_jurisdictions("europe")
    message = str(caught.value)
    assert "'europe'" in message
    assert all(zone in message for zone in r.ZONES)


@pytest.mark.parametrize("extra", ["gb", "global", "xx"])
def test_unknown_extra_jurisdiction_is_rejected(extra: str) -> None:
    with pytest.raises(ValueError, match=repr(extra)):
        r.zone_jurisdictions("eu", [extra])


def test_every_zone_is_made_of_known_jurisdictions() -> None:
    for jurisdictions in r.ZONES.values():
        assert jurisdictions <= r.KNOWN_JURISDICTIONS
    assert r.GLOBAL_JURISDICTION not in r.KNOWN_JURISDICTIONS


# --- Azure OpenAI SKUs and data zones -------------------------------------------------------


def test_sku_scope_table() -> None:
    assert dict(r.AZURE_OPENAI_SKU_SCOPE) == {
        "Standard": "regional",
        "ProvisionedManaged": "regional",
        "DataZoneStandard": "datazone",
        "DataZoneProvisionedManaged": "datazone",
        "DataZoneBatch": "datazone",
        "GlobalStandard": "global",
        "GlobalProvisionedManaged": "global",
        "GlobalBatch": "global",
        "Developer": "none",
        "DeveloperTier": "none",
    }


@pytest.mark.parametrize(
    ("sku", "region", "expected"),
    [
        ("Standard", "swedencentral", {"eu"}),
        ("ProvisionedManaged", "Germany West Central", {"eu"}),
        ("Standard", "uksouth", {"uk"}),
        ("Standard", "switzerlandnorth", {"ch"}),
        # Regional SKUs are bound to the Azure geography, which can span jurisdictions.
        ("Standard", "eastasia", {"hk", "sg"}),
        ("Standard", "westeurope", {"eu"}),
        ("DataZoneStandard", "swedencentral", {"eu"}),
        ("DataZoneProvisionedManaged", "francecentral", {"eu"}),
        ("DataZoneBatch", "polandcentral", {"eu"}),
        ("DataZoneStandard", "eastus2", {"us"}),
        ("GlobalStandard", "swedencentral", None),
        ("GlobalProvisionedManaged", "swedencentral", None),
        ("GlobalBatch", "swedencentral", None),
        ("Developer", "swedencentral", None),
    ],
)
def test_azure_sku_jurisdictions(sku: str, region: str, expected: set[str] | None) -> None:
    result = r.azure_sku_jurisdictions(sku, region)
    assert result == (None if expected is None else frozenset(expected))


def test_datazone_sku_in_an_eu_account_stays_in_zone_eu() -> None:
    for region in r.AZURE_DATA_ZONES["eu"]:
        result = r.azure_sku_jurisdictions("DataZoneStandard", region)
        assert result is not None
        assert result <= EU_ZONE


@pytest.mark.parametrize("region", ["uksouth", "switzerlandnorth", "norwayeast", "japaneast"])
def test_datazone_sku_outside_any_data_zone_raises(region: str) -> None:
    with pytest.raises(r.AzureDataZoneError, match=repr(region)):
        r.azure_sku_jurisdictions("DataZoneStandard", region)


def test_unknown_sku_lists_known_skus() -> None:
    with pytest.raises(ValueError) as caught:
        r.azure_sku_jurisdictions("standard", "swedencentral")
    assert "'standard'" in str(caught.value)
    assert all(sku in str(caught.value) for sku in r.AZURE_OPENAI_SKU_SCOPE)


def test_sku_with_unknown_account_region_raises() -> None:
    with pytest.raises(r.UnknownRegionError):
        r.azure_sku_jurisdictions("Standard", "atlantis")


def test_data_zones_membership() -> None:
    eu, us = r.AZURE_DATA_ZONES["eu"], r.AZURE_DATA_ZONES["us"]
    assert {"swedencentral", "germanywestcentral", "francecentral", "westeurope"} <= eu
    assert {"northeurope", "italynorth", "polandcentral", "spaincentral"} <= eu
    assert {"uksouth", "ukwest", "switzerlandnorth", "norwayeast"}.isdisjoint(eu)
    assert {"eastus", "eastus2", "westus", "westus3", "southcentralus"} <= us
    assert eu.isdisjoint(us)
    assert all(r.AZURE_REGIONS[n].jurisdiction == "eu" for n in eu)
    assert all(r.AZURE_REGIONS[n].country == "US" for n in us)
    assert set(r.AZURE_DATA_ZONE_JURISDICTIONS) == set(r.AZURE_DATA_ZONES)
    assert r.azure_data_zone_of("Sweden Central") == "eu"
    assert r.azure_data_zone_of("uksouth") is None


def test_every_azure_region_belongs_to_a_geography_within_one_table() -> None:
    assert set().union(*r.AZURE_GEOGRAPHIES.values()) == set(r.AZURE_REGIONS)
    for name, reg in r.AZURE_REGIONS.items():
        assert name in r.AZURE_GEOGRAPHIES[reg.geography]


# --- Bedrock inference profiles -------------------------------------------------------------

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
EU6 = ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"eu.{SONNET_45}", ("eu", SONNET_45)),
        (f"us.{SONNET_45}", ("us", SONNET_45)),
        (f"apac.{SONNET_45}", ("apac", SONNET_45)),
        (f"global.{SONNET_45}", ("global", SONNET_45)),
        (
            "us-gov.anthropic.claude-3-haiku-20240307-v1:0",
            ("us-gov", "anthropic.claude-3-haiku-20240307-v1:0"),
        ),
        (SONNET_45, (None, SONNET_45)),
        ("amazon.nova-pro-v1:0", (None, "amazon.nova-pro-v1:0")),
    ],
)
def test_split_profile_id(value: str, expected: tuple[str | None, str]) -> None:
    assert r.split_profile_id(value) == expected


def test_prefixes_name_their_geography() -> None:
    assert {"eu.", "us.", "apac.", "jp.", "au.", "ca.", "global."} <= set(
        r.BEDROCK_PROFILE_PREFIXES
    )
    assert all(prefix.endswith(".") for prefix in r.BEDROCK_PROFILE_PREFIXES)


@pytest.mark.parametrize(
    "profile_id",
    [
        "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "eu.anthropic.claude-sonnet-4-20250514-v1:0",
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        f"eu.{SONNET_45}",
        f"us.{SONNET_45}",
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "eu.anthropic.claude-3-haiku-20240307-v1:0",
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        "eu.amazon.nova-pro-v1:0",
        "eu.amazon.nova-lite-v1:0",
        "eu.amazon.nova-micro-v1:0",
        "us.amazon.nova-pro-v1:0",
        "us.amazon.nova-lite-v1:0",
        "us.amazon.nova-micro-v1:0",
        "eu.meta.llama3-2-3b-instruct-v1:0",
        "us.meta.llama3-3-70b-instruct-v1:0",
        "eu.mistral.pixtral-large-2502-v1:0",
        "us.mistral.pixtral-large-2502-v1:0",
    ],
)
def test_required_profiles_are_in_the_snapshot(profile_id: str) -> None:
    snapshot = r.BEDROCK_PROFILES[profile_id]
    assert snapshot.profile_id == profile_id


def test_claude_35_sonnet_v2_has_no_eu_profile() -> None:
    assert "eu.anthropic.claude-3-5-sonnet-20241022-v2:0" not in r.BEDROCK_PROFILES
    with pytest.raises(r.UnknownInferenceProfileError):
        r.bedrock_destinations("eu.anthropic.claude-3-5-sonnet-20241022-v2:0", "eu-west-1")


def test_eu_profile_from_an_eu_source_stays_in_the_eu() -> None:
    profile = f"eu.{SONNET_45}"
    assert r.bedrock_destinations(profile, "eu-central-1") == EU6
    assert r.bedrock_jurisdictions(profile, "eu-central-1") == {"eu"}
    assert r.bedrock_jurisdictions(profile, "eu-central-1") <= EU_ZONE


@pytest.mark.parametrize(
    ("profile", "source", "added_region", "added_jurisdiction"),
    [
        (f"eu.{SONNET_45}", "eu-central-2", "eu-central-2", "ch"),
        (f"eu.{SONNET_45}", "eu-west-2", "eu-west-2", "uk"),
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "eu-central-2", "eu-central-2", "ch"),
        ("eu.anthropic.claude-opus-4-5-20251101-v1:0", "eu-west-2", "eu-west-2", "uk"),
        ("eu.anthropic.claude-sonnet-4-20250514-v1:0", "il-central-1", "il-central-1", "il"),
        ("eu.amazon.nova-pro-v1:0", "il-central-1", "il-central-1", "il"),
        (f"us.{SONNET_45}", "ca-central-1", "ca-central-1", "ca"),
        ("us.amazon.nova-2-lite-v1:0", "ca-west-1", "ca-west-1", "ca"),
    ],
)
def test_the_prefix_is_not_proof_of_where_requests_go(
    profile: str, source: str, added_region: str, added_jurisdiction: str
) -> None:
    assert added_region in r.bedrock_destinations(profile, source)
    jurisdictions = r.bedrock_jurisdictions(profile, source)
    assert added_jurisdiction in jurisdictions
    geography = r.split_profile_id(profile)[0]
    assert geography in jurisdictions
    assert not jurisdictions <= r.zone_jurisdictions(str(geography))


def test_eu_profile_with_zurich_is_inside_eu_plus_ch_only() -> None:
    jurisdictions = r.bedrock_jurisdictions(f"eu.{SONNET_45}", "eu-central-2")
    assert jurisdictions == {"eu", "ch"}
    assert jurisdictions <= r.zone_jurisdictions("eu", ["ch"])


def test_destinations_depend_on_the_source_region() -> None:
    profile = "us.anthropic.claude-3-haiku-20240307-v1:0"
    assert r.bedrock_destinations(profile, "us-east-2") == ("us-east-1", "us-east-2", "us-west-2")
    assert r.bedrock_destinations(profile, "us-west-2") == ("us-east-1", "us-west-2")
    # A source Region is not always among its own destinations (as documented).
    sonnet_35 = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
    assert r.bedrock_destinations(sonnet_35, "us-east-2") == ("us-east-1", "us-west-2")
    assert r.BEDROCK_PROFILES[profile].destination_regions == (
        "us-east-1",
        "us-east-2",
        "us-west-2",
    )


def test_source_region_is_normalised() -> None:
    assert r.bedrock_destinations(f"eu.{SONNET_45}", " EU-CENTRAL-1 ") == EU6


def test_unknown_profile_raises_and_names_the_profile() -> None:
    profile = "eu.anthropic.claude-imaginary-v9:0"
    with pytest.raises(r.UnknownInferenceProfileError) as caught:
        r.bedrock_destinations(profile, "eu-central-1")
    assert repr(profile) in str(caught.value)
    assert "inference-profiles-support" in str(caught.value)
    with pytest.raises(r.UnknownInferenceProfileError):
        r.bedrock_jurisdictions(profile, "eu-central-1")


def test_invalid_source_region_raises_and_lists_sources() -> None:
    profile = "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
    with pytest.raises(r.UnsupportedSourceRegionError) as caught:
        r.bedrock_destinations(profile, "us-east-1")
    message = str(caught.value)
    assert "'us-east-1'" in message
    assert all(src in message for src in r.BEDROCK_PROFILES[profile].source_regions)
    with pytest.raises(r.UnsupportedSourceRegionError):
        r.bedrock_jurisdictions(profile, "eu-central-2")


@pytest.mark.parametrize("region", ["eu-central-1", "us-east-1", "ap-northeast-1"])
def test_global_profile_is_always_outside(region: str) -> None:
    profile = f"global.{SONNET_45}"
    assert r.bedrock_jurisdictions(profile, region) == {r.GLOBAL_JURISDICTION}
    for zone in r.ZONES:
        assert not r.bedrock_jurisdictions(profile, region) <= r.zone_jurisdictions(zone)
    with pytest.raises(r.UnknownInferenceProfileError, match="no fixed destination"):
        r.bedrock_destinations(profile, region)


def test_plain_model_is_processed_in_its_region() -> None:
    assert r.bedrock_jurisdictions(SONNET_45, "eu-central-1") == {"eu"}
    assert r.bedrock_jurisdictions(SONNET_45, "eu-west-2") == {"uk"}
    with pytest.raises(r.UnknownRegionError):
        r.bedrock_jurisdictions(SONNET_45, "eu-nowhere-1")


def test_snapshot_without_routes_shares_destinations() -> None:
    snapshot = r.ProfileSnapshot(
        model_id="m",
        prefix="eu",
        source_regions=("eu-west-1",),
        destination_regions=("eu-west-1", "eu-west-3"),
        source="https://example.invalid",
        checked="2026-11-27",
    )
    assert snapshot.destinations_from("eu-west-1") == ("eu-west-1", "eu-west-3")
    with pytest.raises(r.UnsupportedSourceRegionError):
        snapshot.destinations_from("eu-west-3")


# --- Table integrity --------------------------------------------------------------------------


def test_every_region_jurisdiction_is_consistent_with_its_country() -> None:
    tables = (r.AWS_REGIONS, r.AWS_SEPARATE_PARTITION_REGIONS, r.AZURE_REGIONS)
    for table in tables:
        for name, reg in table.items():
            assert reg.name == name
            assert re.fullmatch(r"[A-Z]{2}", reg.country), reg
            assert reg.jurisdiction == r.jurisdiction_for_country(reg.country), reg
            assert reg.display_name
    assert set(r.AWS_REGIONS).isdisjoint(r.AWS_SEPARATE_PARTITION_REGIONS)
    assert all(reg.cloud == "aws" for reg in r.AWS_REGIONS.values())
    assert all(reg.cloud == "azure" for reg in r.AZURE_REGIONS.values())
    assert all(reg.geography for reg in r.AZURE_REGIONS.values())


def test_aws_region_codes_are_well_formed() -> None:
    for name in (*r.AWS_REGIONS, *r.AWS_SEPARATE_PARTITION_REGIONS):
        assert re.fullmatch(r"[a-z]{2,4}(-[a-z]+)+-\d", name), name


def test_azure_programmatic_names_are_well_formed() -> None:
    for name in r.AZURE_REGIONS:
        assert re.fullmatch(r"[a-z0-9]+", name), name


def test_every_table_entry_cites_an_official_source() -> None:
    for reg in (*r.AWS_REGIONS.values(), *r.AWS_SEPARATE_PARTITION_REGIONS.values()):
        assert reg.source.startswith("https://docs.aws.amazon.com/"), reg
    for reg in r.AZURE_REGIONS.values():
        assert reg.source.startswith("https://learn.microsoft.com/"), reg
    for snapshot in r.BEDROCK_PROFILES.values():
        assert snapshot.source.startswith("https://docs.aws.amazon.com/bedrock/"), snapshot
        assert date.fromisoformat(snapshot.checked) <= date(2026, 11, 27)


def test_every_snapshot_entry_is_consistent() -> None:
    for profile_id, snapshot in r.BEDROCK_PROFILES.items():
        assert snapshot.profile_id == profile_id
        assert f"{snapshot.prefix}." in r.BEDROCK_PROFILE_PREFIXES
        assert snapshot.prefix != "global"
        assert snapshot.source_regions
        assert [src for src, _ in snapshot.routes] == list(snapshot.source_regions)
        union = sorted({d for _, dests in snapshot.routes for d in dests})
        assert list(snapshot.destination_regions) == union
        for src, dests in snapshot.routes:
            assert src in r.AWS_REGIONS, (profile_id, src)
            assert dests, (profile_id, src)
            assert len(set(dests)) == len(dests), (profile_id, src)
        for dest in snapshot.destination_regions:
            assert dest in r.AWS_REGIONS, (profile_id, dest)


def test_every_snapshot_profile_resolves_from_every_source() -> None:
    for profile_id, snapshot in r.BEDROCK_PROFILES.items():
        for src in snapshot.source_regions:
            assert r.bedrock_jurisdictions(profile_id, src)


# --- AWS global services ------------------------------------------------------------------------


def test_aws_global_services() -> None:
    assert {
        "iam",
        "sts",
        "organizations",
        "route53",
        "cloudfront",
        "support",
    } <= r.AWS_GLOBAL_SERVICES
    documented = {a.split(":", 1)[0] for a in r.AWS_REGION_DENY_SCP_NOT_ACTIONS}
    assert r.AWS_GLOBAL_SERVICES.issubset(documented)
    # Regional services are kept pinned even though the SCP example exempts them.
    assert {"kms", "acm", "waf-regional", "bedrock", "s3", "ec2"}.isdisjoint(r.AWS_GLOBAL_SERVICES)
    assert all(re.fullmatch(r"[a-z0-9-]+", prefix) for prefix in r.AWS_GLOBAL_SERVICES)
    assert "ec2:DescribeRegions" in r.AWS_REGION_DENY_SCP_NOT_ACTIONS
