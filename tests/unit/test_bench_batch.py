"""The portfolio benchmark's JVM breakdown: threads summed by kind, their numbers dropped, the
costliest first (the README's "JIT compilers take 47-48" of 183-187 JVM CPU s is read off it)."""

from __future__ import annotations

from benchmarks.batch_scoring import _by_kind


def test_threads_are_summed_by_kind_without_their_numbers_costliest_first():
    threads = {
        11: ("C2 CompilerThre", 30.0),
        12: ("C2 CompilerThre", 19.0),
        40: ("Executor task l", 60.0),
        41: ("Executor task l", 71.0),
        7: ("GC Thread#0", 2.0),
        8: ("GC Thread#1", 1.5),
        3: ("Thread-3", 18.0),
        5: ("C1 CompilerThre", 10.0),
    }
    kinds = _by_kind(threads)
    assert kinds == {
        "Executor task l": 131.0,
        "C2 CompilerThre": 49.0,
        "Thread": 18.0,
        "C1 CompilerThre": 10.0,
        "GC Thread": 3.5,
    }
    assert list(kinds) == sorted(kinds, key=lambda k: -kinds[k])
