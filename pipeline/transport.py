"""HTTP to an index: every answer read whole under a deadline and a cap on its size.

Every answer is read by one helper, `exchange`, under two limits: a deadline for the
whole request (`[publish] timeout`: connect, headers and body together, not each
socket read) and a cap on the body's size. Past either, the request has failed and
the retry policy (pipeline.retry) decides; when it gives up, the error names the
request and the limit.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import re
import socket
import threading
import time
import urllib.parse
from typing import Any

import requests
import urllib3

from pipeline.errors import PublishFailed
from pipeline.redaction import redact
from pipeline.retry import TRANSIENT, Transient

# An error's body (a line of text, or a small HTML page), and an upload's answer: only
# its first 300 characters are ever shown.
ERROR_LIMIT = 64 * 1024
MAX_REDIRECTS = 10  # PyPI redirects a listing at most once (to its normalized name)

LIMIT_HINT = ("no working index sends an answer that large (a listing, an error, or more bytes than the file "
              "has); check the index's URLs, or tell the index's operators")
DEADLINE_HINT = ("the index answers too slowly; if it is only slow (a large file, a slow link), raise [publish] "
                 "timeout in the buildspec; otherwise run the same command again later: it resumes where it "
                 "stopped and never sends a file twice")


class _Deadline:
    """One request's deadline. When it passes, the socket the answer comes on is shut
    down, which ends a read blocked on it: a per-read timeout never fires for an index
    that sends a byte a second. The connection reports that socket as the answer
    begins (`HTTPConnection.getresponse`); an upload's deadline starts only then, so
    the time spent sending a large file does not count."""

    _current = threading.local()  # the deadline of the request this thread is making

    def __init__(self, seconds: float, *, from_answer: bool = False) -> None:
        self.seconds, self.end = seconds, math.inf
        self.expired = self.finished = False
        self._from_answer = from_answer
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> _Deadline:
        _Deadline._current.deadline = self
        if not self._from_answer:
            self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        _Deadline._current.deadline = None
        with self._lock:
            self.finished, self._sock = True, None

    def _start(self) -> None:
        self.end = time.monotonic() + self.seconds
        _watchdog.watch(self)

    @classmethod
    def answer_begins(cls, sock: socket.socket | None) -> None:
        deadline: _Deadline | None = getattr(cls._current, "deadline", None)
        if deadline is None or sock is None:
            return
        with deadline._lock:
            deadline._sock, expired = sock, deadline.expired
        if deadline.end == math.inf:
            deadline._start()
        if expired:
            _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired, sock = True, self._sock
        if sock is not None:
            _shut(sock)

    def check(self, doing: str) -> None:
        if self.expired:
            raise Transient(f"{doing}: the answer did not finish within {self.seconds:g} s", hint=DEADLINE_HINT)


class _Watchdog:
    """One thread that expires each `_Deadline` when its time comes: a timer thread per
    request would cost about as much client time as a small request itself."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []  # a heap, the soonest first
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: _Deadline) -> None:
        with self._wake:
            heapq.heappush(self._due, (deadline.end, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wheelship-deadlines", daemon=True)
                self._thread.start()
            if self._due[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._due and (self._due[0][2].finished or self._due[0][0] <= now):
                    heapq.heappop(self._due)[2].expire()  # a finished request's deadline does nothing
                self._wake.wait(self._due[0][0] - now if self._due else None)


_watchdog = _Watchdog()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the plain socket's shutdown, even under TLS: no TLS goodbye to wait for
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


# Named as urllib3's own classes, whose names connection errors print.
class HTTPConnection(urllib3.connection.HTTPConnection):
    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]  # as urllib3's own
        _Deadline.answer_begins(self.sock)
        return super().getresponse()


class HTTPSConnection(HTTPConnection, urllib3.connection.HTTPSConnection):
    pass


class HTTPConnectionPool(urllib3.HTTPConnectionPool):
    ConnectionCls = HTTPConnection


class HTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = HTTPSConnection


_POOLS: dict[str, type[urllib3.HTTPConnectionPool]] = {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """Connections whose answers a `_Deadline` can cut short, direct or through an HTTP
    proxy (through a SOCKS one, the deadline is checked between reads only)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> urllib3.ProxyManager:
        manager: urllib3.ProxyManager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


class Session(requests.Session):
    """A session that reads the environment (proxies, CA bundle) once per host,
    not on every request: requests rescans `os.environ` for each call otherwise,
    which costs more client time than a small upload to a nearby index. It never
    follows a redirect itself: requests reads a redirect's whole body, whatever its
    size, so `exchange` follows them, reading none."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[object, ...], Any] = {}
        self.mount("http://", _Adapter())
        self.mount("https://", _Adapter())

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert)
        if key not in self._settings:
            self._settings[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return dict(self._settings[key])

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


def exchange(session: requests.Session, method: str, url: str, doing: str, *, timeout: float, limit: int,
             **kwargs: Any) -> tuple[requests.Response, bytes]:
    """`method url` and its answer's body, read whole under the request's deadline
    (`timeout` seconds for all of it; for a POST, from when the answer begins) and a
    cap: `limit` bytes for a success, while an error keeps its first `ERROR_LIMIT`.
    A GET follows redirects, reading none of their bodies.

    Raises `Transient` past the deadline or the cap, or when the connection fails or
    breaks; `PublishFailed` for a request that cannot be made (a bad URL or redirect)."""
    with _Deadline(timeout, from_answer=method == "POST") as deadline:
        try:
            for _ in range(MAX_REDIRECTS + 1):
                response = session.request(method, url, stream=True, timeout=timeout, allow_redirects=False,
                                           **kwargs)
                if method == "POST" or not response.is_redirect:
                    break
                response.close()
                url = _redirected(response, doing)
            else:
                raise PublishFailed(redact(f"{doing}: more than {MAX_REDIRECTS} redirects, the last to {url}"))
            with response:
                ok = response.ok and not response.is_redirect
                body = _read(response, limit if ok else ERROR_LIMIT, deadline)
        except requests.RequestException as exc:
            deadline.check(doing)  # the deadline shut the socket: that is why it failed
            if isinstance(exc, TRANSIENT):
                raise
            raise PublishFailed(redact(f"{doing}: {exc}")) from None
        deadline.check(doing)  # a body sent without a length just ends when the socket is shut
    if ok and len(body) > limit:
        raise Transient(f"{doing}: the answer exceeded {_size(limit)}", hint=LIMIT_HINT)
    return response, body[:ERROR_LIMIT] if not ok else body


def _redirected(response: requests.Response, doing: str) -> str:
    try:
        return urllib.parse.urljoin(response.url, response.headers["Location"])
    except ValueError as exc:
        raise PublishFailed(f"{doing}: the index redirects to something that is not a URL ({exc})") from None


def _read(response: requests.Response, limit: int, deadline: _Deadline) -> bytes:
    """The body, up to one chunk past `limit` bytes (so going past it shows), or less
    if the deadline passes first."""
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or deadline.expired:
            break
    return b"".join(chunks)


def _size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def declared_charset(response: requests.Response) -> str:
    """The charset an answer declares, else UTF-8 (JSON's and the simple API's own)."""
    match = re.search(r'charset="?([^\s;"]+)', response.headers.get("Content-Type", ""), re.IGNORECASE)
    return match.group(1) if match else "utf-8"
