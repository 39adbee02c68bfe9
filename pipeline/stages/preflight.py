"""preflight: check before spending. Credentials and the index, before any build."""

from __future__ import annotations

import logging

from pipeline import credentials
from pipeline.context import Context
from pipeline.errors import PublishFailed
from pipeline.index import Index, Listing
from pipeline.publishing import Publisher

log = logging.getLogger(__name__)


class Preflight:
    """Credentials and the index, checked before anything is spent. With
    `finds_published` (a whole release), a version whose published run is on the
    index already finishes the command early."""

    name = "preflight"

    def __init__(self, *, finds_published: bool = False) -> None:
        self.finds_published = finds_published

    def skip(self, ctx: Context) -> str | None:
        return None

    def run(self, ctx: Context) -> None:
        plan, config = ctx.need_plan(), ctx.index
        if plan.dry_run:
            found = credentials.find(config)
            log.info("dry run: credentials for %s %s", config.name,
                     f"found ({found.source})" if found else f"not set (${config.password_env})")
        else:
            found = credentials.require(config)
            log.info("credentials for %s: %s", config.name, found.describe())
        publisher = Publisher(Index(config, None, timeout=ctx.spec.publish.timeout), plan.project, ctx.spec.publish)
        listed = publisher.probe()
        ctx.listing = listed
        log.info("%s answers; it lists %d files of %s", config.name, len(listed), plan.project)
        _uploads_allowed(listed, config.name, plan.project, trusted=found is not None and found.trusted)
        if self.finds_published:
            self._already_published(ctx, {name: f.sha256 for name, f in listed.items()})

    def _already_published(self, ctx: Context, listed: dict[str, str | None]) -> None:
        """A version whose published run's files are all on the index, same hashes: done."""
        plan = ctx.need_plan()
        for state in reversed(ctx.runs.all()):
            if not state.publish or state.publish.dry_run or state.publish.index != plan.index:
                continue
            if state.artifacts and all(listed.get(a.name) == a.sha256 for a in state.artifacts):
                ctx.finished_early = f"the release is already published (run {state.run_id})"
                ctx.state, ctx.plan, ctx.publication = state, state.plan, state.publish
                ctx.verification = state.verify
                log.info("%s %s is already on %s: all %d files of run %s are there with their sha256; "
                         "nothing to build or upload", plan.project, plan.version, plan.index,
                         len(state.artifacts), state.run_id)
                return


def _uploads_allowed(listed: Listing, index: str, project: str, *, trusted: bool) -> None:
    """Stop before anything is built when the index's PEP 792 status refuses the upload:
    an archived project takes no file, a quarantined one none from a trusted publisher."""
    status, why = listed.status, f" ({listed.reason})" if listed.reason else ""
    if status == "archived":
        raise PublishFailed(f"{project} is archived on {index}{why}: the index refuses every upload to it",
                            hint="unarchive the project in its settings on the index, then release again; "
                                 "nothing was built or uploaded")
    if status == "quarantined" and trusted:
        raise PublishFailed(f"{project} is quarantined on {index}{why}: trusted publishers may not upload to it",
                            hint="ask the index's administrators to lift the quarantine; an API token of a "
                                 "project owner can still upload. Nothing was built or uploaded")
    if status not in ("active", "archived", "quarantined"):
        log.warning("%s is %s on %s%s; uploads are still accepted", project, status, index, why)
