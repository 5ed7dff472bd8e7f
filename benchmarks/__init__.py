"""Load benchmarks: `make bench` runs benchmarks/run.py and writes benchmarks/RESULTS.md."""
