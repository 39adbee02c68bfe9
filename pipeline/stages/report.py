"""report: what the run did, as a terminal table, a --json file and a GitHub step summary."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

from pipeline import ui
from pipeline.context import Context, Stage
from pipeline.records import BuilderName, Finding, Outcome, Plan, TestResult, write_json_atomic
from pipeline.stages.plan import github_matrix

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class FileReport:
    """One file of the run: where it was built, how it was tested, what publishing did."""

    name: str
    identifier: str
    slice: str
    sha256: str
    size: int
    builder: BuilderName
    built_on: str
    test: TestResult | None
    findings: tuple[Finding, ...] = ()
    publish: Outcome | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "findings": [f.to_json() for f in self.findings],
                "publish": str(self.publish) if self.publish is not None else None}


@dataclass(frozen=True, kw_only=True)
class StageTime:
    """One stage the run ran, and its wall time (the report stage's own is not yet known)."""

    name: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class RunReport:
    """What a run did, as the table, the step summary and `--json` show it."""

    project: str
    version: str
    run_id: str
    tag: str
    index: str
    upload_url: str
    dry_run: bool
    store: str
    verified: bool | None  # None: not verified
    files: tuple[FileReport, ...]
    stages: tuple[StageTime, ...] = ()  # in the order run

    def to_json(self) -> dict[str, Any]:
        data = {**asdict(self), "files": [f.to_json() for f in self.files]}
        if not self.stages:  # a report of no timed stages has the keys it always had
            del data["stages"]
        return data


def facts(ctx: Context) -> RunReport:
    """The run: every file with its test and publish result."""
    state = ctx.published or ctx.need_state()  # a release found published: the run that published it
    plan, publication = state.plan, state.publish if ctx.published else ctx.publication
    verification = ctx.verification or state.verify  # a run verified before keeps its result
    verified = verification.files if verification else {}
    published = publication.files if publication else {}
    files = []
    for a in state.artifacts:
        result = verified.get(a.name)
        files.append(FileReport(
            name=a.name, identifier=a.identifier, slice=a.slice, sha256=a.sha256, size=a.size, builder=a.builder,
            built_on=a.built_on, test=(result.test if result else None) or a.test,
            findings=result.findings if result else (), publish=published.get(a.name),
        ))
    return RunReport(
        project=plan.project, version=plan.version, run_id=plan.run_id, tag=plan.tag, index=plan.index,
        upload_url=_upload_url(ctx), dry_run=plan.dry_run, store=ctx.store.url,
        verified=verification.ok if verification else None, files=tuple(files),
        stages=tuple(StageTime(name=name, seconds=round(seconds, 3)) for name, seconds in ctx.stage_seconds),
    )


def _upload_url(ctx: Context) -> str:
    """Where the run goes by the configuration in force; "" for a verify of a run whose
    plan names an index this configuration does not know (publish refuses it then)."""
    if ctx.publication is not None or ctx.need_plan().index in ctx.spec.indexes:
        return ctx.index.upload_url
    return ""


def _human_size(size: int) -> str:
    scaled = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if scaled < 1024 or unit == "GiB":
            return f"{scaled:.0f} {unit}" if unit == "B" else f"{scaled:.1f} {unit}"
        scaled /= 1024
    return str(size)


def _table(report: RunReport) -> None:
    from rich.markup import escape
    from rich.table import Table

    title = (f"{report.project} {report.version} · run {report.run_id} · "
             f"{'dry run for ' if report.dry_run else ''}{report.index}")
    table = Table(title=escape(ui.plain(title)), title_justify="left")
    for column in ("file", "identifier", "size", "tested", "published"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for f in report.files:
        tested = "—" if not f.test else f"{f.test.status} ({f.test.interpreter})"
        cells = (f.name, f.identifier, _human_size(f.size), tested, f.publish or "—")
        table.add_row(*(escape(ui.plain(str(cell))) for cell in cells))  # record values: never markup
    ui.console().print(table)


def _python_of(identifier: str) -> str:
    if identifier == "py3-none-any":
        return "py3 (pure)"
    tag = identifier.split("-")[0]
    if tag.startswith("cp") and tag[2:].rstrip("t").isdigit():
        digits = tag[2:].rstrip("t")
        return f"CPython {digits[0]}.{digits[1:]}" + (" free-threaded" if tag.endswith("t") else "")
    return tag


PUBLISHED_CELL: dict[Outcome, str] = {Outcome.UPLOADED: "✅ published", Outcome.PRESENT: "✅ was published",
                                       Outcome.WOULD_UPLOAD: "🔸 would publish"}


def grid(plan: Plan, report: RunReport) -> str:
    """Python version by platform: built / tested / published for every planned cell."""
    by_identifier = {f.identifier: f for f in report.files}
    columns = [s for s in plan.slices if s.name != "sdist"]
    rows: dict[str, dict[str, str]] = {}
    for s in columns:
        for identifier in s.identifiers:
            f = by_identifier.get(identifier)
            if f is None:
                cell = "❌ not built"
            else:
                test = f.test.status if f.test else None
                cell = " · ".join([
                    "✅ built",
                    {"passed": "✅ tested", "failed": "❌ test failed",
                     "not-run": "⚠️ imported, tests not run"}.get(test or "", "⏳ untested"),
                    PUBLISHED_CELL[f.publish] if f.publish else "⏳ not published",
                ])
            rows.setdefault(_python_of(identifier), {})[s.name] = cell
    lines = ["| Python | " + " | ".join(s.name for s in columns) + " |",
             "| --- |" + " --- |" * len(columns)]
    for python in sorted(rows, key=lambda p: [int(x) if x.isdigit() else x for x in p.replace(".", " ").split()]):
        lines.append(f"| {python} | " + " | ".join(rows[python].get(s.name, "—") for s in columns) + " |")
    sdist = by_identifier.get("sdist")
    lines += ["", f"sdist: {'`' + sdist.name + '` ' + (sdist.publish or 'not published') if sdist else '❌ not built'}"]
    return "\n".join(lines)


def step_summary(plan: Plan, report: RunReport) -> str:
    head = (f"### {report.project} {report.version} — run `{report.run_id}`\n\n"
            f"Target: **{report.index}**{' (dry run)' if report.dry_run else ''} · store `{report.store}`\n\n")
    return head + grid(plan, report) + "\n"


class Report(Stage):
    name = "report"
    reports = True

    def run(self, ctx: Context) -> None:
        report = facts(ctx)
        if ctx.options.json_path:
            write_json_atomic(ctx.options.json_path, report.to_json())
            log.info("wrote %s", ctx.options.json_path)
        _table(report)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(step_summary((ctx.published or ctx.need_state()).plan, report))


class PlanReport(Stage):
    name = "report"
    reports = True

    def run(self, ctx: Context) -> None:
        plan = ctx.need_plan()
        data = {**plan.to_json(), "upload_url": ctx.index.upload_url,
                "matrix": github_matrix(plan)}
        if ctx.options.json_path:
            write_json_atomic(ctx.options.json_path, data)
        print(plan.run_id, file=sys.stdout)
