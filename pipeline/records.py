"""The typed records of a run: its plan, its files, and what happened to each.

Records are what the store keeps and what `status`, `verify` and `publish` read:
the state of a run is what its records say. Each record is a frozen dataclass that
round-trips through JSON.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import types
import typing
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Literal, Self, TypeGuard

from packaging.utils import InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

_JSON_KINDS = {dict: "an object", list: "a list", str: "a string", int: "a whole number", float: "a number",
               bool: "true or false", type(None): "null"}


#: The closed sets a record holds. A reader takes any string where one stands (a record
#: another builder or a test wrote still reads); what wheelship writes is one of these.
ArtifactKind = Literal["sdist", "wheel"]
#: "not-run": imported, but the project's tests could not run here (the detail says why).
TestStatus = Literal["passed", "failed", "untested", "not-run"]
BuilderName = Literal["local", "cibuildwheel"]
#: A finding's weight: an error stops the release, a warning is reported. A buildspec
#: setting may also be "off", which drops the finding.
Severity = Literal["error", "warning"]


def is_severity(setting: str) -> TypeGuard[Severity]:
    return setting in typing.get_args(Severity)


def _kind(value: object) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def expect_fields(cls: type, data: dict[str, Any], where: str = "") -> None:
    """Raise `TypeError` naming the key path (``slices[1].identifiers[0]``), its value and
    what was expected, for the first value in `data` that the dataclass `cls` cannot hold:
    a record's JSON is checked whole before any of it is used. A missing or unknown key
    is left to `from_json` and the class, which name it."""
    hints = _hints(cls)
    for f in fields(cls):
        if f.name in data:
            _expect(data[f.name], hints[f.name], f"{where}.{f.name}" if where else f.name)


class FlatRecord:
    """A record whose JSON is its fields as they are (no record nested in it): checked
    whole (`expect_fields`) before it is made."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        expect_fields(cls, data)
        return cls(**data)


def _expect(value: Any, hint: Any, at: str) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if is_dataclass(hint):
        _expect(value, dict, at)
        expect_fields(hint, value, at)  # type: ignore[arg-type]
    elif origin in (tuple, list):
        if not isinstance(value, list | tuple):  # a tuple: a record built in memory (asdict), not read
            raise TypeError(f"{at} is {_kind(value)}, not a list")
        for i, item in enumerate(value):
            _expect(item, args[0], f"{at}[{i}]")
    elif origin is dict:
        _expect(value, dict, at)
        for key, item in value.items():
            _expect(item, args[1], f"{at}[{key!r}]")
    elif origin is Literal:  # a closed set: a value of its type (see ArtifactKind)
        _expect(value, type(args[0]), at)
    elif isinstance(hint, type) and issubclass(hint, Enum):
        if value not in {m.value for m in hint}:
            raise TypeError(f"{at}: {value!r} is not a valid {hint.__name__} "
                            f"({', '.join(repr(m.value) for m in hint)})")
    elif hint is not Any and (not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise TypeError(f"{at} is {_kind(value)}, not {_JSON_KINDS.get(hint, hint.__name__)}")


@dataclass(frozen=True, kw_only=True)
class Slice:
    """One build job: a platform and arch, its runner, the identifiers it must make."""

    name: str
    platform: str
    arch: str
    runner: str
    identifiers: tuple[str, ...]
    qemu: bool = False  # the runner emulates the arch

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(**{**data, "identifiers": tuple(data["identifiers"])})


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Every distribution a run must produce, grouped in slices; plan.json."""

    project: str
    version: str
    run_id: str
    tag: str
    trigger: str
    created: str
    dry_run: bool
    #: The index by name. Where files go and which credential they carry come from the
    #: configuration in force at publish time, never from a stored record.
    index: str
    native: bool
    requires_python: str | None
    import_names: tuple[str, ...]
    test_command: str | None
    checks: dict[str, str] = field(default_factory=dict)
    slices: tuple[Slice, ...]
    #: The index's URLs when the plan was made: a fact for display, never used to upload.
    index_urls: dict[str, str] = field(default_factory=dict)
    #: False for a run of the branch head with no tag (a nightly rehearsal): never published.
    tagged: bool = True
    #: The commit the run builds (the tag's commit), where the plan could tell.
    commit: str = ""
    #: The wheelship version that planned the run ("" before 0.1.0 recorded it).
    written_by: str = ""
    #: What a plan for one host leaves to other machines (pipeline.planning.Slices): each
    #: other slice whole, with no identifiers listed, and the identifiers of this host's
    #: slice that it cannot build. Shown, never built from.
    left_out: tuple[Slice, ...] = ()

    def slice(self, name: str) -> Slice | None:
        return next((s for s in self.slices if s.name == name), None)

    @property
    def identifiers(self) -> list[str]:
        return [i for s in self.slices for i in s.identifiers]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        index = data.get("index")
        if isinstance(index, dict):  # written before plans named their index only
            data = {**data, "index": index["name"],
                    "index_urls": {"upload": index.get("upload_url", ""), "simple": index.get("simple_url", "")}}
        expect_fields(cls, data)
        return cls(
            **{
                **data,
                "import_names": tuple(data["import_names"]),
                "slices": tuple(Slice.from_json(s) for s in data["slices"]),
                "left_out": tuple(Slice.from_json(s) for s in data.get("left_out", ())),
            }
        )


@dataclass(frozen=True, kw_only=True)
class TestResult:
    """How a wheel was tested, where, and what came of it."""

    __test__ = False  # not a pytest class

    status: TestStatus
    host: str
    interpreter: str
    how: str
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """One distribution file and the facts about it."""

    name: str
    identifier: str
    slice: str
    kind: ArtifactKind
    sha256: str
    size: int
    builder: BuilderName
    tools: dict[str, str]
    built_on: str
    test: TestResult | None = None
    #: The SHA-256 of the sdist file this wheel was built from, where its builder built it
    #: from an sdist file (None for the sdist, and for a wheel built another way). Absent
    #: in records written before it was kept.
    built_from: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        test = data.get("test")
        known = {f.name for f in fields(cls)}
        return cls(
            **{k: v for k, v in data.items() if k in known and k != "test"},
            test=TestResult(**test) if test else None,
        )


@dataclass(frozen=True, kw_only=True)
class BuildRecord:
    """records/<slice>.json: a slice's files, written after all of them are stored."""

    slice: str
    runner: str
    finished: str
    artifacts: tuple[Artifact, ...]
    why: str = ""  # why its builder was chosen, as the build said (records before 0.2 lack it)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        data = {k: v for k, v in data.items() if k != "job"}  # records before 0.1.0 named the slice twice
        expect_fields(cls, data)
        return cls(**{**data, "artifacts": tuple(Artifact.from_json(a) for a in data["artifacts"])})


@dataclass(frozen=True)
class Finding(FlatRecord):
    """What one check found in one file, at the severity in force."""

    code: str
    name: str
    severity: Severity
    file: str
    message: str

    def line(self) -> str:
        return f"{self.code} {self.name} [{self.severity}] {self.file}: {self.message}"


@dataclass(frozen=True, kw_only=True)
class FileVerification:
    """What verify found of one file: its identity, its test, its findings."""

    identifier: str
    sha256: str
    size: int
    test: TestResult | None
    findings: tuple[Finding, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        test = data.get("test")
        return cls(**{**data, "test": TestResult(**test) if test else None,
                      "findings": tuple(Finding.from_json(f) for f in data.get("findings", ()))})


@dataclass(frozen=True, kw_only=True)
class VerifyRecord:
    """verify.json: whether the run passed, where and when, and each file's result."""

    ok: bool
    host: str
    finished: str
    run_id: str
    files: dict[str, FileVerification]
    findings: tuple[Finding, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        expect_fields(cls, data)
        return cls(**{**data, "files": {n: FileVerification.from_json(f) for n, f in data["files"].items()},
                      "findings": tuple(Finding.from_json(f) for f in data.get("findings", ()))})


class Outcome(StrEnum):
    """What publishing did with one file."""

    UPLOADED = "uploaded"
    PRESENT = "already present"
    WOULD_UPLOAD = "would upload"


@dataclass(frozen=True, kw_only=True)
class PublishRecord:
    """publish.json: where a run was published, when, and each file's outcome."""

    index: str
    upload_url: str
    dry_run: bool
    files: dict[str, Outcome]
    finished: str
    host: str
    attestations: dict[str, str] = field(default_factory=dict)  # file -> SHA-256 of the attestation sent with it

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "files": {n: str(o) for n, o in self.files.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        expect_fields(cls, data)
        return cls(**{**data, "files": {n: Outcome(o) for n, o in data["files"].items()}})


def identifier_of(filename: str) -> str:
    """The build identifier a distribution file answers, in cibuildwheel's terms.

    ``sdist`` for an sdist, ``py3-none-any`` for a pure wheel, else
    ``<python>-<platform>_<arch>`` such as ``cp312-manylinux_x86_64``: the wheel's
    platform tag with its version numbers dropped.
    """
    if filename.endswith((".tar.gz", ".zip")):
        return "sdist"
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return "unknown"
    tag = sorted(tags, key=str)[0]
    if tag.platform == "any":
        return "py3-none-any" if tag.abi == "none" else f"{tag.interpreter}-any"
    python = tag.abi if tag.abi.endswith("t") and tag.abi.startswith("cp") else tag.interpreter
    platform = re.sub(r"^(manylinux|musllinux)_\d+_\d+_", r"\1_", tag.platform)
    platform = re.sub(r"^manylinux(1|2010|2014)_", "manylinux_", platform)
    platform = re.sub(r"^macosx_\d+_\d+_", "macosx_", platform)
    return f"{python}-{platform}"


def distribution_of(filename: str) -> tuple[str, str]:
    """(canonical name, version) from a distribution's file name."""
    if filename.endswith(".whl"):
        name, version, _, _ = parse_wheel_filename(filename)
    else:
        name, version = parse_sdist_filename(filename)
    return str(name), str(version)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and `os.replace`, as build's --report does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def wheels_first(artifacts: Iterable[Artifact]) -> list[Artifact]:
    """Publishing order: every wheel, then the sdist last."""
    return sorted(artifacts, key=lambda a: (a.kind == "sdist", a.name))
