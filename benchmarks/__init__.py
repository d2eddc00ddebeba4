"""Benchmarks that print their figures and a ratio against a floor measured in the same run."""
