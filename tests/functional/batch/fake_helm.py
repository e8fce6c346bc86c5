"""A helm stand-in for roles/batch's tests: the subcommands kubernetes.core.helm and helm_info run, on a JSON state.

Usage: fake_helm.py <state.json> <real helm> <helm arguments...> (the tests write a wrapper script that passes the
first two). The state holds the releases ({name: {namespace, revision, status, values}}) and every call (argv and
HELM_NAMESPACE). `upgrade -i` renders the chart with the real `helm template` and the same values files, so values
the chart's schema rejects fail here as they would on a cluster; it records the merged values and the rendered
manifest, which the Kubernetes stand-in reads to know whether the workers of the batch exist. `uninstall` removes
the release. Helm applying the manifest to a real cluster is not exercised.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def locked_state(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        state = json.load(handle)
        yield state
        handle.seek(0)
        handle.truncate()
        json.dump(state, handle, indent=1, sort_keys=True)


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def values_files(args: list[str]) -> list[str]:
    files = []
    for index, arg in enumerate(args):
        for flag in ("--values=", "-f="):
            if arg.startswith(flag):
                files.append(arg[len(flag):])
        if arg in ("--values", "-f"):
            files.append(args[index + 1])
    return files


def render(real_helm: str, name: str, namespace: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    chart = args[-1].strip("'")
    files = ["--values=" + path for path in values_files(args)]
    return subprocess.run([real_helm, "template", name, chart, "--namespace", namespace, *files],
                          capture_output=True, text=True, check=False)


def main(state_path: Path, real_helm: str, args: list[str]) -> int:
    namespace = os.environ.get("HELM_NAMESPACE", "default")
    with locked_state(state_path) as state:
        state["calls"].append({"argv": args, "namespace": namespace})
        releases = state["releases"]
        command = args[:2] if args[:1] == ["get"] else args[:1]
        # kubernetes.core.helm puts the release name last (`... NAME 'CHART'` for upgrade).
        positional = [a for a in args if not a.startswith("-")]
        if command == ["version"]:
            print('version.BuildInfo{Version:"v3.17.3", GitCommit:"fake", GitTreeState:"clean", GoVersion:"go1.23"}')
        elif command == ["plugin"]:
            print("NAME\tVERSION\tDESCRIPTION")
        elif command == ["list"]:
            pattern = args[args.index("--filter") + 1]
            listed = [{"name": name, "namespace": release["namespace"], "revision": str(release["revision"]),
                       "updated": "2026-12-03 12:00:00.0 +0000 UTC", "status": release["status"],
                       "chart": "nl2api-0.1.0", "app_version": "1.0.0"}
                      for name, release in sorted(releases.items())
                      if re.search(pattern, name) and release["namespace"] == namespace
                      and ("--all" in args or release["status"] == "deployed")]
            print(json.dumps(listed))  # JSON is YAML, and needs no YAML library to write
        elif command == ["get", "values"]:
            values = releases[positional[-1]]["values"]
            print(json.dumps(values) if values else "null")
        elif command[:1] == ["get"]:
            print("")
        elif command == ["show"]:
            chart = Path(args[2].strip("'"))
            print((chart / "Chart.yaml").read_text(encoding="utf-8"))
        elif command == ["upgrade"]:
            import yaml  # only here: the other commands start faster without it

            name = args[-2]
            rendered = render(real_helm, name, namespace, args)
            if rendered.returncode != 0:
                print(rendered.stderr, file=sys.stderr)
                return 1
            values: dict[str, Any] = {}
            for path in values_files(args):
                values = merge(values, yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
            previous = releases.get(name, {"revision": 0})
            manifest = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
            releases[name] = {"namespace": namespace, "revision": previous["revision"] + 1, "status": "deployed",
                              "values": values, "manifest": manifest}
            state["calls"][-1].update(values=values, manifest=manifest)
            print('Release "%s" has been upgraded. Happy Helming!' % name)
        elif command == ["uninstall"]:
            name = args[-1]
            if name not in releases:
                print("Error: uninstall: Release not loaded: %s: release: not found" % name, file=sys.stderr)
                return 1
            del releases[name]
            print('release "%s" uninstalled' % name)
        else:
            print("fake helm: unsupported command %s" % args, file=sys.stderr)
            return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:]))
