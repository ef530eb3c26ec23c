"""Benchmarks that run dirkit side by side with peer tools; not part of the timed test suite."""
