"""A build backend that fails: its own last words in the error (exit 4), and its whole
output in the log the error names; a backend never sees the maintainer's credentials.

Each project here has an in-tree backend (``backend-path``) with no build requirements,
so nothing is fetched: it prints whether it sees TWINE_PASSWORD in every hook, and, in
the hook it is told to, prints a distinctive line to stderr and fails.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import kind
from pipeline.builders import BuildJob, append_output, tail
from pipeline.builders.local import LocalBuilder
from pipeline.errors import BuildFailed
from pipeline.planning import PURE, SDIST
from pipeline.project import load_project

LAST_WORDS = "flex: exec of /usr/bin/m4 failed (the wheelship test backend in {hook})"

BACKEND = '''
"""A PEP 517 backend for tests: says whether it sees a credential, fails where told."""
import io, os, sys, tarfile, zipfile
from pathlib import Path

NAME, DIST, VERSION = "ws-broken-backend", "ws_broken_backend", "1.0.0"
FAIL_IN = {fail_in!r}
LAST_WORDS = {last_words!r}
METADATA = f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"


def _hook(name):
    seen = "set" if "TWINE_PASSWORD" in os.environ else "unset"
    print(f"{{name}}: TWINE_PASSWORD is {{seen}}", file=sys.stderr, flush=True)
    if name == FAIL_IN:
        print("a line on stdout before the failure", flush=True)
        if name == "get_requires_for_build_wheel":  # a plugin's exception, as coherent.licensed's URLError
            raise RuntimeError(LAST_WORDS.format(hook=name))
        print(LAST_WORDS.format(hook=name), file=sys.stderr, flush=True)
        sys.exit(1)


def get_requires_for_build_wheel(config_settings=None):
    _hook("get_requires_for_build_wheel")
    return []


def get_requires_for_build_sdist(config_settings=None):
    _hook("get_requires_for_build_sdist")
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _hook("prepare_metadata_for_build_wheel")
    info = Path(metadata_directory) / f"{{DIST}}-{{VERSION}}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(METADATA)
    return info.name


def build_sdist(sdist_directory, config_settings=None):
    _hook("build_sdist")
    top = f"{{DIST}}-{{VERSION}}"
    with tarfile.open(Path(sdist_directory) / f"{{top}}.tar.gz", "w:gz") as tar:
        for path in ("pyproject.toml", "backend/broken_backend.py", "ws_broken_backend/__init__.py"):
            tar.add(path, f"{{top}}/{{path}}")
        info = tarfile.TarInfo(f"{{top}}/PKG-INFO")
        info.size = len(METADATA.encode())
        tar.addfile(info, io.BytesIO(METADATA.encode()))
    return f"{{top}}.tar.gz"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _hook("build_wheel")
    name = f"{{DIST}}-{{VERSION}}-py3-none-any.whl"
    info = f"{{DIST}}-{{VERSION}}.dist-info"
    with zipfile.ZipFile(Path(wheel_directory) / name, "w") as wheel:
        wheel.writestr(f"{{DIST}}/__init__.py", "")
        wheel.writestr(f"{{info}}/METADATA", METADATA)
        wheel.writestr(f"{{info}}/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        wheel.writestr(f"{{info}}/RECORD", "")
    return name
'''


def _project(tmp_path: Path, fail_in: str | None) -> Path:
    """A project with a dynamic version, so that wheelship asks the backend's metadata hook."""
    root = tmp_path / "ws-broken-backend"
    (root / "backend").mkdir(parents=True)
    (root / "ws_broken_backend").mkdir()
    (root / "ws_broken_backend" / "__init__.py").write_text("")
    (root / "backend" / "broken_backend.py").write_text(BACKEND.format(fail_in=fail_in, last_words=LAST_WORDS))
    (root / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = []
        build-backend = "broken_backend"
        backend-path = ["backend"]

        [project]
        name = "ws-broken-backend"
        dynamic = ["version"]
        """))
    return root


def _named_log(text: str) -> Path:
    """The log file an error message names ("the end of LOG:")."""
    found = re.search(r"the end of (\S+\.log):", text)
    assert found, text
    return Path(found.group(1))


# --- through the command a maintainer runs -----------------------------------------------


def _release(cli, project: Path, tmp_path: Path, store: str, *args: str):  # type: ignore[no-untyped-def]
    result = cli("release", project, "--tag", "v1.0.0", "--dry-run", "--store", store,
                 "--workdir", tmp_path / "work", *args)
    assert "Traceback (most recent call last)" not in result.out
    return result


@pytest.mark.integration
@pytest.mark.parametrize("hook", ["get_requires_for_build_sdist", "build_sdist", "get_requires_for_build_wheel",
                                  "build_wheel"])
def test_a_backend_failing_while_the_plan_builds_shows_its_own_error(cli, sandbox_env, file_store, tmp_path,
                                                                      monkeypatch, hook):
    """A dynamic version and a kind only a wheel shows: the plan builds the sdist and a
    wheel from it, and whichever hook fails, says so in the backend's own words."""
    monkeypatch.setenv("TWINE_PASSWORD", "pypi-not-for-backends")
    project = _project(tmp_path, hook)
    result = _release(cli, project, tmp_path, file_store)
    assert result.code == BuildFailed.exit_code, result.err
    said = LAST_WORDS.format(hook=hook)
    assert "building the sdist and a wheel from it failed" in result.err
    assert said in result.err  # the backend's own error, not only the frontend's exit status
    assert f"broken_backend.{hook}` failed" in result.err  # the frontend names the hook
    log = _named_log(result.err)
    assert log == tmp_path / "work" / "sdist.log"
    held = log.read_text(encoding="utf-8")
    assert said in held and "a line on stdout before the failure" in held
    assert f"{hook}: TWINE_PASSWORD is unset" in held and "is set" not in held
    assert f"build logs are kept in {tmp_path / 'work'}" in result.err


def test_a_backend_failing_in_its_metadata_hook_shows_its_own_error(tmp_path, credentials):
    """The metadata hook (the publish job's `load` asks it of a checkout) fails: its
    own last words, the hook named, and its whole output in the log."""
    log = tmp_path / "work" / "metadata-hook.log"
    with pytest.raises(BuildFailed) as failed:
        load_project(_project(tmp_path, "get_requires_for_build_wheel"), log_file=log)
    said = LAST_WORDS.format(hook="get_requires_for_build_wheel")
    assert said in failed.value.message
    assert "in its get_requires_for_build_wheel hook (exit 1)" in failed.value.message
    assert "returned non-zero exit status" not in failed.value.message
    assert _named_log(failed.value.message) == log
    held = log.read_text(encoding="utf-8")
    assert said in held and "a line on stdout before the failure" in held
    assert "get_requires_for_build_wheel: TWINE_PASSWORD is unset" in held


# --- each place wheelship runs a backend, called as a function ----------------------------


CREDENTIALS = {"TWINE_PASSWORD": "pypi-not-for-backends", "PYPI_API_TOKEN": "pypi-also-not",
               "AWS_SECRET_ACCESS_KEY": "not-for-backends-either"}


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def test_the_metadata_hook_sees_no_credential_and_keeps_its_output(tmp_path, credentials):
    log = tmp_path / "work" / "metadata-hook.log"
    project = load_project(_project(tmp_path, None), log_file=log)
    assert (project.name, str(project.version)) == ("ws-broken-backend", "1.0.0")
    held = log.read_text(encoding="utf-8")
    assert "prepare_metadata_for_build_wheel: TWINE_PASSWORD is unset" in held
    assert "is set" not in held


def test_without_a_log_path_the_metadata_hook_leaves_no_folder_behind(tmp_path, credentials, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    load_project(_project(tmp_path, None))
    assert not list((tmp_path / "tmp").glob("wheelship-metadata-*"))


def test_a_backend_that_cannot_be_imported_shows_why(tmp_path):
    project = _project(tmp_path, None)
    (project / "backend" / "broken_backend.py").write_text("raise ImportError('no module named flit_scm_plugin')\n")
    log = tmp_path / "work" / "metadata-hook.log"
    with pytest.raises(BuildFailed) as failed:
        load_project(project, log_file=log)
    assert "no module named flit_scm_plugin" in failed.value.message
    assert "no module named flit_scm_plugin" in log.read_text(encoding="utf-8")


def test_a_build_requirement_that_cannot_be_installed_shows_the_installers_error(tmp_path):
    project = _project(tmp_path, None)
    missing = tmp_path / "no-such-folder"
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("requires = []", f'requires = ["helper @ {missing.as_uri()}"]'))
    log = tmp_path / "work" / "metadata-hook.log"
    with pytest.raises(BuildFailed) as failed:
        load_project(project, log_file=log)
    assert "could not be installed" in failed.value.message
    assert str(missing) in failed.value.message.split("the end of", 1)[1]  # uv's own words, from the log
    assert str(missing) in log.read_text(encoding="utf-8")


def _sdist_job(tmp_path: Path, fail_in: str | None) -> BuildJob:
    """The job that builds the test backend's sdist into tmp_path/dist, logs in tmp_path/logs."""
    out, logs = tmp_path / "dist", tmp_path / "logs"
    out.mkdir()
    logs.mkdir()
    return BuildJob(project_dir=_project(tmp_path, fail_in), slice=SDIST, sdist=None, outdir=out, logdir=logs,
                    native=False, requires_python=None, test_command=None, smoke_test="", source_date_epoch=None)


def test_the_plans_build_sees_no_credential_and_tells_the_kind(tmp_path, credentials):
    job = _sdist_job(tmp_path, None)
    out, logs = job.outdir, job.logdir
    sdist, wheel = LocalBuilder().sdist_and_wheel(job)
    assert (sdist.path.name, wheel.path.name) == ("ws_broken_backend-1.0.0.tar.gz",
                                                  "ws_broken_backend-1.0.0-py3-none-any.whl")
    assert wheel.built_from == sdist.path and sdist.path.parent == wheel.path.parent == out
    native, why = kind.of_wheel(wheel.path)
    assert not native and "py3-none-any" in why
    held = (logs / "sdist.log").read_text(encoding="utf-8")
    assert "build_wheel: TWINE_PASSWORD is unset" in held and "is set" not in held


def test_the_local_builder_sees_no_credential(tmp_path, credentials):
    job = _sdist_job(tmp_path, None)
    logs = job.logdir
    [built] = LocalBuilder().build(job)
    assert built.path.name == "ws_broken_backend-1.0.0.tar.gz"
    held = (logs / "sdist.log").read_text(encoding="utf-8")
    assert "build_sdist: TWINE_PASSWORD is unset" in held and "is set" not in held


def test_a_backend_failing_in_build_wheel_shows_its_own_error_from_the_local_builder(tmp_path, credentials):
    """A build job (the plan built nothing there) builds the pure wheel from the run's sdist."""
    job = _sdist_job(tmp_path, "build_wheel")
    logs = job.logdir
    [sdist] = LocalBuilder().build(job)
    with pytest.raises(BuildFailed) as failed:
        LocalBuilder().build(replace(job, slice=PURE, sdist=sdist.path))
    said = LAST_WORDS.format(hook="build_wheel")
    assert "building py3-none-any failed (exit" in failed.value.message
    assert said in failed.value.message
    log = _named_log(failed.value.message)
    assert log == logs / "py3-none-any.log"
    held = log.read_text(encoding="utf-8")
    assert said in held and "build_wheel: TWINE_PASSWORD is unset" in held and "is set" not in held
    assert "build_sdist: TWINE_PASSWORD is unset" in (logs / "sdist.log").read_text(encoding="utf-8")


def test_a_log_is_read_as_utf8_whatever_the_platform_says(tmp_path):
    log = tmp_path / "step.log"
    append_output(log, "$ build", "x\n" * 50, "café ✓\n".encode(), b"bad byte \xff here")
    shown = tail(log)
    assert shown.count("\n") == 39  # the last 40 lines
    assert "    café ✓\n    bad byte \ufffd here" in shown
    assert tail(tmp_path / "missing.log") == "    (no log)"


@pytest.mark.parametrize(("requirement", "named"), [("helper @ {missing}", "no-such-folder"),
                                                   ("ws-no-such-build-requirement==1.0", "ws-no-such-build-requirement")])
def test_a_build_requirement_the_frontend_cannot_install_says_so_in_the_hint(tmp_path, requirement, named):
    job = _sdist_job(tmp_path, None)
    pyproject = job.project_dir / "pyproject.toml"
    wanted = requirement.format(missing=(tmp_path / "no-such-folder").as_uri())
    pyproject.write_text(pyproject.read_text().replace("requires = []", f"requires = [{wanted!r}]".replace("'", '"')))
    with pytest.raises(BuildFailed) as failed:
        LocalBuilder().build(job)
    assert failed.value.hint is not None
    assert failed.value.hint.startswith("check that every build requirement (and version) exists on your package index")
    assert named in failed.value.message  # uv's own words, from the log
