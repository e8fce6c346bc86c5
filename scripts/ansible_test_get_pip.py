"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test creates empty virtual environments and runs a cached ``get_pip_<version>.py`` in them to install
pip. The original is fetched from a host that is unreachable here, so ``scripts/setup.sh`` places this file in
that cache, next to the pip wheel it downloaded from PyPI. Like the original, it runs pip from the wheel itself
and hands it the arguments ansible-test passes, minus the get-pip-only flags.
"""

import glob
import os
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}


def find_pip_wheel(directory: str, requested: list[str]) -> str:
    """Return the cached pip wheel matching the ``pip==X`` requirement ansible-test asks for."""
    versions = [arg.split("==", 1)[1] for arg in requested if arg.startswith("pip==")]
    pattern = "pip-%s-py3-none-any.whl" % (versions[0] if versions else "*")
    wheels = sorted(glob.glob(os.path.join(directory, pattern)))
    if not wheels:
        sys.exit("no pip wheel matching %s in %s; run scripts/setup.sh again" % (pattern, directory))
    return wheels[-1]


def main() -> None:
    directory = os.path.dirname(os.path.abspath(__file__))
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_FLAGS]
    sys.path.insert(0, find_pip_wheel(directory, args))

    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    sys.exit(pip_main(["install", "--find-links", directory] + args))


if __name__ == "__main__":
    main()
