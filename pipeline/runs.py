"""Runs in a store: ``<project>/<version>/<run>/`` with plan, files, records and results.

A record is written only after every file it names is stored, so a record's
presence means its files are complete. Every read of a file is checked against the
SHA-256 its record gives; a mismatch is an `IntegrityError` naming the file and
both hashes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipeline import __version__, ui, validation
from pipeline.errors import IntegrityError, ObjectMissing, StoreError, UsageError
from pipeline.records import Artifact, BuildRecord, Plan, PublishRecord, VerifyRecord, sha256_of
from pipeline.redaction import shorten
from pipeline.stores import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
TRANSFERS = 8  # concurrent object transfers; S3 likes many, a folder does not mind


def new_run_id() -> str:
    """A time-ordered id; on GitHub Actions the workflow run and its attempt."""
    run_id = os.environ.get("GITHUB_RUN_ID")
    if run_id:
        return f"gh{run_id}-{os.environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class RunState:
    """What the records of one run say."""

    plan: Plan
    records: dict[str, BuildRecord] = field(default_factory=dict)
    verify: VerifyRecord | None = None
    publish: PublishRecord | None = None

    @property
    def run_id(self) -> str:
        return self.plan.run_id

    @property
    def artifacts(self) -> list[Artifact]:
        return [a for r in self.records.values() for a in r.artifacts]

    @property
    def missing_slices(self) -> list[str]:
        reported = {r.slice for r in self.records.values()}
        return [s.name for s in self.plan.slices if s.name not in reported]

    @property
    def complete(self) -> bool:
        return not self.missing_slices

    @property
    def release(self) -> bool:
        """A tagged run meant to be published: not a dry run, not a rehearsal of the branch head."""
        return self.plan.tagged and not self.plan.dry_run


class Runs:
    """The runs of one project version in a store."""

    def __init__(self, store: Store, project: str, version: str) -> None:
        self.store = store
        self.project = canonicalize_name(project)
        self.version = version
        if not self.project or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.project):
            raise UsageError(f"{project!r} is not a project name", hint="pass the project's name, such as my-project")
        try:
            Version(version)
        except InvalidVersion:
            raise UsageError(f"{version!r} is not a version", hint="pass a PEP 440 version, such as 1.4.0") from None
        self.prefix = f"{self.project}/{version}/"

    def key(self, run_id: str, *parts: str) -> str:
        return self.prefix + "/".join((run_id, *parts))

    # --- records ---------------------------------------------------------

    def _put(self, key: str, data: Any) -> None:
        self.store.put_json(key, json.dumps(data, indent=2, sort_keys=True).encode())

    def _get(self, key: str) -> Any | None:
        raw = self.store.get_json(key)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
            raise IntegrityError(f"{key} in {self.store.url} is not valid JSON ({shorten(str(exc), 120)})",
                                 hint=validation.HINT) from None
        if data is None:  # None means "no such record" to the callers
            raise IntegrityError(f"{key} in {self.store.url} is not a record: it holds JSON null", hint=validation.HINT)
        return data

    def put_record(self, key: str, data: Any) -> None:
        """Store one record's JSON under `key` (a key of `key()`)."""
        self._put(key, data)

    def read_record(self, key: str, from_json: Callable[[dict[str, Any]], T]) -> T | None:
        """The record under `key`, read as JSON and made by `from_json`, or None; anything
        else stored there is an `IntegrityError` naming it."""
        return self._load(from_json, self._get(key), key)

    def write_plan(self, plan: Plan) -> None:
        self._put(self.key(plan.run_id, "plan.json"), plan.to_json())

    def write_result(self, run_id: str, result: VerifyRecord | PublishRecord) -> None:
        name = "verify" if isinstance(result, VerifyRecord) else "publish"
        self._put(self.key(run_id, f"{name}.json"), result.to_json())

    def run_ids(self) -> list[str]:
        keys = self.store.list(self.prefix)
        found = sorted({k[len(self.prefix) :].split("/")[0] for k in keys if k.endswith("/plan.json")})
        for run_id in found:
            validation.token(run_id, validation.RUN_ID, what="run id", where=f"{self.store.url} {self.prefix}")
        return found

    def read(self, run_id: str) -> RunState:
        """A run and every record of it, each name checked before anything acts on it
        (pipeline.validation): a tampered record is an `IntegrityError`, never a path."""
        if not validation.RUN_ID.fullmatch(run_id):
            raise UsageError(f"{run_id!r} is not a run id", hint="`wheelship status NAME VERSION` lists the runs")
        plan = self._get(self.key(run_id, "plan.json"))
        if plan is None:
            known = ", ".join(self.run_ids()) or "none"
            raise StoreError(
                f"no run {run_id!r} of {self.project} {self.version} in {self.store.url}",
                hint=f"runs of this version: {known}; `wheelship status` lists them",
            )
        loaded = self._load(Plan.from_json, plan, self.key(run_id, "plan.json"))
        assert loaded is not None
        state = RunState(plan=loaded)
        folder = self.key(run_id, "records") + "/"
        for key in self.store.list(folder):
            record = self._load(BuildRecord.from_json, self._get(key), key)
            if record is None:
                raise IntegrityError(f"{key} in {self.store.url} was listed but cannot be read",
                                     hint="the store changed while it was read; run the command again")
            if key[len(folder):] != f"{record.slice}.json" or record.slice in state.records:
                raise IntegrityError(f"{key} in {self.store.url} holds the record of slice {record.slice!r}",
                                     hint=validation.HINT)
            state.records[record.slice] = record
        verify, publish = self.key(run_id, "verify.json"), self.key(run_id, "publish.json")
        state.verify = self._load(VerifyRecord.from_json, self._get(verify), verify)
        state.publish = self._load(PublishRecord.from_json, self._get(publish), publish)
        validation.check_run(state, project=self.project, version=self.version, run_id=run_id,
                             where=f"{self.store.url}/{self.prefix}{run_id}")
        return state

    def _load(self, from_json: Callable[[dict[str, Any]], T], data: Any, key: str) -> T | None:
        """A record from its JSON; a missing, extra or mistyped key is an integrity error
        naming the file, not a crash."""
        if data is None:
            return None
        try:
            if not isinstance(data, dict):
                raise TypeError(f"expected an object, found {type(data).__name__}")
            return from_json(data)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            writer = data.get("written_by") if isinstance(data, dict) else None
            raise IntegrityError(
                f"{key} in {self.store.url} is not a record this wheelship reads: {detail}",
                hint=(f"wheelship {writer} wrote it" if writer else "another version of wheelship wrote it, or a hand "
                      "changed it") + f"; this is wheelship {__version__}, and nothing was written or uploaded: "
                     "plan a new run",
            ) from None

    def all(self) -> list[RunState]:
        """Every run of this version, oldest first."""
        return sorted((self.read(r) for r in self.run_ids()), key=lambda s: s.plan.created)

    def newest(self, *, complete: bool = False, release: bool = False, dry_runs: bool = False) -> RunState:
        """The newest run; with `complete`, the newest whose records are complete. With
        `release`, the newest tagged run that is not a dry run (a nightly rehearsal of the
        branch head is never what a maintainer means to publish or fetch); `dry_runs`
        admits tagged dry runs too (rehearse a tag with --dry-run, then publish it)."""
        runs = self.all()
        if not runs:
            raise StoreError(
                f"{self.store.url} has no runs of {self.project} {self.version}",
                hint="check the name and version, or the --store URL; `wheelship plan` starts a run",
            )
        if release:
            eligible = [r for r in runs if r.release or (dry_runs and r.plan.tagged)]
            if not eligible:
                newest = runs[-1]
                tagged_dry = any(r.plan.tagged for r in runs)
                raise StoreError(
                    f"{self.store.url} has only dry runs of {self.project} {self.version} (newest: {newest.run_id}, "
                    f"{newest.plan.trigger}{', tag ' + newest.plan.tag if newest.plan.tagged else ', no tag'}); "
                    "none is a tagged release",
                    hint="pass --include-dry-runs to take a tagged dry run's files, or --run-id"
                    if tagged_dry else "release the tag (push it, or run the release workflow on it); a run with "
                                       "no tag is never published",
                )
            runs = eligible
        candidates = [r for r in runs if r.complete] if complete else runs
        if not candidates:
            newest = runs[-1]
            raise StoreError(
                f"no run of {self.project} {self.version} has all its records; the newest, "
                f"{newest.run_id}, lacks slices {', '.join(newest.missing_slices)}",
                hint="let the missing build jobs finish, or pass --run-id",
            )
        chosen = candidates[-1]
        if release and chosen.plan.dry_run:
            log.info("taking %s, a dry run of tag %s (--include-dry-runs)", chosen.run_id, chosen.plan.tag)
        return chosen

    # --- files -----------------------------------------------------------

    def store_record(self, record: BuildRecord, files: dict[str, Path], run_id: str) -> int:
        """Store a slice's files concurrently, then its record. Returns files sent."""
        by_name = {a.name: a for a in record.artifacts}

        def send(name: str) -> bool:
            return self.store.put_file(self.key(run_id, "files", name), files[name], by_name[name].sha256)

        sent = sum(_each(send, list(files), f"storing {record.slice}"))
        self._put(self.key(run_id, "records", f"{record.slice}.json"), record.to_json())
        return sent

    def fetch(self, state: RunState, dest: Path, artifacts: Iterable[Artifact] | None = None) -> dict[str, Path]:
        """Download files into `dest`, each checked against its record, each written atomically.

        Raises `IntegrityError` naming the file and both hashes if the stored bytes
        differ from the record; nothing partial is left in `dest`.
        """
        chosen = list(state.artifacts if artifacts is None else artifacts)
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=dest, prefix=".wheelship-fetch-"))
        try:
            staged = _each(lambda a: self._fetch_one(state.run_id, a, dest, staging), chosen, "fetching")
            # Only when every file is verified does any of them take its final name.
            paths = []
            for artifact, path in zip(chosen, staged, strict=True):
                final = validation.inside(dest, artifact.name)
                if path != final:
                    os.replace(path, final)
                paths.append(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return {a.name: p for a, p in zip(chosen, paths, strict=True)}

    def _fetch_one(self, run_id: str, artifact: Artifact, dest: Path, staging: Path) -> Path:
        final = validation.inside(dest, artifact.name)
        if final.is_file() and not final.is_symlink() and sha256_of(final) == artifact.sha256:
            return final
        tmp = validation.inside(staging, artifact.name)
        try:
            self.store.get_file(self.key(run_id, "files", artifact.name), tmp, limit=artifact.size)
        except ObjectMissing:
            raise IntegrityError(
                f"{artifact.name} is recorded in run {run_id} but missing from the store",
                hint=f"expected sha256 {artifact.sha256}; rebuild the slice {artifact.slice}",
            ) from None
        actual = sha256_of(tmp)
        if actual != artifact.sha256:
            raise IntegrityError(
                f"{artifact.name} in the store does not match its record: "
                f"recorded sha256 {artifact.sha256}, stored bytes have sha256 {actual}",
                hint="the object was replaced or truncated; nothing was published from it",
            )
        return tmp


def _each(work: Callable[[T], R], items: list[T], label: str) -> list[R]:
    """Run `work` over items, TRANSFERS at a time, with progress; first error wins."""
    if not items:
        return []
    with ui.progress(label, len(items)) as advance, ThreadPoolExecutor(TRANSFERS) as pool:
        futures = [pool.submit(work, item) for item in items]
        results = []
        try:
            for item, future in zip(items, futures, strict=True):
                results.append(future.result())
                advance(str(getattr(item, "name", item)))
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return results
