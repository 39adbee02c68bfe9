"""The tag's GitHub Release made complete, against the `gh` stand-in through a real `gh` shim.

Every call goes the production way: `GhCli` runs the `gh` executable (here the stand-in's
shim) with the token in its environment; the stand-in keeps releases in a folder with
GitHub's semantics (drafts, digests, immutable releases).
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest

from pipeline import ghstandin
from pipeline.errors import PublishFailed, UsageError
from pipeline.ghrelease import GhCli, complete_release
from pipeline.records import sha256_of
from pipeline.spec import PublishPolicy

REPO, TAG = "octo/demo", "v1.0.0"
TOKEN = "ghs_" + "T0kenThatMustNeverShow" * 2
FAST = PublishPolicy(attempts=1, max_wait=0.01)


@pytest.fixture
def gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[GhCli, Path]:
    releases = tmp_path / "releases"
    shim = ghstandin.write_shim(tmp_path / "bin", releases)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv(ghstandin.FOLDER_ENV, raising=False)
    monkeypatch.delenv(ghstandin.FAIL_AFTER_ENV, raising=False)
    return GhCli(str(shim)), releases


def assets(tmp_path: Path, names: dict[str, bytes]) -> list[Path]:
    folder = tmp_path / "dist"
    folder.mkdir(exist_ok=True)
    for name, data in names.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in names]


FILES = {"demo-1.0.0-py3-none-any.whl": b"wheel bytes", "demo-1.0.0.tar.gz": b"sdist bytes",
         "SHA256SUMS": b"sums", "demo-1.0.0.cdx.json": b"{}"}


def the_release(releases: Path) -> dict:
    (release,) = ghstandin.releases(releases, REPO)
    return release


def test_a_fresh_tag_gets_a_published_release_holding_every_asset_by_digest(gh, tmp_path) -> None:
    cli, releases = gh
    files = assets(tmp_path, FILES)
    summary = complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)
    assert summary.tag == TAG and summary.draft is False
    assert summary.to_json()["assets"] == [{"name": p.name, "sha256": sha256_of(p), "outcome": "uploaded"}
                                           for p in sorted(files)]
    release = the_release(releases)
    assert release["draft"] is False and release["tag_name"] == TAG
    assert {a["name"]: a["digest"] for a in release["assets"]} == {p.name: f"sha256:{sha256_of(p)}" for p in files}
    again = complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)
    assert {a.outcome for a in again.assets} == {"already present"}
    assert sorted(ghstandin.upload_log(releases, REPO)) == sorted(FILES)
    assert json.loads(json.dumps(again.to_json()))["assets"][0]["outcome"] == "already present"


def test_a_release_that_fails_half_way_stays_a_draft_and_a_rerun_finishes_it(gh, tmp_path, monkeypatch) -> None:
    cli, releases = gh
    files = assets(tmp_path, FILES)
    monkeypatch.setenv(ghstandin.FAIL_AFTER_ENV, "2")
    with pytest.raises(PublishFailed, match=r"uploading .* did not succeed after 1 attempts"):
        complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)
    half = the_release(releases)
    assert half["draft"] is True  # never public half-filled
    assert sorted(a["state"] for a in half["assets"]) == ["open", "uploaded", "uploaded"]
    monkeypatch.delenv(ghstandin.FAIL_AFTER_ENV)
    summary = complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)
    assert summary.draft is False
    assert sorted(a.outcome for a in summary.assets) == ["already present"] * 2 + ["uploaded"] * 2
    log = ghstandin.upload_log(releases, REPO)
    assert sorted(log) == sorted(FILES)  # each asset uploaded exactly once over both runs
    done = the_release(releases)
    assert done["draft"] is False and {a["state"] for a in done["assets"]} == {"uploaded"}
    assert len(done["assets"]) == len(FILES)


def test_an_asset_that_differs_is_an_error_naming_it_and_is_never_replaced(gh, tmp_path, monkeypatch) -> None:
    cli, releases = gh
    monkeypatch.setenv(ghstandin.FAIL_AFTER_ENV, "1")
    first = assets(tmp_path, {"demo-1.0.0-py3-none-any.whl": b"the first wheel", "demo-1.0.0.tar.gz": b"sdist"})
    with pytest.raises(PublishFailed):  # the wheel is in the draft, the sdist left half-uploaded
        complete_release(TAG, first, repo=REPO, github=cli, policy=FAST)
    monkeypatch.delenv(ghstandin.FAIL_AFTER_ENV)
    before = the_release(releases)
    changed = assets(tmp_path, {"demo-1.0.0-py3-none-any.whl": b"another wheel", "demo-1.0.0.tar.gz": b"sdist"})
    with pytest.raises(PublishFailed) as caught:
        complete_release(TAG, changed, repo=REPO, github=cli, policy=FAST)
    message = caught.value.message
    assert "demo-1.0.0-py3-none-any.whl" in message and sha256_of(changed[0]) in message
    assert "None was replaced" in message and "tar.gz" not in message
    after = the_release(releases)
    assert after["draft"] is True and after["assets"] == before["assets"]  # nothing replaced, nothing uploaded
    assert ghstandin.upload_log(releases, REPO) == ["demo-1.0.0-py3-none-any.whl"]


def test_a_published_release_keeps_its_assets_and_gets_the_missing_ones(gh, tmp_path) -> None:
    cli, releases = gh
    sdist, wheel = assets(tmp_path, {"demo-1.0.0.tar.gz": b"sdist", "demo-1.0.0-py3-none-any.whl": b"wheel"})
    complete_release(TAG, [sdist], repo=REPO, github=cli, policy=FAST)  # the maintainer's release, published
    summary = complete_release(TAG, [sdist, wheel], repo=REPO, github=cli, policy=FAST)
    assert {a.name: a.outcome for a in summary.assets} == {sdist.name: "already present", wheel.name: "uploaded"}
    release = the_release(releases)
    assert release["draft"] is False and sorted(a["name"] for a in release["assets"]) == sorted([sdist.name,
                                                                                                 wheel.name])


def test_a_published_immutable_release_refuses_a_missing_asset_and_says_so(gh, tmp_path) -> None:
    cli, releases = gh
    ghstandin.configure(releases, REPO, immutable_releases=True)
    sdist, wheel = assets(tmp_path, {"demo-1.0.0.tar.gz": b"sdist", "demo-1.0.0-py3-none-any.whl": b"wheel"})
    complete_release(TAG, [sdist], repo=REPO, github=cli, policy=FAST)
    assert the_release(releases)["immutable"] is True
    with pytest.raises(PublishFailed, match=f"published and immutable, and lacks {wheel.name}: GitHub adds no assets"):
        complete_release(TAG, [sdist, wheel], repo=REPO, github=cli, policy=FAST)
    assert complete_release(TAG, [sdist], repo=REPO, github=cli, policy=FAST).assets[0].outcome == "already present"
    # the stand-in refuses as GitHub does, whoever asks
    release = the_release(releases)
    upload = release["upload_url"].split("{")[0] + f"?name={wheel.name}"
    refused = subprocess.run([cli.gh, "api", "--method", "POST", upload, "--input", str(wheel)],
                             capture_output=True, text=True, env={"GH_TOKEN": "x", "PATH": "/usr/bin:/bin"})
    assert refused.returncode == 1 and ghstandin.IMMUTABLE_MESSAGE in refused.stderr


def test_an_immutable_repository_still_gets_a_complete_release_through_the_draft(gh, tmp_path) -> None:
    cli, releases = gh
    ghstandin.configure(releases, REPO, immutable_releases=True)
    files = assets(tmp_path, FILES)
    summary = complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)
    release = the_release(releases)
    assert summary.draft is False and release["immutable"] is True and len(release["assets"]) == len(FILES)


def test_an_asset_older_than_digests_is_compared_by_its_bytes(gh, tmp_path) -> None:
    cli, releases = gh
    sdist, wheel = assets(tmp_path, {"demo-1.0.0.tar.gz": b"sdist", "demo-1.0.0-py3-none-any.whl": b"wheel"})
    complete_release(TAG, [sdist, wheel], repo=REPO, github=cli, policy=FAST)
    state_file = releases / REPO / "state.json"
    state = json.loads(state_file.read_text())
    for asset in state["releases"][0]["assets"]:
        asset["digest"] = None  # uploaded before GitHub computed digests
    state_file.write_text(json.dumps(state))
    same = complete_release(TAG, [sdist, wheel], repo=REPO, github=cli, policy=FAST)
    assert {a.outcome for a in same.assets} == {"already present"}
    wheel.write_bytes(b"WHEEL")  # the same size, other bytes: only the download tells
    with pytest.raises(PublishFailed, match=f"{wheel.name} \\(the release's sha256 "):
        complete_release(TAG, [sdist, wheel], repo=REPO, github=cli, policy=FAST)


def test_the_token_reaches_gh_only_and_never_a_message_or_a_log(gh, tmp_path, caplog, monkeypatch) -> None:
    cli, releases = gh
    caplog.set_level(logging.DEBUG)
    files = assets(tmp_path, {"demo-1.0.0.tar.gz": b"sdist"})
    monkeypatch.setenv(ghstandin.FAIL_AFTER_ENV, "0")
    with pytest.raises(PublishFailed) as caught:
        complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)
    assert TOKEN not in caught.value.message + str(caught.value.hint) and TOKEN not in caplog.text
    assert TOKEN not in (releases / REPO / "state.json").read_text()
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(UsageError, match="GITHUB_TOKEN"):
        complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)


@pytest.mark.parametrize(("tag", "repo", "name"), [("v1 0", REPO, "a.whl"), (TAG, "../x", "a.whl"),
                                                     (TAG, REPO, ".hidden")])
def test_a_tag_repository_or_asset_name_that_is_not_plain_is_refused_before_any_call(gh, tmp_path, tag, repo,
                                                                                     name) -> None:
    cli, releases = gh
    path = tmp_path / "dist" / name
    path.parent.mkdir()
    path.write_bytes(b"x")
    with pytest.raises(UsageError, match=r"is not a|plain file names"):
        complete_release(tag, [path], repo=repo, github=cli, policy=FAST)
    assert not releases.exists()


def test_an_asset_name_with_a_local_version_reaches_github_as_it_is(gh, tmp_path) -> None:
    cli, releases = gh
    files = assets(tmp_path, {"demo-1.0+local-py3-none-any.whl": b"local wheel"})
    complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)
    assert [a["name"] for a in the_release(releases)["assets"]] == ["demo-1.0+local-py3-none-any.whl"]
    again = complete_release(TAG, files, repo=REPO, github=cli, policy=FAST)  # a rerun finds it by its name
    assert {a.outcome for a in again.assets} == {"already present"}
