"""What a project declares: its name, its version and where that came from, its backend."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipeline.buildlog import append_output, tail
from pipeline.cleanenv import for_builds
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


def _hook_runner(log_file: Path) -> Callable[..., None]:
    """pyproject_hooks' subprocess runner, with the hook's own output (stdout and
    stderr, as bytes) kept in `log_file` rather than swallowed, and an environment
    with no credential in it: the backend and its plugins are someone else's code."""
    def run(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        with log_file.open("ab") as out:
            out.write(f"$ {' '.join(cmd)}\n".encode())
            out.flush()
            subprocess.run(list(cmd), cwd=cwd, env={**for_builds(), **(extra_environ or {})},
                           stdout=out, stderr=subprocess.STDOUT, check=True)

    return run


def _ask_backend(root: Path, log_file: Path) -> tuple[str, str, str | None]:
    """Name, version and Requires-Python from the PEP 517 metadata hook."""
    import importlib.metadata

    import build
    import build.env

    with build.env.DefaultIsolatedEnv(installer="uv") as env, tempfile.TemporaryDirectory() as out:
        builder = build.ProjectBuilder.from_isolated_env(env, root, runner=_hook_runner(log_file))
        env.install(builder.build_system_requires)
        env.install(builder.get_requires_for_build("wheel"))
        metadata = importlib.metadata.PathDistribution(Path(builder.metadata_path(out))).metadata
    return metadata["Name"], metadata["Version"], (metadata.get_all("Requires-Python") or [None])[0]


def _backend_failure(exc: Exception, log_file: Path) -> str:
    """Which hook failed and how; a failure that printed nothing (a backend that cannot
    be imported, a missing hook) has its traceback or reason added to the log."""
    cause = getattr(exc, "exception", exc)
    if isinstance(cause, subprocess.CalledProcessError):  # cmd: python, _in_process.py, HOOK, control folder
        hook = str(cause.cmd[2]) if len(cause.cmd) > 2 else "a"
        return f"in its {hook} hook (exit {cause.returncode})"
    append_output(log_file, f"--- {exc}", getattr(cause, "traceback", None) or repr(cause))
    return f"({exc})"


def _hook_metadata(root: Path, log_file: Path) -> tuple[str, str, str | None]:
    """`_ask_backend`, its failures said with the backend's own last words.

    Raises `BuildFailed` naming the log, which holds the hooks' whole output."""
    import build

    log_file.parent.mkdir(parents=True, exist_ok=True)
    rerun = "`python -m build` in the project runs the same hooks"
    try:
        return _ask_backend(root, log_file)
    except build.BuildException as exc:
        raise BuildFailed(f"could not read {root}'s metadata through its build backend: {exc}",
                          hint=f"fix what is named above; {rerun}") from None
    except build.BuildBackendException as exc:
        raise BuildFailed(
            f"the build backend of {root} failed to give its metadata, {_backend_failure(exc, log_file)}; "
            f"the end of {log_file}:\n{tail(log_file)}",
            hint=f"fix the error the backend printed above (its whole output is in {log_file}); {rerun}",
        ) from None
    except subprocess.CalledProcessError as exc:
        args = [str(a) for a in exc.cmd]
        append_output(log_file, "$ " + " ".join(args), exc.stdout, exc.stderr)
        asked = args[args.index("install") + 1:] if "install" in args else args
        requirements = " ".join(asked[:asked.index("--python")] if "--python" in asked else asked)[:300]
        raise BuildFailed(
            f"the build requirements of {root} could not be installed (uv exit {exc.returncode}): {requirements}; "
            f"the end of {log_file}:\n{tail(log_file)}",
            hint="check that every build requirement (and version) exists on your package index; "
                 f"the installer's whole output is in {log_file}",
        ) from None


def _metadata_from_hook(root: Path, log_file: Path | None) -> tuple[str, str, str | None]:
    """`_hook_metadata`, with its log in `log_file`, else in a folder of its own, kept
    only when the error raised names the log in it."""
    if log_file is not None:
        return _hook_metadata(root, log_file)
    folder = Path(tempfile.mkdtemp(prefix="wheelship-metadata-"))
    named = False
    try:
        return _hook_metadata(root, folder / "metadata-hook.log")
    except BuildFailed as exc:
        named = str(folder) in exc.message
        raise
    finally:
        if not named:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True, kw_only=True)
class Configuration:
    """What a project's files say without running its backend: pyproject.toml's tables,
    the backend, and the name, version and Requires-Python where they are static."""

    root: Path
    pyproject: dict[str, Any]
    backend: str
    static: tuple[str, str, str | None] | None  # None: the backend computes the version

    @property
    def version_is_dynamic(self) -> bool:
        return self.static is None


def configuration(root: Path) -> Configuration:
    """Read a project's build configuration. Raises `UsageError` for a folder with no
    build configuration or a pyproject.toml that is not TOML."""
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
    static = None
    if "version" not in table.get("dynamic", []) and "version" in table and "name" in table:
        static = (table["name"], table["version"], table.get("requires-python"))
    return Configuration(root=root, pyproject=data, backend=backend, static=static)


def _from_sdist(sdist: Path) -> tuple[str, str, str | None]:
    """Name, version and Requires-Python from the PKG-INFO of an sdist its backend just
    built, read within the archive limits (the backend is the project's code)."""
    from pipeline.archives import ArchiveError
    from pipeline.checks.metadata import read_metadata

    try:
        fields = read_metadata(sdist).fields
    except (ValueError, ArchiveError) as exc:
        raise BuildFailed(f"the sdist its backend built, {sdist.name}, cannot be read: {exc}",
                          hint="build it with `uv build --sdist` and look inside") from None
    requires = fields.get("Requires-Python")
    try:
        SpecifierSet(requires or "")
    except InvalidSpecifier:
        raise BuildFailed(f"the sdist its backend built, {sdist.name}, says Requires-Python {requires!r}, "
                          "which is not a version specifier (PyPI refuses it too)",
                          hint="fix requires-python in the project's configuration, such as \">=3.9\"") from None
    return str(fields.get("Name", "")), str(fields.get("Version", "")), requires


def load_project(root: Path | Configuration, *, log_file: Path | None = None, sdist: Path | None = None) -> Project:
    """Read a project's declared metadata.

    The version is static (``[project].version``) where declared, else read from
    `sdist` (an sdist of this very checkout, built by its backend) where given, else
    asked of the PEP 517 metadata hook, whose output goes to `log_file` (a run passes
    ``WORKDIR/metadata-hook.log``; by default a temporary one, kept only if the hook
    fails). Raises `UsageError` for a folder with no build configuration,
    `VersionMismatch` for a declared version that is not PEP 440, `BuildFailed` when
    the backend fails, its output's end in the message.
    """
    config = root if isinstance(root, Configuration) else configuration(root)
    if config.static is not None:
        (name, raw, requires), source = config.static, "pyproject.toml [project].version"
    elif sdist is not None:
        name, raw, requires = _from_sdist(sdist)
        source = f"the PKG-INFO of the sdist {config.backend} built"
    else:
        log.info("asking %s's build backend for its metadata", config.root.name)
        name, raw, requires = _metadata_from_hook(config.root, log_file)
        source = f"the PEP 517 metadata hook of {config.backend}"
    try:
        version = Version(raw)
    except InvalidVersion:
        raise VersionMismatch(f"{source} gives version {raw!r}, which is not PEP 440") from None
    return Project(
        root=config.root,
        name=name,
        version=version,
        version_source=source,
        requires_python=requires,
        backend=config.backend,
        pyproject=config.pyproject,
    )
