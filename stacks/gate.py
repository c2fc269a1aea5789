"""Offline plan and policy gate of one environment.

``render_environment`` runs the real Pulumi program under the mock runtime.
``gate_environment`` then starts the policy pack as its own process and speaks the
Analyzer protocol to it. A shape that refuses to place something outside the zone
(``ResidencyViolation``) is reported as a mandatory violation of the policy it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from components.common import ResidencyViolation
from stacks.analyzer import Diagnostic, PackProcess, run_analysis
from stacks.environments import load_stack_config, to_engine_config
from stacks.program import build
from stacks.render import RenderError, Rendering, render
from stacks.spec import SpecBase, spec_from_config


@dataclass(frozen=True)
class Project:
    """Where a Gatehouse project keeps its stack files and policy pack."""

    root: Path

    @property
    def stacks_dir(self) -> Path:
        return self.root / "stacks"

    @property
    def pack_dir(self) -> Path:
        return self.root / "policies"

    @classmethod
    def find(cls, start: Path) -> Project:
        for candidate in (start, *start.parents):
            if (candidate / "Pulumi.yaml").is_file() and (candidate / "stacks").is_dir():
                return cls(candidate)
        raise FileNotFoundError(
            f"no Gatehouse project found in {start} or its parents: expected a directory "
            "holding Pulumi.yaml and stacks/"
        )


@dataclass(frozen=True)
class Rendered:
    environment: str
    spec: SpecBase
    engine_config: dict[str, str]
    rendering: Rendering | None
    refused: Diagnostic | None


def render_environment(project: Project, environment: str) -> Rendered:
    config = load_stack_config(project.stacks_dir, environment)
    engine_config = to_engine_config(config)
    spec = spec_from_config(engine_config)
    try:
        rendering = render(
            lambda: build(spec, environment),
            stack=environment,
            config=engine_config,
        )
    except RenderError as exc:
        if isinstance(exc.cause, ResidencyViolation):
            v = exc.cause
            refused = Diagnostic(
                policy=v.policy,
                enforcement="mandatory",
                urn=v.field_path,
                message=f"{v.message} (refused while rendering, before deployment)",
                description="A shape refused to place a resource outside the residency zone.",
                severity="critical",
            )
            return Rendered(environment, spec, engine_config, None, refused)
        raise
    return Rendered(environment, spec, engine_config, rendering, None)


@dataclass(frozen=True)
class GateResult:
    environment: str
    diagnostics: list[Diagnostic]
    resource_count: int

    @property
    def passed(self) -> bool:
        return not any(d.mandatory for d in self.diagnostics)


def gate_environment(project: Project, environment: str) -> GateResult:
    rendered = render_environment(project, environment)
    if rendered.refused is not None or rendered.rendering is None:
        return GateResult(environment, [d for d in [rendered.refused] if d], 0)
    with PackProcess(project.pack_dir) as pack:
        diagnostics = run_analysis(
            pack,
            rendered.rendering,
            settings=rendered.spec.policy_settings(),
            stack_config=rendered.engine_config,
            stack=environment,
        )
    return GateResult(environment, diagnostics, len(rendered.rendering.resources))
