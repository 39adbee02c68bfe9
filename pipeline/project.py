"""What a project declares: its name, its version and where that came from, its backend."""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipeline.errors import BuildFailed, UsageError, VersionMismatch

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Project:
    """A project on disk, as its build configuration describes it."""

    root: Path
    name: str
    version: Version
    version_source: str
    requires_python: str | None
    backend: str
    pyproject: dict[str, Any]

    @property
    def canonical_name(self) -> str:
        return canonicalize_name(self.name)


def _hook_metadata(root: Path) -> tuple[str, str, str | None]:
    """Name, version and Requires-Python from the PEP 517 metadata hook."""
    import importlib.metadata
    import subprocess
    import tempfile

    import build
    import build.env
    import pyproject_hooks

    try:
        with build.env.DefaultIsolatedEnv(installer="uv") as env, tempfile.TemporaryDirectory() as out:
            builder = build.ProjectBuilder.from_isolated_env(
                env, root, runner=pyproject_hooks.quiet_subprocess_runner
            )
            env.install(builder.build_system_requires)
            env.install(builder.get_requires_for_build("wheel"))
            dist_info = Path(builder.metadata_path(out))
            metadata = importlib.metadata.PathDistribution(dist_info).metadata
    except build.BuildException as exc:
        raise BuildFailed(
            f"could not read {root}'s metadata through its build backend: {exc}",
            hint="run `python -m build` in the project to see the backend's own error",
        ) from None
    except build.BuildBackendException as exc:
        raise BuildFailed(
            f"the build backend of {root} failed to give its metadata: {exc.exception}",
            hint="run `python -m build` in the project to see the backend's own error",
        ) from None
    except subprocess.CalledProcessError as exc:
        args = [str(a) for a in exc.cmd]
        asked = args[args.index("install") + 1:] if "install" in args else args
        requirements = " ".join(asked[:asked.index("--python")] if "--python" in asked else asked)[:300]
        raise BuildFailed(
            f"the build requirements of {root} could not be installed (uv exit {exc.returncode}): {requirements}",
            hint="check that every build requirement (and version) exists on your package index; "
                 "`python -m build` in the project shows the installer's own message",
        ) from None
    return metadata["Name"], metadata["Version"], (metadata.get_all("Requires-Python") or [None])[0]


def load_project(root: Path) -> Project:
    """Read a project's declared metadata.

    The version is static (``[project].version``) where declared, else asked of the
    PEP 517 metadata hook. Raises `UsageError` for a folder with no build
    configuration, `VersionMismatch` for a declared version that is not PEP 440.
    """
    root = root.resolve()
    pyproject = root / "pyproject.toml"
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder", hint="pass the folder holding pyproject.toml")
    if not pyproject.is_file() and not (root / "setup.py").is_file():
        raise UsageError(
            f"{root} has no build configuration (no pyproject.toml or setup.py)",
            hint="pass the folder of a Python project; `wheelship init` writes a starter spec",
        )
    data: dict[str, Any] = {}
    if pyproject.is_file():
        with pyproject.open("rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise UsageError(f"{pyproject} is not valid TOML: {exc}") from None
    table = data.get("project", {})
    assert isinstance(table, dict)
    backend = str(data.get("build-system", {}).get("build-backend", "setuptools.build_meta:__legacy__"))
    static = "version" not in table.get("dynamic", []) and "version" in table and "name" in table
    if static:
        name, raw, requires = table["name"], table["version"], table.get("requires-python")
        source = f"{pyproject.name} [project].version"
    else:
        log.info("asking %s's build backend for its metadata", root.name)
        name, raw, requires = _hook_metadata(root)
        source = f"the PEP 517 metadata hook of {backend}"
    try:
        version = Version(raw)
    except InvalidVersion:
        raise VersionMismatch(f"{source} gives version {raw!r}, which is not PEP 440") from None
    return Project(
        root=root,
        name=name,
        version=version,
        version_source=source,
        requires_python=requires,
        backend=backend,
        pyproject=data,
    )
