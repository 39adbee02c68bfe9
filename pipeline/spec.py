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

Every key is one field below (or of `Limits` and `IndexConfig`), declared with its
default, what it accepts and a value it takes (pipeline.speckeys); validation, layering
and the environment variables are derived from those fields, so a new key is one field.

Validation reports every problem at once, each with the file, the key path, the
value and what was expected, and a "did you mean" for near misses.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from pipeline import pypirc
from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.cibwconfig import NATIVE_RUNNERS, OTHER_ARCHES
from pipeline.errors import UsageError
from pipeline.indexes import BUILTIN_INDEXES, IndexConfig
from pipeline.speckeys import (
    Key,
    by_path,
    did_you_mean,
    entries,
    env_name,
    is_bool,
    is_names,
    is_store_url,
    is_str,
    is_url,
    key,
    list_of,
    names,
    one_of,
    positive,
    rows,
    table,
)

__all__ = ["BUILTIN_INDEXES", "SEVERITIES", "SLICE_NAMES", "IndexConfig", "PublishPolicy", "Spec", "load_spec"]

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


def _check_names() -> set[str]:
    """What ``[checks]`` takes: a check by its code or its name."""
    from pipeline.checks import CHECKS

    return {*CHECKS, *(c.name for c in CHECKS.values())}


# The key table: each field below (and each of Limits' and IndexConfig's) is one
# buildspec key with its default, what it accepts, and a value it takes (pipeline.speckeys).


@dataclass(frozen=True, kw_only=True)
class PublishPolicy:
    """How hard and how wide to push uploads (see pipeline.retry)."""

    attempts: int = key("attempts", positive(int), 6, example=3)
    max_wait: float = key("max-wait", positive(float), 30.0, example=5.0)
    timeout: float = key("timeout", positive(float), 60.0, example=10.0)
    concurrency: int = key("concurrency", positive(int), 4, example=2)
    # PyPI refuses new files for older releases (since 2026-07)
    closed_after_days: int = key("closed-after-days", positive(int), 14, example=30)
    # the listing's sha256 is the proof; downloading doubles the traffic
    download_back: bool = key("download-back", is_bool, False, example=True)
    # PEP 740: "auto" signs where the job has an identity (trusted publishing), "always"
    # refuses to publish without one, "off" never signs (pipeline.stages.attest)
    attestations: Literal["auto", "always", "off"] = key("attestations", one_of("auto", "always", "off"), "auto",
                                                         example="always")


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Everything the buildspec decides, resolved and validated."""

    source: str
    store: str = key("store", is_store_url, "file://.wheelship/store", example="s3://releases/wheelship")
    kind: Literal["auto", "pure", "native"] = key("kind", one_of("auto", "pure", "native"), "auto", example="native")
    import_names: tuple[str, ...] = key("import-names", is_names, (), example=["mypkg"], convert=tuple)
    test_command: str | None = key("test-command", is_str, None, example="pytest -x")
    before_sdist: str | None = key("before-sdist", is_str, None, example="make generated")
    slices: tuple[str, ...] = key("slices", list_of(*SLICE_NAMES), (), example=["sdist", "pure"], convert=tuple)
    prerelease_index: str = key("routing.prerelease", is_str, "testpypi", example="pypi")
    final_index: str = key("routing.final", is_str, "pypi", example="testpypi")
    indexes: Mapping[str, IndexConfig] = entries(
        "indexes", IndexConfig, expected="a table of [indexes.NAME] tables",
        example={"corp": {"upload-url": "https://corp.example/legacy/", "simple-url": "https://corp.example/simple/",
                          "password-env": "CORP_API_TOKEN"}})
    s3_endpoint_url: str | None = key("s3.endpoint-url", is_url, None, example="http://127.0.0.1:8333")
    s3_region: str | None = key("s3.region", is_str, None, example="eu-west-1")
    s3_attempts: int = key("s3.attempts", positive(int), 10, example=3)
    # botocore's addressing style: "path" for servers without bucket subdomains (MinIO, SeaweedFS)
    s3_addressing_style: Literal["auto", "path", "virtual"] = key(
        "s3.addressing-style", one_of("auto", "path", "virtual"), "auto", example="path")
    # after a publish, complete the tag's GitHub Release (dists, SHA256SUMS, SBOM, attestations)
    github_release: bool = key("github-release.enabled", is_bool, False, example=True)
    publish: PublishPolicy = table("publish", PublishPolicy())  # noqa: RUF009 (a field, its default frozen)
    checks: Mapping[str, str] = names("checks", one_of(*SEVERITIES), _check_names, expected="a table of check codes",
                                      example={"bytecode": "off"})
    #: What one wheel or sdist may hold when a check reads it (pipeline.archives.Limits).
    limits: Limits = table("limits", DEFAULT_LIMITS)  # noqa: RUF009 (a field, its default frozen)
    #: Runner labels by slice name, replacing the GitHub-hosted defaults (a private
    #: repository has no ubuntu-24.04-arm or windows-11-arm; a self-hosted runner may).
    runners: Mapping[str, str] = names("runners", is_str, lambda: SLICE_NAMES, expected="a table",
                                       example={"linux-x86_64": "self-hosted-x64"})

    def index(self, name: str) -> IndexConfig:
        """The index called `name`; raises `UsageError` naming the known ones."""
        try:
            return self.indexes[name]
        except KeyError:
            known = ", ".join(sorted(self.indexes))
            raise UsageError(
                f"unknown index {name!r}{did_you_mean(name, self.indexes)}",
                hint=f"known indexes: {known}; add one under [indexes.{name}] in the buildspec or to {pypirc.path()}",
            ) from None


# --- validation -------------------------------------------------------------


def layout() -> dict[str, Key | dict[str, Key]]:
    """The top level of a buildspec: each key, and each table of keys, by name."""
    top: dict[str, Key | dict[str, Key]] = {}
    tables: dict[str, dict[str, Key]] = {}
    for _, row in rows(Spec):
        table_name, dot, name = row.path.partition(".")
        if row.kind == "table":
            assert row.entry is not None
            top[row.path] = {path: r for path, (_, r) in by_path(row.entry).items()}
        elif dot:  # a field of Spec kept in a table: [s3] endpoint-url
            top[table_name] = tables.setdefault(table_name, {})
            tables[table_name][name] = row
        else:
            top[row.path] = row
    return top


def _validate(data: Mapping[str, Any], where: str, prefix: str) -> list[str]:
    problems: list[str] = []

    def bad(path: str, value: Any, expected: str) -> None:
        problems.append(f"{where}: {prefix}{path} = {value!r}: expected {expected}")

    def unknown(path: str, name: str, known: Any) -> None:
        problems.append(f"{where}: unknown key {prefix}{path}{did_you_mean(name, known)}")

    def value(path: str, item: Any, row: Key) -> None:
        if (expected := row.check(item)) is not None:
            bad(path, item, expected)

    def keys(path: str, item: Any, table: Mapping[str, Key], expected: str = "a table") -> None:
        if not isinstance(item, dict):
            bad(path, item, expected)
            return
        for name, inner in item.items():
            if name not in table:
                unknown(f"{path}.{name}", name, table)
            else:
                value(f"{path}.{name}", inner, table[name])

    top = layout()
    for name, item in data.items():
        row = top.get(name)
        if row is None:
            unknown(name, name, top)
        elif isinstance(row, dict):
            keys(name, item, row)
        elif row.kind == "value":
            value(name, item, row)
        elif row.kind == "names":  # each NAME is a key of its own, every one checked alike
            keys(name, item, dict.fromkeys(row.names(), row), row.expected)
        elif not isinstance(item, dict):
            bad(name, item, row.expected)
        else:
            assert row.entry is not None
            for entry, inner in item.items():
                keys(f"{name}.{entry}", inner, {path: r for path, (_, r) in by_path(row.entry).items()})
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


def _entry(row: Key, name: str, base: Any, table: Mapping[str, Any], source: str) -> Any:
    """One of an ``entries`` key's tables, laid over the entry of that name below, if any."""
    assert row.entry is not None
    merged: dict[str, Any] = {
        f.name: getattr(base, f.name) if base else None if f.default is MISSING else f.default
        for f in fields(row.entry) if f.name != "name"
    }
    keys = by_path(row.entry)
    merged.update({keys[path][0]: keys[path][1].convert(value) for path, value in table.items()})
    missing = [path for path, (field_name, _) in keys.items() if merged[field_name] is None]
    if missing:
        raise UsageError(
            f"{source}: [{row.path}.{name}] is missing {', '.join(missing)}",
            hint="a new index needs upload-url, simple-url and password-env",
        )
    return row.entry(name=name, **merged)


def _layer(row: Key, old: Any, data: Mapping[str, Any], source: str) -> Any:
    """The value of the field `row` is, with the layer `data` laid over `old`."""
    table_name, dot, name = row.path.partition(".")
    if dot:
        return row.convert(data[table_name][name]) if name in data.get(table_name, {}) else old
    if row.path not in data:
        return old
    given = data[row.path]
    if row.kind == "value":
        return row.convert(given)
    if row.kind == "names":
        return {**old, **given}
    if row.kind == "table":
        return replace(old, **{n: r.convert(given[r.path]) for n, r in rows(type(old)) if r.path in given})
    return {**old, **{entry: _entry(row, entry, old.get(entry), table, source) for entry, table in given.items()}}


def _apply(spec: Spec, data: Mapping[str, Any], source: str) -> Spec:
    """Lay one validated layer over `spec`."""
    changes = {n: _layer(row, getattr(spec, n), data, source) for n, row in rows(Spec)}
    return replace(spec, source=source, **changes)


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
    for _, row in rows(Spec):  # names derived from the keys, never hand-listed
        value = os.environ.get(env_name(row.path)) if row.from_environment else None
        if value:  # a list key (its example is a list) is read as words
            env[row.path] = value.replace(",", " ").split() if isinstance(row.example, list) else value
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
        if (expected := is_store_url(store)) is not None:
            raise UsageError(f"--store {store!r}: expected {expected}")
        spec = replace(spec, store=store)
    for name in (spec.prerelease_index, spec.final_index):
        spec.index(name)
    return spec
