"""Gate results as text, JSON or SARIF 2.1.0 (for code-scanning tools)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from stacks.analyzer import Diagnostic

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"mandatory": "error", "advisory": "warning"}


def text(environment: str, diagnostics: Sequence[Diagnostic], resource_count: int) -> str:
    lines = []
    for d in diagnostics:
        lines.append(f"[{d.enforcement}] {d.policy} ({d.severity or 'n/a'})")
        lines.append(f"    resource:    {d.urn}")
        lines.append(f"    message:     {d.message}")
        if d.remediation:
            lines.append(f"    remediation: {d.remediation}")
    mandatory = sum(d.mandatory for d in diagnostics)
    advisory = len(diagnostics) - mandatory
    verdict = "FAILED" if mandatory else "passed"
    lines.append(
        f"gate {verdict} for '{environment}': {resource_count} resources analysed, "
        f"{mandatory} mandatory and {advisory} advisory violations"
    )
    return "\n".join(lines)


def as_json(environment: str, diagnostics: Sequence[Diagnostic], resource_count: int) -> str:
    return json.dumps(
        {
            "environment": environment,
            "resources": resource_count,
            "passed": not any(d.mandatory for d in diagnostics),
            "violations": [asdict(d) for d in diagnostics],
        },
        indent=2,
    )


def sarif(environment: str, diagnostics: Sequence[Diagnostic], stack_file: str) -> str:
    rules: dict[str, dict[str, object]] = {}
    for d in diagnostics:
        rules.setdefault(
            d.policy,
            {
                "id": d.policy,
                "name": d.policy,
                "shortDescription": {"text": d.description or d.policy},
                "help": {"text": d.remediation or d.description or d.policy},
                "defaultConfiguration": {"level": _LEVEL.get(d.enforcement, "note")},
                "properties": {"severity": d.severity, "enforcement": d.enforcement},
            },
        )
    rule_index = {name: i for i, name in enumerate(rules)}
    results = [
        {
            "ruleId": d.policy,
            "ruleIndex": rule_index[d.policy],
            "level": _LEVEL.get(d.enforcement, "note"),
            "message": {"text": f"{d.message} ({d.urn})"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": stack_file},
                        "region": {"startLine": 1},
                    },
                    "logicalLocations": [{"fullyQualifiedName": d.urn, "kind": "resource"}],
                }
            ],
            "partialFingerprints": {"gatehouse/v1": f"{d.policy}:{d.urn}"},
        }
        for d in diagnostics
    ]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gatehouse-gate",
                        "informationUri": "https://www.pulumi.com/docs/using-pulumi/crossguard/",
                        "rules": list(rules.values()),
                    }
                },
                "automationDetails": {"id": f"gatehouse-gate/{environment}/"},
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2)
