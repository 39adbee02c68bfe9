"""The keys wheelship writes to ``GITHUB_OUTPUT``: one table per stage that writes them.

The plan and route stages write through these tables, the workflow template passes
their keys on as job outputs (tests/test_outputs.py holds the template to them), and
the rehearsal reads the plan's by the same keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    """One key a step writes: what it holds, and the job output the workflow template
    passes it on as (None when no later job needs it)."""

    key: str
    holds: str
    job_output: str | None = None


@dataclass(frozen=True)
class Outputs:
    """What one stage's step (its ``id`` in the template) writes to ``GITHUB_OUTPUT``."""

    step: str
    keys: tuple[Output, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.keys)

    def job_outputs(self) -> dict[str, str]:
        """The job's ``outputs:`` as the workflow template writes them."""
        return {o.job_output: f"${{{{ steps.{self.step}.outputs.{o.key} }}}}" for o in self.keys if o.job_output}

    def write(self, values: Mapping[str, str]) -> None:
        """Append every key of the table to ``GITHUB_OUTPUT`` (outside GitHub Actions,
        nothing); `values` must hold exactly the table's keys."""
        if set(values) != set(self.names):
            raise ValueError(f"the {self.step} step writes {sorted(self.names)}, not {sorted(values)}")
        path = os.environ.get("GITHUB_OUTPUT")
        if not path:
            return
        with open(path, "a", encoding="utf-8") as fh:
            fh.writelines(f"{key}={values[key]}\n" for key in self.names)

    def read(self, written: Mapping[str, str], key: str) -> str:
        """A key's value as the step wrote it ("" when it did not); a key outside the
        table is a `KeyError`, so a reader cannot drift from the writer."""
        if key not in self.names:
            raise KeyError(f"the {self.step} step writes no {key!r}")
        return written.get(key, "")


PLAN = Outputs("plan", (
    Output("matrix", "every slice's build job, as a strategy.matrix (JSON)"),
    Output("wheel-matrix", "the wheel slices' build jobs (the sdist has a job of its own)", "matrix"),
    Output("run-id", "the run the plan stored", "run-id"),
    Output("version", "the version planned", "version"),
    Output("project", "the project's canonical name", "project"),
    Output("index", "the index the run is routed to"),
    Output("dry-run", "true for a run that uploads nothing"),
    Output("commit", "the commit the run builds", "commit"),
    Output("left-out", "what a plan for this host leaves to other machines: slices, as JSON (the plan's left_out)"),
))

ROUTE = Outputs("route", (
    Output("tag", "the tag released", "tag"),
    Output("version", "the version the tag names", "version"),
    Output("index", "the index to publish to", "index"),
    Output("environment", "the publish job's GitHub environment", "environment"),
    Output("dry-run", "true for a run that uploads nothing", "dry-run"),
    Output("github-release", "true when the buildspec asks for the tag's GitHub Release and the run uploads",
           "github-release"),
))
