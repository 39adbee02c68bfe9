"""attest: every file a PEP 740 publish attestation, signed once, verified before upload.

Signing happens only where the files are about to be published, with the job's own
OIDC identity (trusted publishing's): on GitHub, the publish job; in the sandbox and the
rehearsal, the local Sigstore's identity. Each attestation is kept in the run beside its
file (pipeline.provenance), so a rerun, or the same run published to TestPyPI then PyPI,
sends the same attestation and signs nothing new.

Before any upload, every attestation the run holds is verified offline against its
file's bytes and the identity that signed the run's others (and, in a job with an
identity, that job's own repository and workflow): an attestation for other bytes, or
from another repository or workflow, stops the publish with nothing uploaded.

``[publish] attestations``: "auto" signs where an identity is available, "always" is a
usage error without one (before anything is uploaded), "off" neither signs nor sends.
A dry run signs nothing (a real Sigstore logs every signature publicly), but checks the
identity and verifies what the run holds.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from pipeline import provenance
from pipeline.context import Context, Stage
from pipeline.errors import UsageError
from pipeline.runs import RunState, now

if TYPE_CHECKING:  # sigstore loads in a second: only the stage that signs or verifies pays for it
    from sigstore.models import ClientTrustConfig

    from pipeline.attestations import Claims

log = logging.getLogger(__name__)


class Attest(Stage):
    name = "attest"

    def __init__(self, *, sign: bool = True) -> None:
        self.sign = sign  # False: the verify command, which only checks what the run holds

    def skip(self, ctx: Context) -> str | None:
        if ctx.spec.publish.attestations == "off":
            return 'the buildspec says [publish] attestations = "off"'
        return None

    def run(self, ctx: Context) -> None:
        from pipeline import attestations as pep740

        plan, state = ctx.need_plan(), ctx.need_state()
        record = provenance.read_attestations(ctx.runs, state)
        held = provenance.attestations_of(ctx.runs, state, record) if record else {}
        missing = [a.name for a in state.artifacts if a.name not in held] if self.sign else []
        token = pep740.ambient_identity() if self.sign else None
        claims = pep740.identity_claims(token) if token else None
        if claims is not None:
            pep740.identity_preflight(claims)  # a reusable workflow's mismatch, before anything is signed
            _same_signer(state, record, claims)  # a run's attestations come from one identity, this job's
        if missing and token is None and ctx.spec.publish.attestations == "always":
            raise UsageError(
                f"no signing identity here, and [publish] attestations = \"always\": {len(missing)} file(s) of run "
                f"{plan.run_id} have no attestation",
                hint="publish from the release workflow's publish job (id-token: write), or set "
                     "[publish] attestations = \"auto\" to publish without attestations")
        trust = None
        if missing and claims is not None and token is not None and not plan.dry_run:
            trust = pep740.trust_config(refresh=bool(os.environ.get("GITHUB_ACTIONS")))
            files = ctx.local_files(state)
            signed = pep740.sign_many([files[name] for name in missing], token, trust)
            fresh = {path.name: data for path, data in signed.items()}
            signer = provenance.SignerRecord(repository=claims.repository, workflow=claims.workflow, ref=claims.ref)
            record = provenance.store_attestations(ctx.runs, plan.run_id, fresh, signer, record, now())
            held.update(fresh)
            log.info("signed %d file(s) as %s workflow %s at %s; kept in run %s", len(fresh), signer.repository,
                     signer.workflow, signer.ref, plan.run_id)
        elif missing:
            why = "a dry run signs nothing" if plan.dry_run else "no signing identity here (trusted publishing's)"
            log.info("%d file(s) go without an attestation: %s", len(missing), why)
        if held and record is not None:
            _verify(ctx, state, held, record, trust)
        ctx.attestations = held


def _verify(ctx: Context, state: RunState, held: dict[str, bytes], record: provenance.AttestationsRecord,
            trust: ClientTrustConfig | None) -> None:
    """Every held attestation, offline, against its file and the run's signer."""
    from pipeline import attestations as pep740

    expected = pep740.Publisher(repository=record.signer.repository, workflow=record.signer.workflow)
    files = ctx.local_files(state)
    trust = trust or pep740.trust_config(refresh=bool(os.environ.get("GITHUB_ACTIONS")))
    for name, data in sorted(held.items()):
        pep740.verify(files[name], data, expected, trust)
    log.info("%d attestation(s) verified offline against their files and %s", len(held), expected.describe())


def _same_signer(state: RunState, record: provenance.AttestationsRecord | None, claims: Claims) -> None:
    """A run's attestations come from one identity: a job of another repository or workflow
    neither adds to them nor sends them (PyPI checks them against the uploading publisher)."""
    from pipeline import attestations as pep740

    if record is None:
        return
    signer = record.signer
    if (signer.repository, signer.workflow) != (claims.repository, claims.workflow):
        raise pep740.AttestationInvalid(
            f"run {state.run_id}'s attestations were signed by {signer.repository} workflow {signer.workflow}, "
            f"but this job is {claims.repository} workflow {claims.workflow}", reason="identity",
            hint="publish the run from the workflow that signed it; PyPI checks the attestations against the "
                 "trusted publisher that uploads them")
