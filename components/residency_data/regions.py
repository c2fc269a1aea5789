"""Cloud regions and the country each one sits in.

Countries are ISO 3166-1 alpha-2 codes (upper case; the United Kingdom is ``GB`` here and
becomes jurisdiction ``uk`` in ``components.residency``).
"""

from __future__ import annotations

from typing import NamedTuple

CHECKED = "2026-11-27"


class RegionRow(NamedTuple):
    """One row of a provider's region table: programmatic name, display name, country."""

    name: str
    display_name: str
    country: str
    geography: str = ""


# --- European Union member states -------------------------------------------------------
# Source: https://european-union.europa.eu/principles-countries-history/eu-countries_en
# (the 27 member states; checked 2026-11-27). ISO 3166-1 alpha-2 codes: Greece is "GR"
# (the EU's own abbreviation is "EL"); the United Kingdom ("GB") left on 2020-01-31.
EU_MEMBER_STATE_CODES: tuple[str, ...] = (
    "AT",  # Austria
    "BE",  # Belgium
    "BG",  # Bulgaria
    "HR",  # Croatia
    "CY",  # Cyprus
    "CZ",  # Czechia
    "DK",  # Denmark
    "EE",  # Estonia
    "FI",  # Finland
    "FR",  # France
    "DE",  # Germany
    "GR",  # Greece
    "HU",  # Hungary
    "IE",  # Ireland
    "IT",  # Italy
    "LV",  # Latvia
    "LT",  # Lithuania
    "LU",  # Luxembourg
    "MT",  # Malta
    "NL",  # Netherlands
    "PL",  # Poland
    "PT",  # Portugal
    "RO",  # Romania
    "SK",  # Slovakia
    "SI",  # Slovenia
    "ES",  # Spain
    "SE",  # Sweden
)

# --- AWS commercial partition ("aws") ----------------------------------------------------
# Source: https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
# (region codes, names and geography) and
# https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-region-billing-codes.html
# (the same code/name list), cross-checked with the SDK's partition table
# https://github.com/boto/botocore/blob/develop/botocore/data/endpoints.json (botocore 1.44.8,
# partition "aws"). Checked 2026-11-27. Opt-in regions are included (af-south-1, ap-east-1,
# ap-east-2, ap-south-2, ap-southeast-3..7, ca-west-1, eu-central-2, eu-south-1, eu-south-2,
# il-central-1, me-central-1, me-south-1, mx-central-1). A region announced after that check
# is unknown here and every lookup of it fails closed with UnknownRegionError.
AWS_SOURCE = "https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html"
AWS_COMMERCIAL_REGIONS: tuple[RegionRow, ...] = (
    RegionRow("af-south-1", "Africa (Cape Town)", "ZA"),
    RegionRow("ap-east-1", "Asia Pacific (Hong Kong)", "HK"),
    RegionRow("ap-east-2", "Asia Pacific (Taipei)", "TW"),
    RegionRow("ap-northeast-1", "Asia Pacific (Tokyo)", "JP"),
    RegionRow("ap-northeast-2", "Asia Pacific (Seoul)", "KR"),
    RegionRow("ap-northeast-3", "Asia Pacific (Osaka)", "JP"),
    RegionRow("ap-south-1", "Asia Pacific (Mumbai)", "IN"),
    RegionRow("ap-south-2", "Asia Pacific (Hyderabad)", "IN"),
    RegionRow("ap-southeast-1", "Asia Pacific (Singapore)", "SG"),
    RegionRow("ap-southeast-2", "Asia Pacific (Sydney)", "AU"),
    RegionRow("ap-southeast-3", "Asia Pacific (Jakarta)", "ID"),
    RegionRow("ap-southeast-4", "Asia Pacific (Melbourne)", "AU"),
    RegionRow("ap-southeast-5", "Asia Pacific (Malaysia)", "MY"),
    RegionRow("ap-southeast-6", "Asia Pacific (New Zealand)", "NZ"),
    RegionRow("ap-southeast-7", "Asia Pacific (Thailand)", "TH"),
    RegionRow("ca-central-1", "Canada (Central)", "CA"),
    RegionRow("ca-west-1", "Canada West (Calgary)", "CA"),
    RegionRow("eu-central-1", "Europe (Frankfurt)", "DE"),
    RegionRow("eu-central-2", "Europe (Zurich)", "CH"),
    RegionRow("eu-north-1", "Europe (Stockholm)", "SE"),
    RegionRow("eu-south-1", "Europe (Milan)", "IT"),
    RegionRow("eu-south-2", "Europe (Spain)", "ES"),
    RegionRow("eu-west-1", "Europe (Ireland)", "IE"),
    RegionRow("eu-west-2", "Europe (London)", "GB"),
    RegionRow("eu-west-3", "Europe (Paris)", "FR"),
    RegionRow("il-central-1", "Israel (Tel Aviv)", "IL"),
    RegionRow("me-central-1", "Middle East (UAE)", "AE"),
    RegionRow("me-south-1", "Middle East (Bahrain)", "BH"),
    RegionRow("mx-central-1", "Mexico (Central)", "MX"),
    RegionRow("sa-east-1", "South America (Sao Paulo)", "BR"),
    RegionRow("us-east-1", "US East (N. Virginia)", "US"),
    RegionRow("us-east-2", "US East (Ohio)", "US"),
    RegionRow("us-west-1", "US West (N. California)", "US"),
    RegionRow("us-west-2", "US West (Oregon)", "US"),
)

# --- AWS partitions other than "aws" ------------------------------------------------------
# Source: the same AWS regions page ("Account types": AWS GovCloud (US) and Amazon Web
# Services in China are separate accounts that cannot reach the commercial Regions) and
# botocore's endpoints.json partitions "aws-us-gov", "aws-cn" and "aws-eusc" (botocore
# 1.44.8; the last one names its only region "AWS European Sovereign Cloud (Germany)").
# Checked 2026-11-27.
# Deliberately excluded: the isolated partitions "aws-iso", "aws-iso-b", "aws-iso-e" and
# "aws-iso-f" (us-iso-*, us-isob-*, eu-isoe-west-1, us-isof-*). They are not public and AWS
# publishes no location for them; botocore only names them ("EU ISOE West" resolves under
# the cloud.adc-e.uk domain), so any country we recorded would be a guess. They fail closed.
AWS_SEPARATE_PARTITION_SOURCE = AWS_SOURCE
AWS_SEPARATE_PARTITIONS: tuple[RegionRow, ...] = (
    RegionRow("us-gov-east-1", "AWS GovCloud (US-East)", "US"),
    RegionRow("us-gov-west-1", "AWS GovCloud (US-West)", "US"),
    RegionRow("cn-north-1", "China (Beijing)", "CN"),
    RegionRow("cn-northwest-1", "China (Ningxia)", "CN"),
    RegionRow("eusc-de-east-1", "AWS European Sovereign Cloud (Germany)", "DE"),
)

# --- Azure public cloud -------------------------------------------------------------------
# Source: https://learn.microsoft.com/en-us/azure/reliability/regions-list ("Azure regions
# list": region, physical location, geography, programmatic name), checked 2026-11-27
# against the page's source as of its 2026-08 revision (includes Denmark East and India
# South Central as available regions). The country is that of the "Physical location"
# column; where the column names a state or city, the country is the one the "Geography"
# column names ("Europe" for North Europe = Ireland and West Europe = Netherlands; "Asia
# Pacific" for East Asia = Hong Kong SAR and Southeast Asia = Singapore).
# Sweden South is not a row of that table but is named on the same page as the restricted
# (access on request) pair of Sweden Central, inside the Sweden geography; it is included
# so a paired-region resource is recognised.
# Deliberately excluded (they fail closed with UnknownRegionError): the sovereign clouds
# (Azure Government, Azure operated by 21Vianet), the canary "EUAP" regions, and regions
# reserved to single customers that the list does not show (for example the Jio India
# regions), because Microsoft publishes no location or geography for them there.
AZURE_SOURCE = "https://learn.microsoft.com/en-us/azure/reliability/regions-list"
AZURE_PUBLIC_REGIONS: tuple[RegionRow, ...] = (
    RegionRow("australiacentral", "Australia Central", "AU", "Australia"),
    RegionRow("australiacentral2", "Australia Central 2", "AU", "Australia"),
    RegionRow("australiaeast", "Australia East", "AU", "Australia"),
    RegionRow("australiasoutheast", "Australia Southeast", "AU", "Australia"),
    RegionRow("austriaeast", "Austria East", "AT", "Austria"),
    RegionRow("belgiumcentral", "Belgium Central", "BE", "Belgium"),
    RegionRow("brazilsouth", "Brazil South", "BR", "Brazil"),
    RegionRow("brazilsoutheast", "Brazil Southeast", "BR", "Brazil"),
    RegionRow("canadacentral", "Canada Central", "CA", "Canada"),
    RegionRow("canadaeast", "Canada East", "CA", "Canada"),
    RegionRow("centralindia", "Central India", "IN", "India"),
    RegionRow("centralus", "Central US", "US", "United States"),
    RegionRow("chilecentral", "Chile Central", "CL", "Chile"),
    RegionRow("denmarkeast", "Denmark East", "DK", "Denmark"),
    RegionRow("eastasia", "East Asia", "HK", "Asia Pacific"),
    RegionRow("eastus", "East US", "US", "United States"),
    RegionRow("eastus2", "East US 2", "US", "United States"),
    RegionRow("francecentral", "France Central", "FR", "France"),
    RegionRow("francesouth", "France South", "FR", "France"),
    RegionRow("germanynorth", "Germany North", "DE", "Germany"),
    RegionRow("germanywestcentral", "Germany West Central", "DE", "Germany"),
    RegionRow("indiasouthcentral", "India South Central", "IN", "India"),
    RegionRow("indonesiacentral", "Indonesia Central", "ID", "Indonesia"),
    RegionRow("israelcentral", "Israel Central", "IL", "Israel"),
    RegionRow("italynorth", "Italy North", "IT", "Italy"),
    RegionRow("japaneast", "Japan East", "JP", "Japan"),
    RegionRow("japanwest", "Japan West", "JP", "Japan"),
    RegionRow("koreacentral", "Korea Central", "KR", "Korea"),
    RegionRow("koreasouth", "Korea South", "KR", "Korea"),
    RegionRow("malaysiawest", "Malaysia West", "MY", "Malaysia"),
    RegionRow("mexicocentral", "Mexico Central", "MX", "Mexico"),
    RegionRow("newzealandnorth", "New Zealand North", "NZ", "New Zealand"),
    RegionRow("northcentralus", "North Central US", "US", "United States"),
    RegionRow("northeurope", "North Europe", "IE", "Europe"),
    RegionRow("norwayeast", "Norway East", "NO", "Norway"),
    RegionRow("norwaywest", "Norway West", "NO", "Norway"),
    RegionRow("polandcentral", "Poland Central", "PL", "Poland"),
    RegionRow("qatarcentral", "Qatar Central", "QA", "Qatar"),
    RegionRow("southafricanorth", "South Africa North", "ZA", "South Africa"),
    RegionRow("southafricawest", "South Africa West", "ZA", "South Africa"),
    RegionRow("southcentralus", "South Central US", "US", "United States"),
    RegionRow("southindia", "South India", "IN", "India"),
    RegionRow("southeastasia", "Southeast Asia", "SG", "Asia Pacific"),
    RegionRow("spaincentral", "Spain Central", "ES", "Spain"),
    RegionRow("swedencentral", "Sweden Central", "SE", "Sweden"),
    RegionRow("swedensouth", "Sweden South", "SE", "Sweden"),
    RegionRow("switzerlandnorth", "Switzerland North", "CH", "Switzerland"),
    RegionRow("switzerlandwest", "Switzerland West", "CH", "Switzerland"),
    RegionRow("uaecentral", "UAE Central", "AE", "UAE"),
    RegionRow("uaenorth", "UAE North", "AE", "UAE"),
    RegionRow("uksouth", "UK South", "GB", "United Kingdom"),
    RegionRow("ukwest", "UK West", "GB", "United Kingdom"),
    RegionRow("westcentralus", "West Central US", "US", "United States"),
    RegionRow("westeurope", "West Europe", "NL", "Europe"),
    RegionRow("westindia", "West India", "IN", "India"),
    RegionRow("westus", "West US", "US", "United States"),
    RegionRow("westus2", "West US 2", "US", "United States"),
    RegionRow("westus3", "West US 3", "US", "United States"),
)

# Azure resources that are not regional carry the location "global" (for example private
# DNS zones: the REST API example for Microsoft.Network/privateDnsZones uses "Global", as
# reproduced in
# https://www.pulumi.com/registry/packages/azure-native/api-docs/privatedns/privatezone/
# checked 2026-11-27). Such a location is outside every zone.
AZURE_GLOBAL_LOCATION = "global"
