"""Which distributions a release must produce, from cibuildwheel itself.

The build matrix is never a hand-kept list: each native slice's identifiers are
what ``cibuildwheel --print-build-identifiers`` answers in the project, so the
project's ``[tool.cibuildwheel]`` build, skip and archs selections hold.
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline import interpreters
from pipeline.errors import BuildFailed, UsageError
from pipeline.project import Project
from pipeline.records import Slice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SliceKind:
    platform: str
    arch: str
    runner: str


#: Native build slices, each with the GitHub-hosted runner cibuildwheel's own
#: deploy example uses for it (shared/actions-pins.md).
NATIVE_SLICES = {
    "linux-x86_64": SliceKind("linux", "x86_64", "ubuntu-latest"),
    "linux-aarch64": SliceKind("linux", "aarch64", "ubuntu-24.04-arm"),
    "macos-x86_64": SliceKind("macos", "x86_64", "macos-15-intel"),
    "macos-arm64": SliceKind("macos", "arm64", "macos-latest"),
    "windows-AMD64": SliceKind("windows", "AMD64", "windows-latest"),
    "windows-ARM64": SliceKind("windows", "ARM64", "windows-11-arm"),
}
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


def cibuildwheel_identifiers(project: Path, kind: SliceKind) -> tuple[str, ...]:
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


def plan_slices(project: Project, native: bool, wanted: tuple[str, ...], *, host_only: bool) -> tuple[Slice, ...]:
    """The slices of a release, narrowed by the buildspec's `slices` and, for a
    local release, to what this host can build."""
    chosen = [SDIST]
    if not native:
        chosen.append(PURE)
    else:
        names = [n for n in NATIVE_SLICES if not wanted or n in wanted]
        if host_only:
            here = host_slice()
            names = [n for n in names if n == here]
            if not names:
                raise UsageError(
                    f"this host ({platform.system()} {platform.machine()}) builds none of the slices "
                    f"the buildspec asks for ({', '.join(wanted) or 'all'})",
                    hint="plan on CI with `wheelship plan`, or add this host's slice to `slices`",
                )
        with ThreadPoolExecutor(len(names) or 1) as pool:
            found = list(pool.map(lambda n: cibuildwheel_identifiers(project.root, NATIVE_SLICES[n]), names))
        for name, identifiers in zip(names, found, strict=True):
            if host_only:
                identifiers = _buildable_here(identifiers)
            if identifiers:
                kind = NATIVE_SLICES[name]
                chosen.append(Slice(name=name, platform=kind.platform, arch=kind.arch,
                                    runner=kind.runner, identifiers=identifiers))
        if len(chosen) == 1:
            raise UsageError(
                f"no wheel of {project.name} can be built here: cibuildwheel selects none that a "
                "local interpreter matches",
                hint="install a CPython the project supports, or check [tool.cibuildwheel] build/skip",
            )
    if wanted:
        chosen = [s for s in chosen if s.name in wanted or s.name == "sdist"]
    return tuple(chosen)


def _buildable_here(identifiers: tuple[str, ...]) -> tuple[str, ...]:
    """The manylinux identifiers a local interpreter can build, saying what is left out."""
    tags = {i.tag for i in interpreters.find_interpreters()}
    keep = tuple(i for i in identifiers if "-manylinux_" in i and i.split("-")[0] in tags)
    left = [i for i in identifiers if i not in keep]
    if left:
        log.info("left out of this local plan (no local interpreter or not manylinux): %s", " ".join(left))
    return keep
