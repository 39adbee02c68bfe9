"""Commands that run no stages: `status`, `fetch` and `copy` on stored runs, and
`check` on distribution files you already have.

Each takes typed arguments; the CLI parses the command line and calls them, so a
test can too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline import ui
from pipeline.errors import UsageError
from pipeline.provenance import SUFFIX as ATTESTATION_SUFFIX
from pipeline.runs import Runs, RunState
from pipeline.spec import load_spec
from pipeline.stores import open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class StoredVersion:
    """A project version whose runs a command reads: NAME VERSION, in the store `store`
    names, else the one the buildspec at `spec` (or the built-in default) names."""

    name: str
    version: str
    spec: Path | None = None
    store: str | None = None

    def runs(self, url: str | None = None) -> Runs:
        """Its runs in that store, or in the store at `url`."""
        spec = load_spec(None, self.spec, store=self.store)
        store = open_store(url or spec.store, endpoint_url=spec.s3_endpoint_url, region=spec.s3_region,
                           attempts=spec.s3_attempts, addressing_style=spec.s3_addressing_style)
        return Runs(store, self.name, self.version)


def describe(state: RunState) -> dict[str, object]:
    plan = state.plan
    return {
        "run_id": plan.run_id, "planned": plan.created, "trigger": plan.trigger, "tag": plan.tag,
        "index": plan.index, "dry_run": plan.dry_run,
        "slices": {
            s.name: ({"built": r.finished, "runner": r.runner, "files": len(r.artifacts)}
                     if (r := state.records.get(s.name)) else None)
            for s in plan.slices
        },
        "verified": ({"ok": state.verify.ok, "at": state.verify.finished, "host": state.verify.host}
                     if state.verify else None),
        "published": ({"index": state.publish.index, "at": state.publish.finished, "host": state.publish.host}
                      if state.publish else None),
    }


def status(stored: StoredVersion, *, json_path: Path | None = None) -> int:
    """Each run of a version and what its records say; the same as JSON at `json_path`."""
    from rich.markup import escape
    from rich.table import Table

    runs = stored.runs()
    states = runs.all()
    if not states:
        runs.newest()  # raises the "no runs" error with its hint
    rows = [describe(s) for s in states]
    if json_path:
        from pipeline.records import write_json_atomic

        write_json_atomic(json_path, {"project": runs.project, "version": runs.version, "runs": rows})
    table = Table(title=f"{runs.project} {runs.version} in {runs.store.url}", title_justify="left")
    for column in ("run", "planned", "slices built", "verified", "published"):
        table.add_column(column)
    for row in rows:
        slices = row["slices"]
        assert isinstance(slices, dict)
        built = "\n".join(f"{name}: {v['built']} on {v['runner']}" if v else f"{name}: not reported"
                          for name, v in slices.items())
        verified = row["verified"]
        published = row["published"]
        table.add_row(*(escape(ui.plain(cell)) for cell in (
            f"{row['run_id']}\n{row['trigger']} {row['tag']}{' (dry run)' if row['dry_run'] else ''}",
            str(row["planned"]), built,
            f"{'ok' if verified['ok'] else 'FAILED'} {verified['at']}\n{verified['host']}" if isinstance(verified, dict) else "no",
            f"{published['index']} {published['at']}\n{published['host']}" if isinstance(published, dict) else "no",
        )))
    ui.console().print(table)
    return 0


def fetch(stored: StoredVersion, *, output: Path, run_id: str | None = None, include_dry_runs: bool = False) -> int:
    """A run's files into `output`, each checked against its record, all or none: run
    `run_id`, else the newest complete tagged release (or tagged dry run, if included)."""
    runs = stored.runs()
    state = runs.read(run_id) if run_id else \
        runs.newest(complete=True, release=True, dry_runs=include_dry_runs)
    if not state.complete:
        log.warning("run %s lacks slice(s) %s; fetching what it has", state.run_id, ", ".join(state.missing_slices))
    paths = runs.fetch(state, output)
    beside = _provenance(runs, state, output)
    for path in sorted([*paths.values(), *beside]):
        print(path)
    log.info("fetched %d file(s) of run %s into %s, each matching its recorded sha256", len(paths),
             state.run_id, output)
    attested = any(p.name.endswith(ATTESTATION_SUFFIX) for p in beside)
    dists = " ".join(f"{output}/{glob}" for glob in sorted({_glob(n) for n in paths}))
    log.info("to check them: wheelship check %s/*; to upload by hand: twine upload %s%s", output,
             "--attestations " if attested else "", dists + (f" {output}/*{ATTESTATION_SUFFIX}" if attested else ""))
    return 0


def _glob(name: str) -> str:
    return "*.whl" if name.endswith(".whl") else "*.tar.gz" if name.endswith(".tar.gz") else name


def _provenance(runs: Runs, state: RunState, output: Path, *, sent_only: bool = False) -> list[Path]:
    """Beside the fetched files: each file's attestation, the release SBOM, and a
    SHA256SUMS of every file (from the records the files were just checked against).
    With `sent_only`, only the attestations the publish record says went to the index."""
    from pipeline import provenance
    from pipeline.sbom import sha256sums

    documents: dict[str, bytes] = {}
    record = provenance.read_attestations(runs, state)
    if record is not None:
        sent = state.publish.attestations if state.publish is not None else {}
        for name, data in provenance.attestations_of(runs, state, record).items():
            if not sent_only or sent.get(name) == record.files[name]:
                documents[provenance.attestation_name(name)] = data
    sbom = provenance.read_sbom(runs, state)
    if sbom is not None:
        documents[sbom[0].name] = sbom[1]
    documents["SHA256SUMS"] = sha256sums({a.name: a.sha256 for a in state.artifacts}).encode()
    return provenance.write_beside(output, documents)


def check(dists: Sequence[Path], *, spec: Path | None = None, import_names: tuple[str, ...] = (),
          build_sdist: bool = False, json_path: Path | None = None) -> int:
    """`wheelship check DIST...`: the file-level checks, for any CI, with the severities
    and limits of the buildspec at `spec`; the findings as JSON at `json_path`."""
    from pipeline.checks import Findings
    from pipeline.checks.beside import check_beside, sort_paths
    from pipeline.checks.files import check_files
    from pipeline.errors import UsageError, VerificationFailed
    from pipeline.records import write_json_atomic

    missing = [str(p) for p in dists if not p.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}", hint="pass wheels (.whl) and sdists (.tar.gz)")
    settings = load_spec(None, spec)
    findings = Findings(settings.checks)
    found = sort_paths(dists)  # attestations, SHA256SUMS and the SBOM are checked against the dists
    # Reading runs nothing from the files; only build_sdist runs the sdist's build backend.
    check_files(found.dists, findings, import_names=import_names, parity=build_sdist, limits=settings.limits)
    signers = check_beside(found, findings)
    if json_path:
        write_json_atomic(json_path, {
            "files": [p.name for p in dists], "ok": not findings.errors,
            "findings": [f.to_json() for f in findings.items], "attestations": signers})
    for finding in findings.items:
        (log.error if finding.severity == "error" else log.warning)("%s", finding.line())
    if findings.errors:
        raise VerificationFailed(f"{len(findings.errors)} check(s) failed on {len(dists)} file(s)",
                                 hint="the README lists each check and how to change its severity")
    log.info("%d file(s) checked: %d warning(s), no errors", len(dists), len(findings.warnings))
    return 0


def copy(stored: StoredVersion, *, from_store: str | None, run_id: str | None = None) -> int:
    """A run from the store at `from_store` into the version's store, every file checked
    against its record: run `run_id`, else the newest complete one."""
    from pipeline.copying import copy_run

    if not from_store:
        raise UsageError("copy needs the store the run is in", hint="pass --from URL, or set WHEELSHIP_FROM_STORE")
    source, target = stored.runs(from_store), stored.runs()
    state = source.read(run_id) if run_id else source.newest(complete=True)
    if not state.complete:
        raise UsageError(f"run {state.run_id} lacks slice(s) {', '.join(state.missing_slices)}; "
                         "only a complete run is copied", hint="let its build jobs finish first")
    copy_run(source, target, state)
    return 0


def github_release(stored: StoredVersion, *, run_id: str | None = None, tag: str | None = None,
                   json_path: Path | None = None) -> int:
    """`wheelship github-release`: the tag's GitHub Release made complete from a published
    run: every file, SHA256SUMS, the SBOM and the attestations, each checked against its
    record first; a draft until every asset is in, then published (pipeline.ghrelease)."""
    import os
    import tempfile

    from packaging.version import Version

    from pipeline.ghrelease import complete_release
    from pipeline.records import write_json_atomic
    from pipeline.versioning import is_prerelease

    runs = stored.runs()
    state = runs.read(run_id) if run_id else _newest_published(runs, tag)
    plan = state.plan
    if not state.release:
        raise UsageError(f"run {state.run_id} is a dry run or has no tag; a GitHub Release is made for a "
                         "published tag only", hint="pass the --run-id of the tag's published run")
    if tag and plan.tag != tag:
        raise UsageError(f"run {state.run_id} is of tag {plan.tag}, not {tag}", hint="pass the tag's run")
    if not _fully_published(state):
        raise UsageError(f"run {state.run_id} is not published; its GitHub Release waits for the publish",
                         hint="run `wheelship publish` first; the release is made only after a publish")
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise UsageError("GITHUB_REPOSITORY is not set: which repository's release?",
                         hint="set it to OWNER/NAME (GitHub Actions sets it in every job)")
    with tempfile.TemporaryDirectory(prefix="wheelship-release-") as tmp:
        folder = Path(tmp)
        files = [*runs.fetch(state, folder).values(), *_provenance(runs, state, folder, sent_only=True)]
        summary = complete_release(plan.tag or "", sorted(files), repo=repository,
                                   prerelease=is_prerelease(Version(plan.version)))
    if json_path:
        write_json_atomic(json_path, {"github_release": summary.to_json()})
    log.info("the GitHub Release of %s holds all %d asset(s)%s", summary.tag, len(summary.assets),
             f": {summary.url}" if summary.url else "")
    return 0


def _newest_published(runs: Runs, tag: str | None) -> RunState:
    """Without a run id (a rerun found the tag's files on the index and built nothing):
    the newest run that published this version, of `tag` when one is given."""
    from pipeline.errors import NothingToDo

    published = [s for s in runs.all() if s.release and _fully_published(s) and (not tag or s.plan.tag == tag)]
    if not published:
        raise NothingToDo(f"no run in {runs.store.url} published {runs.project} {runs.version}"
                          + (f" for tag {tag}" if tag else "") + "; there is no GitHub Release to make",
                          hint="publish the tag first; the release is made after a publish")
    return published[-1]


def _fully_published(state: RunState) -> bool:
    """A real publish record that names every file of the run, each uploaded or present."""
    from pipeline.records import Outcome

    published = state.publish
    return (published is not None and not published.dry_run
            and set(published.files) == {a.name for a in state.artifacts}
            and all(o in (Outcome.UPLOADED, Outcome.PRESENT) for o in published.files.values()))
