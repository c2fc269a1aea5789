"""Speak the Pulumi Analyzer protocol to a policy pack, as the engine does.

The engine calls ``GetAnalyzerInfo``, ``Configure`` (policy config), ``ConfigureStack``,
then ``Analyze`` once per resource (with its provider's properties) and ``AnalyzeStack``
once with every resource. :class:`PackProcess` does that over gRPC with the pack started
as its own process; :class:`InProcessPack` calls the same servicer in-process (tests).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from stacks.render import RenderedResource, Rendering

_ENFORCEMENT = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
_SEVERITY = {0: "", 1: "low", 2: "medium", 3: "high", 4: "critical"}


@dataclass(frozen=True)
class Diagnostic:
    """One policy violation reported by the pack."""

    policy: str
    enforcement: str
    urn: str
    message: str
    description: str = ""
    severity: str = ""
    remediation: str = ""

    @property
    def mandatory(self) -> bool:
        return self.enforcement == "mandatory"


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement: str
    severity: str
    remediation: str
    config_keys: frozenset[str]


class PackError(RuntimeError):
    """The policy pack could not be started, or failed while analysing."""


class AnalyzerSession(Protocol):
    def info(self) -> analyzer_pb2.AnalyzerInfo: ...

    def configure(self, request: analyzer_pb2.ConfigureAnalyzerRequest) -> None: ...

    def configure_stack(self, request: analyzer_pb2.AnalyzerStackConfigureRequest) -> None: ...

    def analyze(self, request: analyzer_pb2.AnalyzeRequest) -> analyzer_pb2.AnalyzeResponse: ...

    def analyze_stack(
        self, request: analyzer_pb2.AnalyzeStackRequest
    ) -> analyzer_pb2.AnalyzeResponse: ...


# --- building requests -------------------------------------------------------------------


def _default_provider(pkg: str, stack_config: Mapping[str, str]) -> RenderedResource:
    """The default provider the engine creates for ``pkg``: its config is the ``pkg:*`` keys."""
    props = struct_pb2.Struct()
    for key, value in stack_config.items():
        namespace, _, name = key.partition(":")
        if namespace == pkg and name:
            props[name] = value
    type_ = f"pulumi:providers:{pkg}"
    return RenderedResource(
        urn=f"urn:pulumi:default::default::{type_}::default",
        type=type_,
        name="default",
        parent=None,
        custom=True,
        provider=None,
        properties=props,
    )


def provider_of(
    resource: RenderedResource,
    providers: Mapping[str, RenderedResource],
    stack_config: Mapping[str, str],
) -> RenderedResource | None:
    """The explicit provider a resource names, else its package's default provider."""
    if resource.provider:
        urn = resource.provider.split("::", maxsplit=-1)
        ref = "::".join(urn[:-1])
        if ref in providers:
            return providers[ref]
    if not resource.custom:
        return None
    return _default_provider(resource.type.split(":")[0], stack_config)


def _provider_message(provider: RenderedResource | None) -> analyzer_pb2.AnalyzerProviderResource:
    if provider is None:
        return analyzer_pb2.AnalyzerProviderResource()
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type, properties=provider.properties, urn=provider.urn, name=provider.name
    )


def _options(resource: RenderedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent or "")


def analyze_request(
    resource: RenderedResource, provider: RenderedResource | None
) -> analyzer_pb2.AnalyzeRequest:
    return analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        properties=resource.properties,
        urn=resource.urn,
        name=resource.name,
        options=_options(resource),
        provider=_provider_message(provider),
    )


def stack_request(
    resources: Sequence[tuple[RenderedResource, RenderedResource | None]],
) -> analyzer_pb2.AnalyzeStackRequest:
    request = analyzer_pb2.AnalyzeStackRequest()
    for resource, provider in resources:
        message = request.resources.add(
            type=resource.type,
            properties=resource.properties,
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
            provider=_provider_message(provider),
            parent=resource.parent or "",
            dependencies=list(resource.dependencies),
        )
        for key, urns in resource.property_dependencies.items():
            message.propertyDependencies[key].urns.extend(urns)
    return request


def configure_request(
    policies: Iterable[PolicyInfo], settings: Mapping[str, Any]
) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """Hand every policy the settings its config schema declares (e.g. the residency zone)."""
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy in policies:
        wanted = {k: v for k, v in settings.items() if k in policy.config_keys}
        config = analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY)
        if policy.enforcement == "advisory":
            config.enforcementLevel = analyzer_pb2.ADVISORY
        if wanted:
            config.properties.update(json.loads(json.dumps(wanted)))
        request.policyConfig[policy.name].CopyFrom(config)
    return request


def policy_infos(info: analyzer_pb2.AnalyzerInfo) -> list[PolicyInfo]:
    return [
        PolicyInfo(
            name=p.name,
            description=p.description,
            enforcement=_ENFORCEMENT.get(p.enforcementLevel, "advisory"),
            severity=_SEVERITY.get(p.severity, ""),
            remediation=p.remediation_steps,
            config_keys=frozenset(p.configSchema.properties.keys()),
        )
        for p in info.policies
    ]


def _diagnostics(
    response: analyzer_pb2.AnalyzeResponse, infos: Mapping[str, PolicyInfo], urn: str
) -> list[Diagnostic]:
    out = []
    for d in response.diagnostics:
        info = infos.get(d.policyName)
        out.append(
            Diagnostic(
                policy=d.policyName,
                enforcement=_ENFORCEMENT.get(d.enforcementLevel, "advisory"),
                urn=d.urn or urn,
                message=d.message,
                description=d.description,
                severity=_SEVERITY.get(d.severity, "") or (info.severity if info else ""),
                remediation=info.remediation if info else "",
            )
        )
    return out


class Analysis:
    """One analysis, in the engine's order: info and configure first, then ``Analyze`` per
    resource as each one is registered (on a worker thread, so the pack works while the
    program is still rendering), then ``AnalyzeStack`` once with every resource."""

    def __init__(
        self,
        session: AnalyzerSession,
        *,
        settings: Mapping[str, Any],
        stack_config: Mapping[str, str],
        stack: str = "dev",
        project: str = "gatehouse",
    ) -> None:
        self._session = session
        self._stack_config = stack_config
        self._infos = {p.name: p for p in policy_infos(session.info())}
        session.configure(configure_request(self._infos.values(), settings))
        session.configure_stack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=stack, project=project, organization="organization", dry_run=True
            )
        )
        self._providers: dict[str, RenderedResource] = {}
        self._pairs: list[tuple[RenderedResource, RenderedResource | None]] = []
        self._pending: list[Future[list[Diagnostic]]] = []
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analyze")

    def submit(self, resource: RenderedResource) -> None:
        """Queue one registered resource; providers are kept for the resources after them."""
        if resource.is_provider:
            self._providers[resource.urn] = resource
            return
        pair = (resource, provider_of(resource, self._providers, self._stack_config))
        self._pairs.append(pair)
        self._pending.append(self._worker.submit(self._analyze, *pair))

    def _analyze(
        self, resource: RenderedResource, provider: RenderedResource | None
    ) -> list[Diagnostic]:
        response = self._session.analyze(analyze_request(resource, provider))
        return _diagnostics(response, self._infos, resource.urn)

    def close(self) -> None:
        """Stop the worker; queued analyses that have not started are dropped."""
        self._worker.shutdown(cancel_futures=True)

    def finish(self) -> list[Diagnostic]:
        """Every resource's diagnostics in registration order, then the stack's."""
        try:
            diagnostics = [d for future in self._pending for d in future.result()]
        finally:
            self.close()
        response = self._session.analyze_stack(stack_request(self._pairs))
        return diagnostics + _diagnostics(response, self._infos, "")


def run_analysis(
    session: AnalyzerSession,
    rendering: Rendering,
    *,
    settings: Mapping[str, Any],
    stack_config: Mapping[str, str],
    stack: str = "dev",
    project: str = "gatehouse",
) -> list[Diagnostic]:
    """Analyse a finished rendering."""
    analysis = Analysis(
        session, settings=settings, stack_config=stack_config, stack=stack, project=project
    )
    for resource in rendering.resources:
        analysis.submit(resource)
    return analysis.finish()


# --- sessions ----------------------------------------------------------------------------


class InProcessPack:
    """The pack's own servicer called in-process: the same code path minus the sockets."""

    def __init__(self, policies: list[Any], name: str = "gatehouse") -> None:
        from pulumi_policy import EnforcementLevel
        from pulumi_policy.policy import _PolicyAnalyzerServicer

        self._servicer: Any = _PolicyAnalyzerServicer(
            name, "0.0.1", policies, EnforcementLevel.MANDATORY, None
        )

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        return cast(
            analyzer_pb2.AnalyzerInfo, self._servicer.GetAnalyzerInfo(empty_pb2.Empty(), None)
        )

    def configure(self, request: analyzer_pb2.ConfigureAnalyzerRequest) -> None:
        self._servicer.Configure(request, None)

    def configure_stack(self, request: analyzer_pb2.AnalyzerStackConfigureRequest) -> None:
        self._servicer.ConfigureStack(request, None)

    def analyze(self, request: analyzer_pb2.AnalyzeRequest) -> analyzer_pb2.AnalyzeResponse:
        return cast(analyzer_pb2.AnalyzeResponse, self._servicer.Analyze(request, None))

    def analyze_stack(
        self, request: analyzer_pb2.AnalyzeStackRequest
    ) -> analyzer_pb2.AnalyzeResponse:
        return cast(analyzer_pb2.AnalyzeResponse, self._servicer.AnalyzeStack(request, None))


class PackProcess:
    """The policy pack started as its own process and reached over gRPC.

    The pack prints its port on stdout, as ``pulumi_policy.PolicyPack`` does for the
    engine. Any failure to start, or any RPC error, raises :class:`PackError`.
    """

    def __init__(
        self, pack_dir: Path, *, python: str = sys.executable, timeout: float = 60
    ) -> None:
        self._pack_dir = pack_dir
        self._python = python
        self._timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None

    def __enter__(self) -> PackProcess:
        main = self._pack_dir / "__main__.py"
        if not main.is_file():
            raise PackError(f"policy pack not found: {main} does not exist")
        self._proc = subprocess.Popen(
            [self._python, "-u", str(main)],
            cwd=self._pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            port = self._read_port()
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{port}",
                options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
            )
            try:
                grpc.channel_ready_future(self._channel).result(timeout=self._timeout)
            except grpc.FutureTimeoutError as exc:
                raise PackError(f"policy pack did not answer on port {port}") from exc
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        return self

    def _read_port(self) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], self._timeout)
        line = self._proc.stdout.readline() if ready else b""
        try:
            return int(line.strip())
        except ValueError:
            self._proc.kill()
            self._proc.wait()
            raise PackError(
                "policy pack failed to start"
                + (f" (exit code {self._proc.returncode})" if self._proc.returncode else "")
                + f": {self._stderr() or line.decode(errors='replace').strip() or 'no output'}"
            ) from None

    def _stderr(self) -> str:
        if self._proc is None or self._proc.stderr is None or self._proc.poll() is None:
            return ""
        return self._proc.stderr.read().decode(errors="replace").strip()

    def __exit__(self, *exc: object) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()

    def _call(self, method: str, request: Any) -> Any:
        assert self._stub is not None
        try:
            return getattr(self._stub, method)(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            crashed = self._proc is not None and self._proc.poll() is not None
            suffix = f"; pack exited: {self._stderr()}" if crashed else ""
            raise PackError(f"policy pack failed during {method}: {detail}{suffix}") from exc

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        return cast(analyzer_pb2.AnalyzerInfo, self._call("GetAnalyzerInfo", empty_pb2.Empty()))

    def configure(self, request: analyzer_pb2.ConfigureAnalyzerRequest) -> None:
        self._call("Configure", request)

    def configure_stack(self, request: analyzer_pb2.AnalyzerStackConfigureRequest) -> None:
        self._call("ConfigureStack", request)

    def analyze(self, request: analyzer_pb2.AnalyzeRequest) -> analyzer_pb2.AnalyzeResponse:
        return cast(analyzer_pb2.AnalyzeResponse, self._call("Analyze", request))

    def analyze_stack(
        self, request: analyzer_pb2.AnalyzeStackRequest
    ) -> analyzer_pb2.AnalyzeResponse:
        return cast(analyzer_pb2.AnalyzeResponse, self._call("AnalyzeStack", request))
