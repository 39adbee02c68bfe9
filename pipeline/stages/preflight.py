"""preflight: check before spending. Credentials and the index, before any build."""

from __future__ import annotations

import logging

from pipeline import credentials
from pipeline.context import Context, Stage
from pipeline.errors import PublishFailed
from pipeline.index import Listing
from pipeline.publishing import already_published

log = logging.getLogger(__name__)


class Preflight(Stage):
    """Credentials and the index, checked before anything is spent. With
    `finds_published` (a whole release), a version whose published run is on the
    index already finishes the command early."""

    name = "preflight"

    def __init__(self, *, finds_published: bool = False) -> None:
        self.finds_published = finds_published

    def run(self, ctx: Context) -> None:
        plan, config = ctx.need_plan(), ctx.index
        if plan.dry_run:
            found = credentials.find(config)
            log.info("dry run: credentials for %s %s", config.name,
                     f"found ({found.source})" if found else f"not set (${config.password_env})")
        else:
            found = credentials.require(config)
            log.info("credentials for %s: %s", config.name, found.describe())
        listed = ctx.listing = ctx.publisher().probe()
        log.info("%s answers; it lists %d files of %s", config.name, len(listed), plan.project)
        _uploads_allowed(listed, config.name, plan.project, trusted=found is not None and found.trusted)
        if self.finds_published:
            self._already_published(ctx, listed)

    @staticmethod
    def _already_published(ctx: Context, listed: Listing) -> None:
        """A version whose published run's files are all on the index, same hashes: done,
        and the report shows that run."""
        plan = ctx.need_plan()
        found = already_published(plan, ctx.runs.all(), listed)
        if found is None or found.run is None:  # nothing stored to show: build, and publish finds what is there
            return
        ctx.published = found.run
        log.info("%s %s is already on %s: all %d files of run %s are there with their sha256; "
                 "nothing to build or upload", plan.project, plan.version, plan.index,
                 len(found.run.artifacts), found.run.run_id)


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
