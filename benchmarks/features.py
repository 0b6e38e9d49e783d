"""Time and peak memory of generating the seven tables and building the features from them.

    python benchmarks/features.py --rows 307511          # Home Credit scale (~58M history rows)
    python benchmarks/features.py --rows 50000 --heap    # + Python heap peaks (tracemalloc; slow)

Peak resident memory comes from getrusage (the process's high-water mark so far, so the
features line includes the tables held in memory). ``--heap`` adds tracemalloc's per-stage
peak, which sees NumPy and pandas buffers but slows generation about tenfold. CPU timings are
noisy on a shared machine: compare runs made at the same time.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from credit_scoring.core.features import build_features
from credit_scoring.profiles.home_credit import home_credit_schema
from credit_scoring.profiles.home_credit.synthetic import generate

GIB = 1024**3


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # KiB on Linux


def heap_peak(trace: bool) -> str:
    if not trace:
        return ""
    peak = tracemalloc.get_traced_memory()[1] / GIB
    tracemalloc.reset_peak()
    return f", heap peak {peak:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="clients to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heap", action="store_true", help="also trace the Python heap")
    args = parser.parse_args()
    if args.heap:
        tracemalloc.start()

    started = time.perf_counter()
    data = generate(args.rows, args.seed)
    seconds = time.perf_counter() - started
    history_rows = sum(len(t) for t in data.histories.values())
    print(
        f"generation: {args.rows:,} clients + {history_rows:,} history rows in {seconds:.1f} s "
        f"({history_rows / seconds / 1e6:.2f} M rows/s); peak RSS {peak_rss_gib():.2f} GiB"
        f"{heap_peak(args.heap)}"
    )

    started = time.perf_counter()
    features = build_features(data.applications, home_credit_schema(), data.histories)
    seconds = time.perf_counter() - started
    print(
        f"features: {features.shape[0]:,} x {features.shape[1]} in {seconds:.1f} s "
        f"({history_rows / seconds / 1e6:.2f} M history rows/s, "
        f"{1e3 * seconds / features.shape[0]:.3f} ms per client); peak RSS "
        f"{peak_rss_gib():.2f} GiB (all tables held){heap_peak(args.heap)}"
    )


if __name__ == "__main__":
    main()
