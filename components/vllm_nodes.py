"""Self-hosted vLLM on GPU nodes of an existing (typically on-premises) cluster.

Per served model the shape creates, in its namespace (Pod Security "restricted" enforced,
default-deny NetworkPolicy):

- a Deployment or StatefulSet running the pinned ``vllm/vllm-openai`` image with the served
  model name, tensor-parallel size (the GPU count), maximum model length and GPU memory
  utilization; the API key from an existing Secret; ``nvidia.com/gpu`` limits, a node
  selector, tolerations and an optional ``runtimeClassName``; a memory-backed ``/dev/shm``;
  a startup probe sized for model load and readiness/liveness on ``/health``; non-root,
  read-only root filesystem, no privilege escalation, no capabilities, never hostIPC,
  hostPID or hostNetwork;
- air-gapped by default: the weights come from a PVC (existing, or created with a storage
  class) or from an image in an internal registry, ``HF_HUB_OFFLINE=1`` and usage
  statistics off;
- a Service, a PodDisruptionBudget, a NetworkPolicy that admits ingress only from the
  gateway's namespace (and Prometheus, to scrape ``/metrics``), and an optional KEDA
  ScaledObject on ``vllm:num_requests_waiting``.

Every object is labelled with the site and its jurisdiction, which the spec gives (an
on-prem data centre has no cloud region). Output: ``routes``, one route descriptor per
model for the central gateway, and ``network_peers`` (what the gateway must reach).

Sources, checked 2026-11-27:
- Server arguments (--served-model-name, --tensor-parallel-size, --max-model-len,
  --gpu-memory-utilization, --ssl-keyfile/--ssl-certfile) and the VLLM_API_KEY variable:
  https://docs.vllm.ai/en/stable/serving/openai_compatible_server.html and
  https://docs.vllm.ai/en/stable/configuration/engine_args.html
- Kubernetes deployment (``/dev/shm`` emptyDir with medium Memory, ``/health``, port 8000):
  https://docs.vllm.ai/en/stable/deployment/k8s/
- Usage statistics and how to turn them off (VLLM_NO_USAGE_STATS=1, DO_NOT_TRACK=1):
  https://docs.vllm.ai/en/stable/usage/usage_stats.html
- Offline mode of the Hugging Face hub (HF_HUB_OFFLINE=1):
  https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables
- GPU scheduling (``nvidia.com/gpu`` limits):
  https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/
- KEDA ScaledObject with the Prometheus scaler (serverAddress, query, threshold):
  https://keda.sh/docs/2.17/scalers/prometheus/ ; the queue metric
  ``vllm:num_requests_waiting``: https://docs.vllm.ai/en/stable/design/metrics.html
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, field_validator, model_validator

from components.common import Price, Role, RouteDescriptor, ShapeArgs, ShapeContext
from components.k8s_security import (
    ClusterLocation,
    FrozenModel,
    NetworkPeer,
    Resources,
    SecretKeyRef,
    check_dns_label,
    check_dns_subdomain,
    check_image,
    container_security_context,
    dns_egress_rule,
    http_probe,
    metadata,
    namespace_with_default_deny,
    network_policy_spec,
    pod_disruption_budget_spec,
    pod_security_context,
)

SHAPE: Final = "vllm_nodes"
APP: Final = "vllm"
PROVIDER: Final = "openai"  # the gateway's adapter for OpenAI-compatible servers
PORT: Final = 8000
MODELS_DIR: Final = "/models"
SCRATCH_DIR: Final = "/scratch"
TLS_DIR: Final = "/etc/vllm/tls"
GPU_RESOURCE: Final = "nvidia.com/gpu"
QUEUE_METRIC: Final = "vllm:num_requests_waiting"
STARTUP_PERIOD: Final = 10

# Flags the shape sets itself; extra_args may not repeat them.
_MANAGED_FLAGS: Final = frozenset(
    {
        "--model",
        "--served-model-name",
        "--tensor-parallel-size",
        "--max-model-len",
        "--gpu-memory-utilization",
        "--host",
        "--port",
        "--api-key",
        "--ssl-keyfile",
        "--ssl-certfile",
        "--download-dir",
    }
)
# Flags that run code shipped with the weights; an explicit opt-in elsewhere, never here.
_REFUSED_FLAGS: Final = frozenset({"--trust-remote-code"})
_ENV_SUFFIX = re.compile(r"[^A-Z0-9]+")


class PvcWeights(FrozenModel):
    """Weights on a PersistentVolumeClaim, mounted read-only."""

    claim_name: str | None = Field(
        None, description="an existing claim holding the weights; default: a new claim"
    )
    storage_class: str | None = Field(
        None, description="storage class of the new claim (required when none exists)"
    )
    size: str = Field("200Gi", description="size of the new claim; default: 200Gi")
    access_mode: Literal["ReadOnlyMany", "ReadWriteOnce", "ReadWriteMany"] = Field(
        "ReadOnlyMany", description="access mode of the new claim; default: ReadOnlyMany"
    )

    @model_validator(mode="after")
    def _existing_or_new(self) -> PvcWeights:
        if self.claim_name is None and self.storage_class is None:
            raise ValueError("give claim_name (existing) or storage_class (a new claim)")
        if self.claim_name is not None:
            check_dns_subdomain("claim_name", self.claim_name)
        return self


class Weights(FrozenModel):
    """Where the model weights come from; never the internet."""

    pvc: PvcWeights | None = Field(None, description="weights on a volume claim")
    registry_image: str | None = Field(
        None,
        description="pinned image in an internal registry holding the weights under /models; "
        "copied into the pod by an init container",
    )
    path: str = Field(
        description="directory of the model under /models, e.g. 'llama-3.1-8b-instruct'",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
    )

    @field_validator("registry_image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image("registry_image", value)

    @field_validator("path")
    @classmethod
    def _no_escape(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError(f"got {value!r}; expected a path inside /models (no '..')")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Weights:
        if (self.pvc is None) == (self.registry_image is None):
            raise ValueError("give exactly one of pvc or registry_image")
        return self


class KedaSpec(FrozenModel):
    """Scale a model's replicas on its queue length with KEDA."""

    prometheus_url: str = Field(description="Prometheus the KEDA operator queries")
    threshold: int = Field(5, ge=1, description="waiting requests per replica; default: 5")
    min_replicas: int = Field(1, ge=1, description="default: 1")
    max_replicas: int = Field(4, ge=1, description="default: 4")

    @model_validator(mode="after")
    def _bounds(self) -> KedaSpec:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be at least min_replicas")
        return self


class ServedModel(FrozenModel):
    name: str = Field(description="served model name; also the workload name")
    weights: Weights
    gpus: int = Field(1, ge=1, le=16, description="GPUs per replica = tensor-parallel size")
    max_model_len: int = Field(ge=256, description="maximum context length in tokens")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="default: 0.9")
    replicas: int = Field(1, ge=1, description="default: 1")
    api_key: SecretKeyRef = Field(description="Secret key holding the API key vLLM requires")
    gateway_api_key_env: str | None = Field(
        None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="variable the gateway reads the same key from; default: VLLM_API_KEY_<NAME>",
    )
    resources: Resources = Field(
        Resources(cpu_request="4", memory_request="32Gi", cpu_limit="8", memory_limit="64Gi"),
        description="CPU and memory (GPUs come from `gpus`); default: requests 4/32Gi, "
        "limits 8/64Gi",
    )
    shm_size: str = Field("8Gi", description="size of /dev/shm; default: 8Gi")
    startup_timeout_seconds: int = Field(
        1800, ge=60, description="time allowed to load the weights; default: 1800"
    )
    price: Price | None = Field(None, description="internal price, for chargeback")
    keda: KedaSpec | None = Field(None, description="default: fixed replicas")
    extra_args: list[str] = Field(default_factory=list, description="further vLLM flags")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_dns_label("name", value)

    @field_validator("extra_args")
    @classmethod
    def _extra(cls, value: list[str]) -> list[str]:
        flags = {a.split("=", 1)[0] for a in value if a.startswith("--")}
        managed = sorted(flags & _MANAGED_FLAGS)
        if managed:
            raise ValueError(f"got {', '.join(managed)}; these flags are set by the shape")
        refused = sorted(flags & _REFUSED_FLAGS)
        if refused:
            raise ValueError(
                f"got {', '.join(refused)}, which runs code shipped with the weights; "
                "expected weights that need no custom code"
            )
        return value

    @property
    def api_key_env(self) -> str:
        suffix = _ENV_SUFFIX.sub("_", self.name.upper()).strip("_")
        return self.gateway_api_key_env or f"VLLM_API_KEY_{suffix}"


class VllmNodesArgs(ShapeArgs):
    """Settings of the on-prem GPU vLLM shape (``gatehouse:vllm_nodes``)."""

    cluster: ClusterLocation = Field(
        description="the cluster: site and jurisdiction for on-prem, or a cloud region"
    )
    namespace: str = Field("vllm", description="namespace created for the models")
    image: str = Field(
        description="the vllm/vllm-openai image (an internal mirror is fine), pinned by a "
        "version tag or digest"
    )
    workload: Literal["Deployment", "StatefulSet"] = Field("Deployment")
    node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"},
        description="default: nodes labelled nvidia.com/gpu.present=true (GPU feature discovery)",
    )
    tolerations: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
        ],
        description="default: tolerate the nvidia.com/gpu NoSchedule taint",
    )
    runtime_class_name: str | None = Field(None, description="e.g. 'nvidia'; default: none")
    gateway_namespace: str = Field(
        "gatehouse", description="namespace of the central gateway, the only client"
    )
    prometheus_namespace: str | None = Field(
        None, description="namespace of Prometheus, admitted to scrape /metrics; default: none"
    )
    tls_secret: str | None = Field(
        None, description="Secret of type kubernetes.io/tls; vLLM then serves HTTPS"
    )
    allow_insecure_http: bool = Field(
        False,
        description="unsafe opt-in: serve plain HTTP inside the cluster (the gateway's "
        "traffic to vLLM is then unencrypted unless a service mesh encrypts it)",
    )
    models: list[ServedModel] = Field(min_length=1)

    @field_validator("namespace", "gateway_namespace")
    @classmethod
    def _ns(cls, value: str) -> str:
        return check_dns_label("namespace", value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image("image", value)

    @field_validator("models")
    @classmethod
    def _unique(cls, value: list[ServedModel]) -> list[ServedModel]:
        names = [m.name for m in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique (repeated: {', '.join(dupes)})")
        return value

    @model_validator(mode="after")
    def _transport(self) -> VllmNodesArgs:
        if self.tls_secret is None and not self.allow_insecure_http:
            raise ValueError(
                "tls_secret: missing; expected a kubernetes.io/tls Secret so vLLM serves "
                "HTTPS, or the explicit opt-in allow_insecure_http: true"
            )
        if self.tls_secret is not None and self.allow_insecure_http:
            raise ValueError("give tls_secret or allow_insecure_http, not both")
        return self


class VllmNodes(pulumi.ComponentResource):
    """The on-prem GPU vLLM shape; see the module docstring for what it creates."""

    routes: pulumi.Output[list[dict[str, Any]]]
    route_descriptors: pulumi.Output[list[RouteDescriptor]]

    def __init__(
        self,
        name: str,
        args: VllmNodesArgs,
        ctx: ShapeContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        placement = args.cluster.resolve(ctx)
        super().__init__("gatehouse:components:VllmNodes", name, None, opts)
        self._name = name
        self._args = args
        self._ctx = ctx
        self._placement = placement
        child = pulumi.ResourceOptions(parent=self)
        ns = namespace_with_default_deny(name, args.namespace, self._labels(), child)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        for model in args.models:
            self._model(model, in_ns)

        descriptors = [self._describe(m) for m in args.models]
        self.route_descriptors = pulumi.Output.from_input(descriptors)
        self.routes = pulumi.Output.from_input([d.as_dict() for d in descriptors])
        self.network_peers = [
            NetworkPeer(namespace=args.namespace, pod_labels=self._selector(m), ports=[PORT])
            for m in args.models
        ]
        self.register_outputs({"routes": self.routes})

    # --- labels ------------------------------------------------------------------------

    def _selector(self, model: ServedModel) -> dict[str, str]:
        return {"app.kubernetes.io/name": APP, "app.kubernetes.io/instance": model.name}

    def _labels(self, model: ServedModel | None = None) -> dict[str, str]:
        own = self._selector(model) if model else {"app.kubernetes.io/name": APP}
        return {
            **own,
            "gatehouse.dev/site": self._placement.region,
            **self._ctx.labels_for(
                region=self._placement.region,
                jurisdiction=self._placement.jurisdiction,
                role=Role.MODEL_ENDPOINT,
                shape=SHAPE,
            ),
        }

    # --- per model ---------------------------------------------------------------------

    def _model(self, model: ServedModel, opts: pulumi.ResourceOptions) -> None:
        args = self._args
        prefix = f"{self._name}-{model.name}"
        labels = self._labels(model)
        claim = self._claim(model, prefix, labels, opts)
        service_name = model.name
        spec: Any = {
            "replicas": model.replicas,
            "selector": {"matchLabels": self._selector(model)},
            "template": {"metadata": {"labels": labels}, "spec": self._pod(model, claim)},
        }
        workload: pulumi.CustomResource
        if args.workload == "StatefulSet":
            spec["serviceName"] = service_name
            workload = k8s.apps.v1.StatefulSet(
                f"{prefix}-statefulset",
                metadata=metadata(model.name, args.namespace, labels),
                spec=spec,
                opts=opts,
            )
        else:
            workload = k8s.apps.v1.Deployment(
                f"{prefix}-deployment",
                metadata=metadata(model.name, args.namespace, labels),
                spec=spec,
                opts=opts,
            )
        service: Any = {
            "type": "ClusterIP",
            "selector": self._selector(model),
            "ports": [{"name": "http", "port": PORT, "targetPort": "http"}],
        }
        k8s.core.v1.Service(
            f"{prefix}-service",
            metadata=metadata(service_name, args.namespace, labels),
            spec=service,
            opts=opts,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{prefix}-pdb",
            metadata=metadata(model.name, args.namespace, labels),
            spec=pod_disruption_budget_spec(self._selector(model)),
            opts=opts,
        )
        sources = [args.gateway_namespace]
        if args.prometheus_namespace:
            sources.append(args.prometheus_namespace)
        k8s.networking.v1.NetworkPolicy(
            f"{prefix}-netpol",
            metadata=metadata(model.name, args.namespace, labels),
            spec=network_policy_spec(
                self._selector(model),
                [NetworkPeer(namespace=ns, ports=[PORT]).rule("from") for ns in sources],
                [dns_egress_rule()],
            ),
            opts=opts,
        )
        if model.keda is not None:
            self._scaled_object(model, prefix, labels, workload, opts)

    def _claim(
        self,
        model: ServedModel,
        prefix: str,
        labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> str | None:
        pvc = model.weights.pvc
        if pvc is None:
            return None
        if pvc.claim_name is not None:
            return pvc.claim_name
        claim = f"{model.name}-weights"
        spec: Any = {
            "accessModes": [pvc.access_mode],
            "storageClassName": pvc.storage_class,
            "resources": {"requests": {"storage": pvc.size}},
        }
        k8s.core.v1.PersistentVolumeClaim(
            f"{prefix}-weights",
            metadata=metadata(claim, self._args.namespace, labels),
            spec=spec,
            opts=pulumi.ResourceOptions.merge(
                opts,
                pulumi.ResourceOptions(protect=True),  # weights are costly to re-fetch
            ),
        )
        return claim

    def _args_for(self, model: ServedModel) -> list[str]:
        out = [
            "--model", f"{MODELS_DIR}/{model.weights.path}",
            "--served-model-name", model.name,
            "--tensor-parallel-size", str(model.gpus),
            "--max-model-len", str(model.max_model_len),
            "--gpu-memory-utilization", str(model.gpu_memory_utilization),
            "--host", "0.0.0.0",  # noqa: S104 - the pod's own interfaces
            "--port", str(PORT),
        ]  # fmt: skip
        if self._args.tls_secret:
            out += ["--ssl-keyfile", f"{TLS_DIR}/tls.key", "--ssl-certfile", f"{TLS_DIR}/tls.crt"]
        return out + list(model.extra_args)

    def _pod(self, model: ServedModel, claim: str | None) -> dict[str, Any]:
        args = self._args
        scheme = "HTTPS" if args.tls_secret else "HTTP"
        mounts = [
            {"name": "weights", "mountPath": MODELS_DIR, "readOnly": claim is not None},
            {"name": "dshm", "mountPath": "/dev/shm"},  # noqa: S108 - a memory emptyDir
            {"name": "scratch", "mountPath": SCRATCH_DIR},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir of the pod
        ]
        volumes: list[dict[str, Any]] = [
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": model.shm_size}},
            {"name": "scratch", "emptyDir": {"sizeLimit": "20Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
        ]
        if claim is not None:
            volumes.append(
                {"name": "weights", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
            )
        else:
            volumes.append({"name": "weights", "emptyDir": {}})
        if args.tls_secret:
            mounts.append({"name": "tls", "mountPath": TLS_DIR, "readOnly": True})
            volumes.append(
                {"name": "tls", "secret": {"secretName": args.tls_secret, "defaultMode": 0o440}}
            )
        gpus = {GPU_RESOURCE: str(model.gpus)}
        container = {
            "name": "vllm",
            "image": args.image,
            "imagePullPolicy": "Always",
            "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            "args": self._args_for(model),
            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
            "env": [
                model.api_key.env_var("VLLM_API_KEY"),
                {"name": "HF_HUB_OFFLINE", "value": "1"},
                {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
                {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                {"name": "DO_NOT_TRACK", "value": "1"},
                {"name": "HOME", "value": SCRATCH_DIR},
                {"name": "HF_HOME", "value": f"{SCRATCH_DIR}/hf"},
            ],
            "resources": model.resources.manifest(gpus),
            "securityContext": container_security_context(read_only_root=True),
            "startupProbe": http_probe(
                "/health",
                "http",
                period=STARTUP_PERIOD,
                failures=-(-model.startup_timeout_seconds // STARTUP_PERIOD),
                scheme=scheme,
            ),
            "readinessProbe": http_probe("/health", "http", period=5, failures=3, scheme=scheme),
            "livenessProbe": http_probe(
                "/health", "http", period=15, failures=4, timeout=5, scheme=scheme
            ),
            "volumeMounts": mounts,
        }
        pod: dict[str, Any] = {
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(),
            "hostIPC": False,
            "hostPID": False,
            "hostNetwork": False,
            "nodeSelector": dict(args.node_selector),
            "tolerations": list(args.tolerations),
            "containers": [container],
            "volumes": volumes,
            "terminationGracePeriodSeconds": 60,
        }
        if args.runtime_class_name:
            pod["runtimeClassName"] = args.runtime_class_name
        if model.weights.registry_image is not None:
            pod["initContainers"] = [self._weights_copier(model.weights.registry_image)]
        return pod

    def _weights_copier(self, image: str) -> dict[str, Any]:
        return {
            "name": "weights",
            "image": image,
            "imagePullPolicy": "Always",
            "command": ["cp", "-a", f"{MODELS_DIR}/.", "/target/"],
            "resources": Resources(
                cpu_request="500m", memory_request="512Mi", cpu_limit="2", memory_limit="2Gi"
            ).manifest(),
            "securityContext": container_security_context(read_only_root=True),
            "volumeMounts": [{"name": "weights", "mountPath": "/target"}],
        }

    def _scaled_object(
        self,
        model: ServedModel,
        prefix: str,
        labels: dict[str, str],
        workload: pulumi.CustomResource,
        opts: pulumi.ResourceOptions,
    ) -> None:
        keda = model.keda
        assert keda is not None
        query = (
            f'sum(vllm:num_requests_waiting{{namespace="{self._args.namespace}",'
            f'model_name="{model.name}"}})'
        )
        k8s.apiextensions.CustomResource(
            f"{prefix}-scaledobject",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata=metadata(model.name, self._args.namespace, labels),
            spec={
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": self._args.workload,
                    "name": model.name,
                },
                "minReplicaCount": keda.min_replicas,
                "maxReplicaCount": keda.max_replicas,
                "triggers": [
                    {
                        "type": "prometheus",
                        "metadata": {
                            "serverAddress": keda.prometheus_url,
                            "query": query,
                            "threshold": str(keda.threshold),
                        },
                    }
                ],
            },
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[workload])),
        )

    def _describe(self, model: ServedModel) -> RouteDescriptor:
        scheme = "https" if self._args.tls_secret else "http"
        host = f"{model.name}.{self._args.namespace}.svc.cluster.local"
        settings: dict[str, Any] = {
            "base_url": f"{scheme}://{host}:{PORT}/v1",
            "model": model.name,
            "api_key_env": model.api_key_env,
        }
        if self._args.allow_insecure_http:
            settings["allow_insecure_http"] = True
        return RouteDescriptor(
            provider=PROVIDER,
            model=model.name,
            region=self._placement.region,
            jurisdiction=self._placement.jurisdiction,
            settings=settings,
            price=model.price,
        )
