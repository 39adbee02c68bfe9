"""plan: the request, the buildspec and the project's metadata become plan.json.

The tag's version must equal the declared version. The plan is stored as a new run,
and on GitHub Actions written to ``GITHUB_OUTPUT`` as ``matrix`` and ``run-id``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from dataclasses import replace
from pathlib import Path

from pipeline import __version__, kind
from pipeline.builders import run_before_sdist
from pipeline.context import Context
from pipeline.errors import NothingToDo, UsageError, VersionMismatch
from pipeline.git import git
from pipeline.planning import plan_slices
from pipeline.project import load_project
from pipeline.records import Plan as PlanRecord
from pipeline.records import distribution_of, identifier_of
from pipeline.runs import RunState, new_run_id, now
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


class Plan:
    name = "plan"

    def skip(self, ctx: Context) -> str | None:
        return None

    def run(self, ctx: Context) -> None:
        request = ctx.request
        assert request is not None and ctx.options.project_dir is not None
        project = ctx.project = load_project(ctx.options.project_dir, log_file=ctx.workdir / "metadata-hook.log")
        tagged = bool(request.tag)
        if not tagged:  # a scheduled dry run: the declared version
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
            tagged=tagged,
            commit=checked_out_commit(project.root, request.tag if tagged else None),
            written_by=__version__,
            slices=plan_slices(project, native, ctx.spec.slices, host_only=ctx.options.host_only,
                               local_builder=local_builds(ctx.options.builder), runners=ctx.spec.runners),
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


class AlreadyOnIndex:
    """A tagged release whose every planned file is on its index already has nothing to
    do: a second event for the same tag (a push, then a published release) ends here
    instead of rebuilding every platform. Reading the index needs no credential."""

    name = "index check"

    def skip(self, ctx: Context) -> str | None:
        plan = ctx.need_plan()
        return "a dry run uploads nothing" if plan.dry_run or not plan.tagged else None

    def run(self, ctx: Context) -> None:
        from pipeline.errors import WheelshipError
        from pipeline.index import Index
        from pipeline.publishing import Publisher

        plan = ctx.need_plan()
        self._published_run(ctx, plan)
        try:
            listed = Publisher(Index(ctx.index, None, timeout=ctx.spec.publish.timeout), plan.project,
                               ctx.spec.publish).probe()
        except WheelshipError as exc:  # the publish job checks again; a plan need not wait for the index
            log.warning("could not list %s on %s (%s); planning the release anyway", plan.project, plan.index,
                        exc.message)
            return
        on_index = {identifier_of(name) for name in listed if distribution_of(name)[1] == plan.version}
        if set(plan.identifiers) <= on_index:
            raise NothingToDo(
                f"every planned file of {plan.project} {plan.version} ({len(plan.identifiers)}) is on "
                f"{plan.index} already",
                hint="an index never replaces a file; release a new version to change them",
            )


    @staticmethod
    def _published_run(ctx: Context, plan: PlanRecord) -> None:
        """A run in the store that published this tag's commit for real: nothing to do."""
        from pipeline.errors import StoreError

        if not plan.commit:
            return
        try:
            runs = ctx.runs.all()
        except StoreError as exc:
            log.warning("could not read earlier runs in %s (%s)", ctx.store.url, exc.message)
            return
        for state in runs:
            published = state.publish
            if published and not published.dry_run and state.plan.tag == plan.tag \
                    and state.plan.commit == plan.commit:
                raise NothingToDo(
                    f"run {state.run_id} already published tag {plan.tag} (commit {plan.commit[:12]}) to "
                    f"{published.index}",
                    hint="an index never replaces a file; release a new version to change them",
                )


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
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"matrix={json.dumps(github_matrix(plan), separators=(',', ':'))}\n")
        wheels = {"include": [m for m in github_matrix(plan)["include"] if m["slice"] != "sdist"]}
        fh.write(f"wheel-matrix={json.dumps(wheels, separators=(',', ':'))}\n")
        fh.write(f"run-id={plan.run_id}\n")
        fh.write(f"version={plan.version}\n")
        fh.write(f"project={plan.project}\n")
        fh.write(f"index={plan.index}\n")
        fh.write(f"dry-run={'true' if plan.dry_run else 'false'}\n")
        fh.write(f"commit={plan.commit}\n")
