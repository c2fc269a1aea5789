"""Offline plan and policy gate of one environment.

``render_environment`` runs the real Pulumi program under the mock runtime.
``gate_environment`` then starts the policy pack as its own process and speaks the
Analyzer protocol to it. A shape that refuses to place something outside the zone
(``ResidencyViolation``) is reported as a mandatory violation of the policy it names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.common import ResidencyViolation
from stacks.analyzer import Analysis, Diagnostic, PackProcess
from stacks.environments import load_stack_config, to_engine_config
from stacks.program import build
from stacks.render import RenderedResource, RenderError, Rendering, render
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


@dataclass(frozen=True)
class Environment:
    """An environment's spec and the flat config the engine would hand its program."""

    name: str
    spec: SpecBase
    engine_config: dict[str, str]

    @classmethod
    def load(cls, project: Project, name: str) -> Environment:
        engine_config = to_engine_config(load_stack_config(project.stacks_dir, name))
        return cls(name, spec_from_config(engine_config), engine_config)


def render_environment(
    project: Project,
    environment: str,
    *,
    loaded: Environment | None = None,
    on_resource: Callable[[RenderedResource], None] | None = None,
) -> Rendered:
    env = loaded or Environment.load(project, environment)
    try:
        rendering = render(
            lambda: build(env.spec, environment),
            stack=environment,
            config=env.engine_config,
            on_resource=on_resource,
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
            return Rendered(environment, env.spec, env.engine_config, None, refused)
        raise
    return Rendered(environment, env.spec, env.engine_config, rendering, None)


@dataclass(frozen=True)
class GateResult:
    environment: str
    diagnostics: list[Diagnostic]
    resource_count: int

    @property
    def passed(self) -> bool:
        return not any(d.mandatory for d in self.diagnostics)


def gate_environment(project: Project, environment: str) -> GateResult:
    """Render and analyse at once: each resource goes to the pack as it is registered."""
    env = Environment.load(project, environment)
    with PackProcess(project.pack_dir) as pack:
        analysis = Analysis(
            pack,
            settings=env.spec.policy_settings(),
            stack_config=env.engine_config,
            stack=environment,
        )
        try:
            rendered = render_environment(
                project, environment, loaded=env, on_resource=analysis.submit
            )
        except BaseException:
            analysis.close()
            raise
        if rendered.refused is not None or rendered.rendering is None:
            analysis.close()
            return GateResult(environment, [d for d in [rendered.refused] if d], 0)
        diagnostics = analysis.finish()
    return GateResult(environment, diagnostics, len(rendered.rendering.resources))
