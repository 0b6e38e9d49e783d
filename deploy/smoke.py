"""The smoke test of a built image: it runs, it is healthy, and it answers what the model says.

The container runs as deploy/k8s runs it: the ConfigMap's settings as environment, an API key
as CREDIT_API_KEY, the pod's user, a read-only root filesystem with the Deployment's volumes as
tmpfs, no capabilities; on the host network, bound to 127.0.0.1 only. Known applicants (the
README's example and rows of the reference sample stored with the model) are scored over HTTP
and compared with the same model loaded in process from the BentoML store; the request log must
hold them. Then the container is stopped and removed.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import yaml

from credit_scoring.serving import runner
from deploy.engine import Engine, ToolError

K8S = Path(__file__).with_name("k8s")

README_APPLICANT: dict[str, Any] = {
    "SK_ID_CURR": 100002,
    "NAME_CONTRACT_TYPE": "Cash loans",
    "CODE_GENDER": "M",
    "AMT_INCOME_TOTAL": 202500,
    "AMT_CREDIT": 406597.5,
    "AMT_ANNUITY": 24700.5,
    "AMT_GOODS_PRICE": 351000,
    "DAYS_BIRTH": -9461,
    "DAYS_EMPLOYED": -637,
    "EXT_SOURCE_2": 0.2629,
    "EXT_SOURCE_3": 0.1394,
}
REFERENCE_ROWS = 5
TOLERANCE = 1e-9  # same LightGBM, same features: the numbers should be identical


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def known_applicants(scorer) -> list[dict[str, Any]]:
    """The README's applicant and the first rows of the model's reference sample."""
    applicants = [README_APPLICANT]
    if scorer.reference is not None:
        schema = scorer.schema
        # Every row keeps its id: the service answers a batch that mixes rows with and
        # without SK_ID_CURR with an error (NaN id), a bug of its own, not of the image.
        fields = [schema.id_column, *(n for n in schema.names if n in scorer.reference.columns)]
        rows = scorer.reference[fields].head(REFERENCE_ROWS).astype(object)
        applicants += [
            {k: _plain(v) for k, v in row.items() if _plain(v) is not None}
            for row in rows.to_dict(orient="records")
        ]
    return applicants


def load_model(model_tag: str):
    """The model the image serves, from the local BentoML store, as the scorer object."""
    import bentoml

    from credit_scoring.core.scorer import Scorer

    try:
        model = bentoml.models.get(model_tag)
    except bentoml.exceptions.NotFound as error:
        raise ToolError(f"model {model_tag} (the image's) is not in this BentoML store") from error
    return Scorer.load(Path(model.path))


def check_image_config(engine: Engine, ref: str) -> dict[str, Any]:
    """Non-root user, a health check on the readiness endpoint, the model labels."""
    image = engine.inspect_image(ref)
    config = image["Config"]  # docker keeps these in Config, podman also at the top level

    def field(name: str) -> Any:
        return config.get(name) or image.get(name)

    user = (field("User") or "").split(":")[0]
    if user in ("", "root", "0"):
        raise ToolError(f"{ref} runs as root (User={field('User')!r})")
    health = " ".join((field("Healthcheck") or {}).get("Test") or [])
    if "/readyz" not in health:
        raise ToolError(f"{ref} has no health check on /readyz (got {health!r})")
    labels = field("Labels") or {}
    if "credit-scoring.model.tag" not in labels:
        raise ToolError(f"{ref} has no credit-scoring.model.tag label")
    print(f"image config: user {user}, health check on /readyz, labels {labels}")
    return labels


def pod_options(port: int) -> tuple[list[str], dict[str, str]]:
    """`run` options and environment equivalent to the Deployment's pod, from the manifests."""
    settings = yaml.safe_load((K8S / "configmap.yaml").read_text())["data"]
    pod = yaml.safe_load((K8S / "deployment.yaml").read_text())["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = container["securityContext"]
    options = [
        "--user",
        f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}",
    ]
    if security.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    if security.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    options += [f"--cap-drop={cap}" for cap in security["capabilities"]["drop"]]
    for mount in container["volumeMounts"]:  # emptyDir volumes: a tmpfs each
        options += ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777"]
    # Host network here: the port moves off 3000 and the server listens on loopback only.
    env = {**settings, "BENTOML_PORT": str(port), "BENTOML_HOST": "127.0.0.1"}
    return options, env


def logged_rows(engine: Engine, name: str, path: str) -> int:
    query = (
        f"import sqlite3; db = sqlite3.connect({path!r}); "
        "print(db.execute('select count(*) from decisions').fetchone()[0])"
    )
    out = engine.run(engine.runner, "exec", name, "python", "-c", query, capture=True).stdout
    return int(out.strip())


def wait_ready(engine: Engine, name: str, url: str, timeout: float) -> float:
    """Seconds until the container answers on /readyz; fails as soon as it stops running."""

    def running() -> bool:
        state = engine.run(engine.runner, "inspect", "--format", "{{.State.Running}}", name,
                           capture=True, check=False).stdout.strip()  # fmt: skip
        return state == "true"

    try:
        return runner.wait_ready(url + runner.READY_PATH, running, timeout)
    except runner.ServerFailed as error:
        raise ToolError(f"container {name}: {error}") from error


def served_probabilities(url: str, key: str, applicants: list[dict[str, Any]]) -> np.ndarray:
    """The probabilities the service answers for ``applicants``, through BentoML's own client
    (the API key as its bearer token)."""
    import bentoml

    with bentoml.SyncHTTPClient(url, token=key, timeout=30) as client:
        answer = client.predict(applications=applicants)
    return np.array([row["probability"] for row in answer])


def container_healthy(engine: Engine, name: str, timeout: float = 60) -> None:
    """The image's own health check, run by the container engine."""
    if engine.runner == "podman":
        # No systemd timer here to schedule it: run it once, as the timer would.
        result = engine.run("podman", "healthcheck", "run", name, check=False, capture=True)
        if result.returncode != 0:
            raise ToolError(f"podman healthcheck run: {result.stdout}{result.stderr}")
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = engine.run("docker", "inspect", "--format", "{{.State.Health.Status}}", name,
                            capture=True).stdout.strip()  # fmt: skip
        if status == "healthy":
            return
        time.sleep(2)
    raise ToolError(f"container health is {status!r} after {timeout:.0f} s")


def smoke_test(engine: Engine, ref: str, port: int, timeout: float) -> None:
    labels = check_image_config(engine, ref)
    scorer = load_model(labels["credit-scoring.model.tag"])
    applicants = known_applicants(scorer)
    expected = scorer.predict_proba(pd.DataFrame.from_records(applicants))

    name = f"credit-smoke-{os.getpid()}"
    key = secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    options, env = pod_options(port)
    env["CREDIT_API_KEY"] = key
    env_args = [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]
    started = engine.run(engine.runner, "run", "-d", "--name", name, "--network", "host",
                         *options, *env_args, ref, capture=True)  # fmt: skip
    print(f"started {name} from {ref} on {url}: {' '.join(options)}; settings from the ConfigMap")
    if "systemd" in started.stderr:
        print("note: no systemd here to schedule the health check: this test runs it itself")
    passed = False
    try:
        ready_s = wait_ready(engine, name, url, timeout)
        for path in ("/livez", "/metrics"):
            status = httpx.get(url + path, timeout=10).status_code
            if status != 200:
                raise ToolError(f"GET {path}: HTTP {status}")
        body = {"applications": applicants}
        anonymous = httpx.post(f"{url}/predict", json=body, timeout=30)
        if anonymous.status_code != 401:
            raise ToolError(f"/predict without the API key: HTTP {anonymous.status_code}, not 401")
        served = served_probabilities(url, key, applicants)
        gap = float(np.max(np.abs(served - expected)))
        if served.shape != expected.shape or gap > TOLERANCE:
            raise ToolError(f"served {served} != in-process {expected} (max gap {gap:.3g})")
        container_healthy(engine, name)
        uid = engine.run(engine.runner, "exec", name, "id", "-u", capture=True).stdout.strip()
        if uid == "0":
            raise ToolError("the service runs as root inside the container")
        probe = "command -v gcc cc c++ || true"
        compilers = engine.run(engine.runner, "exec", name, "sh", "-c", probe, capture=True)
        if compilers.stdout.strip():
            raise ToolError(f"a compiler ships in the image: {compilers.stdout.split()}")
        logged = logged_rows(engine, name, env["CREDIT_REQUEST_LOG"])
        if logged != len(applicants):
            raise ToolError(f"request log holds {logged} rows, not {len(applicants)}")
        passed = True
        print(
            f"\nsmoke test passed: {ref} ready in {ready_s:.1f} s on {url}, uid {uid}, "
            f"healthy, read-only root, no compiler; {len(applicants)} applicants scored over "
            f"HTTP equal the in-process model (max gap {gap:.1g}) and logged; 401 without the "
            f"API key; probabilities {np.round(served, 4).tolist()}"
        )
    finally:
        if not passed:
            logs = engine.run(
                engine.runner, "logs", "--tail", "60", name, check=False, capture=True
            )
            print(f"--- container log ---\n{logs.stdout}{logs.stderr}")
        engine.run(engine.runner, "rm", "-f", name, check=False, capture=True)
