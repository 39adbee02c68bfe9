"""`wheelship rehearse`: the project's own release workflow, run end to end on this
machine against the sandbox, before the tag is pushed.

`act` evaluates the workflow file for real (jobs, `needs` outputs, the build matrix
from the plan, `if:`, `env`) and runs its Linux jobs on this host. Each pinned action
is replaced by a stand-in (pipeline.standins) that does here what the action does on
GitHub; trusted publishing and the AWS role are replaced by the sandbox's index
tokens and S3 keys, and the rehearsal says so. The plan covers what this host can
build (``WHEELSHIP_REHEARSAL``); the slices of other runners are listed as not
rehearsable, with the command their job would run, never as passed. Afterwards the
rehearsal reads what the sandbox's indexes and store hold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import ui
from pipeline.errors import RehearsalFailed, UsageError
from pipeline.git import git

if TYPE_CHECKING:
    from pipeline.sandbox import Sandbox

log = logging.getLogger(__name__)

#: The events a rehearsal takes, each with the GitHub event act is given.
ACT_EVENTS = {"push": "push", "release": "release", "dispatch": "workflow_dispatch", "schedule": "schedule",
              "branch": "push"}
EVENTS = tuple(ACT_EVENTS)
PASSED, FAILED, SKIPPED, NOT_REHEARSABLE = "passed", "failed", "skipped", "not-rehearsable"
#: Runner labels whose jobs run on this host: GitHub's Linux x86_64 images.
LINUX_RUNNERS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04")
LOCAL_IMAGE = "localhost/wheelship-manylinux:local"
SANDBOX_ROLE = "arn:aws:iam::000000000000:role/wheelship-rehearsal"


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

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "workflow": self.workflow, "ref": self.ref, "commit": self.commit,
                "jobs": [asdict(j) for j in self.jobs], "published": self.published, "stored": self.stored,
                "replaced": self.replaced}


EXTRA_HINT = "install the rehearse extra: pip install 'wheelship[rehearse]'"


def find_act() -> str:
    """The `act` binary: next to this Python (the `rehearse` extra), else on PATH; and
    PyYAML, which reads the workflow."""
    try:
        import yaml  # noqa: F401
    except ImportError:
        raise UsageError("PyYAML is not installed, so the workflow cannot be read", hint=EXTRA_HINT) from None
    found = shutil.which("act", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if not found:
        raise UsageError("`act` is not installed, so the workflow cannot be run on this machine", hint=EXTRA_HINT)
    return found


def _read_workflow(path: Path) -> dict[str, Any]:
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


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
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
    triggers = _triggers(workflow)
    name = ACT_EVENTS[event]
    if name not in triggers:
        return f"the workflow has no `{name}` trigger (it runs on {', '.join(triggers) or 'nothing'})"
    spec = triggers[name] or {}
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


def _pins(workflow: dict[str, Any]) -> dict[str, str]:
    """Every pinned action the workflow's steps use (``owner/repo@ref`` -> ``owner/repo``),
    refusing a reusable workflow and an action that has no stand-in."""
    from pipeline.standins import ACTIONS

    pins: dict[str, str] = {}
    for job_id, job in workflow["jobs"].items():
        if "uses" in job:
            raise UsageError(f"job {job_id} calls the reusable workflow {job['uses']}, which the rehearsal cannot run",
                             hint="rehearse the workflow it calls with --workflow")
        for step in job.get("steps") or []:
            uses = str(step.get("uses") or "")
            if uses and not uses.startswith(("./", "docker://")):
                pins[uses] = "/".join(uses.split("@", 1)[0].split("/")[:2])
    unknown = sorted({action for action in pins.values() if action not in ACTIONS})
    if unknown:
        raise UsageError(f"the workflow uses {', '.join(unknown)}, which the rehearsal has no stand-in for",
                         hint="stand-ins exist for " + ", ".join(sorted(ACTIONS)))
    return pins


def _static_runners(workflow: dict[str, Any]) -> dict[str, str]:
    return {job_id: job["runs-on"] for job_id, job in workflow["jobs"].items()
            if isinstance(job.get("runs-on"), str) and "${{" not in job["runs-on"]}


@dataclass
class Request:
    event: str
    tag: str | None
    index: str | None
    dry_run: bool


def _branch(repo: Path) -> str:
    return git(repo, "symbolic-ref", "--short", "-q", "HEAD") or "main"


def default_tag(repo: Path) -> str | None:
    """The tag at HEAD, else the newest tag reachable from it."""
    return git(repo, "describe", "--tags", "--exact-match", "HEAD") or git(repo, "describe", "--tags", "--abbrev=0")


def payload(request: Request, repo: Path, workflow: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The event payload GitHub would send, and the ref the run starts on."""
    name = _branch(repo)
    branch = f"refs/heads/{name}"
    repository = {"name": repo.name, "full_name": f"rehearsal/{repo.name}", "default_branch": name}
    if request.event in ("push", "release"):
        tag = request.tag
        commit = git(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}")
        if not commit:
            raise UsageError(f"tag {tag} is not in {repo}", hint=f"create it first: git tag {tag}")
        if request.event == "push":
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
    if request.event == "dispatch":
        declared = ((_triggers(workflow).get("workflow_dispatch") or {}).get("inputs") or {})
        given = {"tag": request.tag, "index": request.index, "dry-run": request.dry_run or None}
        missing = [name for name, value in given.items() if value is not None and name not in declared]
        if missing:
            raise UsageError(f"the workflow's dispatch takes no input {', '.join(missing)} "
                             f"(it takes {', '.join(declared) or 'none'})", hint="leave those options out")
        inputs = {name: (value if value is not None else (False if name == "dry-run" else ""))
                  for name, value in given.items() if name in declared}
        return {"ref": branch, "inputs": inputs, "repository": repository}, branch
    if request.event == "schedule":
        crons = (_triggers(workflow).get("schedule") or [{}])
        return {"schedule": (crons[0] or {}).get("cron", ""), "repository": repository}, branch
    return {"ref": branch, "before": "0" * 40, "after": git(repo, "rev-parse", "HEAD") or "", "created": False,
            "deleted": False, "repository": repository}, branch


def sandbox_holdings(box: Sandbox) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """What the sandbox's indexes list (read from their simple API) and what its store
    keeps (read back from S3), each file with its SHA-256."""
    from pipeline.index import every_file

    published = [{"filename": filename, "sha256": listed.sha256 or "", "index": name}
                 for name in ("testpypi", "pypi")
                 for filename, listed in sorted(every_file(box.index(name).url + "simple/").items())]
    stored: list[dict[str, str]] = []
    if box.s3 is not None:
        import boto3

        env = box.s3.env()
        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
                              aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=box.s3.bucket):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if name.endswith((".whl", ".tar.gz", ".zip")):
                    body = client.get_object(Bucket=box.s3.bucket, Key=obj["Key"])["Body"].read()
                    stored.append({"filename": name, "sha256": hashlib.sha256(body).hexdigest(), "key": obj["Key"]})
    return published, stored


# --- running act ---------------------------------------------------------------------


def act_base(act: str, event: str, workflow_file: Path, payload_file: Path, folder: Path) -> list[str]:
    """act's command for a workflow run on this host: every Linux job on the host, one at
    a time, its JSON log on stdout, its caches in the rehearsal folder. act reads
    ``.env``, ``.secrets`` and ``.vars`` from the folder it runs in, the maintainer's
    checkout, where a gitignored ``.env`` often holds real tokens: it is given an empty
    file for each instead."""
    empty = folder / "act-empty"
    empty.touch()
    command = [act, event, "-W", str(workflow_file), "-e", str(payload_file), "--json",
               "--action-cache-path", str(folder / "act-cache"), "--no-cache-server", "--concurrent-jobs", "1",
               "--env-file", str(empty), "--secret-file", str(empty), "--var-file", str(empty)]
    for label in LINUX_RUNNERS:
        command += ["-P", f"{label}=-self-hosted"]
    return command


def act_command(act: str, request: Request, workflow_file: Path, payload_file: Path, folder: Path,
                actions: dict[str, Path], pins: dict[str, str], box: Sandbox, image: bool) -> list[str]:
    """`act_base`, with the sandbox in place of GitHub's parts and the stand-in actions."""
    assert box.s3 is not None
    command = [*act_base(act, ACT_EVENTS[request.event], workflow_file, payload_file, folder),
               "--env", f"WHEELSHIP_CONFIG={box.config_file}", "--env", "WHEELSHIP_REHEARSAL=1",
               "--var", f"WHEELSHIP_STORE=s3://{box.s3.bucket}/runs", "--var", f"AWS_PUBLISH_ROLE_ARN={SANDBOX_ROLE}",
               "--var", "AWS_REGION=us-east-1"]
    if image:  # on GitHub, cibuildwheel pulls its image from quay.io
        command += ["--env", f"CIBW_MANYLINUX_X86_64_IMAGE={LOCAL_IMAGE}"]
    for pin, action in sorted(pins.items()):
        command += ["--local-repository", f"{action}@{pin.split('@', 1)[1]}={actions[action]}"]
    return command


# --- the environment act and its jobs run in ----------------------------------------------
#
# act's host mode hands its own environment to every job, and jobs run the project's code
# (its backend, its tests, whatever its workflow's steps say). So act gets an allow-listed
# environment, never this process's: a job sees none of the maintainer's tokens, TWINE_*,
# cloud keys or whatever a shell profile exports. This is not isolation: a job on this host
# can still read any file the maintainer can; it only stops the environment handing
# credentials over, as a GitHub runner's environment holds none of them.

#: The caller's variables passed on unchanged, each for what a job needs it for.
PASSED_ENV = (
    "PATH",  # act finds bash, git and node on it; jobs find python, uv and the container engine
    "LANG", "LANGUAGE", "TZ",  # (with every LC_*) how tools decode and print text, and the time in logs
    "TMPDIR",  # where act, uv and the builders make temporary files on this host
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",  # a host behind a TLS proxy: uv, pip and twine trust its CA
    "DOCKER_HOST", "CONTAINER_HOST", "CONTAINER_CONNECTION",  # where the caller's container engine listens
    "CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF",  # Podman's own configuration files
)
#: How this host reaches the network (jobs fetch build requirements; NO_PROXY keeps the
#: sandbox's loopback servers direct); passed unless the proxy's URL holds a password.
PROXY_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy", "no_proxy")
#: Set for every job whatever the caller has: as on a GitHub runner, no keyring, which
#: twine, pip and uv would otherwise ask for an index password.
FIXED_ENV = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
#: The job's HOME is a folder of the rehearsal's; these folders are in it.
XDG_FOLDERS = {"XDG_CONFIG_HOME": ".config", "XDG_CACHE_HOME": ".cache", "XDG_DATA_HOME": ".local/share",
               "XDG_STATE_HOME": ".local/state"}


def act_env(folder: Path) -> dict[str, str]:
    """The environment act runs in, and so every job: the variables of `PASSED_ENV` and
    `PROXY_ENV`; a HOME and XDG folders of its own in the rehearsal folder (act keeps its
    cache and config there and reads no ~/.actrc, whose ``-s`` lines hold secrets; no job
    finds ~/.pypirc, ~/.netrc, ~/.aws or a pip configuration with an index password);
    the caller's folders jobs need (`_kept_folders`); what the container engine needs."""
    home = folder / "home"
    env = {name: value for name, value in os.environ.items() if name in PASSED_ENV or name.startswith("LC_")}
    env["HOME"] = str(home)
    for name, relative in XDG_FOLDERS.items():
        (home / relative).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / relative)
    proxies = {name: value for name in PROXY_ENV if (value := os.environ.get(name)) and "@" not in value}
    return {**env, **proxies, **FIXED_ENV, **_kept_folders(), **_engine_env(home)}


def _kept_folders() -> dict[str, str]:
    """The caller's folders a job needs, named outright because their defaults are under
    a HOME the job does not share: the CPythons the builders find (under pyenv, and those
    uv installed), and the caches of uv and of wheelship's build frontends, which hold
    public packages only and spare a rehearsal fetching every build requirement again."""
    from pipeline.builders.local import CACHE

    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return {"PYENV_ROOT": os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv"),
            "UV_PYTHON_INSTALL_DIR": os.environ.get("UV_PYTHON_INSTALL_DIR") or str(data / "uv" / "python"),
            "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(cache / "uv"),
            "WHEELSHIP_CACHE": str(CACHE)}


def _engine_env(home: Path) -> dict[str, str]:
    """What a job's container engine needs to reach the caller's images from another HOME.
    Root Podman (this machine's) needs nothing: its store and configuration are system-wide."""
    from pipeline.builders.cibw import container_engine

    engine, _ = container_engine()
    if engine == "docker" and "DOCKER_HOST" not in os.environ:
        return _docker_host()
    if engine == "podman" and os.geteuid() != 0:
        return _rootless_podman(home)
    return {}


def _docker_host() -> dict[str, str]:
    """The daemon the caller's Docker context names (Docker Desktop, rootless Docker):
    a job's docker, with no ~/.docker of its own, would look for the system one."""
    found = subprocess.run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"],
                           capture_output=True, text=True, encoding="utf-8", errors="replace")
    host = found.stdout.strip()
    return {"DOCKER_HOST": host} if found.returncode == 0 and host else {}


def _rootless_podman(home: Path) -> dict[str, str]:
    """Rootless Podman keeps its images under the caller's XDG_DATA_HOME and reads its
    configuration from XDG_CONFIG_HOME, which a job does not share. The configuration is
    copied (less auth.json, the registries' passwords), the store it uses is named in the
    job's storage.conf, and XDG_RUNTIME_DIR is passed: Podman's database records its
    runtime folder and refuses to work from another."""
    info = subprocess.run(["podman", "info", "--format", "json"], capture_output=True, text=True, encoding="utf-8", errors="replace")
    if info.returncode != 0:
        return {}
    mine = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "containers"
    theirs = home / XDG_FOLDERS["XDG_CONFIG_HOME"] / "containers"
    if mine.is_dir():
        shutil.copytree(mine, theirs, ignore=shutil.ignore_patterns("auth.json"), dirs_exist_ok=True)
    theirs.mkdir(parents=True, exist_ok=True)
    (theirs / "storage.conf").write_text(storage_conf(json.loads(info.stdout)["store"]), encoding="utf-8")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return {"XDG_RUNTIME_DIR": runtime} if runtime else {}


def storage_conf(store: dict[str, Any]) -> str:
    """A containers-storage.conf naming the store `podman info` reports (JSON strings are
    TOML basic strings)."""
    lines = ["[storage]", f"driver = {json.dumps(store['graphDriverName'])}",
             f"graphroot = {json.dumps(store['graphRoot'])}", f"runroot = {json.dumps(store['runRoot'])}"]
    program = ((store.get("graphOptions") or {}).get("overlay.mount_program") or {}).get("Executable")
    if program:
        lines += ["", "[storage.options.overlay]", f"mount_program = {json.dumps(program)}"]
    return "\n".join(lines) + "\n"


def local_image_exists() -> bool:
    """The manylinux-style image `make manylinux-image` builds (infra/manylinux), in Podman."""
    from pipeline.builders.cibw import container_engine

    engine, _ = container_engine()
    return engine is not None and subprocess.run([engine, "image", "exists", LOCAL_IMAGE],
                                                 capture_output=True).returncode == 0


@dataclass
class _Seen:
    results: dict[tuple[str, str], str] = field(default_factory=dict)  # (job id, matrix label) -> result
    outputs: dict[str, str] = field(default_factory=dict)  # step outputs of the plan job
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    lines: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    runners: dict[tuple[str, str], str] = field(default_factory=dict)
    left_identifiers: list[str] = field(default_factory=list)  # what this host's plan left out of its slices


def _label(matrix: dict[str, Any]) -> str:
    if not matrix:
        return ""
    return str(matrix.get("slice") or ", ".join(f"{k}={v}" for k, v in sorted(matrix.items())))


OUTPUT = re.compile(r"::set-output::\s*([\w-]+)=(.*)")
LEFT_OUT = re.compile(r"left out of this local plan \([^)]*\): (.*)")
BUILDER = re.compile(r"slice \S+: the (\S+) builder \((.*)\)")


def run_act(command: list[str], cwd: Path, log_file: Path, env: dict[str, str]) -> _Seen:
    """Run act in `env` (`act_env`'s), its log kept in `log_file`; what its jobs did."""
    seen = _Seen()
    with log_file.open("w", encoding="utf-8") as raw, \
            subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             encoding="utf-8", errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            raw.write(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            job_id = event.get("jobID")
            if not job_id:
                continue
            key = (job_id, _label(event.get("matrix") or {}))
            msg = str(event.get("msg", ""))
            seen.lines.setdefault(key, []).append(msg.rstrip())
            if (runner := (event.get("matrix") or {}).get("runner")) is not None:
                seen.runners[key] = str(runner)
            if job_id == "plan" and (found := OUTPUT.search(msg)):
                seen.outputs[found.group(1)] = found.group(2).strip()
            if job_id == "plan" and (found := LEFT_OUT.search(msg)):
                seen.left_identifiers += found.group(1).split()
            if found := BUILDER.search(msg):
                seen.notes[key] = f"{found.group(1)} builder: {found.group(2)}"
            if "jobResult" in event:
                seen.results[key] = event["jobResult"]
                name = f"{job_id} ({key[1]})" if key[1] else job_id
                status = PASSED if event["jobResult"] == "success" else FAILED
                log.info("  job %-28s %s", name, status)
    return seen


def _left_out(repo: Path, seen: _Seen, workflow: dict[str, Any]) -> list[Job]:
    """What the full plan has that this host's plan does not: the build jobs of other
    runners, each with the command it would run there, and the wheels of this host's
    slices that need what this machine lacks (a musllinux image, an interpreter)."""
    outputs = seen.outputs
    left = [Job(name=f"build (wheels left out here: {len(seen.left_identifiers)})", status=NOT_REHEARSABLE,
                note=" ".join(seen.left_identifiers) + ": built on GitHub by the slice's job, not here")
            ] if seen.left_identifiers else []
    from pipeline.planning import slice_kinds
    from pipeline.spec import load_spec

    try:
        matrix = json.loads(outputs.get("wheel-matrix") or "{}").get("include", [])
    except ValueError:
        return []
    planned = {entry.get("slice") for entry in matrix}
    commit = outputs.get("commit")
    if not matrix or "pure" in planned or not commit:
        return left
    command = _build_command(workflow)
    with tempfile.TemporaryDirectory(prefix="wheelship-rehearse-plan-") as tmp:
        checkout = Path(tmp) / "checkout"
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(repo), str(checkout)], check=True)
        subprocess.run(["git", "-C", str(checkout), "checkout", "-q", "--detach", commit], check=True)
        spec = load_spec(checkout)
        kinds = [k for k in slice_kinds(checkout) if not spec.slices or k.name in spec.slices]
    return left + [Job(name=f"build ({k.name})", status=NOT_REHEARSABLE, runner=spec.runners.get(k.name, k.runner),
                       note=f"on {spec.runners.get(k.name, k.runner)}{' under QEMU' if k.qemu else ''}: "
                            f"WHEELSHIP_SLICE={k.name} {command}")
                   for k in kinds if k.name not in planned]


def _build_command(workflow: dict[str, Any]) -> str:
    for step in (workflow["jobs"].get("build") or {}).get("steps") or []:
        run = str(step.get("run") or "")
        if "wheelship build" in run:
            return run.strip()
    return "wheelship build ."


def _why_failed(lines: list[str]) -> str:
    """What a failed job printed just before its failing step ended: wheelship's error
    and hint, a stand-in's error annotation, or the step's last lines."""
    noise = ("⭐", "✅", "❌", "⚙", "🏁", "LocalRepositoryCache", "exit status", "🐳", "☁")
    end = next((i for i, line in enumerate(lines) if "❌" in line), len(lines))
    before = [line.strip() for line in lines[max(0, end - 15):end]
              if line.strip() and not line.strip().startswith(noise)]
    said = [line for line in before if re.search(r"error|what to do|yaml:", line, re.IGNORECASE)]
    step = lines[end].strip() if end < len(lines) else ""
    return " / ".join((said or before)[-3:] or [step])[:500]


def _jobs(workflow: dict[str, Any], seen: _Seen, left_out: list[Job]) -> list[Job]:
    static = _static_runners(workflow)
    jobs: list[Job] = []
    for job_id in workflow["jobs"]:
        ran = sorted(key for key in seen.results if key[0] == job_id)
        for key in ran:
            status = PASSED if seen.results[key] == "success" else FAILED
            note = seen.notes.get(key, "")
            if status == FAILED:
                note = _why_failed(seen.lines.get(key, [])) or note
            jobs.append(Job(name=f"{job_id} ({key[1]})" if key[1] else job_id, status=status,
                            runner=seen.runners.get(key, static.get(job_id, "")), note=note))
        if job_id == "build":
            jobs += left_out
        if not ran:
            jobs.append(Job(name=job_id, status=SKIPPED, runner=static.get(job_id, ""),
                            note="its `if:` or a job it needs did not let it run"))
    return jobs


# --- the command -------------------------------------------------------------------


def default_workflow(repo: Path, event: str) -> Path:
    name = "wheelship-dry-run.yml" if event == "schedule" else "wheelship-release.yml"
    return repo / ".github" / "workflows" / name


def rehearse(project_dir: Path, request: Request, workflow_file: Path | None, json_path: Path | None) -> int:
    from pipeline.sandbox import sandbox

    act = find_act()
    repo = project_dir.resolve()
    top = git(repo, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != repo:
        raise UsageError(f"{project_dir} is not the top folder of a git repository",
                         hint="the workflow checks out the repository; pass its top folder")
    if request.event != "dispatch" and (request.index or request.dry_run):
        raise UsageError("--index and --dry-run are inputs of a manual dispatch", hint="add --event dispatch")
    workflow_file = (workflow_file or default_workflow(repo, request.event)).resolve()
    if not workflow_file.is_file():
        raise UsageError(f"no workflow at {workflow_file}", hint="write it with `wheelship init`, or pass --workflow")
    workflow = _read_workflow(workflow_file)
    if request.tag is None and request.event in ("push", "release"):
        request.tag = default_tag(repo)
        if request.tag is None:
            raise UsageError(f"{repo} has no tag to rehearse a {request.event} of", hint="pass --tag, after `git tag`")
    event_payload, ref = payload(request, repo, workflow)
    result = Result(event=request.event, workflow=str(workflow_file.relative_to(repo)
                                                     if workflow_file.is_relative_to(repo) else workflow_file), ref=ref)
    why_not = runs_on(workflow, request.event, ref)
    if why_not:
        log.info("%s: %s", result.workflow, why_not)
        result.jobs = [Job(name=j, status=SKIPPED, note=why_not) for j in workflow["jobs"]]
        return _finish(result, json_path, None)
    pins = _pins(workflow)
    used = set(pins.values())
    others = {j: r for j, r in _static_runners(workflow).items() if r not in LINUX_RUNNERS}
    if others:
        raise UsageError("the rehearsal runs Linux jobs on this machine; " + ", ".join(
            f"job {j} runs on {r}" for j, r in others.items()), hint="rehearse a workflow whose jobs run on ubuntu")
    folder = Path(tempfile.mkdtemp(prefix="wheelship-rehearse-"))
    keep = False
    try:
        with sandbox(folder / "sandbox") as box:
            actions = _prepare(folder, repo, box, used, event_payload)
            image = local_image_exists()
            result.replaced = _replacements(used, box, image)
            for line in result.replaced:
                log.info("rehearsal: %s", line)
            command = act_command(act, request, workflow_file, folder / "event.json", folder, actions, pins, box,
                                  image)
            log.info("running %s on %s under act (%s)", result.workflow, ref,
                     event_payload.get("inputs") or ACT_EVENTS[request.event])
            seen = run_act(command, repo, folder / "act.log", act_env(folder))
            result.jobs = _jobs(workflow, seen, _left_out(repo, seen, workflow))
            result.commit = seen.outputs.get("commit", "")
            result.published, result.stored = sandbox_holdings(box)
        keep = any(j.status == FAILED for j in result.jobs)
        return _finish(result, json_path, folder / "act.log" if keep else None)
    finally:
        (folder / "credentials.json").unlink(missing_ok=True)  # the sandbox's keys never outlive it
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def _prepare(folder: Path, repo: Path, box: Sandbox, used: set[str], event_payload: dict[str, Any]) -> dict[str, Path]:
    """The rehearsal folder the stand-ins read: the repository's path, the artifacts,
    the sandbox's keys (mode 0600), the event payload, and the stand-in actions."""
    from pipeline.sandbox import token_env
    from pipeline.standins import write_actions

    assert box.s3 is not None
    (folder / "source").write_text(str(repo), encoding="utf-8")
    (folder / "artifacts").mkdir()
    credentials = folder / "credentials.json"
    credentials.touch(mode=0o600)
    credentials.write_text(json.dumps({**box.s3.env(), token_env("testpypi"): box.testpypi.password,
                                       token_env("pypi"): box.pypi.password}), encoding="utf-8")
    (folder / "event.json").write_text(json.dumps(event_payload), encoding="utf-8")
    return write_actions(used, folder)


def _replacements(used: set[str], box: Sandbox, image: bool) -> list[str]:
    """What the rehearsal puts in place of GitHub's parts, said before it starts."""
    assert box.s3 is not None
    return [f"{a}: a stand-in (pipeline.standins)" for a in sorted(used)] + [
        "the install steps: wheelship is this machine's, already installed, so the hashes in "
        ".github/wheelship/requirements.txt are not checked here",
        "trusted publishing: the sandbox indexes' tokens, given by the configure-aws-credentials stand-in",
        f"the AWS role: the sandbox's S3 keys; vars.WHEELSHIP_STORE: s3://{box.s3.bucket}/runs on SeaweedFS",
        "the indexes: the sandbox's pypiservers (testpypi and pypi)",
        f"cibuildwheel's manylinux image: {LOCAL_IMAGE}" if image else
        "cibuildwheel's manylinux image: none here (make manylinux-image makes one); Linux slices fall "
        "back to the local builder",
    ]


def _finish(result: Result, json_path: Path | None, kept_log: Path | None) -> int:
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    _print(result)
    failed = [j.name for j in result.jobs if j.status == FAILED]
    if failed:
        raise RehearsalFailed(f"{len(failed)} job(s) of {result.workflow} failed: {', '.join(failed)}",
                              hint=f"act's log is kept in {kept_log}; fix what it shows before pushing the tag")
    return 0


def _print(result: Result) -> None:
    from rich.table import Table

    table = Table(title=f"rehearsal of {result.workflow} · {result.event} · {result.ref}", title_justify="left")
    for column in ("job", "status", "runner", "note"):
        table.add_column(column)
    marks = {PASSED: "✅ passed", FAILED: "❌ failed", SKIPPED: "⏭ skipped", NOT_REHEARSABLE: "🚫 not rehearsable"}
    for job in result.jobs:
        table.add_row(job.name, marks[job.status], job.runner, job.note)
    ui.console().print(table)
    for name in ("testpypi", "pypi"):
        files = [p for p in result.published if p["index"] == name]
        ui.console().print(f"sandbox index {name}: {len(files)} file(s)"
                           + "".join(f"\n  {f['filename']}  sha256 {f['sha256'][:16]}…" for f in files))
    ui.console().print(f"sandbox store: {len(result.stored)} file(s)"
                       + "".join(f"\n  {s['key']}" for s in result.stored))
