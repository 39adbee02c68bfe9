"""`wheelship rehearse`: the example projects' own workflows, written by `wheelship init`,
run under act on this machine against the sandbox, event by event."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline import standins
from pipeline.rehearsal import act, github
from pipeline.workflows import init
from tests.conftest import BUILDSPECS, copy_project

pytestmark = pytest.mark.usefixtures("pinned_init")

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@invalid", "-c", "init.defaultBranch=main"]


def _git(folder: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=folder, check=True, capture_output=True, text=True).stdout.strip()


def _repository(tmp_path: Path, name: str, spec: str, tag: str, *, on_release: bool = False) -> Path:
    """An example project after `wheelship init`, committed and tagged, as a maintainer has it."""
    repo = copy_project(name, tmp_path)
    init(repo, on_release=on_release)
    (repo / "wheelship.toml").write_text((BUILDSPECS / spec).read_text())
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"release {tag}")
    _git(repo, "tag", tag)
    return repo


def _rehearse(cli, repo: Path, tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    report = tmp_path / "rehearsal.json"
    result = cli("rehearse", repo, "--json", report, *args)
    data = json.loads(report.read_text())
    return result, data, {job["name"]: job for job in data["jobs"]}


def _names(files: list[dict[str, str]]) -> set[str]:
    return {f["filename"] for f in files}


def _passed(jobs: dict[str, dict[str, str]]) -> list[str]:
    return [name for name, job in jobs.items() if job["status"] == "passed"]


#: The pure example's release at v1.0.0, and the jobs its workflow runs, in order.
PURE_FILES = {"wheelship_demo_pure-1.0.0.tar.gz", "wheelship_demo_pure-1.0.0-py3-none-any.whl"}
PURE_JOBS = ["route", "plan", "sdist", "build (pure)", "verify", "publish"]


def _assert_rehearsed_without_upload(result, data, jobs) -> None:  # type: ignore[no-untyped-def]
    """Every job of the pure release passed, its files are stored, and no index got any."""
    assert result.code == 0, result.err
    assert _passed(jobs) == PURE_JOBS
    assert data["published"] == []
    assert _names(data["stored"]) == PURE_FILES


@pytest.mark.integration
def test_a_tag_push_of_the_c_extension_runs_every_linux_job_and_publishes_what_was_rehearsed(cli, tmp_path):
    repo = _repository(tmp_path, "cext", "cext.toml", "v0.1.0rc1")
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "push")
    assert result.code == 0, result.err
    assert data["event"] == "push" and data["ref"] == "refs/tags/v0.1.0rc1"
    assert _passed(jobs) == ["route", "plan", "sdist", "build (linux-x86_64)", "verify", "publish"]
    # the matrix: this host's slice ran; the other runners' slices are listed with their command, never passed
    assert "cibuildwheel builder" in jobs["build (linux-x86_64)"]["note"]
    elsewhere = {name: job for name, job in jobs.items() if job["status"] == "not-rehearsable"}
    left_here = [name for name in elsewhere if name.startswith("build (wheels left out here")]
    assert len(left_here) == 1 and "cp39-musllinux_x86_64" in elsewhere[left_here[0]]["note"]
    assert set(elsewhere) - set(left_here) == {"build (linux-aarch64)", "build (macos-x86_64)", "build (macos-arm64)",
                                               "build (windows-AMD64)"}
    assert elsewhere["build (macos-arm64)"]["runner"] == "macos-latest"
    assert "WHEELSHIP_SLICE=macos-arm64 wheelship build ." in elsewhere["build (macos-arm64)"]["note"]
    # a pre-release goes to TestPyPI: exactly the sdist and the Linux wheels, the same bytes as the store keeps
    published = {f["filename"]: f["sha256"] for f in data["published"] if f["index"] == "testpypi"}
    assert not [f for f in data["published"] if f["index"] == "pypi"]
    assert "wheelship_demo_cext-0.1.0rc1.tar.gz" in published
    wheels = [n for n in published if n.endswith(".whl")]
    assert len(wheels) == 5 and all("manylinux" in n and "x86_64" in n for n in wheels)
    assert {f["filename"]: f["sha256"] for f in data["stored"]} == published
    assert "trusted publishing" in result.err and "sandbox" in result.err


#: How the sdist, build and verify jobs checked out before: the plan's commit, which
#: actions/checkout fetches shallow and without tags.
COMMIT_ONLY = "${{ needs.plan.outputs.commit }}"
TAG_OR_COMMIT = ("${{ inputs.tag && format('refs/tags/{0}', inputs.tag) || startsWith(github.ref, 'refs/tags/') "
                 "&& github.ref || needs.plan.outputs.commit }}")


@pytest.mark.integration
def test_a_tag_versioned_project_releases_only_when_every_checkout_holds_the_tag(cli, tmp_path):
    """hatch-vcs reads the version from the tag: with the old template the sdist job's
    shallow checkout of the commit has no tag, builds another version and stops (exit 3,
    saying so), as it would on GitHub; with init's workflow every file is the tag's."""
    repo = _repository(tmp_path, "scmpkg", "scmpkg.toml", "v1.0.0")
    (tmp_path / "new").mkdir()
    result, data, jobs = _rehearse(cli, repo, tmp_path / "new", "--event", "push")
    assert result.code == 0, result.err
    assert _passed(jobs) == ["route", "plan", "sdist", "build (pure)", "verify", "publish"]
    assert _names(data["published"]) == {"wheelship_demo_scm-1.0.0.tar.gz", "wheelship_demo_scm-1.0.0-py3-none-any.whl"}

    workflow = repo / ".github" / "workflows" / "wheelship-release.yml"
    old = workflow.read_text()
    assert old.count(TAG_OR_COMMIT) == 3
    workflow.write_text(old.replace(TAG_OR_COMMIT, COMMIT_ONLY))
    _git(repo, "commit", "-qam", "the old template")
    _git(repo, "tag", "-f", "v1.0.0")
    (tmp_path / "old").mkdir()
    result, data, jobs = _rehearse(cli, repo, tmp_path / "old", "--event", "push")
    assert result.code == 10
    assert jobs["sdist"]["status"] == "failed" and jobs["publish"]["status"] == "skipped"
    assert "version error: this checkout builds wheelship-demo-scm 0.1.dev" in jobs["sdist"]["note"], jobs["sdist"]["note"]
    assert "is 1.0.0 (tag v1.0.0)" in jobs["sdist"]["note"]
    assert "does not hold tag v1.0.0" in jobs["sdist"]["note"]


@pytest.mark.integration
def test_a_published_release_releases_the_tag_to_pypi(cli, tmp_path):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0", on_release=True)
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "release", "--tag", "v1.0.0")
    assert result.code == 0, result.err
    assert data["ref"] == "refs/tags/v1.0.0"
    assert {n: j["status"] for n, j in jobs.items()} == dict.fromkeys(PURE_JOBS, "passed")
    assert _names(data["published"]) == PURE_FILES and {f["index"] for f in data["published"]} == {"pypi"}
    assert _names(data["stored"]) == PURE_FILES


@pytest.mark.integration
def test_a_release_event_starts_nothing_in_a_workflow_without_the_release_trigger(cli, tmp_path):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "release")
    assert result.code == 0, result.err
    assert {j["status"] for j in jobs.values()} == {"skipped"}
    assert "no `release` trigger" in jobs["plan"]["note"]
    assert data["published"] == [] and data["stored"] == []


@pytest.mark.integration
def test_a_dispatch_dry_run_at_a_tag_builds_and_stores_but_uploads_nothing(cli, tmp_path):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "dispatch", "--tag", "v1.0.0",
                                   "--index", "testpypi", "--dry-run")
    _assert_rehearsed_without_upload(result, data, jobs)
    assert data["ref"] == "refs/heads/main"  # a dispatch starts on the branch; the checkout takes the tag


@pytest.mark.integration
def test_the_nightly_schedule_rehearses_the_declared_version_and_uploads_nothing(cli, tmp_path):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "schedule")
    _assert_rehearsed_without_upload(result, data, jobs)
    assert data["workflow"] == ".github/workflows/wheelship-dry-run.yml"


@pytest.mark.integration
def test_a_branch_push_builds_nothing(cli, tmp_path):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "branch")
    assert result.code == 0, result.err
    assert data["ref"] == "refs/heads/main"
    assert {j["status"] for j in jobs.values()} == {"skipped"}
    assert "push trigger filters tags only" in jobs["plan"]["note"]
    assert data["published"] == [] and data["stored"] == []


@pytest.mark.integration
def test_with_main_past_the_tag_a_dispatch_at_the_tag_publishes_the_tags_files(cli, tmp_path):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    init_py = repo / "src" / "purepkg" / "__init__.py"
    tagged_text = init_py.read_text()
    init_py.write_text(tagged_text.replace('__version__ = "1.0.0"', '__version__ = "1.1.0.dev0"')
                       + "\nLATER = True\n")
    _git(repo, "commit", "-q", "-am", "work after the release")
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "dispatch", "--tag", "v1.0.0")
    assert result.code == 0, result.err
    assert _passed(jobs) == PURE_JOBS
    assert _names(data["published"]) == PURE_FILES  # a final: PyPI
    assert {f["index"] for f in data["published"]} == {"pypi"}
    # built from the tag's commit, not main's (whose version is 1.1.0.dev0)
    assert data["commit"] == _git(repo, "rev-parse", "v1.0.0^{commit}") != _git(repo, "rev-parse", "HEAD")
    assert {f["sha256"] for f in data["published"]} == {f["sha256"] for f in data["stored"]}


def test_without_act_the_command_says_how_to_install_it(cli, tmp_path, monkeypatch):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    monkeypatch.setattr(act.shutil, "which", lambda *args, **kwargs: None)
    result = cli("rehearse", repo, "--event", "push")
    assert result.code == 2
    assert "`act` is not installed" in result.err and "pip install 'wheelship[rehearse]'" in result.err
    assert "Traceback" not in result.err


def test_bad_requests_are_usage_errors_before_anything_runs(cli, tmp_path):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    cases = [
        (["--event", "push", "--tag", "v9.9.9"], "tag v9.9.9 is not in"),
        (["--event", "push", "--dry-run"], "inputs of a manual dispatch"),
        (["--event", "schedule", "--index", "pypi"], "inputs of a manual dispatch"),
        (["--event", "push", "--workflow", str(repo / "nothing.yml")], "no workflow at"),
    ]
    for args, said in cases:
        result = cli("rehearse", repo, *args)
        assert result.code == 2 and said in result.err, (args, result.err)
    (repo / ".github" / "workflows" / "other.yml").write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: some/action@v1\n")
    result = cli("rehearse", repo, "--workflow", repo / ".github" / "workflows" / "other.yml")
    assert result.code == 2 and "some/action, which the rehearsal has no stand-in for" in result.err
    result = cli("rehearse", repo / "src", "--event", "push")
    assert result.code == 2 and "not the top folder of a git repository" in result.err


# --- triggers and stand-ins, without act ---------------------------------------------


def test_push_filters_follow_githubs_patterns():
    workflow = {"on": {"push": {"tags": ["v*", "[0-9]*"]}}, "jobs": {}}
    assert github.runs_on(workflow, "push", "refs/tags/v1.2.0") is None
    assert github.runs_on(workflow, "push", "refs/tags/1.2.0") is None
    assert "matches none" in (github.runs_on(workflow, "push", "refs/tags/release-1") or "")
    assert "filters tags only" in (github.runs_on(workflow, "branch", "refs/heads/main") or "")
    branches = {"on": {"push": {"branches": ["main", "releases/**"]}}, "jobs": {}}
    assert github.runs_on(branches, "branch", "refs/heads/releases/1/x") is None
    assert "filters branches only" in (github.runs_on(branches, "push", "refs/tags/v1") or "")
    assert github.runs_on({"on": "push", "jobs": {}}, "branch", "refs/heads/x") is None
    assert "no `schedule` trigger" in (github.runs_on({"on": ["push"], "jobs": {}}, "schedule", "") or "")


def _standin(monkeypatch, tmp_path: Path, verb: str, **inputs: str) -> int:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WHEELSHIP_REHEARSAL_DIR", str(tmp_path / "rehearsal"))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "workspace"))
    for _, names in standins.ACTIONS.values():
        for name in names:
            monkeypatch.delenv(standins.env_name(name), raising=False)
    for name, value in inputs.items():
        monkeypatch.setenv(standins.env_name(name.replace("_", "-")), value)
    return standins.main([verb])


def test_artifacts_keep_upload_artifacts_rules(monkeypatch, tmp_path, capsys):
    store = tmp_path / "workspace" / "store"
    (store / "runs" / "r1").mkdir(parents=True)
    (store / "runs" / "r1" / "plan.json").write_text("{}")
    (store / "runs" / "r1" / ".plan.json.tmp").write_text("partial")  # hidden: left out, as on GitHub
    (tmp_path / "rehearsal" / "artifacts").mkdir(parents=True)
    assert _standin(monkeypatch, tmp_path, "upload-artifact", name="wheelship-plan", path=str(store),
                    if_no_files_found="error") == 0
    kept = tmp_path / "rehearsal" / "artifacts" / "wheelship-plan"
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()) == ["runs/r1/plan.json"]
    # artifacts are immutable, and an empty upload with if-no-files-found: error fails
    assert _standin(monkeypatch, tmp_path, "upload-artifact", name="wheelship-plan", path=str(store)) == 1
    assert "409 Conflict" in capsys.readouterr().out
    assert _standin(monkeypatch, tmp_path, "upload-artifact", name="logs", path="nothing/*.log",
                    if_no_files_found="error") == 1
    assert _standin(monkeypatch, tmp_path, "upload-artifact", name="logs", path="nothing/*.log",
                    if_no_files_found="ignore") == 0
    (tmp_path / "workspace" / "other").mkdir()
    (tmp_path / "workspace" / "other" / "x.whl").write_text("w")
    assert _standin(monkeypatch, tmp_path, "upload-artifact", name="wheelship-slice-a",
                    path=str(tmp_path / "workspace" / "other")) == 0
    # a pattern with braces and merge-multiple: every match into one folder
    dest = tmp_path / "workspace" / "merged"
    assert _standin(monkeypatch, tmp_path, "download-artifact", pattern="wheelship-{plan,slice-*}", path=str(dest),
                    merge_multiple="true") == 0
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "runs/r1/plan.json", "x.whl"]
    # without merge-multiple, each artifact in a folder of its name; by name, straight into the path
    apart = tmp_path / "workspace" / "apart"
    assert _standin(monkeypatch, tmp_path, "download-artifact", pattern="wheelship-*", path=str(apart)) == 0
    assert sorted(p.name for p in apart.iterdir()) == ["wheelship-plan", "wheelship-slice-a"]
    assert _standin(monkeypatch, tmp_path, "download-artifact", name="missing", path=str(apart)) == 1
    assert "artifact not found: missing" in capsys.readouterr().out


def test_checkout_takes_the_ref_it_is_given(monkeypatch, tmp_path):
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    tagged = _git(repo, "rev-parse", "HEAD")
    (repo / "LATER").write_text("x")
    _git(repo, "add", "LATER")
    _git(repo, "commit", "-q", "-m", "later")
    (tmp_path / "rehearsal").mkdir()
    (tmp_path / "rehearsal" / "source").write_text(str(repo))
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "stale").write_text("from an earlier job")
    monkeypatch.delenv("GITHUB_REF", raising=False)
    assert _standin(monkeypatch, tmp_path, "checkout", ref="refs/tags/v1.0.0") == 0
    workspace = tmp_path / "workspace"
    assert _git(workspace, "rev-parse", "HEAD") == tagged
    assert not (workspace / "LATER").exists() and not (workspace / "stale").exists()
    assert _git(workspace, "rev-parse", "refs/tags/v1.0.0^{commit}") == tagged  # the tag is there to check
    monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
    assert _standin(monkeypatch, tmp_path, "checkout") == 0
    assert (workspace / "LATER").exists()
    assert _standin(monkeypatch, tmp_path, "checkout", ref="refs/tags/v7") == 1


def test_checkout_is_as_shallow_as_the_action(monkeypatch, tmp_path):
    """Depth 1 and no tags unless asked, as actions/checkout: a commit checked out by its
    SHA has no tag, so a version read from tags sees what it sees on GitHub."""
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    tagged = _git(repo, "rev-parse", "HEAD")
    (repo / "LATER").write_text("x")
    _git(repo, "add", "LATER")
    _git(repo, "commit", "-q", "-m", "later")
    (tmp_path / "rehearsal").mkdir()
    (tmp_path / "rehearsal" / "source").write_text(str(repo))
    (tmp_path / "workspace").mkdir()
    monkeypatch.delenv("GITHUB_REF", raising=False)
    workspace = tmp_path / "workspace"

    def checked_out(**inputs: str) -> tuple[str, int]:
        assert _standin(monkeypatch, tmp_path, "checkout", **inputs) == 0
        return _git(workspace, "tag", "--list"), int(_git(workspace, "rev-list", "--count", "HEAD"))

    assert checked_out(ref=tagged) == ("", 1)  # a commit: no tags, one commit
    assert checked_out(ref="refs/tags/v1.0.0") == ("v1.0.0", 1)  # a tag: that tag
    assert checked_out(ref="refs/heads/main") == ("", 1)
    assert checked_out(ref="refs/heads/main", **{"fetch-tags": "true"}) == ("v1.0.0", 1)
    assert checked_out(ref="refs/heads/main", **{"fetch-depth": "0"}) == ("v1.0.0", 2)


def test_only_jobs_with_id_token_write_get_the_identity_step(tmp_path):
    from pipeline.rehearsal import identity

    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    path = repo / ".github" / "workflows" / "wheelship-release.yml"
    workflow = github.read_workflow(path)
    assert identity.id_token_jobs(workflow) == ["publish"]
    assert identity.id_token_jobs({"permissions": "write-all", "jobs": {"a": {}, "b": {"permissions": {}}}}) == ["a"]
    assert identity.id_token_jobs({"permissions": {"id-token": "write"},
                                   "jobs": {"a": {}, "b": {"permissions": {"id-token": "none"}}}}) == ["a"]
    copy = identity.write_copy(path, ["publish"], tmp_path / "copy", f"{standins.OIDC_ACTION}@rehearsal")
    assert copy.name == path.name and copy.parent == tmp_path / "copy"
    rewritten = github.read_workflow(copy)
    assert rewritten["on"] == workflow["on"]
    for job_id, job in rewritten["jobs"].items():
        added = [s for s in job["steps"] if s.get("uses") == f"{standins.OIDC_ACTION}@rehearsal"]
        assert (job["steps"][0] in added) if job_id == "publish" else not added, job_id
        assert [s for s in job["steps"] if s not in added] == workflow["jobs"][job_id]["steps"]


def test_the_identity_stand_in_gives_the_identity_and_the_aws_one_only_the_store_keys(monkeypatch, tmp_path, capsys):
    import jwt

    from pipeline.attestations import TRUST_CONFIG_ENV
    from pipeline.signing_identity import IDENTITY_TOKEN_ENV

    folder = tmp_path / "rehearsal"
    folder.mkdir()
    (folder / "credentials.json").write_text(json.dumps({"AWS_ACCESS_KEY_ID": "key-id-x",
                                                         "AWS_SECRET_ACCESS_KEY": "secret-x"}))
    (folder / "identity.json").write_text(json.dumps({
        "repository": "rehearsal/purepkg", "workflow": "wheelship-release.yml", "ref": "refs/tags/v1.0.0",
        "trust_config": "/trust.json", "index_tokens": {"WHEELSHIP_SANDBOX_PYPI_TOKEN": "pypi-token-x"}}))
    github_env = tmp_path / "github_env"
    monkeypatch.setenv("GITHUB_ENV", str(github_env))
    monkeypatch.setenv("GITHUB_SHA", "a" * 40)
    assert _standin(monkeypatch, tmp_path, "aws", aws_region="eu-west-1") == 0
    given = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    assert given == {"AWS_ACCESS_KEY_ID": "key-id-x", "AWS_SECRET_ACCESS_KEY": "secret-x",
                     "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
    github_env.unlink()
    assert _standin(monkeypatch, tmp_path, "id-token") == 0
    given = dict(line.split("=", 1) for line in github_env.read_text().splitlines())
    assert set(given) == {IDENTITY_TOKEN_ENV, TRUST_CONFIG_ENV, "WHEELSHIP_SANDBOX_PYPI_TOKEN"}
    claims = jwt.decode(given[IDENTITY_TOKEN_ENV], options={"verify_signature": False})
    assert claims["repository"] == "rehearsal/purepkg" and claims["ref"] == "refs/tags/v1.0.0"
    assert claims["workflow_ref"] == "rehearsal/purepkg/.github/workflows/wheelship-release.yml@refs/tags/v1.0.0"
    assert claims["sha"] == "a" * 40
    said = capsys.readouterr().out
    for secret in ("key-id-x", "secret-x", "pypi-token-x", given[IDENTITY_TOKEN_ENV]):
        assert f"::add-mask::{secret}" in said
    assert "rehearsal stand-in: id-token: write" in said


def test_the_store_keys_reach_act_as_secrets_from_a_private_file(tmp_path):
    from pipeline.sandbox import PyPIServer, Sandbox, SeaweedFS

    s3 = SeaweedFS(tmp_path / "s3", ports={"s3": 8999})
    box = Sandbox(tmp_path, PyPIServer("testpypi", tmp_path / "t"), PyPIServer("pypi", tmp_path / "p"), s3)
    for access in github.STORE_ACCESS:
        rehearsal = github.Rehearsal("push", "v1.0.0", None, False, access)
        command = act.act_command("act", rehearsal, tmp_path / "w.yml", tmp_path, {}, {}, box, False, "o/r")
        line = " ".join(command)
        assert s3.secret_key not in line and s3.access_key not in line
        secrets = Path(command[command.index("--secret-file") + 1])
        assert secrets.stat().st_mode & 0o077 == 0
        held = dict(entry.split("=", 1) for entry in secrets.read_text().splitlines())
        assert "GITHUB_REPOSITORY=o/r" in command
        if access == "keys":
            assert held.keys() == {"GITHUB_TOKEN", "WHEELSHIP_STORE_ACCESS_KEY_ID", "WHEELSHIP_STORE_SECRET_ACCESS_KEY"}
            assert held["WHEELSHIP_STORE_SECRET_ACCESS_KEY"] == s3.secret_key
            assert "WHEELSHIP_STORE_ENDPOINT=http://127.0.0.1:8999" in command
            assert not [c for c in command if c.startswith("AWS_PUBLISH_ROLE_ARN=")]
        else:
            assert held.keys() == {"GITHUB_TOKEN"}
            assert f"AWS_PUBLISH_ROLE_ARN={act.SANDBOX_ROLE}" in command
            assert not [c for c in command if c.startswith("WHEELSHIP_STORE_ENDPOINT=")]
