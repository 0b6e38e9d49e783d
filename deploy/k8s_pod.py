"""The Deployment of deploy/k8s read as the pod it describes, and turned into what podman 4.3's
`kube play` accepts: pure functions, unit-tested without podman.

What podman 4.3 cannot take from the manifests, and what stands in for it here:
- no `kind: Secret`: the Secret `secretKeyRef` names is created with `podman secret create`
  from a Secret manifest's `data` (the JSON form kube play reads), key name included;
- readiness and startup probes are ignored: the smoke test polls their path and port from
  the host, within the probe's own budget (period x failure threshold);
- a liveness probe becomes the container's health check (restart on failure), but no systemd
  timer runs it here: the smoke test runs `podman healthcheck run` every `periodSeconds`;
- port forwarding from 127.0.0.1 into the pod network fails on this host (no route_localnet):
  the pod uses the host's network, its server bound to 127.0.0.1 (BENTOML_HOST) on the
  Deployment's own port, so nothing listens beyond the loopback interface;
- `replicas`, the Service and the HorizontalPodAutoscaler: one pod, validated offline only.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).with_name("k8s")
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Probe:
    """One of the container's probes: an HTTP GET (path, numeric port) or an exec command."""

    kind: str  # startupProbe, readinessProbe, livenessProbe
    path: str | None
    port: int | None
    command: tuple[str, ...] | None
    period_s: float
    timeout_s: float
    failure_threshold: int
    initial_delay_s: float

    @property
    def budget_s(self) -> float:
        """How long Kubernetes gives the probe to succeed before it acts."""
        return self.initial_delay_s + self.period_s * self.failure_threshold


@dataclass(frozen=True)
class Manifests:
    """The Deployment and its ConfigMap, as read from deploy/k8s."""

    deployment: dict[str, Any]
    configmap: dict[str, Any]

    @classmethod
    def load(cls, folder: Path = K8S) -> Manifests:
        docs = {
            doc["kind"]: doc
            for path in sorted(folder.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text())
            if doc and "kind" in doc
        }
        for kind in ("Deployment", "ConfigMap"):
            if kind not in docs:
                raise ValueError(f"no {kind} manifest in {folder}")
        return cls(docs["Deployment"], docs["ConfigMap"])

    @property
    def pod(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def container(self) -> dict[str, Any]:
        (container,) = self.pod["containers"]  # one container: the API
        return container

    @property
    def settings(self) -> dict[str, str]:
        """The ConfigMap's data: the environment every pod gets."""
        return dict(self.configmap["data"])

    @property
    def user(self) -> tuple[int, int]:
        """The pod's uid and gid (the container's own securityContext wins)."""
        merged = self.pod.get("securityContext", {}) | self.container.get("securityContext", {})
        return int(merged["runAsUser"]), int(merged["runAsGroup"])

    @property
    def container_port(self) -> int:
        (port,) = self.container["ports"]
        return int(port["containerPort"])

    def probe(self, kind: str) -> Probe:
        """A probe of the container, its port resolved to a number (a named port is looked up
        in the container's ports, as the kubelet does)."""
        spec = self.container[kind]
        path = port = command = None
        if "httpGet" in spec:
            path, port = spec["httpGet"]["path"], self._port_number(spec["httpGet"]["port"])
        elif "exec" in spec:
            command = tuple(spec["exec"]["command"])
        else:
            raise ValueError(f"{kind}: only httpGet and exec probes are supported here")
        return Probe(
            kind=kind,
            path=path,
            port=port,
            command=command,
            period_s=float(spec.get("periodSeconds", 10)),
            timeout_s=float(spec.get("timeoutSeconds", 1)),
            failure_threshold=int(spec.get("failureThreshold", 3)),
            initial_delay_s=float(spec.get("initialDelaySeconds", 0)),
        )

    def _port_number(self, port: int | str) -> int:
        if isinstance(port, int):
            return port
        named = {p.get("name"): int(p["containerPort"]) for p in self.container["ports"]}
        if port not in named:
            raise ValueError(f"probe port {port!r} is not a port of the container")
        return named[port]

    def secret_ref(self, variable: str) -> tuple[str, str]:
        """Name and key of the Secret that sets the environment variable ``variable``."""
        for env in self.container.get("env", []):
            if env["name"] == variable and "secretKeyRef" in env.get("valueFrom", {}):
                ref = env["valueFrom"]["secretKeyRef"]
                return ref["name"], ref["key"]
        raise ValueError(f"no environment variable {variable} from a Secret in the Deployment")

    def mount_of(self, path: str) -> dict[str, Any]:
        """The volume mount that holds ``path`` (a file the service writes)."""
        for mount in self.container["volumeMounts"]:
            if path.startswith(mount["mountPath"].rstrip("/") + "/"):
                return mount
        raise ValueError(f"{path} is on no volume of the container: the root is read-only")

    @property
    def memory_limit_bytes(self) -> int:
        return quantity_bytes(self.container["resources"]["limits"]["memory"])

    @property
    def cpu_limit(self) -> float:
        return cpu_cores(self.container["resources"]["limits"]["cpu"])


BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def quantity_bytes(quantity: str | int) -> int:
    """A Kubernetes memory quantity (``512Mi``, ``1G``, ``1048576``) in bytes."""
    text = str(quantity)
    for suffix, factor in (BINARY | DECIMAL).items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def cpu_cores(quantity: str | int | float) -> float:
    """A Kubernetes CPU quantity (``500m``, ``2``) in cores."""
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def secret_data(key: str, value: str) -> dict[str, str]:
    """The `data` of the Secret `kubectl create secret generic NAME --from-literal=KEY=VALUE`
    makes (values base64-encoded); as JSON, the content of the podman secret kube play reads."""
    return {key: base64.b64encode(value.encode()).decode()}


def play_manifest(manifests: Manifests, image: str) -> str:
    """The ConfigMap and the Deployment as podman plays them here: the image built, one
    replica, on the host's network bound to 127.0.0.1 only (podman maps declared container
    ports, which a host-network pod cannot have, so they go; the server's port is the
    ConfigMap's BENTOML_PORT). Settings, user, probes, resources and volumes are unchanged."""
    deployment = copy.deepcopy(manifests.deployment)
    deployment["spec"]["replicas"] = 1
    pod = deployment["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    (container,) = pod["containers"]
    container["image"] = image
    container.pop("ports")
    container["env"] = [*container.get("env", []), {"name": "BENTOML_HOST", "value": LOOPBACK}]
    return yaml.safe_dump_all([manifests.configmap, deployment], sort_keys=False)


def empty_dirs(manifests: Manifests) -> list[str]:
    """The pod's emptyDir volumes: podman makes each a named volume, which it keeps."""
    return [v["name"] for v in manifests.pod.get("volumes", []) if "emptyDir" in v]


def pod_name(manifests: Manifests) -> str:
    """The name podman gives the (first) pod of a Deployment."""
    return f"{manifests.deployment['metadata']['name']}-pod-0"


def container_name(manifests: Manifests) -> str:
    """The name podman gives the pod's container: pod name, dash, container name."""
    return f"{pod_name(manifests)}-{manifests.container['name']}"
