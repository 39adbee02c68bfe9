"""load: a run read back from the store, for the commands that work on stored runs."""

from __future__ import annotations

import logging
from dataclasses import replace

from pipeline.context import Context
from pipeline.errors import UsageError
from pipeline.project import load_project
from pipeline.runs import Runs
from pipeline.stages.plan import routed_index

log = logging.getLogger(__name__)


class Load:
    """The run a command works on. With `for_publish`, only a tagged release is taken
    (dry runs with --include-dry-runs), and the command's --dry-run decides the upload."""

    name = "load"

    def __init__(self, *, for_publish: bool = False) -> None:
        self.for_publish = for_publish

    def skip(self, ctx: Context) -> str | None:
        return None

    def run(self, ctx: Context) -> None:
        runs = ctx.runs
        state = runs.read(ctx.options.run_id) if ctx.options.run_id else \
            runs.newest(release=self.for_publish, dry_runs=ctx.options.include_dry_runs)
        if self.for_publish and not state.plan.tagged and not ctx.options.dry_run:
            raise UsageError(
                f"run {state.run_id} is a {state.plan.trigger} dry run of the branch head ({state.plan.created}), "
                "not a tagged release: it is never published",
                hint="release the version's tag; `publish --dry-run` rehearses this run without uploading",
            )
        ctx.state, ctx.plan = state, state.plan
        log.info("run %s of %s %s (planned %s, %d of %d slices reported)", state.run_id,
                 state.plan.project, state.plan.version, state.plan.created,
                 len(state.plan.slices) - len(state.missing_slices), len(state.plan.slices))
        plan = state.plan
        if self.for_publish:  # a dry-run's run may be published for real later
            plan = replace(plan, dry_run=ctx.options.dry_run)
        if ctx.options.index:
            plan = replace(plan, index=routed_index(ctx, ctx.options.index, False))
        ctx.plan = plan


class LoadForBuild:
    """The run a build job adds to: the project's name and version find it."""

    name = "load"

    def skip(self, ctx: Context) -> str | None:
        return None

    def run(self, ctx: Context) -> None:
        assert ctx.options.project_dir is not None
        if not ctx.options.run_id:
            raise UsageError("build needs --run-id", hint="`wheelship plan` prints the run id")
        project = ctx.project = load_project(ctx.options.project_dir)
        state = Runs(ctx.store, project.canonical_name, str(project.version)).read(ctx.options.run_id)
        ctx.state, ctx.plan = state, state.plan
        log.info("building for run %s of %s %s", state.run_id, state.plan.project, state.plan.version)
