"""`wheelship rehearse`: check what was asked, start the sandbox, run the workflow under
act with the stand-ins, and read what came of it."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import UsageError
from pipeline.git import git
from pipeline.outputs import PLAN
from pipeline.rehearsal import act, github, identity, outcome
from pipeline.rehearsal.environment import act_env
from pipeline.rehearsal.outcome import FAILED, SKIPPED, Job, Result

if TYPE_CHECKING:
    from pipeline.sandbox import Sandbox

log = logging.getLogger(__name__)


def rehearse(project_dir: Path, rehearsal: github.Rehearsal, workflow_file: Path | None,
             json_path: Path | None) -> int:
    """Rehearse `rehearsal` in the repository at `project_dir`; 0, else `RehearsalFailed`
    (a job failed) or `UsageError` (what was asked cannot be rehearsed)."""
    act_binary = act.find_act()
    repo, rehearsal, workflow_file = _checked(project_dir, rehearsal, workflow_file)
    workflow = github.read_workflow(workflow_file)
    event_payload, ref = github.payload(rehearsal, repo, workflow)
    result = Result(event=rehearsal.event, workflow=str(workflow_file.relative_to(repo)
                                                       if workflow_file.is_relative_to(repo) else workflow_file),
                    ref=ref)
    why_not = github.runs_on(workflow, rehearsal.event, ref)
    if why_not:
        log.info("%s: %s", result.workflow, why_not)
        result.jobs = [Job(name=j, status=SKIPPED, note=why_not) for j in workflow["jobs"]]
        return outcome.finish(result, json_path, None)
    pins = github.pins(workflow)
    others = {j: r for j, r in github.static_runners(workflow).items() if r not in act.LINUX_RUNNERS}
    if others:
        raise UsageError("the rehearsal runs Linux jobs on this machine; " + ", ".join(
            f"job {j} runs on {r}" for j, r in others.items()), hint="rehearse a workflow whose jobs run on ubuntu")
    folder = Path(tempfile.mkdtemp(prefix="wheelship-rehearse-"))
    keep = False
    try:
        _run(act_binary, rehearsal, repo, workflow_file, workflow, folder, pins, event_payload, result)
        keep = any(j.status == FAILED for j in result.jobs)
        return outcome.finish(result, json_path, folder / "act.log" if keep else None)
    finally:
        for kept in ("credentials.json", "identity.json", "secrets"):  # the sandbox's keys never outlive it
            (folder / kept).unlink(missing_ok=True)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def _checked(project_dir: Path, rehearsal: github.Rehearsal,
             workflow_file: Path | None) -> tuple[Path, github.Rehearsal, Path]:
    """The repository's top folder, the rehearsal with its tag, and the workflow file;
    each a `UsageError` when it cannot be rehearsed."""
    repo = project_dir.resolve()
    top = git(repo, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != repo:
        raise UsageError(f"{project_dir} is not the top folder of a git repository",
                         hint="the workflow checks out the repository; pass its top folder")
    if rehearsal.event != "dispatch" and (rehearsal.index or rehearsal.dry_run):
        raise UsageError("--index and --dry-run are inputs of a manual dispatch", hint="add --event dispatch")
    workflow_file = (workflow_file or github.default_workflow(repo, rehearsal.event)).resolve()
    if not workflow_file.is_file():
        raise UsageError(f"no workflow at {workflow_file}", hint="write it with `wheelship init`, or pass --workflow")
    if rehearsal.tag is None and rehearsal.event in ("push", "release"):
        rehearsal = replace(rehearsal, tag=github.default_tag(repo))
        if rehearsal.tag is None:
            raise UsageError(f"{repo} has no tag to rehearse a {rehearsal.event} of", hint="pass --tag, after `git tag`")
    return repo, rehearsal, workflow_file


def _run(act_binary: str, rehearsal: github.Rehearsal, repo: Path, workflow_file: Path, workflow: dict[str, Any],
         folder: Path, pins: dict[str, str], event_payload: dict[str, Any], result: Result) -> None:
    """The workflow under act against a sandbox of its own; its jobs and holdings into `result`."""
    from pipeline.sandbox import sandbox
    from pipeline.standins import OIDC_ACTION

    used = set(pins.values())
    with_identity = identity.id_token_jobs(workflow)
    if with_identity:  # the stand-in for each such job's identity, put in a copy of the workflow act runs
        pins = {**pins, f"{OIDC_ACTION}@rehearsal": OIDC_ACTION}
        workflow_file = identity.write_copy(workflow_file, with_identity, folder / "workflow", f"{OIDC_ACTION}@rehearsal")
    result.store_access = rehearsal.store_access
    result.identity = {"repository": event_payload["repository"]["full_name"], "workflow": Path(result.workflow).name,
                       "ref": result.ref, "jobs": []}
    with sandbox(folder / "sandbox") as box:
        actions = _prepare(folder, repo, box, set(pins.values()), event_payload, result.identity)
        image = act.local_image_exists()
        result.replaced = _replacements(used, box, image, rehearsal.store_access, with_identity)
        for line in result.replaced:
            log.info("rehearsal: %s", line)
        command = act.act_command(act_binary, rehearsal, workflow_file, folder, actions, pins, box, image,
                                  result.identity["repository"])
        log.info("running %s on %s under act (%s)", result.workflow, result.ref,
                 event_payload.get("inputs") or github.ACT_EVENTS[rehearsal.event])
        env = act_env(folder)
        env["PATH"] = os.pathsep.join([str(folder / "bin"), env.get("PATH", "")])  # the `gh` stand-in, as runners have gh
        seen = act.run_act(command, repo, folder / "act.log", env)
        result.identity["jobs"] = identity.given_to(seen)
        result.github_release = outcome.github_release(_releases(box), result.identity["repository"], rehearsal.tag)
        planned = outcome.plan_outputs(seen)
        result.jobs = outcome.jobs(workflow, seen, outcome.left_out(planned, github.build_command(workflow)),
                                   outcome.builders(folder / "artifacts", planned))
        result.commit = PLAN.read(planned, "commit")
        result.published, result.stored = _holdings(box, planned)


def _holdings(box: Sandbox, planned: dict[str, str]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """What the sandbox's indexes list, and what its store keeps of the run's version."""
    assert box.s3 is not None
    published = [{"filename": filename, "sha256": sha256, "index": name}
                 for name in ("testpypi", "pypi") for filename, sha256 in box.listed(name).items()]
    project, version = PLAN.read(planned, "project"), PLAN.read(planned, "version")
    kept = box.s3.stored(project, version) if project and version else {}
    return published, [{"filename": key.rsplit("/", 1)[-1], "sha256": sha256, "key": key}
                       for key, sha256 in kept.items()]


def _prepare(folder: Path, repo: Path, box: Sandbox, used: set[str], event_payload: dict[str, Any],
             signer: dict[str, Any]) -> dict[str, Path]:
    """The rehearsal folder the stand-ins read: the repository's path, the artifacts,
    the sandbox's S3 keys (the AWS role's stand-in) and what the id-token stand-in gives
    (whom the identity names, the local Sigstore's trust configuration, the indexes'
    tokens), each mode 0600; the event payload, and the stand-in actions."""
    from pipeline.ghstandin import write_shim
    from pipeline.sandbox import token_env
    from pipeline.standins import write_actions

    assert box.s3 is not None and box.sigstore is not None
    (folder / "source").write_text(str(repo), encoding="utf-8")
    (folder / "artifacts").mkdir()
    for name, values in (("credentials.json", box.s3.env()),
                         ("identity.json", {**{k: signer[k] for k in ("repository", "workflow", "ref")},
                                            "trust_config": str(box.sigstore.trust_config_file),
                                            "index_tokens": {token_env("testpypi"): box.testpypi.password,
                                                             token_env("pypi"): box.pypi.password}})):
        (folder / name).touch(mode=0o600)
        (folder / name).write_text(json.dumps(values), encoding="utf-8")
    (folder / "event.json").write_text(json.dumps(event_payload), encoding="utf-8")
    write_shim(folder / "bin", _releases(box))
    return write_actions(used, folder)


def _releases(box: Sandbox) -> Path:
    """Where the `gh` stand-in keeps GitHub's releases: with the sandbox, which stands in
    for the rest of the world the workflow writes to."""
    return box.root / "github-releases"


def _replacements(used: set[str], box: Sandbox, image: bool, store_access: str, with_identity: list[str]) -> list[str]:
    """What the rehearsal puts in place of GitHub's parts, said before it starts."""
    assert box.s3 is not None
    store = (f"the store, by endpoint and keys: vars.WHEELSHIP_STORE_ENDPOINT {box.s3.endpoint} (SeaweedFS) and "
             "its keys as the secrets WHEELSHIP_STORE_ACCESS_KEY_ID and WHEELSHIP_STORE_SECRET_ACCESS_KEY"
             if store_access == "keys" else
             "the store, by the AWS role (vars.AWS_PUBLISH_ROLE_ARN): the sandbox's S3 keys, given by the "
             "configure-aws-credentials stand-in")
    return [f"{a}: a stand-in (pipeline.standins)" for a in sorted(used)] + [
        "the install steps: wheelship is this machine's, already installed, so the hashes in "
        ".github/wheelship/requirements.txt are not checked here",
        "the OIDC identity of the jobs with id-token: write (" + (", ".join(with_identity) or "none") + "), "
        "and theirs only: a token the sandbox's Sigstore accepts; trusted publishing: the sandbox indexes' tokens",
        f"{store}; vars.WHEELSHIP_STORE: {box.s3.store_url}",
        "the indexes: the sandbox's pypiservers (testpypi and pypi)",
        "GitHub Releases: the `gh` stand-in (pipeline.ghstandin) on every job's PATH, keeping them with the sandbox",
        f"cibuildwheel's manylinux image: {act.LOCAL_IMAGE}" if image else
        "cibuildwheel's manylinux image: none here (make manylinux-image makes one); Linux slices fall "
        "back to the local builder",
    ]
