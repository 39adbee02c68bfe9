"""PEP 792: a project the index has archived (or quarantined, under trusted publishing)
stops the release in preflight, before anything is built, saying why."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from pipeline.errors import PublishFailed
from pipeline.index import parse_listing
from pipeline.stages.preflight import _uploads_allowed
from tests.conftest import copy_project

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.mark.parametrize(("body", "kind", "status", "reason"), [
    (json.dumps({"meta": {"api-version": "1.4"}, "files": [],
                 "project-status": {"status": "archived", "reason": "moved to new-name"}}), JSON, "archived",
     "moved to new-name"),
    ('<html><head><meta name="pypi:project-status" content="quarantined">'
     '<meta name="pypi:project-status-reason" content="malware report"></head><body></body></html>', "text/html",
     "quarantined", "malware report"),
    (json.dumps({"files": []}), JSON, "active", ""),
])
def test_the_status_is_read_from_json_and_html(body, kind, status, reason):
    listing = parse_listing(body, kind, "https://index.example/simple/p/")
    assert (listing.status, listing.reason) == (status, reason)


def test_what_each_status_allows():
    archived = parse_listing(json.dumps({"files": [], "project-status": {"status": "archived"}}), JSON, "https://x/")
    with pytest.raises(PublishFailed, match="archived on pypi: the index refuses every upload"):
        _uploads_allowed(archived, "pypi", "p", trusted=False)
    quarantined = parse_listing(json.dumps({"files": [], "project-status": {"status": "quarantined"}}), JSON,
                                "https://x/")
    with pytest.raises(PublishFailed, match="trusted publishers may not upload"):
        _uploads_allowed(quarantined, "pypi", "p", trusted=True)
    _uploads_allowed(quarantined, "pypi", "p", trusted=False)  # an owner's API token still may


class _Archived(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"files": [], "project-status": {"status": "archived", "reason": "unmaintained"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", JSON)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def archived_index() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Archived)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_an_archived_project_stops_before_anything_is_built(cli, tmp_path, archived_index, monkeypatch):
    project = copy_project("purepkg", tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text(f'kind = "pure"\n[indexes.pypi]\nupload-url = "{archived_index}legacy/"\n'
                    f'simple-url = "{archived_index}simple/"\npassword-env = "ARCHIVED_TOKEN"\n')
    monkeypatch.setenv("ARCHIVED_TOKEN", "pypi-test-token-archived")
    result = cli("release", project, "--tag", "v1.0.0", "--spec", spec, "--store", f"file://{tmp_path / 'store'}")
    assert result.code == PublishFailed.exit_code, result.err
    assert "wheelship-demo-pure is archived on pypi (unmaintained)" in result.err
    assert "nothing was built or uploaded" in result.err and "── build" not in result.err
