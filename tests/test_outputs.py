"""The GITHUB_OUTPUT keys: one table (pipeline.outputs) that the plan stage writes by,
the workflow template passes on, and the rehearsal reads by."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from pipeline.outputs import PLAN, ROUTE, Outputs
from pipeline.records import Plan, Slice
from pipeline.workflows import render


@pytest.mark.parametrize("kind", ["release", "dry-run"])
def test_the_template_passes_on_exactly_the_tables_keys(kind: str) -> None:
    text = render(kind, "pip install .")
    jobs = yaml.safe_load(text)["jobs"]
    for table in (PLAN, ROUTE):
        job = jobs[table.step]
        assert job["outputs"] == table.job_outputs(), table.step
        step = next(s for s in job["steps"] if s.get("id") == table.step)
        assert step["run"].startswith(f"wheelship {table.step} ")
        passed_on = {o.job_output for o in table.keys if o.job_output}
        used = set(re.findall(rf"needs\.{table.step}\.outputs\.([\w-]+)", text))
        assert used and used <= passed_on, (table.step, used - passed_on)


def plan_of(**given: Any) -> Plan:
    """A plan of the sdist alone, with `given` in place of its defaults."""
    from pipeline.planning import SDIST

    return Plan(**{"project": "p", "version": "1", "run_id": "r", "tag": "v1", "trigger": "cli", "created": "now",
                   "dry_run": False, "index": "pypi", "native": False, "requires_python": None, "import_names": (),
                   "test_command": None, "checks": {}, "slices": (SDIST,), **given})


def test_the_plan_stage_writes_every_key_of_its_table(tmp_path, monkeypatch) -> None:
    from pipeline.planning import SDIST
    from pipeline.stages.plan import _github_output

    here = Slice(name="linux-x86_64", platform="linux", arch="x86_64", runner="ubuntu-latest",
                 identifiers=("cp312-manylinux_x86_64",))
    elsewhere = Slice(name="macos-arm64", platform="macos", arch="arm64", runner="macos-latest", identifiers=())
    plan = plan_of(native=True, slices=(SDIST, here), commit="abc",
                   left_out=(elsewhere, Slice(name="linux-x86_64", platform="linux", arch="x86_64",
                                              runner="ubuntu-latest", identifiers=("cp39-musllinux_x86_64",))))
    output = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    _github_output(plan)
    written = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert list(written) == list(PLAN.names)
    assert [m["slice"] for m in json.loads(written["wheel-matrix"])["include"]] == ["linux-x86_64"]
    assert [Slice.from_json(s) for s in json.loads(PLAN.read(written, "left-out"))] == list(plan.left_out)
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan  # and plan.json keeps it


def test_a_table_refuses_keys_it_does_not_hold(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    with pytest.raises(ValueError, match="route step writes"):
        ROUTE.write({"tag": "v1"})
    with pytest.raises(KeyError):
        PLAN.read({}, "matrx")
    assert not (tmp_path / "output").exists()
    assert isinstance(PLAN, Outputs) and PLAN.read({}, "commit") == ""
