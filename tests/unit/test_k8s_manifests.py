"""deploy/k8s: every manifest valid against the Kubernetes schemas (strict: unknown fields are
errors), shipped offline in kubernetes-validate; and the references between them consistent,
which no schema can check. Mutation tests prove that a typo fails."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# The oldest release still supported upstream when written, and the newest the package knows.
VERSIONS = ("1.31.0", kubernetes_validate.latest_version())


def load_manifests() -> dict[str, dict[str, Any]]:
    """kind -> resource, for every manifest file but the kustomization."""
    resources = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            resources[doc["kind"]] = doc
    return resources


def validate(resource: dict[str, Any]) -> None:
    for version in VERSIONS:
        kubernetes_validate.validate(resource, version, strict=True)


def pod_spec(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return resources["Deployment"]["spec"]["template"]["spec"]


def check_references(resources: dict[str, dict[str, Any]]) -> None:
    """What a schema cannot see: names and labels that must agree across manifests."""
    deployment, service, hpa = (
        resources[k] for k in ("Deployment", "Service", "HorizontalPodAutoscaler")
    )
    config = resources["ConfigMap"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items(), "Deployment selector does not match its pods"
    assert service["spec"]["selector"].items() <= pod_labels.items(), "Service selects no pod"

    (container,) = pod_spec(resources)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in ports, f"Service targets unknown port {port['targetPort']}"
    assert str(ports["http"]) == config["data"]["BENTOML_PORT"], "container port != BENTOML_PORT"

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["exec"]["command"][-1] == "/livez"
    for probe in ("startupProbe", "readinessProbe"):
        # A number: podman 4.3 resolves no named probe port (and must be the server's port).
        assert container[probe]["httpGet"]["port"] == ports["http"], f"{probe} on another port"

    assert container["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
    api_key = next(e for e in container["env"] if e["name"] == "CREDIT_API_KEY")
    assert api_key["valueFrom"]["secretKeyRef"]["optional"] is True

    resources_ = container["resources"]
    assert set(resources_["requests"]) == set(resources_["limits"]) == {"cpu", "memory"}

    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"] for v in pod_spec(resources)["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes, "mount of an unknown volume"
    # The root filesystem is read-only: whatever the service writes must sit on a volume.
    for setting in ("CREDIT_REQUEST_LOG", "CREDIT_OVERRIDE_LOG", "BENTOML_HOME"):
        path = config["data"][setting]
        assert any(path.startswith(m + "/") for m in mounts), f"{setting} not on a volume"

    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    return load_manifests()


def test_every_manifest_is_valid_against_the_kubernetes_schemas(manifests):
    assert set(manifests) == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"}
    for resource in manifests.values():
        validate(resource)


def test_references_between_manifests_agree(manifests):
    check_references(manifests)


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["images"][0]["name"] == "credit-scoring"


def _set(resource: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = resource
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value


def _rename(resource: dict[str, Any], path: str, new_key: str) -> None:
    *parents, last = path.split(".")
    node: Any = resource
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[new_key] = node.pop(last)


CONTAINER = "spec.template.spec.containers.0"


@pytest.mark.parametrize(
    ("kind", "mutate"),
    [
        ("Deployment", lambda r: _rename(r, f"{CONTAINER}.readinessProbe", "readinesProbe")),
        ("Deployment", lambda r: _rename(r, f"{CONTAINER}.resources.limits", "limit")),
        ("Deployment", lambda r: _set(r, "spec.replicas", "two")),
        ("Deployment", lambda r: _set(r, f"{CONTAINER}.ports.0.containerPort", "http")),
        ("Service", lambda r: _rename(r, "spec.ports.0.targetPort", "targetport")),
        ("HorizontalPodAutoscaler", lambda r: _set(r, "spec.minReplicas", -1.5)),
        ("ConfigMap", lambda r: _set(r, "data.BENTOML_PORT", 3000)),  # must be a string
    ],
)
def test_a_typo_fails_schema_validation(manifests, kind, mutate):
    broken = copy.deepcopy(manifests[kind])
    mutate(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("Service", "spec.selector", {"app.kubernetes.io/name": "credit-scorin"}),
        ("Service", "spec.ports.0.targetPort", "htp"),
        ("HorizontalPodAutoscaler", "spec.scaleTargetRef.name", "credit-score"),
        ("Deployment", f"{CONTAINER}.readinessProbe.httpGet.path", "/ready"),
        ("Deployment", f"{CONTAINER}.readinessProbe.httpGet.port", 3001),
        ("ConfigMap", "data.CREDIT_REQUEST_LOG", "/home/bentoml/requests.sqlite"),
    ],
)
def test_a_wrong_reference_fails_the_consistency_check(manifests, kind, path, value):
    broken = copy.deepcopy(manifests)
    _set(broken[kind], path, value)
    validate(broken[kind])  # still schema-valid: only the cross-check can catch it
    with pytest.raises(AssertionError):
        check_references(broken)
