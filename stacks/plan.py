"""Print a rendered stack as a tree: type, name, region or location, jurisdiction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from components.common import LABEL_PREFIX, TAG_JURISDICTION, TAG_PREFIX, TAG_REGION
from stacks.render import RenderedResource, Rendering


def fact(inputs: Mapping[str, Any], key: str) -> str | None:
    tags = inputs.get("tags")
    if isinstance(tags, Mapping) and isinstance(tags.get(TAG_PREFIX + key), str):
        return str(tags[TAG_PREFIX + key])
    labels = (inputs.get("metadata") or {}).get("labels")
    if isinstance(labels, Mapping) and isinstance(labels.get(LABEL_PREFIX + key), str):
        return str(labels[LABEL_PREFIX + key])
    return None


def placement(resource: RenderedResource) -> tuple[str, str]:
    """(region or location, jurisdiction) as far as the inputs tell; '-' when they do not."""
    inputs = resource.inputs
    region = inputs.get("location") or inputs.get("region") or fact(inputs, TAG_REGION)
    jurisdiction = fact(inputs, TAG_JURISDICTION)
    return (str(region) if region else "-", jurisdiction or "-")


def tree(rendering: Rendering) -> str:
    children: dict[str | None, list[RenderedResource]] = defaultdict(list)
    known = {r.urn for r in rendering.resources}
    for r in rendering.resources:
        parent = r.parent if r.parent in known else None
        children[parent].append(r)
    rows: list[tuple[str, str, str, str]] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            region, jurisdiction = placement(r)
            rows.append(("  " * depth + r.type, r.name, region, jurisdiction))
            walk(r.urn, depth + 1)

    walk(None, 0)
    header = ("TYPE", "NAME", "REGION", "JURISDICTION")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [
        "  ".join(col.ljust(w) for col, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.append(f"{len(rendering.resources)} resources")
    return "\n".join(lines)
