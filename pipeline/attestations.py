"""PEP 740 publish attestations: signing each file once, and verifying one offline.

An attestation is the JSON object PyPI's upload API takes in its ``attestations`` field:
a Sigstore signature over an in-toto statement that names one file (its name and SHA-256)
with the predicate type ``https://docs.pypi.org/attestations/publish/v1``, the signing
certificate Fulcio issued for the job's OIDC identity, and the Rekor entry that logged it.
Signing and verifying use sigstore-python and pypi-attestations, as pypa's publish action
does, against the Sigstore named by ``WHEELSHIP_SIGSTORE_TRUST_CONFIG`` (a trust
configuration file, such as the sandbox's local Sigstore writes) or, without it, Sigstore's
production instance.

An attestation read back (from a store, an index, a folder) is input from someone else:
it is read under a size limit, parsed as JSON and checked against the PEP 740 model before
any field is used, and a bad one is an `AttestationInvalid` naming what is wrong, never a
traceback. No identity token is ever logged or put in a message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydantic
import sigstore.errors
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from pypi_attestations import Attestation, Distribution, GitHubPublisher
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier
from sigstore.verify.policy import VerificationPolicy

from pipeline.errors import PublishFailed, UsageError, VerificationFailed
from pipeline.records import sha256_of
from pipeline.signing_identity import (
    IDENTITY_TOKEN_ENV,
    Claims,
    IdentityRejected,
    Publisher,
    ambient_identity,
    identity_claims,
    identity_preflight,
    workflow_file,
)

# The identity half of the API lives in pipeline.signing_identity; callers may use either.
__all__ = [
    "IDENTITY_TOKEN_ENV", "MAX_ATTESTATION_BYTES", "PUBLISH_V1", "SUFFIX", "TRUST_CONFIG_ENV", "AttestationInvalid",
    "Claims", "IdentityRejected", "Publisher", "Signer", "SigningFailed", "ambient_identity", "claimed_signer",
    "identity_claims",
    "identity_preflight", "load_trust_config", "parse_attestation", "read_attestation", "sign", "sign_many",
    "trust_config", "verify",
]

log = logging.getLogger(__name__)

PUBLISH_V1 = "https://docs.pypi.org/attestations/publish/v1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"
TRUST_CONFIG_ENV = "WHEELSHIP_SIGSTORE_TRUST_CONFIG"
#: Beside each file, as pypa's action, twine and `wheelship fetch` name it.
SUFFIX = ".publish.attestation"
#: A real attestation is 5-15 KB (one certificate, one log entry and its proof).
MAX_ATTESTATION_BYTES = 256 * 1024
MAX_TRUST_CONFIG_BYTES = 1024 * 1024

# The certificate extensions Fulcio writes from a GitHub Actions token.
_SOURCE_REPOSITORY_URI = "1.3.6.1.4.1.57264.1.12"
_SOURCE_REPOSITORY_DIGEST = "1.3.6.1.4.1.57264.1.13"
_SOURCE_REPOSITORY_REF = "1.3.6.1.4.1.57264.1.14"
_BUILD_CONFIG_URI = "1.3.6.1.4.1.57264.1.18"


class AttestationInvalid(VerificationFailed):
    """An attestation is malformed, is not for this file, or was not made by the expected identity.

    `reason` is one of "malformed", "file", "identity", "signature".
    """

    title = "attestation invalid"

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class SigningFailed(PublishFailed):
    """Sigstore refused or could not be reached while signing."""

    title = "signing failed"


@dataclass(frozen=True, kw_only=True)
class Signer:
    """Who signed an attestation, as its (verified) certificate says."""

    repository: str
    workflow: str
    ref: str
    sha: str | None = None

    def describe(self) -> str:
        return f"{self.repository} workflow {self.workflow} at {self.ref}"


# --- trust -------------------------------------------------------------------------------


def trust_config(*, refresh: bool = False) -> ClientTrustConfig:
    """The Sigstore to sign and verify with: ``WHEELSHIP_SIGSTORE_TRUST_CONFIG``'s file, or
    Sigstore's production instance.

    Production comes from sigstore-python's TUF cache, seeded from the root it ships:
    offline unless `refresh`, which updates it from ``tuf-repo-cdn.sigstore.dev`` (do so
    before signing on CI, where the network is there). Raises `UsageError` when the file
    is missing or not a trust configuration, or the production root cannot be loaded.
    """
    configured = os.environ.get(TRUST_CONFIG_ENV)
    if configured:
        return load_trust_config(Path(configured))
    try:
        with _quiet("sigstore._internal.tuf"):  # it warns on every offline load
            return ClientTrustConfig.production(offline=not refresh)
    except (sigstore.errors.Error, OSError, ValueError) as exc:
        raise UsageError(f"cannot load Sigstore's production trust root: {exc}",
                         hint=f"set {TRUST_CONFIG_ENV} to a trust configuration file, or retry with network") from None


def load_trust_config(path: Path) -> ClientTrustConfig:
    """A ``ClientTrustConfig`` JSON file (trusted root and signing configuration)."""
    where = f"{TRUST_CONFIG_ENV}={path}"
    try:
        raw = _read_limited(path, MAX_TRUST_CONFIG_BYTES)
    except OSError as exc:
        raise UsageError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    if raw is None:
        raise UsageError(f"{where}: larger than {MAX_TRUST_CONFIG_BYTES} bytes, not a trust configuration")
    try:
        return ClientTrustConfig.from_json(raw.decode("utf-8"))
    except Exception as exc:  # protobuf and sigstore raise a variety for a bad file
        raise UsageError(f"{where}: not a Sigstore client trust configuration: {exc}") from None


# --- signing -----------------------------------------------------------------------------


def sign(dist: Path, identity_token: str, trust: ClientTrustConfig) -> bytes:
    """The publish attestation of `dist` (JSON bytes), signed with `identity_token`.

    Raises `IdentityRejected` for an unusable token, `SigningFailed` when Sigstore refuses
    or cannot be reached.
    """
    return sign_many([dist], identity_token, trust)[dist]


def sign_many(dists: Sequence[Path], identity_token: str, trust: ClientTrustConfig) -> dict[Path, bytes]:
    """The publish attestation of each of `dists`, under one signing certificate."""
    token = _identity_token(identity_token)
    attestations: dict[Path, bytes] = {}
    try:
        context = SigningContext.from_trust_config(trust)
        with context.signer(token, cache=True) as signer:
            for dist in dists:
                try:
                    distribution = Distribution.from_file(dist)
                except pydantic.ValidationError:
                    raise UsageError(f"{dist.name}: not a wheel or sdist file name; nothing signed") from None
                attestation = Attestation.sign(signer, distribution)
                attestations[dist] = attestation.model_dump_json().encode()
                log.info("signed %s (sha256 %s)", dist.name, distribution.digest)
    except UsageError:
        raise
    except Exception as exc:  # sigstore, pypi-attestations and requests: all mean "not signed"
        message = str(exc).replace(identity_token, "<token>")
        raise SigningFailed(f"signing with Sigstore failed: {type(exc).__name__}: {message}",
                            hint="nothing was uploaded; rerun the publish job") from None
    return attestations


def _identity_token(raw: str) -> IdentityToken:
    try:
        return IdentityToken(raw)
    except sigstore.errors.Error as exc:
        raise IdentityRejected(f"the OIDC identity token cannot be used for signing: {exc}",
                               hint="on GitHub Actions, the publish job needs `permissions: id-token: write`") from None


# --- verifying ---------------------------------------------------------------------------


def read_attestation(path: Path) -> bytes:
    """An attestation file's bytes, refusing one over `MAX_ATTESTATION_BYTES`."""
    try:
        raw = _read_limited(path, MAX_ATTESTATION_BYTES)
    except OSError as exc:
        raise AttestationInvalid(f"{path.name}: cannot read it: {exc.strerror or exc}", reason="malformed") from None
    if raw is None:
        raise AttestationInvalid(f"{path.name}: larger than {MAX_ATTESTATION_BYTES} bytes; not an attestation",
                                 reason="malformed")
    return raw


def verify(dist: Path, attestation: bytes, expected: Publisher, trust: ClientTrustConfig) -> Signer:
    """Check `attestation` against the file `dist` and the identity `expected`, offline.

    Returns who signed it. Raises `AttestationInvalid` when the attestation is malformed,
    its signature or log entry does not verify against `trust`, it was signed by another
    repository or workflow ("identity"), or it names another file or other bytes ("file").
    """
    name = dist.name
    parsed = parse_attestation(attestation, name)
    signer = _signer_of(parsed, name)
    policy = GitHubPublisher(repository=expected.repository, workflow=expected.workflow)._as_policy()
    try:
        bundle = parsed.to_bundle()
    except Exception as exc:  # a log entry or certificate that does not make a bundle: malformed, not "identity"
        raise AttestationInvalid(f"attestation for {name}: not a Sigstore bundle ({' '.join(str(exc).split())[:200]})",
                                 reason="malformed") from None
    try:
        payload_type, payload = Verifier(trusted_root=trust.trusted_root).verify_dsse(bundle, policy)
    except Exception as exc:  # hostile input reaches deep into sigstore: every failure is a refusal
        raise _refusal(name, parsed, signer, expected, policy, exc) from None
    if payload_type != DSSE_PAYLOAD_TYPE:
        raise AttestationInvalid(f"attestation for {name}: payload type {payload_type!r}, not an in-toto statement",
                                 reason="malformed")
    _check_statement(dist, payload)
    return signer


def parse_attestation(raw: bytes, name: str = "attestation") -> Attestation:
    """A PEP 740 attestation from JSON bytes, validated before any field is used."""
    if len(raw) > MAX_ATTESTATION_BYTES:
        raise AttestationInvalid(f"attestation for {name}: {len(raw)} bytes, over the limit of "
                                 f"{MAX_ATTESTATION_BYTES}; not an attestation", reason="malformed")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AttestationInvalid(f"attestation for {name}: not JSON ({exc})", reason="malformed") from None
    if not isinstance(document, dict):
        raise AttestationInvalid(f"attestation for {name}: a JSON {type(document).__name__}, not an object",
                                 reason="malformed")
    try:
        return Attestation.model_validate(document)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise AttestationInvalid(f"attestation for {name}: not a PEP 740 attestation: {where}: {first['msg']}"
                                 + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""),
                                 reason="malformed") from None


def claimed_signer(raw: bytes, name: str) -> Signer:
    """Who an attestation's certificate says signed it, before anything is verified: the
    identity `verify` then holds it to, where no other is expected (a file checked alone)."""
    return _signer_of(parse_attestation(raw, name), name)


def _signer_of(attestation: Attestation, name: str) -> Signer:
    """Who the certificate says signed (not yet verified: for messages, until it is)."""
    try:
        claims = attestation.certificate_claims
    except Exception as exc:  # a certificate that does not parse
        raise AttestationInvalid(f"attestation for {name}: unreadable signing certificate ({exc})",
                                 reason="malformed") from None
    build_config = claims.get(_BUILD_CONFIG_URI, "")
    repository = claims.get(_SOURCE_REPOSITORY_URI, "").removeprefix("https://github.com/")
    workflow_ref = build_config.removeprefix("https://github.com/")
    ref = claims.get(_SOURCE_REPOSITORY_REF) or workflow_ref.partition("@")[2]
    return Signer(repository=repository or "(unknown repository)",
                  workflow=workflow_file(workflow_ref) if workflow_ref else "(unknown workflow)",
                  ref=ref or "(unknown ref)", sha=claims.get(_SOURCE_REPOSITORY_DIGEST))


def _refusal(name: str, attestation: Attestation, signer: Signer, expected: Publisher, policy: VerificationPolicy,
             exc: Exception) -> AttestationInvalid:
    """The error for a bundle that did not verify: the identity's, when it is the identity."""
    try:
        policy.verify(attestation.to_bundle().signing_certificate)
    except Exception:
        return AttestationInvalid(
            f"attestation for {name} was signed by {signer.describe()}, not by {expected.describe()}",
            reason="identity",
            hint="the expected identity is the repository and workflow file of PyPI's trusted publisher")
    detail = " ".join(str(exc).split())[:300]
    return AttestationInvalid(f"attestation for {name}: signature or transparency log entry does not verify: {detail}",
                              reason="signature", hint="the attestation was altered, or comes from another Sigstore")


def _check_statement(dist: Path, payload: bytes) -> None:
    """The verified statement names exactly this file, with these bytes, as a PyPI publish."""
    name = dist.name
    try:
        statement = json.loads(payload)
        subjects = statement["subject"]
        kind, predicate_type = statement["_type"], statement["predicateType"]
        (subject,) = subjects
        subject_name, digest = subject["name"], subject["digest"]["sha256"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise AttestationInvalid(f"attestation for {name}: its statement is not one in-toto statement "
                                 "about one file", reason="malformed") from None
    if kind != STATEMENT_V1:
        raise AttestationInvalid(f"attestation for {name}: statement type {kind!r}, expected {STATEMENT_V1}",
                                 reason="malformed")
    if predicate_type != PUBLISH_V1:
        raise AttestationInvalid(f"attestation for {name}: predicate type {predicate_type!r}, not a PyPI publish "
                                 f"attestation ({PUBLISH_V1})", reason="malformed")
    if not isinstance(subject_name, str) or not _same_dist(subject_name, name):
        raise AttestationInvalid(f"attestation for {name} names another file, {subject_name!r}", reason="file",
                                 hint="each file needs its own attestation; were two attestations swapped?")
    actual = sha256_of(dist)
    if digest != actual:
        raise AttestationInvalid(f"attestation for {name} names sha256 {digest}, the file has {actual}",
                                 reason="file", hint="the file changed after it was signed")


def _same_dist(a: str, b: str) -> bool:
    """The same distribution file: equal names, or names that parse to the same thing."""
    if a == b:
        return True
    for parse in (parse_wheel_filename, parse_sdist_filename):
        try:
            return bool(parse(a) == parse(b))
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
    return False


# --- helpers -----------------------------------------------------------------------------


def _read_limited(path: Path, limit: int) -> bytes | None:
    """At most `limit` bytes of `path`; None when it holds more."""
    with path.open("rb") as fh:
        raw = fh.read(limit + 1)
    return None if len(raw) > limit else raw


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
