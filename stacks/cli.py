"""``gatehouse``: plan, gate and scaffold environments; serve the gateway; verify audit trails."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from stacks import report
from stacks.analyzer import PackError
from stacks.environments import EnvironmentError_, stack_file
from stacks.gate import GateResult, Project, gate_environment, render_environment
from stacks.plan import tree
from stacks.render import RenderError
from stacks.spec import SpecError

EXIT_VIOLATIONS = 1
EXIT_ERROR = 2


def _project(args: argparse.Namespace) -> Project:
    return Project(Path(args.project)) if args.project else Project.find(Path.cwd())


def cmd_plan(args: argparse.Namespace) -> int:
    rendered = render_environment(_project(args), args.environment)
    if rendered.refused is not None:
        d = rendered.refused
        print(f"plan refused: {d.urn}: {d.message} [policy {d.policy}]", file=sys.stderr)
        return EXIT_VIOLATIONS
    assert rendered.rendering is not None
    print(f"environment '{args.environment}' (offline render, no credentials)")
    print(tree(rendered.rendering))
    if args.traffic:
        from stacks.egress import egress_table, parse_traffic

        print()
        print(egress_table(rendered.rendering, parse_traffic(args.traffic)))
    return 0


def _emit(args: argparse.Namespace, project: Project, result: GateResult) -> None:
    summary = report.text(result.environment, result.diagnostics, result.resource_count)
    if args.format == "text":
        document = summary
    elif args.format == "json":
        document = report.as_json(result.environment, result.diagnostics, result.resource_count)
    else:
        relative = stack_file(project.stacks_dir, result.environment).relative_to(project.root)
        document = report.sarif(result.environment, result.diagnostics, relative.as_posix())
    if args.output:
        Path(args.output).write_text(document + "\n", encoding="utf-8")
        print(summary)
    else:
        print(document)


def cmd_gate(args: argparse.Namespace) -> int:
    project = _project(args)
    result = gate_environment(project, args.environment)
    _emit(args, project, result)
    return 0 if result.passed else EXIT_VIOLATIONS


def cmd_check(args: argparse.Namespace) -> int:
    """Plan, then gate: the quick start's main job."""
    code = cmd_plan(args)
    if code:
        return code
    print()
    return cmd_gate(args)


def cmd_policy_config(args: argparse.Namespace) -> int:
    """Print the ``--policy-pack-config`` document an environment implies."""
    import json

    from policies import ALL_POLICIES
    from stacks.environments import load_stack_config, to_engine_config
    from stacks.spec import spec_from_config

    project = _project(args)
    config = to_engine_config(load_stack_config(project.stacks_dir, args.environment))
    settings = spec_from_config(config)
    wanted = settings.policy_settings()
    document = {}
    for policy in ALL_POLICIES:
        schema = policy.config_schema.properties if policy.config_schema else {}
        values = {k: v for k, v in wanted.items() if k in schema}
        if values:
            document[policy.name] = values
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0


def cmd_new_bu(args: argparse.Namespace) -> int:
    from stacks.newbu import new_business_unit

    path = new_business_unit(
        _project(args),
        name=args.name,
        source=args.source,
        cost_center=args.cost_center,
        region=args.region,
    )
    print(f"wrote {path.name}; run 'gatehouse gate {args.name}' to check it")
    return 0


def _delegate(target: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        module_name, _, function = target.partition(":")
        from importlib import import_module

        main: Callable[[list[str]], int] = getattr(import_module(module_name), function)
        return main(list(args.rest))

    return run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gatehouse", description=__doc__)
    p.add_argument("--project", help="project directory (default: found from the cwd upwards)")
    sub = p.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="render an environment offline and print its resources")
    plan.add_argument("environment")
    plan.add_argument(
        "--traffic",
        help="REQUESTS_PER_DAY,AVG_KB_IN,AVG_KB_OUT: also estimate cross-region egress",
    )
    plan.set_defaults(func=cmd_plan)

    for name, func, help_ in (
        ("gate", cmd_gate, "run the policy pack against an environment, as pulumi preview does"),
        ("check", cmd_check, "plan and gate an environment"),
    ):
        g = sub.add_parser(name, help=help_)
        g.add_argument("environment")
        g.add_argument("--format", choices=("text", "json", "sarif"), default="text")
        g.add_argument("--output", help="write the --format document to this file")
        g.add_argument("--traffic", help=argparse.SUPPRESS)
        g.set_defaults(func=func)

    pc = sub.add_parser("policy-config", help="policy-pack config an environment implies")
    pc.add_argument("environment")
    pc.set_defaults(func=cmd_policy_config)

    nb = sub.add_parser("new-bu", help="scaffold stacks/Pulumi.<name>.yaml from an environment")
    nb.add_argument("name")
    nb.add_argument("--from", dest="source", required=True, help="environment to copy")
    nb.add_argument("--cost-center", required=True)
    nb.add_argument("--region", help="move every shape to this region")
    nb.set_defaults(func=cmd_new_bu)

    for name, target, help_ in (
        ("serve", "gateway.server:main", "run the LLM gateway"),
        ("audit", "gateway.audit.cli:main", "verify an audit trail"),
        ("chargeback", "gateway.ledger.cli:main", "monthly chargeback report"),
    ):
        d = sub.add_parser(name, help=help_, add_help=False)
        d.add_argument("rest", nargs=argparse.REMAINDER)
        d.set_defaults(func=_delegate(target))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (EnvironmentError_, SpecError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except RenderError as exc:
        print(f"error: the program failed while rendering: {exc}", file=sys.stderr)
    except PackError as exc:
        print(f"error: {exc}. The gate cannot pass without the policy pack.", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
