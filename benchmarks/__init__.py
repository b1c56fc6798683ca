"""Benchmarks of LR Tempo: a labeled corpus of real and synthetic runs, baselines, and the
detection benchmark (``python -m benchmarks.detection``)."""
