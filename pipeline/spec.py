"""The buildspec: how one project is released, resolved once into frozen objects.

Resolution order, later wins (as cibuildwheel's options do):
  1. built-in defaults (the public `pypi` and `testpypi` indexes, a directory store),
     and the repositories of ``~/.pypirc`` (see pipeline.pypirc);
  2. the project's spec: ``--spec FILE``, else ``wheelship.toml`` in the project,
     else ``[tool.wheelship]`` in pyproject.toml;
  3. an overlay file named by ``WHEELSHIP_CONFIG`` (the sandbox writes one);
  4. environment variables derived from top-level scalar keys
     (``store`` -> ``WHEELSHIP_STORE``);
  5. command-line flags (``--store``, ``--index``).

Validation reports every problem at once, each with the file, the key path, the
value and what was expected, and a "did you mean" for near misses.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.cibwconfig import NATIVE_RUNNERS, OTHER_ARCHES
from pipeline.errors import UsageError

#: Every slice a plan can hold: the sdist, a pure wheel, and each platform's arches
#: (those cibuildwheel builds natively on a runner, then the ones it needs QEMU or a
#: cross-build for), as `platform-arch`.
SLICE_NAMES = (
    "sdist",
    "pure",
    *(f"{platform}-{arch}" for platform, runners in NATIVE_RUNNERS.items() for arch in runners),
    *(f"{platform}-{arch}" for platform, arches in OTHER_ARCHES.items() for arch in arches),
)
SEVERITIES = ("error", "warning", "off")


@dataclass(frozen=True, kw_only=True)
class IndexConfig:
    """A package index: where files go, where they are listed, who may upload."""

    name: str
    upload_url: str
    simple_url: str
    username: str = "__token__"
    password_env: str

    def urls(self) -> dict[str, str]:
        """The URLs a plan records beside the index's name, for display only."""
        return {"upload": self.upload_url, "simple": self.simple_url}


@dataclass(frozen=True, kw_only=True)
class PublishPolicy:
    """How hard and how wide to push uploads (see pipeline.retry)."""

    attempts: int = 6
    max_wait: float = 30.0
    timeout: float = 60.0
    concurrency: int = 4
    closed_after_days: int = 14  # PyPI refuses new files for older releases (since 2026-07)
    download_back: bool = False  # the listing's sha256 is the proof; downloading doubles the traffic


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Everything the buildspec decides, resolved and validated."""

    source: str
    store: str = "file://.wheelship/store"
    kind: str = "auto"
    import_names: tuple[str, ...] = ()
    test_command: str | None = None
    before_sdist: str | None = None
    slices: tuple[str, ...] = ()
    prerelease_index: str = "testpypi"
    final_index: str = "pypi"
    indexes: Mapping[str, IndexConfig] = field(default_factory=dict)
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_attempts: int = 10
    publish: PublishPolicy = PublishPolicy()
    checks: Mapping[str, str] = field(default_factory=dict)
    #: What one wheel or sdist may hold when a check reads it (pipeline.archives.Limits).
    limits: Limits = DEFAULT_LIMITS
    #: Runner labels by slice name, replacing the GitHub-hosted defaults (a private
    #: repository has no ubuntu-24.04-arm or windows-11-arm; a self-hosted runner may).
    runners: Mapping[str, str] = field(default_factory=dict)

    def index(self, name: str) -> IndexConfig:
        """The index called `name`; raises `UsageError` naming the known ones."""
        try:
            return self.indexes[name]
        except KeyError:
            from pipeline import pypirc

            known = ", ".join(sorted(self.indexes))
            raise UsageError(
                f"unknown index {name!r}{_did_you_mean(name, self.indexes)}",
                hint=f"known indexes: {known}; add one under [indexes.{name}] in the buildspec or to {pypirc.path()}",
            ) from None


BUILTIN_INDEXES = {
    "pypi": IndexConfig(
        name="pypi",
        upload_url="https://upload.pypi.org/legacy/",
        simple_url="https://pypi.org/simple/",
        password_env="PYPI_API_TOKEN",
    ),
    "testpypi": IndexConfig(
        name="testpypi",
        upload_url="https://test.pypi.org/legacy/",
        simple_url="https://test.pypi.org/simple/",
        password_env="TESTPYPI_API_TOKEN",
    ),
}


# --- validation -------------------------------------------------------------

Check = Callable[[Any], str | None]  # returns what was expected, or None if fine


def _is_str(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "a non-empty string"


def _is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _is_url(value: Any) -> str | None:
    ok = isinstance(value, str) and value.startswith(("http://", "https://"))
    return None if ok else "an http:// or https:// URL"


def _is_store_url(value: Any) -> str | None:
    ok = isinstance(value, str) and value.startswith(("file://", "s3://"))
    return None if ok else "a store URL starting with file:// or s3://"


def _is_env_name(value: Any) -> str | None:
    ok = isinstance(value, str) and value.replace("_", "").isalnum() and not value[0].isdigit()
    return None if ok else "the name of an environment variable, such as PYPI_API_TOKEN"


def _is_names(value: Any) -> str | None:
    ok = isinstance(value, list) and all(
        isinstance(v, str) and v.replace(".", "_").isidentifier() for v in value
    )
    return None if ok else "a list of importable module names, such as [\"mypkg\"]"


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(map(repr, choices))

    return check


def _list_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, list) and all(v in choices for v in value)
        return None if ok else "a list drawn from " + ", ".join(choices)

    return check


def _positive(kind: type[int] | type[float]) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, kind | int) and not isinstance(value, bool) and value > 0
        return None if ok else f"a positive {'number' if kind is float else 'whole number'}"

    return check


SIZE_UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?\s*")


def size_in_bytes(value: Any) -> int | None:
    """A size given as bytes (1048576) or with a binary unit ("512 MiB"), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    match = SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    size = int(float(match.group(1)) * SIZE_UNITS[match.group(2) or ""])
    return size if size > 0 else None


def _is_size(value: Any) -> str | None:
    return None if size_in_bytes(value) is not None else 'a size: a number of bytes, or a string such as "512 MiB"'


INDEX_KEYS: dict[str, Check] = {
    "upload-url": _is_url,
    "simple-url": _is_url,
    "username": _is_str,
    "password-env": _is_env_name,
}
TABLES: dict[str, dict[str, Check]] = {
    "routing": {"prerelease": _is_str, "final": _is_str},
    "runners": {name: _is_str for name in SLICE_NAMES},
    "s3": {"endpoint-url": _is_url, "region": _is_str, "attempts": _positive(int)},
    "publish": {
        "attempts": _positive(int),
        "max-wait": _positive(float),
        "timeout": _positive(float),
        "concurrency": _positive(int),
        "closed-after-days": _positive(int),
        "download-back": _is_bool,
    },
    "limits": {
        "member-size": _is_size,
        "total-size": _is_size,
        "members": _positive(int),
        "compression-ratio": _positive(float),
        "metadata-size": _is_size,
    },
}
TOP_KEYS: dict[str, Check] = {
    "store": _is_store_url,
    "kind": _one_of("auto", "pure", "native"),
    "import-names": _is_names,
    "test-command": _is_str,
    "before-sdist": _is_str,
    "slices": _list_of(*SLICE_NAMES),
}
ALL_TOP = [*TOP_KEYS, *TABLES, "indexes", "checks"]
LIST_KEYS = ("import-names", "slices")


def env_name(key: str) -> str:
    """The environment variable that overrides a top-level key."""
    return "WHEELSHIP_" + key.upper().replace("-", "_")


#: Characters a typist mistakes for each other: a check code typed with a letter O.
LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1"})


def _did_you_mean(key: str, known: Any) -> str:
    candidates = list(known)
    alike = [k for k in candidates if k.translate(LOOKALIKES) == key.translate(LOOKALIKES)]
    close = alike or difflib.get_close_matches(key, candidates, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _validate(data: Mapping[str, Any], where: str, prefix: str) -> list[str]:
    problems: list[str] = []

    def bad(path: str, value: Any, expected: str) -> None:
        problems.append(f"{where}: {prefix}{path} = {value!r}: expected {expected}")

    def unknown(path: str, key: str, known: Any) -> None:
        problems.append(f"{where}: unknown key {prefix}{path}{_did_you_mean(key, known)}")

    def table(path: str, value: Any, checks: Mapping[str, Check]) -> None:
        if not isinstance(value, dict):
            bad(path, value, "a table")
            return
        for key, item in value.items():
            if key not in checks:
                unknown(f"{path}.{key}", key, checks)
            elif (expected := checks[key](item)) is not None:
                bad(f"{path}.{key}", item, expected)

    for key, value in data.items():
        if key in TOP_KEYS:
            if (expected := TOP_KEYS[key](value)) is not None:
                bad(key, value, expected)
        elif key in TABLES:
            table(key, value, TABLES[key])
        elif key == "indexes":
            if not isinstance(value, dict):
                bad(key, value, "a table of [indexes.NAME] tables")
                continue
            for name, index in value.items():
                table(f"indexes.{name}", index, INDEX_KEYS)
        elif key == "checks":
            if not isinstance(value, dict):
                bad(key, value, "a table of check codes")
                continue
            from pipeline.checks import CHECKS

            names = {*CHECKS, *(c.name for c in CHECKS.values())}  # a check by its code or its name
            for code, severity in value.items():
                if code not in names:
                    unknown(f"checks.{code}", code, names)
                elif severity not in SEVERITIES:
                    bad(f"checks.{code}", severity, "one of 'error', 'warning', 'off'")
        else:
            unknown(key, key, ALL_TOP)
    return problems


# --- loading ----------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"buildspec {path} does not exist", hint="check the --spec path") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"{path} is not valid TOML: {exc}", hint="fix the syntax at the line named"
        ) from None


def _apply(spec: Spec, data: Mapping[str, Any], source: str) -> Spec:
    """Lay one validated layer over `spec`."""
    indexes = dict(spec.indexes)
    for name, table in data.get("indexes", {}).items():
        base = indexes.get(name)
        merged: dict[str, Any] = {
            "upload_url": base.upload_url if base else None,
            "simple_url": base.simple_url if base else None,
            "username": base.username if base else "__token__",
            "password_env": base.password_env if base else None,
        }
        merged.update({k.replace("-", "_"): v for k, v in table.items()})
        missing = [k.replace("_", "-") for k, v in merged.items() if v is None]
        if missing:
            raise UsageError(
                f"{source}: [indexes.{name}] is missing {', '.join(missing)}",
                hint="a new index needs upload-url, simple-url and password-env",
            )
        indexes[name] = IndexConfig(name=name, **merged)
    routing = data.get("routing", {})
    s3 = data.get("s3", {})
    publish = {k.replace("-", "_"): v for k, v in data.get("publish", {}).items()}
    limits: dict[str, Any] = {k.replace("-", "_"): size_in_bytes(v) if k.endswith("-size") else v
                              for k, v in data.get("limits", {}).items()}
    return replace(
        spec,
        source=source,
        store=data.get("store", spec.store),
        kind=data.get("kind", spec.kind),
        import_names=tuple(data.get("import-names", spec.import_names)),
        test_command=data.get("test-command", spec.test_command),
        before_sdist=data.get("before-sdist", spec.before_sdist),
        slices=tuple(data.get("slices", spec.slices)),
        prerelease_index=routing.get("prerelease", spec.prerelease_index),
        final_index=routing.get("final", spec.final_index),
        indexes=indexes,
        s3_endpoint_url=s3.get("endpoint-url", spec.s3_endpoint_url),
        s3_region=s3.get("region", spec.s3_region),
        s3_attempts=s3.get("attempts", spec.s3_attempts),
        publish=replace(spec.publish, **publish),
        limits=replace(spec.limits, **limits),
        checks={**spec.checks, **data.get("checks", {})},
        runners={**spec.runners, **data.get("runners", {})},
    )


def _layers(project_dir: Path | None, spec_file: Path | None) -> list[tuple[str, dict[str, Any], str]]:
    """(where, data, key prefix) for each layer that exists, lowest first."""
    layers: list[tuple[str, dict[str, Any], str]] = []
    if spec_file is None and project_dir is not None and (project_dir / "wheelship.toml").is_file():
        spec_file = project_dir / "wheelship.toml"
    if spec_file is not None:
        layers.append((str(spec_file), _read_toml(spec_file), ""))
    elif project_dir is not None and (project_dir / "pyproject.toml").is_file():
        pyproject = project_dir / "pyproject.toml"
        table = _read_toml(pyproject).get("tool", {}).get("wheelship")
        if table is not None:
            layers.append((str(pyproject), table, "tool.wheelship."))
    overlay = os.environ.get("WHEELSHIP_CONFIG")
    if overlay:
        layers.append((overlay, _read_toml(Path(overlay)), ""))
    env: dict[str, Any] = {}
    for key in TOP_KEYS:  # names derived from the keys, never hand-listed
        value = os.environ.get(env_name(key))
        if value:
            env[key] = value.replace(",", " ").split() if key in LIST_KEYS else value
    if env:
        layers.append(("environment", env, "WHEELSHIP_"))
    return layers


def load_spec(
    project_dir: Path | None = None,
    spec_file: Path | None = None,
    *,
    store: str | None = None,
) -> Spec:
    """Resolve the buildspec for a project; raise `UsageError` listing every problem."""
    from pipeline import pypirc

    repositories = {name: repository.index for name, repository in pypirc.repositories().items()}
    spec = Spec(source="defaults", indexes={**BUILTIN_INDEXES, **repositories})
    layers = _layers(project_dir, spec_file)
    problems = [p for where, data, prefix in layers for p in _validate(data, where, prefix)]
    if problems:
        raise UsageError(
            "the buildspec has problems:\n  " + "\n  ".join(problems),
            hint="fix the keys named above; the README lists every key",
        )
    for where, data, _ in layers:
        spec = _apply(spec, data, where)
    if store is not None:
        if (expected := _is_store_url(store)) is not None:
            raise UsageError(f"--store {store!r}: expected {expected}")
        spec = replace(spec, store=store)
    for name in (spec.prerelease_index, spec.final_index):
        spec.index(name)
    return spec
