"""Builders: one contract (pipeline.builders.base), the cibuildwheel builder for CI
runners, the local one for hosts where cibuildwheel cannot run, and the lookup here.
The builder in use is always stated, never silently swapped.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.builders.base import Builder, BuildJob, Built, run_before_sdist
from pipeline.buildlog import TAIL_LINES, append_output, tail
from pipeline.errors import BuildFailed, UsageError
from pipeline.records import Slice

__all__ = ["TAIL_LINES", "BuildJob", "Builder", "Built", "append_output", "builders", "choose", "find",
           "run_before_sdist", "tail"]

log = logging.getLogger(__name__)


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


def choose(name: str, slice: Slice, project_dir: Path) -> tuple[Builder, str]:
    """The builder for a slice and why it was chosen (also said in the log); raises
    `BuildFailed` saying plainly why none can."""
    builder, reasons = find(name, slice, project_dir)
    if builder is not None:
        if slice.name in ("sdist", "pure"):
            why = "the build frontend makes it the same on every host"
        elif reasons:
            why = "; ".join(reasons)
        else:
            why = "it was named" if name != "auto" else "cibuildwheel can build it here"
        log.info("slice %s: the %s builder (%s)", slice.name, builder.name, why)
        return builder, why
    raise BuildFailed(
        f"slice {slice.name} cannot be built on this host: " + "; ".join(reasons),
        hint=f"build it on its own runner ({slice.runner}), as the release workflow does",
    )
