"""Shared fixtures: the real sandbox servers, example projects, and running the CLI.

The sandbox (SeaweedFS and two pypiserver indexes on loopback) starts once per
session; each test gets empty indexes and its own store prefix. Nothing here can
reach a public index: every index a test uses is the sandbox's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.sandbox import Sandbox, sandbox

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = ROOT / "tests" / "projects"
BUILDSPECS = ROOT / "buildspecs"
#: The tools the Makefile installed, never whatever happens to be on PATH.
BIN = Path(sys.executable).parent
UV = str(BIN / "uv")


@pytest.fixture(autouse=True)
def _no_user_pypirc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's ~/.pypirc never reaches a test; a test that needs one writes its own."""
    monkeypatch.setenv("WHEELSHIP_PYPIRC", str(tmp_path / "no-pypirc"))


@pytest.fixture(scope="session")
def wheelship_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding this wheelship as a wheel, for `init --find-links` to pin it from."""
    folder = tmp_path_factory.mktemp("wheelship-wheel")
    subprocess.run([UV, "build", "-q", "--wheel", "-o", str(folder), str(ROOT)], check=True, capture_output=True)
    return folder


@pytest.fixture(scope="session")
def wheelship_lock(wheelship_wheels: Path) -> str:
    """This wheelship and what it needs, pinned by hash as `wheelship init` writes it."""
    from pipeline import __version__
    from pipeline.workflows import lock

    return lock(f"wheelship=={__version__}", find_links=wheelship_wheels)


@pytest.fixture
def pinned_init(wheelship_lock: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`wheelship init` pins this wheelship from the session's lock, made once for real."""
    monkeypatch.setattr("pipeline.workflows.lock", lambda *args, **kwargs: wheelship_lock)
    return wheelship_lock


@pytest.fixture(scope="session")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with sandbox(tmp_path_factory.mktemp("sandbox"), s3=True) as running:
        yield running


@pytest.fixture
def sandbox_env(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Empty indexes, the sandbox's environment, and no public index reachable by name."""
    box.testpypi.clear()
    box.pypi.clear()
    for key in ("PYPI_API_TOKEN", "TESTPYPI_API_TOKEN", "TWINE_USERNAME", "TWINE_PASSWORD",
                "GITHUB_ACTIONS", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_OUTPUT",
                "GITHUB_STEP_SUMMARY", "GITHUB_RUN_ID", "ACTIONS_ID_TOKEN_REQUEST_URL", "WHEELSHIP_STORE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in box.env().items():
        monkeypatch.setenv(key, value)
    return box


@pytest.fixture
def s3_store(sandbox_env: Sandbox) -> str:
    """A store URL of its own in the sandbox's bucket."""
    assert sandbox_env.s3 is not None
    return f"s3://{sandbox_env.s3.bucket}/t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def file_store(tmp_path: Path) -> str:
    return f"file://{tmp_path / 'store'}"


def copy_project(name: str, dest: Path, *, version: str | None = None) -> Path:
    """A fresh copy of an example project, optionally at another version."""
    target = dest / name
    shutil.copytree(PROJECTS / name, target, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    if version is not None:
        for path in (target / "pyproject.toml", *target.glob("src/*/__init__.py")):
            text = path.read_text()
            text = re.sub(r'^version = "[^"]+"', f'version = "{version}"', text, flags=re.M)
            text = re.sub(r'^__version__ = "[^"]+"', f'__version__ = "{version}"', text, flags=re.M)
            path.write_text(text)
    return target


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `wheelship ARGS` in this process, as a user would from a shell."""

    def run(*args: str | Path) -> Result:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_subprocess(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    """Run `python -m pipeline ARGS` as a separate process."""
    proc = subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def index_files(box: Sandbox, index: str) -> dict[str, str]:
    """The files an index holds, by name, with their SHA-256 as the index lists them."""
    from pipeline.index import every_file

    server = box.index(index)
    names = {p.name for p in server.packages.iterdir()}
    listed = {name: f.sha256 or "" for name, f in every_file(server.url + "simple/", timeout=10).items()}
    assert set(listed) == names, f"index lists {sorted(listed)} but holds {sorted(names)}"
    return listed


def wheel_names(paths: list[Path]) -> list[str]:
    return sorted(p.name for p in paths if zipfile.is_zipfile(p))
