"""What a stored record may say: every name and value checked before wheelship acts on it.

Records come from a store or a workflow artifact, written by jobs that ran project code
or by anyone with write access to the bucket: input, never an order. A run is read
only after every name in it passed here: a file name is a bare wheel or sdist name
(PEP 427 / PEP 625, parsed by `packaging`) of the run's own project and version,
unique in the run; slice and run ids are plain tokens; hashes are SHA-256 hex. A
violation is an `IntegrityError` (exit 6) naming the record and the value, raised
before anything is written or fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pipeline.errors import IntegrityError

if TYPE_CHECKING:
    from pipeline.runs import RunState

#: A run id: `gh<run>-<attempt>` on GitHub, a time-ordered id locally; never a path.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
#: An index name as buildspecs and .pypirc files spell them.
INDEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SHA256 = re.compile(r"[0-9a-f]{64}")
#: What started a run: a GitHub event's name, or ``cli``.
TRIGGER = re.compile(r"[a-z_]{1,64}")
#: A git tag, as `git check-ref-format` admits one: no control characters, spaces or
#: ``~^:?*[\``, no ``..`` or ``@{``; or "" for a run of the branch head.
TAG = re.compile(r"(?!.*\.\.)(?!.*@\{)(?![./-])[^\x00-\x20\x7f~^:?*\[\\]{0,250}(?<![./])(?<!\.lock)")
HINT = ("a stored record is input, not an order: someone changed this run in the store or its workflow "
        "artifact; nothing was written or uploaded. Plan and build a new run")


def _refuse(where: str, what: str, value: object, why: str) -> IntegrityError:
    return IntegrityError(f"{where}: {what} {value!r} {why}", hint=HINT)


def dist_kind(name: object, *, project: str, version: str, where: str) -> str:
    """"wheel" or "sdist" for a bare distribution file name of `project` at `version`;
    raises `IntegrityError` for anything else (a path, another project or version)."""
    if not isinstance(name, str) or not name:
        raise _refuse(where, "file name", name, "is not a file name")
    if any(c in name for c in "/\\") or any(ord(c) < 32 or ord(c) == 127 for c in name) \
            or name.startswith(".") or len(name.encode()) > 255:
        raise _refuse(where, "file name", name, "is not a bare file name (it holds a path, a control character, "
                      "or is hidden or too long)")
    try:
        if name.endswith(".whl"):
            kind, (dist, found, _, _) = "wheel", parse_wheel_filename(name)
        elif name.endswith(".tar.gz"):
            kind, (dist, found) = "sdist", parse_sdist_filename(name)
        else:
            raise _refuse(where, "file name", name, "is neither a wheel (.whl) nor an sdist (.tar.gz)")
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise _refuse(where, "file name", name, f"is not a valid distribution file name ({exc})") from None
    if canonicalize_name(dist) != canonicalize_name(project):
        raise _refuse(where, "file name", name, f"is a file of {dist}, not of this run's project {project}")
    if found != Version(version):
        raise _refuse(where, "file name", name, f"is version {found}, not this run's version {version}")
    return kind


def token(value: object, pattern: re.Pattern[str], *, what: str, where: str, expected: str | None = None) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _refuse(where, what, value, f"is not a plain {what} (expected {expected or pattern.pattern})")
    return value


def plain_version(value: str) -> bool:
    """Whether a store key's folder is a version as wheelship writes it (normalised PEP 440)."""
    try:
        return str(Version(value)) == value
    except InvalidVersion:
        return False


def inside(folder: Path, name: str) -> Path:
    """`folder / name`, refusing a name that would land anywhere else."""
    path = folder / name
    if path.parent.resolve() != folder.resolve() or name in ("", ".", ".."):
        raise IntegrityError(f"refusing to write {name!r}: it would land outside {folder}", hint=HINT)
    return path


def check_run(state: RunState, *, project: str, version: str, run_id: str, where: str) -> None:
    """Every name and value of a run read back from a store, against the project,
    version and run id the command asked for."""
    from pipeline.spec import SLICE_NAMES

    plan = state.plan
    at = f"{where}/plan.json"
    if canonicalize_name(plan.project) != canonicalize_name(project):
        raise _refuse(at, "project", plan.project, f"is not {project}, the project asked for")
    if plan.version != version:  # spelled as stored: the plan's version names the run's folder for every read after
        raise _refuse(at, "version", plan.version, f"is not {version}, the version asked for")
    if plan.run_id != run_id:
        raise _refuse(at, "run id", plan.run_id, f"is not {run_id}, the run it is stored as")
    token(plan.index, INDEX_NAME, what="index name", where=at)
    token(plan.trigger, TRIGGER, what="trigger", where=at)
    token(plan.tag, TAG, what="tag", where=at, expected="a git tag such as v1.2.0, or none")
    _settings(plan.requires_python, plan.checks, where=at)
    slices = [token(s.name, RUN_ID, what="slice name", where=at) for s in plan.slices]
    unknown = [s for s in slices if s not in SLICE_NAMES]
    if unknown or len(set(slices)) != len(slices):
        raise _refuse(at, "slices", slices, "name an unknown slice or one slice twice")
    _check_files(state, project=project, version=version, where=where, slices=set(slices))


def _settings(requires_python: str | None, checks: dict[str, str], *, where: str) -> None:
    """What a plan carries of the buildspec: a Requires-Python verify reads, and severities."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from pipeline.checks import CHECKS
    from pipeline.spec import SEVERITIES

    if requires_python is not None:
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier:
            raise _refuse(where, "requires_python", requires_python, "is not a version specifier") from None
    for check, severity in checks.items():
        if (check not in CHECKS and check not in {c.name for c in CHECKS.values()}) or severity not in SEVERITIES:
            raise _refuse(where, f"checks[{check!r}]", severity, f"is not one of {', '.join(SEVERITIES)} for a "
                          "check wheelship knows")


def _check_files(state: RunState, *, project: str, version: str, where: str, slices: set[str]) -> None:
    from pipeline.records import identifier_of

    seen: set[str] = set()
    for key, record in state.records.items():
        at = f"{where}/records/{key}.json"
        if record.slice != key or record.slice not in slices:
            raise _refuse(at, "slice", record.slice, "is not a slice the plan names")
        if len(record.why) > 500 or not record.why.isprintable():
            raise _refuse(at, "why", record.why[:80], "is not one short line of text")
        for a in record.artifacts:
            kind = dist_kind(a.name, project=project, version=version, where=at)
            if a.kind != kind or a.slice != record.slice or a.identifier != identifier_of(a.name):
                raise _refuse(at, "file", a.name, f"is recorded as {a.kind} {a.identifier} of slice {a.slice}, "
                              f"but its name makes it {kind} {identifier_of(a.name)} of slice {record.slice}")
            if not isinstance(a.sha256, str) or not SHA256.fullmatch(a.sha256):
                raise _refuse(at, "sha256", a.sha256, f"of {a.name} is not a SHA-256 in hex")
            if a.built_from is not None and (not isinstance(a.built_from, str) or not SHA256.fullmatch(a.built_from)):
                raise _refuse(at, "built_from", a.built_from, f"of {a.name} is not a SHA-256 in hex")
            if not isinstance(a.size, int) or isinstance(a.size, bool) or a.size < 0:
                raise _refuse(at, "size", a.size, f"of {a.name} is not a size in bytes")
            if a.name in seen:
                raise _refuse(at, "file", a.name, "is recorded twice in the run")
            seen.add(a.name)
    if state.verify is not None:
        at = f"{where}/verify.json"
        if state.verify.run_id != state.plan.run_id:
            raise _refuse(at, "run id", state.verify.run_id, f"is not this run's ({state.plan.run_id})")
        _names(state.verify.files, project=project, version=version, where=at)
    if state.publish is not None:
        at = f"{where}/publish.json"
        token(state.publish.index, INDEX_NAME, what="index name", where=at)
        _names(state.publish.files, project=project, version=version, where=at)
        _names(state.publish.attestations, project=project, version=version, where=at)
        for name, sha in state.publish.attestations.items():
            if not isinstance(sha, str) or not SHA256.fullmatch(sha):
                raise _refuse(at, "attestations", sha, f"of {name} is not a SHA-256 in hex")


def _names(names: Iterable[object], *, project: str, version: str, where: str) -> None:
    for name in names:
        dist_kind(name, project=project, version=version, where=where)
