"""A known token, accepted, rejected, and echoed back by the index, is never shown or stored."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest

from pipeline.errors import PublishFailed
from tests.conftest import BUILDSPECS, copy_project, index_files
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.integration


def _forms(token: str) -> list[str]:
    return [token, base64.b64encode(f"__token__:{token}".encode()).decode(),
            base64.b64encode(token.encode()).decode()]


def _assert_nowhere(token: str, *texts: str, folders: tuple[Path, ...] = ()) -> None:
    assert all(texts), "an empty output or log proves nothing"  # caplog does see wheelship's records
    for form in _forms(token):
        for text in texts:
            assert form not in text
        for folder in folders:
            for path in folder.rglob("*"):
                if path.is_file():
                    assert form.encode() not in path.read_bytes(), path


def _release(cli, tmp_path: Path, version: str, *extra: str):  # type: ignore[no-untyped-def]
    project = copy_project("purepkg", tmp_path, version=version)
    store = tmp_path / "store"
    report = tmp_path / "report.json"
    result = cli("release", project, "--tag", f"v{version}", "--spec", BUILDSPECS / "purepkg.toml",
                 "--store", f"file://{store}", "--json", report, "-v", *extra)
    return result, store, report


def test_an_accepted_token_is_in_no_output_log_record_report_or_object(cli, sandbox_env, tmp_path, caplog):
    token = sandbox_env.pypi.password
    with caplog.at_level(logging.DEBUG):
        result, store, report = _release(cli, tmp_path, "5.0.0")
    assert result.code == 0, result.err
    assert len(index_files(sandbox_env, "pypi")) == 2
    _assert_nowhere(token, result.text, caplog.text, report.read_text(), folders=(store,))
    assert "WHEELSHIP_SANDBOX_PYPI_TOKEN" in result.err  # says where it came from, not what it is


def test_a_token_from_pypirc_publishes_and_is_in_no_output(cli, sandbox_env, tmp_path, monkeypatch, caplog):
    token = sandbox_env.pypi.password
    pypirc = tmp_path / "pypirc"
    pypirc.write_text(f"[distutils]\nindex-servers = local\n\n[local]\nrepository = {sandbox_env.pypi.url}\n"
                      f"username = __token__\npassword = {token}\n")
    monkeypatch.setenv("WHEELSHIP_PYPIRC", str(pypirc))
    with caplog.at_level(logging.DEBUG):
        result, store, report = _release(cli, tmp_path, "5.1.0", "--index", "local")
    assert result.code == 0, result.err
    assert f"{pypirc} [local]" in result.err  # says where it came from, not what it is
    assert json.loads(report.read_text())["index"] == "local"
    assert len(index_files(sandbox_env, "pypi")) == 2
    _assert_nowhere(token, result.text, caplog.text, report.read_text(), folders=(store,))


def test_a_rejected_token_is_in_no_output(cli, sandbox_env, tmp_path, monkeypatch, caplog):
    token = "pypi-rejected-" + "x" * 40
    monkeypatch.setenv("WHEELSHIP_SANDBOX_PYPI_TOKEN", token)
    with caplog.at_level(logging.DEBUG):
        result, store, _report = _release(cli, tmp_path, "5.0.1")
    assert result.code == PublishFailed.exit_code
    assert "answered 403" in result.err or "answered 401" in result.err
    _assert_nowhere(token, result.text, caplog.text, folders=(store,))
    assert index_files(sandbox_env, "pypi") == {}


def test_an_index_that_echoes_the_credentials_gets_them_redacted(cli, sandbox_env, tmp_path, monkeypatch, caplog):
    token = sandbox_env.pypi.password
    with FaultProxy(sandbox_env.pypi.port, sandbox_env.pypi.packages) as proxy:
        proxy.faults.permanent = "echo-403"
        overlay = tmp_path / "echo.toml"
        overlay.write_text(Path(os.environ["WHEELSHIP_CONFIG"]).read_text().replace(
            sandbox_env.pypi.url, proxy.url))
        monkeypatch.setenv("WHEELSHIP_CONFIG", str(overlay))
        with caplog.at_level(logging.DEBUG):
            result, store, _report = _release(cli, tmp_path, "5.0.2")
    assert result.code == PublishFailed.exit_code
    assert "invalid credentials __token__:***" in result.err  # the index's own message, redacted
    _assert_nowhere(token, result.text, caplog.text, folders=(store,))
    assert json.dumps(result.err).count("***") >= 1


def test_a_release_already_on_the_index_ends_early_without_building(cli, sandbox_env, tmp_path):
    first, store, _ = _release(cli, tmp_path, "6.0.0")
    assert first.code == 0, first.err
    again = cli("release", tmp_path / "purepkg", "--tag", "v6.0.0", "--spec", BUILDSPECS / "purepkg.toml",
                "--store", f"file://{store}")
    assert again.code == 0, again.err
    assert "is already on pypi: all 2 files of run" in again.err
    assert "build: skipped, the release is already published" in again.err
    assert "slice sdist:" not in again.err
    assert len(list(store.rglob("plan.json"))) == 1  # no new run was stored


def test_a_trusted_publishing_token_is_minted_again_before_it_expires_and_masked(monkeypatch, capsys):
    from pipeline.credentials import TrustedCredentials
    from pipeline.redaction import redact
    from pipeline.spec import load_spec

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    now = [1000.0]
    minted: list[str] = []

    def mint(index):  # type: ignore[no-untyped-def]
        minted.append(f"pypi-trusted-token-{len(minted)}-abcdef")
        return minted[-1]

    creds = TrustedCredentials(load_spec(None, None).index("pypi"), mint=mint, clock=lambda: now[0])
    assert creds.password == minted[0]
    now[0] += 9 * 60
    assert creds.password == minted[0] and len(minted) == 1  # still fresh
    now[0] += 2 * 60  # 11 minutes: PyPI's token lives 15; mint before it lapses
    assert creds.password == minted[1] and len(minted) == 2
    out = capsys.readouterr().out
    assert out.splitlines() == [f"::add-mask::{minted[0]}", f"::add-mask::{minted[1]}"]
    assert redact(f"Authorization: {minted[0]} {minted[1]}") == "Authorization: *** ***"
    assert minted[0] not in repr(creds.__dict__.get("username")) and creds.describe() == "__token__ via trusted publishing"
