"""publish: a verified run's exact bytes to the target index, wheels first.

With --dry-run it does everything up to the upload, index lookups included, and
reports what would go where.
"""

from __future__ import annotations

import hashlib
import logging

from pipeline import credentials
from pipeline.context import Context, Stage
from pipeline.publishing import WOULD_UPLOAD
from pipeline.records import PublishRecord, wheels_first
from pipeline.runs import now
from pipeline.ui import host_description

log = logging.getLogger(__name__)


class Publish(Stage):
    name = "publish"

    def run(self, ctx: Context) -> None:
        plan, state, config = ctx.need_plan(), ctx.need_state(), ctx.index
        artifacts = wheels_first(state.artifacts)
        files = ctx.local_files(state)
        publisher = ctx.publisher(None if plan.dry_run else credentials.for_upload(config))
        outcomes = publisher.publish(artifacts, files, known=ctx.listing, attestations=ctx.attestations)
        if plan.dry_run:
            would = [n for n, o in outcomes.items() if o == WOULD_UPLOAD]
            log.info("dry run: %d file(s) would be uploaded to %s (%s), %d already there", len(would),
                     config.name, config.upload_url, len(outcomes) - len(would))
        else:
            publisher.confirm(artifacts, outcomes)
        ctx.publication = PublishRecord(index=config.name, upload_url=config.upload_url, dry_run=plan.dry_run,
                                        files=outcomes, finished=now(), host=host_description(),
                                        attestations={name: hashlib.sha256(data).hexdigest()
                                                      for name, data in sorted(ctx.attestations.items())})
        if not plan.dry_run:
            ctx.runs.write_result(plan.run_id, ctx.publication)
