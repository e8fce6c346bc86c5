"""Exceptions the harness raises, kept free of pytest so the support package also works from plain scripts.

conftest.py turns them into pytest outcomes: a missing dependency or a daemon that will not start fails the
session loudly (it is a broken machine, not a reason to pass), while an unreachable Docker engine is skipped
with its precise reason unless NL2API_REQUIRE_DOCKER=1 asks for a failure.
"""

from __future__ import annotations

#: One command that installs every system package the functional tests run for real.
INSTALL_HINT = "apt-get install postgresql redis-server docker.io debootstrap"

#: Substrings that the daemons we start log when their port was taken between our probe and their bind().
_PORT_CLASH_MARKERS = ("Address already in use", "is in use by another program")


class HarnessError(Exception):
    """Base class so callers can catch every harness failure at once."""


class MissingDependencyError(HarnessError):
    """A program, system account or Python package the harness needs is not installed."""


class MissingBinaryError(MissingDependencyError):
    """An executable is missing; the message names the Debian package that provides it."""

    def __init__(self, binary: str, package: str) -> None:
        self.binary = binary
        self.package = package
        super().__init__(
            f"'{binary}' was not found (it comes with the Debian package '{package}'); "
            f"install the functional test dependencies with: {INSTALL_HINT}"
        )


class StartupError(HarnessError):
    """A daemon did not become ready; the message carries the tail of its log."""

    @property
    def port_clash(self) -> bool:
        """True when the daemon lost a race for its port, which is worth one more try on another port."""
        text = str(self)
        return any(marker in text for marker in _PORT_CLASH_MARKERS)


class DockerUnavailableError(HarnessError):
    """No Docker engine answers and this process cannot start one (skip-worthy, unlike StartupError)."""
