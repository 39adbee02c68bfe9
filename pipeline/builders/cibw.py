"""The cibuildwheel builder: a slice built and tested on its own runner.

Wheels are built from the sdist, only the slice's planned identifiers
(``CIBW_BUILD``), always with a test command: the buildspec's, else the project's
own ``[tool.cibuildwheel] test-command``, else an import smoke test.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tomllib

from pipeline import interpreters
from pipeline.builders import BuildJob, Built, tail
from pipeline.errors import BuildFailed
from pipeline.planning import host_slice
from pipeline.records import Slice, TestResult, identifier_of
from pipeline.ui import host_description


@functools.cache
def container_engine() -> str | None:
    """Docker or Podman, if one answers; cibuildwheel needs one for Linux wheels."""
    for engine in ("docker", "podman"):
        if shutil.which(engine):
            try:
                ok = subprocess.run([engine, "info"], capture_output=True, timeout=20).returncode == 0
            except (OSError, subprocess.SubprocessError):
                ok = False
            if ok:
                return engine
    return None


class CibuildwheelBuilder:
    name = "cibuildwheel"

    def cannot_build(self, slice: Slice) -> str | None:
        if slice.name != host_slice():
            return f"{slice.platform} {slice.arch} wheels are built on a {slice.runner} runner"
        if slice.platform == "linux" and container_engine() is None:
            return "no container engine (Docker or Podman) answers on this host"
        return None

    def build(self, job: BuildJob) -> list[Built]:
        if job.sdist is None:
            raise BuildFailed(f"slice {job.slice.name} needs the sdist to build wheels from")
        env = {
            **os.environ,
            "CIBW_BUILD": " ".join(job.slice.identifiers),
            "CIBW_BUILD_FRONTEND": "build[uv]" if interpreters.uv_binary() else "build",
        }
        if job.test_command or not _project_has_test_command(job):
            test = job.test_command or job.smoke_test
            env["CIBW_TEST_COMMAND"] = test
        else:
            test = "the project's [tool.cibuildwheel] test-command"
        if job.source_date_epoch:
            env["SOURCE_DATE_EPOCH"] = job.source_date_epoch
        log_file = job.logdir / f"cibuildwheel-{job.slice.name}.log"
        command = [
            sys.executable, "-m", "cibuildwheel", "--platform", job.slice.platform,
            "--archs", job.slice.arch, "--output-dir", str(job.outdir), str(job.sdist),
        ]
        with log_file.open("w") as out:
            result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        if result.returncode != 0:
            raise BuildFailed(
                f"cibuildwheel failed for slice {job.slice.name} (exit {result.returncode}); "
                f"the end of {log_file}:\n{tail(log_file)}",
                hint="the log above shows the build or test that failed",
            )
        tools = {"cibuildwheel": importlib.metadata.version("cibuildwheel"),
                 "python": platform.python_version()}
        host = host_description()
        return [
            Built(
                path=wheel,
                tools=tools,
                test=TestResult(status="passed", host=host, interpreter=identifier_of(wheel.name),
                                how=f"cibuildwheel test: {test}"),
            )
            for wheel in sorted(job.outdir.glob("*.whl"))
        ]


def _project_has_test_command(job: BuildJob) -> bool:
    pyproject = job.project_dir / "pyproject.toml"
    if not pyproject.is_file():
        return False
    with pyproject.open("rb") as fh:
        config = tomllib.load(fh).get("tool", {}).get("cibuildwheel", {})
    return bool(config.get("test-command"))
