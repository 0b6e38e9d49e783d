"""Benchmarks: scripts that print figures, measured in one run, reported as ratios."""
