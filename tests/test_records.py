"""Identifiers of distribution files, and records that round-trip through JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.records import (
    Artifact,
    ArtifactKind,
    BuildRecord,
    FileVerification,
    Finding,
    Outcome,
    Plan,
    Slice,
    TestResult,
    VerifyRecord,
    identifier_of,
    wheels_first,
    write_json_atomic,
)
from pipeline.stages.report import FileReport, RunReport


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


def _artifact(name: str, kind: ArtifactKind = "wheel") -> Artifact:
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


WHEEL = "x-1.0-py3-none-any.whl"
#: A finding as verify.json has always held it: five keys, all strings.
FINDING = {"code": "WS105", "name": "wheel-tags", "severity": "warning", "file": WHEEL,
           "message": "the file name's tags differ from the WHEEL file's"}


def _verify_record(finding: Finding) -> VerifyRecord:
    return VerifyRecord(ok=True, host="h", finished="t", run_id="r1", findings=(finding,), files={
        WHEEL: FileVerification(identifier="py3-none-any", sha256="0" * 64, size=1, test=None, findings=(finding,))})


def test_findings_round_trip_as_objects_with_the_keys_verify_json_always_had(tmp_path: Path) -> None:
    finding = Finding.from_json(FINDING)
    record = _verify_record(finding)
    read = VerifyRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert read == record
    assert read.findings == (finding,) and read.files[WHEEL].findings == (finding,)
    assert finding.line() == f"WS105 wheel-tags [warning] {WHEEL}: the file name's tags differ from the WHEEL file's"
    # verify.json as written when findings were dicts reads as the same record and is written
    # back byte for byte: runs stored before still read, and a reader of the JSON sees no change
    old = {"ok": True, "host": "h", "finished": "t", "run_id": "r1", "findings": [FINDING], "files": {
        WHEEL: {"identifier": "py3-none-any", "sha256": "0" * 64, "size": 1, "test": None, "findings": [FINDING]}}}
    write_json_atomic(tmp_path / "old.json", old)
    assert VerifyRecord.from_json(json.loads((tmp_path / "old.json").read_text())) == record
    write_json_atomic(tmp_path / "new.json", record.to_json())
    assert (tmp_path / "new.json").read_bytes() == (tmp_path / "old.json").read_bytes()


def test_a_finding_that_is_not_five_strings_is_named_where_it_stands() -> None:
    data = json.loads(json.dumps(_verify_record(Finding.from_json(FINDING)).to_json()))
    bad = {**data, "findings": [{**FINDING, "code": 105}]}
    with pytest.raises(TypeError, match=r"^findings\[0\]\.code is a whole number, not a string$"):
        VerifyRecord.from_json(bad)
    nested = {**data, "files": {WHEEL: {**data["files"][WHEEL], "findings": [{**FINDING, "severity": None}]}}}
    with pytest.raises(TypeError, match=r"findings\[0\]\.severity is null, not a string$"):
        VerifyRecord.from_json(nested)
    with pytest.raises(TypeError, match="line"):  # an unknown key: not a finding wheelship wrote
        Finding.from_json({**FINDING, "line": 3})


def test_closed_sets_read_any_string_a_writer_put_there_but_only_a_string() -> None:
    record = BuildRecord(slice="s", runner="r", finished="t", artifacts=(_artifact(WHEEL),)).to_json()
    other = {**record, "artifacts": [{**record["artifacts"][0], "builder": "test"}]}  # as tests' records say
    assert json.loads(json.dumps(BuildRecord.from_json(other).to_json())) == other
    with pytest.raises(TypeError, match=r"^artifacts\[0\]\.kind is a whole number, not a string$"):
        BuildRecord.from_json({**record, "artifacts": [{**record["artifacts"][0], "kind": 1}]})
    with pytest.raises(TypeError, match=r"^artifacts\[0\]\.test\.status is a list, not a string$"):
        BuildRecord.from_json({**record, "artifacts": [{**record["artifacts"][0],
                                                        "test": {**record["artifacts"][0]["test"], "status": []}}]})


def test_the_run_report_is_json_with_the_keys_it_always_had() -> None:
    test = TestResult(status="passed", host="h", interpreter="CPython 3.12.1", how="uv")
    report = RunReport(
        project="x", version="1.0", run_id="r1", tag="v1.0", index="pypi", upload_url="https://upload.example/",
        dry_run=False, store="file:///s", verified=True, files=(
            FileReport(name=WHEEL, identifier="py3-none-any", slice="pure", sha256="0" * 64, size=3,
                       builder="local", built_on="here", test=test, findings=(Finding.from_json(FINDING),),
                       publish=Outcome.PRESENT),
            FileReport(name="x-1.0.tar.gz", identifier="sdist", slice="sdist", sha256="1" * 64, size=2,
                       builder="local", built_on="here", test=None),
        ))
    data = report.to_json()
    assert data == {
        "project": "x", "version": "1.0", "run_id": "r1", "tag": "v1.0", "index": "pypi",
        "upload_url": "https://upload.example/", "dry_run": False, "store": "file:///s", "verified": True,
        "files": [
            {"name": WHEEL, "identifier": "py3-none-any", "slice": "pure", "sha256": "0" * 64, "size": 3,
             "builder": "local", "built_on": "here",
             "test": {"status": "passed", "host": "h", "interpreter": "CPython 3.12.1", "how": "uv", "detail": ""},
             "findings": [FINDING], "publish": "already present"},
            {"name": "x-1.0.tar.gz", "identifier": "sdist", "slice": "sdist", "sha256": "1" * 64, "size": 2,
             "builder": "local", "built_on": "here", "test": None, "findings": [], "publish": None},
        ],
    }
    assert type(data["files"][0]["publish"]) is str  # the outcome's text, not the enum
    assert json.loads(json.dumps(data)) == data
