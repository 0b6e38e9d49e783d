"""deploy/k8s_pod.py: the Deployment read as the pod `make k8s-smoke` plays (probes, user,
secret, volumes, limits from the YAML), and the manifest podman is given: only what podman
4.3 or this host cannot take differs from deploy/k8s. No podman needed."""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import pytest
import yaml

from deploy.k8s_pod import (
    LOOPBACK,
    Manifests,
    cpu_cores,
    empty_dirs,
    play_manifest,
    quantity_bytes,
    secret_data,
)

ROOT = Path(__file__).resolve().parents[2]
BENTO_SRC = "/home/bentoml/bento/src/"


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    return Manifests.load()


def test_probes_are_read_from_the_deployment_with_numeric_ports(manifests):
    port = int(manifests.settings["BENTOML_PORT"])
    readiness = manifests.probe("readinessProbe")
    assert (readiness.path, readiness.port) == ("/readyz", port)
    startup = manifests.probe("startupProbe")
    assert (startup.path, startup.port) == ("/livez", port)
    assert startup.budget_s == startup.period_s * startup.failure_threshold >= 60


def test_liveness_runs_a_module_the_image_ships_with_no_space_in_any_argument(manifests):
    """podman 4.3 joins the command with spaces into a shell line: no argument may need quotes."""
    liveness = manifests.probe("livenessProbe")
    assert liveness.command is not None
    python, script, path = liveness.command
    assert (python, path) == ("python", "/livez")
    # The Bento copies the repository's code under /home/bentoml/bento/src.
    assert (ROOT / script.removeprefix(BENTO_SRC)).is_file()
    assert not any(set(arg) & set(" ()'\";&|") for arg in liveness.command)


def test_a_named_probe_port_is_resolved_and_an_unknown_one_fails(manifests):
    deployment = copy.deepcopy(manifests.deployment)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    container["readinessProbe"]["httpGet"]["port"] = "http"
    named = Manifests(deployment, manifests.configmap)
    assert named.probe("readinessProbe").port == manifests.container_port
    container["readinessProbe"]["httpGet"]["port"] = "htp"
    with pytest.raises(ValueError, match="htp"):
        named.probe("readinessProbe")


def test_pod_user_secret_volume_and_limits(manifests):
    assert manifests.user == (1034, 1034)
    assert manifests.secret_ref("CREDIT_API_KEY") == ("credit-scoring-api-key", "api-key")
    log = manifests.settings["CREDIT_REQUEST_LOG"]
    assert manifests.mount_of(log)["name"] in empty_dirs(manifests)
    with pytest.raises(ValueError, match="read-only"):
        manifests.mount_of("/home/bentoml/requests.sqlite")
    assert manifests.memory_limit_bytes == quantity_bytes(
        manifests.container["resources"]["limits"]["memory"]
    )


def test_quantities():
    assert quantity_bytes("512Mi") == 512 * 2**20
    assert quantity_bytes("1G") == 10**9
    assert quantity_bytes(1024) == 1024
    assert (cpu_cores("500m"), cpu_cores("2"), cpu_cores(1.5)) == (0.5, 2.0, 1.5)


def test_secret_data_is_what_kubectl_would_store():
    data = secret_data("api-key", "s3cret")
    assert base64.b64decode(data["api-key"]).decode() == "s3cret"


def test_the_played_manifest_differs_only_where_podman_or_this_host_needs(manifests):
    configmap, deployment = yaml.safe_load_all(play_manifest(manifests, "localhost/img:v1"))
    assert configmap == manifests.configmap
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod.pop("containers")
    assert (deployment["spec"]["replicas"], pod.pop("hostNetwork")) == (1, True)
    assert container.pop("image") == "localhost/img:v1"
    assert {"name": "BENTOML_HOST", "value": LOOPBACK} in container["env"]
    assert "ports" not in container
    original = copy.deepcopy(manifests.container)
    original.pop("ports")
    original.pop("image")
    container["env"].remove({"name": "BENTOML_HOST", "value": LOOPBACK})
    assert container == original
    pristine = {k: v for k, v in manifests.pod.items() if k != "containers"}
    assert pod == pristine
