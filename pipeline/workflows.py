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
#: The publish job's environment: the route job's (the target index's name, or `dry-run`
#: for rehearsals); infra/'s publisher role trusts exactly these.
ENVIRONMENT = "${{ needs.route.outputs.environment }}"
#: wheelship, pinned by version and hash with everything it needs: what the jobs that run
#: no project code (route, publish) install, so nothing they download becomes code
#: unchecked. `wheelship init` writes it; `uv pip compile --generate-hashes` makes it.
LOCK_FILE = Path(".github/wheelship/requirements.txt")
LOCKED_INSTALL = f"python -m pip install --require-hashes --no-deps -r {LOCK_FILE.as_posix()}"
#: The Python the jobs run, which the lock is made for (as well as every platform).
JOB_PYTHON = "3.12"


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


def render(kind: str, install: str, tags: tuple[str, ...] = BOTH_TAG_FORMS, *, on_release: bool = False,
           project: str = "wheelship", locked_install: str = LOCKED_INSTALL) -> str:
    """The text of the `release` or `dry-run` workflow; `tags` are the tag patterns that
    release; `on_release` adds the published-release trigger. `install` installs wheelship
    in the jobs that run project code, `locked_install` in those that run none; `project`
    is the project the publish job publishes, whatever a job before it says."""
    text = files("pipeline").joinpath("templates/workflow.yml.in").read_text(encoding="utf-8")
    release = kind == "release"
    events = f"A tag push ({' or '.join(tags)}){', a published release' if on_release else ''} or a manual dispatch"
    replacements = {
        "__PURPOSE__": (f"{events} releases the project."
                        if release else "Every night, and on demand, rehearses the whole release; uploads nothing."),
        "__NAME__": kind,
        "__TRIGGERS__": RELEASE_TRIGGERS if release else DRY_RUN_TRIGGERS,
        "__ON_RELEASE__": ON_RELEASE if on_release else "",
        "__PLAN_FLAGS__": "" if release else " --dry-run",
        "__INSTALL_LOCKED__": locked_install,
        "__INSTALL__": install,
        "__PROJECT__": project,
        "__TAG_PATTERNS__": "[" + ", ".join(f'"{t}"' for t in tags) + "]",
    }
    for key, value in replacements.items():
        text = text.replace(key, value)
    return text


def lock(requirement: str, *, find_links: Path | None = None, index_url: str | None = None) -> str:
    """`requirement` and everything it needs, pinned by version and SHA-256 for every
    platform the jobs run on (uv's universal resolution); raises `UsageError` with uv's
    reason when it cannot be resolved."""
    import subprocess

    from pipeline.interpreters import uv_binary

    uv = uv_binary()
    if uv is None:
        raise UsageError("uv is needed to pin wheelship's requirements by hash", hint="pip install uv")
    command = [uv, "pip", "compile", "-", "--universal", "--generate-hashes", "--python-version", JOB_PYTHON,
               "--no-header", "--quiet"]
    command += ["--find-links", str(find_links)] if find_links else []
    command += ["--index-url", index_url] if index_url else []
    result = subprocess.run(command, input=requirement + "\n", capture_output=True, text=True, encoding="utf-8",
                            errors="replace")
    if result.returncode != 0:
        raise UsageError(f"could not pin {requirement} by hash: {result.stderr.strip()[-600:]}",
                         hint="pass --find-links DIR holding a wheelship wheel, or --index-url of an index that "
                              "has it")
    header = (f"# wheelship {__version__} and what it needs, pinned by hash for the jobs that run no project code.\n"
              "# Written by `wheelship init`; `wheelship init --force` writes it again.\n")
    return header + result.stdout


def project_name(project_dir: Path) -> str:
    """The project's name, read from its files without running anything of it where it
    can be ([project].name, setup.cfg), else from its build backend."""
    import configparser
    import tomllib

    pyproject = project_dir / "pyproject.toml"
    if pyproject.is_file():
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
        if isinstance(name, str) and name:
            return name
    setup_cfg = configparser.RawConfigParser()
    setup_cfg.read(project_dir / "setup.cfg", encoding="utf-8")
    if setup_cfg.get("metadata", "name", fallback=""):
        return setup_cfg.get("metadata", "name")
    from pipeline.project import load_project

    return load_project(project_dir).name


#: How the publish job reaches the store: an AWS role, or an endpoint with keys.
STORE_ACCESS = ("aws-role", "keys")
#: Where `init` writes the AWS path's infrastructure template, in the project.
STORE_TEMPLATE = Path(".github") / "wheelship" / "store-aws.yaml"
RELEASE_WORKFLOW = "wheelship-release.yml"


#: Where `init` writes each file, relative to the project.
OUTPUTS = {
    "release": Path(".github") / "workflows" / RELEASE_WORKFLOW,
    "dry-run": Path(".github") / "workflows" / "wheelship-dry-run.yml",
    "lock": LOCK_FILE,
    "spec": Path("wheelship.toml"),
    "store": STORE_TEMPLATE,
}


def checklist(name: str, access: str) -> list[str]:
    """What a maintainer sets up once after `init`, for the chosen way to the store."""
    if access == "aws-role":
        store = [
            f"deploy {STORE_TEMPLATE.as_posix()} (aws cloudformation deploy --template-file "
            f"{STORE_TEMPLATE.as_posix()} --capabilities CAPABILITY_IAM --parameter-overrides "
            "BucketName=BUCKET GitHubRepository=OWNER/NAME)",
            "set the repository variables WHEELSHIP_STORE (the stack's StoreUrl output), "
            "AWS_PUBLISH_ROLE_ARN (its PublisherRoleArn output) and AWS_REGION",
        ]
    else:
        store = [
            "make a bucket with versioning on at your S3-compatible provider, and keys that may read and write it",
            "set the repository variables WHEELSHIP_STORE (s3://BUCKET/PREFIX) and WHEELSHIP_STORE_ENDPOINT "
            "(the provider's S3 endpoint URL), and the repository secrets WHEELSHIP_STORE_ACCESS_KEY_ID and "
            "WHEELSHIP_STORE_SECRET_ACCESS_KEY",
        ]
    return [
        *store,
        "create the GitHub environments pypi, testpypi and dry-run (Settings > Environments)",
        f"on PyPI, add a trusted publisher for {name}: this repository, workflow {RELEASE_WORKFLOW}, "
        "environment pypi",
        f"on TestPyPI, add a trusted publisher for {name}: this repository, workflow {RELEASE_WORKFLOW}, "
        "environment testpypi",
        "commit the files above and push a tag such as v1.0.0rc1 (TestPyPI) to rehearse the path for real",
    ]


def init(project_dir: Path, *, force: bool = False, install: str | None = None, on_release: bool = False,
         locked: str | None = None, find_links: Path | None = None, index_url: str | None = None,
         store_access: str = "aws-role") -> list[Path]:
    """Write the release and dry-run workflows, wheelship's hash-pinned requirements
    (`locked`, else made now by `lock`), a starter buildspec and, for the AWS path, the
    store's infrastructure template into a project."""
    if not project_dir.is_dir():
        raise UsageError(f"{project_dir} is not a folder", hint="pass your project's folder")
    if store_access not in STORE_ACCESS:
        raise UsageError(f"unknown way to the store {store_access!r}", hint="use " + " or ".join(STORE_ACCESS))
    install = install or LOCKED_INSTALL
    name = project_name(project_dir)
    kinds = [*OUTPUTS] if store_access == "aws-role" else [kind for kind in OUTPUTS if kind != "store"]
    existing = [project_dir / OUTPUTS[kind] for kind in kinds if (project_dir / OUTPUTS[kind]).exists()]
    if existing and not force:
        raise UsageError(
            "refusing to overwrite " + ", ".join(str(p) for p in existing),
            hint="pass --force to replace them",
        )
    locked = locked or lock(f"wheelship=={__version__}", find_links=find_links, index_url=index_url)
    template = files("pipeline").joinpath("templates")
    texts: dict[str, Callable[[], str]] = {
        "release": lambda: render("release", install, tag_patterns(project_dir), on_release=on_release,
                                  project=name),
        "dry-run": lambda: render("dry-run", install, project=name),
        "lock": lambda: locked,
        "spec": lambda: template.joinpath("wheelship.toml").read_text(encoding="utf-8"),
        "store": lambda: template.joinpath("store-aws.yaml").read_text(encoding="utf-8"),
    }
    written = []
    for kind in kinds:
        path = project_dir / OUTPUTS[kind]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts[kind](), encoding="utf-8")
        log.info("wrote %s", path)
        written.append(path)
    return written
