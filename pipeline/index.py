"""A package index as wheelship sees it: files listed by the simple API, uploads by POST.

Listings use PEP 691 JSON and fall back to PEP 503 HTML (pypiserver answers HTML
whatever is asked); hashes come from JSON ``hashes`` or the ``#sha256=`` fragment.
Uploads speak the legacy upload API with the metadata twine reads from the file.
We own the POST rather than call twine's `Repository.upload`, because that retries
5xx blindly, which can send a file the index already stored.

Why not pypi-simple (the kept client for PEP 503/691/700/714): measured here on a
3,000-file project page (2026-11-23, pypi-simple 1.8.0), it parsed HTML in 357 ms to
this module's 107 ms (it goes through BeautifulSoup) and JSON in 96 ms to 40 ms, and
a publish lists each project at least twice. wheelship needs only each file's name,
URL, SHA-256 and upload time; yanked files and metadata links do not change what is
published, so the small parser below is enough.

Every answer is read by one helper, `_exchange`, under two limits: a deadline for the
whole request (`[publish] timeout`: connect, headers and body together, not each
socket read) and a cap on the body's size. Past either, the request has failed and
the retry policy (pipeline.retry) decides; when it gives up, the error names the
request and the limit. A listing that is not a simple-API page is a `PublishFailed`
naming its URL and what is wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import html.parser
import itertools
import json
import logging
import math
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import urllib3
from urllib3.filepost import encode_multipart_formdata

from pipeline import __version__
from pipeline.credentials import Credentials, TrustedCredentials
from pipeline.errors import IntegrityError, PublishFailed
from pipeline.records import sha256_of
from pipeline.redaction import redact, shorten
from pipeline.retry import TRANSIENT, Transient, call, is_transient, retry_after
from pipeline.spec import IndexConfig, PublishPolicy

log = logging.getLogger(__name__)

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"

# What an index may send. PyPI's largest project pages, with tens of thousands of
# files, are a few MB of JSON, up to a few tens for the very largest: a file's entry
# (name, URL, three SHA-256s, size, time, flags) is about 700 bytes, so 64 MiB holds
# some 95,000 files. A 1.5 GB "listing" once took publish past 7 GB of memory.
LISTING_LIMIT = 64 * 1024 * 1024
# A download whose size neither the caller nor the listing (PEP 700 `size`) gives:
# PyPI refuses files over 100 MB unless it raised the project's own limit; a caller
# that expects a larger file passes its size (`Index.download`).
DOWNLOAD_LIMIT = 1024 * 1024 * 1024
# An error's body (a line of text, or a small HTML page), and an upload's answer: only
# its first 300 characters are ever shown.
ERROR_LIMIT = 64 * 1024
MAX_REDIRECTS = 10  # PyPI redirects a listing at most once (to its normalized name)

LIMIT_HINT = ("no working index sends an answer that large (a listing, an error, or more bytes than the file "
              "has); check the index's URLs, or tell the index's operators")
DEADLINE_HINT = ("the index answers too slowly; if it is only slow (a large file, a slow link), raise [publish] "
                 "timeout in the buildspec; otherwise run the same command again later: it resumes where it "
                 "stopped and never sends a file twice")


@dataclass(frozen=True)
class Listed:
    """A file the index lists."""

    filename: str
    url: str
    sha256: str | None
    upload_time: str | None = None
    size: int | None = None  # PEP 700, JSON listings only


class Listing(dict[str, Listed]):
    """A project's files on the index, by name, and the project's PEP 792 status
    (``active``, ``archived``, ``quarantined``, ``deprecated``) with its reason."""

    status: str = "active"
    reason: str = ""


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.meta: dict[str, str] = {}
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta" and (name := dict(attrs).get("name")):
            self.meta[name] = dict(attrs).get("content") or ""
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            self.links.append((self._href, self._text.strip()))
            self._href = None


def parse_listing(body: str, content_type: str, base: str) -> Listing:
    """Files in a project's simple page (at URL `base`), JSON or HTML, by file name.

    An entry whose name is not a plain file name (a path, a control character) is left
    out: no listing ever names a path. Raises `PublishFailed`, naming `base` and what is
    wrong, for a page that is not a simple-API page. That is not retried: the index
    answered in full (an answer cut short fails as a broken connection, which is), and
    it gives the same page again."""
    status: dict[str, str] = {}
    entries = list(_json_entries(body, base, status) if "json" in content_type else _html_entries(body, base, status))
    if None in entries:
        log.warning("the listing at %s names %d file(s) with a path or control characters in the name; ignored",
                    redact(base), entries.count(None))
    listing = Listing({entry.filename: entry for entry in entries if entry is not None})
    if isinstance(status.get("status"), str) and status["status"]:
        listing.status = status["status"]
        listing.reason = status.get("reason", "")
    return listing


def _malformed(url: str, what: str) -> PublishFailed:
    return PublishFailed(redact(f"the listing at {url} is not a simple-API page: {what}"),
                         hint="the index does not answer as PEP 691 (JSON) or PEP 503 (HTML) say; check the "
                              "index's simple-url, or tell the index's operators")


def _listed(base: str, where: str, name: str, href: str, sha256: str | None, upload_time: str | None = None,
            size: int | None = None) -> Listed | None:
    """One entry, its URL made absolute; None for a name that is not a plain file name."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or not name.isprintable():
        return None
    try:
        url = urllib.parse.urljoin(base, href)
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise _malformed(base, f"{where}: the URL of {name} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _malformed(base, f"{where}: the URL of {name} is not an http(s) URL")
    # the URL as checked: urlsplit drops the spaces around it and tabs and newlines inside it
    return Listed(name, urllib.parse.urlunsplit(parts._replace(fragment="")), sha256, _aware_time(upload_time), size)


def _aware_time(value: str | None) -> str | None:
    """An upload time publishing can compare with now, else None: it only feeds a warning,
    so a time wheelship cannot read is left out rather than stop a release."""
    try:
        return value if value and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo else None
    except ValueError:
        return None


_JSON_KINDS = {dict: "an object", list: "a list", str: "a string", int: "a whole number", float: "a number",
               bool: "true or false", type(None): "null"}
# A file entry's keys wheelship reads: its type, and whether the entry must have it.
_ENTRY_KEYS: dict[str, tuple[type, bool]] = {"filename": (str, True), "url": (str, True), "hashes": (dict, False),
                                             "upload-time": (str, False), "size": (int, False)}


def _kind(value: object) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _json_entries(body: str, base: str, status: dict[str, str]) -> Iterator[Listed | None]:
    try:
        page = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
        raise _malformed(base, f"its JSON does not parse ({exc})") from None
    if not isinstance(page, dict):
        raise _malformed(base, f"its JSON is {_kind(page)}, not an object")
    if isinstance(page.get("project-status"), dict):  # PEP 792, simple API 1.4
        status.update({k: v for k, v in page["project-status"].items() if isinstance(v, str)})
    files = page.get("files")
    if not isinstance(files, list):
        raise _malformed(base, f'its "files" is {_kind(files) if "files" in page else "missing"}, not a list')
    for i, entry in enumerate(files):
        where = f"files[{i}]"
        if not isinstance(entry, dict):
            raise _malformed(base, f"{where} is {_kind(entry)}, not an object")
        for key, (kind, required) in _ENTRY_KEYS.items():
            value = entry.get(key)
            if (value is not None or required) and (not isinstance(value, kind) or isinstance(value, bool)):
                got = _kind(value) if key in entry else "missing"
                raise _malformed(base, f"{where}.{key} is {got}, not {_JSON_KINDS[kind]}")
        sha256 = (entry.get("hashes") or {}).get("sha256")
        if sha256 is not None and not isinstance(sha256, str):
            raise _malformed(base, f"{where}.hashes.sha256 is {_kind(sha256)}, not a string")
        size = entry.get("size")
        if size is not None and size < 0:
            raise _malformed(base, f"{where}.size is negative")
        yield _listed(base, where, entry["filename"], entry["url"], sha256, entry.get("upload-time"), size)


def _html_entries(body: str, base: str, status: dict[str, str]) -> Iterator[Listed | None]:
    parser = _Links()
    try:
        parser.feed(body)
    except AssertionError as exc:  # how html.parser refuses some malformed markup, such as "<![bogus["
        raise _malformed(base, f"its HTML does not parse ({exc})") from None
    status.update({"status": parser.meta.get("pypi:project-status", ""),  # PEP 792's markers
                   "reason": parser.meta.get("pypi:project-status-reason", "")})
    for i, (href, text) in enumerate(parser.links):
        try:
            parts = urllib.parse.urlsplit(href)
        except ValueError as exc:
            raise _malformed(base, f"link {i + 1} is not a URL ({exc})") from None
        fragment = dict(urllib.parse.parse_qsl(parts.fragment))
        name = text or urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
        yield _listed(base, f"link {i + 1}", name, href, fragment.get("sha256"))


def every_file(simple_url: str, timeout: float = 30) -> dict[str, Listed]:
    """Every file a whole index lists, by name: its projects from the simple API's root
    page, then each project's page (the sandbox's holdings, for rehearsals and tests).
    Each page is read as `Index.listing` reads one, under the default retry policy."""
    policy = PublishPolicy(timeout=timeout)
    files: dict[str, Listed] = {}
    with _Session() as session:
        doing = f"listing the projects at {simple_url}"
        root = call(policy, doing, _read_page, session, simple_url, doing, timeout)
        for project in sorted(set(re.findall(r'href="(?:[^"]*/)?([^/"]+)/?"', root[1] if root else ""))):
            if project not in (".", ".."):
                url = f"{simple_url}{urllib.parse.quote(project)}/"
                doing = f"listing {project} at {url}"
                files.update(call(policy, doing, _listing, session, url, doing, timeout))
    return files


def _metadata_fields(path: Path) -> list[tuple[str, Any]]:
    """The upload form's fields, as twine sends them, read by the code that checked them
    (warehouse validates these fields, not the file: pipeline.checks.rules.upload_fields)."""
    from pipeline.checks.rules.upload_fields import upload_fields

    return [*upload_fields(path), (":action", "file_upload"), ("protocol_version", "1")]


# Files up to this size are encoded in memory (fast); larger ones stream from disk.
IN_MEMORY_UPLOAD = 32 * 1024 * 1024


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


class _Session(requests.Session):
    """A session that reads the environment (proxies, CA bundle) once per host,
    not on every request: requests rescans `os.environ` for each call otherwise,
    which costs more client time than a small upload to a nearby index. It never
    follows a redirect itself: requests reads a redirect's whole body, whatever its
    size, so `_exchange` follows them, reading none."""

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


def _exchange(session: requests.Session, method: str, url: str, doing: str, *, timeout: float, limit: int,
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


def _charset(response: requests.Response) -> str:
    """The charset an answer declares, else UTF-8 (JSON's and the simple API's own)."""
    match = re.search(r'charset="?([^\s;"]+)', response.headers.get("Content-Type", ""), re.IGNORECASE)
    return match.group(1) if match else "utf-8"


def _read_page(session: requests.Session, url: str, doing: str, timeout: float) -> tuple[requests.Response, str] | None:
    """A simple-API page: the answer and its text; None if the index has no such page."""
    response, body = _exchange(session, "GET", url, doing, timeout=timeout, limit=LISTING_LIMIT,
                               headers={"Accept": ACCEPT})
    if response.status_code == 404:
        return None
    _raise_for(response, body, doing)
    charset = _charset(response)
    try:
        return response, body.decode(charset)
    except LookupError:
        raise _malformed(url, f"it declares the charset {shorten(charset, 40)!r}, which is not a text encoding") \
            from None
    except UnicodeError as exc:
        raise _malformed(url, f"it is not valid {charset} text (at byte {getattr(exc, 'start', '?')})") from None


def _listing(session: requests.Session, url: str, doing: str, timeout: float) -> Listing:
    """The files a project's page lists; empty if the index has no such page."""
    page = _read_page(session, url, doing, timeout)
    if page is None:
        return Listing()
    response, text = page
    return parse_listing(text, response.headers.get("Content-Type", ""), response.url)


class Index:
    """One index, with optional credentials; thread-safe (a session per thread)."""

    def __init__(self, target: IndexConfig, credentials: Credentials | TrustedCredentials | None, *,
                 timeout: float = 60.0) -> None:
        self.target = target
        self.credentials = credentials
        self.timeout = timeout
        self._local = threading.local()
        self._sizes: dict[str, int] = {}  # file URL -> the size its listing gave: its download's cap

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = _Session()
            session.headers["User-Agent"] = f"wheelship/{__version__}"
        return session

    def project_url(self, project: str) -> str:
        return self.target.simple_url.rstrip("/") + f"/{project}/"

    def listing(self, project: str) -> Listing:
        """Every file of a project on the index; empty if the project is unknown."""
        url = self.project_url(project)
        files = _listing(self.session, url, f"listing {project} at {url}", self.timeout)
        self._sizes.update({f.url: f.size for f in files.values() if f.size is not None})
        return files

    def upload(self, path: Path, sha256: str | None = None) -> None:
        """POST one file: the bytes sent are the bytes `sha256` names (what was verified),
        else `IntegrityError`, whatever touched the file since. Raises `Transient` for
        what may pass, `FileExists` when the index says it has the file, `PublishFailed`
        with the index's message otherwise."""
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        fields = _metadata_fields(path)
        doing = f"uploading {path.name} to {self.target.name}"
        with path.open("rb") as fh:
            if path.stat().st_size <= IN_MEMORY_UPLOAD:
                content = fh.read()
                _same_bytes(path.name, hashlib.sha256(content).hexdigest(), sha256)
                body, content_type = encode_multipart_formdata(
                    [*((k, str(v)) for k, v in fields), ("content", (path.name, content, "application/octet-stream"))])
                data: Any = body
            else:
                _same_bytes(path.name, sha256_of(path), sha256)
                from requests_toolbelt import MultipartEncoder  # type: ignore[import-untyped]

                data = MultipartEncoder([*fields, ("content", (path.name, fh, "application/octet-stream"))])
                content_type = data.content_type
            response, answer = _exchange(self.session, "POST", self.target.upload_url, doing, timeout=self.timeout,
                                         limit=ERROR_LIMIT, data=data, auth=auth,
                                         headers={"Content-Type": content_type})
        if response.status_code in (400, 409) and "exist" in _text(response, answer).lower():
            raise FileExists(path.name)
        _raise_for(response, answer, doing)

    def download(self, url: str, size: int | None = None) -> bytes:
        """The file at `url`: at most `size` bytes, else the size the index listed for it,
        else `DOWNLOAD_LIMIT`."""
        doing = f"downloading {url}"
        limit = size if size is not None else self._sizes.get(url, DOWNLOAD_LIMIT)
        response, body = _exchange(self.session, "GET", url, doing, timeout=self.timeout, limit=limit)
        _raise_for(response, body, doing)
        return body


def _same_bytes(name: str, actual: str, expected: str | None) -> None:
    if expected is not None and actual != expected:
        raise IntegrityError(f"{name} changed after it was verified: its bytes now have sha256 {actual}, the run "
                             f"records {expected}", hint="something on this machine rewrote the file; nothing of it "
                             "was uploaded. Run the same command again: it fetches the stored file afresh")


class FileExists(Exception):
    """The index refused an upload because it holds a file of that name."""


def _raise_for(response: requests.Response, body: bytes, doing: str) -> None:
    if response.ok and not response.is_redirect:
        return
    message = _index_message(response, body)
    if is_transient(response.status_code, _text(response, body)):
        raise Transient(f"{doing}: {response.status_code} {message}", retry_after(response))
    hint = {
        401: "the token was refused; check the index's password variable",
        403: "the token may not upload to this project; check its scope",
    }.get(response.status_code, "the index's message above says why")
    raise PublishFailed(f"{doing}: the index answered {response.status_code}: {message}", hint=hint)


def _text(response: requests.Response, body: bytes) -> str:
    try:
        return body.decode(_charset(response), errors="replace")
    except (LookupError, UnicodeError):  # a charset Python lacks, or one with no "replace" (idna)
        return body.decode("utf-8", errors="replace")


def _index_message(response: requests.Response, body: bytes) -> str:
    """The index's own words: every secret masked in the whole text first, then tags and
    runs of whitespace dropped, then the rest cut to 300 characters."""
    text = redact(_text(response, body), cut=True)  # cut: the body may stop at ERROR_LIMIT, mid-secret
    if "html" in response.headers.get("Content-Type", ""):
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return shorten(text, 300) or shorten(response.reason or "", 300) or "no message"
