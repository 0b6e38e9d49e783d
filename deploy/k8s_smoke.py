"""`make k8s-smoke`: the Deployment of deploy/k8s, with its ConfigMap, run by `podman kube play`
on the built image, on 127.0.0.1 only; then checked as a cluster would use it, and torn down.

Checks, in order: ready by the Deployment's own startup and readiness probes (path and port
from the YAML, polled from the host); the settings the service reports equal the ConfigMap's;
401 without the API key (from the Secret the Deployment names); known applicants scored over
HTTP equal the model in process; the pod's uid, a read-only root, the request log on the
declared volume owned by that uid, the memory and CPU limits applied. Then faults: a killed
worker and a restarted container lose no request-log row (the volume keeps them), and a hung
worker (SIGSTOP) is restarted through the liveness probe. Timings are printed at the end.
deploy/k8s_pod.py says what podman 4.3 cannot do and what stands in for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import typer

from deploy.engine import BUILD_DIR, Engine, Stopwatch, ToolError, detect, fail
from deploy.k8s_pod import (
    Manifests,
    Probe,
    container_name,
    empty_dirs,
    play_manifest,
    pod_name,
    secret_data,
)
from deploy.smoke import known_applicants, load_model, served_probabilities

INFO_FILE = BUILD_DIR / "image.json"
API_KEY_ENV = "CREDIT_API_KEY"
TOLERANCE = 1e-9  # same model, same features: the numbers should be identical
# Finds the worker processes: BentoML starts each with this module on its command line.
WORKER_MARK = "_bentoml_impl.worker"

app = typer.Typer(add_completion=False, help=__doc__)


@dataclass
class Pod:
    """A pod played from the manifests; every podman call it makes is echoed or captured."""

    engine: Engine
    manifests: Manifests
    key: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def port(self) -> int:
        """The server's port: the ConfigMap's BENTOML_PORT (on the host's loopback here)."""
        return int(self.manifests.settings["BENTOML_PORT"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def container(self) -> str:
        return container_name(self.manifests)

    def podman(self, *args: str, check: bool = True, capture: bool = True) -> str:
        return self.engine.run("podman", *args, check=check, capture=capture).stdout or ""

    def exec(self, *command: str, check: bool = True) -> str:
        return self.podman("exec", self.container, *command, check=check).strip()

    def python(self, code: str) -> str:
        """Run Python inside the container, as the container's user."""
        return self.exec("python", "-c", code)

    def signal(self, pid: int, name: str) -> None:
        """Send a signal to a process inside the container (no `kill` binary in the image)."""
        self.python(f"import os, signal; os.kill({pid}, signal.{name})")

    def state(self, template: str) -> str:
        return self.podman("inspect", "--format", template, self.container).strip()

    def restarts(self) -> int:
        return int(self.state("{{.RestartCount}}"))

    def started_at(self) -> str:
        return self.state("{{.State.StartedAt}}")

    def logged_rows(self) -> int:
        path = self.manifests.settings["CREDIT_REQUEST_LOG"]
        query = "select count(*) from decisions"
        return int(
            self.python(
                f"import sqlite3; print(sqlite3.connect({path!r}).execute({query!r}).fetchone()[0])"
            )
        )


@contextlib.contextmanager
def played(engine: Engine, manifests: Manifests, image: str) -> Iterator[Pod]:
    """The pod running, with its API key from a podman secret; removed afterwards with its
    volumes and secret, also when a check fails (the log's tail is printed then)."""
    secret, key_name = manifests.secret_ref(API_KEY_ENV)
    pod = Pod(engine, manifests, secrets.token_hex(24))
    refuse_leftovers(pod)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR, prefix="k8s-") as tmp:
        secret_file, play_file = Path(tmp, "secret.json"), Path(tmp, "play.yaml")
        secret_file.write_text(json.dumps(secret_data(key_name, pod.key)))
        play_file.write_text(play_manifest(manifests, image))
        engine.run("podman", "secret", "create", secret, str(secret_file))
        secret_file.unlink()  # the key now lives in podman's secret store only
        passed = False
        try:
            started = time.monotonic()
            engine.run("podman", "kube", "play", str(play_file))
            pod.timings["kube play"] = time.monotonic() - started
            yield pod
            passed = True
        finally:
            if not passed:
                logs = engine.run(
                    "podman", "logs", "--tail", "60", pod.container, check=False, capture=True
                )
                print(f"--- container log ---\n{logs.stdout}{logs.stderr}")
            started = time.monotonic()
            engine.run("podman", "kube", "down", str(play_file), check=False)
            for volume in empty_dirs(manifests):
                engine.run("podman", "volume", "rm", "-f", volume, check=False, capture=True)
            engine.run("podman", "secret", "rm", secret, check=False, capture=True)
            pod.timings["teardown"] = time.monotonic() - started


def refuse_leftovers(pod: Pod) -> None:
    """Stop before playing when the port is taken or a volume of that name exists (kube play
    would reuse it, rows and all): say what to remove rather than remove it."""
    if http_ok(pod.url + "/livez", timeout=2) or port_taken(pod.port):
        raise ToolError(f"127.0.0.1:{pod.port} (BENTOML_PORT) is in use: stop what listens there")
    for volume in empty_dirs(pod.manifests):
        exists = pod.engine.run("podman", "volume", "exists", volume, check=False, capture=True)
        if exists.returncode == 0:
            raise ToolError(
                f"podman volume {volume!r} exists (an earlier run's?): `podman volume rm {volume}`"
            )
    secret, _ = pod.manifests.secret_ref(API_KEY_ENV)
    if (
        pod.engine.run("podman", "secret", "inspect", secret, check=False, capture=True).returncode
        == 0
    ):
        raise ToolError(
            f"podman secret {secret!r} exists (an earlier run's?): `podman secret rm {secret}`"
        )


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str, timeout: float) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_probe(pod: Pod, probe: Probe) -> float:
    """Seconds until an HTTP probe of the Deployment answers 200, polled from the host every
    period, as the kubelet polls it; fails after the probe's budget."""
    if probe.path is None or probe.port != pod.port:
        raise ToolError(f"{probe.kind} is not an HTTP GET on BENTOML_PORT ({pod.port})")
    url = pod.url + probe.path
    started = time.monotonic()
    deadline = started + probe.budget_s
    time.sleep(probe.initial_delay_s)
    while time.monotonic() < deadline:
        if http_ok(url, probe.timeout_s):
            return time.monotonic() - started
        if pod.state("{{.State.Running}}") != "true":
            raise ToolError(f"the container stopped before {probe.kind} {probe.path} answered")
        time.sleep(min(probe.period_s, 1.0))
    raise ToolError(f"{probe.kind} GET {probe.path} not 200 within {probe.budget_s:.0f} s")


def wait_ready(pod: Pod) -> float:
    """Startup probe first (its budget covers the model load), then the readiness probe."""
    started = time.monotonic()
    wait_probe(pod, pod.manifests.probe("startupProbe"))
    wait_probe(pod, pod.manifests.probe("readinessProbe"))
    return time.monotonic() - started


def check_settings(pod: Pod) -> None:
    """The service's own report of its settings equals the ConfigMap, key by key; BentoML's
    settings (not the service's) by what they cause: the port answered, the home written."""
    settings = pod.manifests.settings
    reported = httpx.post(
        f"{pod.url}/metadata", json={}, timeout=10, headers={"authorization": f"Bearer {pod.key}"}
    ).json()["settings"]
    for name, value in settings.items():
        if name.startswith("CREDIT_") and reported.get(name) != value:
            raise ToolError(
                f"ConfigMap sets {name}={value!r}, the service has {reported.get(name)!r}"
            )
    if reported.get(API_KEY_ENV) != "set":
        raise ToolError(f"the service has no API key: the Secret did not reach {API_KEY_ENV}")
    if int(settings["BENTOML_PORT"]) != pod.manifests.container_port:
        raise ToolError("BENTOML_PORT is not the container port the probes and Service use")
    uid, _ = pod.manifests.user
    home = settings["BENTOML_HOME"]
    owner = pod.python(f"import os; print(os.stat({home!r}).st_uid)")
    if owner != str(uid):
        raise ToolError(f"BENTOML_HOME {home} is owned by uid {owner}, not {uid}")
    shown = {k: v for k, v in settings.items() if k.startswith("CREDIT_")}
    print(f"settings reported = ConfigMap: {shown}, API key set, BENTOML_HOME {home} written")


def check_scores(pod: Pod, applicants: list[dict[str, Any]], expected: np.ndarray) -> float:
    """401 without the key; with it, the served probabilities equal the in-process ones."""
    anonymous = httpx.post(f"{pod.url}/predict", json={"applications": applicants}, timeout=30)
    if anonymous.status_code != 401:
        raise ToolError(f"/predict without the API key: HTTP {anonymous.status_code}, not 401")
    served = served_probabilities(pod.url, pod.key, applicants)
    gap = float(np.max(np.abs(served - expected)))
    if served.shape != expected.shape or gap > TOLERANCE:
        raise ToolError(f"served {served} != in-process {expected} (max gap {gap:.3g})")
    return gap


def check_security(pod: Pod) -> None:
    """The service runs as the pod's uid, on a read-only root, writing only to the volume
    that holds the request log (owned by that uid), within the Deployment's limits."""
    uid, gid = pod.manifests.user
    ids = pod.python("import os; s = os.stat('/proc/1'); print(s.st_uid, s.st_gid)")
    if ids != f"{uid} {gid}":
        raise ToolError(f"the service runs as uid/gid {ids}, not {uid} {gid}")
    probe = "try:\n    open('/write-probe', 'w')\nexcept OSError as e:\n    print(e.errno)"
    if pod.python(probe) != "30":  # EROFS
        raise ToolError("the root filesystem is writable")
    log = pod.manifests.settings["CREDIT_REQUEST_LOG"]
    mount = pod.manifests.mount_of(log)["mountPath"]
    mounts = json.loads(pod.state("{{json .Mounts}}"))
    if not any(m["Destination"] == mount for m in mounts):
        raise ToolError(f"{mount} (the request log's volume) is not mounted in the container")
    owner = pod.python(f"import os; print(os.stat({log!r}).st_uid)")
    if owner != str(uid):
        raise ToolError(f"request log {log} is owned by uid {owner}, not {uid}")
    memory = int(pod.state("{{.HostConfig.Memory}}"))
    if memory != pod.manifests.memory_limit_bytes:
        raise ToolError(
            f"memory limit {memory} B, not the Deployment's {pod.manifests.memory_limit_bytes}"
        )
    quota, period = (int(pod.state(f"{{{{.HostConfig.Cpu{k}}}}}")) for k in ("Quota", "Period"))
    if period and abs(quota / period - pod.manifests.cpu_limit) > 1e-6:
        raise ToolError(f"CPU limit {quota / period} cores, not {pod.manifests.cpu_limit}")
    print(
        f"uid/gid {ids}, read-only root, request log on volume {mount} owned by {uid}, "
        f"limits {memory / 2**20:.0f} MiB / {quota / period if period else 'no'} CPU"
    )


def worker_pids(pod: Pod) -> list[int]:
    """The service's worker processes inside the container (not the arbiter)."""
    code = (
        "import os\n"
        "for p in filter(str.isdigit, os.listdir('/proc')):\n"
        "    if int(p) == os.getpid():\n"
        "        continue  # this script: its own code holds the mark\n"
        "    try:\n"
        "        c = open(f'/proc/{p}/cmdline', 'rb').read()\n"
        "    except OSError:\n"
        "        continue\n"
        f"    if {WORKER_MARK.encode()!r} in c:\n"
        "        print(p)\n"
    )
    return [int(p) for p in pod.python(code).split()]


def score_and_count(pod: Pod, applicants: list[dict[str, Any]], before: int, what: str) -> int:
    """After a fault: the rows logged before it are still there, and new ones are added."""
    after_fault = pod.logged_rows()
    if after_fault != before:
        raise ToolError(f"{what}: the request log holds {after_fault} rows, {before} before")
    served_probabilities(pod.url, pod.key, applicants)
    rows = pod.logged_rows()
    if rows != before + len(applicants):
        raise ToolError(
            f"{what}: {rows} rows after scoring {len(applicants)} more, "
            f"not {before + len(applicants)}"
        )
    return rows


def survive_worker_kill(pod: Pod, applicants: list[dict[str, Any]], rows: int) -> int:
    """SIGKILL the worker: the arbiter starts another in the same container (no restart:
    stock BentoML in its own image let the dead worker end the server, and the container's
    restart hid it), the pod stays, no row is lost."""
    (worker,) = worker_pids(pod)
    restarts = pod.restarts()
    started = time.monotonic()
    pod.signal(worker, "SIGKILL")
    deadline = started + pod.manifests.probe("livenessProbe").budget_s
    while time.monotonic() < deadline:
        pids = worker_pids(pod)
        if pids and worker not in pids:
            break
        time.sleep(0.5)
    wait_probe(pod, pod.manifests.probe("readinessProbe"))
    pod.timings["worker kill -> ready"] = time.monotonic() - started
    if pod.restarts() != restarts:
        raise ToolError(
            f"worker kill: the container restarted ({restarts} -> {pod.restarts()} restarts)"
            " instead of the server replacing its worker"
        )
    rows = score_and_count(pod, applicants, rows, "worker killed")
    print(f"worker {worker} killed: a new worker {worker_pids(pod)} serves; {rows} rows kept")
    return rows


def survive_container_restart(pod: Pod, applicants: list[dict[str, Any]], rows: int) -> int:
    """The container's main process ends (SIGTERM to PID 1, as a crash of the server would):
    the pod's restart policy starts it again on the same volume; no row is lost. (`podman
    kill` would not do: podman counts it as stopped by the user and does not restart.)"""
    restarts, started_at = pod.restarts(), pod.started_at()
    started = time.monotonic()
    pod.signal(1, "SIGTERM")
    wait_restarted(pod, started_at, pod.manifests.probe("startupProbe").budget_s)
    wait_ready(pod)
    pod.timings["container restart -> ready"] = time.monotonic() - started
    rows = score_and_count(pod, applicants, rows, "container restarted")
    print(
        f"main process ended, container restarted by its restart policy "
        f"({restarts} -> {pod.restarts()} "
        f"restarts); {rows} rows kept"
    )
    return rows


def wait_restarted(pod: Pod, started_at: str, budget_s: float) -> None:
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        if pod.started_at() != started_at and pod.state("{{.State.Running}}") == "true":
            return
        time.sleep(0.5)
    raise ToolError(f"the container did not start again within {budget_s:.0f} s")


def liveness_restarts_hung_worker(pod: Pod, applicants: list[dict[str, Any]], rows: int) -> int:
    """SIGSTOP the worker: /livez stops answering, the liveness probe fails failureThreshold
    times in a row (run every periodSeconds, by `podman healthcheck run` here) and the
    container is restarted; the request log keeps its rows."""
    liveness = pod.manifests.probe("livenessProbe")
    (worker,) = worker_pids(pod)
    started_at = pod.started_at()
    pod.signal(worker, "SIGSTOP")
    started = time.monotonic()
    deadline = started + liveness.budget_s + liveness.period_s + liveness.timeout_s * 2
    failures = 0
    while pod.started_at() == started_at:
        if time.monotonic() > deadline:
            raise ToolError(f"liveness: no restart {deadline - started:.0f} s after the hang")
        result = pod.engine.run(
            "podman", "healthcheck", "run", pod.container, check=False, capture=True
        )
        failures = 0 if result.returncode == 0 else failures + 1
        print(
            f"  liveness probe {time.monotonic() - started:5.1f} s: "
            f"{(result.stdout or result.stderr).strip() or 'healthy'}"
        )
        time.sleep(liveness.period_s)
    pod.timings["hang -> liveness restart"] = time.monotonic() - started
    wait_restarted(pod, started_at, liveness.budget_s)
    wait_ready(pod)
    pod.timings["hang -> ready again"] = time.monotonic() - started
    rows = score_and_count(pod, applicants, rows, "liveness restart")
    print(
        f"hung worker {worker} (SIGSTOP): liveness failed {failures}x, container restarted "
        f"after {pod.timings['hang -> liveness restart']:.0f} s; {rows} rows kept"
    )
    return rows


def smoke_test(engine: Engine, image: str, model_tag: str, faults: bool = True) -> dict[str, float]:
    manifests = Manifests.load()
    scorer = load_model(model_tag)
    applicants = known_applicants(scorer)
    expected = scorer.predict_proba(pd.DataFrame.from_records(applicants))
    watch = Stopwatch()
    with played(engine, manifests, image) as pod:
        print(f"pod {pod_name(manifests)} from {image} on {pod.url} (127.0.0.1 only)")
        pod.timings["ready (startup + readiness probes)"] = wait_ready(pod)
        check_settings(pod)
        started = time.monotonic()
        gap = check_scores(pod, applicants, expected)
        pod.timings["score + compare"] = time.monotonic() - started
        check_security(pod)
        rows = pod.logged_rows()
        if rows != len(applicants):
            raise ToolError(f"request log holds {rows} rows, not {len(applicants)}")
        print(f"{len(applicants)} applicants over HTTP = in process (max gap {gap:.1g}), logged")
        if faults:
            rows = survive_worker_kill(pod, applicants, rows)
            rows = survive_container_restart(pod, applicants, rows)
            rows = liveness_restarts_hung_worker(pod, applicants, rows)
    timings = pod.timings | {"total": watch.total}
    print("\nk8s smoke test passed. Timings (s):")
    for name, seconds in timings.items():
        print(f"  {name:<36} {seconds:6.1f}")
    return timings


def image_info() -> dict[str, Any]:
    if not INFO_FILE.is_file():
        raise ToolError(f"no {INFO_FILE}: run `make image` first")
    return json.loads(INFO_FILE.read_text())


@app.command()
def smoke(
    faults: bool = typer.Option(True, help="Kill and hang the worker, restart the container"),
) -> None:
    """Play deploy/k8s on the built image, check it as a cluster would, tear it down."""
    try:
        info = image_info()
        engine = detect("buildah")  # podman: `kube play` is podman's
        smoke_test(engine, info["image"], info["model_tag"], faults)
    except (ToolError, ValueError) as error:
        fail(error)


if __name__ == "__main__":
    if os.geteuid() != 0:
        fail(ToolError("podman is used rootful here: run as root"))
    app()
