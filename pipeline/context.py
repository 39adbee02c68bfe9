"""The one context every stage of a run reads and adds to, and the `Stage` contract.

`Stage` lives here, beside what it runs over, so that a stage module never imports
the package that lists the stages (pipeline.stages).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from packaging.version import Version

from pipeline.builders.base import Built
from pipeline.credentials import Credential
from pipeline.errors import UsageError
from pipeline.index import Index, Listed
from pipeline.project import Project
from pipeline.publishing import Publisher
from pipeline.records import BuildRecord, Plan, PublishRecord, VerifyRecord
from pipeline.runs import Runs, RunState
from pipeline.spec import IndexConfig, Spec
from pipeline.stores import Store, open_store

log = logging.getLogger(__name__)


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
    require_verified: bool = False  # publish only a run verify already passed (its default); never test-install here
    include_dry_runs: bool = False  # publish/fetch without --run-id may take a tagged dry run
    from_store: str | None = None  # copy: the store the run comes from


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
    #: What the plan built to learn the version or kind (the sdist; the wheel when it is
    #: pure), by slice name: the build stage of the same process takes it, not building again.
    prebuilt: dict[str, list[Built]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # verified local copies, by name
    verification: VerifyRecord | None = None
    publication: PublishRecord | None = None
    listing: dict[str, Listed] | None = None  # what preflight found on the index, for publish to start from
    published: RunState | None = None  # preflight: the run that published this release already, index and all
    attestations: dict[str, bytes] = field(default_factory=dict)  # attest: each file's, verified, to send with it
    stage_seconds: list[tuple[str, float]] = field(default_factory=list)  # each stage run, in order: its wall time

    @property
    def dist(self) -> Path:
        """Where this process's builds put the files they made."""
        return self.workdir / "dist"

    @property
    def finished_early(self) -> str | None:
        """Why the stages left (but those that report) have nothing to do, or None."""
        return f"the release is already published (run {self.published.run_id})" if self.published else None

    @functools.cached_property
    def store(self) -> Store:
        return open_store(self.spec.store, endpoint_url=self.spec.s3_endpoint_url, region=self.spec.s3_region,
                          attempts=self.spec.s3_attempts, addressing_style=self.spec.s3_addressing_style)

    @property
    def runs(self) -> Runs:
        if self.plan is not None:
            return Runs(self.store, self.plan.project, self.plan.version)
        if self.options.name and self.options.version:
            return Runs(self.store, self.options.name, self.options.version)
        raise UsageError("no project and version to find runs of")

    @functools.cached_property
    def index(self) -> IndexConfig:
        """The run's index as the configuration in force now defines it: the buildspec,
        WHEELSHIP_CONFIG, ~/.pypirc and --index decide where files go and which
        credential they carry. A stored plan only names the index; if the URLs it
        recorded differ from the configured ones, say so and use the configured ones."""
        plan = self.need_plan()
        index = self.spec.index(plan.index)
        recorded = plan.index_urls.get("upload")
        if recorded and recorded.rstrip("/") != index.upload_url.rstrip("/"):
            log.warning("run %s was planned for %s at %s; the configuration in force puts %s at %s, and that is "
                        "where it goes (a stored record never chooses an upload URL or a credential)",
                        plan.run_id, plan.index, recorded, plan.index, index.upload_url)
        return index

    def publisher(self, credential: Credential | None = None) -> Publisher:
        """The run's index, reached under the buildspec's publish policy; without a
        credential it can only read."""
        plan = self.need_plan()
        # pipeline.index still types the credential as the two classes, not `Credential`.
        index = Index(self.index, credential, timeout=self.spec.publish.timeout)
        return Publisher(index, plan.project, self.spec.publish, dry_run=plan.dry_run)

    def need_plan(self) -> Plan:
        assert self.plan is not None, "a stage ran before the plan was made or read"
        return self.plan

    def need_state(self) -> RunState:
        assert self.state is not None, "a stage ran before the run was read"
        return self.state

    def local_files(self, state: RunState) -> dict[str, Path]:
        """Every file of `state` here, fetched once if any is missing, each checked
        against its record (the stages after verify share the copies)."""
        if not all(a.name in self.files for a in state.artifacts):
            self.files = self.runs.fetch(state, self.workdir / "publish")
        return self.files


class Stage(Protocol):
    """One step of a run: a readable name, a reason to skip it (none unless the stage
    gives one), and `run` over the shared context. Stages subclass it for the default."""

    name: ClassVar[str]
    #: Runs even when the command finished early (a release found published): a report.
    reports: ClassVar[bool] = False

    def skip(self, ctx: Context) -> str | None:
        """A reason not to run, or None."""
        return None

    def run(self, ctx: Context) -> None: ...
