"""PEP 740 attestations through a whole release, against the sandbox's local Sigstore:
signed once in the publishing process, kept in the run, sent with each upload,
written beside each file by `fetch`, verified by `check`, `verify` and `publish`."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from pipeline.sandbox import SANDBOX_IDENTITY
from tests.conftest import BUILDSPECS, copy_project, index_files

pytestmark = pytest.mark.integration

SIGNER = f"{SANDBOX_IDENTITY[0]} workflow {SANDBOX_IDENTITY[1]}"


def _released(cli, sandbox_env, tmp_path, *extra):  # type: ignore[no-untyped-def]
    project = copy_project("purepkg", tmp_path)
    store = f"file://{tmp_path / 'store'}"
    result = cli("release", project, "--tag", "v1.0.0", "--spec", BUILDSPECS / "purepkg.toml", "--store", store,
                 "--json", tmp_path / "report.json", *extra)
    return result, store


def _run_folder(tmp_path: Path) -> Path:
    return next((tmp_path / "store").rglob("plan.json")).parent


def test_a_release_signs_every_file_once_and_fetch_and_check_prove_it(cli, sandbox_env, tmp_path):
    result, store = _released(cli, sandbox_env, tmp_path)
    assert result.code == 0, result.err
    run = _run_folder(tmp_path)
    record = json.loads((run / "attestations.json").read_text())
    dists = sorted(index_files(sandbox_env, "pypi"))
    assert sorted(record["files"]) == dists and len(dists) == 2
    assert record["signer"] == {"repository": SANDBOX_IDENTITY[0], "workflow": SANDBOX_IDENTITY[1],
                                "ref": SANDBOX_IDENTITY[2]}
    published = json.loads((run / "publish.json").read_text())
    assert published["attestations"] == record["files"]  # each attestation's SHA-256, sent with its file

    out = tmp_path / "out"
    fetched = cli("fetch", "wheelship-demo-pure", "1.0.0", "--store", store, "-o", out)
    assert fetched.code == 0, fetched.err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*dists, *(f"{d}.publish.attestation" for d in dists), "SHA256SUMS", "wheelship-demo-pure-1.0.0.cdx.json"])
    # the SBOM: valid CycloneDX 1.6, naming every file with its SHA-256
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    document = (out / "wheelship-demo-pure-1.0.0.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None
    files = {c["name"]: c["hashes"][0]["content"] for c in json.loads(document)["components"] if c["type"] == "file"}
    assert files == {d: hashlib.sha256((out / d).read_bytes()).hexdigest() for d in dists}
    assert "twine upload --attestations" in fetched.err
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert sums.returncode == 0 and sums.stdout.count(": OK") == 2

    checked = cli("check", *sorted(out.iterdir()), "--json", tmp_path / "check.json")
    assert checked.code == 0, checked.err
    assert checked.err.count(f"attestation verified, signed by {SIGNER}") == 2
    assert set(json.loads((tmp_path / "check.json").read_text())["attestations"]) == set(dists)

    # Two files' attestations swapped: each names the other file.
    wheel, sdist = (out / f"{d}.publish.attestation" for d in sorted(dists, key=lambda d: d.endswith(".gz")))
    swapped = tmp_path / "swapped"
    shutil.copytree(out, swapped)
    (swapped / wheel.name).write_bytes(sdist.read_bytes())
    (swapped / sdist.name).write_bytes(wheel.read_bytes())
    refused = cli("check", *sorted(swapped.iterdir()))
    assert refused.code == 5 and refused.err.count("WS701") == 2

    # One byte of a file changed: its attestation (and SHA256SUMS) no longer match.
    changed = tmp_path / "changed"
    shutil.copytree(out, changed)
    target = changed / sorted(dists)[0]
    data = bytearray(target.read_bytes())
    data[-1] ^= 1
    target.write_bytes(bytes(data))
    refused = cli("check", *sorted(changed.iterdir()))
    assert refused.code == 5 and "WS701" in refused.err and "WS702" in refused.err


def test_publishing_the_same_run_again_signs_nothing_new(cli, sandbox_env, tmp_path):
    dry, _ = _released(cli, sandbox_env, tmp_path / "dry", "--dry-run")
    assert dry.code == 0, dry.err
    assert not (_run_folder(tmp_path / "dry") / "attestations.json").exists()  # a dry run signs nothing
    real, _ = _released(cli, sandbox_env, tmp_path / "again")
    assert real.code == 0, real.err
    run = _run_folder(tmp_path / "again")
    before = (run / "attestations.json").read_bytes()
    attestations = {p.name: p.read_bytes() for p in (run / "attestations").iterdir()}
    again = cli("publish", "wheelship-demo-pure", "1.0.0", "--store", f"file://{tmp_path / 'again' / 'store'}",
                "--run-id", run.name, "--index", "testpypi")
    assert again.code == 0, again.err
    for dist in attestations:  # nothing signed: the run's attestations reused
        assert f"signed {dist.removesuffix('.publish.attestation')} " not in again.err
    assert "signed 2 file(s)" in real.err and "signed" not in again.err
    assert "2 attestation(s) verified" in again.err
    assert (run / "attestations.json").read_bytes() == before
    assert {p.name: p.read_bytes() for p in (run / "attestations").iterdir()} == attestations
    assert sorted(index_files(sandbox_env, "testpypi")) == sorted(index_files(sandbox_env, "pypi"))


def test_always_without_an_identity_is_a_usage_error_before_any_upload(cli, sandbox_env, tmp_path, monkeypatch):
    monkeypatch.delenv("WHEELSHIP_SIGSTORE_IDENTITY_TOKEN")
    spec = tmp_path / "always.toml"
    spec.write_text((BUILDSPECS / "purepkg.toml").read_text().replace("[publish]", '[publish]\nattestations = "always"'))
    project = copy_project("purepkg", tmp_path)
    result = cli("release", project, "--tag", "v1.0.0", "--spec", spec, "--store", f"file://{tmp_path / 'store'}")
    assert result.code == 2 and 'attestations = "always"' in result.err and "Traceback" not in result.err
    assert index_files(sandbox_env, "pypi") == {}


def test_a_stored_attestation_changed_in_the_store_stops_verify_and_publish(cli, sandbox_env, tmp_path):
    result, store = _released(cli, sandbox_env, tmp_path)
    assert result.code == 0, result.err
    run = _run_folder(tmp_path)
    stored = sorted((run / "attestations").iterdir())
    stored[0].write_bytes(stored[1].read_bytes())  # another file's attestation, under this file's name
    verified = cli("verify", "wheelship-demo-pure", "1.0.0", "--store", store, "--run-id", run.name)
    assert verified.code == 6 and "does not match its record" in verified.err
    # the record rewritten to match: the signature check itself refuses it
    record = json.loads((run / "attestations.json").read_text())
    name = stored[0].name.removesuffix(".publish.attestation")
    record["files"][name] = hashlib.sha256(stored[0].read_bytes()).hexdigest()
    (run / "attestations.json").write_text(json.dumps(record))
    again = cli("publish", "wheelship-demo-pure", "1.0.0", "--store", store, "--run-id", run.name,
                "--index", "testpypi")
    assert again.code == 5 and "attestation for" in again.err
    assert index_files(sandbox_env, "testpypi") == {}


class _Recorder(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Recorder.bodies.append((self.headers["Content-Type"], self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()


def test_the_upload_carries_the_attestation_as_twine_sends_it(tmp_path):
    from pipeline.index import Index
    from pipeline.indexes import IndexConfig
    from pipeline.records import sha256_of
    from tests.distfactory import make_wheel

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        index = Index(IndexConfig(name="local", upload_url=url, simple_url=url + "simple/", password_env="X"), None)
        wheel = make_wheel(tmp_path, "demo", "1.0", "py3-none-any")
        attestation = b'{"version": 1, "verification_material": {}, "envelope": {}}\n'
        index.upload(wheel, sha256_of(wheel), attestation)
    finally:
        server.shutdown()
        server.server_close()
    content_type, body = _Recorder.bodies[-1]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
    sent = json.loads(fields["attestations"].get_content())
    assert sent == [json.loads(attestation)]  # a list of one: the publish attestation


def test_github_release_holds_every_file_sums_sbom_and_attestations(cli, sandbox_env, tmp_path, monkeypatch):
    from pipeline import ghstandin

    result, store = _released(cli, sandbox_env, tmp_path)
    assert result.code == 0, result.err
    releases = tmp_path / "releases"
    shim = ghstandin.write_shim(tmp_path / "bin", releases)
    monkeypatch.setenv("PATH", f"{shim.parent}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("GH_TOKEN", "ghs_" + "x" * 36)
    monkeypatch.setenv("GITHUB_REPOSITORY", "me/purepkg")
    made = cli("github-release", "wheelship-demo-pure", "1.0.0", "--store", store, "--tag", "v1.0.0",
               "--json", tmp_path / "release.json")
    assert made.code == 0, made.err
    (release,) = ghstandin.releases(releases, "me/purepkg")
    assert release["draft"] is False and release["tag_name"] == "v1.0.0"
    names = {a["name"] for a in release["assets"]}
    dists = set(index_files(sandbox_env, "pypi"))
    assert names == {*dists, *(f"{d}.publish.attestation" for d in dists), "SHA256SUMS",
                     "wheelship-demo-pure-1.0.0.cdx.json"}
    summary = json.loads((tmp_path / "release.json").read_text())["github_release"]
    assert summary["tag"] == "v1.0.0" and summary["draft"] is False and len(summary["assets"]) == len(names)
    # again: nothing uploaded twice
    assert cli("github-release", "wheelship-demo-pure", "1.0.0", "--store", store).code == 0
    assert sorted(ghstandin.upload_log(releases, "me/purepkg")) == sorted(names)


def test_github_release_waits_for_a_publish(cli, sandbox_env, tmp_path, monkeypatch):
    result, store = _released(cli, sandbox_env, tmp_path, "--dry-run")
    assert result.code == 0, result.err
    monkeypatch.setenv("GITHUB_REPOSITORY", "me/purepkg")
    run = _run_folder(tmp_path).name
    refused = cli("github-release", "wheelship-demo-pure", "1.0.0", "--store", store, "--run-id", run)
    assert refused.code == 2 and "dry run" in refused.err and "Traceback" not in refused.err


def test_copy_never_carries_what_only_the_publishing_process_writes(cli, sandbox_env, tmp_path, monkeypatch):
    """A folder store written by jobs that ran project code may hold a planted publish
    record and attestations: copy takes neither, so neither passes for the publish job's."""
    result, store = _released(cli, sandbox_env, tmp_path)
    assert result.code == 0, result.err
    run = _run_folder(tmp_path)
    published = json.loads((run / "publish.json").read_text())
    published["files"] = {}  # a forged record: "published", naming nothing
    (run / "publish.json").write_text(json.dumps(published))
    target = f"file://{tmp_path / 'target'}"
    copied = cli("copy", "wheelship-demo-pure", "1.0.0", "--from", store, "--store", target, "--run-id", run.name)
    assert copied.code == 0, copied.err
    kept = next((tmp_path / "target").rglob("plan.json")).parent
    assert not (kept / "publish.json").exists() and not (kept / "attestations.json").exists()
    assert (kept / "verify.json").exists() and (kept / "sbom.json").exists()
    # the forged record itself is no publish for github-release
    monkeypatch.setenv("GITHUB_REPOSITORY", "me/purepkg")
    refused = cli("github-release", "wheelship-demo-pure", "1.0.0", "--store", store, "--run-id", run.name)
    assert refused.code == 2 and "not published" in refused.err


@pytest.mark.parametrize(("sbom", "expected"), [
    ({"components": [{"type": "file", "name": "demo-1.0-py3-none-any.whl", "hashes": None}]}, "gives sha256 None"),
    ({"components": [{"type": "file", "name": "demo-1.0-py3-none-any.whl", "hashes": [{"alg": ["x"]}]}]},
     "gives sha256 None"),
    ({}, "not named in"),
    ([], "not a CycloneDX JSON document"),
])
def test_a_hostile_release_sbom_beside_the_files_is_a_finding_never_a_crash(cli, tmp_path, sbom, expected):
    from tests.distfactory import make_wheel

    wheel = make_wheel(tmp_path, "demo", "1.0", "py3-none-any")
    (tmp_path / "demo-1.0.cdx.json").write_text(json.dumps(sbom))
    result = cli("check", wheel, tmp_path / "demo-1.0.cdx.json")
    assert result.code == 5 and "WS702" in result.err and expected in result.err, result.err
    assert "internal error" not in result.err


def test_a_job_of_another_workflow_neither_adds_to_nor_sends_a_runs_attestations(cli, sandbox_env, tmp_path,
                                                                                   monkeypatch):
    from pipeline.sigstore_local import mint_identity_token

    result, store = _released(cli, sandbox_env, tmp_path)
    assert result.code == 0, result.err
    run = _run_folder(tmp_path)
    monkeypatch.setenv("WHEELSHIP_SIGSTORE_IDENTITY_TOKEN",
                       mint_identity_token(SANDBOX_IDENTITY[0], "other.yml", "refs/tags/v1.0.0"))
    refused = cli("publish", "wheelship-demo-pure", "1.0.0", "--store", store, "--run-id", run.name,
                  "--index", "testpypi")
    assert refused.code == 5 and "other.yml" in refused.err and SANDBOX_IDENTITY[1] in refused.err
    assert index_files(sandbox_env, "testpypi") == {}
