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
"""

from __future__ import annotations

import html.parser
import logging
import re
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from urllib3.filepost import encode_multipart_formdata

from pipeline import __version__
from pipeline.credentials import Credentials, TrustedCredentials
from pipeline.errors import PublishFailed
from pipeline.redaction import redact
from pipeline.retry import Transient, is_transient, retry_after
from pipeline.spec import IndexConfig

log = logging.getLogger(__name__)

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


@dataclass(frozen=True)
class Listed:
    """A file the index lists."""

    filename: str
    url: str
    sha256: str | None
    upload_time: str | None = None


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            self.links.append((self._href, self._text.strip()))
            self._href = None


def parse_listing(body: str, content_type: str, base: str) -> dict[str, Listed]:
    """Files in a project's simple page, JSON or HTML, by file name."""
    files: dict[str, Listed] = {}
    if "json" in content_type:
        import json

        for f in json.loads(body).get("files", []):
            url = urllib.parse.urljoin(base, f["url"])
            files[f["filename"]] = Listed(f["filename"], url, f.get("hashes", {}).get("sha256"),
                                          f.get("upload-time"))
        return files
    parser = _Links()
    parser.feed(body)
    for href, text in parser.links:
        url = urllib.parse.urljoin(base, href)
        parsed = urllib.parse.urlparse(url)
        fragment = dict(urllib.parse.parse_qsl(parsed.fragment))
        name = text or urllib.parse.unquote(parsed.path.rsplit("/", 1)[-1])
        files[name] = Listed(name, url.split("#")[0], fragment.get("sha256"))
    return files


def every_file(simple_url: str, timeout: float = 30) -> dict[str, Listed]:
    """Every file a whole index lists, by name: its projects from the simple API's root
    page, then each project's page (the sandbox's holdings, for rehearsals and tests)."""
    root = requests.get(simple_url, timeout=timeout)
    root.raise_for_status()
    files: dict[str, Listed] = {}
    for project in sorted(set(re.findall(r'href="(?:[^"]*/)?([^/"]+)/?"', root.text))):
        page = requests.get(f"{simple_url}{project}/", headers={"Accept": ACCEPT}, timeout=timeout)
        if page.status_code == 404:
            continue
        page.raise_for_status()
        files.update(parse_listing(page.text, page.headers.get("Content-Type", ""), page.url))
    return files


def _metadata_fields(path: Path) -> list[tuple[str, Any]]:
    """The upload form's fields, as twine sends them."""
    from twine.package import PackageFile

    metadata = PackageFile.from_filename(str(path), comment=None).metadata_dictionary()
    fields: list[tuple[str, Any]] = []
    for key, value in metadata.items():
        if value is None or key == "gpg_signature":
            continue
        if key == "project_urls" and isinstance(value, dict):
            fields.extend((key, f"{k}, {v}") for k, v in value.items())
        elif key == "keywords" and isinstance(value, list):
            fields.append((key, ", ".join(value)))
        elif isinstance(value, list | tuple):
            fields.extend((key, item) for item in value)
        else:
            fields.append((key, value))
    return [*fields, (":action", "file_upload"), ("protocol_version", "1")]


# Files up to this size are encoded in memory (fast); larger ones stream from disk.
IN_MEMORY_UPLOAD = 32 * 1024 * 1024


class _Session(requests.Session):
    """A session that reads the environment (proxies, CA bundle) once per host,
    not on every request: requests rescans `os.environ` for each call otherwise,
    which costs more client time than a small upload to a nearby index."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[object, ...], Any] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), stream, verify, cert)
        if key not in self._settings:
            self._settings[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return dict(self._settings[key])


class Index:
    """One index, with optional credentials; thread-safe (a session per thread)."""

    def __init__(self, target: IndexConfig, credentials: Credentials | TrustedCredentials | None, *,
                 timeout: float = 60.0) -> None:
        self.target = target
        self.credentials = credentials
        self.timeout = timeout
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = _Session()
            session.headers["User-Agent"] = f"wheelship/{__version__}"
        return session

    def project_url(self, project: str) -> str:
        return self.target.simple_url.rstrip("/") + f"/{project}/"

    def listing(self, project: str) -> dict[str, Listed]:
        """Every file of a project on the index; empty if the project is unknown."""
        url = self.project_url(project)
        response = self.session.get(url, headers={"Accept": ACCEPT}, timeout=self.timeout)
        if response.status_code == 404:
            return {}
        self._raise_for(response, f"listing {project} at {url}")
        return parse_listing(response.text, response.headers.get("Content-Type", ""), response.url)

    def upload(self, path: Path) -> None:
        """POST one file. Raises `Transient` for what may pass, `FileExists` when the
        index says it has the file, `PublishFailed` with the index's message otherwise."""
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        fields = _metadata_fields(path)
        with path.open("rb") as fh:
            if path.stat().st_size <= IN_MEMORY_UPLOAD:
                body, content_type = encode_multipart_formdata(
                    [*((k, str(v)) for k, v in fields), ("content", (path.name, fh.read(), "application/octet-stream"))])
                data: Any = body
            else:
                from requests_toolbelt import MultipartEncoder  # type: ignore[import-untyped]

                data = MultipartEncoder([*fields, ("content", (path.name, fh, "application/octet-stream"))])
                content_type = data.content_type
            response = self.session.post(self.target.upload_url, data=data, auth=auth, allow_redirects=False,
                                         headers={"Content-Type": content_type}, timeout=self.timeout)
        if response.status_code in (400, 409) and "exist" in response.text.lower():
            raise FileExists(path.name)
        self._raise_for(response, f"uploading {path.name} to {self.target.name}")

    def download(self, url: str) -> bytes:
        response = self.session.get(url, timeout=self.timeout)
        self._raise_for(response, f"downloading {url}")
        return response.content

    def _raise_for(self, response: requests.Response, doing: str) -> None:
        if response.ok and not response.is_redirect:
            return
        message = redact(_index_message(response))
        if is_transient(response):
            raise Transient(f"{doing}: {response.status_code} {message}", retry_after(response))
        hint = {
            401: "the token was refused; check the index's password variable",
            403: "the token may not upload to this project; check its scope",
        }.get(response.status_code, "the index's message above says why")
        raise PublishFailed(f"{doing}: the index answered {response.status_code}: {message}", hint=hint)


class FileExists(Exception):
    """The index refused an upload because it holds a file of that name."""


def _index_message(response: requests.Response) -> str:
    text = response.text.strip()
    if "html" in response.headers.get("Content-Type", ""):
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return (text[:300] or response.reason or "no message").strip()
