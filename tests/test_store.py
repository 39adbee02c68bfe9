"""The S3 store against a real SeaweedFS: fetch, tampering, resumed uploads, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from pipeline.errors import IntegrityError, StoreError
from pipeline.records import Artifact, BuildRecord, Plan, Slice, identifier_of, sha256_of
from pipeline.runs import Runs
from pipeline.stores import open_store
from tests.conftest import BUILDSPECS, copy_project, index_files, run_subprocess

pytestmark = pytest.mark.integration

PROJECT, VERSION = "wheelship-demo-pure", "4.0.0"


def _s3(box):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=box.s3.endpoint, aws_access_key_id=box.s3.access_key,
                        aws_secret_access_key=box.s3.secret_key, region_name="us-east-1")


@pytest.fixture
def stored_run(cli, sandbox_env, s3_store, tmp_path):  # type: ignore[no-untyped-def]
    """A dry-run release of the pure example kept in S3; its build outputs kept too."""
    project = copy_project("purepkg", tmp_path, version=VERSION)
    work = tmp_path / "work"
    report = tmp_path / "report.json"
    result = cli("release", project, "--tag", f"v{VERSION}", "--spec", BUILDSPECS / "purepkg.toml",
                 "--store", s3_store, "--dry-run", "--workdir", work, "--json", report)
    assert result.code == 0, result.err
    facts = json.loads(report.read_text())
    prefix = s3_store.removeprefix(f"s3://{sandbox_env.s3.bucket}/")
    return {"store": s3_store, "facts": facts, "built": work / "dist",
            "key": lambda name: f"{prefix}/{PROJECT}/{VERSION}/{facts['run_id']}/files/{name}"}


def test_fetch_gives_byte_identical_files(cli, stored_run, tmp_path):
    out = tmp_path / "fetched"
    result = cli("fetch", PROJECT, VERSION, "--store", stored_run["store"], "-o", out, "--include-dry-runs")
    assert result.code == 0, result.err
    fetched = sorted(p for p in out.iterdir() if p.name != "SHA256SUMS" and not p.name.endswith(".cdx.json"))
    assert [p.name for p in fetched] == sorted(f["name"] for f in stored_run["facts"]["files"])
    for path in fetched:
        assert path.read_bytes() == (stored_run["built"] / path.name).read_bytes()
    assert "twine upload" in result.err
    # SHA256SUMS covers every file, in the format sha256sum reads
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(fetched)


def _tamper(box, key: str, how: str) -> None:  # type: ignore[no-untyped-def]
    s3 = _s3(box)
    body = s3.get_object(Bucket=box.s3.bucket, Key=key)["Body"].read()
    if how == "replaced":  # same size, same claimed hash in its metadata, other bytes
        evil = bytes(b ^ 0x01 for b in body)
        head = s3.head_object(Bucket=box.s3.bucket, Key=key)
        s3.put_object(Bucket=box.s3.bucket, Key=key, Body=evil, Metadata=head["Metadata"])
    elif how == "truncated":
        s3.put_object(Bucket=box.s3.bucket, Key=key, Body=body[: len(body) // 2])
    else:
        s3.delete_object(Bucket=box.s3.bucket, Key=key)


@pytest.mark.parametrize("how", ["replaced", "truncated", "deleted"])
def test_a_tampered_object_stops_verify_publish_and_fetch(cli, sandbox_env, stored_run, tmp_path, how):
    wheel = next(f for f in stored_run["facts"]["files"] if f["name"].endswith(".whl"))
    _tamper(sandbox_env, stored_run["key"](wheel["name"]), how)
    store = stored_run["store"]
    out = tmp_path / "fetched"
    for args in (("verify", PROJECT, VERSION), ("publish", PROJECT, VERSION, "--include-dry-runs"),
                 ("fetch", PROJECT, VERSION, "-o", out, "--include-dry-runs")):
        result = cli(*args, "--store", store)
        assert result.code == IntegrityError.exit_code, (args, result.err)
        assert wheel["name"] in result.err and wheel["sha256"] in result.err
        if how != "deleted":  # both hashes are named
            assert "stored bytes have sha256" in result.err
        else:
            assert "missing from the store" in result.err
        assert "Traceback" not in result.text
    assert index_files(sandbox_env, "pypi") == {} and index_files(sandbox_env, "testpypi") == {}
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


RESUMABLE = r"""
import sys, time
from pathlib import Path
import pipeline.runs
from pipeline.records import BuildRecord
from pipeline.runs import Runs
from pipeline.stores import open_store

pipeline.runs.TRANSFERS = 1  # one at a time, so the kill lands between objects
store = open_store(sys.argv[1])
send = store.put_file
def slow(key, path, sha):  # a slow network, so the test can catch the upload half-way
    sent = send(key, path, sha)
    time.sleep(0.4)
    return sent
store.put_file = slow
record = BuildRecord.from_json(__import__("json").loads(Path(sys.argv[2]).read_text()))
files = {a.name: Path(sys.argv[3]) / a.name for a in record.artifacts}
Runs(store, "big", "1.0").store_record(record, files, "r1")
"""


def test_an_upload_killed_half_way_resumes_without_resending(sandbox_env, s3_store, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    artifacts = []
    for i in range(8):
        path = folder / f"big-1.0-{i}-py3-none-any.whl"  # a build tag tells the files apart
        path.write_bytes(os.urandom(3 << 20))
        artifacts.append(Artifact(name=path.name, identifier=identifier_of(path.name), slice="pure", kind="wheel",
                                  sha256=sha256_of(path), size=path.stat().st_size, builder="test", tools={},
                                  built_on="here"))
    record = BuildRecord(slice="pure", runner="here", finished="now", artifacts=tuple(artifacts))
    record_file = tmp_path / "record.json"
    record_file.write_text(json.dumps(record.to_json()))
    store = open_store(s3_store)
    runs = Runs(store, "big", "1.0")
    runs.write_plan(Plan(
        project="big", version="1.0", run_id="r1", tag="v1.0", trigger="test", created="now", dry_run=True,
        index="x",
        native=False, requires_python=None, import_names=(), test_command=None,
        slices=(Slice(name="pure", platform="any", arch="any", runner="here", identifiers=("py3-none-any",)),),
    ))
    files_prefix = runs.key("r1", "files") + "/"

    proc = subprocess.Popen([sys.executable, "-c", RESUMABLE, s3_store, str(record_file), str(folder)],
                            env={**os.environ})
    deadline = time.monotonic() + 60
    while len(store.list(files_prefix)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored_before = len(store.list(files_prefix))
    assert 3 <= stored_before < 8, "the kill did not land half-way"
    assert store.get_json(runs.key("r1", "records", "pure.json")) is None  # no record without all its files

    sent: list[str] = []
    store.client.meta.events.register(  # type: ignore[attr-defined]
        "before-call.s3.PutObject", lambda params, **_: sent.append(params["url_path"]))
    store.client.meta.events.register(  # type: ignore[attr-defined]
        "before-call.s3.CreateMultipartUpload", lambda params, **_: sent.append(params["url_path"]))
    count = runs.store_record(record, {a.name: folder / a.name for a in artifacts}, "r1")
    file_puts = [k for k in sent if "/files/" in k]
    assert count == 8 - stored_before == len(file_puts)
    assert len(set(file_puts)) == len(file_puts)  # nothing sent twice
    assert [k for k in sent if k.endswith("records/pure.json")]  # then the record
    state = runs.read("r1")
    assert state.complete
    fetched = runs.fetch(state, tmp_path / "out")
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == a.sha256
               for a, p in zip(artifacts, (fetched[a.name] for a in artifacts), strict=True))


def test_bad_store_input_gives_a_clear_store_error(cli, sandbox_env, stored_run, monkeypatch, tmp_path):
    store = stored_run["store"]
    cases = []

    cases.append(("unknown run id", ("fetch", PROJECT, VERSION, "--run-id", "nosuch", "-o", tmp_path / "o"),
                  "no run 'nosuch' of wheelship-demo-pure 4.0.0"))
    cases.append(("version with no runs", ("status", PROJECT, "9.9.9"), "has no runs of wheelship-demo-pure 9.9.9"))
    cases.append(("missing bucket", ("status", PROJECT, VERSION, "--store", "s3://no-such-bucket/x"),
                  "bucket 'no-such-bucket' does not exist"))
    for name, args, expected in cases:
        if "--store" not in args:
            args = (*args, "--store", store)
        result = cli(*args)
        assert result.code == StoreError.exit_code, (name, result.err)
        assert expected in result.err, (name, result.err)
        assert "Traceback" not in result.text

    wrong = run_subprocess("status", PROJECT, VERSION, "--store", store, env={"AWS_SECRET_ACCESS_KEY": "wrong"})
    assert wrong.code == StoreError.exit_code and "refused our credentials" in wrong.err
    assert "wrong" not in wrong.err.replace("wrong:", "")
    from pipeline.sandbox import free_port

    down = run_subprocess("status", PROJECT, VERSION, "--store", store,
                          env={"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}"})
    assert down.code == StoreError.exit_code and "cannot reach the S3 endpoint" in down.err
    assert "Traceback" not in wrong.err + down.err


def test_a_run_whose_records_are_incomplete(cli, sandbox_env, s3_store, tmp_path):
    project = copy_project("purepkg", tmp_path, version=VERSION)
    result = cli("plan", project, "--tag", f"v{VERSION}", "--store", s3_store, "--spec", BUILDSPECS / "purepkg.toml")
    assert result.code == 0, result.err
    run_id = result.out.strip()
    fetch = cli("fetch", PROJECT, VERSION, "--store", s3_store, "-o", tmp_path / "o")
    assert fetch.code == StoreError.exit_code
    assert f"the newest, {run_id}, lacks slices sdist, pure" in fetch.err
    publish = cli("publish", PROJECT, VERSION, "--store", s3_store)
    assert publish.code == 5 and "slice(s) sdist, pure never reported" in publish.err


def test_cfn_lint_passes_on_the_infra_template():
    template = Path(__file__).resolve().parent.parent / "pipeline" / "templates" / "store-aws.yaml"
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(template)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = template.read_text()
    for needed in ("VersioningConfiguration", "BlockPublicPolicy: true", "aws:SecureTransport",
                   "ExpirationInDays: !Ref RunExpiryDays", ":environment:pypi", "sts:AssumeRoleWithWebIdentity"):
        assert needed in text


# --- the store under faults, through a proxy that keeps the Host header S3 signs ----------------

S3_FAULTS = ("503", "502", "429", "reset", "forward-then-drop")


def _small_run(store, folder: Path, name: str, count: int) -> tuple[Runs, BuildRecord]:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True)
    artifacts = []
    for i in range(count):
        path = folder / f"{name}-1.0-{i}-py3-none-any.whl"
        path.write_bytes(os.urandom(20_000 + i))
        artifacts.append(Artifact(name=path.name, identifier=identifier_of(path.name), slice="pure", kind="wheel",
                                  sha256=sha256_of(path),
                                  size=path.stat().st_size, builder="test", tools={}, built_on="here"))
    runs = Runs(store, name, "1.0")
    runs.write_plan(Plan(project=name, version="1.0", run_id="r1", tag="v1.0", trigger="test", created="now",
                         dry_run=True, index="x", native=False, requires_python=None, import_names=(),
                         test_command=None, slices=(Slice(name="pure", platform="any", arch="any", runner="here",
                                                          identifiers=("py3-none-any",)),)))
    return runs, BuildRecord(slice="pure", runner="here", finished="now", artifacts=tuple(artifacts))


def test_storing_and_fetching_survive_faults_byte_identical(sandbox_env, tmp_path, monkeypatch):
    from tests.faultproxy import FaultProxy

    assert sandbox_env.s3 is not None
    with FaultProxy(sandbox_env.s3.ports["s3"], s3=True) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url.rstrip("/"))
        for seed in range(8):
            proxy.faults.reset(seed, 0.3, S3_FAULTS)
            store = open_store(f"s3://{sandbox_env.s3.bucket}/faults-{seed}")
            runs, record = _small_run(store, tmp_path / f"in-{seed}", f"faulty{seed}", 4)
            runs.store_record(record, {a.name: tmp_path / f"in-{seed}" / a.name for a in record.artifacts}, "r1")
            fetched = runs.fetch(runs.read("r1"), tmp_path / f"out-{seed}")
            for a in record.artifacts:
                assert fetched[a.name].read_bytes() == (tmp_path / f"in-{seed}" / a.name).read_bytes()
        ledger = proxy.ledger
    assert ledger.faults / ledger.requests >= 0.2
    assert all(ledger.kinds.get(k, 0) > 0 for k in S3_FAULTS), ledger.kinds
    assert all(ledger.targets.get(k, 0) > 0 for k in ("put", "get", "head")), ledger.targets
    (tmp_path.parent / "s3-fault-counts.json").write_text(json.dumps({
        "runs": 8, "requests": ledger.requests, "faults": ledger.faults, "kinds": ledger.kinds,
        "faulted_requests": ledger.targets}))


def test_faults_that_outlast_the_policy_are_a_store_error_naming_the_object(cli, sandbox_env, tmp_path, monkeypatch):
    from tests.faultproxy import FaultProxy

    assert sandbox_env.s3 is not None
    prefix = f"s3://{sandbox_env.s3.bucket}/outlast"
    runs, record = _small_run(open_store(prefix), tmp_path / "in", "outlast", 2)
    runs.store_record(record, {a.name: tmp_path / "in" / a.name for a in record.artifacts}, "r1")
    overlay = tmp_path / "few.toml"
    overlay.write_text(Path(os.environ["WHEELSHIP_CONFIG"]).read_text().replace(
        'region = "us-east-1"', 'region = "us-east-1"\nattempts = 2'))
    monkeypatch.setenv("WHEELSHIP_CONFIG", str(overlay))
    with FaultProxy(sandbox_env.s3.ports["s3"], s3=True) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url.rstrip("/"))
        proxy.faults.reset(3, 1.0, ("503", "reset"))
        result = cli("fetch", "outlast", "1.0", "--run-id", "r1", "--store", prefix, "-o", tmp_path / "out")
    assert result.code == StoreError.exit_code, result.err
    assert "outlast/1.0/r1/" in result.err and "internal error" not in result.err
    assert "run the same command again" in result.err


def test_a_damaged_or_foreign_record_is_an_integrity_error_naming_the_file(cli, tmp_path):
    store = open_store(f"file://{tmp_path / 'store'}")
    runs, record = _small_run(store, tmp_path / "files", "recs", 2)
    runs.store_record(record, {a.name: tmp_path / "files" / a.name for a in record.artifacts}, "r1")
    folder = tmp_path / "store" / "recs" / "1.0" / "r1"
    cases = [
        ("verify.json", {"ok": True}, "missing key 'files'"),
        ("publish.json", {"index": "x", "upload_url": "u", "dry_run": False, "files": {"a": "sent"},
                          "finished": "t", "host": "h"}, "'sent' is not a valid Outcome"),
        ("plan.json", [1, 2], "expected an object, found list"),
        ("plan.json", {"written_by": "9.0", "run_id": "r1"}, "missing key"),
        ("records/pure.json", {**record.to_json(), "colour": "blue"}, "unexpected keyword argument 'colour'"),
    ]
    for name, content, said in cases:
        path = folder / name
        original = path.read_bytes() if path.exists() else None
        path.write_text(json.dumps(content))
        with pytest.raises(IntegrityError) as info:
            runs.read("r1")
        assert name in str(info.value) and said in str(info.value), str(info.value)
        result = cli("status", "recs", "1.0", "--store", f"file://{tmp_path / 'store'}")
        assert result.code == 6 and name in result.err and "Traceback" not in result.err, result.err
        if isinstance(content, dict) and "written_by" in content:
            assert "wheelship 9.0 wrote it; this is wheelship" in result.err
        path.unlink() if original is None else path.write_bytes(original)
    assert runs.read("r1").records["pure"] == record
