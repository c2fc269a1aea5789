"""Gateway routes: every route in the central gateway's ConfigMap stays inside the zone.

The central gateway's ConfigMap (labelled ``gatehouse.dev/shape: central_gateway``, key
``config.yaml``) holds the config the gateway loads. This policy parses it and checks each
deployment of each model against the same residency tables as the infrastructure: its
declared jurisdiction; for Azure OpenAI the jurisdiction of its region; for Bedrock where
its model or inference profile may process from its region; for any route whose region is
a cloud region, that the region's jurisdiction is the declared one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import yaml
from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from components.residency import (
    GLOBAL_JURISDICTION,
    UnknownInferenceProfileError,
    UnknownRegionError,
    UnsupportedSourceRegionError,
    bedrock_jurisdictions,
    jurisdiction_of,
)
from policies.base import (
    LABEL_PREFIX,
    RESIDENCY_SCHEMA,
    UNKNOWN,
    Meta,
    Residency,
    read,
    residency_of,
    resource_policy,
)
from policies.k8s_residency import table_jurisdiction

CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
GATEWAY_SHAPE: Final = "central_gateway"
CONFIG_KEY: Final = "config.yaml"


def _processing(deployment: Mapping[str, Any]) -> frozenset[str] | str:
    """Where the deployment may process data per the tables, or a problem message."""
    provider = deployment.get("provider")
    region = deployment.get("region")
    if not isinstance(region, str):
        return "has no region"
    try:
        if provider == "azure_openai":
            return frozenset({jurisdiction_of("azure", region)})
        if provider == "bedrock":
            model = deployment.get("model")
            if not isinstance(model, str):
                return "has no model"
            return bedrock_jurisdictions(model, region)
    except (UnknownRegionError, UnknownInferenceProfileError, UnsupportedSourceRegionError) as e:
        return str(e)
    derived = table_jurisdiction(region)
    return frozenset({derived}) if derived is not None else frozenset()


def route_problems(config: Any, residency: Residency) -> Iterator[str]:
    """Every way the parsed gateway config routes outside the zone."""
    if not isinstance(config, Mapping) or not isinstance(config.get("models"), list):
        yield f"{CONFIG_KEY} is not a gateway config with a models list"
        return
    allowed = residency.jurisdictions
    defaults = config.get("jurisdictions") or []
    outside = sorted(j for j in defaults if j not in allowed) if isinstance(defaults, list) else []
    if outside or not isinstance(defaults, list):
        yield f"jurisdictions lists {outside or defaults!r}, outside {residency.describe()}"
    for i, model in enumerate(config["models"]):
        name = model.get("name") if isinstance(model, Mapping) else None
        deployments = model.get("deployments") if isinstance(model, Mapping) else None
        if not isinstance(deployments, list):
            yield f"models[{i}] has no deployments list"
            continue
        for j, deployment in enumerate(deployments):
            where = f"models[{i}] ({name!r}) deployments[{j}]"
            if not isinstance(deployment, Mapping):
                yield f"{where} is not a mapping"
                continue
            declared = deployment.get("jurisdiction")
            if declared not in allowed:
                yield (
                    f"{where} routes to {deployment.get('provider')!r} in "
                    f"{deployment.get('region')!r} with jurisdiction {declared!r}, outside "
                    f"{residency.describe()}"
                )
                continue
            processing = _processing(deployment)
            if isinstance(processing, str):
                yield f"{where} {processing}"
                continue
            if residency.allow_global_processing:
                processing = processing - {GLOBAL_JURISDICTION}
            beyond = sorted(processing - allowed)
            if beyond:
                yield (
                    f"{where} is declared {declared!r}, but the residency tables place its "
                    f"processing in {', '.join(beyond)}, outside {residency.describe()}"
                )


def _check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CONFIG_MAP:
        return
    labels = read(args.props, "metadata", "labels")
    if not isinstance(labels, Mapping) or labels.get(LABEL_PREFIX + "shape") != GATEWAY_SHAPE:
        return
    text = read(args.props, "data", CONFIG_KEY)
    if text is UNKNOWN:
        report(
            f"{CONFIG_KEY} is unknown at preview, so the gateway's routes cannot be verified", None
        )
        return
    if not isinstance(text, str):
        report(f"the gateway ConfigMap has no data.{CONFIG_KEY}", None)
        return
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        report(f"{CONFIG_KEY} is not valid YAML: {exc}", None)
        return
    for problem in route_problems(config, residency_of(args)):
        report(problem, None)


routes_in_zone = resource_policy(
    Meta(
        name="k8s-configmap-gateway-routes-in-zone",
        description="Every route in the central gateway's config has a jurisdiction, and a "
        "processing location per the residency tables, inside the residency zone.",
        severity=Severity.CRITICAL,
        remediation=(
            "Remove the out-of-zone deployment from the gateway's routes (central_gateway."
            "routes or the serving shape), or route the model to an in-zone region with a "
            "regional SKU or an in-zone inference profile."
        ),
        config_schema=RESIDENCY_SCHEMA,
    ),
    _check,
)

POLICIES: Final[list[Any]] = [routes_in_zone]
