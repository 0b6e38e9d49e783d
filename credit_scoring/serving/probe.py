"""``python credit_scoring/serving/probe.py /livez``: one HTTP probe of the local service, for
exec probes (deploy/k8s). Exit 0 on a 200 within the timeout, else 1 with the cause. Standard
library only, so that it runs as a plain script from the Bento's source folder.

Why an exec probe: the image has no curl, and Debian's podman 4.3 turns a probe's command into
a shell line joined by spaces: an argument with spaces or parentheses (``python -c "..."``)
breaks, a path does not. Kubernetes runs the same command as argv.
"""

from __future__ import annotations

import os
import sys
import urllib.request

DEFAULT_PORT = "3000"
TIMEOUT_S = 2.0  # below the probes' timeoutSeconds, so the probe reports, not its runner


def probe(path: str, port: str, timeout: float = TIMEOUT_S) -> str | None:
    """None when GET http://127.0.0.1:<port><path> answers 200; else why not."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
            return None if answer.status == 200 else f"HTTP {answer.status}"
    except OSError as error:  # refused, timed out, or an HTTP error status (HTTPError)
        return str(error)


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/livez"
    problem = probe(path, os.environ.get("BENTOML_PORT", DEFAULT_PORT))
    if problem is not None:
        print(f"GET {path}: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
