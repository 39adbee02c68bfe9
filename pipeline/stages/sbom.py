"""sbom: the release's CycloneDX SBOM, made from the verified files and the run's records.

After verify, every run gets one document (pipeline.sbom): the release as the root,
every file with its SHA-256, the dependencies the metadata declares, the tools that
made the files. It is kept in the run with its SHA-256 in a record
(pipeline.provenance); `fetch -o DIR` writes it beside the files, and the GitHub
Release carries it. The document is deterministic, so making it again changes nothing.
"""

from __future__ import annotations

import hashlib
import logging

from pipeline import provenance
from pipeline.context import Context, Stage
from pipeline.runs import now

log = logging.getLogger(__name__)


class MakeSbom(Stage):
    name = "sbom"

    def skip(self, ctx: Context) -> str | None:
        verified = ctx.verification or ctx.need_state().verify
        if verified is None or not verified.ok:
            return "the run is not verified"
        return None

    def run(self, ctx: Context) -> None:
        from pipeline import sbom

        plan = ctx.need_plan()
        state = ctx.runs.read(plan.run_id)  # the records as stored: every slice's, and verify's
        files = ctx.local_files(state)
        document = sbom.release_sbom(state, sbom.declared([files[a.name] for a in state.artifacts], ctx.spec.limits))
        name = sbom.sbom_name(plan.project, plan.version)
        held = provenance.read_sbom(ctx.runs, state)
        if held is not None and held[0].sha256 == hashlib.sha256(document).hexdigest():
            log.info("%s: the run holds this very SBOM already", name)
            return
        record = provenance.store_sbom(ctx.runs, plan.run_id, name, document, now())
        log.info("%s: %d bytes, sha256 %s, kept in run %s", name, record.size, record.sha256, plan.run_id)
