"""Every file-level check over a set of distributions: what verify runs on a run's
files, and what `wheelship check DIST...` runs on files a user already has."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from packaging.tags import Tag, sys_tags
from packaging.utils import parse_wheel_filename

from pipeline.checks import Findings
from pipeline.checks.contents import check_wheel
from pipeline.checks.metadata import check_metadata
from pipeline.checks.sdist import check_built_from_sdist, check_sdist
from pipeline.records import Plan, distribution_of


@functools.cache
def _host_tags() -> frozenset[Tag]:
    return frozenset(sys_tags())


def _buildable_here(wheel: Path) -> bool:
    _, _, _, tags = parse_wheel_filename(wheel.name)
    return not _host_tags().isdisjoint(tags)


def check_files(paths: list[Path], findings: Findings, *, plan: Plan | None = None,
                import_names: tuple[str, ...] = (), native: bool | None = None, parity: bool = True) -> None:
    for path in paths:
        meta = check_metadata(path, plan, findings)
        if path.name.endswith(".whl"):
            fields = meta.fields if meta is not None else None
            declared = tuple(fields.get_all("Import-Name") or []) + tuple(fields.get_all("Import-Namespace") or []) \
                if fields is not None else ()
            project = plan.project if plan is not None else (fields.get("Name") if fields is not None else None)
            check_wheel(path, findings, native=native, import_names=import_names, project=project,
                        declared=tuple(d.split(";")[0].strip() for d in declared))
        else:
            check_sdist(path, findings)
    if plan is None:
        _agree(paths, findings)
    sdists = [p for p in paths if not p.name.endswith(".whl")]
    wheels = [p for p in paths if p.name.endswith(".whl") and _buildable_here(p)]
    if parity and len(sdists) == 1 and wheels:
        # one wheel suffices: every wheel of a release comes from the same file list
        check_built_from_sdist(sdists[0], sorted(wheels, key=lambda p: "-any" not in p.name)[0], findings)


def _agree(paths: list[Path], findings: Findings) -> None:
    """Without a plan, the files must at least agree with each other."""
    seen: Mapping[Path, tuple[str, str]] = {p: distribution_of(p.name) for p in paths}
    names = {n for n, _ in seen.values()}
    versions = {v for _, v in seen.values()}
    if len(names) > 1:
        for path, (name, _) in seen.items():
            findings.add("WS102", path.name, f"name {name}, but the files given name {', '.join(sorted(names))}")
    if len(versions) > 1:
        for path, (_, version) in seen.items():
            findings.add("WS103", path.name, f"version {version}, but the files give {', '.join(sorted(versions))}")
