"""A `gh` stand-in for rehearsals and tests: the `gh api` subset `pipeline.ghrelease` uses,
keeping GitHub Releases in a folder with GitHub's semantics.

Run as ``python -m pipeline.ghstandin api ...`` (or through the shim `write_shim` puts in
a folder on PATH). The folder is ``$WHEELSHIP_GH_STANDIN``; a repository's releases live
in ``<folder>/<owner>/<repo>/state.json`` with each asset's bytes beside it. What it does,
as GitHub's REST API does it:

- ``GET repos/O/R/releases`` (``per_page``, ``page``), ``POST repos/O/R/releases``
  (``tag_name``, ``name``, ``draft``, ``prerelease``), ``GET|PATCH repos/O/R/releases/ID``
  (``draft=false`` publishes), ``GET repos/O/R/releases/ID/assets``;
- ``POST <upload_url>?name=N`` with ``--input FILE`` uploads an asset; GitHub computes its
  ``digest`` (``sha256:<hex>``); a name already there is 422 ``already_exists``;
- ``GET repos/O/R/releases/assets/ID`` (with ``Accept: application/octet-stream``, the
  bytes) and ``DELETE`` of an asset;
- immutable releases, when ``settings.json`` says ``{"immutable_releases": true}``: once
  published, a release refuses new, changed or deleted assets (422, GitHub's message).

It does less than GitHub, never more: no other endpoint, no ``--paginate``, no ``--jq``.
A token must be in the environment (``GH_TOKEN`` or ``GITHUB_TOKEN``), as gh requires on
Actions; it is never read further. Errors look like gh's: the JSON body on stdout,
``gh: <message> (HTTP <status>)`` on stderr, exit 1.

Fault switch: with ``WHEELSHIP_GH_STANDIN_FAIL_AFTER=N``, once the repository holds N
uploads every further upload breaks half-way, as an interrupted one does on GitHub: the
asset is left in state ``open`` without a digest, and the answer is HTTP 502.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FOLDER_ENV = "WHEELSHIP_GH_STANDIN"
FAIL_AFTER_ENV = "WHEELSHIP_GH_STANDIN_FAIL_AFTER"
IMMUTABLE_MESSAGE = "Cannot upload assets to an immutable release."
REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
ASSET_NAME = re.compile(r"(?!\.)[^/\\\x00-\x1f\x7f]{1,255}")


class HttpError(Exception):
    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.body = body or {"message": message, "status": str(status)}


@dataclass
class Request:
    method: str
    endpoint: str
    fields: dict[str, Any]
    input: Path | None
    accept: str


# --- the folder ------------------------------------------------------------------


def repo_folder(root: Path, repo: str) -> Path:
    if not REPO.fullmatch(repo) or ".." in repo:
        raise HttpError(404, "Not Found")
    return root / repo


def configure(root: Path, repo: str, *, immutable_releases: bool) -> None:
    """Set a repository's immutable-releases setting, as its owner would on GitHub."""
    folder = repo_folder(root, repo)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({"immutable_releases": immutable_releases}) + "\n")


def releases(root: Path, repo: str) -> list[dict[str, Any]]:
    """Every release of `repo` as the API shows it, oldest first (for tests and reports)."""
    state = _load(repo_folder(root, repo))
    return [_release_json(repo, r) for r in state["releases"]]


def upload_log(root: Path, repo: str) -> list[str]:
    """The name of every upload that completed, in order: an asset sent twice shows twice."""
    return list(_load(repo_folder(root, repo))["uploads"])


def _load(folder: Path) -> dict[str, Any]:
    path = folder / "state.json"
    if not path.is_file():
        return {"next_id": 1, "releases": [], "uploads": []}
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _save(folder: Path, state: dict[str, Any]) -> None:
    tmp = folder / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, folder / "state.json")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[dict[str, Any]]:
    """The repository's state, held under a lock and saved when the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = _load(folder)
        try:
            yield state
        finally:  # an answer that is an error may still have changed state (a broken upload)
            _save(folder, state)


def _immutable_repo(folder: Path) -> bool:
    settings = folder / "settings.json"
    return settings.is_file() and bool(json.loads(settings.read_text()).get("immutable_releases"))


# --- what the API answers ------------------------------------------------------


def _asset_json(repo: str, asset: dict[str, Any]) -> dict[str, Any]:
    return {**asset, "url": f"https://api.github.com/repos/{repo}/releases/assets/{asset['id']}",
            "browser_download_url": f"https://github.com/{repo}/releases/download/{asset['tag']}/{asset['name']}"}


def _release_json(repo: str, release: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in release.items() if k != "assets"},
        "url": f"https://api.github.com/repos/{repo}/releases/{release['id']}",
        "html_url": f"https://github.com/{repo}/releases/tag/{release['tag_name']}",
        "upload_url": f"https://uploads.github.com/repos/{repo}/releases/{release['id']}/assets{{?name,label}}",
        "assets": [_asset_json(repo, a) for a in release["assets"]],
    }


def _find(state: dict[str, Any], release_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = next((r for r in state["releases"] if str(r["id"]) == release_id), None)
    if found is None:
        raise HttpError(404, "Not Found")
    return found


def _find_asset(state: dict[str, Any], asset_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for release in state["releases"]:
        for asset in release["assets"]:
            if str(asset["id"]) == asset_id:
                return release, asset
    raise HttpError(404, "Not Found")


def _page(items: list[Any], query: dict[str, list[str]]) -> list[Any]:
    per_page = min(int(query.get("per_page", ["30"])[0]), 100)
    page = max(int(query.get("page", ["1"])[0]), 1)
    return items[(page - 1) * per_page: page * per_page]


def handle(root: Path, request: Request) -> tuple[int, Any]:
    """(status, answer) of one `gh api` request; the answer is JSON data, or bytes."""
    url = urlsplit(request.endpoint)
    path, query = url.path.strip("/"), parse_qs(url.query)
    if url.netloc not in ("", "api.github.com", "uploads.github.com"):
        raise HttpError(404, "Not Found")
    match = re.fullmatch(r"repos/([^/]+/[^/]+)/releases(?:/(assets/)?(\d+))?(/assets)?", path)
    if match is None:
        raise HttpError(404, "Not Found")
    repo, is_asset, number, assets = match.groups()
    folder = repo_folder(root, repo)
    key = (request.method, bool(is_asset), number is not None, bool(assets))
    with _locked(folder) as state:
        if key == ("GET", False, False, False):
            return 200, _page([_release_json(repo, r) for r in reversed(state["releases"])], query)
        if key == ("POST", False, False, False):
            return 201, _create(state, repo, request.fields)
        if key in (("GET", False, True, False), ("PATCH", False, True, False)):
            release = _find(state, number)
            if request.method == "PATCH":
                _edit(release, request.fields, folder)
            return 200, _release_json(repo, release)
        if key == ("GET", False, True, True):
            return 200, _page([_asset_json(repo, a) for a in _find(state, number)["assets"]], query)
        if key == ("POST", False, True, True) and url.netloc == "uploads.github.com":
            return 201, _upload(state, folder, repo, _find(state, number), query, request.input)
        if key in (("GET", True, True, False), ("DELETE", True, True, False)):
            release, asset = _find_asset(state, number)
            if request.method == "DELETE":
                if release.get("immutable"):
                    raise HttpError(422, "Cannot delete assets of an immutable release.")
                release["assets"].remove(asset)
                (folder / "assets" / str(asset["id"])).unlink(missing_ok=True)
                return 204, None
            if request.accept == "application/octet-stream":
                return 200, (folder / "assets" / str(asset["id"])).read_bytes()
            return 200, _asset_json(repo, asset)
    raise HttpError(404, "Not Found")


def _create(state: dict[str, Any], repo: str, fields: dict[str, Any]) -> dict[str, Any]:
    tag = fields.get("tag_name")
    if not isinstance(tag, str) or not tag:
        raise HttpError(422, "Validation Failed",
                        {"message": "Validation Failed", "errors": [{"resource": "Release", "code": "missing_field",
                                                                    "field": "tag_name"}]})
    draft = fields.get("draft") is True
    if not draft and any(r["tag_name"] == tag and not r["draft"] for r in state["releases"]):
        raise HttpError(422, "Validation Failed",
                        {"message": "Validation Failed", "errors": [{"resource": "Release", "code": "already_exists",
                                                                    "field": "tag_name"}]})
    release = {"id": state["next_id"], "tag_name": tag, "name": str(fields.get("name") or tag), "draft": draft,
               "prerelease": fields.get("prerelease") is True, "immutable": False, "assets": []}
    state["next_id"] += 1
    state["releases"].append(release)
    return _release_json(repo, release)


def _edit(release: dict[str, Any], fields: dict[str, Any], folder: Path) -> None:
    unknown = set(fields) - {"draft", "name", "prerelease"}
    if unknown:
        raise HttpError(422, f"the stand-in does not edit {', '.join(sorted(unknown))}")
    if fields.get("draft") is True and not release["draft"]:
        if release.get("immutable"):
            raise HttpError(422, "Cannot change an immutable release back to a draft.")
    if "draft" in fields:
        release["draft"] = fields["draft"] is True
    for key in ("name", "prerelease"):
        if key in fields:
            release[key] = fields[key]
    if not release["draft"] and _immutable_repo(folder):
        release["immutable"] = True


def _upload(state: dict[str, Any], folder: Path, repo: str, release: dict[str, Any], query: dict[str, list[str]],
            source: Path | None) -> dict[str, Any]:
    name = query.get("name", [""])[0]
    if source is None or not ASSET_NAME.fullmatch(name):
        raise HttpError(422, "Bad Content-Length or name")
    if release.get("immutable"):
        raise HttpError(422, IMMUTABLE_MESSAGE)
    if any(a["name"] == name for a in release["assets"]):
        raise HttpError(422, "Validation Failed",
                        {"message": "Validation Failed", "errors": [{"resource": "ReleaseAsset",
                                                                    "code": "already_exists", "field": "name"}]})
    asset: dict[str, Any] = {"id": state["next_id"], "name": name, "tag": release["tag_name"],
                             "content_type": "application/octet-stream", "label": None}
    state["next_id"] += 1
    (folder / "assets").mkdir(exist_ok=True)
    fail_after = os.environ.get(FAIL_AFTER_ENV)
    if fail_after is not None and len(state["uploads"]) >= int(fail_after):
        release["assets"].append({**asset, "size": 0, "state": "open", "digest": None})
        raise HttpError(502, "Server Error")
    target = folder / "assets" / str(asset["id"])
    shutil.copyfile(source, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    asset.update(size=target.stat().st_size, state="uploaded", digest=f"sha256:{digest}")
    release["assets"].append(asset)
    state["uploads"].append(name)
    return _asset_json(repo, asset)


# --- the command line, as gh parses it ---------------------------------------------


def _value(raw: str) -> Any:
    """`-F` values as gh types them: true, false, null, integers; else a string."""
    typed = {"true": True, "false": False, "null": None}
    if raw in typed:
        return typed[raw]
    return int(raw) if re.fullmatch(r"-?\d+", raw) else raw


def parse(argv: list[str]) -> Request:
    """A `gh api` command line; raises ValueError for anything outside the subset."""
    if not argv or argv[0] != "api":
        raise ValueError("only `gh api` is implemented by this stand-in")
    method, endpoint, fields, source, accept = "", "", {}, None, "application/vnd.github+json"
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-X", "--method"):
            method = next(args).upper()
        elif arg in ("-H", "--header"):
            header, _, value = next(args).partition(":")
            if header.strip().lower() == "accept":
                accept = value.strip()
        elif arg in ("-f", "--raw-field", "-F", "--field"):
            key, _, value = next(args).partition("=")
            fields[key] = value if arg in ("-f", "--raw-field") else _value(value)
        elif arg == "--input":
            source = Path(next(args))
        elif arg.startswith("-"):
            raise ValueError(f"the stand-in does not implement {arg}")
        elif endpoint:
            raise ValueError(f"unexpected argument {arg!r}")
        else:
            endpoint = arg
    if not endpoint:
        raise ValueError("no endpoint given")
    return Request(method or ("POST" if fields or source else "GET"), endpoint, fields, source, accept)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not (os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")):
        print("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.",
              file=sys.stderr)
        return 4
    folder = os.environ.get(FOLDER_ENV)
    if not folder:
        print(f"gh stand-in: set {FOLDER_ENV} to the folder that holds the releases", file=sys.stderr)
        return 2
    try:
        request = parse(args)
        if request.method == "GET" and request.fields:
            raise ValueError("the stand-in takes no fields on GET; put them in the endpoint's query")
    except (ValueError, StopIteration) as exc:
        print(f"gh stand-in: {exc or 'an option lacks its value'}", file=sys.stderr)
        return 2
    try:
        status, answer = handle(Path(folder), request)
    except HttpError as exc:
        print(json.dumps(exc.body))
        print(f"gh: {exc.message} (HTTP {exc.status})", file=sys.stderr)
        return 1
    if isinstance(answer, bytes):
        sys.stdout.buffer.write(answer)
    elif status != 204:
        print(json.dumps(answer))
    return 0


def write_shim(bin_folder: Path, releases_folder: Path) -> Path:
    """A `gh` executable in `bin_folder` that runs this stand-in over `releases_folder`
    (unless the environment names another), with this interpreter and this wheelship."""
    bin_folder.mkdir(parents=True, exist_ok=True)
    shim = bin_folder / "gh"
    source = Path(__file__).resolve().parent.parent
    shim.write_text(
        "#!/bin/sh\n"
        "# wheelship's gh stand-in (pipeline/ghstandin.py): GitHub Releases kept in a folder\n"
        f': "${{{FOLDER_ENV}:={releases_folder.resolve()}}}"\n'
        f"export {FOLDER_ENV}\n"
        f'PYTHONPATH="{source}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" -m pipeline.ghstandin "$@"\n'
    )
    shim.chmod(0o755)
    return shim


if __name__ == "__main__":
    sys.exit(main())
