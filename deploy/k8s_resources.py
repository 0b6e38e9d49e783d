"""`make k8s-resources`: measure what one pod of deploy/k8s needs, to size its requests/limits.

The Deployment is played as `make k8s-smoke` plays it (same image, settings, limits); its
container's cgroup is read from the host. Two loads, one after the other:
- the target load: ``--rps`` one-applicant /predict requests per second (paced, from
  ``--clients`` threads) for ``--seconds``: CPU seconds per request and the cores it takes.
  The applicant is a typical client of the model's reference sample with all its history
  rows (the median row count of every table), or with ``--application-only`` the README's
  applicant without any;
- the heaviest answer: /explain with batches of ``--batch`` applicants (TreeSHAP, the
  largest arrays), for the peak memory of the worker and its arbiter.
It prints the figures and the requests/limits they suggest; deployment.yaml carries the last
ones measured, in a comment beside the values.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer

from deploy.engine import Engine, ToolError, detect, fail
from deploy.k8s_pod import Manifests
from deploy.k8s_smoke import Pod, image_info, played, wait_ready
from deploy.smoke import known_applicants, load_model

TYPICAL = 0.5  # the quantile of every table's row count the target load's applicant sits at

CGROUP = Path("/sys/fs/cgroup")
MIB = 2**20

app = typer.Typer(add_completion=False, help=__doc__)


@dataclass(frozen=True)
class Cgroup:
    """The container's cgroup (v1 memory and cpuacct controllers, or the v2 unified one)."""

    memory: Path
    cpu: Path
    v2: bool

    @classmethod
    def of(cls, pid: int) -> Cgroup:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        paths = {}
        for line in lines:
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") or [""]:
                paths[controller] = path.lstrip("/")
        if "memory" in paths:
            return cls(
                CGROUP / "memory" / paths["memory"], CGROUP / "cpuacct" / paths["cpuacct"], False
            )
        unified = CGROUP / paths[""]
        return cls(unified, unified, True)

    def cpu_seconds(self) -> float:
        if self.v2:
            stat = dict(line.split() for line in (self.cpu / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        return int((self.cpu / "cpuacct.usage").read_text()) / 1e9

    def memory_bytes(self) -> int:
        name = "memory.current" if self.v2 else "memory.usage_in_bytes"
        return int((self.memory / name).read_text())

    def reset_peak(self) -> None:
        if not self.v2:  # v1 lets root reset the high-water mark; v2's memory.peak cannot be
            (self.memory / "memory.max_usage_in_bytes").write_text("0")

    def peak_bytes(self) -> int:
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return int((self.memory / name).read_text())


def paced_load(
    url: str, key: str, body: dict[str, Any], rps: float, clients: int, seconds: float
) -> tuple[int, int]:
    """Send ``rps`` requests per second in all from ``clients`` threads for ``seconds``;
    returns (answered with 200, failed). A thread that falls behind sends at once."""
    counts = [0, 0]
    lock = threading.Lock()
    interval = clients / rps

    def client() -> None:
        headers = {"authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            due = time.monotonic()
            end = due + seconds
            while due < end:
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    ok = http.post("/predict", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    counts[0 if ok else 1] += 1
                due += interval

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts[0], counts[1]


def explain_batches(pod: Pod, applicants: list[dict[str, Any]], batch: int, rounds: int) -> None:
    rows = [applicants[i % len(applicants)] for i in range(batch)]
    headers = {"authorization": f"Bearer {pod.key}"}
    with httpx.Client(base_url=pod.url, headers=headers, timeout=120) as http:
        for _ in range(rounds):
            answer = http.post("/explain", json={"applications": rows})
            if answer.status_code != 200:
                raise ToolError(f"/explain of {batch} rows: HTTP {answer.status_code}")


def round_up(value: float, step: float) -> float:
    return math.ceil(value / step) * step


def typical_client(scorer: Any) -> dict[str, Any] | None:
    """A typical client of the reference sample with its history rows (None: a model with no
    history tables)."""
    from credit_scoring.profiles.home_credit.requests import clients_at, reference_clients

    full = reference_clients(scorer)
    return None if full is None else clients_at(full, TYPICAL, 1)[0]


def measure(
    engine: Engine,
    image: str,
    model_tag: str,
    load: tuple[float, int, float],
    batch: int,
    application_only: bool,
) -> None:
    rps, clients, seconds = load
    manifests = Manifests.load()
    scorer = load_model(model_tag)
    applicants = known_applicants(scorer)
    typical = None if application_only else typical_client(scorer)
    sent = typical or applicants[0]
    rows = sum(len(v) for v in sent.values() if isinstance(v, list))
    with played(engine, manifests, image) as pod:
        wait_ready(pod)
        cgroup = Cgroup.of(int(pod.state("{{.State.Pid}}")))
        idle = cgroup.memory_bytes()
        cgroup.reset_peak()
        cpu_before, started = cgroup.cpu_seconds(), time.monotonic()
        ok, failed = paced_load(pod.url, pod.key, {"applications": [sent]}, rps, clients, seconds)
        wall, cpu = time.monotonic() - started, cgroup.cpu_seconds() - cpu_before
        load_peak = cgroup.peak_bytes()
        explain_batches(pod, applicants, batch, rounds=10)
        peak = cgroup.peak_bytes()
    per_request_ms = 1000 * cpu / max(ok, 1)
    cores = cpu / wall
    needed = per_request_ms / 1000 * rps  # the target load's cores, answered or not
    memory_request = round_up(peak * 1.25 / MIB, 64)
    print(
        f"\nmodel {model_tag}, image {image}\n"
        f"target load   {ok / wall:.0f} req/s answered of {rps:.0f} asked ({clients} clients, "
        f"{wall:.0f} s, {failed} failed), one applicant with {rows} history rows: "
        f"{per_request_ms:.2f} ms CPU per request, "
        f"{cores:.2f} cores\n"
        f"memory        idle {idle / MIB:.0f} MiB, peak under load {load_peak / MIB:.0f} MiB, "
        f"peak with /explain x{batch} {peak / MIB:.0f} MiB\n"
        f"suggested     requests cpu {round_up(needed * 1000, 50):.0f}m ({rps:.0f} req/s x CPU per "
        f"request) memory "
        f"{memory_request:.0f}Mi; limits memory {2 * memory_request:.0f}Mi "
        f"(HPA scales out at 70% of the CPU request)"
    )


@app.command()
def run(
    rps: float = typer.Option(50, help="Target load of one pod: /predict requests per second"),
    clients: int = typer.Option(16, help="Client threads sending the target load"),
    seconds: float = typer.Option(30, help="Seconds of target load"),
    batch: int = typer.Option(64, help="Applicants per /explain request for the memory peak"),
    application_only: bool = typer.Option(
        False, help="Load with the README's applicant, no history rows (else a typical client)"
    ),
) -> None:
    """Play the Deployment, load it, print CPU per request and peak memory."""
    try:
        info = image_info()
        load = (rps, clients, seconds)
        measure(detect("buildah"), info["image"], info["model_tag"], load, batch, application_only)
    except (ToolError, ValueError) as error:
        fail(error)


if __name__ == "__main__":
    app()
