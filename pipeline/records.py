"""The typed records of a run: its plan, its files, and what happened to each.

Records are what the store keeps and what `status`, `verify` and `publish` read:
the state of a run is what its records say. Each record is a frozen dataclass that
round-trips through JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from packaging.utils import InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename


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

    def slice(self, name: str) -> Slice | None:
        return next((s for s in self.slices if s.name == name), None)

    @property
    def identifiers(self) -> list[str]:
        return [i for s in self.slices for i in s.identifiers]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        index = data["index"]
        if isinstance(index, dict):  # written before plans named their index only
            data = {**data, "index": index["name"],
                    "index_urls": {"upload": index.get("upload_url", ""), "simple": index.get("simple_url", "")}}
        return cls(
            **{
                **data,
                "import_names": tuple(data["import_names"]),
                "slices": tuple(Slice.from_json(s) for s in data["slices"]),
            }
        )


@dataclass(frozen=True, kw_only=True)
class TestResult:
    """How a wheel was tested, where, and what came of it."""

    __test__ = False  # not a pytest class

    status: str  # "passed" | "failed" | "untested" | "not-run" (imported, but the project's tests could not run here; detail says why)
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
    kind: str  # "sdist" | "wheel"
    sha256: str
    size: int
    builder: str
    tools: dict[str, str]
    built_on: str
    test: TestResult | None = None

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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        data = {k: v for k, v in data.items() if k != "job"}  # records before 0.1.0 named the slice twice
        return cls(**{**data, "artifacts": tuple(Artifact.from_json(a) for a in data["artifacts"])})


@dataclass(frozen=True, kw_only=True)
class FileVerification:
    """What verify found of one file: its identity, its test, its findings."""

    identifier: str
    sha256: str
    size: int
    test: TestResult | None
    findings: tuple[dict[str, str], ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        test = data.get("test")
        return cls(**{**data, "test": TestResult(**test) if test else None,
                      "findings": tuple(data.get("findings", ()))})


@dataclass(frozen=True, kw_only=True)
class VerifyRecord:
    """verify.json: whether the run passed, where and when, and each file's result."""

    ok: bool
    host: str
    finished: str
    run_id: str
    files: dict[str, FileVerification]
    findings: tuple[dict[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(**{**data, "files": {n: FileVerification.from_json(f) for n, f in data["files"].items()},
                      "findings": tuple(data.get("findings", ()))})


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

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "files": {n: str(o) for n, o in self.files.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
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
