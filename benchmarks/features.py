"""Time and peak memory of generating the seven tables and building the features from them.

    python benchmarks/features.py --rows 307511     # Home Credit scale (~58M history rows)

Peak memory is reported two ways: the Python heap's peak per stage (tracemalloc, which sees
NumPy and pandas buffers) and the process's peak resident set (getrusage, all stages so far).
CPU timings are noisy on a shared machine: compare runs made at the same time.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from credit_scoring.features import build_features
from credit_scoring.schema import home_credit_schema
from training.synthetic import generate

GIB = 1024**3


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="clients to generate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    tracemalloc.start()
    started = time.perf_counter()
    data = generate(args.rows, args.seed)
    generation_s = time.perf_counter() - started
    generation_peak = tracemalloc.get_traced_memory()[1] / GIB
    history_rows = sum(len(t) for t in data.histories.values())
    print(
        f"generation: {args.rows:,} clients + {history_rows:,} history rows in "
        f"{generation_s:.1f} s ({history_rows / generation_s / 1e6:.2f} M rows/s); "
        f"heap peak {generation_peak:.2f} GiB, process peak RSS {peak_rss_gib():.2f} GiB"
    )

    tracemalloc.reset_peak()
    current = tracemalloc.get_traced_memory()[0] / GIB
    started = time.perf_counter()
    features = build_features(data.applications, home_credit_schema(), data.histories)
    features_s = time.perf_counter() - started
    features_peak = tracemalloc.get_traced_memory()[1] / GIB
    print(
        f"features: {features.shape[0]:,} x {features.shape[1]} in {features_s:.1f} s "
        f"({history_rows / features_s / 1e6:.2f} M history rows/s); heap peak "
        f"{features_peak:.2f} GiB of which {features_peak - current:.2f} GiB above the "
        f"{current:.2f} GiB of tables already held; process peak RSS {peak_rss_gib():.2f} GiB"
    )


if __name__ == "__main__":
    main()
