"""The bench's network-distance relay carries bytes intact, in order, one round trip late."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BODY = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)  # 1 MiB: many chunks each way


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[::-1])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@contextlib.contextmanager
def _relay(upstream: int, rtt_ms: float) -> Iterator[int]:
    """The relay's port, the relay stopped afterwards."""
    with subprocess.Popen([sys.executable, "-m", "tests.netdelay", str(upstream), str(rtt_ms)],
                          stdout=subprocess.PIPE, text=True, cwd=ROOT) as relay:
        assert relay.stdout is not None
        try:
            yield int(relay.stdout.readline())
        finally:
            relay.terminate()


def _post(port: int) -> tuple[bytes, float]:
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/", data=BODY), timeout=30) as answer:
        return answer.read(), time.perf_counter() - start


def test_relay_carries_a_large_exchange_intact_and_a_round_trip_late(echo_port: int) -> None:
    with _relay(echo_port, 200) as port:
        answer, seconds = _post(port)
        assert answer == BODY[::-1]  # every byte, in order, both ways; the server's close reached the client
        assert seconds >= 0.2  # half a round trip there, half back
        again, _ = _post(port)  # a second connection through the same relay
        assert again == BODY[::-1]


def test_relay_closes_the_client_when_the_server_is_gone() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with _relay(dead, 10) as port, pytest.raises(OSError):
        _post(port)
