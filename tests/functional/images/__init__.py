"""Tests of the nl2api container images (docker/Dockerfile, docker/Dockerfile.worker) on a real Docker engine."""
