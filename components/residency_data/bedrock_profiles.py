"""Amazon Bedrock cross-Region (system-defined) inference profiles: source -> destinations.

Source: https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
("Supported Regions and models for inference profiles"), checked 2026-11-27. The tables were
read from the revision of that page that still listed, per profile, "the source Regions from
which you can call the inference profile and the destination Regions to which the requests
can be routed" (the revision that lists Claude Opus 4.5); the current revision moves the
same tables to each model's detail page ("models at a glance"). AWS states on that page that
"if an inference profile is tied to a geography (such as US, EU, or APAC), its destination
Region list will never change", and warns not to rely on the geographic prefix to decide
where requests are routed: destinations depend on the source Region.

Findings that matter for residency (all visible below):
- ``eu.`` Claude Haiku 4.5 / Sonnet 4.5 / Opus 4.5 called from eu-central-2 (Zurich) can be
  routed to Zurich, and called from eu-west-2 (London) to London;
- ``eu.`` Claude Sonnet 4 and ``eu.`` Nova Lite/Micro/Pro called from il-central-1 can be
  routed to Tel Aviv;
- ``us.`` Claude Haiku 4.5 / Sonnet 4.5 / Opus 4.5 and Nova 2 Lite called from ca-central-1
  can be routed to Canada (Central).

Global profiles ("global.") route to any commercial Region and are not listed here on
purpose: they have no fixed destination list.

Each entry maps a source Region to the destination Regions documented for it. A source
Region that is not listed is not a documented source of that profile.
"""

from __future__ import annotations

SOURCE = "https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html"
CHECKED = "2026-11-27"

Routes = dict[str, tuple[str, ...]]


def _same(sources: tuple[str, ...], destinations: tuple[str, ...]) -> Routes:
    """Routes where every listed source Region has the same destination Regions."""
    return {source: destinations for source in sources}


# Destination sets that recur in the page's tables (named after the Regions they contain).
_EU3 = ("eu-central-1", "eu-west-1", "eu-west-3")
_EU4 = ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3")
_EU6 = ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3")
_US2 = ("us-east-1", "us-west-2")
_US3 = ("us-east-1", "us-east-2", "us-west-2")
_US4 = ("us-east-1", "us-east-2", "us-west-1", "us-west-2")
_US3_CA = ("ca-central-1", "us-east-1", "us-east-2", "us-west-2")
_APAC5 = ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2")
_APAC6 = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
)
_APAC8 = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-4",
)
_APAC9 = (*_APAC8, "ap-southeast-3")

# EU Claude 4.5 family: six EU sources; Zurich and London sources add themselves.
_EU_CLAUDE_45: Routes = {
    **_same(_EU6, _EU6),
    "eu-central-2": (*_EU6, "eu-central-2"),
    "eu-west-2": (*_EU6, "eu-west-2"),
}
# EU Nova (v1): Milan and Spain sources add themselves; Tel Aviv adds Milan and itself.
_EU_NOVA: Routes = {
    **_same(("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"), _EU4),
    "eu-south-1": (*_EU4, "eu-south-1"),
    "eu-south-2": (*_EU4, "eu-south-2"),
    "il-central-1": (*_EU4, "eu-south-1", "il-central-1"),
}
# US Claude 4.5 family: Canada (Central) and N. California sources add themselves.
_US_CLAUDE_45: Routes = {
    "ca-central-1": _US3_CA,
    **_same(_US3, _US3),
    "us-west-1": _US4,
}
# US models whose N. California source adds itself.
_US_WITH_WEST1: Routes = {**_same(_US3, _US3), "us-west-1": _US4}
# US models routed from us-east-2 to three Regions but from the other two to two.
_US_OHIO_WIDE: Routes = {"us-east-1": _US2, "us-east-2": _US3, "us-west-2": _US2}

PROFILE_ROUTES: dict[str, Routes] = {
    # ---- EU geography --------------------------------------------------------------
    "eu.amazon.nova-2-lite-v1:0": _same(_EU6, _EU6),
    "eu.amazon.nova-lite-v1:0": _EU_NOVA,
    "eu.amazon.nova-micro-v1:0": _EU_NOVA,
    "eu.amazon.nova-pro-v1:0": _EU_NOVA,
    "eu.anthropic.claude-3-haiku-20240307-v1:0": _same(_EU3, _EU3),
    "eu.anthropic.claude-3-sonnet-20240229-v1:0": _same(_EU3, _EU3),
    "eu.anthropic.claude-3-5-sonnet-20240620-v1:0": _same(_EU3, _EU3),
    # No EU profile exists for Claude 3.5 Sonnet v2 (20241022-v2:0) on the page.
    "eu.anthropic.claude-3-7-sonnet-20250219-v1:0": _same(_EU4, _EU4),
    "eu.anthropic.claude-sonnet-4-20250514-v1:0": {
        **_same(_EU6, _EU6),
        "il-central-1": (*_EU6, "il-central-1"),
    },
    "eu.anthropic.claude-haiku-4-5-20251001-v1:0": _EU_CLAUDE_45,
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0": _EU_CLAUDE_45,
    "eu.anthropic.claude-opus-4-5-20251101-v1:0": _EU_CLAUDE_45,
    "eu.meta.llama3-2-1b-instruct-v1:0": _same(_EU3, _EU3),
    "eu.meta.llama3-2-3b-instruct-v1:0": _same(_EU3, _EU3),
    "eu.mistral.pixtral-large-2502-v1:0": _same(_EU4, _EU4),
    # ---- US geography --------------------------------------------------------------
    "us.amazon.nova-2-lite-v1:0": {
        "ca-central-1": _US3_CA,
        "ca-west-1": ("ca-west-1", *_US3),
        **_same(_US3, _US3),
        "us-west-1": _US4,
    },
    "us.amazon.nova-lite-v1:0": _US_WITH_WEST1,
    "us.amazon.nova-micro-v1:0": _same(_US3, _US3),
    "us.amazon.nova-pro-v1:0": _US_WITH_WEST1,
    "us.amazon.nova-premier-v1:0": _same(_US3, _US3),
    "us.anthropic.claude-3-haiku-20240307-v1:0": _US_OHIO_WIDE,
    "us.anthropic.claude-3-5-haiku-20241022-v1:0": _same(_US3, _US3),
    "us.anthropic.claude-3-5-sonnet-20240620-v1:0": _same(_US3, _US2),
    "us.anthropic.claude-3-5-sonnet-20241022-v2:0": _same(_US3, _US3),
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0": _same(_US3, _US3),
    "us.anthropic.claude-sonnet-4-20250514-v1:0": _US_WITH_WEST1,
    "us.anthropic.claude-opus-4-20250514-v1:0": _same(_US3, _US3),
    "us.anthropic.claude-opus-4-1-20250805-v1:0": _same(_US3, _US3),
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": _US_CLAUDE_45,
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": _US_CLAUDE_45,
    "us.anthropic.claude-opus-4-5-20251101-v1:0": _US_CLAUDE_45,
    "us.meta.llama3-1-8b-instruct-v1:0": _same(_US3, _US3),
    "us.meta.llama3-1-70b-instruct-v1:0": _same(_US3, _US3),
    "us.meta.llama3-1-405b-instruct-v1:0": {"us-east-2": _US3},
    "us.meta.llama3-2-1b-instruct-v1:0": _US_OHIO_WIDE,
    "us.meta.llama3-2-3b-instruct-v1:0": _US_OHIO_WIDE,
    "us.meta.llama3-2-11b-instruct-v1:0": _US_OHIO_WIDE,
    "us.meta.llama3-2-90b-instruct-v1:0": _US_OHIO_WIDE,
    "us.meta.llama3-3-70b-instruct-v1:0": _same(_US3, _US3),
    "us.meta.llama4-maverick-17b-instruct-v1:0": _US_WITH_WEST1,
    "us.meta.llama4-scout-17b-instruct-v1:0": _US_WITH_WEST1,
    "us.mistral.pixtral-large-2502-v1:0": _same(_US3, _US3),
    # ---- Other geographies -----------------------------------------------------------
    "apac.anthropic.claude-3-haiku-20240307-v1:0": _same(_APAC5, _APAC5),
    "apac.anthropic.claude-sonnet-4-20250514-v1:0": {
        "ap-east-2": (*_APAC9, "ap-east-2"),
        **_same(_APAC8, _APAC8),
        "ap-southeast-3": _APAC9,
        "ap-southeast-5": (*_APAC9, "ap-southeast-5"),
        "ap-southeast-7": (*_APAC9, "ap-southeast-7"),
        "me-central-1": (*_APAC9, "me-central-1"),
    },
    "apac.amazon.nova-pro-v1:0": {
        "ap-east-2": (*_APAC9, "ap-east-2"),
        **_same(_APAC5, _APAC6),
        "ap-southeast-3": _APAC9,
        "ap-southeast-4": _APAC8,
        "ap-southeast-5": (*_APAC9, "ap-southeast-5"),
        "ap-southeast-7": (*_APAC9, "ap-southeast-7"),
        "me-central-1": (*_APAC9, "me-central-1"),
    },
    "jp.amazon.nova-2-lite-v1:0": {"ap-northeast-1": ("ap-northeast-1", "ap-northeast-3")},
    "jp.anthropic.claude-haiku-4-5-20251001-v1:0": _same(
        ("ap-northeast-1", "ap-northeast-3"), ("ap-northeast-1", "ap-northeast-3")
    ),
    "jp.anthropic.claude-sonnet-4-5-20250929-v1:0": _same(
        ("ap-northeast-1", "ap-northeast-3"), ("ap-northeast-1", "ap-northeast-3")
    ),
    "au.anthropic.claude-haiku-4-5-20251001-v1:0": _same(
        ("ap-southeast-2", "ap-southeast-4"), ("ap-southeast-2", "ap-southeast-4")
    ),
    "au.anthropic.claude-sonnet-4-5-20250929-v1:0": _same(
        ("ap-southeast-2", "ap-southeast-4"), ("ap-southeast-2", "ap-southeast-4")
    ),
    "ca.amazon.nova-lite-v1:0": _same(("ca-central-1", "ca-west-1"), ("ca-central-1", "ca-west-1")),
}
