"""plan: the request, the buildspec and the project's metadata become plan.json.

The tag's version must equal the declared version. The plan is stored as a new run,
and on GitHub Actions written to ``GITHUB_OUTPUT`` as ``matrix`` and ``run-id``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace

from pipeline import kind
from pipeline.builders import run_before_sdist
from pipeline.context import Context
from pipeline.errors import UsageError
from pipeline.planning import plan_slices
from pipeline.project import load_project
from pipeline.records import Plan as PlanRecord
from pipeline.runs import RunState, new_run_id, now
from pipeline.versioning import check_same, is_prerelease

log = logging.getLogger(__name__)


def routed_index(ctx: Context, chosen: str | None, prerelease: bool) -> str:
    """The index a release goes to: the one chosen, else routed by the version."""
    name = chosen or (ctx.spec.prerelease_index if prerelease else ctx.spec.final_index)
    ctx.spec.index(name)  # an unknown name is an error now, not at publish time
    return name


def github_matrix(plan: PlanRecord) -> dict[str, object]:
    """The build jobs' ``strategy.matrix``: one entry per slice."""
    return {"include": [{"slice": s.name, "runner": s.runner, "platform": s.platform} for s in plan.slices]}


class Plan:
    name = "plan"

    def skip(self, ctx: Context) -> str | None:
        return None

    def run(self, ctx: Context) -> None:
        request = ctx.request
        assert request is not None and ctx.options.project_dir is not None
        project = ctx.project = load_project(ctx.options.project_dir)
        if not request.tag:  # a scheduled dry run: the declared version
            request = ctx.request = replace(request, tag=str(project.version), version=project.version)
        check_same(request.version, project.version, where=project.version_source, tag=request.tag)
        run_before_sdist(ctx.spec.before_sdist, project.root, ctx.workdir / "before-sdist.log")
        native, reason = kind.decide(project.root, project.backend, project.pyproject, ctx.spec.kind,
                                     ctx.workdir / "kind.log")
        log.info("%s %s is %s: %s", project.name, project.version, "native" if native else "pure Python", reason)
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
            slices=plan_slices(project, native, ctx.spec.slices, host_only=ctx.options.host_only),
        )
        if ctx.options.slice and plan.slice(ctx.options.slice) is None:
            raise UsageError(f"the plan has no slice {ctx.options.slice!r}",
                             hint="slices planned: " + ", ".join(s.name for s in plan.slices))
        ctx.plan = plan
        ctx.state = RunState(plan=plan)
        for s in plan.slices:
            log.info("  %-14s %-18s %s", s.name, s.runner, " ".join(s.identifiers))
        log.info("run %s planned: %d files to %s (%s)", plan.run_id, len(plan.identifiers),
                 plan.index, ctx.spec.index(plan.index).upload_url)


class RecordPlan:
    """Store the plan as a new run; from here on the run exists."""

    name = "record plan"

    def skip(self, ctx: Context) -> str | None:
        return None

    def run(self, ctx: Context) -> None:
        plan = ctx.need_plan()
        ctx.runs.write_plan(plan)
        log.info("run %s stored in %s", plan.run_id, ctx.store.url)
        _github_output(plan)


def _github_output(plan: PlanRecord) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a") as fh:
        fh.write(f"matrix={json.dumps(github_matrix(plan), separators=(',', ':'))}\n")
        fh.write(f"run-id={plan.run_id}\n")
        fh.write(f"version={plan.version}\n")
        fh.write(f"project={plan.project}\n")
        fh.write(f"index={plan.index}\n")
        fh.write(f"dry-run={'true' if plan.dry_run else 'false'}\n")
