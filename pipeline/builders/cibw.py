"""The cibuildwheel builder: a slice built and tested on its own runner.

Wheels are built from the sdist, only the slice's planned identifiers
(``CIBW_BUILD``). The project's cibuildwheel configuration is the authority: its
test command, test-skip, frontend, images and environment stand wherever it sets
them. wheelship adds only what is unset: the container engine it found, and where
no test command is set anywhere, the buildspec's or an import smoke test. Each
wheel's record says whether cibuildwheel tested it, as cibuildwheel decides it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline import cibwconfig
from pipeline.builders.base import BuildJob, Built
from pipeline.buildlog import tail
from pipeline.cleanenv import for_builds
from pipeline.errors import BuildFailed
from pipeline.planning import NATIVE_SLICES, host_slice
from pipeline.records import BuilderName, Slice, TestResult, identifier_of
from pipeline.ui import host_description

log = logging.getLogger(__name__)

#: The build container shares the host's network, so pip in it reaches the index as the host
#: does, with no container network to set up; cibuildwheel passes these to `podman create`.
PODMAN = "podman; create_args: --network=host"


@functools.cache
def container_engine() -> tuple[str | None, str]:
    """Docker or Podman, whichever answers first, and what was found on the way."""
    seen = []
    for engine in ("docker", "podman"):
        if not shutil.which(engine):
            seen.append(f"no {engine}")
            continue
        try:
            ok = subprocess.run([engine, "info"], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return engine, "; ".join([*seen, f"{engine} answers"])
        seen.append(f"{engine} does not answer (`{engine} info` failed)")
    return None, "; ".join(seen)


def engine_setting(opts: object) -> tuple[str | None, str]:
    """The CIBW_CONTAINER_ENGINE wheelship passes (None: the project's own stands), and why."""
    if cibwconfig.set_by_project(opts, "container-engine"):
        return None, "the project's container-engine setting"
    engine, found = container_engine()
    if engine is None:
        return None, found
    return (PODMAN if engine == "podman" else engine), found


@functools.cache
def image_available(engine: str, image: str) -> str | None:
    """None when the engine has the image or can pull it; else what stopped it."""
    try:
        if subprocess.run([engine, "image", "inspect", image], capture_output=True, timeout=60).returncode == 0:
            return None
        log.info("pulling %s with %s (cibuildwheel needs it)", image, engine)
        pulled = subprocess.run([engine, "pull", image], capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{engine} could not get {image}: {exc}"
    if pulled.returncode != 0:
        last = (pulled.stderr.strip().splitlines() or ["no message"])[-1]
        return f"{engine} cannot pull {image} and has no local copy: {last}"
    return None


class CibuildwheelBuilder:
    name: BuilderName = "cibuildwheel"

    def cannot_build(self, slice: Slice, project_dir: Path) -> str | None:
        # The plan's runner assignment stands (a [runners] label is any name): what
        # counts is this host's OS and arch, never its label.
        here = host_slice()
        host = NATIVE_SLICES[here] if here else None
        if host is None or slice.platform != host.platform \
                or cibwconfig.host_arch_for(slice.platform, slice.arch) != host.arch:
            return f"{slice.platform} {slice.arch} wheels are built on a {slice.runner} runner"
        if slice.qemu and not Path(f"/proc/sys/fs/binfmt_misc/qemu-{slice.arch}").exists():
            return f"{slice.arch} wheels need QEMU, which is not registered on this host"
        if slice.platform != "linux":
            return None
        opts = cibwconfig.options(project_dir, "linux")
        engine, found = engine_setting(opts)
        name = _engine_name(engine, opts)
        if engine is None and not cibwconfig.set_by_project(opts, "container-engine"):
            return f"no container engine answers on this host ({found})"
        for identifier in slice.identifiers:
            image = cibwconfig.image_for(opts, identifier)
            problem = image and image_available(name, image)
            if problem:
                return problem
        return None

    def build(self, job: BuildJob) -> list[Built]:
        if job.sdist is None:
            raise BuildFailed(f"slice {job.slice.name} needs the sdist to build wheels from")
        # cibuildwheel runs the project's backend and tests (on macOS and Windows, on this host): no credential
        env = {**for_builds(), "CIBW_BUILD": " ".join(job.slice.identifiers)}
        env.pop("CIBW_PLATFORM", None)
        tools = {"cibuildwheel": importlib.metadata.version("cibuildwheel"), "python": platform.python_version()}
        if job.slice.platform == "linux":
            engine, why = engine_setting(cibwconfig.options(job.project_dir, "linux", env))
            if engine is not None:
                env["CIBW_CONTAINER_ENGINE"] = engine
            log.info("cibuildwheel's container engine: %s (%s)", engine or "as the project sets it", why)
        opts = cibwconfig.options(job.project_dir, job.slice.platform, env)
        if any(opts.build_options(i).test_command for i in job.slice.identifiers):
            owner = "the project's cibuildwheel test-command"
        else:
            env["CIBW_TEST_COMMAND"] = job.test_command or job.smoke_test
            owner = "the buildspec's test-command" if job.test_command else "wheelship's import smoke test"
            opts = cibwconfig.options(job.project_dir, job.slice.platform, env)
        log.info("cibuildwheel tests with %s", owner)
        if job.source_date_epoch:
            env["SOURCE_DATE_EPOCH"] = job.source_date_epoch
        plans = cibwconfig.test_plans(opts, job.slice.identifiers, platform.machine(), owner)
        outdir = job.outdir / job.slice.name
        shutil.rmtree(outdir, ignore_errors=True)
        log_file = job.logdir / f"cibuildwheel-{job.slice.name}.log"
        command = [
            sys.executable, "-m", "cibuildwheel", "--platform", job.slice.platform,
            "--archs", job.slice.arch, "--output-dir", str(outdir), str(job.sdist),
        ]
        returncode = _run_streamed(command, env, log_file)
        if returncode != 0:
            raise BuildFailed(
                f"cibuildwheel failed for slice {job.slice.name} (exit {returncode}); "
                f"the end of {log_file}:\n{tail(log_file)}",
                hint=f"the log above shows the build or test that failed; the whole of it is in {log_file}",
            )
        host = host_description()
        engine_name = _engine_name(env.get("CIBW_CONTAINER_ENGINE"), opts)
        built = []
        for wheel in sorted(outdir.glob("*.whl")):
            identifier = identifier_of(wheel.name)
            plan = plans.get(identifier, cibwconfig.TestPlan(None, f"{identifier} was not planned"))
            image = cibwconfig.image_for(opts, identifier)
            if plan.command is None:
                test = TestResult(status="untested", host=host, interpreter=identifier, how="cibuildwheel",
                                  detail=plan.reason)
            else:
                test = TestResult(status="passed", host=host, interpreter=identifier,
                                  how=f"cibuildwheel test ({plan.reason}): {plan.command}")
            # cibuildwheel, given the sdist's path, unpacks it and builds every wheel from it
            built.append(Built(path=wheel, identifier=identifier, test=test, built_from=job.sdist,
                               tools={**tools, **({"image": image, "container-engine": engine_name}
                                                  if image else {})}))
        return built


def _run_streamed(command: list[str], env: dict[str, str], log_file: Path) -> int:
    """Run cibuildwheel with its output in the log file and, on GitHub Actions, also in the
    job's log (the runner and its files are thrown away); there cibuildwheel puts each of
    its steps in a collapsible group of its own."""
    with log_file.open("wb") as out:
        if os.environ.get("GITHUB_ACTIONS") != "true":
            return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:  # bytes, kept as they are; shown as UTF-8 whatever the runner's code page
                out.write(raw)
                sys.stderr.write(raw.decode("utf-8", errors="replace"))
        sys.stderr.flush()
        return proc.returncode


def _engine_name(configured: str | None, opts: object) -> str:
    """The engine's name from a CIBW_CONTAINER_ENGINE value, else from the project's options."""
    value = configured or str(opts.build_options(None).container_engine.name)  # type: ignore[attr-defined]
    return value.split(";")[0].strip()
