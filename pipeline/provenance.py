"""What a run keeps beside its files to prove them: each file's PEP 740 attestation and
the release's SBOM, each with a record that names it by SHA-256.

    RUN/attestations.json                       signer, and each attestation's SHA-256
    RUN/attestations/<dist>.publish.attestation one per file, signed once
    RUN/sbom.json                               the SBOM's name, SHA-256 and size
    RUN/sbom/<name>-<version>.cdx.json          the CycloneDX document

Like every record, these are read back as input written by someone else: every name
must be a file of the run, every hash SHA-256 hex, every object under its limit and
equal to its recorded hash before it is used.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from packaging.utils import canonicalize_name

from pipeline import validation
from pipeline.errors import IntegrityError
from pipeline.records import FlatRecord, expect_fields
from pipeline.redaction import shorten
from pipeline.runs import Runs, RunState

#: As pypa's action, twine and uv name an attestation beside its file.
SUFFIX = ".publish.attestation"
#: A real attestation is 5-15 KB: one certificate, one log entry and its proof.
ATTESTATION_LIMIT = 256 * 1024
#: A release SBOM names each file and dependency: kilobytes, rarely more.
SBOM_LIMIT = 16 << 20
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_WORKFLOW = re.compile(r"[A-Za-z0-9_.-]+\.ya?ml")
_SBOM_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*-[A-Za-z0-9.+!_-]+\.cdx\.json")


@dataclass(frozen=True, kw_only=True)
class SignerRecord:
    """Who signed: the repository and workflow file the certificate names, and the ref."""

    repository: str
    workflow: str
    ref: str


@dataclass(frozen=True, kw_only=True)
class AttestationsRecord(FlatRecord):
    signer: SignerRecord
    files: dict[str, str]  # file name -> SHA-256 of its attestation
    signed: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        expect_fields(cls, data)
        return cls(**{**data, "signer": SignerRecord(**data["signer"])})


@dataclass(frozen=True, kw_only=True)
class SbomRecord(FlatRecord):
    name: str
    sha256: str
    size: int
    made: str


def attestation_name(dist: str) -> str:
    return dist + SUFFIX


def read_attestations(runs: Runs, state: RunState) -> AttestationsRecord | None:
    """The run's attestation record, every name and value checked, or None."""
    at = runs.key(state.run_id, "attestations.json")
    record = runs.read_record(at, AttestationsRecord.from_json)
    if record is None:
        return None
    names = {a.name for a in state.artifacts}
    for name, sha in record.files.items():
        if name not in names:
            raise _refuse(runs, at, "file", name, "is not a file of this run")
        if not isinstance(sha, str) or not validation.SHA256.fullmatch(sha):
            raise _refuse(runs, at, "sha256", sha, f"of {name}'s attestation is not a SHA-256 in hex")
    signer = record.signer
    if not _REPOSITORY.fullmatch(signer.repository) or not _WORKFLOW.fullmatch(signer.workflow):
        raise _refuse(runs, at, "signer", f"{signer.repository} {signer.workflow}",
                      "is not a repository OWNER/NAME and a workflow file name")
    return record


def attestations_of(runs: Runs, state: RunState, record: AttestationsRecord) -> dict[str, bytes]:
    """Each recorded attestation's bytes, read under a limit and checked against its hash."""
    found = {}
    for name, sha in record.files.items():
        key = runs.key(state.run_id, "attestations", attestation_name(name))
        found[name] = _read_checked(runs, key, sha, ATTESTATION_LIMIT)
    return found


def store_attestations(runs: Runs, run_id: str, signed: Mapping[str, bytes], signer: SignerRecord,
                       earlier: AttestationsRecord | None, when: str) -> AttestationsRecord:
    """Store newly signed attestations, then the record naming them and those stored before."""
    for name, data in signed.items():
        runs.store.put_json(runs.key(run_id, "attestations", attestation_name(name)), data)
    files = {**(earlier.files if earlier else {}),
             **{name: hashlib.sha256(data).hexdigest() for name, data in signed.items()}}
    record = AttestationsRecord(signer=signer, files=dict(sorted(files.items())), signed=when)
    runs.put_record(runs.key(run_id, "attestations.json"), record.to_json())
    return record


def store_sbom(runs: Runs, run_id: str, name: str, data: bytes, when: str) -> SbomRecord:
    runs.store.put_json(runs.key(run_id, "sbom", name), data)
    record = SbomRecord(name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data), made=when)
    runs.put_record(runs.key(run_id, "sbom.json"), record.to_json())
    return record


def read_sbom(runs: Runs, state: RunState) -> tuple[SbomRecord, bytes] | None:
    at = runs.key(state.run_id, "sbom.json")
    record = runs.read_record(at, SbomRecord.from_json)
    if record is None:
        return None
    expected = f"{canonicalize_name(state.plan.project)}-{state.plan.version}.cdx.json"
    if record.name != expected or not _SBOM_NAME.fullmatch(record.name):
        raise _refuse(runs, at, "name", record.name, f"is not {expected}")
    if not validation.SHA256.fullmatch(record.sha256):
        raise _refuse(runs, at, "sha256", record.sha256, "is not a SHA-256 in hex")
    return record, _read_checked(runs, runs.key(state.run_id, "sbom", record.name), record.sha256, SBOM_LIMIT)


def write_beside(dest: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write each document into `dest` under its own (already validated) name."""
    written = []
    for name, data in files.items():
        path = validation.inside(dest, name)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(data)
        tmp.replace(path)
        written.append(path)
    return written


def _read_checked(runs: Runs, key: str, sha256: str, limit: int) -> bytes:
    data = runs.store.get_json(key)
    if data is None:
        raise IntegrityError(f"{key} is recorded but missing from {runs.store.url}",
                             hint="the store lost an object; sign or make it again from the run's files")
    if len(data) > limit:
        raise IntegrityError(f"{key} in {runs.store.url} is {len(data)} bytes, over the {limit} a real one needs",
                             hint=validation.HINT)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise IntegrityError(f"{key} in {runs.store.url} does not match its record: recorded sha256 {sha256}, "
                             f"stored bytes have sha256 {actual}", hint=validation.HINT)
    return data


def _refuse(runs: Runs, key: str, what: str, value: object, problem: str) -> IntegrityError:
    return IntegrityError(f"{runs.store.url} {key}: {what} {shorten(repr(value), 120)} {problem}",
                          hint=validation.HINT)
