"""inspect: before the first upload, publish reads every file it will send, itself.

A run's records and its verification came from jobs that ran project code, or from
anyone who can write the store: input, not proof. So before anything is uploaded,
every file is read again here (never executed): it is one the plan names, its
metadata's name and version are the run's, and the file-level checks pass. A run
verified by this very process moments ago (a local `release`) is not read twice.
"""

from __future__ import annotations

import logging

from pipeline.checks import Findings
from pipeline.checks.completeness import check_completeness
from pipeline.checks.files import check_files
from pipeline.context import Context, Stage
from pipeline.errors import VerificationFailed

log = logging.getLogger(__name__)


class Inspect(Stage):
    name = "inspect"

    def skip(self, ctx: Context) -> str | None:
        verified = ctx.verification
        if verified is not None and verified.ok and verified.run_id == ctx.need_plan().run_id:
            return "this process verified these very files moments ago"
        return None

    def run(self, ctx: Context) -> None:
        plan, state = ctx.need_plan(), ctx.need_state()
        artifacts = state.artifacts
        ctx.local_files(state)
        findings = Findings(plan.checks)
        check_completeness(plan, artifacts, findings)
        check_files([ctx.files[a.name] for a in artifacts], findings, plan=plan, native=plan.native, parity=False,
                    limits=ctx.spec.limits)
        if findings.errors:
            raise VerificationFailed(
                f"run {plan.run_id}: {len(findings.errors)} file check(s) failed just before publishing:\n  "
                + "\n  ".join(f.line() for f in findings.errors),
                hint="the stored files are not what a release of this project and version may publish; "
                     "nothing was uploaded",
            )
        log.info("all %d file(s) of run %s read again before publishing: each is planned, %s %s by its "
                 "metadata, and passes the file checks", len(artifacts), plan.run_id, plan.project, plan.version)
