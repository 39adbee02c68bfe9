"""A project's files as an index's simple API lists them (PEP 691 JSON, PEP 503 HTML).

Hashes come from JSON ``hashes`` or the ``#sha256=`` fragment; a project's status from
PEP 792's fields or markers. A listing that is not a simple-API page is a
`PublishFailed` naming its URL and what is wrong.

Why not pypi-simple (the kept client for PEP 503/691/700/714): measured here on a
3,000-file project page (2026-11-23, pypi-simple 1.8.0), it parsed HTML in 357 ms to
this module's 107 ms (it goes through BeautifulSoup) and JSON in 96 ms to 40 ms, and
a publish lists each project at least twice. wheelship needs only each file's name,
URL, SHA-256 and upload time; yanked files and metadata links do not change what is
published, so the small parser below is enough.
"""

from __future__ import annotations

import html.parser
import json
import logging
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pipeline.errors import PublishFailed
from pipeline.redaction import redact

log = logging.getLogger(__name__)


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


def malformed(url: str, what: str) -> PublishFailed:
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
        raise malformed(base, f"{where}: the URL of {name} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise malformed(base, f"{where}: the URL of {name} is not an http(s) URL")
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
        raise malformed(base, f"its JSON does not parse ({exc})") from None
    if not isinstance(page, dict):
        raise malformed(base, f"its JSON is {_kind(page)}, not an object")
    if isinstance(page.get("project-status"), dict):  # PEP 792, simple API 1.4
        status.update({k: v for k, v in page["project-status"].items() if isinstance(v, str)})
    files = page.get("files")
    if not isinstance(files, list):
        raise malformed(base, f'its "files" is {_kind(files) if "files" in page else "missing"}, not a list')
    for i, entry in enumerate(files):
        where = f"files[{i}]"
        if not isinstance(entry, dict):
            raise malformed(base, f"{where} is {_kind(entry)}, not an object")
        for key, (kind, required) in _ENTRY_KEYS.items():
            value = entry.get(key)
            if (value is not None or required) and (not isinstance(value, kind) or isinstance(value, bool)):
                got = _kind(value) if key in entry else "missing"
                raise malformed(base, f"{where}.{key} is {got}, not {_JSON_KINDS[kind]}")
        sha256 = (entry.get("hashes") or {}).get("sha256")
        if sha256 is not None and not isinstance(sha256, str):
            raise malformed(base, f"{where}.hashes.sha256 is {_kind(sha256)}, not a string")
        size = entry.get("size")
        if size is not None and size < 0:
            raise malformed(base, f"{where}.size is negative")
        yield _listed(base, where, entry["filename"], entry["url"], sha256, entry.get("upload-time"), size)


def _html_entries(body: str, base: str, status: dict[str, str]) -> Iterator[Listed | None]:
    parser = _Links()
    try:
        parser.feed(body)
    except AssertionError as exc:  # how html.parser refuses some malformed markup, such as "<![bogus["
        raise malformed(base, f"its HTML does not parse ({exc})") from None
    status.update({"status": parser.meta.get("pypi:project-status", ""),  # PEP 792's markers
                   "reason": parser.meta.get("pypi:project-status-reason", "")})
    for i, (href, text) in enumerate(parser.links):
        try:
            parts = urllib.parse.urlsplit(href)
        except ValueError as exc:
            raise malformed(base, f"link {i + 1} is not a URL ({exc})") from None
        fragment = dict(urllib.parse.parse_qsl(parts.fragment))
        name = text or urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
        yield _listed(base, f"link {i + 1}", name, href, fragment.get("sha256"))
