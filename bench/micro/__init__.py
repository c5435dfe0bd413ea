"""CPU-time micro-benchmarks of one code path each (outside the suite and bench/run.sh)."""
