"""verify: a whole run from the store, before anything is uploaded.

Completeness against the plan, integrity of every file, metadata, and a
test-install of every wheel this host can run. A wheel it cannot run must carry a
passing test record from its own platform. The result is stored as verify.json.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline import cibwconfig, testinstall, ui
from pipeline.checks import Findings
from pipeline.checks.completeness import check_completeness
from pipeline.checks.files import check_files
from pipeline.context import Context, Stage
from pipeline.errors import VerificationFailed
from pipeline.interpreters import Interpreter
from pipeline.records import Artifact, FileVerification, Plan, TestResult, VerifyRecord
from pipeline.runs import RunState, now
from pipeline.spec import Spec
from pipeline.ui import host_description

log = logging.getLogger(__name__)


def _test_all(plan: Plan, wheels: list[Artifact], files: dict[str, Path], findings: Findings,
               project_dir: Path | None, spec: Spec) -> dict[str, TestResult]:
    results: dict[str, TestResult] = {}
    runnable = []
    for wheel in wheels:
        interp = testinstall.interpreter_for(wheel.name, plan.requires_python)
        if interp is not None:
            runnable.append((wheel, interp))
        elif wheel.test is not None and wheel.test.status == "passed":
            results[wheel.name] = wheel.test
            log.info("%s cannot run here; tested on %s", wheel.name, wheel.test.host)
        elif wheel.test is not None and wheel.test.status == "untested":
            findings.add("WS306", wheel.name, f"this host cannot run it, and {wheel.test.how} did not test it: "
                         f"{wheel.test.detail}")
        else:
            findings.add("WS306", wheel.name, "this host cannot run it and no record says it was tested "
                         "on its own platform")

    def one(item: tuple[Artifact, Interpreter]) -> testinstall.Outcome:
        wheel, interp = item
        return testinstall.test_install(files[wheel.name], interp, project=plan.project, version=plan.version,
                                        import_names=spec.import_names, tests=project_tests(spec, project_dir, wheel),
                                        project_dir=project_dir)

    workers = max(1, min(len(runnable), os.cpu_count() or 1))
    with ui.progress("test-installing", len(runnable)) as advance, ThreadPoolExecutor(workers) as pool:
        for (wheel, _), outcome in zip(runnable, pool.map(one, runnable), strict=True):
            results[wheel.name] = outcome.test
            for code, message in outcome.problems:
                findings.add(code, wheel.name, message)
            advance(f"{wheel.name}: {outcome.test.status}")
    return results


def project_tests(spec: Spec, project_dir: Path | None, wheel: Artifact) -> testinstall.ProjectTests | None:
    """The tests a test-install runs after the imports: the buildspec's test command,
    else the project's cibuildwheel test settings for this wheel's identifier (read by
    cibuildwheel's own options machinery), unless cibuildwheel ran them on the wheel's
    own runner already."""
    if spec.test_command:
        return testinstall.ProjectTests(command=spec.test_command, owner="the buildspec's test-command")
    ran = wheel.test is not None and wheel.test.status == "passed" and wheel.test.how.startswith("cibuildwheel test")
    if project_dir is None or ran:
        return None
    platform = "macos" if "macosx" in wheel.identifier else "windows" if "-win" in wheel.identifier else "linux"
    opts = cibwconfig.options(project_dir, platform)
    build = opts.build_options(wheel.identifier)
    if not build.test_command:
        return None
    owner = "the project's cibuildwheel test-command"
    if not opts.globals.test_selector(wheel.identifier):
        return testinstall.ProjectTests(command=build.test_command, owner=owner, not_run=(
            f"cibuildwheel's test-skip ({opts.globals.test_selector.skip_config}) matches {wheel.identifier}"))
    return testinstall.ProjectTests(command=build.test_command, owner=owner, requires=tuple(build.test_requires),
                                    extras=build.test_extras.strip("[]"), sources=tuple(build.test_sources),
                                    groups=tuple(build.test_groups))


def verified_already(state: RunState) -> bool:
    v = state.verify
    if v is None or not v.ok:
        return False
    return {name: f.sha256 for name, f in v.files.items()} == {a.name: a.sha256 for a in state.artifacts}


class Verify(Stage):
    name = "verify"

    def __init__(self, *, force: bool = False) -> None:
        self.force = force

    def skip(self, ctx: Context) -> str | None:
        state = ctx.need_state()
        if not self.force and verified_already(state):
            assert state.verify is not None
            return f"run {state.run_id} was verified at {state.verify.finished} on {state.verify.host}"
        return None

    def run(self, ctx: Context) -> None:
        plan, state = ctx.need_plan(), ctx.need_state()
        if state.missing_slices:
            raise VerificationFailed(
                f"run {state.run_id} is incomplete: slice(s) {', '.join(state.missing_slices)} never reported",
                hint="re-run the failed build jobs; nothing was published",
            )
        if ctx.options.require_verified:
            raise VerificationFailed(
                f"run {state.run_id} has no passing verification of these files, and publish does not verify: "
                "verifying test-installs the stored wheels, which runs their code where the publishing "
                "credentials can be read",
                hint=f"run `wheelship verify {plan.project} {plan.version} --run-id {state.run_id}` first, in a "
                     "shell without tokens (the workflow's verify job does), or pass --verify to verify here; "
                     "nothing was published",
            )
        ctx.files = ctx.runs.fetch(state, ctx.workdir / "verify")
        findings = Findings(plan.checks)
        artifacts = state.artifacts
        check_completeness(plan, artifacts, findings)
        # Wheels here were built from this sdist; parity is worth its build only for a pure wheel.
        check_files([ctx.files[a.name] for a in artifacts], findings, plan=plan, import_names=ctx.spec.import_names,
                    native=plan.native, parity=not plan.native, limits=ctx.spec.limits,
                    # what each wheel's build record says it was built from: proof of WS502
                    # only where it is the SHA-256 of the very sdist checked (pipeline.checks.sdist)
                    built_from={a.name: a.built_from for a in artifacts if a.built_from})
        project_dir = ctx.options.project_dir.resolve() if ctx.options.project_dir else None
        if plan.test_command and plan.test_command != ctx.spec.test_command:
            log.warning("the plan names the test command `%s`, which the buildspec in force does not: it is not "
                        "run (a stored record never becomes code); pass --project to verify with the project's "
                        "buildspec", plan.test_command)
        tests = _test_all(plan, [a for a in artifacts if a.kind == "wheel"], ctx.files, findings, project_dir,
                          ctx.spec)
        ctx.verification = report = _record(plan, artifacts, tests, findings)
        ctx.runs.write_result(plan.run_id, report)
        for finding in findings.warnings:
            log.warning("%s", finding.line())
        if findings.errors:
            raise VerificationFailed(
                f"run {plan.run_id} failed {len(findings.errors)} check(s):\n  "
                + "\n  ".join(f.line() for f in findings.errors),
                hint="fix the project and tag again; nothing was published",
            )
        log.info("run %s verified: %d files, %d tested here", plan.run_id, len(artifacts),
                 sum(1 for t in tests.values() if t.host == host_description()))


def _record(plan: Plan, artifacts: list[Artifact], tests: dict[str, TestResult], findings: Findings) -> VerifyRecord:
    files = {a.name: FileVerification(identifier=a.identifier, sha256=a.sha256, size=a.size, test=tests.get(a.name),
                                      findings=tuple(findings.for_file(a.name)))
             for a in artifacts}
    return VerifyRecord(
        ok=not findings.errors, host=host_description(), finished=now(), run_id=plan.run_id, files=files,
        findings=tuple(findings.items),
    )
