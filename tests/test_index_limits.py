"""A hostile or broken index on loopback: every read is bounded in time and size, and
what it sends is a publish error (exit 7), never an internal one (exit 70).

`Hostile` is a real HTTP server whose every answer the test writes byte by byte:
slow bodies, slow headers, endless bodies, redirects, and listings that are not
simple-API pages.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

from pipeline import index as index_module
from pipeline.errors import PublishFailed
from pipeline.index import Index
from pipeline.publishing import Publisher
from pipeline.records import sha256_of
from pipeline.retry import call
from pipeline.spec import IndexConfig, PublishPolicy
from tests.distfactory import make_release

JSON = "application/vnd.pypi.simple.v1+json"
TIMEOUT = 0.5  # the policy's timeout in these tests: a whole request's deadline
POLICY = PublishPolicy(attempts=2, max_wait=0.01, timeout=TIMEOUT)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _any(self) -> None:
        hostile = self.server.hostile
        with hostile.lock:
            hostile.requests.append(f"{self.command} {self.path}")
            hostile.clients.add(self.client_address)
        left, slow_until = int(self.headers.get("Content-Length") or 0), time.monotonic() + hostile.slow_read
        while left > 0:  # 256 KiB at a time, a tenth of a second apart for `slow_read` seconds
            left -= len(self.rfile.read(min(left, 256 * 1024)))
            if time.monotonic() < slow_until:
                time.sleep(0.1)
        try:
            hostile.answer(self)
        except OSError:  # the client hung up, as a client past its deadline or cap does
            self.close_connection = True

    do_GET = do_POST = _any


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    hostile: Hostile


class Hostile:
    """An index on loopback answering each request with `answer(handler)`; it records
    the requests and the client connections it saw."""

    def __init__(self) -> None:
        self.answer: Callable[[Handler], None] = lambda h: reply(h, 404, b"no such page")
        self.requests: list[str] = []
        self.clients: set[tuple[str, int]] = set()
        self.slow_read = 0.0  # seconds to read a request's body slowly for, before reading the rest at once
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.hostile = self
        self.url = f"http://127.0.0.1:{self._server.server_port}/"

    def __enter__(self) -> Hostile:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()

    def index(self, timeout: float = TIMEOUT) -> Index:
        target = IndexConfig(name="hostile", upload_url=self.url + "legacy/", simple_url=self.url + "simple/",
                             password_env="HOSTILE_TOKEN")
        return Index(target, None, timeout=timeout)


def reply(h: Handler, status: int = 200, body: bytes = b"", content_type: str = "text/html", *,
          headers: dict[str, str] | None = None, reason: str | None = None) -> None:
    """A whole answer in one write."""
    head = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase if reason is None else reason}",
             *(f"{k}: {v}" for k, v in head.items()), "", ""]
    h.wfile.write("\r\n".join(lines).encode("latin-1") + body)


def trickle(h: Handler, data: bytes, every: float = 0.02) -> None:
    """`data` a byte at a time: each read gets a byte long before any per-read timeout."""
    for i in range(len(data)):
        if h.server.hostile.stopped.is_set():
            return
        h.wfile.write(data[i:i + 1])
        h.wfile.flush()
        time.sleep(every)


def endless(h: Handler, head: bytes, piece: bytes = b" " * 65536) -> None:
    """`head`, then `piece` over and over, as fast as the client reads, until it hangs up."""
    h.wfile.write(head)
    while not h.server.hostile.stopped.is_set():
        h.wfile.write(piece)


def page(files: list[dict[str, object]]) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "pkg", "files": files}).encode()


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with Hostile() as server:
        yield server


def _publisher(hostile: Hostile, policy: PublishPolicy = POLICY) -> Publisher:
    return Publisher(hostile.index(policy.timeout), "pkg", policy, sleep=lambda s: None)


def _listing_fails(hostile: Hostile, policy: PublishPolicy = POLICY) -> str:
    with pytest.raises(PublishFailed) as info:
        _publisher(hostile, policy).listing()
    assert info.value.exit_code == 7
    return str(info.value)


# --- the deadline: the whole request, not each read --------------------------------


def test_a_listing_sent_a_byte_at_a_time_fails_at_the_deadline(hostile):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
    hostile.answer = lambda h: (h.wfile.write(head), trickle(h, b"<html>" + b" " * 99994))
    started = time.monotonic()
    message = _listing_fails(hostile)
    assert time.monotonic() - started < 2 * TIMEOUT + 1.0  # two attempts, each cut at the deadline
    assert f"listing pkg at {hostile.url}simple/pkg/: the answer did not finish within 0.5 s" in message
    assert "after 2 attempts" in message and len(hostile.requests) == 2


def test_headers_sent_a_byte_at_a_time_fail_at_the_deadline(hostile):
    hostile.answer = lambda h: trickle(h, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: yes\r\n" * 1000)
    started = time.monotonic()
    message = _listing_fails(hostile)
    assert time.monotonic() - started < 2 * TIMEOUT + 1.0
    assert "the answer did not finish within 0.5 s" in message


def test_a_body_with_no_length_cut_by_the_deadline_is_not_taken_for_a_whole_page(hostile):
    # Without a Content-Length, a body ends when the connection does: the cut must not
    # pass for the end of a (shorter) listing.
    def answer(h: Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
        h.wfile.write(b'<a href="/f/pkg-1.0.tar.gz">pkg-1.0.tar.gz</a>')
        trickle(h, b" " * 10000)

    hostile.answer = answer
    assert "did not finish within 0.5 s" in _listing_fails(hostile)


def test_a_slow_download_fails_at_the_deadline_and_names_the_setting(hostile):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5000\r\n\r\n"
    hostile.answer = lambda h: (h.wfile.write(head), trickle(h, b"\0" * 5000))
    url = hostile.url + "files/pkg-1.0.tar.gz"
    with pytest.raises(PublishFailed) as info:
        call(POLICY, f"downloading {url}", hostile.index().download, url, sleep=lambda s: None)
    assert f"downloading {url}: the answer did not finish within 0.5 s" in str(info.value)
    assert "raise [publish] timeout" in (info.value.hint or "")


def test_an_upload_answer_sent_a_byte_at_a_time_fails_at_the_deadline(hostile, tmp_path):
    artifacts = make_release(tmp_path, "pkg", tags=("py3-none-any",))
    wheel = artifacts[0]

    def answer(h: Handler) -> None:
        if h.command == "GET":
            return reply(h, 200, page([]), JSON)
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
        trickle(h, b"." * 1000)

    hostile.answer = answer
    started = time.monotonic()
    with pytest.raises(PublishFailed) as info:
        _publisher(hostile).publish([wheel], {wheel.name: tmp_path / wheel.name})
    assert time.monotonic() - started < 2 * TIMEOUT + 1.5
    assert f"uploading {wheel.name} to hostile: the answer did not finish within 0.5 s" in str(info.value)
    assert hostile.requests.count("POST /legacy/") == 2


def test_the_upload_deadline_starts_with_the_answer_not_the_sending(hostile, tmp_path, monkeypatch):
    # 24 MiB, more than loopback's socket buffers hold, read slowly for twice the deadline
    monkeypatch.setattr(index_module, "IN_MEMORY_UPLOAD", 0)  # streamed from disk, as large files are
    wheel = make_release(tmp_path, "pkg", tags=("py3-none-any",))[0]
    with zipfile.ZipFile(tmp_path / wheel.name, "a") as archive:
        archive.writestr("pkg/data.bin", os.urandom(24 * 1024 * 1024))
    wheel = dataclasses.replace(wheel, sha256=sha256_of(tmp_path / wheel.name))
    hostile.slow_read = 2 * TIMEOUT
    hostile.answer = lambda h: reply(h, 200, page([]) if h.command == "GET" else b"OK", JSON)
    started = time.monotonic()
    outcomes = _publisher(hostile).publish([wheel], {wheel.name: tmp_path / wheel.name})
    assert time.monotonic() - started > 2 * TIMEOUT
    assert outcomes == {wheel.name: "uploaded"} and hostile.requests.count("POST /legacy/") == 1


# --- the caps: listings, downloads, error bodies, redirects ---------------------------


def test_a_listing_past_64_mib_fails_at_the_cap(hostile):
    # the real cap, against an endless listing sent as fast as it is read
    head = b"HTTP/1.1 200 OK\r\nContent-Type: " + JSON.encode() + b"\r\nConnection: close\r\n\r\n"
    hostile.answer = lambda h: endless(h, head + b'{"files": [')
    message = _listing_fails(hostile, PublishPolicy(attempts=2, max_wait=0.01, timeout=30))
    assert f"listing pkg at {hostile.url}simple/pkg/: the answer exceeded 64 MiB" in message


def test_a_download_is_capped_at_the_size_the_listing_gave(hostile):
    served = b"\0" * 5000

    def answer(h: Handler) -> None:
        if h.path.startswith("/simple/"):
            files = [{"filename": "pkg-1.0.tar.gz", "url": "/files/pkg-1.0.tar.gz", "hashes": {}, "size": 1000}]
            return reply(h, 200, page(files), JSON)
        reply(h, 200, served, "application/octet-stream")

    hostile.answer = answer
    index = hostile.index()
    listed = index.listing("pkg")["pkg-1.0.tar.gz"]
    assert listed.size == 1000
    with pytest.raises(PublishFailed) as info:
        call(POLICY, f"downloading {listed.url}", index.download, listed.url, sleep=lambda s: None)
    assert f"downloading {listed.url}: the answer exceeded 1000 bytes" in str(info.value)
    assert index.download(listed.url, 5000) == served  # a caller that knows the size says so


def test_a_download_of_unknown_size_is_capped_generously(hostile, monkeypatch):
    monkeypatch.setattr(index_module, "DOWNLOAD_LIMIT", 1024 * 1024)
    hostile.answer = lambda h: endless(h, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                          b"Connection: close\r\n\r\n")
    url = hostile.url + "files/pkg-1.0.tar.gz"
    with pytest.raises(PublishFailed) as info:
        call(POLICY, f"downloading {url}", hostile.index().download, url, sleep=lambda s: None)
    assert "the answer exceeded 1 MiB" in str(info.value)


def test_an_endless_error_body_is_read_only_up_to_its_cap(hostile):
    head = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    hostile.answer = lambda h: endless(h, head + b"no such thing", b"x" * 65536)
    message = _listing_fails(hostile)
    assert "the index answered 400: no such thingxxx" in message
    assert len(hostile.requests) == 1  # a 400 is not retried


def test_a_redirect_body_is_never_read_and_the_redirect_is_followed(hostile):
    def answer(h: Handler) -> None:
        if h.path == "/simple/pkg/":
            return endless(h, b"HTTP/1.1 301 Moved\r\nLocation: /simple/pkg-moved/\r\nConnection: close\r\n\r\n")
        reply(h, 200, page([{"filename": "pkg-1.0.tar.gz", "url": "/f/pkg-1.0.tar.gz", "hashes": {}}]), JSON)

    hostile.answer = answer
    started = time.monotonic()
    listing = _publisher(hostile).listing()
    assert time.monotonic() - started < TIMEOUT
    assert listing["pkg-1.0.tar.gz"].url == hostile.url + "f/pkg-1.0.tar.gz"
    assert hostile.requests == ["GET /simple/pkg/", "GET /simple/pkg-moved/"]


@pytest.mark.parametrize(("location", "expected"), [
    ("/simple/pkg/", "more than 10 redirects"),
    ("file:///etc/passwd", "No connection adapters were found for 'file:///etc/passwd'"),
    ("http://[::1/", "the index redirects to something that is not a URL"),
])
def test_a_redirect_that_cannot_be_followed_is_a_publish_error(hostile, location, expected):
    hostile.answer = lambda h: reply(h, 302, headers={"Location": location})
    assert expected in _listing_fails(hostile)


def test_answers_within_their_limits_still_share_one_connection(hostile):
    hostile.answer = lambda h: reply(h, 200, page([]), JSON)
    index = hostile.index()
    for _ in range(5):
        assert index.listing("pkg") == {}
    assert len(hostile.requests) == 5 and len(hostile.clients) == 1


@pytest.mark.parametrize("retry_after", ["soon", "Wed, 99 Foo 2015 00:00:00 GMT", "1e400"])
def test_a_retry_after_that_cannot_be_read_is_still_a_retry(hostile, retry_after):
    hostile.answer = lambda h: reply(h, 503, b"busy", "text/plain", headers={"Retry-After": retry_after})
    message = _listing_fails(hostile)
    assert "did not succeed after 2 attempts" in message and "503 busy" in message


def test_pypi_s_read_only_refusal_is_still_retried_and_others_are_not(hostile):
    hostile.answer = lambda h: reply(h, 403, b"x " * 500 + b"PyPI is in read-only mode", "text/plain")
    assert "did not succeed after 2 attempts" in _listing_fails(hostile)
    hostile.requests.clear()
    hostile.answer = lambda h: reply(h, 403, b"forbidden", "text/plain")
    assert "the index answered 403: forbidden" in _listing_fails(hostile) and len(hostile.requests) == 1


# --- malformed listings -----------------------------------------------------------


MALFORMED = [
    (JSON, b"[]", "its JSON is a list, not an object"),
    (JSON, b'{"files": {}}', 'its "files" is an object, not a list'),
    (JSON, b'{"meta": {}}', 'its "files" is missing, not a list'),
    (JSON, b'{"files": ["pkg-1.0.tar.gz"]}', "files[0] is a string, not an object"),
    (JSON, page([{"url": "/f/x"}]), "files[0].filename is missing, not a string"),
    (JSON, page([{"filename": "pkg-1.0.tar.gz"}]), "files[0].url is missing, not a string"),
    (JSON, page([{"filename": 10, "url": "/f/x"}]), "files[0].filename is a whole number, not a string"),
    (JSON, page([{"filename": "a", "url": None}]), "files[0].url is null, not a string"),
    (JSON, page([{"filename": "a", "url": "/f/a", "hashes": ["sha256"]}]),
     "files[0].hashes is a list, not an object"),
    (JSON, page([{"filename": "a", "url": "/f/a", "hashes": {"sha256": 7}}]),
     "files[0].hashes.sha256 is a whole number, not a string"),
    (JSON, page([{"filename": "a", "url": "/f/a", "size": "big"}]), "files[0].size is a string, not a whole number"),
    (JSON, page([{"filename": "a", "url": "/f/a", "size": -1}]), "files[0].size is negative"),
    (JSON, page([{"filename": "a", "url": "file:///etc/passwd"}]), "files[0]: the URL of a is not an http(s) URL"),
    (JSON, b'{"files": [', "its JSON does not parse"),
    (JSON, b"[" * 100000, "its JSON does not parse"),
    (JSON, b'{"files": []}\xff\xfe', "it is not valid utf-8 text (at byte 13)"),
    ("text/html", b"<a href='/f/a.tar.gz'>a.tar.gz</a>\xff", "it is not valid utf-8 text"),
    ("text/html; charset=no-such-charset", b"<a>", "it declares the charset 'no-such-charset'"),
    ("text/html; charset=zlib_codec", b"<a>", "it declares the charset 'zlib_codec'"),
    ("text/html", b"<a href='/f/a.tar.gz'>a.tar.gz</a><![bogus[", "its HTML does not parse"),
    ("text/html", b'<a href="http://[::1/a.tar.gz">a.tar.gz</a>', "link 1 is not a URL"),
    ("text/html", b'<a href="javascript:alert(1)">a.tar.gz</a>', "link 1: the URL of a.tar.gz is not an http(s) URL"),
]


@pytest.mark.parametrize(("content_type", "body", "expected"), MALFORMED,
                         ids=[expected for _, _, expected in MALFORMED])
def test_a_malformed_listing_is_a_publish_error_naming_the_url(hostile, content_type, body, expected):
    hostile.answer = lambda h: reply(h, 200, body, content_type)
    message = _listing_fails(hostile)
    assert f"the listing at {hostile.url}simple/pkg/ is not a simple-API page: {expected}" in message
    assert len(hostile.requests) == 1  # not retried: the index would send the same page


def test_names_that_are_not_plain_file_names_are_left_out(hostile, caplog):
    bad = ["../evil-1.0.tar.gz", "sub/pkg-1.0.tar.gz", "c:\\pkg-1.0.tar.gz", "pkg\x1b[31m-1.0.tar.gz", "..", ""]
    files = [{"filename": name, "url": "/f/x", "hashes": {}} for name in [*bad, "pkg-1.0.tar.gz"]]
    hostile.answer = lambda h: reply(h, 200, page(files), JSON)
    with caplog.at_level(logging.WARNING):
        assert list(hostile.index().listing("pkg")) == ["pkg-1.0.tar.gz"]
    assert "names 6 file(s) with a path or control characters in the name; ignored" in caplog.text

    html = ('<a href="/f/a#sha256=ab">../../evil.tar.gz</a><a href="/f/%2E%2E%2Fevil.tar.gz">  </a>'
            '<a href="/f/x%00y.tar.gz"></a><a href="/f/pkg-1.0.tar.gz#sha256=cd">pkg-1.0.tar.gz</a>')
    hostile.answer = lambda h: reply(h, 200, html.encode())
    assert list(hostile.index().listing("pkg")) == ["pkg-1.0.tar.gz"]


def test_an_upload_time_that_cannot_be_read_is_left_out(hostile):
    files = [{"filename": f"pkg-1.0-{i}.tar.gz", "url": "/f/x", "hashes": {}, "upload-time": when}
             for i, when in enumerate(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "yesterday"])]
    hostile.answer = lambda h: reply(h, 200, page(files), JSON)
    listing = hostile.index().listing("pkg")
    assert [f.upload_time for f in listing.values()] == ["2026-01-01T00:00:00Z", None, None]


def test_every_file_reads_a_whole_index_under_the_same_rules(hostile):
    def answer(h: Handler) -> None:
        if h.path == "/simple/":
            return reply(h, 200, b'<a href="pkg/">pkg</a><a href="../">..</a><a href="other/">other</a>')
        if h.path == "/simple/pkg/":
            return reply(h, 200, page([{"filename": "pkg-1.0.tar.gz", "url": "/f/p", "hashes": {"sha256": "ab"}}]),
                         JSON)
        reply(h, 200, b'{"files": 3}', JSON)

    hostile.answer = answer
    with pytest.raises(PublishFailed) as info:
        index_module.every_file(hostile.url + "simple/", timeout=TIMEOUT)
    assert f"the listing at {hostile.url}simple/other/ is not a simple-API page" in str(info.value)
    assert "GET /simple/../" not in hostile.requests


# --- through the command line -------------------------------------------------------


def run_release(cli, hostile: Hostile, tmp_path: Path, publish: str = ""):  # type: ignore[no-untyped-def]
    """`wheelship release` of a small pure project to the hostile index; it fails at
    preflight, which lists the project before anything is built."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=77"]\n'
                                            'build-backend = "setuptools.build_meta"\n\n'
                                            '[project]\nname = "pkg"\nversion = "1.0.0"\n')
    spec = tmp_path / "spec.toml"
    spec.write_text(f'kind = "pure"\n\n[publish]\nattempts = 2\nmax-wait = 0.01\n{publish}\n'
                    f'[indexes.hostile]\nupload-url = "{hostile.url}legacy/"\nsimple-url = "{hostile.url}simple/"\n'
                    'password-env = "HOSTILE_TOKEN"\n')
    return cli("release", project, "--tag", "v1.0.0", "--spec", spec, "--store", f"file://{tmp_path / 'store'}",
               "--index", "hostile")


@pytest.fixture
def release(cli, hostile, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOSTILE_TOKEN", "pypi-hostile-test-token")
    monkeypatch.delenv("WHEELSHIP_CONFIG", raising=False)
    return lambda publish="": run_release(cli, hostile, tmp_path, publish)


def test_the_cli_says_a_malformed_listing_is_a_publish_error(hostile, release):
    hostile.answer = lambda h: reply(h, 200, b'{"files": [{"filename": "x"}]}', JSON)
    result = release()
    assert result.code == 7, result.err
    assert "publish failed: the listing at" in result.err and "files[0].url is missing, not a string" in result.err
    assert "internal error" not in result.err


def test_the_cli_says_a_slow_index_did_not_answer_within_the_timeout(hostile, release):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
    hostile.answer = lambda h: (h.wfile.write(head), trickle(h, b" " * 100000))
    result = release("timeout = 0.5\n")
    assert result.code == 7, result.err
    assert "did not answer after 2 attempts" in result.err and "did not finish within 0.5 s" in result.err
    assert "raise [publish] timeout" in result.err
