"""This repository's workflows and what `wheelship init` writes: pinned, least-privilege, valid."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.errors import UsageError
from pipeline.stages.route import DRY_RUN_ENVIRONMENT
from pipeline.workflows import ENVIRONMENT, LOCK_FILE, LOCKED_INSTALL, render
from tests.conftest import ROOT

BIN = Path(sys.executable).parent
WORKFLOWS = ROOT / ".github" / "workflows"


def _audit(paths: list[Path]) -> None:
    zizmor = subprocess.run([str(BIN / "zizmor"), "--offline", "--no-progress", *map(str, paths)],
                            capture_output=True, text=True)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    assert "No findings to report" in zizmor.stdout + zizmor.stderr
    schema = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, paths)], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_this_repositorys_workflows_pass_zizmor_and_the_schema() -> None:
    _audit(sorted(WORKFLOWS.glob("*.yml")))


def test_wheelship_releases_itself_with_the_workflows_init_writes() -> None:
    for kind in ("release", "dry-run"):
        assert (WORKFLOWS / f"{kind}.yml").read_text() == render(kind, "python -m pip install .", project="wheelship")


def test_every_action_is_pinned_to_a_commit_and_no_event_data_reaches_run() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        for uses in re.findall(r"uses: (\S+)", text):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), f"{path.name}: {uses}"
        for run in re.findall(r"^\s*(?:- )?run: (.*)", text, flags=re.M):
            assert "${{" not in run, f"{path.name}: expression inside run: {run}"
        workflow = yaml.safe_load(text)
        for name, job in workflow["jobs"].items():
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{path.name}: {name}"
    release = (WORKFLOWS / "release.yml").read_text()
    assert "environment: ${{ needs.route.outputs.environment }}" in release


def test_init_writes_workflows_pinned_requirements_and_a_buildspec_and_refuses_to_overwrite(
        tmp_path, cli, wheelship_wheels) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "my-project"\nversion = "1.0"\n')
    result = cli("init", tmp_path, "--find-links", wheelship_wheels)
    assert result.code == 0, result.err
    written = [Path(line) for line in result.out.split()]
    assert {p.name for p in written} == {"wheelship-release.yml", "wheelship-dry-run.yml", "wheelship.toml",
                                         "requirements.txt", "store-aws.yaml"}
    # the AWS path's template is the project's own copy, and the checklist names what to set up
    assert (tmp_path / ".github/wheelship/store-aws.yaml").read_text() == (
        ROOT / "pipeline" / "templates" / "store-aws.yaml").read_text()
    for step in ("deploy .github/wheelship/store-aws.yaml", "AWS_PUBLISH_ROLE_ARN", "environments pypi, testpypi "
                 "and dry-run", "trusted publisher for my-project: this repository, workflow "
                 "wheelship-release.yml, environment pypi", "environment testpypi"):
        assert step in result.err, step
    _audit([p for p in written if p.suffix == ".yml"])
    release = written[0].read_text()
    assert LOCKED_INSTALL in release and "pip install ." not in release and "pip install 'wheelship" not in release
    assert "WHEELSHIP_PROJECT: my-project" in release  # the project is the workflow's, not a job's output
    lock = (tmp_path / LOCK_FILE).read_text()
    pins = re.findall(r"^([\w.-]+)==\S+", lock, flags=re.M)
    assert "wheelship" in pins and "boto3" in pins  # wheelship and what it needs, each pinned
    assert all(f"{name}==" in lock for name in pins) and lock.count("--hash=sha256:") >= len(pins)
    again = cli("init", tmp_path, "--find-links", wheelship_wheels)
    assert again.code == UsageError.exit_code and "refusing to overwrite" in again.err and "--force" in again.err
    assert cli("init", tmp_path, "--force", "--find-links", wheelship_wheels).code == 0
    from pipeline.spec import load_spec

    assert load_spec(tmp_path).source.endswith("wheelship.toml")  # the starter spec is valid


PROJECT_CODE_JOBS = ("plan", "sdist", "build", "verify")
GITHUB_RELEASE = 'wheelship github-release || { rc=$?; if [ "$rc" -eq 9 ]; then exit 0; fi; exit "$rc"; }'


def _workflow(kind: str, **kwargs: object) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(render(kind, "pip install .", **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["release", "dry-run"])
def test_project_code_never_runs_where_credentials_are(kind: str) -> None:
    """Plan (the backend's hooks: it builds the sdist), builds, tests and test-installs run in jobs
    with no id-token and no AWS step; the publish job holds both and runs no project code."""
    workflow = _workflow(kind)
    assert workflow["permissions"] == {}  # nothing by default
    jobs = workflow["jobs"]
    assert list(jobs) == ["route", "plan", "sdist", "build", "verify", "publish"]
    for name in PROJECT_CODE_JOBS:
        assert jobs[name]["permissions"] == {"contents": "read"}, name
        assert "environment" not in jobs[name]
        assert not any("configure-aws-credentials" in s.get("uses", "") for s in jobs[name]["steps"]), name
        assert all("AWS" not in key for s in jobs[name]["steps"] for key in s.get("env", {})), name
    publish, route = jobs["publish"], jobs["route"]
    # contents: write for the tag's GitHub Release, in this job only (which runs no project code)
    assert publish["permissions"] == {"id-token": "write", "contents": "write"}
    assert publish["environment"] == ENVIRONMENT == "${{ needs.route.outputs.environment }}"
    (checkout,) = [s for s in publish["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["sparse-checkout"] == ".github/wheelship"  # the pinned requirements, no project code
    assert checkout["with"]["sparse-checkout-cone-mode"] is False
    runs = [s["run"] for s in publish["steps"] if "run" in s]
    assert runs[0] == LOCKED_INSTALL and runs[1].startswith('echo "::error::no way to reach the store')
    assert runs[2:] == ["wheelship copy", "wheelship publish --require-verified --json wheelship-report.json",
                        GITHUB_RELEASE]
    (release,) = [s for s in publish["steps"] if s.get("run") == GITHUB_RELEASE]
    assert release["if"] == "needs.route.outputs.github-release == 'true'"
    assert release["env"]["GH_TOKEN"] == "${{ github.token }}"  # the job's own token, this step only
    assert not any("github.token" in yaml.safe_dump(s) for s in publish["steps"] if s is not release)
    # The route job runs no project code: it installs the pinned wheelship and reads the event.
    assert route["permissions"] == {"contents": "read"}
    assert [s["run"] for s in route["steps"] if "run" in s] == [
        LOCKED_INSTALL, "wheelship route ." + (" --dry-run" if kind == "dry-run" else "")]
    # What decides the upload comes from the event (the route job), never a job that ran project code.
    env = next(s["env"] for s in publish["steps"] if s.get("run", "").startswith("wheelship publish"))
    assert env["WHEELSHIP_DRY_RUN"] == "${{ needs.route.outputs.dry-run }}"
    assert env["WHEELSHIP_INDEX"] == "${{ needs.route.outputs.index }}"
    assert env["WHEELSHIP_TAG"] == "${{ needs.route.outputs.tag }}"
    assert env["WHEELSHIP_PROJECT"] == "wheelship"
    assert not any("needs.plan" in value for key, value in env.items() if key not in ("WHEELSHIP_RUN_ID",
                                                                                       "WHEELSHIP_VERSION"))
    assert jobs["build"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"


@pytest.mark.parametrize("kind", ["release", "dry-run"])
def test_the_run_moves_between_jobs_as_artifacts_and_logs_are_kept_on_failure(kind: str) -> None:
    jobs = _workflow(kind)["jobs"]

    def uploads(job: str) -> list[dict]:  # type: ignore[type-arg]
        return [s for s in jobs[job]["steps"] if "upload-artifact" in s.get("uses", "")]

    def downloads(job: str) -> list[dict]:  # type: ignore[type-arg]
        return [s["with"] for s in jobs[job]["steps"] if "download-artifact" in s.get("uses", "")]

    assert uploads("plan")[0]["with"]["name"] == "wheelship-plan"
    assert uploads("sdist")[0]["with"]["name"] == "wheelship-slice-sdist"
    assert uploads("build")[0]["with"]["name"] == "wheelship-slice-${{ matrix.slice }}"
    assert uploads("verify")[0]["with"]["name"] == "wheelship-verified"
    assert downloads("sdist") == [{"name": "wheelship-plan", "path": "${{ runner.temp }}/wheelship-store"}]
    assert downloads("build")[0]["pattern"] == "wheelship-{plan,slice-sdist}"
    assert downloads("verify")[0]["pattern"] == "wheelship-{plan,slice-*}"
    assert downloads("publish") == [{"name": "wheelship-verified", "path": "${{ runner.temp }}/wheelship-store"}]
    for job, name in (("build", "wheelship-logs-${{ matrix.slice }}"), ("publish", "wheelship-report")):
        kept = [s for s in uploads(job) if s["with"]["name"] == name]
        assert kept and kept[0]["if"] == "always()", job


@pytest.mark.parametrize("kind", ["release", "dry-run"])
def test_every_job_builds_the_tags_commit_and_one_tag_runs_once(kind: str) -> None:
    workflow = _workflow(kind)
    jobs = workflow["jobs"]
    plan_checkout = next(s for s in jobs["plan"]["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert plan_checkout["with"]["ref"] == "${{ inputs.tag && format('refs/tags/{0}', inputs.tag) || github.ref }}"
    for name in ("sdist", "build", "verify"):  # the tag itself (tag-versioned projects read it), else the commit
        checkout = next(s for s in jobs[name]["steps"] if s.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["ref"] == ("${{ inputs.tag && format('refs/tags/{0}', inputs.tag) || "
                                           "startsWith(github.ref, 'refs/tags/') && github.ref || "
                                           "needs.plan.outputs.commit }}"), name
    assert jobs["plan"]["outputs"]["commit"] == "${{ steps.plan.outputs.commit }}"
    assert workflow["concurrency"] == {"group": f"wheelship-{kind}-${{{{ inputs.tag || github.ref_name }}}}",
                                       "cancel-in-progress": False}


def test_a_published_release_triggers_only_when_asked() -> None:
    default = _workflow("release")[True]  # YAML reads the key `on` as True
    assert set(default) == {"push", "workflow_dispatch"}
    assert set(_workflow("release", on_release=True)[True]) == {"push", "release", "workflow_dispatch"}
    assert set(_workflow("dry-run")[True]) == {"schedule", "workflow_dispatch"}


def _infra() -> dict:  # type: ignore[type-arg]
    class Loader(yaml.SafeLoader):
        pass

    def tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        return loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else \
            loader.construct_mapping(node)  # type: ignore[arg-type]

    Loader.add_multi_constructor("!", tag)
    return yaml.load((ROOT / "pipeline" / "templates" / "store-aws.yaml").read_text(), Loader=Loader)


def test_the_infra_trusts_exactly_the_publish_jobs_environments_for_as_long_as_they_run() -> None:
    from pipeline.spec import load_spec

    roles = {name: r["Properties"] for name, r in _infra()["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert list(roles) == ["PublisherRole"]  # no job that runs project code has a role
    (statement,) = roles["PublisherRole"]["AssumeRolePolicyDocument"]["Statement"]
    subs = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    trusted = {sub.rsplit(":environment:", 1)[1] for sub in subs}
    assert all(":environment:" in sub for sub in subs)
    spec = load_spec(None, None)
    assert trusted == {spec.prerelease_index, spec.final_index, DRY_RUN_ENVIRONMENT}
    for kind in ("release", "dry-run"):
        publish = _workflow(kind)["jobs"]["publish"]
        aws = next(s for s in publish["steps"] if "configure-aws-credentials" in s.get("uses", ""))
        duration = aws["with"]["role-duration-seconds"]
        assert publish["timeout-minutes"] * 60 <= duration <= roles["PublisherRole"]["MaxSessionDuration"]


def test_the_test_workflow_holds_no_token() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    assert workflow["permissions"] == {}
    assert workflow["jobs"]["test"]["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("kind", ["release", "dry-run"])
def test_every_run_step_works_on_every_runner_and_every_job_has_a_timeout(kind: str) -> None:
    """Windows runners default to PowerShell: a `run:` that uses bash syntax ("$VAR",
    `||`, arrays) breaks there unless bash is the shell for the job or the workflow."""
    workflow = yaml.safe_load(render(kind, "pip install ."))
    default_shell = workflow.get("defaults", {}).get("run", {}).get("shell")
    bash_syntax = re.compile(r"\$[A-Za-z_{(]|\|\||&&|\bthen\b|\[\[|\bfi\b")
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"job {name} has no timeout-minutes"
        job_shell = job.get("defaults", {}).get("run", {}).get("shell", default_shell)
        for step in job["steps"]:
            if "run" in step and bash_syntax.search(step["run"]):
                assert step.get("shell", job_shell) == "bash", (name, step["run"])
            if step.get("shell") == "pwsh":  # reaches PowerShell: no bash syntax at all
                assert not bash_syntax.search(step["run"]) and "runner.os == 'Windows'" in step["if"], step
    # the build runs under PowerShell on Windows (MSVC's linker first on PATH), bash elsewhere
    builds = [s for s in workflow["jobs"]["build"]["steps"] if s.get("run", "").startswith("wheelship build")]
    assert [(s["if"], s.get("shell", default_shell)) for s in builds] == [
        ("runner.os != 'Windows'", "bash"), ("runner.os == 'Windows'", "pwsh")]
    assert builds[0]["env"] == builds[1]["env"]


def test_emulated_slices_get_qemu_and_others_do_not() -> None:
    from pipeline.planning import SDIST
    from pipeline.records import Plan, Slice
    from pipeline.stages.plan import github_matrix

    slices = (SDIST, Slice(name="linux-x86_64", platform="linux", arch="x86_64", runner="ubuntu-latest",
                           identifiers=("cp312-manylinux_x86_64",)),
              Slice(name="linux-s390x", platform="linux", arch="s390x", runner="ubuntu-latest",
                    identifiers=("cp312-manylinux_s390x",), qemu=True))
    plan = Plan(project="p", version="1", run_id="r", tag="v1", trigger="cli", created="now", dry_run=False,
                index="pypi", native=True, requires_python=None, import_names=(), test_command=None, checks={},
                slices=slices)
    assert [m["qemu"] for m in github_matrix(plan)["include"]] == ["", "", "s390x"]
    build = yaml.safe_load(render("release", "pip install ."))["jobs"]["build"]
    qemu = [s for s in build["steps"] if "setup-qemu-action" in s.get("uses", "")]
    assert len(qemu) == 1 and qemu[0]["if"] == "matrix.qemu != ''"
    assert qemu[0]["with"]["platforms"] == "${{ matrix.qemu }}"


def test_init_for_the_keys_path_writes_no_aws_template_and_lists_the_keys(tmp_path, cli, pinned_init) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "my-project"\nversion = "1.0"\n')
    result = cli("init", tmp_path, "--store-access", "keys")
    assert result.code == 0, result.err
    assert not (tmp_path / ".github/wheelship/store-aws.yaml").exists()
    for name in ("WHEELSHIP_STORE_ENDPOINT", "WHEELSHIP_STORE_ACCESS_KEY_ID", "WHEELSHIP_STORE_SECRET_ACCESS_KEY"):
        assert name in result.err
    assert "AWS_PUBLISH_ROLE_ARN" not in result.err
    from pipeline.workflows import init

    with pytest.raises(UsageError, match="unknown way to the store 'gcs'"):
        init(tmp_path, force=True, store_access="gcs")


STORE_SECRETS = ("secrets.WHEELSHIP_STORE_ACCESS_KEY_ID", "secrets.WHEELSHIP_STORE_SECRET_ACCESS_KEY")


@pytest.mark.parametrize("kind", ["release", "dry-run"])
def test_the_store_keys_reach_only_the_steps_that_use_the_store(kind: str) -> None:
    """Both ways to the store are in every workflow, chosen by repository configuration;
    the keys are read by the publish job's copy and publish steps and nowhere else."""
    workflow = _workflow(kind)
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            text = yaml.safe_dump(step)
            holds = [secret for secret in STORE_SECRETS if secret in text]
            if name == "publish" and step.get("run", "").startswith(("wheelship copy", "wheelship publish",
                                                                      "wheelship github-release")):
                assert holds == list(STORE_SECRETS)
                assert step["env"]["WHEELSHIP_STORE_ENDPOINT"] == "${{ vars.WHEELSHIP_STORE_ENDPOINT }}"
            else:
                assert not holds, (name, step)
    assert "secrets." not in yaml.safe_dump({k: v for k, v in workflow.items() if k != "jobs"})
    publish = workflow["jobs"]["publish"]["steps"]
    (role,) = [s for s in publish if "configure-aws-credentials" in s.get("uses", "")]
    assert role["if"] == "vars.AWS_PUBLISH_ROLE_ARN != ''"
    (neither,) = [s for s in publish if "no way to reach the store" in s.get("run", "")]
    assert neither["if"] == "vars.AWS_PUBLISH_ROLE_ARN == '' && vars.WHEELSHIP_STORE_ENDPOINT == ''"


def test_a_rerun_with_nothing_to_build_still_finishes_the_github_release() -> None:
    """The plan finds every file on the index (a rerun after a release step failed half-way):
    the publish job still runs, with only its store access and the GitHub Release step."""
    publish = _workflow("release")["jobs"]["publish"]
    assert "needs.verify.result == 'success'" in publish["if"]
    # the route job decides the environment, the tag and dry-run: never publish without it
    assert "needs.route.result == 'success' && needs.plan.result == 'success'" in publish["if"]
    assert "needs.plan.outputs.run-id == '' && needs.route.outputs.github-release == 'true'" in publish["if"]
    for step in publish["steps"]:
        if step.get("run", "").startswith(("wheelship copy", "wheelship publish")) or "download-artifact" in step.get(
                "uses", ""):
            assert step["if"] == "needs.plan.outputs.run-id != ''", step
