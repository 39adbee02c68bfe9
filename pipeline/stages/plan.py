"""plan: the request, the buildspec and the project's metadata become plan.json.

The tag's version must equal the declared version. The plan is stored as a new run,
and on GitHub Actions written to ``GITHUB_OUTPUT`` as the keys of `pipeline.outputs.PLAN`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

from pipeline import __version__, kind
from pipeline.context import Context, Stage
from pipeline.errors import NothingToDo, StoreError, UsageError, VersionMismatch, WheelshipError
from pipeline.git import git
from pipeline.index import Listing
from pipeline.outputs import PLAN as PLAN_OUTPUTS
from pipeline.planning import plan_slices
from pipeline.project import configuration, load_project
from pipeline.publishing import already_published
from pipeline.records import Plan as PlanRecord
from pipeline.runs import RunState, new_run_id, now
from pipeline.stages import early
from pipeline.versioning import check_same, is_prerelease

log = logging.getLogger(__name__)


def routed_index(ctx: Context, chosen: str | None, prerelease: bool) -> str:
    """The index a release goes to: the one chosen, else routed by the version."""
    name = chosen or (ctx.spec.prerelease_index if prerelease else ctx.spec.final_index)
    ctx.spec.index(name)  # an unknown name is an error now, not at publish time
    return name


def checked_out_commit(root: Path, tag: str | None) -> str:
    """The commit the checkout is at ("" outside git); raises `VersionMismatch` when the
    tag exists in the checkout but names another commit: what is built must be the tag."""
    head = git(root, "rev-parse", "HEAD")
    if head is None:
        return ""
    if tag:
        tagged = git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
        if tagged is not None and tagged != head:
            raise VersionMismatch(
                f"tag {tag} is commit {tagged[:12]}, but the checkout in {root} is at {head[:12]}",
                hint=f"check out the tag (`git checkout {tag}`; on GitHub, the workflow's checkout takes the tag) "
                     "so that what is built is what was tagged",
            )
        if tagged is None and os.environ.get("GITHUB_ACTIONS") == "true":
            raise VersionMismatch(
                f"tag {tag} is not in the checkout in {root}, so its commit cannot be checked",
                hint="check out the tag: actions/checkout with `ref: refs/tags/TAG`",
            )
    return head


def local_builds(builder: str) -> bool:
    """Whether a host plan is narrowed to what the local builder can make: the local
    builder's own, or `auto` on Linux. On macOS and Windows the local builder makes no
    wheel, so `auto` means cibuildwheel there, for the host's whole slice."""
    return builder == "local" or (builder == "auto" and platform.system() == "Linux")


def github_matrix(plan: PlanRecord) -> dict[str, list[dict[str, str]]]:
    """The build jobs' ``strategy.matrix``: one entry per slice."""
    return {"include": [{"slice": s.name, "runner": s.runner, "platform": s.platform, "qemu": s.arch if s.qemu else ""}
                        for s in plan.slices]}


class Plan(Stage):
    name = "plan"

    def run(self, ctx: Context) -> None:
        request = ctx.request
        assert request is not None and ctx.options.project_dir is not None
        config = configuration(ctx.options.project_dir)
        known = kind.settled(config.backend, config.pyproject, config.root, ctx.spec.kind)
        with ThreadPoolExecutor(1) as pool:
            building = early.build(ctx, config, known, pool)
            if building and ctx.options.command == "release":
                early.load_later_stages(ctx)
            needed = building.result() if building and (known is None or config.version_is_dynamic) else None
            project = ctx.project = load_project(config, log_file=ctx.workdir / "metadata-hook.log",
                                                 sdist=needed[0].path if needed else None)
            tagged = bool(request.tag)
            if not tagged:  # a scheduled dry run: the declared version
                request = ctx.request = replace(request, tag=str(project.version), version=project.version)
            check_same(request.version, project.version, where=project.version_source, tag=request.tag)
            native, reason = known or kind.of_wheel(early.wheel_of(needed))
            log.info("%s %s is %s: %s", project.name, project.version, "native" if native else "pure Python", reason)
            if building and ctx.spec.before_sdist:  # it may write files the slices are planned from
                building.result()
            slices = plan_slices(project, native, ctx.spec.slices, host_only=ctx.options.host_only,
                                 local_builder=local_builds(ctx.options.builder), runners=ctx.spec.runners)
            if building:
                ctx.prebuilt = early.taken(ctx, building, slices.planned, native, config.root)
        plan = PlanRecord(
            project=project.canonical_name,
            version=str(project.version),
            run_id=new_run_id(),
            tag=request.tag,
            trigger=request.trigger,
            created=now(),
            dry_run=request.dry_run,
            index=(index := routed_index(ctx, request.index, is_prerelease(project.version))),
            index_urls=ctx.spec.index(index).urls(),
            native=native,
            requires_python=project.requires_python,
            import_names=ctx.spec.import_names,
            test_command=ctx.spec.test_command,
            checks=dict(ctx.spec.checks),
            tagged=tagged,
            commit=checked_out_commit(project.root, request.tag if tagged else None),
            written_by=__version__,
            slices=slices.planned,
            left_out=slices.left_out,
        )
        if ctx.options.slice and plan.slice(ctx.options.slice) is None:
            raise UsageError(f"the plan has no slice {ctx.options.slice!r}",
                             hint="slices planned: " + ", ".join(s.name for s in plan.slices))
        ctx.plan = plan
        ctx.state = RunState(plan=plan)
        for s in plan.slices:
            log.info("  %-14s %-18s %s", s.name, s.runner, " ".join(s.identifiers))
        if plan.commit:
            log.info("building commit %s%s", plan.commit, f" (tag {request.tag})" if tagged else " (no tag)")
        log.info("run %s planned: %d files to %s (%s)", plan.run_id, len(plan.identifiers),
                 plan.index, ctx.spec.index(plan.index).upload_url)


class AlreadyOnIndex(Stage):
    """A tagged release that is out already (`already_published`) has nothing to do:
    a second event for the same tag (a push, then a published release) ends here
    instead of rebuilding every platform. Reading the index needs no credential."""

    name = "index check"

    def skip(self, ctx: Context) -> str | None:
        plan = ctx.need_plan()
        return "a dry run uploads nothing" if plan.dry_run or not plan.tagged else None

    def run(self, ctx: Context) -> None:
        plan = ctx.need_plan()
        runs = _earlier_runs(ctx)
        # The store's records decide first, without asking the index.
        found = already_published(plan, runs, None) or already_published(plan, runs, _listing(ctx))
        if found:
            raise NothingToDo(found.reason, hint="an index never replaces a file; release a new version to change them")


def _earlier_runs(ctx: Context) -> list[RunState]:
    """The stored runs of this version; none, with a warning, when the store cannot be read."""
    try:
        return ctx.runs.all()
    except StoreError as exc:
        log.warning("could not read earlier runs in %s (%s)", ctx.store.url, exc.message)
        return []


def _listing(ctx: Context) -> Listing | None:
    """What the index lists of the project; None, with a warning, when it does not answer."""
    plan = ctx.need_plan()
    try:
        return ctx.publisher().probe()
    except WheelshipError as exc:  # the publish job checks again; a plan need not wait for the index
        log.warning("could not list %s on %s (%s); planning the release anyway", plan.project, plan.index,
                    exc.message)
        return None


class RecordPlan(Stage):
    """Store the plan as a new run; from here on the run exists."""

    name = "record plan"

    def run(self, ctx: Context) -> None:
        plan = ctx.need_plan()
        ctx.runs.write_plan(plan)
        log.info("run %s stored in %s", plan.run_id, ctx.store.url)
        _github_output(plan)


def _github_output(plan: PlanRecord) -> None:
    matrix = github_matrix(plan)
    wheels = {"include": [m for m in matrix["include"] if m["slice"] != "sdist"]}
    PLAN_OUTPUTS.write({
        "matrix": json.dumps(matrix, separators=(",", ":")),
        "wheel-matrix": json.dumps(wheels, separators=(",", ":")),
        "run-id": plan.run_id,
        "version": plan.version,
        "project": plan.project,
        "index": plan.index,
        "dry-run": "true" if plan.dry_run else "false",
        "commit": plan.commit,
        "left-out": json.dumps([asdict(s) for s in plan.left_out], separators=(",", ":")),
    })
