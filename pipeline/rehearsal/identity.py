"""What GitHub gives only the jobs with ``permissions: id-token: write``: an OIDC identity.

On GitHub a job gets the OIDC request variables (and so trusted publishing, an AWS role
and a Sigstore signature) only when its permissions grant ``id-token: write``. act gives
no job an identity, and whatever is in act's environment reaches every job. So the
rehearsal runs a copy of the workflow in which each such job starts with one more step,
the id-token stand-in (`pipeline.standins.id_token`), which gives that job alone the
sandbox's signing identity, its Sigstore's trust configuration and the sandbox indexes'
tokens. The copy keeps the workflow's file name, which the identity names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.rehearsal.act import Seen, job_name

#: What the stand-in prints as it gives a job the identity (pipeline.standins.main).
GIVEN = "rehearsal stand-in: id-token: write"


def id_token_jobs(workflow: dict[str, Any]) -> list[str]:
    """The jobs whose permissions grant id-token: write: their own, else the workflow's."""
    top = workflow.get("permissions")
    return [job_id for job_id, job in workflow["jobs"].items()
            if _grants(job.get("permissions", top) if isinstance(job, dict) else None)]


def _grants(permissions: object) -> bool:
    if permissions == "write-all":
        return True
    return isinstance(permissions, dict) and permissions.get("id-token") == "write"


def write_copy(workflow_file: Path, jobs: list[str], folder: Path, action: str) -> Path:
    """The workflow with `action` (the id-token stand-in, ``owner/name@ref``) as the first
    step of each of `jobs`, in `folder` under the workflow's own file name."""
    import yaml

    data = yaml.safe_load(workflow_file.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as true; act reads YAML 1.2
        data = {("on" if key is True else key): value for key, value in data.items()}
    for job_id in jobs:
        job = data["jobs"][job_id]
        job["steps"] = [{"name": "the job's OIDC identity (rehearsal stand-in)", "uses": action},
                        *(job.get("steps") or [])]
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / workflow_file.name
    copy.write_text(yaml.safe_dump(data, sort_keys=False, width=1 << 16, allow_unicode=True), encoding="utf-8")
    return copy


def given_to(seen: Seen) -> list[str]:
    """Every job run whose log shows the stand-in gave it the identity."""
    return sorted(job_name(key) for key, lines in seen.lines.items() if any(GIVEN in line for line in lines))

