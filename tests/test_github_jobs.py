"""The release workflow's jobs, event by event, as GitHub runs them: project code only
in jobs without credentials, the run passed on as artifacts (folder stores), the tag's
commit checked and recorded, and only the publish job touching S3 and the index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.runs import Runs
from pipeline.stores import open_store
from tests.conftest import BUILDSPECS, PROJECTS, copy_project, index_files, run_subprocess

pytestmark = pytest.mark.integration

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@invalid", "-c", "init.defaultBranch=main"]


def _git(folder: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=folder, check=True, capture_output=True, text=True).stdout.strip()


def _repository(tmp_path: Path) -> Path:
    """The cibw-subset project as a git repository tagged v0.2.0."""
    repo = tmp_path / "repo"
    shutil.copytree(PROJECTS / "cibw-subset", repo)
    shutil.copy(BUILDSPECS / "cibw-subset.toml", repo / "wheelship.toml")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "release 0.2.0")
    _git(repo, "tag", "v0.2.0")
    return repo


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


class Runner:
    """One GitHub job: its own checkout of the repository at a commit, its own folder store."""

    def __init__(self, tmp_path: Path, repo: Path, base: dict[str, str]) -> None:
        self.tmp_path, self.repo, self.base = tmp_path, repo, base

    def job(self, name: str, *, ref: str | None, artifacts: tuple[Path, ...] = (), credentials: bool = False,
            env: dict[str, str] | None = None) -> tuple[Path, dict[str, str], Path]:
        folder = self.tmp_path / name
        checkout = folder / "checkout"
        if ref is None:  # the publish job checks nothing out
            checkout.mkdir(parents=True)
        else:
            subprocess.run(["git", "clone", "-q", str(self.repo), str(checkout)], check=True)
            _git(checkout, "checkout", "-q", ref)
        store = folder / "store"
        store.mkdir(parents=True, exist_ok=True)
        for artifact in artifacts:  # download-artifact with merge-multiple
            shutil.copytree(artifact, store, dirs_exist_ok=True)
        job_env = {k: v for k, v in self.base.items() if credentials or not k.startswith("AWS_")}
        job_env.update({"GITHUB_OUTPUT": str(folder / "output"), "GITHUB_STEP_SUMMARY": str(folder / "summary.md"),
                        "WHEELSHIP_STORE": f"file://{store}", **(env or {})})
        (folder / "output").touch()
        return checkout, job_env, store


@pytest.fixture
def github(sandbox_env, s3_store, tmp_path):  # type: ignore[no-untyped-def]
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/tags/v0.2.0"}))
    base = {**os.environ, "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": "push",
            "GITHUB_REF": "refs/tags/v0.2.0", "GITHUB_EVENT_PATH": str(event), "GITHUB_RUN_ID": "901",
            "GITHUB_RUN_ATTEMPT": "1", "WHEELSHIP_SLICES": "sdist,linux-x86_64"}
    return Runner(tmp_path, _repository(tmp_path), base), s3_store


def test_a_release_passes_the_run_as_artifacts_and_only_publish_holds_credentials(github, sandbox_env):
    runner, s3_store = github
    checkout, env, plan_store = runner.job("plan", ref="v0.2.0")
    planned = run_subprocess("plan", ".", env=env, cwd=checkout)
    assert planned.code == 0, planned.err
    out = _outputs(Path(env["GITHUB_OUTPUT"]))
    assert out["commit"] == _git(runner.repo, "rev-parse", "v0.2.0^{commit}")
    assert [m["slice"] for m in json.loads(out["wheel-matrix"])["include"]] == ["linux-x86_64"]
    ids = {"WHEELSHIP_RUN_ID": out["run-id"], "WHEELSHIP_PROJECT": out["project"], "WHEELSHIP_VERSION": out["version"]}

    # Project code: no AWS credential in reach, job inputs from WHEELSHIP_* variables only.
    checkout, env, sdist_store = runner.job("sdist", ref=out["commit"], artifacts=(plan_store,),
                                            env={**ids, "WHEELSHIP_SLICE": "sdist"})
    assert not any(k.startswith("AWS_") for k in env)
    assert run_subprocess("build", ".", env=env, cwd=checkout).code == 0
    checkout, env, wheel_store = runner.job("build-linux", ref=out["commit"], artifacts=(plan_store, sdist_store),
                                            env={**ids, "WHEELSHIP_SLICE": "linux-x86_64"})
    built = run_subprocess("build", ".", env=env, cwd=checkout)
    assert built.code == 0, built.err
    assert "building wheels from this run's stored sdist" in built.err

    # Unverified, a run is never published by a job that must not run project code.
    _, env, unverified = runner.job("too-early", ref=None, artifacts=(plan_store, sdist_store, wheel_store),
                                    credentials=True, env=ids)
    early = run_subprocess("publish", "--require-verified", env=env, cwd=unverified)
    assert early.code == 5 and "publish does not verify" in early.err
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()  # a failure shows in the job's summary too
    assert "❌ wheelship publish failed: wheelship-demo-subset 0.2.0" in summary and "(exit 5)" in summary
    assert index_files(sandbox_env, "pypi") == {}

    checkout, env, verified = runner.job("verify", ref=out["commit"], artifacts=(plan_store, sdist_store, wheel_store),
                                         env=ids)
    checked = run_subprocess("verify", "--project", ".", env=env, cwd=checkout)
    assert checked.code == 0, checked.err

    # The publish job: no checkout, the verified artifact, credentials; copy to S3, publish from there.
    _, env, _ = runner.job("publish", ref=None, artifacts=(verified,), credentials=True,
                           env={**ids, "WHEELSHIP_FROM_STORE": f"file://{verified}", "WHEELSHIP_STORE": s3_store,
                                "WHEELSHIP_DRY_RUN": "false"})
    copied = run_subprocess("copy", env=env, cwd=runner.tmp_path / "publish" / "checkout")
    assert copied.code == 0, copied.err
    assert "3 file(s) sent" in copied.err
    again = run_subprocess("copy", env=env, cwd=runner.tmp_path / "publish" / "checkout")
    assert again.code == 0 and "0 file(s) sent, 3 already there" in again.err
    report = runner.tmp_path / "report.json"
    published = run_subprocess("publish", "--require-verified", "--json", report, env=env,
                               cwd=runner.tmp_path / "publish" / "checkout")
    assert published.code == 0, published.err
    assert "verify: skipped" in published.err
    files = {f["name"]: f["sha256"] for f in json.loads(report.read_text())["files"]}
    assert index_files(sandbox_env, "pypi") == files and len(files) == 3
    state = Runs(open_store(s3_store), out["project"], out["version"]).read(out["run-id"])
    assert state.complete and state.verify and state.verify.ok and state.plan.commit == out["commit"]

    # The same tag again (a published release after the push): every file is on the index.
    checkout, env, _ = runner.job("plan-again", ref="v0.2.0")
    second = run_subprocess("plan", ".", env=env, cwd=checkout)
    assert second.code == 9, second.err
    assert "every planned file of wheelship-demo-subset 0.2.0 (3) is on pypi already" in second.err
    # Planned where the S3 store is in reach (a maintainer's machine), the published run says so first.
    checkout, env, _ = runner.job("plan-local", ref="v0.2.0", credentials=True, env={"WHEELSHIP_STORE": s3_store})
    local = run_subprocess("plan", ".", env=env, cwd=checkout)
    assert local.code == 9, local.err
    assert f"run {out['run-id']} already published tag v0.2.0 (commit {out['commit'][:12]}) to pypi" in local.err


def test_a_tag_that_names_another_commit_is_refused(github):
    runner, _ = github
    (runner.repo / "README.md").write_text("moved on\n")
    _git(runner.repo, "commit", "-qam", "main moves on")
    checkout, env, _ = runner.job("plan", ref="main")  # a dispatch that checked out the branch
    refused = run_subprocess("plan", ".", env=env, cwd=checkout)
    assert refused.code == 3, refused.err
    assert "tag v0.2.0 is commit" in refused.err and "but the checkout" in refused.err


def test_dry_runs_are_never_what_publish_or_fetch_take(sandbox_env, cli, tmp_path, monkeypatch):
    project = copy_project("purepkg", tmp_path)
    store = f"file://{tmp_path / 'store'}"
    monkeypatch.setenv("WHEELSHIP_STORE", store)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "schedule")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"schedule": "17 3 * * *"}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    spec = BUILDSPECS / "purepkg.toml"
    report = tmp_path / "nightly.json"
    nightly = cli("release", project, "--spec", spec, "--dry-run", "--json", report)
    assert nightly.code == 0, nightly.err
    for key in ("GITHUB_EVENT_NAME", "GITHUB_ACTIONS", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(key)
    name, version = "wheelship-demo-pure", json.loads(report.read_text())["version"]
    fetched = cli("fetch", name, version, "--spec", spec, "-o", tmp_path / "out", "--include-dry-runs")
    assert fetched.code == 8 and "only dry runs" in fetched.err and "no tag" in fetched.err
    published = cli("publish", name, version, "--spec", spec, "--include-dry-runs")
    assert published.code == 8 and "none is a tagged release" in published.err
    run_id = json.loads(next((tmp_path / "store").rglob("plan.json")).read_text())["run_id"]
    forced = cli("publish", name, version, "--spec", spec, "--run-id", run_id)
    assert forced.code == 2 and "is a schedule dry run of the branch head" in forced.err
    assert index_files(sandbox_env, "testpypi") == {} and index_files(sandbox_env, "pypi") == {}

    # A tagged rehearsal is taken only when asked; a tagged run for real is taken first.
    rehearsal = cli("release", project, "--spec", spec, "--tag", f"v{version}", "--dry-run")
    assert rehearsal.code == 0, rehearsal.err
    unasked = cli("publish", name, version, "--spec", spec)
    assert unasked.code == 8 and "--include-dry-runs" in unasked.err
    asked = cli("publish", name, version, "--spec", spec, "--include-dry-runs", "--dry-run")
    assert asked.code == 0 and "a dry run of tag" in asked.err
    real = cli("release", project, "--spec", spec, "--tag", f"v{version}")
    assert real.code == 0, real.err
    fetched = cli("fetch", name, version, "--spec", spec, "-o", tmp_path / "out2", "--include-dry-runs")
    assert fetched.code == 0 and "a dry run of tag" not in fetched.err

