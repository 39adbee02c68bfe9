"""copy: one run moved from one store to another, every file checked against its record.

On GitHub the jobs that run project code (plan, build, verify) hold no credentials:
they keep the run in a folder store passed between jobs as workflow artifacts. The
publish job, which runs no project code, copies the verified run into the durable S3
store and publishes from there. A record is written only after its files, so the
copy is complete or it is not there; copying again sends only what is missing.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from pipeline.errors import IntegrityError
from pipeline.runs import Runs, RunState

log = logging.getLogger(__name__)


def copy_run(source: Runs, target: Runs, state: RunState) -> int:
    """Copy a run's plan, files, records, SBOM and verification into `target`; returns files sent.

    Raises `IntegrityError` when the target already holds this run id with another plan.
    """
    existing = target._get(target.key(state.run_id, "plan.json"))
    if existing is not None and existing != json.loads(json.dumps(state.plan.to_json())):
        raise IntegrityError(
            f"{target.store.url} already holds run {state.run_id} of {state.plan.project} {state.plan.version} "
            "with another plan",
            hint="a run id names one run; copy into another store, or let this run's jobs run again",
        )
    if existing is None:
        target.write_plan(state.plan)
    sent = 0
    with tempfile.TemporaryDirectory(prefix="wheelship-copy-") as tmp:
        files = source.fetch(state, Path(tmp))  # each file checked against its record
        for record in state.records.values():
            sent += target.store_record(record, {a.name: files[a.name] for a in record.artifacts}, state.run_id)
    _copy_sbom(source, target, state)
    # What only the publishing process writes (the publish record, the attestations it
    # signed) is never taken from another store: on GitHub the source is a folder that
    # jobs running project code wrote, and a planted record or attestation would pass
    # for the publish job's own.
    if state.verify is not None:
        target.write_result(state.run_id, state.verify)
    log.info("run %s copied from %s to %s: %d file(s) sent, %d already there", state.run_id, source.store.url,
             target.store.url, sent, len(state.artifacts) - sent)
    return sent


def _copy_sbom(source: Runs, target: Runs, state: RunState) -> None:
    """The run's SBOM, checked against its record (the publish stage makes it again from the
    files and records, and keeps its own where the two differ)."""
    from pipeline import provenance

    sbom = provenance.read_sbom(source, state)
    if sbom is not None:
        provenance.store_sbom(target, state.run_id, sbom[0].name, sbom[1], sbom[0].made)
