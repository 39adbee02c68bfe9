"""Stand-ins for the GitHub actions a release workflow uses, for `wheelship rehearse`.

Each stand-in is a composite action (written by `write_actions`) whose one step runs
``python -m pipeline.standins VERB``, and does on this machine what the action does on
GitHub: checkout clones the repository at the ref the action would take; setup-python
puts a Python with this wheelship on PATH; configure-aws-credentials gives the
sandbox's S3 keys (the AWS role's stand-in); upload- and download-artifact keep
artifacts in the rehearsal's folder with the same names, patterns and merging rules.
Each one says what it stood in for.

One stand-in is for no action but for what GitHub gives a job with ``permissions:
id-token: write``: its OIDC identity. The rehearsal makes it the first step of each such
job (`OIDC_ACTION`, pipeline.rehearsal.identity), and it gives that job, and no other, the
sandbox's signing identity (a GitHub-shaped token minted as the job starts, and the local
Sigstore's trust configuration) and the sandbox indexes' tokens in place of trusted
publishing.

The rehearsal folder (``$WHEELSHIP_REHEARSAL_DIR``) holds ``source`` (the path of the
repository), ``artifacts/``, ``credentials.json`` (the sandbox's S3 keys) and
``identity.json`` (who the identity names, the trust configuration, the index tokens),
both mode 0600.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

#: action (owner/repo) -> (verb, inputs it takes)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "actions/checkout": ("checkout", ("ref", "path", "persist-credentials", "fetch-depth", "fetch-tags",
                                      "repository", "token", "submodules", "lfs", "clean", "sparse-checkout",
                                      "sparse-checkout-cone-mode")),
    "actions/setup-python": ("setup-python", ("python-version", "python-version-file", "cache", "architecture",
                                              "allow-prereleases", "check-latest")),
    "aws-actions/configure-aws-credentials": ("aws", ("role-to-assume", "aws-region", "role-duration-seconds",
                                                      "role-session-name", "audience", "mask-aws-account-id")),
    "actions/upload-artifact": ("upload-artifact", ("name", "path", "if-no-files-found", "retention-days",
                                                    "compression-level", "overwrite", "include-hidden-files")),
    "actions/download-artifact": ("download-artifact", ("name", "pattern", "path", "merge-multiple", "run-id",
                                                        "github-token", "repository")),
    "docker/setup-qemu-action": ("qemu", ("platforms", "image", "cache-image")),
}
#: The stand-in for a job's OIDC identity: an action of no one's, named so that no
#: workflow uses it, which the rehearsal adds to each job with id-token: write.
OIDC_ACTION = "wheelship-rehearsal/id-token"
OWN_ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {OIDC_ACTION: ("id-token", ())}


class StandInError(Exception):
    """What a stand-in could not do; printed as a GitHub error annotation."""


def env_name(input_name: str) -> str:
    return "INPUT_" + input_name.replace("-", "_").upper()


def action_yml(action: str, rehearsal_dir: Path) -> str:
    verb, inputs = {**ACTIONS, **OWN_ACTIONS}[action]
    declared = "".join(f"  {name}:\n    required: false\n    default: \"\"\n" for name in inputs) or " {}\n"
    env = "".join(f"        {env_name(name)}: ${{{{ inputs.{name} }}}}\n" for name in inputs)
    return (f"name: wheelship rehearsal stand-in for {action}\n"
            f"description: does on this machine what {action} does on GitHub\n"
            f"inputs:\n{declared}"
            "runs:\n  using: composite\n  steps:\n    - shell: bash\n"
            f"      env:\n{env}"
            f"        WHEELSHIP_REHEARSAL_DIR: {json.dumps(str(rehearsal_dir))}\n"
            f"      run: |\n        {shlex.quote(sys.executable)} -m pipeline.standins {verb}\n")


def write_actions(actions: set[str], rehearsal_dir: Path) -> dict[str, Path]:
    """A folder with an action.yml per stand-in, for act's --local-repository."""
    folders = {}
    for action in sorted(actions):
        folder = rehearsal_dir / "actions" / action
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "action.yml").write_text(action_yml(action, rehearsal_dir), encoding="utf-8")
        folders[action] = folder
    return folders


def _input(name: str, default: str = "") -> str:
    return os.environ.get(env_name(name), "").strip() or default


def _flag(name: str) -> bool:
    return _input(name).lower() == "true"


def _dir() -> Path:
    return Path(os.environ["WHEELSHIP_REHEARSAL_DIR"])


def _workspace() -> Path:
    return Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())


def _under_workspace(path: str) -> Path:
    return Path(path) if os.path.isabs(path) else _workspace() / path


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if result.returncode != 0:
        raise StandInError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _refspecs(ref: str, commit: str) -> list[str]:
    """What actions/checkout fetches for a ref: a tag into its own name (so the tag is
    there), a branch into its remote-tracking ref, a commit on its own, nothing else."""
    if ref.startswith("refs/tags/"):
        return [f"+{ref}:{ref}"]
    if ref.startswith("refs/heads/"):
        return [f"+{ref}:refs/remotes/origin/{ref.removeprefix('refs/heads/')}"]
    return [f"+{commit}:refs/remotes/origin/wheelship-checkout"]


def checkout() -> str:
    """actions/checkout, no more generous than it: `fetch-depth` (1 unless set; 0 is the
    whole history with every branch and tag), `fetch-tags` (false unless set), `ref`
    (the event's unless set), `sparse-checkout`. A shallow checkout of a commit has no
    tags, as on GitHub, so a version read from tags (setuptools-scm, hatch-vcs) sees
    what it would see there."""
    source = Path((_dir() / "source").read_text(encoding="utf-8").strip())
    ref = _input("ref") or os.environ.get("GITHUB_REF", "") or "HEAD"
    try:
        commit = _git(source, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
    except StandInError:
        raise StandInError(f"{ref} is not in {source}: actions/checkout would fail the same way") from None
    if ref != commit and not ref.startswith("refs/") and ref != "HEAD":  # a short name: a branch, else a tag
        ref = f"refs/heads/{ref}" if _git(source, "branch", "--list", ref) else f"refs/tags/{ref}"
    depth = int(_input("fetch-depth", "1") or "1")
    target = _under_workspace(_input("path"))
    target.mkdir(parents=True, exist_ok=True)
    for child in target.iterdir():  # a fresh runner's workspace
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    _git(target, "init", "-q")
    _git(target, "remote", "add", "origin", source.resolve().as_uri())
    specs = _refspecs(ref, commit)
    if depth == 0:  # the whole history: every branch and tag
        specs += ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
    elif _flag("fetch-tags"):
        specs.append("+refs/tags/*:refs/tags/*")
    _git(target, "-c", "protocol.file.allow=always", "fetch", "-q", "--no-tags",
         *([f"--depth={depth}"] if depth > 0 else []), "origin", *specs)
    sparse = [line.strip() for line in _input("sparse-checkout").splitlines() if line.strip()]
    if sparse:  # only these paths in the work tree, as the action leaves it
        cone = _input("sparse-checkout-cone-mode", "true").lower() != "false"
        _git(target, "sparse-checkout", "set", "--cone" if cone else "--no-cone", *sparse)
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    _git(target, "checkout", "-q", *(["-B", branch] if branch else ["--detach"]), commit)
    shallow = f"depth {depth}" if depth else "full history"
    return f"actions/checkout: {source} at {ref} ({commit[:12]}), {shallow}" + \
        (", tags fetched" if depth == 0 or _flag("fetch-tags") else "")


def setup_python() -> str:
    """A fresh environment on PATH that sees this wheelship (and its pip), so the
    workflow's install step finds wheelship installed and fetches nothing."""
    import pipeline

    runner_temp = Path(os.environ.get("RUNNER_TEMP") or _dir())
    env = runner_temp / "wheelship-rehearsal-python"
    if not (env / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        paths = sysconfig.get_paths()
        # addsitedir, not a bare path: wheelship's own .pth files (an editable install's) must run too
        (env / "lib" / version / "site-packages" / "wheelship-rehearsal.pth").write_text("".join(
            f"import site; site.addsitedir({d!r})\n" for d in dict.fromkeys([paths["purelib"], paths["platlib"]])), encoding="utf-8")
        shim = env / "bin" / "wheelship"
        shim.write_text('#!/bin/sh\nexec "$(dirname "$0")/python" -m pipeline "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    with open(os.environ["GITHUB_PATH"], "a", encoding="utf-8") as fh:
        fh.write(f"{env / 'bin'}\n")
    asked = _input("python-version") or "(none)"
    return (f"actions/setup-python {asked}: Python {sys.version.split()[0]} with wheelship "
            f"{pipeline.__version__}, this machine's")


def _export(values: dict[str, str], secret: set[str]) -> None:
    """Into the job's environment from its next step on (GITHUB_ENV), each of `secret`
    masked first, as the actions mask what they export."""
    for name in sorted(secret):
        print(f"::add-mask::{values[name]}")
    with open(os.environ["GITHUB_ENV"], "a", encoding="utf-8") as fh:
        for name, value in values.items():
            fh.write(f"{name}={value}\n")


def aws() -> str:
    """The AWS role: the sandbox's S3 keys, in the variables the action exports."""
    values = json.loads((_dir() / "credentials.json").read_text(encoding="utf-8"))
    region = _input("aws-region", "us-east-1")
    _export({**values, "AWS_REGION": region, "AWS_DEFAULT_REGION": region},
            {name for name in values if "SECRET" in name or name == "AWS_ACCESS_KEY_ID"})
    return f"aws-actions/configure-aws-credentials (role {_input('role-to-assume') or '(none)'}): the sandbox's S3 keys"


def id_token() -> str:
    """GitHub's OIDC identity, for a job with id-token: write: a token with the claims
    GitHub would put in it (the repository, the workflow file and ref the rehearsal
    names; this job's commit and event), minted as the job starts, which the sandbox's
    Sigstore accepts; its trust configuration; and the sandbox indexes' tokens, which
    trusted publishing would mint from the identity."""
    from pipeline.attestations import TRUST_CONFIG_ENV
    from pipeline.signing_identity import IDENTITY_TOKEN_ENV
    from pipeline.sigstore_local import mint_identity_token

    given = json.loads((_dir() / "identity.json").read_text(encoding="utf-8"))
    repository, workflow, ref = given["repository"], given["workflow"], given["ref"]
    token = mint_identity_token(repository, workflow, ref, sha=os.environ.get("GITHUB_SHA") or None,
                                event_name=os.environ.get("GITHUB_EVENT_NAME") or "push", lifetime=6 * 3600)
    tokens: dict[str, str] = given["index_tokens"]
    _export({IDENTITY_TOKEN_ENV: token, TRUST_CONFIG_ENV: given["trust_config"], **tokens},
            {IDENTITY_TOKEN_ENV, *tokens})
    return (f"id-token: write: the sandbox's OIDC identity ({repository} workflow {workflow} at {ref}) and its "
            "Sigstore; trusted publishing: the sandbox indexes' tokens")


def _files(patterns: list[str], hidden: bool) -> tuple[Path | None, list[Path]]:
    """What upload-artifact would upload: every file the paths and globs find, and
    the root they are kept relative to (the least common ancestor of the searches)."""
    found: list[Path] = []
    bases: list[Path] = []
    for pattern in patterns:
        path = _under_workspace(pattern)
        if glob.has_magic(str(path)):
            matches = [Path(p) for p in glob.glob(str(path), recursive=True, include_hidden=hidden)]
            files = [m for m in matches if m.is_file()]
            for m in matches:
                if m.is_dir():
                    files += [f for f in m.rglob("*") if f.is_file()]
            found += files
            bases += [f.parent for f in files]
        elif path.is_dir():
            found += [f for f in path.rglob("*") if f.is_file()]
            bases.append(path)
        elif path.is_file():
            found.append(path)
            bases.append(path.parent)
    if not found:
        return None, []
    root = Path(os.path.commonpath([str(b) for b in bases]))
    if not hidden:  # v4 and later leave out files and folders whose names start with a dot
        found = [f for f in found if not any(part.startswith(".") for part in f.relative_to(root).parts)]
    return root, sorted(set(found))


def _artifact_name(name: str) -> str:
    """An artifact name is a name, never a path (upload-artifact refuses `/` and `\\`)."""
    if not name or name in (".", "..") or any(c in name for c in '/\\":<>|*?\r\n'):
        raise StandInError(f"the artifact name {name!r} is not valid: actions/upload-artifact refuses it")
    return name


def upload_artifact() -> str:
    name = _artifact_name(_input("name", "artifact"))
    patterns = [line.strip() for line in _input("path").splitlines() if line.strip()]
    root, files = _files(patterns, _flag("include-hidden-files"))
    if not files:
        how = _input("if-no-files-found", "warn")
        message = f"no files were found with the path {', '.join(patterns)}; no artifact {name} uploaded"
        if how == "error":
            raise StandInError(message)
        return message if how == "ignore" else f"warning: {message}"
    dest = _dir() / "artifacts" / name
    if dest.exists():
        if not _flag("overwrite"):
            raise StandInError(f"an artifact named {name} exists already in this run; artifacts cannot be replaced "
                               "(actions/upload-artifact answers 409 Conflict)")
        shutil.rmtree(dest)
    assert root is not None
    for f in files:
        target = dest / f.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return f"actions/upload-artifact: {len(files)} file(s) kept as artifact {name}"


def _expand_braces(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [e for option in match.group(1).split(",") for e in _expand_braces(head + option + tail)]


def download_artifact() -> str:
    kept = _dir() / "artifacts"
    available = sorted(p.name for p in kept.iterdir()) if kept.is_dir() else []
    name, pattern = _input("name"), _input("pattern")
    if name:
        if name not in available:
            raise StandInError(f"artifact not found: {name} (this run has: {', '.join(available) or 'none'})")
        chosen = [name]
    elif pattern:
        chosen = [a for a in available if any(fnmatch.fnmatchcase(a, p) for p in _expand_braces(pattern))]
    else:
        chosen = available
    path = _under_workspace(_input("path") or ".")
    flat = bool(name) or _flag("merge-multiple")
    for artifact in chosen:
        shutil.copytree(kept / artifact, path if flat else path / artifact, dirs_exist_ok=True)
    return f"actions/download-artifact: {', '.join(chosen) or 'no artifact'} into {path}"


def qemu() -> str:
    return (f"docker/setup-qemu-action ({_input('platforms') or 'all'}): not rehearsed; "
            "this machine builds its own arch only")


VERBS = {"checkout": checkout, "setup-python": setup_python, "aws": aws, "upload-artifact": upload_artifact,
         "download-artifact": download_artifact, "qemu": qemu, "id-token": id_token}


def main(argv: list[str]) -> int:
    try:
        said = VERBS[argv[0]]()
    except StandInError as exc:
        print(f"::error::rehearsal stand-in: {exc}")
        return 1
    print(f"rehearsal stand-in: {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
