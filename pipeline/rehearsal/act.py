"""act, which runs the workflow on this host: its command line, and what its JSON log
says each job did (results, step outputs, the lines each job printed)."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets as secrets_module
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import UsageError
from pipeline.rehearsal.github import ACT_EVENTS, Rehearsal

if TYPE_CHECKING:
    from pipeline.sandbox import Sandbox

log = logging.getLogger(__name__)

#: Runner labels whose jobs run on this host: GitHub's Linux x86_64 images.
LINUX_RUNNERS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04")
LOCAL_IMAGE = "localhost/wheelship-manylinux:local"
SANDBOX_ROLE = "arn:aws:iam::000000000000:role/wheelship-rehearsal"
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


def act_command(act: str, rehearsal: Rehearsal, workflow_file: Path, folder: Path, actions: dict[str, Path],
                pins: dict[str, str], box: Sandbox, image: bool, repository: str) -> list[str]:
    """`act_base`, with the sandbox in place of GitHub's parts and the stand-in actions:
    the repository's name (`github.repository`, act's own otherwise), a GITHUB_TOKEN of
    the rehearsal's (`github.token`, which the `gh` stand-in asks for), and the
    repository's configuration for the store access rehearsed: the role's variable, or
    the endpoint's variable and the keys as secrets. Secrets come from a 0600 file in the
    rehearsal folder, never from act's command line nor its environment, which every job
    inherits."""
    from pipeline.stores.s3 import ENDPOINT_VARIABLE, KEY_ID_VARIABLE, SECRET_VARIABLE

    assert box.s3 is not None
    command = [*act_base(act, ACT_EVENTS[rehearsal.event], workflow_file, folder / "event.json", folder),
               "--env", f"WHEELSHIP_CONFIG={box.config_file}", "--env", "WHEELSHIP_REHEARSAL=1",
               "--env", f"GITHUB_REPOSITORY={repository}",
               "--var", f"WHEELSHIP_STORE={box.s3.store_url}", "--var", "AWS_REGION=us-east-1"]
    secrets = {"GITHUB_TOKEN": "ghs_rehearsal" + secrets_module.token_hex(16)}
    if rehearsal.store_access == "keys":
        secrets.update({KEY_ID_VARIABLE: box.s3.access_key, SECRET_VARIABLE: box.s3.secret_key})
        command += ["--var", f"{ENDPOINT_VARIABLE}={box.s3.endpoint}"]
    else:
        command += ["--var", f"AWS_PUBLISH_ROLE_ARN={SANDBOX_ROLE}"]
    secret_file = folder / "secrets"
    secret_file.touch(mode=0o600)
    secret_file.write_text("".join(f"{name}={value}\n" for name, value in secrets.items()), encoding="utf-8")
    command[command.index("--secret-file") + 1] = str(secret_file)
    if image:  # on GitHub, cibuildwheel pulls its image from quay.io
        command += ["--env", f"CIBW_MANYLINUX_X86_64_IMAGE={LOCAL_IMAGE}"]
    for pin, action in sorted(pins.items()):
        command += ["--local-repository", f"{action}@{pin.split('@', 1)[1]}={actions[action]}"]
    return command


def local_image_exists() -> bool:
    """The manylinux-style image `make manylinux-image` builds (infra/manylinux), in Podman."""
    from pipeline.builders.cibw import container_engine

    engine, _ = container_engine()
    return engine is not None and subprocess.run([engine, "image", "exists", LOCAL_IMAGE],
                                                 capture_output=True).returncode == 0


#: A job's run of one matrix entry: (job id, matrix label; "" for a job with no matrix).
JobKey = tuple[str, str]


@dataclass
class Seen:
    """What act's log says the jobs did."""

    results: dict[JobKey, str] = field(default_factory=dict)  # act's jobResult: success, failure, ...
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # job id -> what its steps wrote
    lines: dict[JobKey, list[str]] = field(default_factory=dict)
    runners: dict[JobKey, str] = field(default_factory=dict)


def label(matrix: dict[str, Any]) -> str:
    if not matrix:
        return ""
    return str(matrix.get("slice") or ", ".join(f"{k}={v}" for k, v in sorted(matrix.items())))


def job_name(key: JobKey) -> str:
    return f"{key[0]} ({key[1]})" if key[1] else key[0]


#: How act reports a step's write to GITHUB_OUTPUT in its log.
OUTPUT = re.compile(r"::set-output::\s*([\w-]+)=(.*)")


def run_act(command: list[str], cwd: Path, log_file: Path, env: dict[str, str]) -> Seen:
    """Run act in `env` (`pipeline.rehearsal.environment.act_env`'s), its log kept in
    `log_file`; what its jobs did."""
    seen = Seen()
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
            if isinstance(event, dict) and event.get("jobID"):
                _read(seen, event)
    return seen


def _read(seen: Seen, event: dict[str, Any]) -> None:
    job_id = str(event["jobID"])
    matrix = event.get("matrix") or {}
    key = (job_id, label(matrix))
    msg = str(event.get("msg", ""))
    seen.lines.setdefault(key, []).append(msg.rstrip())
    if (runner := matrix.get("runner")) is not None:
        seen.runners[key] = str(runner)
    if found := OUTPUT.search(msg):
        seen.outputs.setdefault(job_id, {})[found.group(1)] = found.group(2).strip()
    if "jobResult" in event:
        seen.results[key] = event["jobResult"]
        log.info("  job %-28s %s", job_name(key), "passed" if event["jobResult"] == "success" else "failed")
