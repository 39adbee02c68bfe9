"""Repositories and passwords from ~/.pypirc, read as twine reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import credentials
from pipeline.cli import main
from pipeline.errors import UsageError
from pipeline.indexes import IndexConfig
from pipeline.spec import load_spec

PYPIRC = """\
[distutils]
index-servers =
    pypi
    corp

[pypi]
username = __token__
password = pypi-from-the-file-0123456789

[corp]
repository = https://pkgs.corp.example/api/pypi/releases
username = ci-bot
password = c0rp%secret-0123456789
"""


@pytest.fixture
def pypirc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("WHEELSHIP_CONFIG", "CORP_API_TOKEN", "PYPI_API_TOKEN", "TWINE_USERNAME", "TWINE_PASSWORD",
                "ACTIONS_ID_TOKEN_REQUEST_URL"):
        monkeypatch.delenv(key, raising=False)
    path = tmp_path / "pypirc"
    path.write_text(PYPIRC)
    monkeypatch.setenv("WHEELSHIP_PYPIRC", str(path))
    return path


def test_a_pypirc_repository_is_an_index_listed_beside_its_upload_url(pypirc: Path) -> None:
    spec = load_spec(None, None)
    corp = spec.index("corp")
    assert corp.upload_url == "https://pkgs.corp.example/api/pypi/releases"
    assert corp.simple_url == "https://pkgs.corp.example/api/pypi/releases/simple/"
    assert corp.username == "ci-bot" and corp.password_env == "CORP_API_TOKEN"
    assert spec.index("pypi").upload_url == "https://upload.pypi.org/legacy/"
    assert spec.index("pypi").simple_url == "https://pypi.org/simple/"
    assert "c0rp%secret" not in repr(spec) and "pypi-from-the-file" not in repr(spec)  # passwords stay out


def test_the_buildspec_overrides_a_pypirc_repository(pypirc: Path, tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text('[indexes.corp]\nsimple-url = "https://pkgs.corp.example/api/pypi/releases/+simple/"\n')
    corp = load_spec(None, path).index("corp")
    assert corp.simple_url.endswith("/+simple/") and corp.upload_url.endswith("/releases")


def test_the_file_password_is_used_after_the_variables_and_only_for_its_own_url(
        pypirc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(None, None)
    found = credentials.find(spec.index("corp"))
    assert found is not None and found.username == "ci-bot" and found.password == "c0rp%secret-0123456789"
    assert found.source == f"{pypirc} [corp]"
    assert "c0rp%secret" not in credentials.redact("the index said: c0rp%secret-0123456789")

    monkeypatch.setenv("TWINE_PASSWORD", "twine-wins-0123456789")
    assert credentials.require(spec.index("corp")).source == "TWINE_PASSWORD"
    monkeypatch.setenv("CORP_API_TOKEN", "variable-wins-0123456789")
    assert credentials.require(spec.index("corp")).source == "CORP_API_TOKEN"

    # an index called pypi that uploads elsewhere (the sandbox, a mirror) never gets PyPI's password
    monkeypatch.delenv("CORP_API_TOKEN")
    monkeypatch.delenv("TWINE_PASSWORD")
    elsewhere = IndexConfig(name="pypi", upload_url="http://127.0.0.1:9/", simple_url="http://127.0.0.1:9/simple/",
                            username="__token__", password_env="PYPI_API_TOKEN")
    assert credentials.find(elsewhere) is None
    assert credentials.find(spec.index("pypi")).source == f"{pypirc} [pypi]"  # type: ignore[union-attr]


def test_without_index_servers_only_pypi_and_testpypi_count(pypirc: Path) -> None:
    pypirc.write_text("[corp]\nrepository = https://pkgs.corp.example/\n\n[testpypi]\npassword = t-0123456789\n")
    spec = load_spec(None, None)
    assert "corp" not in spec.indexes
    assert spec.index("testpypi").upload_url == "https://test.pypi.org/legacy/"


@pytest.mark.parametrize(("text", "message"), [
    ("[distutils\nindex-servers = corp\n", "cannot be read: File contains no section headers"),
    ("[distutils]\nindex-servers = corp\n", "repository 'corp' is listed in index-servers but has no repository URL"),
    ("[distutils]\nindex-servers = corp\n[corp]\nrepository = ftp://x\n", "repository = 'ftp://x' is not an http"),
])
def test_a_bad_pypirc_is_a_usage_error_naming_the_file(pypirc: Path, capsys: pytest.CaptureFixture[str],
                                                         text: str, message: str) -> None:
    pypirc.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_spec(None, None)
    code = main(["status", "anything", "1.0", "--store", f"file://{pypirc.parent / 'store'}"])
    err = capsys.readouterr().err
    assert code == UsageError.exit_code and str(pypirc) in err and message.split(":")[0] in err
    assert "Traceback" not in err


def test_no_pypirc_means_only_the_built_in_indexes(pypirc: Path) -> None:
    pypirc.unlink()
    assert set(load_spec(None, None).indexes) == {"pypi", "testpypi"}
