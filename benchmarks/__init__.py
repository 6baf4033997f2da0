"""Benchmarks: scripts run by hand, each writing its section of docs/benchmarks.md."""
