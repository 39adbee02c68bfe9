"""Publishing logic at its seam: a fake index in memory, no network."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
import requests

from pipeline.errors import PublishFailed
from pipeline.index import FileExists, Listed, parse_listing
from pipeline.publishing import PRESENT, UPLOADED, WOULD_UPLOAD, Publisher
from pipeline.records import wheels_first
from pipeline.retry import Transient, retry_after
from pipeline.spec import IndexConfig, PublishPolicy
from tests.distfactory import make_release


class FakeIndex:
    """An index in memory that can fail each call a set number of times."""

    def __init__(self) -> None:
        self.target = IndexConfig(name="fake", upload_url="http://fake/", simple_url="http://fake/simple/",
                                  username="__token__", password_env="X")
        self.files: dict[str, tuple[str, str | None]] = {}  # name -> (sha256, upload time)
        self.uploads: list[str] = []
        self.fail_uploads: list[BaseException] = []
        self.store_then_fail = False
        self.listing_fails_after = -1  # answer this many listings, then 503 for ever
        self.listings = 0
        self.downloads: list[str] = []
        self.blobs: dict[str, bytes] = {}

    def project_url(self, project: str) -> str:
        return f"http://fake/simple/{project}/"

    def listing(self, project: str) -> dict[str, Listed]:
        if self.listing_fails_after == 0:
            raise Transient("listing pkg at http://fake/simple/pkg/: 503 Service Unavailable")
        self.listing_fails_after -= 1
        self.listings += 1
        return {n: Listed(n, f"http://fake/{n}", sha, when) for n, (sha, when) in self.files.items()}

    def upload(self, path: Path, sha256: str | None = None, attestation: bytes | None = None) -> None:
        self.uploads.append(path.name)
        if path.name in self.files:
            raise FileExists(path.name)
        if self.store_then_fail:
            self.files[path.name] = (hashlib.sha256(path.read_bytes()).hexdigest(), None)
            self.store_then_fail = False
            raise requests.ConnectionError("connection dropped after the body was sent")
        if self.fail_uploads:
            raise self.fail_uploads.pop(0)
        self.files[path.name] = (hashlib.sha256(path.read_bytes()).hexdigest(), None)
        self.blobs[path.name] = path.read_bytes()

    def download(self, url: str) -> bytes:
        self.downloads.append(url)
        return self.blobs[url.rsplit("/", 1)[-1]]


def _publisher(index: FakeIndex, dry_run: bool = False, download_back: bool = False) -> Publisher:
    return Publisher(index, "pkg", PublishPolicy(attempts=5, max_wait=0.01, download_back=download_back),  # type: ignore[arg-type]
                     dry_run=dry_run, sleep=lambda s: None)


@pytest.fixture
def release(tmp_path):  # type: ignore[no-untyped-def]
    artifacts = make_release(tmp_path, "pkg")
    return artifacts, {a.name: tmp_path / a.name for a in artifacts}


def test_wheels_go_up_before_the_sdist(release):
    artifacts, files = release
    index = FakeIndex()
    outcomes = _publisher(index).publish(list(reversed(artifacts)), files)
    assert set(outcomes.values()) == {UPLOADED}
    assert index.uploads[-1].endswith(".tar.gz") and all(u.endswith(".whl") for u in index.uploads[:-1])


def test_a_publish_lists_before_and_after_uploads_each_file_once_and_downloads_nothing(release):
    artifacts, files = release
    index = FakeIndex()
    publisher = _publisher(index)
    publisher.confirm(artifacts, publisher.publish(artifacts, files))
    assert (index.listings, sorted(index.uploads), index.downloads) == (2, sorted(files), [])

    preflight = FakeIndex()  # a listing taken moments before stands for the lookup
    publisher = _publisher(preflight)
    publisher.confirm(artifacts, publisher.publish(artifacts, files, known=preflight.listing("pkg")))
    assert (preflight.listings, len(preflight.uploads), preflight.downloads) == (2, len(files), [])


def test_download_back_is_an_opt_in_that_fetches_each_uploaded_file_once(release):
    artifacts, files = release
    index = FakeIndex()
    publisher = _publisher(index, download_back=True)
    publisher.confirm(artifacts, publisher.publish(artifacts, files))
    assert sorted(u.rsplit("/", 1)[-1] for u in index.downloads) == sorted(files)


def test_an_upload_stored_while_the_client_saw_an_error_is_not_sent_again(release):
    artifacts, files = release
    index = FakeIndex()
    index.store_then_fail = True
    _publisher(index).publish(artifacts[:1], files)
    assert index.uploads == [artifacts[0].name]  # looked up after the error: already there, same hash


def test_transient_errors_are_retried_and_others_are_not(release):
    artifacts, files = release
    index = FakeIndex()
    index.fail_uploads = [Transient("503"), requests.Timeout("slow")]
    assert _publisher(index).publish(artifacts[:1], files)[artifacts[0].name] == UPLOADED
    index = FakeIndex()
    index.fail_uploads = [PublishFailed("the index answered 400: bad classifier")]
    with pytest.raises(PublishFailed, match="bad classifier"):
        _publisher(index).publish(artifacts[:1], files)
    assert len(index.uploads) == 1


def test_dry_run_looks_up_and_uploads_nothing(release):
    artifacts, files = release
    index = FakeIndex()
    index.files[artifacts[0].name] = (artifacts[0].sha256, None)
    outcomes = _publisher(index, dry_run=True).publish(artifacts, files)
    assert outcomes[artifacts[0].name] == PRESENT
    assert {outcomes[a.name] for a in artifacts[1:]} == {WOULD_UPLOAD}
    assert index.uploads == []


def test_a_warning_before_adding_files_to_an_old_release(release, caplog):
    artifacts, files = release
    index = FakeIndex()
    index.files[artifacts[0].name] = (artifacts[0].sha256, "2026-01-02T03:04:05Z")
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        _publisher(index, dry_run=True).publish(artifacts, files)
    assert "PyPI refuses new files for releases older than 14 days" in caplog.text


def test_listings_parse_pep691_json_and_pep503_html():
    html = ('<html><body><a href="/packages/pkg-1.0.tar.gz#sha256=abc">pkg-1.0.tar.gz</a>'
            '<a href="../../packages/pkg-1.0-py3-none-any.whl#sha256=def">pkg-1.0-py3-none-any.whl</a></body></html>')
    files = parse_listing(html, "text/html", "http://i/simple/pkg/")
    assert files["pkg-1.0.tar.gz"] == Listed("pkg-1.0.tar.gz", "http://i/packages/pkg-1.0.tar.gz", "abc")
    assert files["pkg-1.0-py3-none-any.whl"].sha256 == "def"
    body = ('{"files": [{"filename": "pkg-1.0.tar.gz", "url": "https://f/pkg-1.0.tar.gz", '
            '"hashes": {"sha256": "abc"}, "upload-time": "2026-11-01T00:00:00Z"}]}')
    files = parse_listing(body, "application/vnd.pypi.simple.v1+json", "https://i/simple/pkg/")
    assert files["pkg-1.0.tar.gz"].upload_time == "2026-11-01T00:00:00Z"


def test_retry_after_in_seconds_and_as_a_date():
    response = requests.Response()
    response.headers["Retry-After"] = "7"
    assert retry_after(response) == 7.0
    response.headers["Retry-After"] = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after(response) == 0.0


def test_a_probe_that_outlasts_the_policy_says_the_index_did_not_answer(release):
    index = FakeIndex()
    index.listing_fails_after = 0
    with pytest.raises(PublishFailed) as info:
        _publisher(index).probe()
    message = str(info.value)
    assert "index fake at http://fake/simple/pkg/ did not answer after 5 attempts over" in message
    assert "503 Service Unavailable" in message and "check the index URL" not in message


def test_a_listing_after_uploads_that_outlasts_the_policy_is_a_publish_error(release):
    artifacts, files = release
    index = FakeIndex()
    index.listing_fails_after = 1  # the listing before publishing answers; the one after never does
    publisher = _publisher(index)
    outcomes = publisher.publish(wheels_first(artifacts), files)
    with pytest.raises(PublishFailed) as info:
        publisher.confirm(wheels_first(artifacts), outcomes)
    assert "listing pkg on fake (http://fake/simple/pkg/) did not succeed after 5 attempts" in str(info.value)
    assert "resumes where it stopped" in (info.value.hint or "")



def test_a_file_changed_after_it_was_verified_is_never_sent(tmp_path):
    """The bytes uploaded are hashed as they are sent: whatever rewrote the verified file
    (code a test-install ran, say) is caught before anything leaves."""
    from pipeline.errors import IntegrityError
    from pipeline.index import Index
    from pipeline.spec import IndexConfig

    (artifact,) = make_release(tmp_path, "swapped", tags=())
    path = tmp_path / artifact.name
    path.write_bytes(path.read_bytes() + b"\0")
    index = Index(IndexConfig(name="closed", upload_url="http://127.0.0.1:9/", simple_url="http://127.0.0.1:9/simple/",
                              password_env="NONE"), None)
    with pytest.raises(IntegrityError, match="changed after it was verified"):
        index.upload(path, artifact.sha256)


def test_trusted_publishing_is_found_without_a_token_and_minted_before_the_first_upload(monkeypatch):
    """One `Credential` whatever its source: trusted publishing says what it is (for the
    preflight's quarantine check) without minting; `for_upload` mints before any file goes."""
    from pipeline import credentials

    target = FakeIndex().target
    minted: list[str] = []

    def mint(index: IndexConfig) -> str:
        minted.append(index.name)
        return "pypi-minted-for-the-test-0123456789"

    monkeypatch.setattr(credentials, "_mint_token", mint)
    monkeypatch.delenv("X", raising=False)
    for name in ("TWINE_PASSWORD", "TWINE_USERNAME", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:9/token")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request")
    found = credentials.find(target)
    assert found is not None and found.trusted and found.describe() == "__token__ via trusted publishing"
    assert minted == []
    ready = credentials.for_upload(target)
    assert minted == ["fake"] and ready.trusted
    assert ready.password == "pypi-minted-for-the-test-0123456789" and minted == ["fake"]  # fresh: not minted again

    monkeypatch.setenv("X", "pypi-configured-for-the-test-0123456789")
    token = credentials.for_upload(target)
    assert not token.trusted and token.describe() == "__token__ via X" and minted == ["fake"]
