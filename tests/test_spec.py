"""Buildspec resolution and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.spec import load_spec


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("WHEELSHIP_CONFIG", "WHEELSHIP_STORE", "WHEELSHIP_KIND", "WHEELSHIP_TEST_COMMAND",
                "WHEELSHIP_IMPORT_NAMES", "WHEELSHIP_SLICES"):
        monkeypatch.delenv(key, raising=False)


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
