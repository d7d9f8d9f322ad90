"""Benchmarks: model speed, service under load, baselines, accuracy; see docs/benchmarks.md."""
