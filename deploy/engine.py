"""Which container tools this machine has, detected rather than assumed.

A running Docker engine wins (a laptop, a CI runner). Otherwise buildah builds, podman runs and
skopeo exports, as root, with a containers.conf written here: runc rather than crun (crun fails
on hybrid cgroup hosts) and ulimits no higher than the host's own (podman cannot raise them).
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / "build" / "image"
IMAGE_NAME = "credit-scoring"
REGISTRY_BASE = "docker.io/library/python:3.11-slim"
APT_PACKAGES = ("buildah", "podman", "skopeo", "runc", "debootstrap")
WANTED_ULIMITS = {"nofile": 20_000, "nproc": 32_768}

Backend = Literal["docker", "buildah"]


class ToolError(RuntimeError):
    """A tool is missing or a step failed; the message says what to do."""


@dataclass(frozen=True)
class Engine:
    backend: Backend
    env: dict[str, str] = field(default_factory=dict)  # extra environment for every tool call

    @property
    def runner(self) -> str:
        """The command that runs and inspects containers."""
        return "docker" if self.backend == "docker" else "podman"

    def run(self, *args: str, check: bool = True, capture: bool = False, timeout: float = 600):
        return run(args, env=self.env, check=check, capture=capture, timeout=timeout)

    def image_exists(self, ref: str) -> bool:
        return (
            self.run(self.runner, "image", "inspect", ref, check=False, capture=True).returncode
            == 0
        )

    def image_id(self, ref: str) -> str | None:
        probe = self.run(self.runner, "image", "inspect", "--format", "{{.Id}}", ref,
                         check=False, capture=True)  # fmt: skip
        return probe.stdout.strip() if probe.returncode == 0 else None

    def drop_replaced(self, old_id: str | None, ref: str) -> None:
        """Remove the image a rebuild untagged, so that rebuilds do not pile up in storage."""
        if old_id is not None and old_id != self.image_id(ref):
            self.run(self.runner, "rmi", old_id, check=False, capture=True)

    def inspect_image(self, ref: str) -> dict:
        out = self.run(self.runner, "image", "inspect", ref, capture=True).stdout
        return json.loads(out)[0]


def run(
    args: tuple[str, ...] | list[str],
    *,
    env: dict[str, str] | None = None,
    check: bool = True,
    capture: bool = False,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command, echoed first so that a user can repeat any step by hand."""
    if not capture:
        print(f"$ {shlex.join(args)}", flush=True)
    result = subprocess.run(
        list(args),
        env=os.environ | (env or {}),
        text=True,
        capture_output=capture,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        detail = (result.stderr or "")[-2000:] if capture else ""
        raise ToolError(f"`{shlex.join(args)}` failed with exit code {result.returncode}\n{detail}")
    return result


def docker_engine_running() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def containers_conf(folder: Path) -> Path:
    """A containers.conf for buildah and podman, named by CONTAINERS_CONF."""
    limits = {
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[1],
    }
    ulimits = []
    for name, wanted in WANTED_ULIMITS.items():
        host = limits[name]
        value = wanted if host == resource.RLIM_INFINITY else min(wanted, host)
        ulimits.append(f'"{name}={value}:{value}"')
    runtime = "runc" if shutil.which("runc") else "crun"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "containers.conf"
    path.write_text(
        "# Written by deploy/engine.py. runc: crun fails on hybrid cgroup hosts.\n"
        "[containers]\n"
        f"default_ulimits = [{', '.join(ulimits)}]\n"
        "[engine]\n"
        f'runtime = "{runtime}"\n'
    )
    return path


def detect(prefer: Literal["auto", "docker", "buildah"] = "auto") -> Engine:
    """The Docker engine when one runs, else buildah + podman + skopeo (as root)."""
    if prefer in ("auto", "docker") and docker_engine_running():
        return Engine("docker")
    if prefer == "docker":
        raise ToolError(
            "no Docker engine answers `docker info`: start one or use --backend buildah"
        )
    missing = [tool for tool in ("buildah", "podman", "skopeo") if shutil.which(tool) is None]
    if missing:
        raise ToolError(
            f"no Docker engine runs and {', '.join(missing)} not installed. Either start Docker, "
            f"or install the daemonless tools: `make image-deps` "
            f"(apt-get install -y {' '.join(APT_PACKAGES)}), as root."
        )
    if os.geteuid() != 0:
        raise ToolError("buildah/podman are used rootful here: run as root (or use Docker)")
    return Engine("buildah", {"CONTAINERS_CONF": str(containers_conf(BUILD_DIR))})


def registry_reachable(image: str = REGISTRY_BASE, timeout: float = 30) -> bool:
    """Can the base image's registry be reached? (Here it cannot: no registry is.)"""
    if shutil.which("skopeo") is None:
        return False
    try:
        probe = subprocess.run(
            ["skopeo", "inspect", "--retry-times", "0", f"docker://{image}"],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


class Stopwatch:
    """Wall time of each named step, for the summary."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._start = time.monotonic()

    def step(self, name: str, since: float) -> None:
        self.steps[name] = time.monotonic() - since

    @property
    def total(self) -> float:
        return time.monotonic() - self._start


def fail(error: Exception) -> None:
    print(f"error: {error}", file=sys.stderr)
    raise SystemExit(1)
