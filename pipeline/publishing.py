"""Publishing a verified run: idempotent by hash, retried by class, checked afterwards.

For each file, before uploading and again after any error, the index's listing
decides: the same name with the same SHA-256 is already published (skip); the same
name with another hash stops the release; absent means upload. Wheels go first,
the sdist last. Afterwards the index must list every file with its hash: the simple
API's SHA-256 is the index's own statement of the bytes it holds (PyPI computes it
on upload). Downloading each uploaded file back is an opt-in (`[publish]
download-back = true`): it doubles a release's traffic.

Every request (the probe, listings, uploads, downloads) runs under the one retry
policy (pipeline.retry); a failure that outlasts it is a `PublishFailed`.

Whether a release is out already, before anything is built, is `already_published`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pipeline import ui
from pipeline.errors import PublishFailed
from pipeline.index import FileExists, Index, Listed, Listing
from pipeline.records import Artifact, Outcome, Plan, distribution_of, identifier_of
from pipeline.retry import Transient, call
from pipeline.runs import RunState
from pipeline.spec import PublishPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")

UPLOADED, PRESENT, WOULD_UPLOAD = Outcome.UPLOADED, Outcome.PRESENT, Outcome.WOULD_UPLOAD


@dataclass
class Publisher:
    index: Index
    project: str
    policy: PublishPolicy
    dry_run: bool = False
    sleep: Callable[[float], None] | None = None
    _known: dict[str, Listed] = field(default_factory=dict, init=False)  # the listing publish began from
    _attestations: dict[str, bytes] = field(default_factory=dict, init=False)  # each file's, sent with it

    def _call(self, what: str, fn: Callable[..., T], *args: object, failed: str = "did not succeed") -> T:
        return call(self.policy, what, fn, *args, failed=failed, sleep=self.sleep or time.sleep)

    def listing(self) -> dict[str, Listed]:
        return self._call(f"listing {self.project} on {self.index.target.name} ({self.index.project_url(self.project)})",
                          self.index.listing, self.project)

    def probe(self) -> Listing:
        """The index answers, and what it lists of the project: the preflight check."""
        return self._call(f"index {self.index.target.name} at {self.index.project_url(self.project)}",
                          self.index.listing, self.project, failed="did not answer")

    def publish(self, artifacts: list[Artifact], files: dict[str, Path],
                known: dict[str, Listed] | None = None, attestations: dict[str, bytes] | None = None,
                ) -> dict[str, Outcome]:
        """Publish wheels, then the sdist; return each file's outcome. `known` is a
        listing taken moments before (preflight's), which saves a request; each file goes
        with its attestation in `attestations`, where it has one."""
        self._attestations = attestations or {}
        known = self._known = self.listing() if known is None else known
        self._warn_if_closed(artifacts, known)
        wheels = [a for a in artifacts if a.kind != "sdist"]
        sdists = [a for a in artifacts if a.kind == "sdist"]
        outcomes: dict[str, Outcome] = {}
        label = "checking" if self.dry_run else "publishing"
        with ui.progress(f"{label} to {self.index.target.name}", len(artifacts)) as advance:
            for group in (wheels, sdists):  # no sdist before every wheel is up
                workers = max(1, min(self.policy.concurrency, len(group)))
                with ThreadPoolExecutor(workers) as pool:
                    futures = {a.name: pool.submit(self.publish_one, a, files[a.name], known.get(a.name))
                               for a in group}
                    for name, future in futures.items():
                        outcomes[name] = future.result()
                        advance(f"{name}: {outcomes[name]}")
        return outcomes

    def _warn_if_closed(self, artifacts: list[Artifact], known: dict[str, Listed]) -> None:
        """PyPI refuses new files for a release older than 14 days; say so before trying."""
        missing = [a for a in artifacts if a.name not in known]
        if not missing:
            return
        version = distribution_of(missing[0].name)[1]
        times = sorted(f.upload_time for name, f in known.items()
                       if f.upload_time and _version_of(name) == version)
        if not times:
            return
        first = datetime.fromisoformat(times[0].replace("Z", "+00:00"))
        age = (datetime.now(UTC) - first).days
        if age >= self.policy.closed_after_days:
            log.warning("%s %s was first uploaded to %s %d days ago (%s); PyPI refuses new files for releases "
                        "older than %d days, so adding %d file(s) may fail", self.project, version,
                        self.index.target.name, age, times[0], self.policy.closed_after_days, len(missing))

    def publish_one(self, artifact: Artifact, path: Path, listed: Listed | None) -> Outcome:
        first = True

        def attempt() -> Outcome:
            nonlocal first
            current = listed if first else self.index.listing(self.project).get(artifact.name)
            first = False
            if current is not None:
                if self._hash_of(current) == artifact.sha256:
                    log.info("%s is already on %s with the same sha256; skipped", artifact.name,
                             self.index.target.name)
                    return PRESENT
                raise PublishFailed(
                    f"{artifact.name} is on {self.index.target.name} with sha256 {current.sha256}, "
                    f"but this run's file has sha256 {artifact.sha256}",
                    hint="an index never replaces a file; release a new version (for example a .post1)",
                )
            if self.dry_run:
                return WOULD_UPLOAD
            try:
                self.index.upload(path, artifact.sha256, self._attestations.get(artifact.name))
            except FileExists:
                raise Transient(f"{artifact.name}: the index says it has the file; looking again") from None
            return UPLOADED

        return self._call(f"publishing {artifact.name} to {self.index.target.name}", attempt)

    def _download_hash(self, listed: Listed) -> str:
        return hashlib.sha256(self._call(f"downloading {listed.url}", self.index.download, listed.url)).hexdigest()

    def _hash_of(self, listed: Listed) -> str | None:
        return listed.sha256 or self._download_hash(listed)

    def confirm(self, artifacts: list[Artifact], outcomes: dict[str, Outcome]) -> None:
        """The index must list every planned file with its hash (and, with download-back,
        serve each file this run uploaded byte for byte). Files found already there were
        matched by hash before anything was sent; when nothing was sent, that listing
        stands."""
        uploaded = {name for name, outcome in outcomes.items() if outcome == UPLOADED}
        listing = self.listing() if uploaded else self._known
        wrong = []
        for artifact in artifacts:
            listed = listing.get(artifact.name)
            if listed is None:
                wrong.append(f"{artifact.name}: not listed")
                continue
            served = None
            if (artifact.name in uploaded and self.policy.download_back) or listed.sha256 is None:
                served = self._download_hash(listed)
            if listed.sha256 not in (None, artifact.sha256) or served not in (None, artifact.sha256):
                wrong.append(f"{artifact.name}: listed sha256 {listed.sha256}, served {served or 'not fetched'}, "
                             f"expected {artifact.sha256}")
        if wrong:
            raise PublishFailed(
                f"after publishing, {self.index.target.name} does not hold this run's files:\n  "
                + "\n  ".join(wrong),
                hint="run `wheelship publish` again; it uploads only what is missing",
            )
        log.info("%s lists all %d files with their sha256%s", self.index.target.name, len(artifacts),
                 f"; {len(uploaded)} uploaded file(s) downloaded back and matched" if self.policy.download_back else "")


@dataclass(frozen=True)
class Published:
    """A release that is out already: how that is known, and the stored run that
    published it, when the index lists every file of that run with its sha256."""

    reason: str
    run: RunState | None = None


def already_published(plan: Plan, runs: Sequence[RunState], listing: Mapping[str, Listed] | None) -> Published | None:
    """Whether `plan`'s release is out already, or None. Evidence, the first that
    holds giving the reason:

    - a stored run published this tag's commit for real (any index);
    - the index (`listing`, None when unread) has a file of this version for every
      planned identifier;
    - a stored run published to the plan's index for real, and the index lists each
      of its files with the recorded sha256 (the newest such run is `run`, whatever
      the reason).
    """
    real = [s for s in runs if s.publish is not None and not s.publish.dry_run]
    on_index = next((s for s in reversed(real) if _listed(s, plan.index, listing)), None)
    same_commit = next((s for s in real if plan.commit and (s.plan.tag, s.plan.commit) == (plan.tag, plan.commit)),
                       None)
    if same_commit is not None and same_commit.publish is not None:
        reason = (f"run {same_commit.run_id} already published tag {plan.tag} (commit {plan.commit[:12]}) to "
                  f"{same_commit.publish.index}")
    elif listing is not None and set(plan.identifiers) <= {
            identifier_of(name) for name in listing if _version_of(name) == plan.version}:
        reason = (f"every planned file of {plan.project} {plan.version} ({len(plan.identifiers)}) is on "
                  f"{plan.index} already")
    elif on_index is not None:
        reason = (f"{plan.project} {plan.version} is already on {plan.index}: all {len(on_index.artifacts)} files "
                  f"of run {on_index.run_id} are there with their sha256")
    else:
        return None
    return Published(reason, on_index)


def _listed(state: RunState, index: str, listing: Mapping[str, Listed] | None) -> bool:
    """Whether `state` published to `index`, which lists each of its files with its sha256."""
    if listing is None or state.publish is None or state.publish.index != index or not state.artifacts:
        return False
    return all((f := listing.get(a.name)) is not None and f.sha256 == a.sha256 for a in state.artifacts)


def _version_of(filename: str) -> str | None:
    """The version in a file name an index lists, or None for a name that is no wheel's or
    sdist's as PyPI takes them now (old releases list .tar.bz2, .exe and .egg files)."""
    try:
        return distribution_of(filename)[1]
    except ValueError:
        return None
