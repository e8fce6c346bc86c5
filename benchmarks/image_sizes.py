#!/usr/bin/env python
"""Benchmark: build the four nl2api images (one docker/Dockerfile) and print their sizes and build times.

Builds exactly as tests/functional/images does (offline, `--network none`, the local base images as BASE_IMAGE and
MIGRATIONS_BASE_IMAGE, the cached wheelhouse of docker/constraints.txt in the context), from the stand-in or from
the checkout NL2API_SRC (or --source) names: first cold (the first target with --no-cache, the others reusing its
fresh builder stage, as a CI run does), then warm (every target from the layer cache, as a rebuild of the same
commit). Removes every image it built. Prints figures only; it asserts nothing.

    .venv/bin/python benchmarks/image_sizes.py [--source DIR] [--base-image TAG] [--migrations-base-image TAG]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "functional"))

from images.build import (  # noqa: E402 - after the path set-up
    SOURCE_VARIABLE, TARGETS, Builder, ImageSet, download_wheelhouse, image_size, project_version, source_dir,
    stage_context,
)
from support.docker_engine import DockerCli, DockerDaemon, DockerEngine, build_base_image  # noqa: E402
from support.pgvector_server import build_postgres_image  # noqa: E402

MIB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help=f"nl2api checkout (default: ${SOURCE_VARIABLE}, else the stand-in)")
    parser.add_argument("--base-image", help="BASE_IMAGE (default: scripts/build-base-image.sh's tag)")
    parser.add_argument("--migrations-base-image", help="MIGRATIONS_BASE_IMAGE (default: scripts/build-postgres-image.sh's)")
    args = parser.parse_args()
    if args.source:
        os.environ[SOURCE_VARIABLE] = args.source

    cli = DockerCli(None)
    problem = cli.ping()
    if problem is not None:
        print(f"no Docker engine: {problem}", file=sys.stderr)
        return 1
    version = cli.run("version", "--format", "{{.Server.Version}}").stdout.strip()
    base = args.base_image or build_base_image(cli, ROOT / "scripts" / "build-base-image.sh")
    engine = DockerEngine(DockerDaemon(None, False, version, cli), base)
    migrations_base = args.migrations_base_image or build_postgres_image(engine)[0]
    source = source_dir()
    builder = Builder(engine)
    try:
        started = time.monotonic()
        wheels = download_wheelhouse(engine)
        print(f"wheelhouse {wheels} ready in {time.monotonic() - started:.1f}s (0 when cached)")
        with tempfile.TemporaryDirectory(prefix="nl2api-image-sizes-") as tmp:
            context = stage_context(Path(tmp) / "nl2api", source, wheels)
            runs = {}
            for run, no_cache in (("cold", True), ("warm", False)):
                images = ImageSet(source, base, image_size(engine, base), migrations_base, project_version(source))
                runs[run] = builder.build_all(images, context, no_cache=no_cache)
            print(f"source {source}")
            print(f"{'image':16s} {'size MiB':>9s} {'+base MiB':>10s} {'cold s':>7s} {'warm s':>7s}")
            for target in TARGETS:
                cold, warm = runs["cold"][target], runs["warm"][target]
                base_size = image_size(engine, migrations_base if target == "migrations" else base)
                print(f"{target:16s} {cold.size_bytes / MIB:9.1f} {(cold.size_bytes - base_size) / MIB:10.1f} "
                      f"{cold.build_seconds:7.1f} {warm.build_seconds:7.1f}")
            totals = {run: sum(image.build_seconds for image in images.images.values()) for run, images in runs.items()}
            print(f"{'all four':16s} {'':9s} {'':10s} {totals['cold']:7.1f} {totals['warm']:7.1f}")
    finally:
        builder.cleanup()
        engine.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
