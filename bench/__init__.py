"""Benchmarks: how close certrenew runs to the limits of its machine and its API.

Each module measures one thing against a baseline taken in the same run and
returns ``Result`` records; ``bench.run`` runs them all and writes RESULTS.md.
Benchmarks never decide a test verdict: tests/test_bench_smoke.py only runs
each one at a tiny size so that they keep working.
"""
