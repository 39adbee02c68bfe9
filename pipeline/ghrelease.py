"""The tag's GitHub Release, made complete: every asset there, by digest, then published.

`complete_release` finds the release of a tag (drafts included), creates it as a draft
when there is none, uploads each asset it lacks, compares the assets already there by
GitHub's ``digest`` (``sha256:<hex>``), and publishes the draft last, so a release is
never public half-filled, and repositories with immutable releases (which take assets
only while a release is a draft) work. An asset that differs from the local file is an
error naming it: it is never replaced. A release the maintainer already published is
left as it is, except that missing assets are added where GitHub allows (an immutable
release refuses them: the error says so). Rerunning after any failure finishes the
work; nothing is uploaded twice, because each upload first looks for the asset.

An asset uploaded before GitHub computed digests (June 2025) has none: when its size is
the local file's, it is downloaded and hashed (bounded by that size); a different size
already means a different file.

Every call goes through `GitHub`, a small seam over ``gh api`` (`GhCli`), which the
runners have; the token is the job's ``GITHUB_TOKEN`` (``GH_TOKEN`` if set), handed to
gh in its environment and never logged. `pipeline.ghstandin` is the rehearsal's `gh`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from pipeline import retry
from pipeline.errors import PublishFailed, UsageError
from pipeline.records import sha256_of
from pipeline.redaction import redact, register_secret, shorten
from pipeline.spec import PublishPolicy
from pipeline.validation import TAG

log = logging.getLogger(__name__)

REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
ASSET_NAME = re.compile(r"(?!\.)[^/\\\x00-\x1f\x7f]{1,255}")
PER_PAGE = 100
#: What gh prints for a failure worth another try: 5xx, 429, a secondary rate limit, the network.
TRANSIENT = re.compile(r"HTTP (5\d\d|429)|secondary rate limit|error connecting|connection reset|timeout|"
                       r"TLS handshake|unexpected EOF", re.I)
IMMUTABLE = re.compile(r"immutable release", re.I)


class GhError(Exception):
    """A `gh api` call that failed; `text` is gh's message and the answer, secrets masked."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class GitHub(Protocol):
    """The REST calls a release needs, as ``gh api`` makes them."""

    def api(self, method: str, endpoint: str, *, fields: Mapping[str, str | bool] | None = None,
            upload: Path | None = None, accept: str | None = None) -> bytes:
        """The answer's body. Raises `GhError` for an error answer, `retry.Transient` for
        one worth another try."""
        ...


class GhCli:
    """`GitHub` through the `gh` CLI, with the job's token in its environment only."""

    def __init__(self, gh: str = "gh", *, timeout: float = 300.0) -> None:
        self.gh, self.timeout = gh, timeout

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        token = env.get("GH_TOKEN") or env.get("GITHUB_TOKEN")
        if not token:
            raise UsageError("no GitHub token for the release: GITHUB_TOKEN (or GH_TOKEN) is not set",
                             hint="give the publish job `contents: write` and pass "
                                  "GITHUB_TOKEN: ${{ github.token }} in its env")
        register_secret(token)
        env["GH_TOKEN"] = token
        env.setdefault("GH_PROMPT_DISABLED", "1")
        return env

    def api(self, method: str, endpoint: str, *, fields: Mapping[str, str | bool] | None = None,
            upload: Path | None = None, accept: str | None = None) -> bytes:
        command = [self.gh, "api", "--method", method, endpoint, "-H", f"Accept: {accept or 'application/vnd.github+json'}"]
        for key, value in (fields or {}).items():
            command += ["-F", f"{key}={str(value).lower()}"] if isinstance(value, bool) else ["-f", f"{key}={value}"]
        if upload is not None:
            command += ["-H", "Content-Type: application/octet-stream", "--input", str(upload)]
        try:
            done = subprocess.run(command, capture_output=True, env=self._env(), timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise UsageError(f"`{self.gh}` (the GitHub CLI) is not installed here",
                             hint="GitHub's runners have it; elsewhere install gh, or set "
                                  "[github-release] enabled = false") from None
        except subprocess.TimeoutExpired:
            raise retry.Transient(f"gh api {method} {endpoint} took over {self.timeout:.0f} seconds") from None
        if done.returncode == 0:
            return done.stdout
        text = redact(" ".join(part for part in (done.stderr.decode(errors="replace").strip(),
                                                 done.stdout.decode(errors="replace").strip()) if part))
        if TRANSIENT.search(text):
            raise retry.Transient(f"gh api {method} {endpoint}: {shorten(text, 500)}")
        raise GhError(shorten(text, 2000))


@dataclass(frozen=True, kw_only=True)
class ReleaseAsset:
    """One asset of the release, as the summary shows it."""

    name: str
    sha256: str
    outcome: str  # "uploaded" | "already present"


@dataclass(frozen=True, kw_only=True)
class ReleaseSummary:
    """The tag's GitHub Release after `complete_release`: what the report shows."""

    tag: str
    draft: bool
    url: str
    assets: tuple[ReleaseAsset, ...]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "assets": [asdict(a) for a in self.assets]}


class _Release:
    """The calls on one repository's releases, each under the retry policy."""

    def __init__(self, github: GitHub, repo: str, policy: PublishPolicy) -> None:
        self.github, self.repo, self.policy = github, repo, policy

    def call(self, what: str, method: str, endpoint: str, **kwargs: Any) -> bytes:
        try:
            return retry.call(self.policy, what, functools.partial(self.github.api, method, endpoint, **kwargs),
                              server="GitHub's API")
        except GhError as exc:
            raise PublishFailed(f"{what} failed: {exc.text}",
                                hint="the message above is GitHub's; fix what it names and run the same step again: "
                                     "it finishes the release and uploads nothing twice") from None

    def json(self, what: str, method: str, endpoint: str, **kwargs: Any) -> Any:
        raw = self.call(what, method, endpoint, **kwargs)
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:
            raise PublishFailed(f"{what}: GitHub's answer is not JSON ({shorten(raw.decode(errors='replace'), 200)})",
                                hint="run the same step again") from None

    def pages(self, what: str, endpoint: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            items = self.json(what, "GET", f"{endpoint}?per_page={PER_PAGE}&page={page}")
            if not isinstance(items, list):
                raise PublishFailed(f"{what}: GitHub's answer is not a list", hint="run the same step again")
            found += [i for i in items if isinstance(i, dict)]
            if len(items) < PER_PAGE:
                return found
            page += 1

    def find(self, tag: str) -> dict[str, Any] | None:
        """The tag's release: the published one, else the oldest draft (a draft has no tag yet,
        so GitHub's releases/tags/TAG does not find it; listing does)."""
        matching = [r for r in self.pages(f"listing the releases of {self.repo}", f"repos/{self.repo}/releases")
                    if r.get("tag_name") == tag]
        published = [r for r in matching if r.get("draft") is False]
        chosen = published or sorted((r for r in matching if r.get("draft") is True), key=lambda r: int(r["id"]))
        return chosen[0] if chosen else None

    def assets(self, release: dict[str, Any]) -> dict[str, dict[str, Any]]:
        items = self.pages(f"listing the assets of release {release['tag_name']}",
                           f"repos/{self.repo}/releases/{int(release['id'])}/assets")
        return {str(a.get("name")): a for a in items}


def complete_release(tag: str, files: Sequence[Path], *, repo: str, github: GitHub | None = None,
                     prerelease: bool = False, policy: PublishPolicy | None = None) -> ReleaseSummary:
    """Make the GitHub Release of `tag` in `repo` (``owner/name``) hold every file of `files`,
    then publish it if it is a draft. Returns what the release holds of them.

    Raises `PublishFailed` naming every asset whose bytes differ from the local file (none
    is replaced, nothing is uploaded, the draft stays a draft), and when a published
    immutable release lacks an asset (GitHub refuses new assets there). Raises
    `UsageError` for a repository, tag or file name that is not plain, or no token.
    """
    _check_inputs(tag, files, repo)
    local = {p.name: (p, sha256_of(p)) for p in files}
    api = _Release(github or GhCli(), repo, policy or PublishPolicy())
    release = api.find(tag)
    if release is None:
        log.info("creating the GitHub Release of %s as a draft", tag)
        release = api.json(f"creating the draft release of {tag}", "POST", f"repos/{repo}/releases",
                           fields={"tag_name": tag, "name": tag, "draft": True, "prerelease": prerelease})
    assert isinstance(release, dict)
    present = api.assets(release)
    _refuse_differing(api, release, present, local)
    missing = [name for name in sorted(local) if name not in present or present[name].get("state") != "uploaded"]
    if missing and release.get("draft") is False and release.get("immutable") is True:
        raise PublishFailed(
            f"the GitHub Release of {tag} is published and immutable, and lacks {', '.join(missing)}: "
            "GitHub adds no assets to an immutable release",
            hint="attach them to a new release, or leave them out; wheelship only adds assets to a draft there")
    outcomes = {name: "already present" for name in local if name not in missing}
    for name in missing:
        path, sha256 = local[name]
        outcomes[name] = _ensure_asset(api, release, name, path, sha256)
    if release.get("draft") is True:
        log.info("publishing the GitHub Release of %s", tag)
        release = api.json(f"publishing the release of {tag}", "PATCH",
                           f"repos/{repo}/releases/{int(release['id'])}", fields={"draft": False})
    assert isinstance(release, dict)
    return ReleaseSummary(tag=tag, draft=bool(release.get("draft")), url=str(release.get("html_url", "")),
                          assets=tuple(ReleaseAsset(name=n, sha256=local[n][1], outcome=outcomes[n])
                                       for n in sorted(local)))


def _check_inputs(tag: str, files: Sequence[Path], repo: str) -> None:
    if not REPOSITORY.fullmatch(repo) or ".." in repo:
        raise UsageError(f"{repo!r} is not a GitHub repository", hint="name it owner/name, as GITHUB_REPOSITORY does")
    if not tag or not TAG.fullmatch(tag):
        raise UsageError(f"{tag!r} is not a git tag", hint="a GitHub Release needs the release's tag, such as v1.2.0")
    names = [p.name for p in files]
    bad = [n for n in names if not ASSET_NAME.fullmatch(n)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if bad or twice:
        raise UsageError(f"release assets must be distinct plain file names: {', '.join(map(repr, bad + twice))}",
                         hint="pass each file once")


def _refuse_differing(api: _Release, release: dict[str, Any], present: Mapping[str, dict[str, Any]],
                      local: Mapping[str, tuple[Path, str]]) -> None:
    """Raise `PublishFailed` naming every complete asset whose bytes are not the local file's."""
    differing = []
    for name, (path, sha256) in sorted(local.items()):
        asset = present.get(name)
        if asset is None or asset.get("state") != "uploaded":
            continue
        theirs = _asset_sha256(api, asset, path.stat().st_size)
        if theirs != sha256:
            differing.append(f"{name} (the release's sha256 {theirs or 'differs in size'}, "
                             f"the run's {sha256})")
    if differing:
        raise PublishFailed(
            f"the GitHub Release of {release.get('tag_name')} holds assets that differ from this run's files: "
            f"{'; '.join(differing)}. None was replaced and nothing was uploaded",
            hint="someone uploaded other bytes under these names; find out why, then delete those assets "
                 "by hand (wheelship never replaces one) and run the step again")


def _asset_sha256(api: _Release, asset: Mapping[str, Any], size: int) -> str:
    """An asset's SHA-256 hex: GitHub's digest, else (an asset older than digests) its bytes
    hashed, read only when its size is the local file's; "" when the sizes differ."""
    digest = asset.get("digest")
    if isinstance(digest, str) and digest.startswith("sha256:"):
        return digest.removeprefix("sha256:").lower()
    if asset.get("size") != size:
        return ""
    body = api.call(f"downloading asset {asset.get('name')} (it has no digest)", "GET",
                    f"repos/{api.repo}/releases/assets/{int(asset['id'])}", accept="application/octet-stream")
    return hashlib.sha256(body[: size + 1]).hexdigest()


def _ensure_asset(api: _Release, release: dict[str, Any], name: str, path: Path, sha256: str) -> str:
    """Upload one asset unless it is there already; each try (under the retry policy) looks
    first, so a try that reached GitHub before its answer was lost is not sent again. An
    asset left half-uploaded (state ``open``) by an earlier failure is deleted first."""
    upload_url = str(release.get("upload_url", "")).split("{", 1)[0]
    outcome = "already present"

    def attempt() -> None:
        nonlocal outcome
        there = api.assets(release).get(name)
        if there is not None and there.get("state") == "uploaded":
            if _asset_sha256(api, there, path.stat().st_size) != sha256:
                raise PublishFailed(f"asset {name} of the GitHub Release of {release.get('tag_name')} appeared with "
                                    "other bytes while this step ran; it was not replaced",
                                    hint="another job uploads to the same release; run this step again once it ends")
            return
        if there is not None:
            log.info("deleting %s, left half-uploaded by an earlier try", name)
            api.github.api("DELETE", f"repos/{api.repo}/releases/assets/{int(there['id'])}")
        log.info("uploading %s to the GitHub Release of %s", name, release.get("tag_name"))
        try:
            api.github.api("POST", f"{upload_url}?name={quote(name, safe='')}", upload=path)
        except GhError as exc:
            if IMMUTABLE.search(exc.text):
                raise PublishFailed(
                    f"GitHub refuses {name}: the release of {release.get('tag_name')} is immutable ({exc.text})",
                    hint="on a repository with immutable releases assets are added only while a release is a "
                         "draft; attach it to a new release, or leave it out") from None
            raise
        outcome = "uploaded"

    if not upload_url.startswith("https://"):
        raise PublishFailed(f"the release of {release.get('tag_name')} has no upload URL", hint="run the step again")
    try:
        retry.call(api.policy, f"uploading {name} to the GitHub Release", attempt, server="GitHub's API")
    except GhError as exc:
        raise PublishFailed(f"uploading {name} to the GitHub Release failed: {exc.text}",
                            hint="the message above is GitHub's; fix what it names and run the same step again: "
                                 "it finishes the release and uploads nothing twice") from None
    return outcome
