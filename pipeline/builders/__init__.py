"""Builders: one contract, the cibuildwheel builder for CI runners, the local one for
hosts where cibuildwheel cannot run, and a lookup. The builder in use is always
stated, never silently swapped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.cleanenv import for_builds
from pipeline.errors import BuildFailed, UsageError
from pipeline.records import Slice, TestResult

log = logging.getLogger(__name__)


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


class Builder(Protocol):
    name: str

    def cannot_build(self, slice: Slice, project_dir: Path) -> str | None:
        """Why this builder cannot build the project's slice on this host, or None."""

    def build(self, job: BuildJob) -> list[Built]:
        """Build every identifier of the slice; raise `BuildFailed` with the log's tail."""


def builders() -> dict[str, Builder]:
    from pipeline.builders.cibw import CibuildwheelBuilder
    from pipeline.builders.local import LocalBuilder

    return {"cibuildwheel": CibuildwheelBuilder(), "local": LocalBuilder()}


def find(name: str, slice: Slice, project_dir: Path) -> tuple[Builder | None, list[str]]:
    """The builder for a slice, or None, with each builder's reason why not: the one
    named, or with `auto` cibuildwheel where it can run and the local builder otherwise."""
    table = builders()
    if name != "auto" and name not in table:
        raise UsageError(f"unknown builder {name!r}", hint="use auto, local or cibuildwheel")
    order = list(table) if name == "auto" else [name]
    if slice.name in ("sdist", "pure"):
        order = ["local"]  # the build frontend makes these the same everywhere
    reasons: list[str] = []
    for candidate in order:
        reason = table[candidate].cannot_build(slice, project_dir)
        if reason is None:
            return table[candidate], reasons
        reasons.append(f"{candidate}: {reason}")
    return None, reasons


def choose(name: str, slice: Slice, project_dir: Path) -> Builder:
    """The builder for a slice, saying in the log which and why; raises `BuildFailed`
    saying plainly why none can."""
    builder, reasons = find(name, slice, project_dir)
    if builder is not None:
        if slice.name in ("sdist", "pure"):
            why = "the build frontend makes it the same on every host"
        elif reasons:
            why = "; ".join(reasons)
        else:
            why = "it was named" if name != "auto" else "cibuildwheel can build it here"
        log.info("slice %s: the %s builder (%s)", slice.name, builder.name, why)
        return builder
    raise BuildFailed(
        f"slice {slice.name} cannot be built on this host: " + "; ".join(reasons),
        hint=f"build it on its own runner ({slice.runner}), as the release workflow does",
    )


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


#: How much of a failed step's output an error shows; the whole of it stays in the log file.
TAIL_LINES = 40


def tail(log_file: Path, lines: int = TAIL_LINES) -> str:
    """The last lines of a log, indented, for an error message. Logs hold what tools
    printed, as bytes: read as UTF-8 whatever the platform's default (cp1252 on Windows
    runners), an undecodable byte shown as U+FFFD rather than failing the report."""
    try:
        text = log_file.read_bytes().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return "    (no log)"
    return "\n".join("    " + line for line in text[-lines:]) or "    (the log is empty)"


def append_output(log_file: Path, header: str, *outputs: bytes | str | None) -> None:
    """Add a step's captured output to its log file, as UTF-8."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"{header}\n")
        for output in outputs:
            if output:
                text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else output
                out.write(text if text.endswith("\n") else text + "\n")
