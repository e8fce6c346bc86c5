"""Real components for the functional tests: PostgreSQL, Redis, moto (AWS) and a Docker engine.

Each module starts one component as a context manager that always cleans up (processes, temporary
directories, images) and yields a frozen description of it: where it listens and how to log in. The package
does not import pytest; tests/functional/conftest.py turns these context managers into session fixtures.
"""
