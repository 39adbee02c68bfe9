"""What a rehearsal found: each job's status, runner and note, what the plan left to
other machines, what the sandbox holds afterwards; as a table and as JSON.

Facts come from records and outputs, never from a log line's wording: the plan's step
outputs (`pipeline.outputs.PLAN`), the build records the jobs handed on as artifacts
(which builder made each slice), the sandbox's indexes and store. A failed job's note is
the one thing read from its log: what it printed as it failed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline import ui
from pipeline.errors import RehearsalFailed, WheelshipError
from pipeline.outputs import PLAN
from pipeline.records import Slice
from pipeline.rehearsal.act import Seen, job_name
from pipeline.rehearsal.github import static_runners

log = logging.getLogger(__name__)

PASSED, FAILED, SKIPPED, NOT_REHEARSABLE = "passed", "failed", "skipped", "not-rehearsable"
#: How each store access the rehearsal takes is said in its table.
ACCESS = {"aws-role": "the AWS role (the configure-aws-credentials stand-in)",
          "keys": "endpoint and keys (vars.WHEELSHIP_STORE_ENDPOINT and the store's secrets)"}


@dataclass
class Job:
    name: str
    status: str
    runner: str = ""
    note: str = ""


@dataclass
class Result:
    event: str
    workflow: str
    ref: str
    jobs: list[Job] = field(default_factory=list)
    published: list[dict[str, str]] = field(default_factory=list)
    stored: list[dict[str, str]] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    commit: str = ""  # the commit the plan job built, from its output
    store_access: str = ""  # how the publish job reached the store: aws-role or keys
    #: whom the jobs with id-token: write were given as their identity, and which job runs got it
    identity: dict[str, Any] = field(default_factory=dict)
    #: the tag's release as the `gh` stand-in keeps it: tag, draft, assets (name, sha256); None when there is none
    github_release: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "workflow": self.workflow, "ref": self.ref, "commit": self.commit,
                "jobs": [asdict(j) for j in self.jobs], "published": self.published, "stored": self.stored,
                "replaced": self.replaced, "store_access": self.store_access, "identity": self.identity,
                "github_release": self.github_release}


def plan_outputs(seen: Seen) -> dict[str, str]:
    """What the plan job's steps wrote to GITHUB_OUTPUT."""
    return seen.outputs.get("plan", {})


def left_out(outputs: dict[str, str], command: str) -> list[Job]:
    """What the full plan has that this host's plan does not (the plan's ``left-out``
    output): the wheels of this host's slices that need what this machine lacks (a
    musllinux image, an interpreter), and the build jobs of other runners, each with the
    command it would run there."""
    try:
        matrix = json.loads(PLAN.read(outputs, "wheel-matrix") or "{}").get("include", [])
        left = [Slice.from_json(s) for s in json.loads(PLAN.read(outputs, "left-out") or "[]")]
    except (ValueError, TypeError, AttributeError, KeyError):
        return []
    planned = {entry.get("slice") for entry in matrix}
    here = [i for s in left if s.name in planned for i in s.identifiers]
    jobs = [Job(name=f"build (wheels left out here: {len(here)})", status=NOT_REHEARSABLE,
                note=" ".join(here) + ": built on GitHub by the slice's job, not here")] if here else []
    return jobs + [Job(name=f"build ({s.name})", status=NOT_REHEARSABLE, runner=s.runner,
                       note=f"on {s.runner}{' under QEMU' if s.qemu else ''}: WHEELSHIP_SLICE={s.name} {command}")
                   for s in left if s.name not in planned]


def builders(artifacts: Path, outputs: dict[str, str]) -> dict[str, str]:
    """Which builder made each slice, by slice name, as the build records say that the
    jobs handed on (each artifact the stand-ins keep is a folder store)."""
    from pipeline.runs import Runs
    from pipeline.stores import open_store

    project, version, run_id = (PLAN.read(outputs, key) for key in ("project", "version", "run-id"))
    if not (project and version and run_id and artifacts.is_dir()):
        return {}
    made: dict[str, set[str]] = {}
    why: dict[str, str] = {}
    for folder in sorted(artifacts.iterdir()):
        try:
            runs = Runs(open_store(folder.as_uri()), project, version)
            if runs.store.get_json(runs.key(run_id, "plan.json")) is None:
                continue  # not a store (the logs), or not this run
            records = runs.read(run_id).records
        except WheelshipError as exc:
            log.warning("could not read the run in artifact %s: %s", folder.name, exc.message)
            continue
        for name, record in records.items():
            made.setdefault(name, set()).update(a.builder for a in record.artifacts)
            if record.why:
                why[name] = record.why
    return {name: f"{' and '.join(sorted(names))} builder" + (f": {why[name]}" if name in why else "")
            for name, names in made.items()}


def github_release(releases: Path, repository: str, tag: str | None) -> dict[str, Any] | None:
    """The tag's GitHub Release as the `gh` stand-in keeps it in `releases`: whether it is
    still a draft, and each asset with the SHA-256 of its digest ("" when it has none, as
    an upload that broke half-way leaves it)."""
    from pipeline.ghstandin import releases as kept

    if not tag or not (releases / repository / "state.json").is_file():
        return None
    found = next((r for r in kept(releases, repository) if r.get("tag_name") == tag), None)
    if found is None:
        return None
    return {"tag": tag, "draft": bool(found.get("draft")),
            "assets": sorted(({"name": str(a["name"]), "sha256": str(a.get("digest") or "").removeprefix("sha256:")}
                              for a in found.get("assets") or []), key=lambda a: a["name"])}


def jobs(workflow: dict[str, Any], seen: Seen, left: list[Job], built_by: dict[str, str]) -> list[Job]:
    """Every job of the workflow in its order: each run of it (one per matrix entry) with
    its result, the left-out build jobs after the build job, and the jobs that never ran."""
    static = static_runners(workflow)
    found: list[Job] = []
    for job_id in workflow["jobs"]:
        ran = sorted(key for key in seen.results if key[0] == job_id)
        for key in ran:
            status = PASSED if seen.results[key] == "success" else FAILED
            note = built_by.get(key[1] or job_id, "")  # a build job is named by its slice
            if status == FAILED:
                note = why_failed(seen.lines.get(key, [])) or note
            found.append(Job(name=job_name(key), status=status, runner=seen.runners.get(key, static.get(job_id, "")),
                             note=note))
        if job_id == "build":
            found += left
        if not ran:
            found.append(Job(name=job_id, status=SKIPPED, runner=static.get(job_id, ""),
                             note="its `if:` or a job it needs did not let it run"))
    return found


def why_failed(lines: list[str]) -> str:
    """What a failed job printed just before its failing step ended: wheelship's error
    and hint, a stand-in's error annotation, or the step's last lines."""
    noise = ("⭐", "✅", "❌", "⚙", "🏁", "LocalRepositoryCache", "exit status", "🐳", "☁")
    end = next((i for i, line in enumerate(lines) if "❌" in line), len(lines))
    before = [line.strip() for line in lines[max(0, end - 15):end]
              if line.strip() and not line.strip().startswith(noise)]
    said = [line for line in before if re.search(r"error|what to do|yaml:", line, re.IGNORECASE)]
    step = lines[end].strip() if end < len(lines) else ""
    return " / ".join((said or before)[-3:] or [step])[:500]


def finish(result: Result, json_path: Path | None, kept_log: Path | None) -> int:
    """Write the JSON, print the table; a failed job is a `RehearsalFailed`."""
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    show(result)
    failed = [j.name for j in result.jobs if j.status == FAILED]
    if failed:
        raise RehearsalFailed(f"{len(failed)} job(s) of {result.workflow} failed: {', '.join(failed)}",
                              hint=f"act's log is kept in {kept_log}; fix what it shows before pushing the tag")
    return 0


def show(result: Result) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"rehearsal of {result.workflow} · {result.event} · {result.ref}", title_justify="left")
    for column in ("job", "status", "runner", "note"):
        table.add_column(column)
    marks = {PASSED: "✅ passed", FAILED: "❌ failed", SKIPPED: "⏭ skipped", NOT_REHEARSABLE: "🚫 not rehearsable"}
    for job in result.jobs:
        # names and notes come from the workflow and the records: text, never rich markup
        table.add_row(Text(job.name), marks[job.status], Text(job.runner), Text(job.note))
    ui.console().print(table)
    for name in ("testpypi", "pypi"):
        files = [p for p in result.published if p["index"] == name]
        ui.console().print(f"sandbox index {name}: {len(files)} file(s)"
                           + "".join(f"\n  {f['filename']}  sha256 {f['sha256'][:16]}…" for f in files))
    ui.console().print(f"sandbox store: {len(result.stored)} file(s)"
                       + (f", reached by {ACCESS.get(result.store_access, result.store_access)}"
                          if result.store_access else "")
                       + "".join(f"\n  {s['key']}" for s in result.stored))
    if result.github_release is not None:
        release = result.github_release
        ui.console().print(Text(f"GitHub Release {release['tag']} ({'a draft' if release['draft'] else 'published'}): "
                                f"{len(release['assets'])} asset(s)"
                                + "".join(f"\n  {a['name']}  sha256 {a['sha256'][:16] or '(none)'}…"
                                          for a in release["assets"])))
    if result.identity:
        who = result.identity
        ui.console().print(Text(f"OIDC identity ({who['repository']} workflow {who['workflow']} at {who['ref']}) "
                                f"given to: {', '.join(who['jobs']) or 'no job'}"))
