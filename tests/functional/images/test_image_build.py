"""All four targets build offline, and each runtime image is what the chart expects to run."""

from __future__ import annotations

import re

import pytest

from support.docker_engine import DockerEngine

from .build import APP_TARGETS, APP_UID, CREATED, DOCKERFILE, REVISION, SIZE_REPORT_KEY, SOURCE, TARGETS, ImageSet

MIB = 1024 * 1024
#: What each runtime stage may add on top of its base image. The real app's virtualenvs are 100-200 MiB (grpcio,
#: cryptography, the LLM clients); a compiler, a pip cache, the wheelhouse or the sources left in the image would
#: blow these budgets.
ADDED_BUDGET_BYTES = {"api": 260 * MIB, "entity-service": 200 * MIB, "worker": 300 * MIB, "migrations": 5 * MIB}
ENTRY_MODULES = {
    "api": "src.mcp_servers.entity_resolution",
    "entity-service": "src.services.entity_resolution",
    "worker": "src.evalkit.distributed",
}


def config_of(engine: DockerEngine, tag: str) -> dict:
    config = engine.inspect_image(tag)["Config"]
    assert isinstance(config, dict)
    return config


def smoke_commands() -> dict[str, str]:
    """The build-time smoke import of each application target, as the Dockerfile has it."""
    found = {}
    for target in APP_TARGETS:
        stage = DOCKERFILE.read_text(encoding="utf-8").split(f" AS {target}\n", 1)[1].split("\nFROM ", 1)[0]
        found[target] = re.search(r'RUN \["/opt/venv/bin/python", "-c", "(import [^"]+)"\]', stage).group(1)
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_image_metadata(docker_engine: DockerEngine, nl2api_images: ImageSet, target: str) -> None:
    config = config_of(docker_engine, nl2api_images[target].tag)
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == f"nl2api-{target}"
    assert labels["org.opencontainers.image.version"] == nl2api_images.version
    assert labels["org.opencontainers.image.revision"] == REVISION
    assert labels["org.opencontainers.image.created"] == CREATED
    assert labels["org.opencontainers.image.source"] == SOURCE
    base = nl2api_images.migrations_base_image if target == "migrations" else nl2api_images.base_image
    assert labels["org.opencontainers.image.base.name"] == base

    if target == "migrations":
        assert config["Entrypoint"] == ["/usr/local/bin/nl2api-migrate"]
        assert config["Healthcheck"]["Test"] == ["NONE"]
        return
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    # Exec form, the supervisor first: no /bin/sh -c in between to swallow SIGTERM.
    assert config["Entrypoint"] == ["/usr/local/bin/nl2api-run", "--", "python", "-m", ENTRY_MODULES[target]]
    assert config.get("StopSignal") == "SIGTERM"
    assert config["WorkingDir"] == "/app"
    if target == "worker":
        assert not config.get("Cmd") and not config.get("ExposedPorts")
        assert config["Healthcheck"]["Test"] == ["NONE"]
    else:
        assert set(config["ExposedPorts"]) == {"8080/tcp"}
        assert config["Cmd"][config["Cmd"].index("--port") + 1] == "8080"
        assert config["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/nl2api-run", "--probe-http", "/health"]
    if target == "api":
        assert "--no-redis" in config["Cmd"] and config["Cmd"][:2] == ["--transport", "sse"]


#: Lists build tooling and build leftovers found in an image, one per line (run as root: it can look everywhere).
SCAN = r"""
for tool in gcc cc c++ g++ make ld as cmake; do command -v "$tool" >/dev/null 2>&1 && echo "tool:$tool"; done
for path in /root/.cache/pip /root/.cache /build /opt/venv/bin/pip /opt/venv/bin/pip3 /wheels /src; do
  [ -e "$path" ] && echo "path:$path"
done
find / -xdev \( -name '*.whl' -o -name '*.tar.gz' -o -name 'pyproject.toml' -o -name '*.egg-info' \) \
  -not -path '/proc/*' -print 2>/dev/null | sed 's/^/file:/'
if [ -x /opt/venv/bin/python ]; then
  for module in pip setuptools wheel; do
    /opt/venv/bin/python -c "import $module" 2>/dev/null && echo "venv:$module"
  done
fi
ls -d /usr/include/python3* 2>/dev/null | sed 's/^/headers:/'
true
"""


def scan(engine: DockerEngine, image: str) -> set[str]:
    result = engine.run(image, "-c", SCAN, user="0", docker_args=["--network", "none", "--entrypoint", "/bin/sh"])
    return set(result.stdout.split())


@pytest.mark.parametrize("target", APP_TARGETS)
def test_runtime_image_carries_no_build_tooling(docker_engine: DockerEngine, nl2api_images: ImageSet, target: str) -> None:
    """No compiler, and nothing of the build (pip, pip cache, wheels, sources) on top of the base image (Debian's
    python3-venv keeps pip and setuptools wheels in /usr/share/python-wheels; the official image has its pip)."""
    found = scan(docker_engine, nl2api_images[target].tag)
    assert not {item for item in found if item.startswith("tool:")}, found
    added = found - scan(docker_engine, nl2api_images.base_image)
    # The application ships one pyproject.toml as package data (src/services/entity_resolution/); it is no build input.
    added = {item for item in added if not item.endswith("/src/services/entity_resolution/pyproject.toml")}
    assert added == set(), f"the runtime stage added build tooling or leftovers: {sorted(added)}"


@pytest.mark.parametrize("target", APP_TARGETS)
def test_app_and_contracts_are_installed_and_importable_as_the_runtime_user(
    docker_engine: DockerEngine, nl2api_images: ImageSet, target: str
) -> None:
    """The wheel (dist-info, no source tree) and CONTRACTS.py in site-packages, importable from the empty /app."""
    probe = ("import importlib.metadata as m, sysconfig, src, CONTRACTS; "
             "site = sysconfig.get_paths()['purelib']; "
             "print(m.version('nl2api'), src.__file__.startswith(site), CONTRACTS.__file__ == site + '/CONTRACTS.py')")
    result = docker_engine.run(nl2api_images[target].tag, "-c", probe,
                               docker_args=["--network", "none", "--read-only", "--entrypoint", "/opt/venv/bin/python"])
    assert result.stdout.split() == [nl2api_images.version, "True", "True"]


def test_the_smoke_check_fails_where_a_components_extras_are_missing(
    docker_engine: DockerEngine, nl2api_images: ImageSet
) -> None:
    """Each target's smoke import passes in its own image, and the API's and the worker's fail in the
    entity-service image, which lacks their extras: so the build-time check does catch a missing extra."""
    commands = smoke_commands()
    for target, command in commands.items():
        own = docker_engine.run(nl2api_images[target].tag, "-c", command, check=False,
                                docker_args=["--network", "none", "--entrypoint", "/opt/venv/bin/python"])
        assert own.returncode == 0, own.stderr
    for target in ("api", "worker"):
        foreign = docker_engine.run(nl2api_images["entity-service"].tag, "-c", commands[target], check=False,
                                    docker_args=["--network", "none", "--entrypoint", "/opt/venv/bin/python"])
        assert foreign.returncode != 0 and "ModuleNotFoundError" in foreign.stderr, foreign.stderr


def test_scan_finds_the_leftovers_the_builder_stage_has(
    docker_engine: DockerEngine, nl2api_images: ImageSet, image_builder, image_context  # noqa: ANN001
) -> None:
    """The scan above is not vacuous: the builder stage (built alone, from cache) does hold the build."""
    builder = image_builder.build("builder", image_context, nl2api_images["api"].build_args)
    added = scan(docker_engine, builder.tag) - scan(docker_engine, nl2api_images.base_image)
    assert {"path:/build", f"file:/build/dist/nl2api-{nl2api_images.version}-py3-none-any.whl",
            "file:/build/src/pyproject.toml"} <= added, added
    assert builder.build_seconds < 60, "the builder stage was rebuilt instead of taken from the layer cache"
    docker_engine.remove_image(builder.tag)


@pytest.mark.parametrize("target", APP_TARGETS)
def test_runtime_user_cannot_write_outside_tmp(docker_engine: DockerEngine, nl2api_images: ImageSet, target: str) -> None:
    script = (
        'id -u; id -g; '
        'touch /opt/venv/x 2>/dev/null && echo venv-writable; '
        'touch /app/x 2>/dev/null && echo app-writable; '
        'touch /usr/local/bin/nl2api-run 2>/dev/null && echo supervisor-writable; '
        'touch /tmp/x && echo tmp-writable'
    )
    result = docker_engine.run(nl2api_images[target].tag, "-c", script,
                               docker_args=["--network", "none", "--entrypoint", "/bin/sh", "--read-only", "--tmpfs", "/tmp"])
    assert result.stdout.split() == [str(APP_UID), str(APP_UID), "tmp-writable"]


def test_build_arguments_do_not_leak_into_the_runtime_images(docker_engine: DockerEngine, nl2api_images: ImageSet) -> None:
    """PIP_* build arguments (which may name a private index) stay in the builder stage's history."""
    for target in TARGETS:
        history = docker_engine.cli.run("history", "--no-trunc", "--format", "{{.CreatedBy}}",
                                        nl2api_images[target].tag).stdout
        assert "PIP_NO_INDEX" not in history and "PIP_INDEX_URL" not in history, history
        assert "pip wheel" not in history


def test_migrations_image_carries_the_wheels_migrations_and_psql(
    docker_engine: DockerEngine, nl2api_images: ImageSet, image_source
) -> None:  # noqa: ANN001
    expected = sorted(p.name for p in (image_source / "src/evalkit/common/storage/postgres/migrations").glob("*.sql"))
    result = docker_engine.run(nl2api_images["migrations"].tag, "-c", "ls /migrations; psql --version",
                               docker_args=["--network", "none", "--entrypoint", "/bin/sh"])
    lines = result.stdout.split("\n")
    assert lines[: len(expected)] == expected
    version = re.search(r"psql \(PostgreSQL\) (\d+)", result.stdout)
    assert version and int(version.group(1)) >= 15, result.stdout


def test_image_sizes_and_build_times(docker_engine: DockerEngine, nl2api_images: ImageSet, record_property) -> None:  # noqa: ANN001
    lines = [f"source {nl2api_images.source}", f"base   {nl2api_images.base_image}: {nl2api_images.base_size_bytes / MIB:.1f} MiB"]
    total = 0.0
    for target in TARGETS:
        image = nl2api_images[target]
        base = nl2api_images.migrations_base_image if target == "migrations" else nl2api_images.base_image
        added = image.size_bytes - docker_engine.inspect_image(base)["Size"]
        total += image.build_seconds
        lines.append(f"{target:15s}{image.size_bytes / MIB:7.1f} MiB (+{added / MIB:.1f} MiB over its base), "
                     f"built in {image.build_seconds:.1f}s")
    lines.append(f"all four targets built in {total:.1f}s")
    record_property(SIZE_REPORT_KEY, lines)
    print("\n".join(lines))  # noqa: T201 - shown with -s; the terminal summary prints them always
    for target in TARGETS:
        base = nl2api_images.migrations_base_image if target == "migrations" else nl2api_images.base_image
        added = nl2api_images[target].size_bytes - docker_engine.inspect_image(base)["Size"]
        assert 0 < added < ADDED_BUDGET_BYTES[target], f"{target} adds {added / MIB:.1f} MiB to its base image"
