"""preflight: check before spending. Credentials and the index, before any build."""

from __future__ import annotations

import logging

import requests

from pipeline import credentials
from pipeline.context import Context
from pipeline.errors import PublishFailed
from pipeline.index import Index
from pipeline.retry import Transient

log = logging.getLogger(__name__)


class Preflight:
    name = "preflight"

    def skip(self, ctx: Context) -> str | None:
        return None

    def run(self, ctx: Context) -> None:
        plan = ctx.need_plan()
        if plan.dry_run:
            found = credentials.find(plan.index)
            log.info("dry run: credentials for %s %s", plan.index.name,
                     f"found ({found.source})" if found else f"not set (${plan.index.password_env})")
        else:
            found = credentials.require(plan.index)
            log.info("credentials for %s: %s", plan.index.name, found.describe())
        index = Index(plan.index, None, timeout=ctx.spec.publish.timeout)
        try:
            listed = index.listing(plan.project)
        except (requests.RequestException, Transient) as exc:
            raise PublishFailed(
                f"index {plan.index.name} does not answer at {plan.index.simple_url}: "
                f"{credentials.redact(str(exc))}",
                hint="check the index URL in the buildspec and the network; nothing was built",
            ) from None
        log.info("%s answers; it lists %d files of %s", plan.index.name, len(listed), plan.project)
        if ctx.options.command == "release":
            self._already_published(ctx, {name: f.sha256 for name, f in listed.items()})

    def _already_published(self, ctx: Context, listed: dict[str, str | None]) -> None:
        """A version whose published run's files are all on the index, same hashes: done."""
        plan = ctx.need_plan()
        for state in reversed(ctx.runs.all()):
            if not state.publish or state.publish.get("dry_run") or state.publish.get("index") != plan.index.name:
                continue
            if state.artifacts and all(listed.get(a.name) == a.sha256 for a in state.artifacts):
                ctx.already_published = True
                ctx.state, ctx.plan, ctx.publication = state, state.plan, state.publish
                ctx.verification = state.verify
                log.info("%s %s is already on %s: all %d files of run %s are there with their sha256; "
                         "nothing to build or upload", plan.project, plan.version, plan.index.name,
                         len(state.artifacts), state.run_id)
                return
