"""Render a Pulumi program offline under Pulumi's own mock runtime.

The monitor records every resource registration exactly as the engine would receive it
(type, name, parent, provider reference, dependencies and the serialized input
properties), so the offline gate can hand the policy pack the same payloads the engine
sends during ``pulumi preview``.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import wait_for_rpcs

STACK_TYPE = "pulumi:pulumi:Stack"

# Placeholder identity used for invokes that would ask the cloud who we are.
MOCK_ACCOUNT_ID = "111122223333"
MOCK_TENANT_ID = "00000000-0000-0000-0000-000000000000"
MOCK_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001"


@dataclass(frozen=True)
class RenderedResource:
    """One resource registration, as the engine would have received it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    properties: struct_pb2.Struct
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def inputs(self) -> dict[str, Any]:
        """The input properties as plain JSON-like Python values."""
        inputs: dict[str, Any] = json_format.MessageToDict(self.properties)
        return inputs

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")


@dataclass
class Rendering:
    """The outcome of one offline render."""

    stack_urn: str
    resources: list[RenderedResource]
    outputs: dict[str, Any]

    def by_urn(self) -> dict[str, RenderedResource]:
        return {r.urn: r for r in self.resources}

    def of_type(self, type_: str) -> list[RenderedResource]:
        return [r for r in self.resources if r.type == type_]


ComputedOutputs = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


def _default_computed(name: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


def _azure_identity(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs name user-assigned identities as a list of ids; the provider outputs a map."""
    identity = dict(inputs.get("identity") or {})
    assigned = identity.get("userAssignedIdentities")
    if isinstance(assigned, list):
        identity["userAssignedIdentities"] = {
            i: {"principalId": f"{i}-principal"} for i in assigned
        }
    return {**identity, "principalId": f"{name}-principal"}


def _openai_account(name: str, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = dict(inputs.get("properties") or {})
    subdomain = properties.get("customSubDomainName", name)
    return {
        "properties": {**properties, "endpoint": f"https://{subdomain}.openai.azure.com/"},
        "identity": _azure_identity(name, inputs),
    }


# Outputs a real provider computes that our components read back (ids, endpoints, principals).
_COMPUTED: dict[str, ComputedOutputs] = {
    "azure-native:cognitiveservices:Account": _openai_account,
    "azure-native:resources:ResourceGroup": lambda name, inputs: {
        "name": inputs.get("resourceGroupName", name),
    },
    "aws:iam/role:Role": lambda name, inputs: {
        "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{inputs.get('name', name)}",
    },
    "aws:kms/key:Key": lambda name, inputs: {
        "arn": f"arn:aws:kms:{inputs.get('region', 'eu-central-1')}:{MOCK_ACCOUNT_ID}:key/{name}",
        "keyId": name,
    },
    "aws:s3/bucket:Bucket": lambda name, inputs: {
        "arn": f"arn:aws:s3:::{inputs.get('bucket', name)}",
        "bucket": inputs.get("bucket", name),
    },
}


# Answers to the invokes our components make (who am I, which partition).
_INVOKES: Mapping[str, Mapping[str, Any]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": {
        "accountId": MOCK_ACCOUNT_ID,
        "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/mock",
        "userId": "mock",
        "id": MOCK_ACCOUNT_ID,
    },
    "aws:index/getPartition:getPartition": {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
    },
    "azure-native:authorization:getClientConfig": {
        "clientId": "mock-client",
        "objectId": "mock-object",
        "subscriptionId": MOCK_SUBSCRIPTION_ID,
        "tenantId": MOCK_TENANT_ID,
    },
}


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, computed: Mapping[str, ComputedOutputs]) -> None:
        self._computed = {**_COMPUTED, **computed}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        extra = self._computed.get(args.typ, _default_computed)(args.name, args.inputs)
        state = {**args.inputs, **extra}
        state.setdefault("name", args.inputs.get("name", args.name))
        state.setdefault("id", f"{args.name}-id")
        if args.typ.startswith("azure-native:"):
            if "identity" in args.inputs and "identity" not in extra:
                state["identity"] = _azure_identity(args.name, args.inputs)
            state["id"] = (
                f"/subscriptions/{MOCK_SUBSCRIPTION_ID}/resourceGroups/mock/providers/"
                f"{args.typ.split(':')[1]}/{args.name}"
            )
        return state["id"], state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return dict(_INVOKES.get(args.token, args.args)), []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(
        self,
        mocks: pulumi.runtime.Mocks,
        on_resource: Callable[[RenderedResource], None] | None = None,
    ) -> None:
        super().__init__(mocks)
        self._on_resource = on_resource
        self.recorded: list[RenderedResource] = []
        self.stack_urn = ""
        self.stack_outputs: struct_pb2.Struct | None = None

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine builds them: parent types chained, the root stack left out."""
        if parent:
            qualified = parent.split("::")[2]
            if qualified != STACK_TYPE:
                type_ = f"{qualified}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:
        response: Any = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == STACK_TYPE:
            self.stack_urn = response.urn
            return response
        props = struct_pb2.Struct()
        props.CopyFrom(request.object)
        self.recorded.append(
            RenderedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                provider=request.provider or None,
                properties=props,
                dependencies=tuple(request.dependencies),
                property_dependencies={
                    k: tuple(v.urns) for k, v in request.propertyDependencies.items()
                },
            )
        )
        if self._on_resource is not None:
            self._on_resource(self.recorded[-1])
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self.stack_urn:
            self.stack_outputs = request.outputs
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


class RenderError(RuntimeError):
    """The program failed while rendering; the message is the program's own error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def render(
    program: Callable[[], object],
    *,
    project: str = "gatehouse",
    stack: str = "dev",
    config: Mapping[str, str] | None = None,
    computed: Mapping[str, ComputedOutputs] | None = None,
    on_resource: Callable[[RenderedResource], None] | None = None,
) -> Rendering:
    """Run ``program`` under the mock runtime and return every registration it made.

    ``config`` is the flat Pulumi config (``namespace:key`` -> string, objects as JSON text),
    exactly as the engine passes it to a real program. ``on_resource`` hears each
    registration as it happens, as the engine's analyzers do during a preview.
    """
    ctx = contextvars.copy_context()
    return ctx.run(
        _render,
        program,
        project,
        stack,
        dict(config or {}),
        dict(computed or {}),
        on_resource,
    )


def _render(
    program: Callable[[], object],
    project: str,
    stack: str,
    config: dict[str, str],
    computed: dict[str, ComputedOutputs],
    on_resource: Callable[[RenderedResource], None] | None,
) -> Rendering:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    SETTINGS.outputs.clear()  # tasks of an earlier render's loop can never finish in this one
    try:
        mocks = _Mocks(computed)
        monitor = _RecordingMonitor(mocks, on_resource)
        pulumi.runtime.set_all_config(config)
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=False, monitor=monitor
        )
        error: BaseException | None = None
        try:
            program()
        except Exception as exc:  # surfaced after the pending RPCs settle
            error = exc
        try:
            loop.run_until_complete(wait_for_rpcs())
        except Exception as exc:
            error = error or exc
        if error is not None:
            raise RenderError(error) from error
        outputs = json_format.MessageToDict(monitor.stack_outputs) if monitor.stack_outputs else {}
        return Rendering(stack_urn=monitor.stack_urn, resources=monitor.recorded, outputs=outputs)
    finally:
        _drain(loop)
        asyncio.set_event_loop(None)
        loop.close()


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a failed program left running, so the next render starts clean.

    The mock runtime registers resources on the loop's default executor. Its threads are
    joined here, before the loop closes: a registration still finishing in one of them could
    otherwise add an output task of this loop to ``SETTINGS.outputs`` after it was cleared,
    and the next render's ``wait_for_rpcs`` would wait for that task forever (it belongs to
    a closed loop).
    """
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_default_executor())
    SETTINGS.outputs.clear()
