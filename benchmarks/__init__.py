"""Benchmarks against the implementations users know; run each from the repository root as
`python -m benchmarks.<name>` (see benchmarks/README.md)."""
