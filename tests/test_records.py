"""Identifiers of distribution files, and records that round-trip through JSON."""

from __future__ import annotations

import json

import pytest

from pipeline.records import (
    Artifact,
    BuildRecord,
    Plan,
    Slice,
    TestResult,
    identifier_of,
    wheels_first,
)


@pytest.mark.parametrize(
    ("filename", "identifier"),
    [
        ("x-1.0.tar.gz", "sdist"),
        ("x-1.0-py3-none-any.whl", "py3-none-any"),
        ("x-1.0-py2.py3-none-any.whl", "py3-none-any"),
        ("x-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "cp312-manylinux_x86_64"),
        ("x-1.0-cp39-cp39-manylinux1_x86_64.manylinux_2_36_x86_64.manylinux_2_5_x86_64.whl", "cp39-manylinux_x86_64"),
        ("x-1.0-cp313-cp313-musllinux_1_2_aarch64.whl", "cp313-musllinux_aarch64"),
        ("x-1.0-cp311-cp311-macosx_11_0_arm64.whl", "cp311-macosx_arm64"),
        ("x-1.0-cp310-cp310-macosx_10_9_x86_64.whl", "cp310-macosx_x86_64"),
        ("x-1.0-cp312-cp312-win_amd64.whl", "cp312-win_amd64"),
        ("x-1.0-cp314-cp314t-win_arm64.whl", "cp314t-win_arm64"),
        ("x-1.0-cp312-cp312-linux_x86_64.whl", "cp312-linux_x86_64"),
    ],
)
def test_identifier_of(filename: str, identifier: str) -> None:
    assert identifier_of(filename) == identifier


def _artifact(name: str, kind: str = "wheel") -> Artifact:
    return Artifact(name=name, identifier=identifier_of(name), slice="s", kind=kind, sha256="0" * 64, size=1,
                    builder="local", tools={"build": "1"}, built_on="here",
                    test=TestResult(status="passed", host="h", interpreter="CPython 3.12.1", how="uv"))


def test_records_round_trip_through_json() -> None:
    plan = Plan(project="x", version="1.0", run_id="r1", tag="v1.0", trigger="cli", created="t", dry_run=False,
                index="pypi",
                native=True, requires_python=">=3.9", import_names=("x",), test_command=None,
                slices=(Slice(name="sdist", platform="any", arch="any", runner="ubuntu-latest",
                              identifiers=("sdist",)),))
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    record = BuildRecord(slice="s", runner="r", finished="t", artifacts=(_artifact("x-1.0-py3-none-any.whl"),))
    assert BuildRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    # a record written before the slice stopped being named twice (as "job") still loads
    assert BuildRecord.from_json({**record.to_json(), "job": "s"}) == record


def test_wheels_go_before_the_sdist() -> None:
    ordered = wheels_first([_artifact("x-1.0.tar.gz", "sdist"), _artifact("x-1.0-py3-none-any.whl")])
    assert [a.kind for a in ordered] == ["wheel", "sdist"]
