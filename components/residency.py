"""The reviewed residency tables: where each cloud location is, and where each option processes.

Components and policies import this module; the gateway never does (it receives resolved
jurisdictions in its config). Every fact comes from a table in ``components.residency_data``
or below, each with the official source it was checked against and the date of the check.

Jurisdiction codes: ``"eu"`` for anything located in a European Union member state;
otherwise the lower-case ISO 3166-1 alpha-2 country code, except that the United Kingdom is
``"uk"`` (so ``"uk"``, ``"ch"``, ``"no"``, ``"us"``, ``"ca"``, ...). ``"global"`` marks
something that may be processed anywhere; it lies outside every zone.

Every lookup fails closed: an unknown region, SKU, zone or inference profile raises an
error that names the value received and what was expected. Nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, get_args

from components.residency_data import aws_global_services, bedrock_profiles, regions

__all__ = [
    "AWS_GLOBAL_SERVICES",
    "AWS_REGIONS",
    "AWS_REGION_DENY_SCP_NOT_ACTIONS",
    "AWS_SEPARATE_PARTITION_REGIONS",
    "AZURE_DATA_ZONES",
    "AZURE_DATA_ZONE_JURISDICTIONS",
    "AZURE_GEOGRAPHIES",
    "AZURE_OPENAI_SKU_SCOPE",
    "AZURE_REGIONS",
    "BEDROCK_PROFILES",
    "BEDROCK_PROFILE_PREFIXES",
    "CLOUDS",
    "EU_MEMBER_STATES",
    "GLOBAL_JURISDICTION",
    "KNOWN_JURISDICTIONS",
    "ZONES",
    "AzureDataZoneError",
    "Cloud",
    "ProfileSnapshot",
    "Region",
    "SkuScope",
    "UnknownInferenceProfileError",
    "UnknownRegionError",
    "UnsupportedSourceRegionError",
    "azure_data_zone_of",
    "azure_sku_jurisdictions",
    "azure_sku_scope",
    "bedrock_destinations",
    "bedrock_jurisdictions",
    "jurisdiction_for_country",
    "jurisdiction_of",
    "normalize_azure_location",
    "region_in_zone",
    "region_info",
    "split_profile_id",
    "zone_jurisdictions",
]

Cloud = Literal["aws", "azure"]
CLOUDS: Final[tuple[Cloud, ...]] = get_args(Cloud)

GLOBAL_JURISDICTION: Final = "global"
"""Jurisdiction of anything that may be processed in any location; outside every zone."""

EU_MEMBER_STATES: Final[frozenset[str]] = frozenset(regions.EU_MEMBER_STATE_CODES)
"""ISO 3166-1 alpha-2 codes of the 27 EU member states (source in residency_data.regions)."""


def jurisdiction_for_country(country: str) -> str:
    """The jurisdiction code of an ISO 3166-1 alpha-2 country code ("DE" -> "eu", "GB" -> "uk")."""
    code = country.strip().upper()
    if code in EU_MEMBER_STATES:
        return "eu"
    if code == "GB":
        return "uk"
    return code.lower()


@dataclass(frozen=True)
class Region:
    """One cloud location: its programmatic name, country and jurisdiction.

    ``geography`` is the Azure geography (the unit Azure's regional processing is bound to);
    it is empty for AWS. ``source`` is the official page the row was checked against.
    """

    cloud: Cloud
    name: str
    country: str
    jurisdiction: str
    display_name: str
    geography: str = ""
    source: str = ""


def _table(cloud: Cloud, rows: Iterable[regions.RegionRow], source: str) -> Mapping[str, Region]:
    return MappingProxyType(
        {
            row.name: Region(
                cloud=cloud,
                name=row.name,
                country=row.country,
                jurisdiction=jurisdiction_for_country(row.country),
                display_name=row.display_name,
                geography=row.geography,
                source=source,
            )
            for row in rows
        }
    )


AWS_REGIONS: Final = _table("aws", regions.AWS_COMMERCIAL_REGIONS, regions.AWS_SOURCE)
"""Every public AWS commercial-partition region, opt-in ones included."""

AWS_SEPARATE_PARTITION_REGIONS: Final = _table(
    "aws", regions.AWS_SEPARATE_PARTITIONS, regions.AWS_SEPARATE_PARTITION_SOURCE
)
"""AWS GovCloud (US), China and European Sovereign Cloud regions (separate partitions)."""

AZURE_REGIONS: Final = _table("azure", regions.AZURE_PUBLIC_REGIONS, regions.AZURE_SOURCE)
"""Every Azure public-cloud region, by programmatic name."""

_ALL_REGIONS: Final = (
    *AWS_REGIONS.values(),
    *AWS_SEPARATE_PARTITION_REGIONS.values(),
    *AZURE_REGIONS.values(),
)

KNOWN_JURISDICTIONS: Final[frozenset[str]] = frozenset(r.jurisdiction for r in _ALL_REGIONS)
"""Every jurisdiction some known region belongs to (never ``"global"``)."""


class UnknownRegionError(ValueError):
    """A region or location that is not in the reviewed tables (fail closed)."""

    def __init__(self, cloud: str, region: object) -> None:
        self.cloud = cloud
        self.region = region
        if cloud == "aws":
            known = ", ".join([*sorted(AWS_REGIONS), *sorted(AWS_SEPARATE_PARTITION_REGIONS)])
            expected = f"an AWS region code such as 'eu-central-1' (known: {known})"
        else:
            known = ", ".join(sorted(AZURE_REGIONS))
            expected = (
                "an Azure region's programmatic name such as 'swedencentral' or its display "
                f"name such as 'Sweden Central' (known: {known})"
            )
        super().__init__(f"unknown {cloud} region {region!r}: expected {expected}")


def normalize_azure_location(value: str) -> str:
    """Azure's programmatic form of a location: "Sweden Central" -> "swedencentral"."""
    return "".join(value.split()).lower()


def _check_cloud(cloud: str) -> Cloud:
    for known in CLOUDS:
        if cloud == known:
            return known
    raise ValueError(f"unknown cloud {cloud!r}: expected one of {', '.join(CLOUDS)}")


def _key(cloud: Cloud, region: str) -> str:
    return normalize_azure_location(region) if cloud == "azure" else region.strip().lower()


def region_info(cloud: str, region: str) -> Region:
    """The reviewed row of ``region``; raises UnknownRegionError when it is not known."""
    known_cloud = _check_cloud(cloud)
    if not isinstance(region, str):
        raise UnknownRegionError(known_cloud, region)
    key = _key(known_cloud, region)
    if known_cloud == "azure":
        found = AZURE_REGIONS.get(key)
    else:
        found = AWS_REGIONS.get(key) or AWS_SEPARATE_PARTITION_REGIONS.get(key)
    if found is None:
        raise UnknownRegionError(known_cloud, region)
    return found


def jurisdiction_of(cloud: str, region: str) -> str:
    """Jurisdiction of a cloud location; Azure's non-regional "global" location is "global"."""
    if (
        _check_cloud(cloud) == "azure"
        and isinstance(region, str)
        and normalize_azure_location(region) == regions.AZURE_GLOBAL_LOCATION
    ):
        return GLOBAL_JURISDICTION
    return region_info(cloud, region).jurisdiction


# --- Residency zones ----------------------------------------------------------------------
# A zone is a named set of jurisdictions. The default zone "eu" admits only locations in EU
# member states: London ("uk"), Zurich/Geneva ("ch") and Oslo/Stavanger ("no") are outside
# it unless a spec adds those jurisdictions explicitly (zone_jurisdictions' ``extra``).
ZONES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "eu": frozenset({"eu"}),
        "uk": frozenset({"uk"}),
        "ch": frozenset({"ch"}),
        "no": frozenset({"no"}),
        "us": frozenset({"us"}),
        "ca": frozenset({"ca"}),
        "jp": frozenset({"jp"}),
        "au": frozenset({"au"}),
    }
)


def zone_jurisdictions(zone: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The jurisdictions a zone admits, plus explicitly added ones (e.g. "uk", "ch", "no")."""
    key = zone.strip().lower()
    if key not in ZONES:
        raise ValueError(
            f"unknown residency zone {zone!r}: expected one of {', '.join(sorted(ZONES))}"
        )
    added = frozenset(code.strip().lower() for code in extra)
    unknown = sorted(added - KNOWN_JURISDICTIONS)
    if unknown:
        raise ValueError(
            f"unknown jurisdiction(s) {', '.join(map(repr, unknown))} added to zone {key!r}: "
            "expected jurisdiction codes of known regions "
            f"({', '.join(sorted(KNOWN_JURISDICTIONS))}); "
            "the United Kingdom is 'uk', EU member states are all 'eu', and "
            f"{GLOBAL_JURISDICTION!r} can never be part of a zone"
        )
    return ZONES[key] | added


def region_in_zone(cloud: str, region: str, allowed: frozenset[str]) -> bool:
    """Whether ``region`` lies in one of the ``allowed`` jurisdictions (unknown regions raise)."""
    return jurisdiction_of(cloud, region) in allowed


# --- Azure OpenAI deployment SKUs ---------------------------------------------------------
# Source: https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/deployment-types
# (each deployment type's "SKU name in code"), checked 2026-11-27:
# - Standard and ProvisionedManaged process in the "Azure geography" of the resource;
# - DataZoneStandard, DataZoneProvisionedManaged and DataZoneBatch process "in any Azure AI
#   Foundry location within the Microsoft-specified data zone";
# - GlobalStandard, GlobalProvisionedManaged and GlobalBatch "might be processed for
#   inferencing in any Azure AI Foundry location";
# - the Developer type for fine-tuned models "doesn't offer data residency guarantees"; the
#   page gives its SKU name in code as "DeveloperTier", so both spellings are mapped.
# Any other SKU name is unknown and raises.
SkuScope = Literal["regional", "datazone", "global", "none"]
AZURE_OPENAI_SKU_SCOPE: Final[Mapping[str, SkuScope]] = MappingProxyType(
    {
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
)


def _group(pairs: Iterable[tuple[str, str]]) -> Mapping[str, frozenset[str]]:
    grouped: dict[str, set[str]] = {}
    for key, name in pairs:
        grouped.setdefault(key, set()).add(name)
    return MappingProxyType({key: frozenset(names) for key, names in grouped.items()})


AZURE_GEOGRAPHIES: Final = _group((r.geography, r.name) for r in AZURE_REGIONS.values())
"""Azure geography -> its regions (the "Geography" column of the Azure regions list).

Regional SKUs process inside the Azure geography of the account, which for "Europe" spans
North Europe (Ireland) and West Europe (Netherlands), and for "Asia Pacific" spans East Asia
(Hong Kong SAR) and Southeast Asia (Singapore).
"""

# Microsoft-specified data zones. Source: the deployment-types page above and
# https://learn.microsoft.com/en-us/azure/ai-foundry/openai/concepts/models , checked
# 2026-11-27: "If you create a DataZone deployment in an Azure AI Foundry resource located in
# the United States, prompts and responses might be processed anywhere within the United
# States. If you create a DataZone deployment in an Azure AI Foundry resource located in a
# European Union Member Nation, prompts and responses might be processed in that or any
# other European Union Member Nation." So the EU data zone is the regions located in EU
# member states, and it processes only in EU member states: a DataZone deployment in an EU
# account stays inside zone "eu". Microsoft documents no data zone for any other location:
# an account in the UK, Switzerland or Norway is in no data zone (this is not the "EU Data
# Boundary" programme, which also covers EFTA countries), so a DataZone SKU there raises.
# Which models offer DataZone capacity in which region is a separate, changing matter
# (the model availability tables); the residency reading does not depend on it.
AZURE_DATA_ZONES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "eu": frozenset(r.name for r in AZURE_REGIONS.values() if r.jurisdiction == "eu"),
        "us": frozenset(r.name for r in AZURE_REGIONS.values() if r.country == "US"),
    }
)
AZURE_DATA_ZONE_JURISDICTIONS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {"eu": frozenset({"eu"}), "us": frozenset({"us"})}
)


class AzureDataZoneError(ValueError):
    """A data-zone SKU was asked for in an account whose region is in no data zone."""


def azure_sku_scope(sku: str) -> SkuScope:
    """The processing scope of an Azure OpenAI deployment SKU; unknown SKUs raise ValueError."""
    scope = AZURE_OPENAI_SKU_SCOPE.get(sku)
    if scope is None:
        raise ValueError(
            f"unknown Azure OpenAI deployment SKU {sku!r}: expected one of "
            f"{', '.join(AZURE_OPENAI_SKU_SCOPE)}"
        )
    return scope


def azure_data_zone_of(region: str) -> str | None:
    """The data zone an Azure region belongs to, or None (unknown regions raise)."""
    name = region_info("azure", region).name
    return next((zone for zone, names in AZURE_DATA_ZONES.items() if name in names), None)


def azure_sku_jurisdictions(sku: str, account_region: str) -> frozenset[str] | None:
    """Where a deployment of ``sku`` in an account in ``account_region`` may process data.

    Regional SKUs: the jurisdictions of the account's Azure geography. Data-zone SKUs: the
    jurisdictions of the account's data zone (raises AzureDataZoneError when the account is
    in none). Global and Developer SKUs: None, meaning unbounded.
    """
    scope = azure_sku_scope(sku)
    region = region_info("azure", account_region)
    if scope == "regional":
        return frozenset(
            AZURE_REGIONS[name].jurisdiction for name in AZURE_GEOGRAPHIES[region.geography]
        )
    if scope == "datazone":
        zone = azure_data_zone_of(region.name)
        if zone is None:
            raise AzureDataZoneError(
                f"deployment SKU {sku!r} needs an account in a Microsoft data zone, but "
                f"{region.name!r} ({region.display_name}, jurisdiction {region.jurisdiction!r}) "
                f"is in none: data zones are {', '.join(sorted(AZURE_DATA_ZONES))} "
                "(EU member states; United States); use a regional SKU such as 'Standard'"
            )
        return AZURE_DATA_ZONE_JURISDICTIONS[zone]
    return None


# --- Amazon Bedrock inference profiles ----------------------------------------------------
# Source: https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
# (profile names "EU ...", "US ...", "APAC ...", "JP ...", "AU ...", "CA ...", "US-GOV ...",
# "GLOBAL ..." and their ID prefixes), checked 2026-11-27. The prefix names a geography but
# is not proof of where requests go: see BEDROCK_PROFILES.
BEDROCK_PROFILE_PREFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "eu.": "EU geography",
        "us.": "US geography",
        "us-gov.": "AWS GovCloud (US) geography",
        "apac.": "Asia-Pacific geography",
        "jp.": "Japan geography",
        "au.": "Australia geography",
        "ca.": "Canada geography",
        "global.": "Global: any commercial AWS Region",
    }
)
_GLOBAL_PREFIX: Final = "global"


class UnknownInferenceProfileError(ValueError):
    """An inference profile that is not in the reviewed snapshot (an error, not a guess)."""

    def __init__(self, profile_id: str) -> None:
        self.profile_id = profile_id
        prefix, _ = split_profile_id(profile_id)
        if prefix == _GLOBAL_PREFIX:
            reason = (
                "global inference profiles may route to any commercial AWS Region, so they "
                "have no fixed destination list"
            )
        else:
            known = sorted(p for p in BEDROCK_PROFILES if split_profile_id(p)[0] == prefix)
            reason = (
                "it is not in the reviewed snapshot of "
                f"{bedrock_profiles.SOURCE} (checked {bedrock_profiles.CHECKED}); check its "
                "destination Regions there and add it to the snapshot. Known profiles with "
                f"this prefix: {', '.join(known) or 'none'}"
            )
        super().__init__(f"unknown inference profile {profile_id!r}: {reason}")


class UnsupportedSourceRegionError(ValueError):
    """An inference profile called from a Region that is not one of its documented sources."""

    def __init__(self, profile_id: str, region: str, sources: Iterable[str]) -> None:
        self.profile_id = profile_id
        self.region = region
        self.sources = tuple(sources)
        super().__init__(
            f"inference profile {profile_id!r} cannot be called from region {region!r}: "
            f"expected one of its documented source regions ({', '.join(self.sources)})"
        )


@dataclass(frozen=True)
class ProfileSnapshot:
    """One cross-Region inference profile as documented: sources, destinations, provenance.

    ``routes`` holds, per source Region, the destination Regions the requests from that
    source may be routed to (they differ by source). ``destination_regions`` is their union.
    When ``routes`` is empty every source shares ``destination_regions``.
    """

    model_id: str
    prefix: str
    source_regions: tuple[str, ...]
    destination_regions: tuple[str, ...]
    source: str
    checked: str
    routes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def profile_id(self) -> str:
        return f"{self.prefix}.{self.model_id}"

    def destinations_from(self, source_region: str) -> tuple[str, ...]:
        """The destination Regions for calls from ``source_region`` (raises if not a source)."""
        key = source_region.strip().lower()
        if key not in self.source_regions:
            raise UnsupportedSourceRegionError(self.profile_id, source_region, self.source_regions)
        return dict(self.routes).get(key, self.destination_regions)


def split_profile_id(model_or_profile: str) -> tuple[str | None, str]:
    """("eu", "anthropic.claude-...") for a profile id; (None, model id) for a plain model id."""
    for prefix in BEDROCK_PROFILE_PREFIXES:
        if model_or_profile.startswith(prefix):
            return prefix[:-1], model_or_profile[len(prefix) :]
    return None, model_or_profile


def _snapshot(profile_id: str, routes: Mapping[str, tuple[str, ...]]) -> ProfileSnapshot:
    prefix, model_id = split_profile_id(profile_id)
    if prefix is None:
        raise ValueError(f"snapshot entry {profile_id!r} has no inference profile prefix")
    sources = tuple(sorted(routes))
    return ProfileSnapshot(
        model_id=model_id,
        prefix=prefix,
        source_regions=sources,
        destination_regions=tuple(sorted({d for dests in routes.values() for d in dests})),
        source=bedrock_profiles.SOURCE,
        checked=bedrock_profiles.CHECKED,
        routes=tuple((s, tuple(sorted(routes[s]))) for s in sources),
    )


BEDROCK_PROFILES: Final[Mapping[str, ProfileSnapshot]] = MappingProxyType(
    {pid: _snapshot(pid, routes) for pid, routes in bedrock_profiles.PROFILE_ROUTES.items()}
)
"""Reviewed snapshot of cross-Region inference profiles, keyed by full profile id."""


def bedrock_destinations(profile_id: str, source_region: str) -> tuple[str, ...]:
    """Destination Regions of ``profile_id`` when called from ``source_region``.

    Raises UnknownInferenceProfileError for a profile missing from the snapshot (global
    profiles included) and UnsupportedSourceRegionError for a Region that is not one of the
    profile's documented sources.
    """
    snapshot = BEDROCK_PROFILES.get(profile_id)
    if snapshot is None:
        raise UnknownInferenceProfileError(profile_id)
    return snapshot.destinations_from(source_region)


def bedrock_jurisdictions(model_or_profile: str, region: str) -> frozenset[str]:
    """Where a Bedrock call to ``model_or_profile`` from ``region`` may be processed.

    A plain model id is processed in ``region``. A geographic profile is processed in any of
    its destination Regions for that source, so the result is their jurisdictions (an
    ``eu.`` profile whose destinations include Zurich or London is not inside zone "eu"). A
    ``global.`` profile is always {"global"}, outside every zone.
    """
    source = region_info("aws", region).name
    prefix, _ = split_profile_id(model_or_profile)
    if prefix is None:
        return frozenset({jurisdiction_of("aws", source)})
    if prefix == _GLOBAL_PREFIX:
        return frozenset({GLOBAL_JURISDICTION})
    return frozenset(
        jurisdiction_of("aws", dest) for dest in bedrock_destinations(model_or_profile, source)
    )


# --- AWS global services --------------------------------------------------------------------
AWS_REGION_DENY_SCP_NOT_ACTIONS: Final[tuple[str, ...]] = (
    aws_global_services.REGION_DENY_SCP_NOT_ACTIONS
)
"""The NotAction list of AWS's "deny access based on the requested Region" SCP example."""

AWS_GLOBAL_SERVICES: Final[frozenset[str]] = frozenset(
    action.split(":", 1)[0]
    for action in aws_global_services.REGION_DENY_SCP_NOT_ACTIONS
    if action.endswith(":*")
) - frozenset(aws_global_services.REGIONAL_DESPITE_EXAMPLE)
"""IAM service prefixes of AWS global services, whose calls are not pinned to a Region.

The whole-service exemptions of the SCP example (source in residency_data.aws_global_services)
minus kms, acm and waf-regional, which AWS documents as Regional: a boundary built from this
set keeps pinning them (fail closed). Single global actions of the example (for example
``ec2:DescribeRegions``) are in AWS_REGION_DENY_SCP_NOT_ACTIONS.
"""
