"""The runners and hosts users have: Windows' text defaults, custom runner labels,
folder stores and file URLs on every OS, and macOS or Windows hosts outside CI.

Nothing here can run a Windows or macOS runner, so Windows' text defaults are reproduced
on Linux (an ASCII locale with UTF-8 mode off is stricter than cp1252: it cannot encode
"❌" either), and the OS is patched where wheelship asks which one it runs on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath

import pytest

from pipeline import cibwconfig, interpreters
from pipeline.builders.cibw import CibuildwheelBuilder
from pipeline.records import Slice
from pipeline.stages import plan as plan_stage
from pipeline.stores import folder_of, open_store
from tests.conftest import run_subprocess
from tests.test_backend_errors import BACKEND, _project

#: Windows' defaults, as near as Linux gets: no UTF-8 mode, a locale that is not UTF-8.
NOT_UTF8 = {"PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": ""}
NON_ASCII = "🍹 Built wheel ─ 構築しました {hook}"


def _non_ascii_project(tmp_path: Path, fail_in: str | None) -> Path:
    """The in-tree test backend, printing a line maturin, a compiler or a translated tool
    might print (emoji, box drawing, Japanese), and failing where told."""
    root = _project(tmp_path, fail_in)
    (root / "backend" / "broken_backend.py").write_text(
        BACKEND.format(fail_in=fail_in, last_words=NON_ASCII), encoding="utf-8")
    return root


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    summary = tmp_path / "summary.md"
    return {**os.environ, **NOT_UTF8, "GITHUB_STEP_SUMMARY": str(summary), **more}


def test_a_failed_build_job_keeps_its_message_and_summary_without_utf8(tmp_path):
    project = _non_ascii_project(tmp_path, None)
    result = run_subprocess("build", project, "--run-id", "gh1-1", "--store", f"file://{tmp_path / 'store'}",
                            "--workdir", tmp_path / "work", env=_env(tmp_path))
    assert result.code == 8, result.err  # no such run: a store error, not an internal one
    assert "internal error" not in result.err and "UnicodeEncodeError" not in result.err
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "### ❌ wheelship build failed" in summary and "(exit 8)" in summary


@pytest.mark.integration
def test_a_backend_printing_non_ascii_builds_and_fails_cleanly_without_utf8(sandbox_env, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('kind = "pure"\n[checks]\nWS502 = "off"\n')
    ok = _non_ascii_project(tmp_path / "ok", None)
    passed = run_subprocess("release", ok, "--tag", "v1.0.0", "--dry-run", "--spec", spec, "--store",
                            f"file://{tmp_path / 'store'}", "--workdir", tmp_path / "work-ok", env=_env(tmp_path))
    assert passed.code == 0, passed.err
    broken = _non_ascii_project(tmp_path / "broken", "build_wheel")
    failed = run_subprocess("release", broken, "--tag", "v1.0.0", "--dry-run", "--spec", spec, "--store",
                            f"file://{tmp_path / 'store2'}", "--workdir", tmp_path / "work", env=_env(tmp_path))
    assert failed.code == 4, failed.err  # the build error, with the backend's last words
    assert "internal error" not in failed.err
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert NON_ASCII.format(hook="build_wheel") in summary  # written as UTF-8, whatever the code page
    log = (tmp_path / "work" / "sdist.log").read_text(encoding="utf-8")  # the plan builds both files
    assert NON_ASCII.format(hook="build_wheel") in log


def test_a_slice_on_its_own_runner_is_built_by_what_the_host_is_not_its_label():
    """[runners] may name any label: the plan's assignment stands, and the builder checks
    the host's OS and arch (this Linux x86_64 host), never the label."""
    assert cibwconfig.host_arch_for("linux", "x86_64") == "x86_64"
    assert cibwconfig.host_arch_for("linux", "i686") == "x86_64"
    assert cibwconfig.host_arch_for("macos", "universal2") == "arm64"
    assert cibwconfig.host_arch_for("windows", "x86") == "AMD64"
    custom = Slice(name="linux-x86_64", platform="linux", arch="x86_64", runner="my-linux-runner",
                   identifiers=("cp312-manylinux_x86_64",))
    reason = CibuildwheelBuilder().cannot_build(custom, Path("tests/projects/cext").resolve())
    assert reason is None or "runner" not in reason, reason
    other = Slice(name="windows-ARM64", platform="windows", arch="ARM64", runner="my-windows-arm-runner",
                  identifiers=("cp312-win_arm64",))
    assert "built on a my-windows-arm-runner runner" in str(CibuildwheelBuilder().cannot_build(other, Path(".")))


def test_folder_stores_keep_posix_keys_and_resolve_their_root(tmp_path):
    real = tmp_path / "real"
    (real / "p" / "1.0" / "r1").mkdir(parents=True)
    (real / "p" / "1.0" / "r1" / "plan.json").write_text("{}")
    link = tmp_path / "link"
    link.symlink_to(real)  # as macOS's /tmp and /var/folders are
    store = open_store(link.as_uri())
    assert store.list("p/1.0/") == ["p/1.0/r1/plan.json"]
    assert all("\\" not in key and PurePosixPath(key).as_posix() == key for key in store.list(""))


@pytest.mark.parametrize(("url", "folder"), [
    ("file:///C:/x/store", "C:/x/store"),          # RFC 8089, what Path.as_uri() makes on Windows
    ("file://C:/x/store", "C:/x/store"),
    ("file:///home/me/my%20store", "/home/me/my store"),
    ("file:///tmp/store", "/tmp/store"),
    ("file://.wheelship/store", ".wheelship/store"),  # the relative form wheelship has always taken
    ("file://localhost/srv/store", "/srv/store"),
])
def test_file_urls_follow_rfc_8089_and_the_old_form(url, folder):
    assert folder_of(url) == Path(folder)


def test_environments_are_found_on_every_os(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "win32")
    assert interpreters.venv_python(tmp_path) == tmp_path / "Scripts" / "python.exe"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert interpreters.venv_python(tmp_path) == tmp_path / "bin" / "python"


@pytest.mark.parametrize(("system", "narrowed"), [("Linux", True), ("Darwin", False), ("Windows", False)])
def test_auto_is_cibuildwheel_for_the_hosts_slice_on_macos_and_windows(monkeypatch, system, narrowed):
    monkeypatch.setattr(plan_stage.platform, "system", lambda: system)
    assert plan_stage.local_builds("auto") is narrowed
    assert plan_stage.local_builds("local") is True and plan_stage.local_builds("cibuildwheel") is False
