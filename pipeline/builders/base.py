"""What every builder shares: the job it is given, what it returns, the contract it
keeps, and the buildspec's before-sdist step."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.buildlog import tail
from pipeline.cleanenv import for_builds
from pipeline.errors import BuildFailed
from pipeline.records import BuilderName, Slice, TestResult

log = logging.getLogger("pipeline.builders")  # one logger for the builders' choice and steps


@dataclass(frozen=True, kw_only=True)
class BuildJob:
    """What a builder needs to build one slice."""

    project_dir: Path
    slice: Slice
    sdist: Path | None  # wheels are built from it; None when building the sdist
    outdir: Path
    logdir: Path
    native: bool
    requires_python: str | None
    test_command: str | None  # the buildspec's, if it sets one
    smoke_test: str  # imports the wheel's own import names (pipeline.importnames)
    source_date_epoch: str | None
    before_sdist: str | None = None  # the buildspec's command that prepares generated sources


@dataclass(frozen=True, kw_only=True)
class Built:
    """One file a builder made, and how it was tested if it was."""

    path: Path
    tools: dict[str, str]
    test: TestResult | None = None
    identifier: str | None = None  # the planned identifier it was built for, where the builder knows
    #: The sdist file it was built from, only where the builder built it from that very
    #: file (its record keeps the file's SHA-256: verify's WS502 takes it as proof).
    built_from: Path | None = None


class Builder(Protocol):
    name: BuilderName

    def cannot_build(self, slice: Slice, project_dir: Path) -> str | None:
        """Why this builder cannot build the project's slice on this host, or None."""

    def build(self, job: BuildJob) -> list[Built]:
        """Build every identifier of the slice; raise `BuildFailed` with the log's tail."""


def run_before_sdist(command: str | None, project_dir: Path, log_file: Path) -> None:
    """The buildspec's `before-sdist` command, in the project folder, its output in the
    build log; raises `BuildFailed` with the log's tail if it fails."""
    if not command:
        return
    import shutil
    import subprocess

    log.info("before-sdist: %s", command)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"$ {command}\n")
        out.flush()
        result = subprocess.run([shutil.which("bash") or "/bin/sh", "-c", command], cwd=project_dir,
                                stdout=out, stderr=subprocess.STDOUT, env=for_builds())
    if result.returncode != 0:
        raise BuildFailed(
            f"before-sdist `{command}` failed (exit {result.returncode}) in {project_dir}; "
            f"the end of {log_file}:\n{tail(log_file)}",
            hint="fix the command, or run it by hand in the project folder to see why",
        )
