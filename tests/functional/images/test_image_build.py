"""Both images build offline from the stand-in, and the runtime image is what the chart expects to run."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.docker_engine import DockerEngine

from .build import APP_UID, CREATED, REVISION, SIZE_REPORT_KEY, SOURCE, Builder, ImageSet

MIB = 1024 * 1024
#: What the runtime stage may add on top of the base image: the virtualenv with the app and its dependencies
#: (about 20 MiB for the stand-in: psycopg's binary wheel is most of it). A compiler, a pip cache, the wheel
#: files or the sources left in the image would blow this budget.
VENV_BUDGET_BYTES = 60 * MIB
KINDS = ["api", "worker"]


def config_of(engine: DockerEngine, tag: str) -> dict:
    config = engine.inspect_image(tag)["Config"]
    assert isinstance(config, dict)
    return config


@pytest.mark.parametrize("kind", KINDS)
def test_image_metadata(docker_engine: DockerEngine, nl2api_images: ImageSet, kind: str) -> None:
    image = nl2api_images[kind]
    config = config_of(docker_engine, image.tag)

    assert config["User"] == f"{APP_UID}:{APP_UID}"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == f"nl2api-{kind}"
    assert labels["org.opencontainers.image.version"] == nl2api_images.version
    assert labels["org.opencontainers.image.revision"] == REVISION
    assert labels["org.opencontainers.image.created"] == CREATED
    assert labels["org.opencontainers.image.source"] == SOURCE
    assert labels["org.opencontainers.image.base.name"] == nl2api_images.base_image

    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/venv/bin:")
    expected_module = {"api": "src.mcp_servers.entity_resolution", "worker": "src.evaluation.worker"}[kind]
    assert env["NL2API_MODULE"] == expected_module

    # Exec form: python itself is PID 1, no /bin/sh -c in between to swallow SIGTERM.
    assert config["Entrypoint"][0] == "/opt/venv/bin/python"
    assert "sh" not in config["Entrypoint"][0]
    assert not config.get("Cmd")
    assert config.get("StopSignal") == "SIGTERM"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert config["WorkingDir"] == "/app"
    if kind == "api":
        assert set(config["ExposedPorts"]) == {"8080/tcp"}
        assert "/health" in " ".join(config["Healthcheck"]["Test"])
    else:
        assert not config.get("ExposedPorts")


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


@pytest.mark.parametrize("kind", KINDS)
def test_runtime_image_carries_no_build_tooling(docker_engine: DockerEngine, nl2api_images: ImageSet, kind: str) -> None:
    """No compiler at all, and nothing of the build (pip cache, wheels, sources, pip/setuptools in the venv) on
    top of what the base image already ships (Debian's python3-venv keeps pip and setuptools wheels in
    /usr/share/python-wheels; the official python image has its own pip)."""
    found = scan(docker_engine, nl2api_images[kind].tag)
    assert not {item for item in found if item.startswith("tool:")}, found
    added = found - scan(docker_engine, nl2api_images.base_image)
    assert added == set(), f"the runtime stage added build tooling or leftovers: {sorted(added)}"

    # The app is installed (as a wheel: dist-info, no sources tree) and importable as the non-root user.
    probe = ("import importlib.metadata as m, src, redis, psycopg; "
             "print(m.version('nl2api'), src.__file__.startswith('/opt/venv/lib/'))")
    result = docker_engine.run(nl2api_images[kind].tag, "-c", probe,
                               docker_args=["--network", "none", "--entrypoint", "/opt/venv/bin/python"])
    assert result.stdout.split() == [nl2api_images.version, "True"]


def test_scan_finds_the_leftovers_the_builder_stage_has(
    docker_engine: DockerEngine, nl2api_images: ImageSet, image_builder: Builder, standin_context: Path
) -> None:
    """The scan above is not vacuous: the builder stage (built alone, from cache) does hold the build."""
    builder = image_builder.build("api", standin_context, nl2api_images["api"].build_args, target="builder")
    added = scan(docker_engine, builder.tag) - scan(docker_engine, nl2api_images.base_image)
    assert {"path:/build", f"file:/build/dist/nl2api-{nl2api_images.version}-py3-none-any.whl",
            "file:/build/src/pyproject.toml"} <= added, added
    docker_engine.remove_image(builder.tag)


@pytest.mark.parametrize("kind", KINDS)
def test_runtime_user_cannot_write_outside_tmp(docker_engine: DockerEngine, nl2api_images: ImageSet, kind: str) -> None:
    script = (
        'id -u; id -g; '
        'touch /opt/venv/x 2>/dev/null && echo venv-writable; '
        'touch /app/x 2>/dev/null && echo app-writable; '
        'touch /tmp/x && echo tmp-writable'
    )
    result = docker_engine.run(nl2api_images[kind].tag, "-c", script,
                               docker_args=["--network", "none", "--entrypoint", "/bin/sh",
                                            "--read-only", "--tmpfs", "/tmp"])
    assert result.stdout.split() == [str(APP_UID), str(APP_UID), "tmp-writable"]


def test_build_arguments_do_not_leak_into_the_runtime_image(docker_engine: DockerEngine, nl2api_images: ImageSet) -> None:
    """PIP_* build arguments (which may name a private index) stay in the builder stage's history."""
    for kind in KINDS:
        history = docker_engine.cli.run("history", "--no-trunc", "--format", "{{.CreatedBy}}",
                                        nl2api_images[kind].tag).stdout
        assert "PIP_NO_INDEX" not in history and "PIP_INDEX_URL" not in history, history
        assert "pip wheel" not in history


def test_entry_point_is_configurable(docker_engine: DockerEngine, nl2api_images: ImageSet) -> None:
    image = nl2api_images["api"].tag
    # Arguments after the image reach the module as its argv.
    result = docker_engine.run(image, "--help", docker_args=["--network", "none"])
    assert "usage: python -m src.mcp_servers.entity_resolution" in result.stdout
    # NL2API_MODULE picks another module at run time: the worker entry point from the API image, here `--help`
    # of a stdlib module so nothing needs Redis.
    result = docker_engine.run(image, "--help", env={"NL2API_MODULE": "json.tool"}, docker_args=["--network", "none"])
    assert "json.tool" in result.stdout or "usage:" in result.stdout
    result = docker_engine.run(image, env={"NL2API_MODULE": "platform"}, docker_args=["--network", "none"])
    assert "Linux" in result.stdout


def test_image_sizes(docker_engine: DockerEngine, nl2api_images: ImageSet, record_property) -> None:  # noqa: ANN001
    lines = [f"base   {nl2api_images.base_image}: {nl2api_images.base_size_bytes / MIB:.1f} MiB"]
    for kind in KINDS:
        image = nl2api_images[kind]
        added = image.size_bytes - nl2api_images.base_size_bytes
        lines.append(
            f"{kind:7s}{image.tag}: {image.size_bytes / MIB:.1f} MiB (+{added / MIB:.1f} MiB over the base), "
            f"built in {image.build_seconds:.1f}s"
        )
    record_property(SIZE_REPORT_KEY, lines)
    print("\n".join(lines))  # noqa: T201 - shown with -s; the terminal summary prints them always
    for kind in KINDS:
        added = nl2api_images[kind].size_bytes - nl2api_images.base_size_bytes
        assert 0 < added < VENV_BUDGET_BYTES, f"{kind} adds {added / MIB:.1f} MiB to the base image"
