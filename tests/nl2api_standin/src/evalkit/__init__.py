"""Evaluation kit of the stand-in: contracts, storage, telemetry, the distributed worker and the batch CLI."""
