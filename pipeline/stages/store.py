"""store: each built slice's files, then the record that names them."""

from __future__ import annotations

import logging

from pipeline.context import Context, Stage

log = logging.getLogger(__name__)


class StoreFiles(Stage):
    """Each built slice's files into the artifact store, then its record."""

    name = "store"

    def skip(self, ctx: Context) -> str | None:
        return None if ctx.built else "nothing new was built"

    def run(self, ctx: Context) -> None:
        plan, runs = ctx.need_plan(), ctx.runs
        for record, files in ctx.built:
            sent = runs.store_record(record, files, plan.run_id)
            log.info("slice %s stored in %s: %d file(s) sent, %d already there", record.slice,
                     ctx.store.url, sent, len(files) - sent)
        ctx.built.clear()
        ctx.state = runs.read(plan.run_id)
