"""Which distributions a release must produce, from cibuildwheel itself.

The build matrix is never a hand-kept list: the slices are the arches the project's
cibuildwheel `archs` selects on each platform, and each slice's identifiers are what
``cibuildwheel --print-build-identifiers`` answers in the project for that arch, so
the project's build, skip and archs selections hold.
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from pipeline import cibwconfig, interpreters
from pipeline.cibwconfig import PlannedArch
from pipeline.errors import BuildFailed, UsageError
from pipeline.project import Project
from pipeline.records import Slice

log = logging.getLogger(__name__)


#: The slices a project with cibuildwheel's default `archs` (auto) gets: each
#: platform's native arches, on the GitHub-hosted runners cibuildwheel's own deploy
#: example uses (pipeline.cibwconfig.NATIVE_RUNNERS). A project's `archs` adds or removes slices.
NATIVE_SLICES = {
    k.name: k for k in (
        PlannedArch(platform, arch, runner)
        for platform, runners in cibwconfig.NATIVE_RUNNERS.items() for arch, runner in runners.items()
    )
}
PLATFORMS = ("linux", "macos", "windows")
SDIST = Slice(name="sdist", platform="any", arch="any", runner="ubuntu-latest", identifiers=("sdist",))
PURE = Slice(name="pure", platform="any", arch="any", runner="ubuntu-latest", identifiers=("py3-none-any",))


def host_slice() -> str | None:
    """The native slice this machine is, if it is one."""
    system = {"Linux": "linux", "Darwin": "macos", "Windows": "windows"}.get(platform.system())
    machine = platform.machine()
    machine = {"amd64": "AMD64", "arm64": "ARM64"}.get(machine.lower(), machine) if system == "windows" else machine
    machine = {"aarch64": "arm64"}.get(machine, machine) if system == "macos" else machine
    name = f"{system}-{machine}"
    return name if name in NATIVE_SLICES else None


def slice_kinds(project: Path) -> list[PlannedArch]:
    """Every platform and arch the project's cibuildwheel `archs` selects, each on its runner."""
    return [kind for platform_name in PLATFORMS for kind in cibwconfig.planned_archs(project, platform_name)]


def cibuildwheel_identifiers(project: Path, kind: PlannedArch) -> tuple[str, ...]:
    """What cibuildwheel would build for one platform and arch in this project."""
    command = [
        sys.executable, "-m", "cibuildwheel", "--print-build-identifiers",
        "--platform", kind.platform, "--archs", kind.arch, str(project),
    ]
    env = {k: v for k, v in os.environ.items() if k != "CIBW_PLATFORM"}
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BuildFailed(
            f"cibuildwheel could not plan {kind.platform} {kind.arch} for {project}: "
            + (result.stderr.strip().splitlines() or ["no output"])[-1],
            hint="check [tool.cibuildwheel] in pyproject.toml; run the command above to see all",
        )
    return tuple(line.strip() for line in result.stdout.splitlines() if line.strip())


class Slices(NamedTuple):
    """A release's slices, and what a plan for this host leaves to other machines: each
    other slice whole (its identifiers not listed: cibuildwheel is asked only about this
    host's), and the identifiers of this host's slice that no local interpreter builds."""

    planned: tuple[Slice, ...]
    left_out: tuple[Slice, ...] = ()


def plan_slices(project: Project, native: bool, wanted: tuple[str, ...], *, host_only: bool,
                local_builder: bool = True, runners: Mapping[str, str] | None = None) -> Slices:
    """The slices of a release, narrowed by the buildspec's `slices` and, for a
    local release, to this host's slice (and for the local builder, to the
    identifiers a local interpreter can build), with what that narrowing left out."""
    chosen = [SDIST]
    left: list[Slice] = []
    if not native:
        chosen.append(PURE)
    else:
        kinds = {k.name: k for k in slice_kinds(project.root)}
        names = [n for n in kinds if not wanted or n in wanted]
        if host_only:
            here = host_slice()
            left += [_slice(kinds[n], ()) for n in names if n != here]
            names = [n for n in names if n == here]
            if not names:
                raise UsageError(
                    f"this host ({platform.system()} {platform.machine()}) builds none of the slices "
                    f"the buildspec asks for ({', '.join(wanted) or 'all'})",
                    hint="plan on CI with `wheelship plan`, or add this host's slice to `slices`",
                )
        with ThreadPoolExecutor(len(names) or 1) as pool:
            found = list(pool.map(lambda n: cibuildwheel_identifiers(project.root, kinds[n]), names))
        for name, identifiers in zip(names, found, strict=True):
            if host_only and local_builder:
                identifiers, not_here = _buildable_here(identifiers)
                left += [_slice(kinds[name], not_here)] if not_here else []
            if identifiers:
                chosen.append(_slice(kinds[name], identifiers))
        if len(chosen) == 1:
            raise UsageError(
                f"no wheel of {project.name} can be built here: cibuildwheel selects none that a "
                "local interpreter matches",
                hint="install a CPython the project supports, or check [tool.cibuildwheel] build/skip",
            )
    if wanted:
        chosen = [s for s in chosen if s.name in wanted or s.name == "sdist"]
    runners = runners or {}
    return Slices(*(tuple(replace(s, runner=runners.get(s.name, s.runner)) for s in slices)
                    for slices in (chosen, left)))


def _slice(kind: PlannedArch, identifiers: tuple[str, ...]) -> Slice:
    return Slice(name=kind.name, platform=kind.platform, arch=kind.arch, runner=kind.runner,
                 identifiers=identifiers, qemu=kind.qemu)


def _buildable_here(identifiers: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The manylinux identifiers a local interpreter can build, and the rest, said in the log."""
    tags = {i.tag for i in interpreters.find_interpreters()}
    keep = tuple(i for i in identifiers if "-manylinux_" in i and i.split("-")[0] in tags)
    left = tuple(i for i in identifiers if i not in keep)
    if left:
        log.info("left out of this local plan (no local interpreter or not manylinux): %s", " ".join(left))
    return keep, left
