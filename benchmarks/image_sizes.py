#!/usr/bin/env python
"""Benchmark: build both nl2api images from the stand-in project and print their sizes and build times.

Builds exactly as tests/functional/images does (offline, `--network none`, the local base image as BASE_IMAGE,
the stand-in's wheels in the context), first cold (--no-cache) then warm (layer cache), and removes every image
it built. Prints figures only; it asserts nothing.

    .venv/bin/python benchmarks/image_sizes.py [--base-image TAG]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "functional"))

from images.build import (  # noqa: E402 - after the path set-up
    DOCKERFILES, Builder, download_wheelhouse, image_size, stage_context, standin_build_args, standin_requirements,
)
from support.docker_engine import DockerCli, DockerDaemon, DockerEngine, build_base_image  # noqa: E402

MIB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-image", help="BASE_IMAGE (default: scripts/build-base-image.sh's tag)")
    args = parser.parse_args()

    cli = DockerCli(None)
    problem = cli.ping()
    if problem is not None:
        print(f"no Docker engine: {problem}", file=sys.stderr)
        return 1
    version = cli.run("version", "--format", "{{.Server.Version}}").stdout.strip()
    base = args.base_image or build_base_image(cli, ROOT / "scripts" / "build-base-image.sh")
    engine = DockerEngine(DockerDaemon(None, False, version, cli), base)
    app_version, requirements = standin_requirements()
    builder = Builder(engine)
    try:
        wheels = download_wheelhouse(engine, requirements)
        with tempfile.TemporaryDirectory(prefix="nl2api-image-sizes-") as tmp:
            context = stage_context(Path(tmp) / "nl2api", wheels)
            build_args = standin_build_args(base, app_version)
            base_size = image_size(engine, base)
            print(f"{'image':8s} {'size MiB':>9s} {'+base MiB':>10s} {'cold s':>7s} {'warm s':>7s}")
            print(f"{'base':8s} {base_size / MIB:9.1f} {'':>10s} {'':>7s} {'':>7s}  {base}")
            for kind in DOCKERFILES:
                cold = builder.build(kind, context, build_args, no_cache=True)
                warm = builder.build(kind, context, build_args)
                print(f"{kind:8s} {cold.size_bytes / MIB:9.1f} {(cold.size_bytes - base_size) / MIB:10.1f} "
                      f"{cold.build_seconds:7.1f} {warm.build_seconds:7.1f}")
    finally:
        builder.cleanup()
        engine.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
