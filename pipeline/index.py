"""A package index as wheelship sees it: files listed by the simple API, uploads by POST.

Listings use PEP 691 JSON and fall back to PEP 503 HTML (pypiserver answers HTML
whatever is asked), read by pipeline.listings. Uploads speak the legacy upload API
with the metadata twine reads from the file. We own the POST rather than call twine's
`Repository.upload`, because that retries 5xx blindly, which can send a file the index
already stored. Every request goes through pipeline.transport, under a deadline and a
cap on the answer's size.
"""

from __future__ import annotations

import hashlib
import re
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import requests
from urllib3.filepost import encode_multipart_formdata

from pipeline import __version__
from pipeline.credentials import Credential
from pipeline.errors import IntegrityError, PublishFailed
from pipeline.indexes import IndexConfig
from pipeline.listings import Listed, Listing, malformed, parse_listing
from pipeline.records import sha256_of
from pipeline.redaction import redact, shorten
from pipeline.retry import Transient, call, is_transient, retry_after
from pipeline.spec import PublishPolicy
from pipeline.transport import ERROR_LIMIT, Session, declared_charset, exchange

__all__ = ["DOWNLOAD_LIMIT", "ERROR_LIMIT", "IN_MEMORY_UPLOAD", "LISTING_LIMIT", "FileExists", "Index", "Listed",
           "Listing", "every_file", "parse_listing"]

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


def every_file(simple_url: str, timeout: float = 30) -> dict[str, Listed]:
    """Every file a whole index lists, by name: its projects from the simple API's root
    page, then each project's page (the sandbox's holdings, for rehearsals and tests).
    Each page is read as `Index.listing` reads one, under the default retry policy."""
    policy = PublishPolicy(timeout=timeout)
    files: dict[str, Listed] = {}
    with Session() as session:
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


def _read_page(session: requests.Session, url: str, doing: str, timeout: float) -> tuple[requests.Response, str] | None:
    """A simple-API page: the answer and its text; None if the index has no such page."""
    response, body = exchange(session, "GET", url, doing, timeout=timeout, limit=LISTING_LIMIT,
                              headers={"Accept": ACCEPT})
    if response.status_code == 404:
        return None
    _raise_for(response, body, doing)
    charset = declared_charset(response)
    try:
        return response, body.decode(charset)
    except LookupError:
        raise malformed(url, f"it declares the charset {shorten(charset, 40)!r}, which is not a text encoding") \
            from None
    except UnicodeError as exc:
        raise malformed(url, f"it is not valid {charset} text (at byte {getattr(exc, 'start', '?')})") from None


def _listing(session: requests.Session, url: str, doing: str, timeout: float) -> Listing:
    """The files a project's page lists; empty if the index has no such page."""
    page = _read_page(session, url, doing, timeout)
    if page is None:
        return Listing()
    response, text = page
    return parse_listing(text, response.headers.get("Content-Type", ""), response.url)


class Index:
    """One index, with optional credentials; thread-safe (a session per thread)."""

    def __init__(self, target: IndexConfig, credentials: Credential | None, *,
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
            session = self._local.session = Session()
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

    def upload(self, path: Path, sha256: str | None = None, attestation: bytes | None = None) -> None:
        """POST one file: the bytes sent are the bytes `sha256` names (what was verified),
        else `IntegrityError`, whatever touched the file since; with its PEP 740 publish
        `attestation` (verified before) in the ``attestations`` field, as twine sends it.
        Raises `Transient` for what may pass, `FileExists` when the index says it has the
        file, `PublishFailed` with the index's message otherwise."""
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        fields = _metadata_fields(path)
        if attestation is not None:  # a JSON list of attestation objects; one per file, the publish one
            fields.append(("attestations", f"[{attestation.decode('utf-8').strip()}]"))
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
            response, answer = exchange(self.session, "POST", self.target.upload_url, doing, timeout=self.timeout,
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
        response, body = exchange(self.session, "GET", url, doing, timeout=self.timeout, limit=limit)
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
        return body.decode(declared_charset(response), errors="replace")
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
