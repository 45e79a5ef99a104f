"""sla-probe benchmarks: accuracy, cost and scale, freshness, resilience.

Run them with `python -m bench all` (or one of them by name); `--quick` is the tiny mode the
smoke test uses. Every bench prints its tables and writes `bench/results/<name>.json`.
"""
