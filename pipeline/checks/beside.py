"""What `wheelship fetch -o DIR` writes beside a release's files, checked by `wheelship
check DIR/*`: each file's PEP 740 attestation (``<dist>.publish.attestation``), the
``SHA256SUMS`` file and the release SBOM (``<name>-<version>.cdx.json``).

Each is a file someone else may have written: read under a limit, parsed as data,
never run. An attestation is verified offline against its file's bytes and the
identity its own certificate claims, and the signer is reported; a user who expects a
particular repository compares it with what is printed (or runs `verify` on a stored run,
which holds the attestation to the run's recorded signer).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.checks import Findings
from pipeline.records import sha256_of

log = logging.getLogger(__name__)

ATTESTATION_SUFFIX = ".publish.attestation"
SUMS = "SHA256SUMS"
SBOM_SUFFIX = ".cdx.json"
#: SHA256SUMS names every file of a release: kilobytes; the SBOM as the run keeps it.
SUMS_LIMIT = 1 << 20
SBOM_LIMIT = 16 << 20
_SUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](?:\./)?([^/\\\x00-\x1f]+)")


@dataclass
class Beside:
    """The paths given to `check`, sorted by what each is."""

    dists: list[Path] = field(default_factory=list)
    attestations: dict[str, Path] = field(default_factory=dict)  # dist name -> its attestation
    sums: list[Path] = field(default_factory=list)
    sboms: list[Path] = field(default_factory=list)


def sort_paths(paths: Sequence[Path]) -> Beside:
    """Split what a user passed: dists, and the files that describe them. A dist's
    attestation lying beside it counts even when only the dist was passed."""
    found = Beside()
    for path in paths:
        if path.name.endswith(ATTESTATION_SUFFIX):
            found.attestations[path.name.removesuffix(ATTESTATION_SUFFIX)] = path
        elif path.name == SUMS:
            found.sums.append(path)
        elif path.name.endswith(SBOM_SUFFIX):
            found.sboms.append(path)
        else:
            found.dists.append(path)
    for dist in found.dists:
        if dist.name not in found.attestations and _is_file(beside := dist.with_name(dist.name + ATTESTATION_SUFFIX)):
            found.attestations[dist.name] = beside
    return found


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a dist's name near the file system's limit has no room for the suffix
        return False


def check_beside(found: Beside, findings: Findings) -> dict[str, str]:
    """Every describing file against the dists; returns each verified dist's signer."""
    by_name = {p.name: p for p in found.dists}
    signers = _attestations(found.attestations, by_name, findings)
    if not (found.sums or found.sboms):
        return signers  # nothing to hash the dists for
    hashes = {name: sha256_of(path) for name, path in by_name.items() if path.is_file()}
    for sums in found.sums:
        _sums(sums, hashes, findings)
    for sbom in found.sboms:
        _sbom(sbom, hashes, findings)
    return signers


def _attestations(attestations: dict[str, Path], dists: dict[str, Path], findings: Findings) -> dict[str, str]:
    from pipeline.attestations import (
        AttestationInvalid,
        Publisher,
        claimed_signer,
        read_attestation,
        trust_config,
        verify,
    )

    signers: dict[str, str] = {}
    if not attestations:
        return signers
    trust = None
    for name, path in sorted(attestations.items()):
        dist = dists.get(name)
        if dist is None:
            findings.add("WS701", path.name, f"no file {name} beside it to verify it against")
            continue
        try:
            raw = read_attestation(path)
            claimed = claimed_signer(raw, name)
            trust = trust or trust_config()
            signer = verify(dist, raw, Publisher(repository=claimed.repository, workflow=claimed.workflow), trust)
        except AttestationInvalid as exc:
            findings.add("WS701", path.name, exc.message)
            continue
        signers[name] = signer.describe()
        log.info("%s: attestation verified, signed by %s", name, signer.describe())
    return signers


def _sums(path: Path, hashes: dict[str, str], findings: Findings) -> None:
    text = _read(path, SUMS_LIMIT, findings)
    if text is None:
        return
    listed = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _SUM_LINE.fullmatch(line)
        if match is None:
            findings.add("WS702", path.name, f"line {number} is not `SHA256  FILE` as sha256sum writes it")
            continue
        sha, name = match.group(1).lower(), match.group(2)
        listed.add(name)
        if name in hashes and hashes[name] != sha:
            findings.add("WS702", name, f"{path.name} gives sha256 {sha}, the file has {hashes[name]}")
    for name in sorted(set(hashes) - listed):
        findings.add("WS702", name, f"not listed in {path.name}")


def _sbom(path: Path, hashes: dict[str, str], findings: Findings) -> None:
    text = _read(path, SBOM_LIMIT, findings)
    if text is None:
        return
    try:
        document = json.loads(text)
        components = document.get("components", []) if isinstance(document, dict) else None
        if not isinstance(components, list):
            raise ValueError("no list of components")
    except (ValueError, RecursionError) as exc:
        findings.add("WS702", path.name, f"not a CycloneDX JSON document: {str(exc)[:120]}")
        return
    named = set()
    for component in components:
        if not isinstance(component, dict) or component.get("type") != "file":
            continue
        name, listed = component.get("name"), component.get("hashes")
        digests = {str(h.get("alg")): h.get("content") for h in (listed if isinstance(listed, list) else [])
                   if isinstance(h, dict)}
        if isinstance(name, str) and name in hashes:
            named.add(name)
            if digests.get("SHA-256") != hashes[name]:
                findings.add("WS702", name, f"{path.name} gives sha256 {str(digests.get('SHA-256'))[:64]}, "
                                            f"the file has {hashes[name]}")
    for name in sorted(set(hashes) - named):
        findings.add("WS702", name, f"not named in {path.name}")


def _read(path: Path, limit: int, findings: Findings) -> str | None:
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        findings.add("WS702", path.name, f"cannot be read: {exc.strerror or exc}")
        return None
    if len(data) > limit:
        findings.add("WS702", path.name, f"larger than {limit} bytes; not what wheelship writes")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        findings.add("WS702", path.name, "not UTF-8 text")
        return None

