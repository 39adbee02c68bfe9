"""load: a run read back from the store, for the commands that work on stored runs."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from packaging.version import Version

from pipeline import validation
from pipeline.context import Context, Stage
from pipeline.errors import IntegrityError, UsageError, VersionMismatch
from pipeline.git import git
from pipeline.project import load_project
from pipeline.records import Plan as PlanRecord
from pipeline.runs import Runs
from pipeline.stages.plan import routed_index
from pipeline.versioning import is_prerelease, parse_tag

log = logging.getLogger(__name__)


class Load(Stage):
    """The run a command works on. With `for_publish`, only a tagged release is taken
    (dry runs with --include-dry-runs), and the command's --dry-run decides the upload."""

    name = "load"

    def __init__(self, *, for_publish: bool = False) -> None:
        self.for_publish = for_publish

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
        if self.for_publish:  # the command decides the upload and where it goes, never the stored plan
            _same_tag(ctx, plan)
            plan = replace(plan, dry_run=ctx.options.dry_run, index=live_index(ctx, plan))
        elif ctx.options.index:
            plan = replace(plan, index=routed_index(ctx, ctx.options.index, False))
        ctx.plan = plan


def _same_tag(ctx: Context, plan: PlanRecord) -> None:
    """With --tag (the publish job's, from the event), the run must be that tag's."""
    tag = ctx.options.tag
    if tag and (plan.tag != tag or Version(plan.version) != parse_tag(tag)):
        raise IntegrityError(
            f"run {plan.run_id} is {plan.project} {plan.version} planned for tag {plan.tag or '(none)'}, but this "
            f"publish is for tag {tag} ({parse_tag(tag)})",
            hint="the run id or version came from somewhere other than the event; nothing was uploaded",
        )


def live_index(ctx: Context, plan: PlanRecord) -> str:
    """Where a stored run is published: `--index`, else the routing in force now for its
    version. A plan that names another index is refused (exit 6): a stored record never
    chooses where files go, or which credential goes with them."""
    live = routed_index(ctx, ctx.options.index, is_prerelease(Version(plan.version)))
    if ctx.options.index is None and plan.index != live:
        raise IntegrityError(
            f"run {plan.run_id} was planned for index {plan.index!r}, but the configuration in force routes "
            f"{plan.project} {plan.version} to {live!r}",
            hint=f"a stored plan never chooses where files go; pass --index {live} to publish to {live}, or "
                 f"--index {plan.index} if that is where this release belongs; nothing was uploaded",
        )
    if plan.index != live:
        log.info("publishing to %s, as --index says (run %s was planned for %s)", live, plan.run_id, plan.index)
    return live


class LoadForBuild(Stage):
    """The run a build job adds to: the project's name and version find it."""

    name = "load"

    def run(self, ctx: Context) -> None:
        assert ctx.options.project_dir is not None
        if not ctx.options.run_id:
            raise UsageError("build needs --run-id", hint="`wheelship plan` prints the run id")
        project = ctx.project = load_project(ctx.options.project_dir, log_file=ctx.workdir / "metadata-hook.log")
        runs = Runs(ctx.store, project.canonical_name, str(project.version))
        if ctx.options.run_id not in runs.run_ids():
            _planned_at_another_version(ctx, project.canonical_name, str(project.version), project.version_source)
        state = runs.read(ctx.options.run_id)
        ctx.state, ctx.plan = state, state.plan
        _at_planned_commit(ctx.options.project_dir, state.plan)
        log.info("building for run %s of %s %s", state.run_id, state.plan.project, state.plan.version)


def _at_planned_commit(project_dir: Path, plan: PlanRecord) -> None:
    """A build job builds the commit the plan recorded; raises `VersionMismatch` when the
    checkout is elsewhere (a tag moved after planning, a branch that moved on)."""
    head = git(project_dir, "rev-parse", "HEAD")
    if plan.commit and head and head != plan.commit:
        raise VersionMismatch(
            f"the checkout in {project_dir} is at commit {head[:12]}, but run {plan.run_id} was planned at "
            f"{plan.commit[:12]}" + (f" (tag {plan.tag})" if plan.tagged else ""),
            hint="check out the tag (or the planned commit) the plan job built; if the tag was moved, release again",
        )


def _planned_at_another_version(ctx: Context, project: str, version: str, source: str) -> None:
    """Raise `VersionMismatch` when the run exists for another version of the project:
    this checkout computes a version other than the plan's (a tag-versioned project
    checked out without its tag)."""
    from pipeline.stages.build import tag_note

    run_id = ctx.options.run_id
    assert run_id is not None and ctx.options.project_dir is not None
    suffix = f"/{run_id}/plan.json"
    planned = [key.split("/")[1] for key in ctx.store.list(f"{project}/")
               if key.endswith(suffix) and validation.plain_version(key.split("/")[1])]
    if planned:
        state = Runs(ctx.store, project, planned[0]).read(run_id)
        raise VersionMismatch(
            f"this checkout builds {project} {version} ({source}), but run {run_id} is {planned[0]} "
            f"(tag {state.plan.tag})" + tag_note(ctx.options.project_dir, state.plan.tag if state.plan.tagged else ""),
            hint=f"check out the tag the plan built (refs/tags/{state.plan.tag}), as init's workflow does",
        )
