"""A release builds each file once: where the plan must build to learn the version or
the kind, or where the same process builds next (`release`), it builds the sdist (and a
wheel from it) and the build stage takes those files; a plan on its own builds only
what it must learn from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.records import sha256_of
from tests.conftest import BUILDSPECS, copy_project


def _frontend_calls(log: Path) -> list[str]:
    """The commands a build log says were run (each is written as "$ COMMAND")."""
    return [line for line in log.read_text(encoding="utf-8").splitlines() if line.startswith("$ ")]


@pytest.mark.integration
def test_a_pure_release_builds_the_sdist_and_the_wheel_once_in_one_call(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path)  # setuptools, a dynamic version, kind = "auto"
    work, report = tmp_path / "work", tmp_path / "report.json"
    result = cli("release", project, "--tag", "v1.0.0", "--dry-run", "--spec", BUILDSPECS / "purepkg.toml",
                 "--store", file_store, "--workdir", work, "--json", report)
    assert result.code == 0, result.err
    [call] = _frontend_calls(work / "sdist.log")  # one frontend call made both files
    assert " build " in call and "--sdist" not in call and "--wheel" not in call
    assert not (work / "py3-none-any.log").exists()  # the wheel was not built again
    assert not (work / "metadata-hook.log").exists()  # the sdist's PKG-INFO gave the version
    assert "slice pure: built from this checkout while planning; not built again" in result.err
    facts = json.loads(report.read_text())
    files = {f["name"]: f for f in facts["files"]}
    sdist = work / "dist" / "wheelship_demo_pure-1.0.0.tar.gz"
    wheel = files["wheelship_demo_pure-1.0.0-py3-none-any.whl"]
    assert wheel["sha256"] == sha256_of(work / "dist" / wheel["name"])
    assert files[sdist.name]["sha256"] == sha256_of(sdist)
    records = [json.loads(p.read_text()) for p in (tmp_path / "store").rglob("records/pure.json")]
    assert [a["built_from"] for r in records for a in r["artifacts"]] == [sha256_of(sdist)]


@pytest.mark.integration
def test_a_native_release_builds_its_sdist_beside_the_plan_and_its_wheels_from_it(cli, sandbox_env, file_store,
                                                                                   tmp_path):
    project = copy_project("cext", tmp_path)  # a static version, kind = "native"
    work = tmp_path / "work"
    result = cli("release", project, "--tag", "v0.1.0rc1", "--dry-run", "--spec", BUILDSPECS / "cext.toml",
                 "--store", file_store, "--workdir", work, "--builder", "local")
    assert result.code == 0, result.err
    [call] = _frontend_calls(work / "sdist.log")
    assert "--sdist" in call
    sdist = work / "dist" / "wheelship_demo_cext-0.1.0rc1.tar.gz"
    wheel_logs = sorted(work.glob("cp3*-manylinux_*.log"))
    assert wheel_logs
    for log in wheel_logs:  # every wheel from that one sdist, then repaired
        build, repair = _frontend_calls(log)
        assert build.endswith(f" {sdist}") and "--wheel" in build
        assert "auditwheel repair" in repair


@pytest.mark.integration
@pytest.mark.parametrize(("name", "tag", "builds"), [("cext", "v0.1.0rc1", False), ("purepkg", "v1.0.0", True)])
def test_a_plan_on_its_own_builds_only_what_it_must_learn_from(cli, sandbox_env, file_store, tmp_path, name, tag,
                                                              builds):
    project = copy_project(name, tmp_path)
    work = tmp_path / "work"
    result = cli("plan", project, "--tag", tag, "--dry-run", "--spec", BUILDSPECS / f"{name}.toml",
                 "--store", file_store, "--workdir", work)
    assert result.code == 0, result.err
    assert (work / "sdist.log").exists() == builds
    assert not (work / "metadata-hook.log").exists()


@pytest.mark.integration
def test_a_native_project_of_kind_auto_keeps_the_sdist_the_plan_built_and_drops_its_trial_wheel(
        cli, sandbox_env, file_store, tmp_path):
    project = copy_project("cext", tmp_path)
    spec = tmp_path / "cext.toml"
    spec.write_text((BUILDSPECS / "cext.toml").read_text().replace('kind = "native"', 'kind = "auto"'))
    work = tmp_path / "work"
    result = cli("release", project, "--tag", "v0.1.0rc1", "--dry-run", "--spec", spec, "--store", file_store,
                 "--workdir", work, "--builder", "local")
    assert result.code == 0, result.err
    assert "is native: the wheel its backend builds here is cp3" in result.err
    assert "slice sdist: built from this checkout while planning; not built again" in result.err
    [call] = _frontend_calls(work / "sdist.log")  # the sdist and the trial wheel, one call
    assert "--sdist" not in call
    made = sorted(p.name for p in (work / "dist").iterdir())
    assert made[-1] == "wheelship_demo_cext-0.1.0rc1.tar.gz"
    assert all("manylinux" in name for name in made[:-1]) and len(made) > 1  # no unrepaired trial wheel
