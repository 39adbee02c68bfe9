"""WS502 takes a build record's word only for the very sdist verify checks.

A wheel whose build record says it was built from an sdist with the SHA-256 of the
run's sdist needs no second build; a wheel with no such record, or a record naming
another sdist's hash, is built again from the sdist and compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.checks import Findings
from pipeline.checks import sdist as sdist_checks
from pipeline.checks.files import check_files
from pipeline.errors import IntegrityError
from pipeline.records import Artifact, BuildRecord, sha256_of
from pipeline.runs import Runs
from pipeline.stores import open_store
from tests.conftest import BUILDSPECS, copy_project


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every sdist WS502 builds a wheel from, the real build still done."""
    seen: list[Path] = []
    real = sdist_checks._build_wheel

    def counted(sdist: Path, tmp: Path, limits):  # type: ignore[no-untyped-def]
        seen.append(sdist)
        return real(sdist, tmp, limits)

    monkeypatch.setattr(sdist_checks, "_build_wheel", counted)
    return seen


def _dists(tmp_path: Path, name: str, *, wheel_from_tree: bool = False) -> tuple[Path, Path]:
    """The project's sdist and its wheel: built from the sdist, or from the tree."""
    project = copy_project(name, tmp_path)
    out = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(out)]
    subprocess.run([*build, "--sdist", str(project)], check=True, capture_output=True)
    if wheel_from_tree:
        subprocess.run([*build, "--wheel", str(project)], check=True, capture_output=True)
    else:
        subprocess.run([*build, str(project)], check=True, capture_output=True)  # sdist, then the wheel from it
    return next(out.glob("*.tar.gz")), next(out.glob("*.whl"))


def _ws502(findings: Findings) -> list[str]:
    return [f.message for f in findings.items if f.code == "WS502"]


@pytest.mark.integration
def test_a_record_naming_the_sdists_hash_proves_it_and_nothing_is_built(tmp_path, builds):
    sdist, wheel = _dists(tmp_path, "purepkg")
    findings = Findings({})
    check_files([sdist, wheel], findings, built_from={wheel.name: sha256_of(sdist)})
    assert builds == [] and _ws502(findings) == []


@pytest.mark.integration
def test_no_record_or_a_record_naming_another_sdist_builds_again(tmp_path, builds):
    sdist, wheel = _dists(tmp_path, "purepkg")
    for built_from in ({}, {wheel.name: "0" * 64}, {"another-1.0-py3-none-any.whl": sha256_of(sdist)}):
        findings = Findings({})
        check_files([sdist, wheel], findings, built_from=built_from)
        assert _ws502(findings) == []  # built again, and it matches
    assert builds == [sdist, sdist, sdist]


@pytest.mark.integration
def test_a_wheel_from_the_tree_with_a_record_naming_another_sdist_is_still_caught(tmp_path, builds):
    sdist, wheel = _dists(tmp_path, "defect-sdist-missing-file", wheel_from_tree=True)
    other = tmp_path / "other.tar.gz"
    other.write_bytes(sdist.read_bytes() + b"\0")
    findings = Findings({})
    check_files([sdist, wheel], findings, built_from={wheel.name: sha256_of(other)})
    assert builds == [sdist]
    assert any("partial/data.json" in message for message in _ws502(findings))


def _release(cli, tmp_path: Path) -> tuple[Runs, str, Path]:  # type: ignore[no-untyped-def]
    project = copy_project("purepkg", tmp_path)
    store = f"file://{tmp_path / 'store'}"
    result = cli("release", project, "--tag", "v1.0.0", "--spec", BUILDSPECS / "purepkg.toml", "--store", store,
                 "--dry-run", "--json", tmp_path / "report.json")
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "report.json").read_text())
    return Runs(open_store(store), "wheelship-demo-pure", "1.0.0"), report["run_id"], project


def _verify(cli, tmp_path: Path, runs: Runs, run_id: str, project: Path) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("verify", "wheelship-demo-pure", "1.0.0", "--run-id", run_id, "--store",
                 f"file://{tmp_path / 'store'}", "--spec", BUILDSPECS / "purepkg.toml", "--project", project)
    assert result.code == 0, result.err
    raw = runs.store.get_json(runs.key(run_id, "verify.json"))
    assert raw is not None
    return json.loads(raw)  # type: ignore[no-any-return]


def _rewrite_pure_record(runs: Runs, run_id: str, built_from: str | None) -> None:
    key = runs.key(run_id, "records", "pure.json")
    raw = runs.store.get_json(key)
    assert raw is not None
    data = json.loads(raw)
    data["artifacts"][0]["built_from"] = built_from
    if built_from is None:
        del data["artifacts"][0]["built_from"]  # as a record written before the field was kept
    runs.store.put_json(key, json.dumps(data).encode())


@pytest.mark.integration
def test_a_release_proves_ws502_by_its_records_and_a_changed_record_builds_again(cli, sandbox_env, tmp_path,
                                                                                   builds):
    runs, run_id, project = _release(cli, tmp_path)
    state = runs.read(run_id)
    (sdist,) = (a for a in state.artifacts if a.kind == "sdist")
    (wheel,) = (a for a in state.artifacts if a.kind == "wheel")
    assert wheel.built_from == sdist.sha256 and sdist.built_from is None
    assert builds == []  # the release's verify took the record's word for the sdist it hashed

    _rewrite_pure_record(runs, run_id, None)  # an older record: no proof
    assert runs.read(run_id).artifacts[-1].built_from is None
    assert _verify(cli, tmp_path, runs, run_id, project)["ok"] and len(builds) == 1

    _rewrite_pure_record(runs, run_id, "ab" * 32)  # a record claiming another sdist
    assert _verify(cli, tmp_path, runs, run_id, project)["ok"] and len(builds) == 2

    _rewrite_pure_record(runs, run_id, sdist.sha256)
    assert _verify(cli, tmp_path, runs, run_id, project)["ok"] and len(builds) == 2


@pytest.mark.integration
def test_a_built_from_that_is_not_a_sha256_is_refused_when_the_run_is_read(cli, sandbox_env, tmp_path):
    runs, run_id, _ = _release(cli, tmp_path)
    _rewrite_pure_record(runs, run_id, "../../sdist.tar.gz")
    with pytest.raises(IntegrityError, match="built_from"):
        runs.read(run_id)


def test_an_artifact_round_trips_with_and_without_built_from() -> None:
    artifact = Artifact(name="x-1.0-py3-none-any.whl", identifier="py3-none-any", slice="pure", kind="wheel",
                        sha256="1" * 64, size=3, builder="local", tools={}, built_on="here", built_from="2" * 64)
    record = BuildRecord(slice="pure", runner="here", finished="t", artifacts=(artifact,))
    data = json.loads(json.dumps(record.to_json()))
    assert data["artifacts"][0]["built_from"] == "2" * 64
    assert BuildRecord.from_json(data) == record
    del data["artifacts"][0]["built_from"]
    assert BuildRecord.from_json(data).artifacts[0].built_from is None
    with pytest.raises(TypeError, match=r"artifacts\[0\]\.built_from is a whole number, not a string"):
        BuildRecord.from_json({**data, "artifacts": [{**data["artifacts"][0], "built_from": 5}]})
