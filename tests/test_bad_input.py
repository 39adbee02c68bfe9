"""Every bad input: a clear message, its own exit code, no traceback, nothing uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import (
    BuildFailed,
    UsageError,
    VerificationFailed,
    VersionMismatch,
)
from tests.conftest import copy_project, index_files

pytestmark = pytest.mark.integration


def _nothing_uploaded(box) -> None:  # type: ignore[no-untyped-def]
    assert index_files(box, "testpypi") == {}
    assert index_files(box, "pypi") == {}


def _release(cli, project: Path, *args: str | Path):  # type: ignore[no-untyped-def]
    result = cli("release", project, *args)
    assert "Traceback" not in result.text
    return result


def test_a_tag_that_is_not_a_version(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path)
    result = _release(cli, project, "--tag", "release-one", "--store", file_store)
    assert result.code == VersionMismatch.exit_code
    assert "tag 'release-one' is not a version" in result.err
    assert "v1.2.3rc1" in result.err  # shows accepted forms
    _nothing_uploaded(sandbox_env)


def test_a_tag_whose_version_differs_from_the_project(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("cext", tmp_path)
    result = _release(cli, project, "--tag", "v9.9.9", "--store", file_store)
    assert result.code == VersionMismatch.exit_code
    assert "tag 'v9.9.9' says version 9.9.9, but pyproject.toml [project].version says 0.1.0rc1" in result.err
    _nothing_uploaded(sandbox_env)


def test_a_folder_with_no_build_configuration(cli, sandbox_env, file_store, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _release(cli, empty, "--tag", "v1.0.0", "--store", file_store)
    assert result.code == UsageError.exit_code
    assert "has no build configuration (no pyproject.toml or setup.py)" in result.err
    _nothing_uploaded(sandbox_env)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('test-comand = "pytest"\n', "unknown key test-comand (did you mean 'test-command'?)"),
        ('slices = "linux-x86_64"\n', "slices = 'linux-x86_64': expected a list drawn from sdist, pure"),
        ('kind = "binary"\n', "kind = 'binary': expected one of 'auto', 'pure', 'native'"),
        ("[publish]\nattempts = -1\n", "publish.attempts = -1: expected a positive whole number"),
        ('store = "s3://b/p"\nimport-names = [\n', "is not valid TOML"),
    ],
    ids=["unknown-key", "wrong-type", "bad-value", "bad-number", "broken-toml"],
)
def test_a_bad_buildspec(cli, sandbox_env, file_store, tmp_path, text, expected):
    project = copy_project("purepkg", tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    result = _release(cli, project, "--tag", "v1.0.0", "--spec", spec, "--store", file_store)
    assert result.code == UsageError.exit_code
    assert expected in result.err
    assert str(spec) in result.err
    _nothing_uploaded(sandbox_env)


def test_broken_toml_names_the_line(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text('kind = "pure"\nstore = \n')
    result = _release(cli, project, "--tag", "v1.0.0", "--spec", spec, "--store", file_store)
    assert result.code == UsageError.exit_code
    assert "line 2" in result.err
    assert str(spec) in result.err
    _nothing_uploaded(sandbox_env)


def test_a_buildspec_in_pyproject_is_validated_with_its_key_path(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path)
    with (project / "pyproject.toml").open("a") as fh:
        fh.write('\n[tool.wheelship]\nimport-name = ["purepkg"]\n')
    result = _release(cli, project, "--tag", "v1.0.0", "--store", file_store)
    assert result.code == UsageError.exit_code
    assert "unknown key tool.wheelship.import-name (did you mean 'import-names'?)" in result.err


def test_an_unknown_index(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path)
    result = _release(cli, project, "--tag", "v1.0.0", "--index", "tespypi", "--store", file_store)
    assert result.code == UsageError.exit_code
    assert "unknown index 'tespypi' (did you mean 'testpypi'?)" in result.err
    _nothing_uploaded(sandbox_env)


def test_an_unset_password_variable_is_found_before_building(cli, sandbox_env, file_store, tmp_path, monkeypatch):
    monkeypatch.delenv("WHEELSHIP_SANDBOX_PYPI_TOKEN")
    project = copy_project("purepkg", tmp_path)
    result = _release(cli, project, "--tag", "v1.0.0", "--store", file_store)
    assert result.code == UsageError.exit_code
    assert "no credentials for index 'pypi': $WHEELSHIP_SANDBOX_PYPI_TOKEN is not set" in result.err
    assert "── build" not in result.err
    assert not list((tmp_path / "store").rglob("files/*"))  # nothing was built or stored
    _nothing_uploaded(sandbox_env)


def test_a_build_that_fails_shows_the_compiler_error(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("broken-build", tmp_path)
    result = _release(cli, project, "--tag", "v1.0.0", "--store", file_store)
    assert result.code == BuildFailed.exit_code
    assert "building" in result.err and "failed" in result.err
    assert "_impl.c" in result.err and "error" in result.err  # the tail of the compiler's log
    assert "build logs are kept in" in result.err
    _nothing_uploaded(sandbox_env)


def test_a_failing_test_command_stops_the_release(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text("test-command = \"python -c 'import purepkg, sys; sys.exit(purepkg.greet(\\\"x\\\"))'\"\n")
    result = _release(cli, project, "--tag", "v1.0.0", "--spec", spec, "--store", file_store)
    assert result.code == VerificationFailed.exit_code
    assert "WS305 test-command [error]" in result.err and "exited 1" in result.err
    assert "hello, x" in result.err  # the command's own output
    _nothing_uploaded(sandbox_env)


def test_a_wheel_that_does_not_import_stops_the_release(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("import-error", tmp_path)
    result = _release(cli, project, "--tag", "v1.0.0", "--store", file_store)
    assert result.code == VerificationFailed.exit_code
    assert "WS302 import-failed [error]" in result.err
    assert "No module named 'importerror._generated'" in result.err
    _nothing_uploaded(sandbox_env)


@pytest.mark.parametrize("verbose", [False, True])
def test_an_internal_error_is_one_line_and_with_verbose_shows_where_with_secrets_masked(cli, monkeypatch, verbose):
    from pipeline import cli as cli_module
    from pipeline.redaction import register_secret

    secret = "pypi-internal-error-secret-1234567890"
    register_secret(secret)

    def broken(args):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"a bug holding {secret}")

    monkeypatch.setitem(cli_module.COMMANDS, "status", broken)
    result = cli("status", "demo", "1.0", *(["--verbose"] if verbose else []))
    assert result.code == 70
    assert "internal error: RuntimeError: a bug holding ***" in result.err
    assert secret not in result.err + result.out
    assert ("where it happened" in result.err and "in broken" in result.err) == verbose
