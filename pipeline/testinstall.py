"""Test-installs: a wheel in a fresh, isolated environment, imported and tested.

uv makes the environment where present (milliseconds), venv + pip otherwise. The
installed version and any module ``__version__`` are compared with the release's;
then the project's test command runs from an empty folder, so it tests the
installed wheel and not a source tree.
"""

from __future__ import annotations

import email.parser
import functools
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.tags import platform_tags
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from pipeline import importnames, interpreters
from pipeline.cleanenv import without_credentials
from pipeline.interpreters import Interpreter
from pipeline.records import TestResult, TestStatus
from pipeline.ui import host_description

log = logging.getLogger(__name__)

PROBE = r"""
import importlib, json, sys
try:
    from importlib.metadata import version
except ImportError:  # Python 3.7: read the installed METADATA
    def version(dist):
        import glob, os, re
        want = re.sub(r"[-_.]+", "_", dist).lower()
        for base in sys.path:
            for info in glob.glob(os.path.join(base or ".", "*.dist-info")):
                if re.sub(r"[-_.]+", "_", os.path.basename(info)[:-10].rsplit("-", 1)[0]).lower() == want:
                    with open(os.path.join(info, "METADATA"), encoding="utf-8") as fh:
                        for line in fh:
                            if line.startswith("Version:"):
                                return line.split(":", 1)[1].strip()
        raise LookupError(dist)
names, dist = json.loads(sys.argv[1]), sys.argv[2]
out = {"installed": version(dist), "imports": {}}
for name in names:
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        out["imports"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    else:
        version = getattr(module, "__version__", None)
        out["imports"][name] = {"version": version if isinstance(version, str) else None}
print(json.dumps(out))
"""


@dataclass
class Outcome:
    """A test-install's result, and problems found, as (check code, message)."""

    test: TestResult
    problems: list[tuple[str, str]] = field(default_factory=list)


def import_names_of(wheel: Path) -> tuple[str, ...]:
    """What a wheel puts on the import path (pipeline.importnames): its PEP 794
    Import-Name metadata, else its top-level modules and packages, a namespace's
    packages inside it, read from the wheel's own files as they install."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next((n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
        if metadata is not None and archive.getinfo(metadata).file_size < (16 << 20):
            declared = email.parser.BytesParser().parsebytes(archive.read(metadata)).get_all("Import-Name") or []
            if any(n.split(";")[0].strip() for n in declared):
                return tuple(n.split(";")[0].strip() for n in declared if n.split(";")[0].strip())
        installed = {path: name for name in names if not name.endswith("/")
                     for path in [_installed_path(name)] if path is not None}

        def read(path: str) -> str:
            info = archive.getinfo(installed[path])
            return archive.read(info).decode("utf-8", "replace") if info.file_size < (1 << 20) else ""

        return importnames.import_names(list(installed), read)


def _installed_path(name: str) -> str | None:
    """Where a wheel's entry lands, relative to site-packages (purelib and platlib
    folded in), or None for metadata, scripts, headers and data."""
    first, _, rest = name.partition("/")
    if first.endswith(".dist-info"):
        return None
    if first.endswith(".data"):
        kind, _, inner = rest.partition("/")
        return inner if kind in ("purelib", "platlib") and inner else None
    return name


_early: threading.Thread | None = None


def find_interpreters_early() -> None:
    """Start looking up this host's interpreters in the background (it probes every
    Python it finds, a second or more where pyenv's shims are on PATH), so that a
    release's test-installs find them ready after its build; `interpreter_for` waits
    for a lookup in flight rather than starting a second one."""
    global _early
    if _early is None:
        _early = threading.Thread(target=interpreters.find_interpreters, name="find-interpreters", daemon=True)
        _early.start()


def _interpreters() -> tuple[Interpreter, ...]:
    if _early is not None:
        _early.join()
    return interpreters.find_interpreters()


@functools.cache
def _host_platforms() -> frozenset[str]:
    return frozenset(platform_tags()) | {"any"}


def interpreter_for(wheel_name: str, requires_python: str | None) -> Interpreter | None:
    """A local interpreter that can install and run this wheel, or None."""
    _, _, _, tags = parse_wheel_filename(wheel_name)
    admitted = SpecifierSet(requires_python or "")
    for interp in reversed(_interpreters()):  # newest first: what most users run
        if not admitted.contains(interp.full_version, prereleases=True):
            continue
        for tag in tags:
            if tag.platform not in _host_platforms():
                continue
            if tag.interpreter == interp.tag and tag.abi in (interp.tag, "abi3", "none"):
                return interp
            if tag.abi == "abi3" and tag.interpreter.startswith("cp") and int(tag.interpreter[3:] or 0) <= interp.version[1]:
                return interp
            if tag.abi == "none" and tag.interpreter in ("py3", f"py{interp.version[0]}{interp.version[1]}"):
                return interp
    return None


def _run(command: list[str], *, cwd: Path | str | None = None, env: dict[str, str] | None = None,
         timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run a step of a test-install: the wheel's code, its requirements' and the test
    command's, never with a credential in reach (pipeline.cleanenv)."""
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace", cwd=cwd,
                          env=without_credentials() if env is None else env, timeout=timeout)


@dataclass(frozen=True, kw_only=True)
class ProjectTests:
    """The project's own tests for one wheel, run after its imports as cibuildwheel
    runs them: the wheel with `extras`, then `requires` and the dependency `groups`,
    `sources` copied from the project into the empty folder the command runs in."""

    __test__ = False  # not a pytest class

    command: str
    owner: str  # whose command it is, said in the record
    requires: tuple[str, ...] = ()
    extras: str = ""
    sources: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    not_run: str = ""  # why it cannot run here: recorded "not-run", never "passed"


def _make_env(interp: Interpreter, home: Path, wheel: Path, extra: list[str] | None = None) -> str | None:
    """Create the environment and install the wheel (and `extra` requirements); an
    error text, or None."""
    python = str(interpreters.venv_python(home))
    uv = interpreters.uv_binary()
    install = [uv, "pip", "install", "-q", "--python", python] if uv else \
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    steps = [[uv, "venv", "-q", "--python", str(interp.path), str(home)] if uv else
             [str(interp.path), "-m", "venv", str(home)], [*install, str(wheel)]]
    if extra:
        steps.append([*install, *extra])
    for step in steps:
        result = _run(step)
        if result.returncode != 0:
            return (result.stderr or result.stdout).strip()[-1500:]
    return None


def test_install(wheel: Path, interp: Interpreter, *, project: str, version: str,
                 import_names: tuple[str, ...], tests: ProjectTests | None,
                 project_dir: Path | None = None) -> Outcome:
    """Install `wheel` in a fresh environment for `interp`, import it, run the tests."""
    names = import_names or import_names_of(wheel)
    how = f"{'uv' if interpreters.uv_binary() else 'venv + pip'} install; import {', '.join(names) or '(nothing)'}"
    if tests:
        how += f"; {tests.owner}: {tests.command}"
    host = host_description()

    def result(status: TestStatus, detail: str = "") -> TestResult:
        return TestResult(status=status, host=host, interpreter=f"CPython {interp.full_version}", how=how,
                          detail=detail)

    with tempfile.TemporaryDirectory(prefix="wheelship-test-") as tmp:
        home, cwd = Path(tmp) / "env", Path(tmp) / "cwd"
        cwd.mkdir()
        runs = tests is not None and not tests.not_run
        extras = tests.extras if tests is not None and runs else ""
        error = _make_env(interp, home, Path(f"{wheel}[{extras}]") if extras else wheel,
                          _requirements(tests, project_dir) if runs else None)
        if error:
            return Outcome(result("failed", error), [("WS301", f"install failed: {error}")])
        python = str(interpreters.venv_python(home))
        probe = _run([python, "-c", PROBE, json.dumps(names), project], cwd=cwd)
        if probe.returncode != 0:
            return Outcome(result("failed", probe.stderr[-1500:]), [("WS301", f"probe failed: {probe.stderr[-800:]}")])
        problems = _compare(json.loads(probe.stdout), version)
        if tests and runs and not any(code == "WS302" for code, _ in problems):
            _copy_sources(tests.sources, project_dir, cwd)
            problems += _test_command(tests.command, home, cwd, wheel, project_dir)
        detail = "; ".join(message for _, message in problems)
        if not problems and tests and tests.not_run:
            return Outcome(result("not-run", f"{tests.owner} not run: {tests.not_run}"), [])
        return Outcome(result("failed" if problems else "passed", detail), problems)


def _requirements(tests: ProjectTests | None, project_dir: Path | None) -> list[str]:
    """`test-requires` and the requirements of `test-groups` (the project's PEP 735
    dependency groups, resolved as cibuildwheel resolves them)."""
    if tests is None:
        return []
    wanted = list(tests.requires)
    if tests.groups and project_dir is not None:
        import tomllib

        from dependency_groups import resolve

        groups = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8")).get("dependency-groups", {})
        wanted += resolve(groups, *tests.groups)
    return wanted


def _copy_sources(sources: tuple[str, ...], project_dir: Path | None, cwd: Path) -> None:
    """cibuildwheel's `test-sources`: files and folders of the project, copied into the
    folder the test command runs in."""
    for source in sources:
        if project_dir is None:
            continue
        origin, target = project_dir / source, cwd / source
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, dirs_exist_ok=True)
        elif origin.is_file():
            shutil.copy2(origin, target)


def _compare(found: dict[str, Any], version: str) -> list[tuple[str, str]]:
    problems = []
    expected = Version(version)
    installed = str(found["installed"])
    if Version(installed) != expected:
        problems.append(("WS303", f"importlib.metadata.version() is {installed}, release is {version}"))
    for name, facts in found["imports"].items():
        if "error" in facts:
            problems.append(("WS302", f"import {name} failed: {facts['error']}"))
        elif facts.get("version") is not None and _differs(facts["version"], expected):
            problems.append(("WS304", f"{name}.__version__ is {facts['version']!r}, release is {version}"))
    return problems


def _differs(value: str, expected: Version) -> bool:
    """Whether a module's `__version__` is not the release's. A post-release repackages
    code released before, whose modules may say that version still (certifi
    2026.10.19.post1's ``certifi.__version__`` is "2026.10.19"): that is no defect."""
    try:
        found = Version(value)
    except ValueError:
        return True
    if found == expected:
        return False
    if expected.post is None or expected.dev is not None:
        return True
    epoch = f"{expected.epoch}!" if expected.epoch else ""
    pre = "".join(map(str, expected.pre)) if expected.pre else ""
    return found != Version(f"{epoch}{'.'.join(map(str, expected.release))}{pre}")


def _test_command(command: str, home: Path, cwd: Path, wheel: Path, project_dir: Path | None) -> list[tuple[str, str]]:
    if "{project}" in command and project_dir is None:
        return [("WS305", "the test command uses {project}, but no project folder is at hand; "
                 "pass the project with --project")]
    text = command.replace("{project}", str(project_dir or "")).replace("{package}", str(project_dir or "")) \
        .replace("{wheel}", str(wheel))
    env = {**without_credentials(), "VIRTUAL_ENV": str(home),
           "PATH": os.pathsep.join([str(interpreters.venv_scripts(home)), os.environ.get("PATH", "")])}
    env.pop("PYTHONPATH", None)
    # Windows: cmd, as cibuildwheel runs a test command there; elsewhere bash (else sh)
    shell = [os.environ.get("COMSPEC", "cmd.exe"), "/c"] if sys.platform == "win32" else \
        [shutil.which("bash") or "/bin/sh", "-c"]
    result = _run([*shell, text], cwd=cwd, env=env, timeout=1800)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-1500:]
        return [("WS305", f"`{command}` exited {result.returncode}: {output}")]
    return []
