"""The one context every stage of a run reads and adds to."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import Version

from pipeline.errors import UsageError
from pipeline.project import Project
from pipeline.records import BuildRecord, Plan
from pipeline.runs import Runs, RunState
from pipeline.spec import Spec
from pipeline.stores import Store, open_store


@dataclass(frozen=True, kw_only=True)
class Options:
    """What the command line asked for."""

    command: str
    project_dir: Path | None = None
    name: str | None = None
    version: str | None = None
    tag: str | None = None
    run_id: str | None = None
    slice: str | None = None
    builder: str = "auto"
    index: str | None = None
    dry_run: bool = False
    json_path: Path | None = None
    output: Path | None = None
    event_file: Path | None = None
    host_only: bool = False
    workdir: Path | None = None


@dataclass(frozen=True, kw_only=True)
class Request:
    """A release request: what the event asks to release, and where."""

    tag: str
    version: Version
    trigger: str
    dry_run: bool
    index: str | None  # an explicit choice; routing decides otherwise
    ref: str | None = None


@dataclass(kw_only=True)
class Context:
    options: Options
    spec: Spec
    workdir: Path
    project: Project | None = None
    request: Request | None = None
    plan: Plan | None = None
    state: RunState | None = None
    built: list[tuple[BuildRecord, dict[str, Path]]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # verified local copies, by name
    verification: dict[str, Any] | None = None
    publication: dict[str, Any] | None = None
    already_published: bool = False

    @functools.cached_property
    def store(self) -> Store:
        return open_store(self.spec.store, endpoint_url=self.spec.s3_endpoint_url, region=self.spec.s3_region)

    @property
    def runs(self) -> Runs:
        if self.plan is not None:
            return Runs(self.store, self.plan.project, self.plan.version)
        if self.options.name and self.options.version:
            return Runs(self.store, self.options.name, self.options.version)
        raise UsageError("no project and version to find runs of")

    def need_plan(self) -> Plan:
        assert self.plan is not None, "a stage ran before the plan was made or read"
        return self.plan

    def need_state(self) -> RunState:
        assert self.state is not None, "a stage ran before the run was read"
        return self.state
