"""Free loopback ports, so parallel sessions (pytest-xdist workers, a developer's own daemons) never collide.

The kernel picks a port that is free right now; a daemon binds it a few milliseconds later. Another process can
grab it in between, which is rare and handled by process.run_with_port_retry() rather than by locking here.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """One TCP port on `host` that nothing listens on."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """`count` distinct free TCP ports; all sockets stay open until every port is chosen, so none repeats."""
    with ExitStack() as stack:
        ports: list[int] = []
        while len(ports) < count:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports
