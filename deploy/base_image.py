"""A Python base image made from Debian packages alone, for machines that reach no registry.

debootstrap (minbase, bookworm: Python 3.11) writes a root filesystem with python3, pip, venv,
the CA store, the OpenMP runtime and the user tools that BentoML's Dockerfile calls (useradd);
buildah imports it from scratch. No compiler: every served package comes as a binary wheel.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from deploy.engine import BUILD_DIR, Engine, ToolError

BASE_IMAGE = "localhost/credit-scoring-base:bookworm"
SUITE = "bookworm"
# libgomp1: the OpenMP runtime LightGBM links against.
PACKAGES = ("python3", "python3-pip", "python3-venv", "ca-certificates", "passwd", "libgomp1")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Not needed at run time: package caches and lists, docs, man pages, translations.
TRIM = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
)
CONFIG_ENV = {
    "LANG": "C.UTF-8",
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    # BentoML's Dockerfile pip-installs uv into the system Python, which Debian marks as
    # externally managed (PEP 668), and uv must trust the system CA store, not its own.
    "PIP_BREAK_SYSTEM_PACKAGES": "1",
    "UV_NATIVE_TLS": "1",
    # Without BuildKit no cache mount exists: a package cache would stay in the image layer.
    "UV_NO_CACHE": "1",
    "PIP_NO_CACHE_DIR": "1",
}
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"


def ensure_base_image(engine: Engine, mirror: str = DEFAULT_MIRROR, rebuild: bool = False) -> str:
    """The local base image, built once and reused (debootstrap takes about a minute)."""
    if not rebuild and engine.image_exists(BASE_IMAGE):
        print(f"base image {BASE_IMAGE} already built (--rebuild-base to redo it)")
        return BASE_IMAGE
    if shutil.which("debootstrap") is None:
        raise ToolError("debootstrap is not installed: `make image-deps` (apt-get install)")
    replaced = engine.image_id(BASE_IMAGE)
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR, prefix="rootfs-") as tmp:
        rootfs, archive = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        engine.run(
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(rootfs),
            mirror,
            timeout=1800,
        )
        for folder in TRIM:
            target = rootfs / folder
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir(parents=True)
        (rootfs / "etc" / "hosts").write_text(HOSTS)
        engine.run("tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), ".")
        container = engine.run("buildah", "from", "scratch", capture=True).stdout.strip()
        try:
            engine.run("buildah", "add", container, str(archive), "/")
            config = ["buildah", "config", "--cmd", "/bin/bash"]
            for key, value in CONFIG_ENV.items():
                config += ["--env", f"{key}={value}"]
            config += [
                "--label",
                f"org.opencontainers.image.description=Debian {SUITE} minbase + python3 "
                "(debootstrap), no compiler",
            ]
            engine.run(*config, container)
            engine.run("buildah", "commit", "--rm", container, BASE_IMAGE)
            engine.drop_replaced(replaced, BASE_IMAGE)
        except ToolError:
            engine.run("buildah", "rm", container, check=False)
            raise
    return BASE_IMAGE
