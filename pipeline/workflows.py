"""The GitHub Actions workflows wheelship runs, rendered from one template.

`wheelship init` writes them into a user's repository (trusted publishing does not
work from reusable workflows, so each project carries its own), and this
repository's own release workflows are the same rendering.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from pipeline import __version__
from pipeline.errors import UsageError

log = logging.getLogger(__name__)

RELEASE_TRIGGERS = """\
  push:
    tags: __TAG_PATTERNS__
__ON_RELEASE__  workflow_dispatch:
    inputs:
      tag:
        description: "Tag to release, such as v1.2.0"
        required: true
        type: string
      index:
        description: "Index to publish to (default: routed by version)"
        required: false
        type: string
      dry-run:
        description: "Do everything but upload"
        required: false
        type: boolean
        default: false
"""
DRY_RUN_TRIGGERS = """\
  schedule:
    - cron: "17 3 * * *"
  workflow_dispatch:
    inputs:
      tag:
        description: "Tag to rehearse (default: the declared version)"
        required: false
        type: string
"""
#: Opt-in (`wheelship init --on-release`): a published GitHub release also releases. Not
#: the default, because pushing a tag and publishing a release for it are two events.
ON_RELEASE = """\
  release:
    types: [published]
"""
#: The publish job's environment: the target index's name, or `dry-run` for rehearsals.
#: infra/'s publisher role trusts exactly these.
ENVIRONMENTS = {"release": "${{ needs.plan.outputs.index }}", "dry-run": "dry-run"}


BOTH_TAG_FORMS = ("v*", "[0-9]*")


def tag_patterns(project_dir: Path) -> tuple[str, ...]:
    """The tag patterns that match the version tags a repository already has (``v1.2.3``
    or ``1.2.3``); both when it has none, or is no git repository."""
    from pipeline.git import git

    tags = (git(project_dir, "tag", "--list") or "").split()
    forms: tuple[tuple[str, Callable[[str], bool]], ...] = (
        ("v*", lambda t: t[:1] == "v" and t[1:2].isdigit()), ("[0-9]*", lambda t: t[:1].isdigit()))
    found = tuple(pattern for pattern, test in forms if any(test(t) for t in tags))
    return found or BOTH_TAG_FORMS


def render(kind: str, install: str, tags: tuple[str, ...] = BOTH_TAG_FORMS, *, on_release: bool = False) -> str:
    """The text of the `release` or `dry-run` workflow; `tags` are the tag patterns that
    release; `on_release` adds the published-release trigger."""
    text = files("pipeline").joinpath("templates/workflow.yml.in").read_text()
    release = kind == "release"
    events = f"A tag push ({' or '.join(tags)}){', a published release' if on_release else ''} or a manual dispatch"
    replacements = {
        "__PURPOSE__": (f"{events} releases the project."
                        if release else "Every night, and on demand, rehearses the whole release; uploads nothing."),
        "__NAME__": kind,
        "__TRIGGERS__": RELEASE_TRIGGERS if release else DRY_RUN_TRIGGERS,
        "__ON_RELEASE__": ON_RELEASE if on_release else "",
        "__PLAN_FLAGS__": "" if release else " --dry-run",
        "__ENVIRONMENT__": ENVIRONMENTS[kind],
        "__INSTALL__": install,
        "__TAG_PATTERNS__": "[" + ", ".join(f'"{t}"' for t in tags) + "]",
    }
    for key, value in replacements.items():
        text = text.replace(key, value)
    return text


def init(project_dir: Path, *, force: bool = False, install: str | None = None, on_release: bool = False) -> list[Path]:
    """Write the release and dry-run workflows and a starter buildspec into a project."""
    if not project_dir.is_dir():
        raise UsageError(f"{project_dir} is not a folder", hint="pass your project's folder")
    install = install or f"python -m pip install 'wheelship=={__version__}'"
    outputs = {
        project_dir / ".github" / "workflows" / "wheelship-release.yml": render("release", install,
                                                                               tag_patterns(project_dir),
                                                                               on_release=on_release),
        project_dir / ".github" / "workflows" / "wheelship-dry-run.yml": render("dry-run", install),
        project_dir / "wheelship.toml": files("pipeline").joinpath("templates/wheelship.toml").read_text(),
    }
    existing = [p for p in outputs if p.exists()]
    if existing and not force:
        raise UsageError(
            "refusing to overwrite " + ", ".join(str(p) for p in existing),
            hint="pass --force to replace them",
        )
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        log.info("wrote %s", path)
    return list(outputs)
