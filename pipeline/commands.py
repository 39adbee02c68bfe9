"""Commands that work on stored runs without running stages: `status`, `fetch`, `copy`."""

from __future__ import annotations

import argparse
import logging

from pipeline import ui
from pipeline.errors import UsageError
from pipeline.runs import Runs, RunState
from pipeline.spec import load_spec
from pipeline.stores import open_store

log = logging.getLogger(__name__)


def _runs(args: argparse.Namespace, url: str | None = None) -> Runs:
    """The runs of NAME VERSION in --store (or in the store at `url`)."""
    spec = load_spec(None, args.spec, store=args.store)
    store = open_store(url or spec.store, endpoint_url=spec.s3_endpoint_url, region=spec.s3_region,
                       attempts=spec.s3_attempts)
    return Runs(store, args.name, args.version)


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


def status(args: argparse.Namespace) -> int:
    """Each run of a version and what its records say."""
    from rich.markup import escape
    from rich.table import Table

    runs = _runs(args)
    states = runs.all()
    if not states:
        runs.newest()  # raises the "no runs" error with its hint
    rows = [describe(s) for s in states]
    if getattr(args, "json_path", None):
        from pipeline.records import write_json_atomic

        write_json_atomic(args.json_path, {"project": runs.project, "version": runs.version, "runs": rows})
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


def fetch(args: argparse.Namespace) -> int:
    """A run's files into a folder, each checked against its record, all or none."""
    runs = _runs(args)
    state = runs.read(args.run_id) if args.run_id else \
        runs.newest(complete=True, release=True, dry_runs=args.include_dry_runs)
    if not state.complete:
        log.warning("run %s lacks slice(s) %s; fetching what it has", state.run_id, ", ".join(state.missing_slices))
    paths = runs.fetch(state, args.output)
    for name in sorted(paths):
        print(paths[name])
    log.info("fetched %d file(s) of run %s into %s, each matching its recorded sha256", len(paths),
             state.run_id, args.output)
    log.info("to upload by hand: twine upload %s/*", args.output)
    return 0


def check(args: argparse.Namespace) -> int:
    """`wheelship check DIST...`: the file-level checks, for any CI."""
    from pipeline.checks import Findings
    from pipeline.checks.files import check_files
    from pipeline.errors import UsageError, VerificationFailed
    from pipeline.records import write_json_atomic

    missing = [str(p) for p in args.dists if not p.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}", hint="pass wheels (.whl) and sdists (.tar.gz)")
    spec = load_spec(None, args.spec)
    findings = Findings(spec.checks)
    names = tuple(n.strip() for n in args.import_names.split(",") if n.strip())
    # Reading runs nothing from the files; only --build-sdist runs the sdist's build backend.
    check_files(list(args.dists), findings, import_names=names, parity=args.build_sdist, limits=spec.limits)
    if args.json_path:
        write_json_atomic(args.json_path, {
            "files": [p.name for p in args.dists], "ok": not findings.errors,
            "findings": [f.__dict__ for f in findings.items]})
    for finding in findings.items:
        (log.error if finding.severity == "error" else log.warning)("%s", finding.line())
    if findings.errors:
        raise VerificationFailed(f"{len(findings.errors)} check(s) failed on {len(args.dists)} file(s)",
                                 hint="the README lists each check and how to change its severity")
    log.info("%d file(s) checked: %d warning(s), no errors", len(args.dists), len(findings.warnings))
    return 0


def copy(args: argparse.Namespace) -> int:
    """A run from the store at --from into --store, every file checked against its record."""
    from pipeline.copying import copy_run

    if not args.from_store:
        raise UsageError("copy needs the store the run is in", hint="pass --from URL, or set WHEELSHIP_FROM_STORE")
    source, target = _runs(args, args.from_store), _runs(args)
    state = source.read(args.run_id) if args.run_id else source.newest(complete=True)
    if not state.complete:
        raise UsageError(f"run {state.run_id} lacks slice(s) {', '.join(state.missing_slices)}; "
                         "only a complete run is copied", hint="let its build jobs finish first")
    copy_run(source, target, state)
    return 0
