"""The GitHub side of a rehearsal: the workflow file, its triggers and their filters,
and the event payload GitHub would send."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.git import git

#: The events a rehearsal takes, each with the GitHub event act is given.
ACT_EVENTS = {"push": "push", "release": "release", "dispatch": "workflow_dispatch", "schedule": "schedule",
              "branch": "push"}
EVENTS = tuple(ACT_EVENTS)
#: How the publish job reaches the store: an AWS role (configure-aws-credentials), or
#: an S3-compatible endpoint with keys (a repository variable and two secrets).
STORE_ACCESS = ("aws-role", "keys")


@dataclass(frozen=True)
class Rehearsal:
    """What the maintainer asked to rehearse: one of `EVENTS`, and the tag, index and
    dry-run flag it carries (the last two only as a dispatch's inputs); and which of
    `STORE_ACCESS` the repository's configuration chooses."""

    event: str
    tag: str | None
    index: str | None
    dry_run: bool
    store_access: str = "aws-role"


def default_workflow(repo: Path, event: str) -> Path:
    name = "wheelship-dry-run.yml" if event == "schedule" else "wheelship-release.yml"
    return repo / ".github" / "workflows" / name


def read_workflow(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read the workflow {path}: {exc}",
                         hint="fix the file, or write it again with `wheelship init --force`") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        raise UsageError(f"{path} is not a GitHub workflow (no jobs)", hint="pass the release workflow with --workflow")
    data["on"] = data.get("on", data.pop(True, None))  # YAML 1.1 reads the key `on` as true
    return data


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    on = workflow.get("on")
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {name: {} for name in on}
    return {name: (value or {}) for name, value in (on or {}).items()}


def _filter_regex(pattern: str) -> str:
    """GitHub's filter pattern syntax as a regex: `*` stops at `/`, `**` does not,
    `?` and `+` quantify the character before them, `[...]` is a class."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        char = pattern[i]
        if char == "[" and (end := pattern.find("]", i)) > i:
            out.append(pattern[i:end + 1])
            i = end + 1
            continue
        out.append({"*": "[^/]*", "?": "?", "+": "+"}.get(char, re.escape(char)))
        i += 1
    return "".join(out)


def _matches(value: str, patterns: list[str]) -> bool:
    return any(re.fullmatch(_filter_regex(p), value) for p in patterns)


def runs_on(workflow: dict[str, Any], event: str, ref: str) -> str | None:
    """None when the workflow runs on this event, else why it does not."""
    on = triggers(workflow)
    name = ACT_EVENTS[event]
    if name not in on:
        return f"the workflow has no `{name}` trigger (it runs on {', '.join(on) or 'nothing'})"
    spec = on[name] or {}
    if name == "release":
        types = spec.get("types") or []
        return None if not types or "published" in types else f"its release trigger takes {types}, not published"
    if name != "push":
        return None
    kind, value = ("tags", ref.removeprefix("refs/tags/")) if ref.startswith("refs/tags/") \
        else ("branches", ref.removeprefix("refs/heads/"))
    other = "branches" if kind == "tags" else "tags"
    if kind not in spec and f"{kind}-ignore" not in spec:
        if other in spec or f"{other}-ignore" in spec:
            return f"its push trigger filters {other} only ({', '.join(spec.get(other, []))}), so a push to {ref} " \
                   "starts nothing"
        return None
    if kind in spec and not _matches(value, [str(p) for p in spec[kind]]):
        return f"{value} matches none of its push {kind} patterns ({', '.join(map(str, spec[kind]))})"
    if f"{kind}-ignore" in spec and _matches(value, [str(p) for p in spec[f"{kind}-ignore"]]):
        return f"{value} matches its push {kind}-ignore patterns"
    return None


def pins(workflow: dict[str, Any]) -> dict[str, str]:
    """Every pinned action the workflow's steps use (``owner/repo@ref`` -> ``owner/repo``),
    refusing a reusable workflow and an action that has no stand-in."""
    from pipeline.standins import ACTIONS

    found: dict[str, str] = {}
    for job_id, job in workflow["jobs"].items():
        if "uses" in job:
            raise UsageError(f"job {job_id} calls the reusable workflow {job['uses']}, which the rehearsal cannot run",
                             hint="rehearse the workflow it calls with --workflow")
        for step in job.get("steps") or []:
            uses = str(step.get("uses") or "")
            if uses and not uses.startswith(("./", "docker://")):
                found[uses] = "/".join(uses.split("@", 1)[0].split("/")[:2])
    unknown = sorted({action for action in found.values() if action not in ACTIONS})
    if unknown:
        raise UsageError(f"the workflow uses {', '.join(unknown)}, which the rehearsal has no stand-in for",
                         hint="stand-ins exist for " + ", ".join(sorted(ACTIONS)))
    return found


def static_runners(workflow: dict[str, Any]) -> dict[str, str]:
    """Each job's runner label, where the workflow names it outright (not by an expression)."""
    return {job_id: job["runs-on"] for job_id, job in workflow["jobs"].items()
            if isinstance(job.get("runs-on"), str) and "${{" not in job["runs-on"]}


def build_command(workflow: dict[str, Any]) -> str:
    """The command the workflow's build job runs for a slice."""
    for step in (workflow["jobs"].get("build") or {}).get("steps") or []:
        run = str(step.get("run") or "")
        if "wheelship build" in run:
            return run.strip()
    return "wheelship build ."


def default_tag(repo: Path) -> str | None:
    """The tag at HEAD, else the newest tag reachable from it."""
    return git(repo, "describe", "--tags", "--exact-match", "HEAD") or git(repo, "describe", "--tags", "--abbrev=0")


def payload(rehearsal: Rehearsal, repo: Path, workflow: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The event payload GitHub would send, and the ref the run starts on."""
    name = git(repo, "symbolic-ref", "--short", "-q", "HEAD") or "main"
    branch = f"refs/heads/{name}"
    repository = {"name": repo.name, "full_name": f"rehearsal/{repo.name}", "default_branch": name}
    if rehearsal.event in ("push", "release"):
        return _tag_payload(rehearsal, repo, repository)
    if rehearsal.event == "dispatch":
        return {"ref": branch, "inputs": _dispatch_inputs(rehearsal, workflow), "repository": repository}, branch
    if rehearsal.event == "schedule":
        crons = (triggers(workflow).get("schedule") or [{}])
        return {"schedule": (crons[0] or {}).get("cron", ""), "repository": repository}, branch
    return {"ref": branch, "before": "0" * 40, "after": git(repo, "rev-parse", "HEAD") or "", "created": False,
            "deleted": False, "repository": repository}, branch


def _tag_payload(rehearsal: Rehearsal, repo: Path, repository: dict[str, str]) -> tuple[dict[str, Any], str]:
    tag = rehearsal.tag
    commit = git(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
    if not commit:
        raise UsageError(f"tag {tag} is not in {repo}", hint=f"create it first: git tag {tag}")
    if rehearsal.event == "push":
        return {"ref": f"refs/tags/{tag}", "before": "0" * 40, "after": commit, "created": True,
                "deleted": False, "forced": False, "repository": repository}, f"refs/tags/{tag}"
    from packaging.version import InvalidVersion, Version

    try:
        prerelease = Version(str(tag).lstrip("v")).is_prerelease
    except InvalidVersion:
        prerelease = False
    return {"action": "published", "release": {"tag_name": tag, "name": tag, "draft": False,
                                               "prerelease": prerelease, "target_commitish": commit},
            "repository": repository}, f"refs/tags/{tag}"


def _dispatch_inputs(rehearsal: Rehearsal, workflow: dict[str, Any]) -> dict[str, Any]:
    """A dispatch's inputs: the ones asked for, each of which the workflow must declare."""
    declared = ((triggers(workflow).get("workflow_dispatch") or {}).get("inputs") or {})
    given = {"tag": rehearsal.tag, "index": rehearsal.index, "dry-run": rehearsal.dry_run or None}
    missing = [name for name, value in given.items() if value is not None and name not in declared]
    if missing:
        raise UsageError(f"the workflow's dispatch takes no input {', '.join(missing)} "
                         f"(it takes {', '.join(declared) or 'none'})", hint="leave those options out")
    return {name: (value if value is not None else (False if name == "dry-run" else ""))
            for name, value in given.items() if name in declared}
