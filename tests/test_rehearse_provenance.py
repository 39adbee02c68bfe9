"""A rehearsed tag push, seen from the credentials' side: only the publish job (the one
job with id-token: write) gets the signing identity and the indexes' tokens, and signs;
the store is reached through the AWS role or through an endpoint with keys, and no other
job holds what either gives; the tag's GitHub Release ends complete.

Every job of the rehearsed workflow gets one more step, last, that writes the names of
the variables in its environment with the SHA-256 of each value (never a value) to a
folder of the test; the sandbox is the test's, so its keys are known to compare."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipeline import provenance
from pipeline.attestations import TRUST_CONFIG_ENV
from pipeline.runs import Runs
from pipeline.sandbox import Sandbox, sandbox, token_env
from pipeline.signing_identity import IDENTITY_TOKEN_ENV
from pipeline.sigstore_local import mint_identity_token
from pipeline.stores.s3 import S3Store
from tests.test_rehearse import PURE_FILES, PURE_JOBS, _git, _names, _passed, _rehearse, _repository

pytestmark = [pytest.mark.usefixtures("pinned_init"), pytest.mark.integration]

WORKFLOW = "wheelship-release.yml"
#: What only a job with id-token: write may hold (the identity, trusted publishing's
#: stand-in), and what only the AWS role's step gives.
IDENTITY_NAMES = {IDENTITY_TOKEN_ENV, TRUST_CONFIG_ENV, token_env("testpypi"), token_env("pypi")}
ROLE_NAMES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
DUMP = """env -0 | while IFS= read -r -d '' pair; do
  printf '%s %s\\n' "${{pair%%=*}}" "$(printf '%s' "${{pair#*=}}" | sha256sum | cut -c1-64)"
done > "{folder}/$GITHUB_JOB-$$"
"""


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """One sandbox of the test's for every rehearsal it makes, so its keys are known and
    the run stays in its store afterwards."""
    with sandbox(tmp_path / "sandbox") as running:
        @contextlib.contextmanager
        def same(root: Path | None = None, **kwargs: object) -> Iterator[Sandbox]:
            yield running

        monkeypatch.setattr("pipeline.sandbox.sandbox", same)
        yield running


def _released(tmp_path: Path) -> tuple[Path, Path]:
    """The pure example at v1.0.0 with its GitHub Release on, each job of its workflow
    ending with the step that writes what its environment held into the returned folder."""
    repo = _repository(tmp_path, "purepkg", "purepkg.toml", "v1.0.0")
    dumps = tmp_path / "env"
    dumps.mkdir()
    with (repo / "wheelship.toml").open("a") as fh:
        fh.write("\n[github-release]\nenabled = true\n")
    path = repo / ".github" / "workflows" / WORKFLOW
    workflow = yaml.safe_load(path.read_text())
    workflow = {("on" if key is True else key): value for key, value in workflow.items()}
    for job in workflow["jobs"].values():
        job["steps"].append({"name": "what this job holds", "if": "always()", "run": DUMP.format(folder=dumps)})
    path.write_text(yaml.safe_dump(workflow, sort_keys=False, width=1 << 16))
    _git(repo, "commit", "-qam", "say what each job holds")
    _git(repo, "tag", "-f", "v1.0.0")
    return repo, dumps


def _held(dumps: Path) -> dict[str, dict[str, str]]:
    """Job -> the variables its environment held, each with the SHA-256 of its value."""
    held: dict[str, dict[str, str]] = {}
    for dump in dumps.iterdir():
        lines = [line.split(" ", 1) for line in dump.read_text().splitlines() if " " in line]
        held.setdefault(dump.name.rsplit("-", 1)[0], {}).update({name: digest for name, digest in lines})
    return held


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _runs(box: Sandbox) -> Runs:
    assert box.s3 is not None
    store = S3Store(box.s3.store_url, endpoint_url=box.s3.endpoint, region="us-east-1",
                    keys={"aws_access_key_id": box.s3.access_key, "aws_secret_access_key": box.s3.secret_key})
    return Runs(store, "wheelship-demo-pure", "1.0.0")


def test_only_the_publish_job_has_the_identity_and_signs_once(cli, tmp_path, box, monkeypatch):
    repo, dumps = _released(tmp_path)
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "push")
    assert result.code == 0, result.err
    assert _passed(jobs) == PURE_JOBS
    assert data["store_access"] == "aws-role"
    who = {"repository": f"rehearsal/{repo.name}", "workflow": WORKFLOW, "ref": "refs/tags/v1.0.0"}
    assert data["identity"] == {**who, "jobs": ["publish"]}
    # what each job held: the identity and the index tokens in the publish job only, the S3 keys too
    held = _held(dumps)
    assert set(held) == {"route", "plan", "sdist", "build", "verify", "publish"}
    assert box.s3 is not None
    secrets = {_sha(v) for v in (box.s3.access_key, box.s3.secret_key, box.testpypi.password, box.pypi.password)}
    for job, names in held.items():
        if job == "publish":
            assert IDENTITY_NAMES | ROLE_NAMES <= set(names)
            assert secrets <= set(names.values())
        else:
            assert not (IDENTITY_NAMES | ROLE_NAMES) & set(names), job
            assert not secrets & set(names.values()), job
    # the publish job signed every file, as the rehearsed repository's workflow at the tag
    runs = _runs(box)
    [state] = runs.all()
    record = provenance.read_attestations(runs, state)
    assert record is not None and set(record.files) == PURE_FILES
    assert (record.signer.repository, record.signer.workflow, record.signer.ref) == tuple(who.values())
    before = runs.store.get_json(runs.key(state.run_id, "attestations.json"))
    # the tag's GitHub Release: published, every dist with its bytes, SHA256SUMS and the SBOM
    release = data["github_release"]
    assert release["tag"] == "v1.0.0" and release["draft"] is False
    assets = {a["name"]: a["sha256"] for a in release["assets"]}
    assert {"SHA256SUMS", *PURE_FILES} <= set(assets), sorted(assets)
    assert [n for n in assets if n.endswith(".cdx.json")] == ["wheelship-demo-pure-1.0.0.cdx.json"], sorted(assets)
    assert all(len(sha) == 64 for sha in assets.values())
    assert {f["filename"]: f["sha256"] for f in data["published"]} == {n: assets[n] for n in PURE_FILES}

    # the publish job again, on the same run with the same identity: nothing new is signed
    assert box.sigstore is not None
    token = mint_identity_token(who["repository"], WORKFLOW, who["ref"])
    for name, value in {**box.env(), **box.sigstore.env(token), "WHEELSHIP_STORE": box.s3.store_url}.items():
        monkeypatch.setenv(name, value)
    again = cli("publish", "wheelship-demo-pure", "1.0.0", "--run-id", state.run_id, "--require-verified")
    assert again.code == 0, again.err
    assert f"file(s) as {who['repository']}" not in again.err and "attestation(s) verified" in again.err
    assert runs.store.get_json(runs.key(state.run_id, "attestations.json")) == before


def test_the_endpoint_and_keys_reach_the_store_and_no_job_holds_them(cli, tmp_path, box):
    repo, dumps = _released(tmp_path)
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "push", "--store-access", "keys")
    assert result.code == 0, result.err
    assert _passed(jobs) == PURE_JOBS
    assert data["store_access"] == "keys"
    assert any("vars.WHEELSHIP_STORE_ENDPOINT" in line for line in data["replaced"])
    assert _names(data["stored"]) == PURE_FILES and _names(data["published"]) == PURE_FILES
    # the keys went to the publish job's steps that name them, into no job's environment;
    # the role's step did not run, so no job holds AWS keys either
    assert box.s3 is not None
    keys = {_sha(box.s3.access_key), _sha(box.s3.secret_key)}
    held = _held(dumps)
    assert "publish" in held
    for job, names in held.items():
        assert not keys & set(names.values()), job
        assert not ROLE_NAMES & set(names), job
    assert "keys" in result.err or "endpoint and keys" in result.out


def test_a_release_step_that_fails_half_way_is_finished_by_its_rerun(cli, tmp_path, box, monkeypatch):
    """GitHub breaks the third upload: the publish job fails with the release a draft; the
    tag rehearsed again finds its files on the index, builds nothing, and the publish
    job's GitHub Release step finishes the release, with no asset uploaded twice."""
    from pipeline import ghstandin
    from pipeline.rehearsal import command

    repo, _ = _released(tmp_path)
    plain = command.act_env
    monkeypatch.setattr(command, "act_env", lambda folder: {**plain(folder), ghstandin.FAIL_AFTER_ENV: "2"})
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "push")
    assert result.code == 10 and jobs["publish"]["status"] == "failed", result.err
    kept = re.search(r"act's log is kept in (\S+)/act\.log", result.err)
    assert kept is not None, result.err
    shutil.rmtree(kept.group(1))  # a failed rehearsal keeps its folder for the maintainer; not this test's
    assert _names(data["published"]) == PURE_FILES  # the indexes first; the release after
    half = data["github_release"]
    assert half["draft"] is True and 2 <= len(half["assets"]) < 6, half
    repository = data["identity"]["repository"]
    assert ghstandin.upload_log(box.root / "github-releases", repository) == [a["name"] for a in half["assets"]
                                                                               if a["sha256"]]

    # The tag pushed again, GitHub working: the plan finds every file on the index and
    # builds nothing; the publish job runs its GitHub Release step alone and finishes it.
    monkeypatch.setattr(command, "act_env", plain)
    result, data, jobs = _rehearse(cli, repo, tmp_path, "--event", "push")
    assert result.code == 0, result.err
    assert jobs["publish"]["status"] == "passed" and jobs["verify"]["status"] != "passed", jobs
    [release] = ghstandin.releases(box.root / "github-releases", repository)
    assert release["tag_name"] == "v1.0.0" and release["draft"] is False
    names = {a["name"] for a in release["assets"]}
    assert {"SHA256SUMS", "wheelship-demo-pure-1.0.0.cdx.json", *PURE_FILES} <= names
    assert all(a["digest"].startswith("sha256:") for a in release["assets"])
    uploads = ghstandin.upload_log(box.root / "github-releases", repository)
    assert sorted(uploads) == sorted(names), uploads  # each asset once, none twice
