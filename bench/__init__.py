"""Benchmarks of throughput, latency, rebuild time and memory on a real Kafka broker and PostgreSQL.

Run them with ``bash bench/run.sh`` (see bench/README.md); not part of the test suite's pass/fail.
"""
