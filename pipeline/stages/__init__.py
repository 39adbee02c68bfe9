"""The stages of a run, in order, and which of them each command runs.

Read this file to learn the whole release flow. Each stage is a small module with a
name, an optional reason to skip, and a `run` over the shared context; a command is
just a different list. Every stage is idempotent: run again on the same run, it
finishes the work or confirms it is done.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from pipeline import ui
from pipeline.context import Context
from pipeline.stages import build, event, load, plan, preflight, publish, report, store, verify

log = logging.getLogger(__name__)


class Stage(Protocol):
    name: str

    def skip(self, ctx: Context) -> str | None:
        """A reason not to run, or None."""

    def run(self, ctx: Context) -> None: ...


RELEASE: Sequence[Stage] = (
    event.Event(),          # tag, CLI flags or GitHub event -> a release request
    plan.Plan(),            # request + buildspec + project -> the plan
    preflight.Preflight(),  # credentials and the index checked before anything is spent
    plan.RecordPlan(),      # the plan stored as a new run
    build.Build(),          # every slice this host builds, sdist first
    store.Store(),          # files, then the records that name them
    verify.Verify(),        # completeness, integrity, metadata, test-installs
    publish.Publish(),      # wheels then the sdist, idempotent by hash
    report.Report(),        # terminal table, --json, GitHub step summary
)
PLAN: Sequence[Stage] = (event.Event(), plan.Plan(), plan.AlreadyOnIndex(), plan.RecordPlan(), report.PlanReport())
BUILD: Sequence[Stage] = (load.LoadForBuild(), build.Build(), store.Store())
VERIFY: Sequence[Stage] = (load.Load(), verify.Verify(force=True), report.Report())
PUBLISH: Sequence[Stage] = (
    load.Load(),
    preflight.Preflight(),
    verify.Verify(),
    publish.Publish(),
    report.Report(),
)


def run_stages(stages: Sequence[Stage], ctx: Context) -> None:
    for stage in stages:
        # A release found complete on the index in preflight needs only its report.
        reason = "the release is already published" if ctx.already_published and stage.name != "report" \
            else stage.skip(ctx)
        if reason:
            log.info("%s: skipped, %s", stage.name, reason)
            continue
        with ui.group(stage.name):
            stage.run(ctx)
