"""build: each slice's files, made by the builder stated for it, and its record.

The sdist is built first; wheels are built from it. A slice this run has already
recorded is not built again, nor one the plan of this same process built (`release`
takes the sdist, and a pure wheel, the plan built). Every file's version must be the
release's.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

from pipeline import builders, importnames, testinstall
from pipeline.builders import BuildJob, Built
from pipeline.context import Context, Stage
from pipeline.errors import BuildFailed, UsageError, VersionMismatch
from pipeline.git import git
from pipeline.records import (
    Artifact,
    BuilderName,
    BuildRecord,
    Plan,
    Slice,
    distribution_of,
    identifier_of,
    sha256_of,
)
from pipeline.runs import now
from pipeline.ui import host_description

log = logging.getLogger(__name__)


def source_date_epoch(project_dir: Path) -> str | None:
    """The tagged commit's time, so a rebuild gives the same bytes where it can."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    return git(project_dir, "log", "-1", "--format=%ct", timeout=10)


def tag_note(project_dir: Path, tag: str) -> str:
    """Whether the checkout holds the release's tag at HEAD: what tag-versioned
    projects (setuptools-scm, hatch-vcs) compute their version from."""
    if not tag:
        return ""
    if tag in (git(project_dir, "tag", "--points-at", "HEAD") or "").split():
        return f"; the checkout holds tag {tag} at HEAD"
    return (f"; the checkout does not hold tag {tag} at HEAD, so a version read from git tags cannot see it "
            f"(check out refs/tags/{tag}, or fetch the tags)")


def make_record(plan: Plan, slice: Slice, builder: BuilderName, built: list[Built],
                checkout: str = "", why: str = "") -> tuple[BuildRecord, dict[str, Path]]:
    """The record of a slice's files; raises if a file's version is not the release's,
    adding `checkout` (what `tag_note` says) to the message."""
    artifacts, files = [], {}
    host = host_description()
    _one_file_per_identifier(slice, built)
    for item in built:
        try:
            _name, version = distribution_of(item.path.name)
        except ValueError as exc:  # the backend is the project's code: its file name is input
            raise BuildFailed(f"the build made {item.path.name!r}, which is not a wheel's or sdist's name: {exc}",
                              hint="check what the build backend writes (`uv build` shows it); PyPI refuses such "
                                   "a name") from None
        if version != plan.version:
            raise VersionMismatch(
                f"{item.path.name} has version {version}, but the release is {plan.version} (tag {plan.tag})"
                + checkout,
                hint="the build backend computed another version; check dynamic versioning and the tag",
            )
        artifacts.append(Artifact(
            name=item.path.name, identifier=identifier_of(item.path.name), slice=slice.name,
            kind="sdist" if slice.name == "sdist" else "wheel", sha256=sha256_of(item.path),
            size=item.path.stat().st_size, builder=builder, tools=item.tools, built_on=host, test=item.test,
            built_from=sha256_of(item.built_from) if item.built_from else None,
        ))
        files[item.path.name] = item.path
    record = BuildRecord(slice=slice.name, runner=host, finished=now(), artifacts=tuple(artifacts), why=why)
    return record, files


def _one_file_per_identifier(slice: Slice, built: list[Built]) -> None:
    """Raise `BuildFailed` when two planned identifiers made one file, or a build made a
    file of another identifier: the plan does not match what the backend builds."""
    by_name: dict[str, list[str]] = {}
    for item in built:
        by_name.setdefault(item.path.name, []).append(item.identifier or "?")
    for name, identifiers in by_name.items():
        if len(identifiers) > 1:
            raise BuildFailed(
                f"planned identifiers {', '.join(identifiers[:-1])} and {identifiers[-1]} of slice {slice.name} "
                f"{'both' if len(identifiers) == 2 else 'all'} built {name}",
                hint="the backend builds one file for all of them (a pure wheel?); set kind = \"pure\" in the "
                     "buildspec, or let kind = \"auto\" decide from what the backend builds",
            )
    for item in built:
        made = identifier_of(item.path.name)
        if item.identifier and made != item.identifier and item.identifier in slice.identifiers \
                and made not in slice.identifiers:
            raise BuildFailed(
                f"building {item.identifier} of slice {slice.name} made {item.path.name}, which is {made}",
                hint="the backend builds another kind of wheel than planned; set kind to match "
                     "(\"pure\" for a py3-none-any wheel), or let kind = \"auto\" decide",
            )


def _not_made_twice(record: BuildRecord, earlier: list[Artifact]) -> None:
    """Raise `BuildFailed` when a slice made a file another slice of the run made."""
    for artifact in record.artifacts:
        twin = next((a for a in earlier if a.name == artifact.name and a.slice != artifact.slice), None)
        if twin is not None:
            raise BuildFailed(
                f"slices {twin.slice} ({twin.identifier}) and {artifact.slice} ({artifact.identifier}) "
                f"both built {artifact.name}",
                hint="two planned identifiers make one file; set kind = \"pure\" for a pure project, or narrow "
                     "the slices in the buildspec",
            )


class Build(Stage):
    """Build the run's slices, sdist first. With `what_this_host_builds` (a build job
    given no --slice), only the slices a builder here can make; the rest are left for
    their own runners."""

    name = "build"

    def __init__(self, *, what_this_host_builds: bool = False) -> None:
        self.what_this_host_builds = what_this_host_builds

    def run(self, ctx: Context) -> None:
        plan, state = ctx.need_plan(), ctx.need_state()
        if ctx.options.project_dir is None:
            raise UsageError("build needs the project folder")
        if ctx.options.command == "release":  # verify test-installs next: find its interpreters meanwhile
            testinstall.find_interpreters_early()
        project_dir = ctx.options.project_dir.resolve()
        wanted = self._slices(ctx, plan, project_dir)
        todo = [s for s in wanted if s.name not in state.records]
        for s in wanted:
            if s.name in state.records:
                log.info("slice %s is already built in run %s (by %s)", s.name, plan.run_id,
                         state.records[s.name].runner)
        if not todo:
            return
        out = ctx.dist
        out.mkdir(parents=True, exist_ok=True)
        job = BuildJob(project_dir=project_dir, slice=todo[0], sdist=None, outdir=out, logdir=ctx.workdir,
                       native=plan.native, requires_python=plan.requires_python, test_command=plan.test_command,
                       smoke_test=importnames.smoke_command(plan.project, plan.import_names), source_date_epoch=source_date_epoch(project_dir),
                       before_sdist=ctx.spec.before_sdist)
        sdist = None
        for s in todo:
            builder, why = builders.choose(ctx.options.builder, s, project_dir)
            built = ctx.prebuilt.get(s.name)
            if built:
                log.info("slice %s: built from this checkout while planning; not built again", s.name)
            else:
                if s.name != "sdist" and sdist is None:
                    sdist = self._sdist(ctx, plan, job)
                built = builder.build(replace(job, slice=s, sdist=sdist))
            record, files = make_record(plan, s, builder.name, built,
                                        tag_note(project_dir, plan.tag if plan.tagged else ""), why=why)
            _not_made_twice(record, [*state.artifacts, *(a for r, _ in ctx.built for a in r.artifacts)])
            if s.name == "sdist":
                sdist = built[0].path
            for a in record.artifacts:
                log.info("  built %s (%s, %d bytes)", a.name, a.identifier, a.size)
            ctx.built.append((record, files))

    def _slices(self, ctx: Context, plan: Plan, project_dir: Path) -> list[Slice]:
        if ctx.options.slice:
            chosen = plan.slice(ctx.options.slice)
            if chosen is None:
                raise UsageError(f"run {plan.run_id} plans no slice {ctx.options.slice!r}",
                                 hint="slices planned: " + ", ".join(s.name for s in plan.slices))
            return [chosen]
        if not self.what_this_host_builds:
            return list(plan.slices)
        here = []
        for s in plan.slices:  # a build job without --slice builds what this host can
            builder, reasons = builders.find(ctx.options.builder, s, project_dir)
            if builder is None:
                log.info("slice %s is left for its own runner (%s): %s", s.name, s.runner, "; ".join(reasons))
            else:
                here.append(s)
        if not here:
            raise BuildFailed(f"this host can build none of run {plan.run_id}'s slices",
                              hint="pass --slice on the slice's own runner")
        return here

    def _sdist(self, ctx: Context, plan: Plan, job: BuildJob) -> Path:
        """The sdist wheels are built from: this run's stored one, or a private build."""
        state = ctx.need_state()
        stored = [a for a in state.artifacts if a.kind == "sdist"]
        if stored:
            log.info("building wheels from this run's stored sdist %s", stored[0].name)
            return ctx.runs.fetch(state, ctx.workdir / "sources", stored)[stored[0].name]
        log.info("this run has no stored sdist yet; building one to build wheels from")
        sdist_slice = plan.slice("sdist") or Slice(name="sdist", platform="any", arch="any",
                                                    runner="", identifiers=("sdist",))
        private = replace(job, slice=sdist_slice, sdist=None, outdir=ctx.workdir / "sources")
        private.outdir.mkdir(parents=True, exist_ok=True)
        built = builders.choose("local", sdist_slice, job.project_dir)[0].build(private)
        if not built:
            raise BuildFailed("building the sdist gave no file")
        return built[0].path
