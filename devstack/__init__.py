"""Real services for tests, benchmarks and `make run-scaled`, on 127.0.0.1 only."""
