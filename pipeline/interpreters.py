"""The CPython interpreters on this host: on PATH, managed by uv, and under pyenv."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

log = logging.getLogger(__name__)

PROBE = (
    "import platform, sys; print(platform.python_implementation(), platform.python_version(),"
    " int(getattr(sys, '_is_gil_enabled', lambda: True)()))"
)


@dataclass(frozen=True, order=True)
class Interpreter:
    """A CPython that can build and test wheels, and where it was found."""

    version: tuple[int, int]
    full_version: str
    path: Path
    found_in: str

    @property
    def tag(self) -> str:
        """Its cibuildwheel and wheel tag, such as ``cp312``."""
        return f"cp{self.version[0]}{self.version[1]}"


def _candidates() -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = [(Path(sys.executable), "this Python")]
    # pyenv shims answer "command not found" for versions not selected, and asking each
    # costs uv most of a second: the versions they stand for are read from pyenv's folder
    path_folders = [f for f in os.environ.get("PATH", "").split(os.pathsep) if f and "shims" not in Path(f).parts]
    for folder in path_folders:
        for path in Path(folder).glob("python3.*"):
            if re.fullmatch(r"python3\.\d+", path.name):
                found.append((path, "PATH"))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for path in sorted(pyenv.glob("3.*/bin/python3.*")):
        if re.fullmatch(r"python3\.\d+", path.name):
            found.append((path, "pyenv"))
    uv = _uv()
    if uv:
        try:
            out = subprocess.run(
                [uv, "python", "list", "--only-installed", "--output-format", "json"],
                capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=20, check=True,
                env={**os.environ, "PATH": os.pathsep.join(path_folders)},
            ).stdout
            found += [(Path(p["path"]), "uv") for p in json.loads(out) if p.get("path")]
        except (OSError, subprocess.SubprocessError, ValueError):
            log.debug("uv could not list its interpreters")
    return found


def _probe(path: Path, found_in: str) -> Interpreter | None:
    try:
        out = subprocess.run([str(path), "-c", PROBE], capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 3 or parts[0] != "CPython" or parts[2] != "1":
        return None
    version = Version(parts[1])
    return Interpreter((version.major, version.minor), parts[1], path, found_in)


@functools.cache
def find_interpreters() -> tuple[Interpreter, ...]:
    """One interpreter per CPython minor version on this host, oldest first."""
    candidates = list(dict.fromkeys(_candidates()))
    with ThreadPoolExecutor(8) as pool:
        probed = [i for i in pool.map(lambda c: _probe(*c), candidates) if i is not None]
    best: dict[tuple[int, int], Interpreter] = {}
    for interpreter in probed:
        best.setdefault(interpreter.version, interpreter)
    return tuple(sorted(best.values()))


def supported(requires_python: str | None) -> list[Interpreter]:
    """The interpreters on this host that a project's Requires-Python admits."""
    spec = SpecifierSet(requires_python or "")
    return [i for i in find_interpreters() if spec.contains(i.full_version, prereleases=True)]


def by_tag(tag: str) -> Interpreter | None:
    return next((i for i in find_interpreters() if i.tag == tag), None)


def venv_scripts(home: Path) -> Path:
    """The folder of a virtual environment's programs: ``Scripts`` on Windows, ``bin`` elsewhere."""
    return home / ("Scripts" if sys.platform == "win32" else "bin")


def venv_python(home: Path) -> Path:
    """A virtual environment's interpreter, on every OS."""
    return venv_scripts(home) / ("python.exe" if sys.platform == "win32" else "python")


@functools.cache
def _uv() -> str | None:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def uv_binary() -> str | None:
    """The uv binary wheelship uses for environments, or None (then venv + pip)."""
    if os.environ.get("WHEELSHIP_NO_UV"):
        return None
    return _uv()
