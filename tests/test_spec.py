"""Buildspec resolution and validation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from pipeline.errors import UsageError
from pipeline.spec import Spec, load_spec
from pipeline.speckeys import Key, by_path, env_name, rows


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("WHEELSHIP_CONFIG", "WHEELSHIP_STORE", "WHEELSHIP_KIND", "WHEELSHIP_TEST_COMMAND",
                "WHEELSHIP_IMPORT_NAMES", "WHEELSHIP_SLICES"):
        monkeypatch.delenv(key, raising=False)
    for _, row in rows(Spec):
        monkeypatch.delenv(env_name(row.path), raising=False)


def test_defaults_have_the_public_indexes_and_a_directory_store() -> None:
    spec = load_spec(None, None)
    assert spec.store == "file://.wheelship/store"
    assert spec.index("pypi").upload_url == "https://upload.pypi.org/legacy/"
    assert spec.index("testpypi").simple_url == "https://test.pypi.org/simple/"
    assert spec.prerelease_index == "testpypi" and spec.final_index == "pypi"


def test_every_problem_is_reported_at_once_with_file_and_key_path(tmp_path: Path) -> None:
    path = _spec(tmp_path, 'stor = "x"\nkind = 3\n[indexes.mine]\nupload-url = "ftp://x"\nsimple-urll = "http://x"\n')
    with pytest.raises(UsageError) as info:
        load_spec(None, path)
    text = str(info.value)
    assert f"{path}: unknown key stor (did you mean 'store'?)" in text
    assert f"{path}: kind = 3: expected one of 'auto', 'pure', 'native'" in text
    assert f"{path}: indexes.mine.upload-url = 'ftp://x': expected an http:// or https:// URL" in text
    assert "unknown key indexes.mine.simple-urll (did you mean 'simple-url'?)" in text


def test_a_new_index_needs_its_urls_and_password_variable(tmp_path: Path) -> None:
    path = _spec(tmp_path, '[indexes.corp]\nupload-url = "https://pkgs.example/upload/"\n')
    with pytest.raises(UsageError, match=r"\[indexes.corp\] is missing simple-url, password-env"):
        load_spec(None, path)


def test_routing_must_name_a_known_index(tmp_path: Path) -> None:
    path = _spec(tmp_path, '[routing]\nfinal = "pipy"\n')
    with pytest.raises(UsageError, match=r"unknown index 'pipy' \(did you mean 'pypi'\?\)"):
        load_spec(None, path)


def test_layers_project_then_overlay_then_environment_then_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.wheelship]\nstore = "file:///a"\ntest-command = "pytest"\n[tool.wheelship.publish]\nconcurrency = 4\n'
    )
    assert load_spec(project).store == "file:///a"
    overlay = _spec(tmp_path, 'store = "file:///b"\n[indexes.pypi]\nupload-url = "http://127.0.0.1:1/"\n')
    monkeypatch.setenv("WHEELSHIP_CONFIG", str(overlay))
    spec = load_spec(project)
    assert spec.store == "file:///b"
    assert spec.index("pypi").upload_url == "http://127.0.0.1:1/"
    assert spec.index("pypi").password_env == "PYPI_API_TOKEN"  # kept from the built-in index
    assert spec.test_command == "pytest" and spec.publish.concurrency == 4
    monkeypatch.setenv("WHEELSHIP_STORE", "file:///c")
    monkeypatch.setenv("WHEELSHIP_IMPORT_NAMES", "a, b")
    spec = load_spec(project)
    assert spec.store == "file:///c" and spec.import_names == ("a", "b")
    assert load_spec(project, store="s3://bucket/runs").store == "s3://bucket/runs"


def test_a_bad_store_flag(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--store 'ftp://x': expected a store URL"):
        load_spec(None, None, store="ftp://x")


def test_checks_take_only_known_severities(tmp_path: Path) -> None:
    path = _spec(tmp_path, '[checks]\nWS304 = "warning"\nwheel-tags = "loud"\n')
    with pytest.raises(UsageError, match=r"checks.wheel-tags = 'loud': expected one of 'error', 'warning', 'off'"):
        load_spec(None, path)


def test_checks_that_name_no_check_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    path = _spec(tmp_path, '[checks]\nWS3O4 = "warning"\nwheel-tagz = "off"\nWS108 = "off"\nsdist-wheel-differs = "warning"\n')
    with pytest.raises(UsageError) as info:
        load_spec(None, path)
    text = str(info.value)
    assert "unknown key checks.WS3O4 (did you mean 'WS304'?)" in text
    assert "unknown key checks.wheel-tagz (did you mean 'wheel-tags'?)" in text
    assert "WS108" not in text and "sdist-wheel-differs" not in text


# --- the key table: a key is one field, and every key is validated, defaulted and layered


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    assert isinstance(value, dict)
    return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"


def _document(path: str, value: object) -> str:
    """A buildspec setting the key at `path` (``limits.member-size``) to `value`."""
    *tables, name = path.split(".")
    header = "[" + ".".join(json.dumps(t) for t in tables) + "]\n" if tables else ""
    return f"{header}{json.dumps(name)} = {_toml(value)}\n"


class Setting(NamedTuple):
    path: str  # where the key is written: limits.member-size
    row: Key
    written: str  # a buildspec that sets it to its example
    held: object  # what a Spec then holds
    read: Callable[[Spec], object]  # reads that back from a Spec
    default: object  # what a Spec holds when nothing sets it (None: an index's key, with no default index)


def _every_key() -> list[Setting]:
    """Each key a buildspec can set, walked from the key table."""
    found: list[Setting] = []
    defaults = Spec(source="defaults")
    for name, row in rows(Spec):
        default = getattr(defaults, name)
        if row.kind == "table":
            assert row.entry is not None
            found += [Setting(f"{row.path}.{r.path}", r, _document(f"{row.path}.{r.path}", r.example),
                              r.convert(r.example), lambda s, name=name, inner=inner: getattr(getattr(s, name), inner),
                              getattr(default, inner))
                      for inner, r in rows(row.entry)]
        elif row.kind == "entries":  # an index needs all its keys: each is written with the others
            assert row.entry is not None
            entry = next(iter(row.example))
            written = _document(row.path, {entry: {path: r.example for path, (_, r) in by_path(row.entry).items()}})
            found += [Setting(f"{row.path}.{entry}.{path}", r, written, r.convert(r.example),
                              lambda s, name=name, entry=entry, inner=inner: getattr(getattr(s, name)[entry], inner),
                              None)
                      for path, (inner, r) in by_path(row.entry).items()]
        elif row.kind == "names":
            found.append(Setting(row.path, row, _document(row.path, row.example), {**default, **row.example},
                                 lambda s, name=name: getattr(s, name), default))
        else:
            found.append(Setting(row.path, row, _document(row.path, row.example), row.convert(row.example),
                                 lambda s, name=name: getattr(s, name), default))
    return found


KEYS = _every_key()


def test_the_table_has_every_key_a_buildspec_can_set() -> None:
    paths = [key.path for key in KEYS]
    assert len(paths) == len(set(paths)) == 31
    assert {"store", "routing.final", "s3.endpoint-url", "publish.max-wait", "limits.member-size", "runners",
            "checks", "indexes.corp.password-env", "indexes.corp.username"} <= set(paths)


@pytest.mark.parametrize("key", KEYS, ids=[key.path for key in KEYS])
def test_every_key_is_defaulted_layered_and_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      key: Setting) -> None:
    monkeypatch.setenv("WHEELSHIP_PYPIRC", str(tmp_path / "no-pypirc"))
    if key.default is not None:
        assert key.read(load_spec(None, None)) == key.default
    assert key.held != key.default, "the key's example changes what the Spec holds"
    assert key.read(load_spec(None, _spec(tmp_path, key.written))) == key.held
    bad = 3 if key.row.kind in ("names", "entries") else {"not": "this"}
    with pytest.raises(UsageError) as info:
        load_spec(None, _spec(tmp_path, _document(key.path, bad)))
    assert f"spec.toml: {key.path} = " in info.value.message and "expected" in info.value.message


@pytest.mark.parametrize("row", [row for _, row in rows(Spec) if row.from_environment], ids=lambda row: row.path)
def test_every_top_level_value_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            row: Key) -> None:
    monkeypatch.setenv("WHEELSHIP_PYPIRC", str(tmp_path / "no-pypirc"))
    example = row.example
    monkeypatch.setenv(env_name(row.path), ",".join(example) if isinstance(example, list) else example)
    name = next(name for name, r in rows(Spec) if r is row)
    assert getattr(load_spec(None, None), name) == row.convert(example)
