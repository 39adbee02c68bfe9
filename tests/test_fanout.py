"""The CI fan-out: a plan from cibuildwheel, slices built in separate jobs, one publish."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.planning import NATIVE_SLICES
from tests.conftest import BUILDSPECS, PROJECTS, index_files, run_subprocess

pytestmark = pytest.mark.integration


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _job(tmp_path: Path, name: str, base_env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A fresh checkout in a folder of its own, with its own GitHub files."""
    folder = tmp_path / name
    shutil.copytree(PROJECTS / "cibw-subset", folder / "checkout")
    shutil.copy(BUILDSPECS / "cibw-subset.toml", folder / "checkout" / "wheelship.toml")
    env = {**base_env, "GITHUB_OUTPUT": str(folder / "output"), "GITHUB_STEP_SUMMARY": str(folder / "summary.md")}
    (folder / "output").touch()
    return folder / "checkout", env


def _github_env(tmp_path: Path, store: str, slices: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/tags/v0.2.0"}))
    return {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/v0.2.0",
            "GITHUB_EVENT_PATH": str(event), "GITHUB_RUN_ID": "777", "GITHUB_RUN_ATTEMPT": "1",
            "RUNNER_NAME": "test-runner", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
            "WHEELSHIP_STORE": store, "WHEELSHIP_SLICES": slices}


def test_the_plan_is_what_cibuildwheel_says_slice_by_slice(cli, sandbox_env, file_store, tmp_path, monkeypatch):
    checkout, env = _job(tmp_path, "plan", _github_env(tmp_path, file_store, ""))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WHEELSHIP_SLICES")
    plan_json = tmp_path / "plan.json"
    result = cli("plan", checkout, "--json", plan_json)
    assert result.code == 0, result.err
    plan = json.loads(plan_json.read_text())
    outputs = _outputs(Path(env["GITHUB_OUTPUT"]))
    assert outputs["run-id"] == plan["run_id"] == "gh777-1"
    matrix = json.loads(outputs["matrix"])
    assert [m["slice"] for m in matrix["include"]] == [s["name"] for s in plan["slices"]]
    slices = {s["name"]: s for s in plan["slices"]}
    assert set(slices) == {"sdist", *NATIVE_SLICES}
    for name, kind in NATIVE_SLICES.items():
        direct = subprocess.run([sys.executable, "-m", "cibuildwheel", "--print-build-identifiers", "--platform",
                                 kind.platform, "--archs", kind.arch, "."], cwd=checkout, capture_output=True,
                                text=True, check=True).stdout.split()
        assert slices[name]["identifiers"] == direct, name
        assert slices[name]["runner"] == kind.runner
        assert all(i.startswith(("cp311-", "cp312-")) and "musllinux" not in i for i in direct)
    assert slices["linux-x86_64"]["identifiers"] == ["cp311-manylinux_x86_64", "cp312-manylinux_x86_64"]
    assert plan["index"] == "pypi" and plan["project"] == "wheelship-demo-subset"


def test_plan_build_and_publish_jobs_share_only_the_store(sandbox_env, s3_store, tmp_path):
    base = {**os.environ, **_github_env(tmp_path, s3_store, "sdist,linux-x86_64")}
    checkout, env = _job(tmp_path, "plan", base)
    plan = run_subprocess("plan", ".", env=env, cwd=checkout)
    assert plan.code == 0, plan.err
    outputs = _outputs(Path(env["GITHUB_OUTPUT"]))
    matrix = json.loads(outputs["matrix"])["include"]
    assert [m["slice"] for m in matrix] == ["sdist", "linux-x86_64"]
    assert "::group::plan" in plan.err  # collapsible groups on GitHub

    for entry in matrix:
        checkout, env = _job(tmp_path, f"build-{entry['slice']}", base)
        built = run_subprocess("build", ".", "--run-id", outputs["run-id"], "--slice", entry["slice"], env=env,
                               cwd=checkout)
        assert built.code == 0, built.err
        assert f"slice {entry['slice']}" in built.err

    checkout, env = _job(tmp_path, "publish", base)
    report = checkout / "report.json"
    published = run_subprocess("publish", outputs["project"], outputs["version"], "--project", ".", "--run-id",
                               outputs["run-id"], "--verify", "--json", report, env=env, cwd=checkout)
    assert published.code == 0, published.err
    facts = json.loads(report.read_text())
    assert sorted(f["identifier"] for f in facts["files"]) == ["cp311-manylinux_x86_64", "cp312-manylinux_x86_64",
                                                                "sdist"]
    assert index_files(sandbox_env, "pypi") == {f["name"]: f["sha256"] for f in facts["files"]}
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "| Python | linux-x86_64 |" in summary
    assert "| CPython 3.11 | ✅ built · ✅ tested · ✅ published |" in summary
    assert "| CPython 3.12 | ✅ built · ✅ tested · ✅ published |" in summary
    (tmp_path / "summary-grid.md").write_text(summary)


def test_publish_refuses_a_run_with_a_slice_that_never_reported(sandbox_env, s3_store, tmp_path):
    base = {**os.environ, **_github_env(tmp_path, s3_store, "sdist,linux-x86_64,macos-arm64")}
    checkout, env = _job(tmp_path, "plan", base)
    assert run_subprocess("plan", ".", env=env, cwd=checkout).code == 0
    outputs = _outputs(Path(env["GITHUB_OUTPUT"]))
    for name in ("sdist", "linux-x86_64"):
        checkout, env = _job(tmp_path, f"build-{name}", base)
        assert run_subprocess("build", ".", "--run-id", outputs["run-id"], "--slice", name, env=env,
                              cwd=checkout).code == 0
    checkout, env = _job(tmp_path, "build-macos-arm64", base)
    cannot = run_subprocess("build", ".", "--run-id", outputs["run-id"], "--slice", "macos-arm64", env=env,
                            cwd=checkout)
    assert cannot.code == 4 and "slice macos-arm64 cannot be built on this host" in cannot.err
    assert "macos-latest" in cannot.err
    checkout, env = _job(tmp_path, "publish", base)
    refused = run_subprocess("publish", outputs["project"], outputs["version"], "--run-id", outputs["run-id"],
                             env=env, cwd=checkout)
    assert refused.code == 5
    assert "slice(s) macos-arm64 never reported" in refused.err
    assert "::error::" in refused.err  # an annotation on GitHub
    assert index_files(sandbox_env, "pypi") == {}
