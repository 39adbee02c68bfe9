"""PEP 740 publish attestations, signed and verified for real.

Signing goes through a real local Sigstore (Fulcio and Rekor from npm's @sigstore/mock,
served by infra/sigstore/server.js on a free loopback port) with a token shaped like a
GitHub Actions job's; verification is offline against that Sigstore's trust root. The
`real` test verifies attestations PyPI published, against Sigstore's production root as
sigstore-python ships it, with no network.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import logging
import re
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from pypi_attestations import Attestation
from sigstore.dsse import DigestSet, StatementBuilder, Subject
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext

from pipeline import attestations, sigstore_local
from pipeline.attestations import (
    MAX_ATTESTATION_BYTES,
    PUBLISH_V1,
    AttestationInvalid,
    IdentityRejected,
    Publisher,
    Signer,
    SigningFailed,
)
from pipeline.errors import UsageError, WheelshipError
from pipeline.sigstore_local import LocalSigstore, local_sigstore, mint_identity_token
from tests.conftest import PROJECTS, UV

pytestmark = pytest.mark.integration

REPOSITORY = "acme/demo"
WORKFLOW = "release.yml"
REF = "refs/tags/v1.0.0"
PUBLISHER = Publisher(repository=REPOSITORY, workflow=WORKFLOW, environment="pypi")


@pytest.fixture(scope="module")
def sigstore_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSigstore]:
    with local_sigstore(tmp_path_factory.mktemp("sigstore")) as server:
        yield server


@pytest.fixture(scope="module")
def trust(sigstore_server: LocalSigstore) -> ClientTrustConfig:
    return attestations.load_trust_config(sigstore_server.trust_config_file)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real wheel and sdist, built from tests/projects/purepkg."""
    work = tmp_path_factory.mktemp("dists")
    shutil.copytree(PROJECTS / "purepkg", work / "purepkg")
    subprocess.run([UV, "build", "-q", "-o", str(work / "dist"), str(work / "purepkg")], check=True,
                   capture_output=True)
    (wheel,) = (work / "dist").glob("*.whl")
    (sdist,) = (work / "dist").glob("*.tar.gz")
    return wheel, sdist


@pytest.fixture(scope="module")
def token() -> str:
    return mint_identity_token(REPOSITORY, WORKFLOW, REF, sha="a" * 40, environment="pypi")


@pytest.fixture(scope="module")
def signed(dists: tuple[Path, Path], token: str, trust: ClientTrustConfig) -> dict[Path, bytes]:
    return attestations.sign_many(list(dists), token, trust)


def _refusal(dist: Path, attestation: bytes, trust: ClientTrustConfig,
             expected: Publisher = PUBLISHER) -> AttestationInvalid:
    with pytest.raises(AttestationInvalid) as caught:
        attestations.verify(dist, attestation, expected, trust)
    error = caught.value
    assert isinstance(error, WheelshipError) and error.exit_code == 5
    assert "\n" not in error.message and "Traceback" not in error.message
    return error


# --- sign, then verify ---------------------------------------------------------------------


def test_a_signed_wheel_and_sdist_verify_with_the_publishers_identity(dists, signed, trust):
    wheel = dists[0]
    for dist in dists:
        signer = attestations.verify(dist, signed[dist], PUBLISHER, trust)
        assert signer == Signer(repository=REPOSITORY, workflow=WORKFLOW, ref=REF, sha="a" * 40)
    document = json.loads(signed[wheel])
    statement = json.loads(base64.b64decode(document["envelope"]["statement"]))
    assert statement["predicateType"] == PUBLISH_V1
    assert statement["subject"] == [{"name": wheel.name,
                                     "digest": {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}}]
    # the certificate names the job's workflow, as the real Fulcio does for GitHub Actions
    certificate = x509.load_der_x509_certificate(base64.b64decode(document["verification_material"]["certificate"]))
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"https://github.com/{REPOSITORY}/.github/workflows/{WORKFLOW}@{REF}"]


def test_the_trust_configuration_comes_from_the_environment(sigstore_server, dists, signed, monkeypatch):
    monkeypatch.setenv("WHEELSHIP_SIGSTORE_TRUST_CONFIG", str(sigstore_server.trust_config_file))
    wheel = dists[0]
    assert attestations.verify(wheel, signed[wheel], PUBLISHER, attestations.trust_config()).workflow == WORKFLOW


def test_an_attestation_read_from_a_file_verifies(dists, signed, trust, tmp_path):
    wheel = dists[0]
    beside = tmp_path / (wheel.name + attestations.SUFFIX)
    beside.write_bytes(signed[wheel])
    assert attestations.verify(wheel, attestations.read_attestation(beside), PUBLISHER, trust).repository == REPOSITORY


# --- refusals --------------------------------------------------------------------------------


def test_another_workflow_or_repository_is_refused(dists, signed, trust):
    wheel = dists[0]
    error = _refusal(wheel, signed[wheel], trust, Publisher(repository=REPOSITORY, workflow="nightly.yml"))
    assert error.reason == "identity"
    assert f"signed by {REPOSITORY} workflow {WORKFLOW} at {REF}, not by {REPOSITORY} workflow nightly.yml" \
        in error.message
    error = _refusal(wheel, signed[wheel], trust, Publisher(repository="acme/other", workflow=WORKFLOW))
    assert error.reason == "identity" and "not by acme/other workflow release.yml" in error.message


def test_one_changed_byte_is_refused(dists, signed, trust, tmp_path):
    wheel = dists[0]
    changed = tmp_path / wheel.name
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0x01
    changed.write_bytes(bytes(data))
    error = _refusal(changed, signed[wheel], trust)
    assert error.reason == "file"
    assert f"names sha256 {hashlib.sha256(wheel.read_bytes()).hexdigest()}" in error.message
    assert error.hint == "the file changed after it was signed"


def test_two_files_swapped_attestations_are_refused(dists, signed, trust):
    wheel, sdist = dists
    for dist, other in ((wheel, sdist), (sdist, wheel)):
        error = _refusal(dist, signed[other], trust)
        assert error.reason == "file"
        assert f"attestation for {dist.name} names another file, {other.name!r}" == error.message


def test_a_statement_rewritten_for_changed_bytes_is_refused(dists, signed, trust, tmp_path):
    """Changing the file and the digest in the statement breaks the signature."""
    wheel = dists[0]
    changed = tmp_path / wheel.name
    changed.write_bytes(wheel.read_bytes() + b"\0")
    document = json.loads(signed[wheel])
    statement = json.loads(base64.b64decode(document["envelope"]["statement"]))
    statement["subject"][0]["digest"]["sha256"] = hashlib.sha256(changed.read_bytes()).hexdigest()
    document["envelope"]["statement"] = base64.b64encode(json.dumps(statement).encode()).decode()
    error = _refusal(changed, json.dumps(document).encode(), trust)
    assert error.reason == "signature"
    assert error.message.startswith(f"attestation for {wheel.name}: signature or transparency log entry does not verify")


def test_an_attestation_from_another_sigstore_is_refused(dists, signed, tmp_path):
    with local_sigstore(tmp_path / "other") as other:
        other_trust = attestations.load_trust_config(other.trust_config_file)
        wheel = dists[0]
        assert _refusal(wheel, signed[wheel], other_trust).reason == "signature"


def _wrong_predicate(wheel: Path, token: str, trust: ClientTrustConfig) -> bytes:
    statement = (StatementBuilder()
                 .subjects([Subject(name=wheel.name,
                                    digest=DigestSet(root={"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}))])
                 .predicate_type("https://slsa.dev/provenance/v1")
                 .build())
    with SigningContext.from_trust_config(trust).signer(IdentityToken(token)) as signer:
        bundle = signer.sign_dsse(statement)
    return Attestation.from_bundle(bundle).model_dump_json().encode()


@pytest.mark.parametrize(("case", "expected"), [
    ("huge", f"larger than {MAX_ATTESTATION_BYTES} bytes; not an attestation"),
    ("binary", "not JSON"),
    ("truncated", "not JSON"),
    ("deep", "not JSON"),
    ("array", "a JSON list, not an object"),
    ("empty object", "not a PEP 740 attestation: version: Field required (and 2 more)"),
    ("bad certificate", "unreadable signing certificate"),
    ("wrong predicate", "predicate type 'https://slsa.dev/provenance/v1', not a PyPI publish attestation"),
])
def test_a_hostile_attestation_file_is_refused_with_a_clear_error(case, expected, dists, signed, token, trust,
                                                                  tmp_path):
    wheel = dists[0]
    good = json.loads(signed[wheel])
    contents = {
        "huge": lambda: b" " * (MAX_ATTESTATION_BYTES + 1),
        "binary": lambda: b"\x00\xff\xfe garbage",
        "truncated": lambda: signed[wheel][:200],
        "deep": lambda: b"[" * 100_000 + b"]" * 100_000,
        "array": lambda: b"[]",
        "empty object": lambda: b"{}",
        "bad certificate": lambda: json.dumps(
            {**good, "verification_material": {**good["verification_material"], "certificate": "%%%"}}).encode(),
        "wrong predicate": lambda: _wrong_predicate(wheel, token, trust),
    }[case]()
    path = tmp_path / (wheel.name + attestations.SUFFIX)
    path.write_bytes(contents)
    with pytest.raises(AttestationInvalid) as caught:
        attestations.verify(wheel, attestations.read_attestation(path), PUBLISHER, trust)
    error = caught.value
    assert error.reason == "malformed"
    assert expected in error.message, error.message
    # one line, and no chained exception for the edge to print under it
    assert "\n" not in error.message and error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


# --- identity ----------------------------------------------------------------------------------


def test_the_identity_claims_are_read_from_the_token(token):
    claims = attestations.identity_claims(token)
    assert (claims.repository, claims.workflow, claims.job_workflow, claims.ref, claims.environment) == (
        REPOSITORY, WORKFLOW, WORKFLOW, REF, "pypi")
    attestations.identity_preflight(claims, PUBLISHER)  # the same workflow: nothing to say


def test_a_reusable_workflow_is_refused_before_signing_naming_both_files():
    token = mint_identity_token(REPOSITORY, WORKFLOW, REF, environment="pypi",
                                job_workflow_ref=f"{REPOSITORY}/.github/workflows/publish.yml@{REF}")
    with pytest.raises(IdentityRejected) as caught:
        attestations.identity_preflight(attestations.identity_claims(token))
    error = caught.value
    assert error.exit_code == 2
    assert ("this publish job is defined in the reusable workflow publish.yml "
            f"({REPOSITORY}/.github/workflows/publish.yml@{REF}), called from release.yml") in error.message
    assert "PyPI looks the trusted publisher up by publish.yml, but the attestation's certificate names release.yml" \
        in error.message
    assert error.hint is not None
    assert (f"move the publish job into release.yml itself and configure PyPI's trusted publisher as repository "
            f"{REPOSITORY}, workflow release.yml, environment pypi") in error.hint
    assert 'attestations = "off"' in error.hint


def test_a_token_for_another_publisher_is_refused_before_signing(token):
    with pytest.raises(IdentityRejected) as caught:
        attestations.identity_preflight(attestations.identity_claims(token),
                                        Publisher(repository=REPOSITORY, workflow="publish.yml"))
    assert caught.value.message == ("this job signs as acme/demo workflow release.yml, but the trusted publisher "
                                    "expected is acme/demo workflow publish.yml")


def test_a_token_that_is_not_github_s_is_refused():
    with pytest.raises(IdentityRejected, match="not a JWT"):
        attestations.identity_claims("not-a-token")
    other = jwt.encode({"iss": "https://gitlab.com", "aud": "sigstore", "sub": "x"}, "k" * 32, algorithm="HS256")
    with pytest.raises(IdentityRejected, match=re.escape("comes from 'https://gitlab.com', not GitHub Actions")):
        attestations.identity_claims(other)


def test_an_installed_wheelship_without_its_repository_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(sigstore_local, "INFRA", tmp_path / "infra" / "sigstore")
    with pytest.raises(UsageError) as caught:
        LocalSigstore(tmp_path / "server").start()
    assert "the local Sigstore needs wheelship's repository" in caught.value.message
    assert caught.value.hint == "run the sandbox or the tests from a clone of wheelship's repository"


def test_an_expired_token_is_refused_before_anything_is_signed(dists, trust):
    expired = mint_identity_token(REPOSITORY, WORKFLOW, REF, lifetime=-60)
    with pytest.raises(IdentityRejected, match="cannot be used for signing"):
        attestations.sign(dists[0], expired, trust)


def test_sigstore_down_is_a_signing_failure_that_never_shows_the_token(dists, token, tmp_path, caplog):
    with local_sigstore(tmp_path / "gone") as gone:
        down_trust = attestations.load_trust_config(gone.trust_config_file)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SigningFailed) as caught:
        attestations.sign(dists[0], token, down_trust)
    assert caught.value.message.startswith("signing with Sigstore failed: ")
    assert token not in caught.value.message and token not in caplog.text
    assert token.split(".")[1] not in caplog.text


def test_the_sandbox_identity_overrides_detection(token, monkeypatch):
    monkeypatch.setenv("WHEELSHIP_SIGSTORE_IDENTITY_TOKEN", token)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert attestations.ambient_identity() == token


def test_no_identity_off_ci_and_a_clear_error_without_id_token_permission(monkeypatch):
    for key in ("WHEELSHIP_SIGSTORE_IDENTITY_TOKEN", "GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GOOGLE_SERVICE_ACCOUNT_NAME", "BUILDKITE", "GITLAB_CI",
                "CIRCLECI"):
        monkeypatch.delenv(key, raising=False)
    assert attestations.ambient_identity() is None
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with pytest.raises(IdentityRejected) as caught:
        attestations.ambient_identity()
    assert caught.value.hint == "give the publish job `permissions: id-token: write`"


def test_a_github_job_s_identity_is_requested_and_signs(dists, token, trust, monkeypatch):
    """GitHub's token endpoint (a stand-in on loopback) is asked for audience sigstore."""
    asked: list[str] = []

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"value": token}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("WHEELSHIP_SIGSTORE_IDENTITY_TOKEN", raising=False)
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"http://127.0.0.1:{server.server_port}/token?x=1")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token")
        identity = attestations.ambient_identity()
    finally:
        server.shutdown()
        server.server_close()
    assert identity == token and asked and "audience=sigstore" in asked[0]
    wheel = dists[0]
    assert attestations.verify(wheel, attestations.sign(wheel, identity, trust), PUBLISHER, trust).ref == REF


# --- real attestations PyPI published -----------------------------------------------------------

#: pypi-attestations' sdist on PyPI carries its test assets: real files and their attestations.
PYPI_ATTESTATIONS_SDIST = {
    "project": "pypi-attestations",
    "version": "0.0.30",
    "filename": "pypi_attestations-0.0.30.tar.gz",
    "url": "https://files.pythonhosted.org/packages/97/1e/eb8a0233cdcaf01acb18076ac8b8a057714177b3717baf26b78a11b8d929/"
           "pypi_attestations-0.0.30.tar.gz",
    "sha256": "14ff13c76bbef02a483c2b77532da02bfd746b5141b881f355e06b9807434423",
}
ASSETS = {
    "pypi_attestations-0.0.19.tar.gz": "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3",
    "pypi_attestations-0.0.19.tar.gz.publish.attestation":
        "844a2b5de95ba18ef284bdc5434fad63b8274e4d81e5831978d68002428110b7",
    "pypi_attestations-0.0.19.tar.gz.slsa.attestation":
        "70258bb8e63a1f81cc5e5e58ddc3f26f5c314634c0a3c760c16d8872dc36f538",
    "rfc8785-0.1.2-py3-none-any.whl": "c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201",
}


def _real_assets() -> dict[str, Path]:
    """The assets, extracted once from the pinned sdist into the corpus cache, each checked by hash."""
    from tests.corpus import CACHE, fetch

    folder = CACHE / "pypi-attestations-assets"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ASSETS}
    if not all(path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == ASSETS[name]
               for name, path in paths.items()):
        sdist = fetch(PYPI_ATTESTATIONS_SDIST)
        prefix = "pypi_attestations-0.0.30/test/assets/"
        with tarfile.open(sdist) as archive:
            for name in ASSETS:
                member = archive.extractfile(prefix + name)
                assert member is not None
                data = member.read()
                assert hashlib.sha256(data).hexdigest() == ASSETS[name], name
                paths[name].write_bytes(data)
    return paths


@pytest.mark.real
def test_real_pypi_attestations_verify_offline_against_sigstores_production_root(tmp_path, monkeypatch):
    paths = _real_assets()
    # a fresh sigstore-python cache: only the production root it ships, and no network needed
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("WHEELSHIP_SIGSTORE_TRUST_CONFIG", raising=False)
    production = attestations.trust_config()
    sdist = paths["pypi_attestations-0.0.19.tar.gz"]
    attestation = attestations.read_attestation(paths["pypi_attestations-0.0.19.tar.gz.publish.attestation"])
    expected = Publisher(repository="trailofbits/pypi-attestations", workflow="release.yml")

    signer = attestations.verify(sdist, attestation, expected, production)
    assert signer == Signer(repository="trailofbits/pypi-attestations", workflow="release.yml",
                            ref="refs/tags/v0.0.19", sha=signer.sha)
    assert signer.sha is not None and len(signer.sha) == 40

    refused = [
        (sdist, attestation, Publisher(repository="trailofbits/pypi-attestations", workflow="ci.yml"), "identity"),
        (paths["rfc8785-0.1.2-py3-none-any.whl"], attestation, expected, "file"),
        (sdist, attestations.read_attestation(paths["pypi_attestations-0.0.19.tar.gz.slsa.attestation"]), expected,
         "malformed"),
    ]
    for dist, raw, publisher, reason in refused:
        with pytest.raises(AttestationInvalid) as caught:
            attestations.verify(dist, raw, publisher, production)
        assert caught.value.reason == reason, caught.value.message
    # the local Sigstore's root does not vouch for production's signatures
    with local_sigstore(tmp_path / "local") as local:
        with pytest.raises(AttestationInvalid) as caught:
            attestations.verify(sdist, attestation, expected, attestations.load_trust_config(local.trust_config_file))
        assert caught.value.reason == "signature"
