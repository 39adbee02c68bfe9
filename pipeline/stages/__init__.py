"""The stages of a run, in order, and which of them each command runs.

Read this file to learn the whole release flow. Each stage is a small module with a
name, an optional reason to skip, and a `run` over the shared context (the `Stage`
contract, pipeline.context); a command is just a different list. Every stage is
idempotent: run again on the same run, it finishes the work or confirms it is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from pipeline import ui
from pipeline.context import Context, Stage
from pipeline.stages import (
    attest,
    build,
    event,
    inspect,
    load,
    plan,
    preflight,
    publish,
    report,
    route,
    sbom,
    store,
    verify,
)

log = logging.getLogger(__name__)


RELEASE: Sequence[Stage] = (
    event.Event(),          # tag, CLI flags or GitHub event -> a release request
    plan.Plan(),            # request + buildspec + project -> the plan
    preflight.Preflight(finds_published=True),  # credentials and the index, before anything is spent
    plan.RecordPlan(),      # the plan stored as a new run
    build.Build(),          # every slice this host builds, sdist first
    store.StoreFiles(),     # files, then the records that name them
    verify.Verify(),        # completeness, integrity, metadata, test-installs
    sbom.MakeSbom(),        # the release's CycloneDX SBOM, kept in the run
    inspect.Inspect(),      # skipped: verify just read these very files in this process
    attest.Attest(),        # each file's PEP 740 attestation: signed once where there is an identity, verified
    publish.Publish(),      # wheels then the sdist, idempotent by hash
    report.Report(),        # terminal table, --json, GitHub step summary
)
ROUTE: Sequence[Stage] = (        # the route job: runs no project code
    event.Event(),                  # the event's tag, inputs and schedule
    route.Route(),                  # index, environment, dry run for the publish job
)
PLAN: Sequence[Stage] = (         # the plan job
    event.Event(),
    plan.Plan(),
    plan.AlreadyOnIndex(),          # every planned file on the index already: nothing to do (exit 9)
    plan.RecordPlan(),
    report.PlanReport(),            # the run id and the build matrix, for the jobs after
)
BUILD: Sequence[Stage] = (        # a build job: its slice, or what this host can build
    load.LoadForBuild(),
    build.Build(what_this_host_builds=True),
    store.StoreFiles(),
)
VERIFY: Sequence[Stage] = (       # the verify job: always verifies, even a run verified before
    load.Load(),
    verify.Verify(force=True),
    sbom.MakeSbom(),                # the release's CycloneDX SBOM, kept in the run for the publish job
    attest.Attest(sign=False),      # every attestation the run holds, against its file and signer
    report.Report(),
)
PUBLISH: Sequence[Stage] = (      # the publish job, or the manual fallback
    load.Load(for_publish=True),    # a tagged release, never a branch rehearsal
    preflight.Preflight(),
    verify.Verify(),                # skipped when the run passed verify with these very files
    inspect.Inspect(),              # every file read again here: planned, this project and version, checks pass
    sbom.MakeSbom(),                # kept from the verify job; made here for a run verified before there was one
    attest.Attest(),                # sign what has no attestation yet; verify every one before the first upload
    publish.Publish(),
    report.Report(),
)


def run_stages(stages: Sequence[Stage], ctx: Context) -> None:
    for stage in stages:
        # A command that finished early (a release found on the index) still reports.
        reason = ctx.finished_early if ctx.finished_early and not stage.reports else stage.skip(ctx)
        if reason:
            log.info("%s: skipped, %s", stage.name, reason)
            continue
        start = time.perf_counter()
        with ui.group(stage.name):
            stage.run(ctx)
        ctx.stage_seconds.append((stage.name, time.perf_counter() - start))  # the report's "stages"
