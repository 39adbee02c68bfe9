"""A wheel this host cannot run is published only with a passing test record from its platform."""

from __future__ import annotations

import pytest

from pipeline.records import BuildRecord, Plan, Slice, TestResult
from pipeline.runs import Runs
from pipeline.stores import open_store
from tests.distfactory import make_release

pytestmark = pytest.mark.integration

MAC = "cp312-cp312-macosx_11_0_arm64"


def _stored_run(tmp_path, tested: bool) -> str:  # type: ignore[no-untyped-def]
    folder = tmp_path / "dist"
    artifacts = make_release(folder, "macpkg", "1.0", tags=(MAC,))
    wheel, sdist = artifacts
    if tested:
        wheel = wheel.__class__(**{**wheel.__dict__, "test": TestResult(
            status="passed", host="GitHub runner mac-1 (macos-15, ARM64)", interpreter="cp312-macosx_arm64",
            how="cibuildwheel test: python -c 'import macpkg'")})
    store = f"file://{tmp_path / 'store'}"
    runs = Runs(open_store(store), "macpkg", "1.0")
    plan = Plan(project="macpkg", version="1.0", run_id="r1", tag="v1.0", trigger="test", created="now",
                dry_run=True, index="pypi",
                native=True, requires_python=None, import_names=("macpkg",), test_command=None,
                slices=(Slice(name="sdist", platform="any", arch="any", runner="ubuntu-latest", identifiers=("sdist",)),
                        Slice(name="macos-arm64", platform="macos", arch="arm64", runner="macos-latest",
                              identifiers=("cp312-macosx_arm64",))))
    runs.write_plan(plan)
    for slice_name, artifact in (("sdist", sdist), ("macos-arm64", wheel)):
        artifact = artifact.__class__(**{**artifact.__dict__, "slice": slice_name})
        record = BuildRecord(slice=slice_name, runner="r", finished="now", artifacts=(artifact,))
        runs.store_record(record, {artifact.name: folder / artifact.name}, "r1")
    return store


def test_a_wheel_no_host_tested_stops_verification(cli, tmp_path):
    store = _stored_run(tmp_path, tested=False)
    result = cli("verify", "macpkg", "1.0", "--store", store)
    assert result.code == 5
    assert "WS306 untested [error]" in result.err and "macosx_11_0_arm64" in result.err


def test_a_wheel_tested_on_its_own_runner_passes(cli, tmp_path):
    store = _stored_run(tmp_path, tested=True)
    result = cli("verify", "macpkg", "1.0", "--store", store)
    assert result.code == 0, result.err
    assert "cannot run here; tested on GitHub runner mac-1" in result.err
