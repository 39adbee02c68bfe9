"""A fault-injecting HTTP proxy between wheelship and a real server (pypiserver or
SeaweedFS's S3), on loopback.

Each request draws from a seeded generator: pass through, or answer 503 / 502, or
429 with Retry-After, reset the connection, stall past the client's timeout, or —
the hard case — forward an upload to the server and then drop the answer. The
proxy records every upload it forwards and whether the server already held that
file, so a test can prove no file was ever sent twice. In front of S3 it keeps the
Host header (S3 signs it) and answers throttling as S3 does (503 SlowDown).
"""

from __future__ import annotations

import email.parser
import http.client
import http.server
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TRANSIENT_FAULTS = ("503", "502", "429", "reset", "stall", "forward-then-drop")


@dataclass
class Faults:
    """What the proxy does; tests change it between runs."""

    seed: int = 0
    rate: float = 0.0
    kinds: tuple[str, ...] = TRANSIENT_FAULTS
    stall: float = 1.0
    retry_after: str = "1"
    permanent: str | None = None  # "400" or "echo-403": every upload gets it
    rng: random.Random = field(default_factory=random.Random)

    def reset(self, seed: int, rate: float, kinds: tuple[str, ...] = TRANSIENT_FAULTS) -> None:
        self.seed, self.rate, self.kinds, self.permanent = seed, rate, kinds, None
        self.rng = random.Random(seed)


@dataclass
class Ledger:
    requests: int = 0
    faults: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # faults injected, by kind
    targets: dict[str, int] = field(default_factory=dict)  # faults injected, by kind of request
    uploads: list[str] = field(default_factory=list)  # file names forwarded to the server
    duplicate_uploads: list[str] = field(default_factory=list)  # forwarded while the server held the file
    on_request: Callable[[int, str], None] | None = None  # (count, phase) after "forwarded" / "received"
    lock: threading.Lock = field(default_factory=threading.Lock)


def _filename_of(body: bytes, content_type: str) -> str | None:
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    for part in message.walk():
        name = part.get_filename()
        if name:
            return name
    match = re.search(rb'filename="([^"]+)"', body)
    return match.group(1).decode() if match else None


class FaultProxy:
    def __init__(self, upstream_port: int, packages: Path | None = None, *, s3: bool = False) -> None:
        self.upstream_port = upstream_port
        self.packages = packages
        self.s3 = s3
        self.faults = Faults()
        self.ledger = Ledger()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy._handle(self, "GET")

            def do_POST(self) -> None:
                proxy._handle(self, "POST")

            def do_PUT(self) -> None:
                proxy._handle(self, "PUT")

            def do_HEAD(self) -> None:
                proxy._handle(self, "HEAD")

            def do_DELETE(self) -> None:
                proxy._handle(self, "DELETE")

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a reset or a client that died: that is the point

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- behaviour -------------------------------------------------------

    def _target(self, method: str, path: str) -> str:
        if self.s3:
            return {"PUT": "put", "GET": "list" if "list-type" in path or path.rstrip("/").count("/") <= 1
                    else "get", "HEAD": "head"}.get(method, method.lower())
        if method == "POST":
            return "upload"
        return "listing" if "/simple/" in path else "download" if "/packages/" in path else "probe"

    def _draw(self, target: str) -> tuple[str | None, int]:
        """The fault for this request, if any, and the request's number (each number is given once)."""
        with self.ledger.lock:
            self.ledger.requests += 1
            if self.faults.rng.random() < self.faults.rate:
                self.ledger.faults += 1
                kind = self.faults.rng.choice(self.faults.kinds)
                self.ledger.kinds[kind] = self.ledger.kinds.get(kind, 0) + 1
                self.ledger.targets[target] = self.ledger.targets.get(target, 0) + 1
                return kind, self.ledger.requests
            return None, self.ledger.requests

    def _handle(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        fault, count = self._draw(self._target(method, h.path))
        hook = self.ledger.on_request
        if hook:
            hook(count, "received")
        if method == "POST" and self.faults.permanent:
            return self._permanent(h)
        if fault == "reset":
            return self._reset(h)
        if fault == "stall":
            time.sleep(self.faults.stall)
            return self._reset(h)
        if fault in ("503", "502", "429") and self.s3:
            code = {"503": "SlowDown", "502": "BadGateway", "429": "SlowDown"}[fault]
            body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
            return self._answer(h, int(fault), b"" if method == "HEAD" else body, {"Content-Type": "application/xml"})
        if fault in ("503", "502"):
            return self._answer(h, int(fault), b"Service Unavailable" if fault == "503" else b"Bad Gateway")
        if fault == "429":
            return self._answer(h, 429, b"Too Many Requests", {"Retry-After": self.faults.retry_after})
        status, headers, payload = self._forward(h, method, body)
        if hook:
            hook(count, "forwarded")
        if fault == "forward-then-drop":
            return self._reset(h)
        self._answer(h, status, payload, headers, head=method == "HEAD")

    def _forward(self, h: http.server.BaseHTTPRequestHandler, method: str, body: bytes):  # type: ignore[no-untyped-def]
        if method == "POST" and self.packages is not None:
            name = _filename_of(body, h.headers.get("Content-Type", ""))
            if name:
                with self.ledger.lock:
                    self.ledger.uploads.append(name)
                    if (self.packages / name).exists():
                        self.ledger.duplicate_uploads.append(name)
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            drop = ("connection",) if self.s3 else ("host", "connection")  # S3 signs the Host header
            headers = {k: v for k, v in h.headers.items() if k.lower() not in drop}
            conn.request(method, h.path, body=body or None, headers=headers)
            response = conn.getresponse()
            payload = b"" if method == "HEAD" else response.read()
            if self.s3:
                keep = {k: v for k, v in response.getheaders()
                        if k.lower() not in ("connection", "transfer-encoding", "content-length", "date", "server")}
                if method == "HEAD":
                    keep["Content-Length"] = response.getheader("Content-Length") or "0"
            else:
                keep = {k: v for k, v in response.getheaders()
                        if k.lower() in ("content-type", "location", "retry-after", "www-authenticate")}
        finally:
            conn.close()
        return response.status, keep, payload

    def _permanent(self, h: http.server.BaseHTTPRequestHandler) -> None:
        if self.faults.permanent == "echo-403":
            import base64

            auth = h.headers.get("Authorization", "")
            decoded = base64.b64decode(auth.split()[-1]).decode() if auth.startswith("Basic ") else auth
            body = f"403 Forbidden: invalid credentials {decoded} (header {auth})".encode()
            return self._answer(h, 403, body)
        self._answer(h, 400, b"400 Bad Request: Invalid value for classifiers. Error: 'Bogus :: Thing' is not a valid classifier.")

    @staticmethod
    def _answer(h: http.server.BaseHTTPRequestHandler, status: int, payload: bytes,
                headers: dict[str, str] | None = None, *, head: bool = False) -> None:
        h.send_response(status)
        headers = dict(headers or {"Content-Type": "text/plain"})
        length = headers.pop("Content-Length", None) if head else None
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Content-Length", length or str(len(payload)))
        h.end_headers()
        if not head:
            h.wfile.write(payload)

    @staticmethod
    def _reset(h: http.server.BaseHTTPRequestHandler) -> None:
        """Close with RST, no answer at all."""
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True
        h.connection.close()
