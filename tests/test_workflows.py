"""This repository's workflows and what `wheelship init` writes: pinned, least-privilege, valid."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.errors import UsageError
from pipeline.workflows import render
from tests.conftest import ROOT

BIN = Path(sys.executable).parent
WORKFLOWS = ROOT / ".github" / "workflows"


def _audit(paths: list[Path]) -> None:
    zizmor = subprocess.run([str(BIN / "zizmor"), "--offline", "--no-progress", *map(str, paths)],
                            capture_output=True, text=True)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    assert "No findings to report" in zizmor.stdout + zizmor.stderr
    schema = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, paths)], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_this_repositorys_workflows_pass_zizmor_and_the_schema() -> None:
    _audit(sorted(WORKFLOWS.glob("*.yml")))


def test_wheelship_releases_itself_with_the_workflows_init_writes() -> None:
    for kind in ("release", "dry-run"):
        assert (WORKFLOWS / f"{kind}.yml").read_text() == render(kind, "python -m pip install .")


def test_every_action_is_pinned_to_a_commit_and_no_event_data_reaches_run() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        for uses in re.findall(r"uses: (\S+)", text):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), f"{path.name}: {uses}"
        for run in re.findall(r"^\s*(?:- )?run: (.*)", text, flags=re.M):
            assert "${{" not in run, f"{path.name}: expression inside run: {run}"
        workflow = yaml.safe_load(text)
        for name, job in workflow["jobs"].items():
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{path.name}: {name}"
    release = (WORKFLOWS / "release.yml").read_text()
    assert "environment: ${{ needs.plan.outputs.index }}" in release


def test_init_writes_workflows_and_a_buildspec_and_refuses_to_overwrite(tmp_path, cli) -> None:
    result = cli("init", tmp_path)
    assert result.code == 0, result.err
    written = [Path(line) for line in result.out.split()]
    assert {p.name for p in written} == {"wheelship-release.yml", "wheelship-dry-run.yml", "wheelship.toml"}
    _audit([p for p in written if p.suffix == ".yml"])
    assert "pip install 'wheelship==" in written[0].read_text()
    again = cli("init", tmp_path)
    assert again.code == UsageError.exit_code and "refusing to overwrite" in again.err and "--force" in again.err
    assert cli("init", tmp_path, "--force").code == 0
    from pipeline.spec import load_spec

    assert load_spec(tmp_path).source.endswith("wheelship.toml")  # the starter spec is valid


@pytest.mark.parametrize("kind", ["release", "dry-run"])
def test_each_job_has_least_permissions_and_only_publish_runs_in_an_environment(kind: str) -> None:
    workflow = yaml.safe_load(render(kind, "pip install ."))
    assert workflow["permissions"] == {}  # nothing by default
    jobs = workflow["jobs"]
    assert list(jobs) == ["plan", "build", "publish"]
    for name in ("plan", "build"):  # id-token only to assume the AWS role that writes the store
        assert jobs[name]["permissions"] == {"contents": "read", "id-token": "write"}
        assert "environment" not in jobs[name]
    # trusted publishing and the AWS role that reads the store
    assert jobs["publish"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert ("environment" in jobs["publish"]) is (kind == "release")
    assert jobs["build"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"


def test_the_test_workflow_holds_no_token() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["test"]["permissions"] == {"contents": "read"}
