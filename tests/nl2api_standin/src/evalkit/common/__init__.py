"""Pieces shared by the worker, the CLI and both entity-resolution processes."""
