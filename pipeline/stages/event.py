"""event: a CLI tag, or a GitHub event, becomes a release request.

GitHub events: a pushed tag, a published release, ``workflow_dispatch`` with inputs
(tag, index, dry-run), and ``schedule`` (a dry run at the declared version). Events
that must not release (a branch push, a deleted tag, a draft release) end with
`NothingToDo` and store nothing.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from pipeline.context import Context, Request, Stage
from pipeline.errors import NothingToDo, UsageError
from pipeline.versioning import parse_tag

log = logging.getLogger(__name__)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _payload(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the event file {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def request_from_github(name: str, payload: dict[str, Any], ref: str, dry_run: bool) -> Request | None:
    """The release a GitHub event asks for; None means the declared version (schedule)."""
    if name == "push":
        if payload.get("deleted"):
            raise NothingToDo(f"the event deletes {ref}; a deleted tag releases nothing")
        if not ref.startswith("refs/tags/"):
            raise NothingToDo(f"a push to {ref or 'a branch'} releases nothing; push a tag to release")
        tag = ref.removeprefix("refs/tags/")
        return Request(tag=tag, version=parse_tag(tag), trigger="push", dry_run=dry_run, index=None, ref=ref)
    if name == "release":
        release = payload.get("release", {})
        if payload.get("action") != "published" or release.get("draft"):
            raise NothingToDo(f"a {payload.get('action', '?')} {'draft ' if release.get('draft') else ''}"
                              "release event releases nothing; publish the release to release")
        tag = str(release.get("tag_name", ""))
        return Request(tag=tag, version=parse_tag(tag), trigger="release", dry_run=dry_run, index=None,
                       ref=f"refs/tags/{tag}")
    if name == "workflow_dispatch":
        inputs = payload.get("inputs", {}) or {}
        tag = str(inputs.get("tag") or "")
        dry = dry_run or _truthy(inputs.get("dry-run", inputs.get("dry_run", False)))
        index = inputs.get("index") or None
        if not tag:
            return None if dry else _no_tag()
        return Request(tag=tag, version=parse_tag(tag), trigger="workflow_dispatch", dry_run=dry,
                       index=index, ref=f"refs/tags/{tag}")
    if name == "schedule":
        return None
    raise NothingToDo(f"a {name} event releases nothing; wheelship releases on tags, releases, "
                      "workflow_dispatch and schedule")


def _no_tag() -> Request:
    raise UsageError("workflow_dispatch needs a tag input unless dry-run is set",
                     hint="run the workflow with the tag to release, or with dry-run")


class Event(Stage):
    name = "event"

    def run(self, ctx: Context) -> None:
        opts = ctx.options
        if opts.tag:
            trigger = "cli"
            ctx.request = Request(tag=opts.tag, version=parse_tag(opts.tag), trigger=trigger,
                                  dry_run=opts.dry_run, index=opts.index)
        else:
            event_name = os.environ.get("GITHUB_EVENT_NAME")
            event_path = opts.event_file or (Path(os.environ["GITHUB_EVENT_PATH"])
                                             if os.environ.get("GITHUB_EVENT_PATH") else None)
            if not event_name and opts.event_file is None:
                raise UsageError("no tag to release", hint="pass --tag TAG, such as --tag v1.2.0")
            payload = _payload(event_path)
            name = event_name or _guess_event(payload)
            ref = os.environ.get("GITHUB_REF", payload.get("ref", ""))
            request = request_from_github(name, payload, ref, opts.dry_run)
            if request is None:  # scheduled or tagless dry run: the declared version, decided in plan
                request = Request(tag="", version=parse_tag("0"), trigger=name, dry_run=True,
                                  index=opts.index)
            elif opts.index:
                request = Request(**{**request.__dict__, "index": opts.index})
            ctx.request = request
        r = ctx.request
        log.info("release request: %s (%s) from %s%s", r.tag or "declared version", r.version if r.tag else "?",
                 r.trigger, ", dry run" if r.dry_run else "")


def _guess_event(payload: dict[str, Any]) -> str:
    if "release" in payload:
        return "release"
    if "schedule" in payload:
        return "schedule"
    if "inputs" in payload:
        return "workflow_dispatch"
    return "push"
