"""Evaluation: the worker that consumes evaluation jobs from Redis (`python -m src.evaluation.worker`)."""
