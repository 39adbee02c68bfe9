"""Every file-level check over a set of distributions: what verify runs on a run's
files, and what `wheelship check DIST...` runs on files a user already has.

Reading runs nothing from the files; only `parity` builds a wheel from the sdist, which
runs its build backend. A bad file is a finding, never an exception.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from packaging.tags import Tag, sys_tags
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

from pipeline.archives import DEFAULT_LIMITS, ArchiveError, Limits
from pipeline.checks import Findings, rules
from pipeline.checks.contents import check_wheel
from pipeline.checks.metadata import check_metadata
from pipeline.checks.rules import filenames
from pipeline.checks.sdist import check_built_from_sdist, check_sdist, proven_by_records
from pipeline.records import Plan


@functools.cache
def _host_tags() -> frozenset[Tag]:
    return frozenset(sys_tags())


def _buildable_here(wheel: Path) -> bool:
    try:
        _, _, _, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename:
        return False
    return not _host_tags().isdisjoint(tags)


def _identity(name: str) -> tuple[str, str] | None:
    """(canonical name, version) from a wheel's or sdist's file name; None for any other name."""
    try:
        if name.endswith(".whl"):
            dist, version, _, _ = parse_wheel_filename(name)
            return str(dist), str(version)
        if name.endswith(".tar.gz"):
            dist, version = parse_sdist_filename(name)
            return str(dist), str(version)
    except (InvalidWheelFilename, InvalidSdistFilename):
        pass
    return None


def _named_well(path: Path, findings: Findings) -> bool:
    """Whether the name is a wheel's or an sdist's that checks can read; else the code PyPI
    refuses it under (`rules.filenames`): its characters, its extension, or a parse."""
    refused = filenames.unusable_name(path.name)
    if refused is not None:
        findings.add(refused[0], path.name, refused[1])
    return refused is None


def _check_one(path: Path, findings: Findings, plan: Plan | None, import_names: tuple[str, ...],
               native: bool | None, limits: Limits) -> None:
    """Every check on one well-named file; raises `ArchiveError` past a limit or unreadable."""
    rules.check(path, findings, limits)  # what PyPI refuses at upload, rule for rule
    meta = check_metadata(path, plan, findings, limits)
    if not path.name.endswith(".whl"):
        check_sdist(path, findings, limits)
        return
    fields = meta.fields if meta is not None else None
    declared = tuple(fields.get_all("Import-Name") or []) + tuple(fields.get_all("Import-Namespace") or []) \
        if fields is not None else ()
    project = plan.project if plan is not None else (fields.get("Name") if fields is not None else None)
    check_wheel(path, findings, native=native, import_names=import_names, project=project,
                declared=tuple(d.split(";")[0].strip() for d in declared), limits=limits)


def check_files(paths: list[Path], findings: Findings, *, plan: Plan | None = None,
                import_names: tuple[str, ...] = (), native: bool | None = None, parity: bool = True,
                limits: Limits = DEFAULT_LIMITS, built_from: Mapping[str, str] | None = None) -> None:
    """Every file-level check on `paths`, each archive read within `limits`. With `parity`,
    build a wheel from the one sdist to compare with a shipped wheel (WS502), unless
    `built_from` (wheel name to the SHA-256 of the sdist its build record says it was
    built from) proves every wheel here was built from that very sdist."""
    readable = []
    for path in (p for p in paths if _named_well(p, findings)):
        try:
            _check_one(path, findings, plan, import_names, native, limits)
        except ArchiveError as exc:
            findings.add_archive_error(path.name, exc)
            continue
        readable.append(path)
    if plan is None:
        _agree(paths, findings)
    sdists = [p for p in readable if p.name.endswith(".tar.gz")]
    wheels = [p for p in readable if p.name.endswith(".whl") and _buildable_here(p)]
    if parity and len(sdists) == 1 and wheels and not proven_by_records(sdists[0], wheels, built_from or {}):
        # one wheel suffices: every wheel of a release comes from the same file list
        check_built_from_sdist(sdists[0], sorted(wheels, key=lambda p: "-any" not in p.name)[0], findings, limits)


def _agree(paths: list[Path], findings: Findings) -> None:
    """Without a plan, the files must at least agree with each other (files whose names
    do not parse have their own finding)."""
    seen = {p: identity for p in paths if (identity := _identity(p.name)) is not None}
    names = {n for n, _ in seen.values()}
    versions = {v for _, v in seen.values()}
    if len(names) > 1:
        for path, (name, _) in seen.items():
            findings.add("WS102", path.name, f"name {name}, but the files given name {', '.join(sorted(names))}")
    if len(versions) > 1:
        for path, (_, version) in seen.items():
            findings.add("WS103", path.name, f"version {version}, but the files give {', '.join(sorted(versions))}")
