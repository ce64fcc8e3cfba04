"""Benchmarks that print ratios against the raw engine."""
