"""Servers on loopback that wheelship starts and stops (the sandbox's indexes, S3 and
Sigstore): a free port to start one on, and a stop that always ends the process."""

from __future__ import annotations

import signal
import socket
import subprocess
from typing import Any


def free_port(below: int = 55000) -> int:
    """A free TCP port on 127.0.0.1 (below `below`, as SeaweedFS adds 10000 for gRPC)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port < below and _free(port + 10000):
            return port
    raise RuntimeError("no free port found on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM, wait for the exit, SIGKILL after `grace` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
