"""The project's cibuildwheel configuration is the authority, and cibuildwheel's real
Linux path runs here in Podman with the locally made image (`make manylinux-image`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cibwconfig, interpreters
from pipeline.builders import cibw
from pipeline.planning import slice_kinds
from tests.conftest import BUILDSPECS, ROOT, UV, copy_project, index_files, run_subprocess

IMAGE = "localhost/wheelship-manylinux:local"


def _project(tmp_path: Path, cibuildwheel_toml: str) -> Path:
    project = copy_project("cext", tmp_path)
    with (project / "pyproject.toml").open("a") as fh:
        fh.write("\n" + cibuildwheel_toml)
    return project


def _identifiers(platform: str, arch: str, project: Path) -> list[str]:
    return subprocess.run([sys.executable, "-m", "cibuildwheel", "--print-build-identifiers", "--platform", platform,
                           "--archs", arch, "."], cwd=project, capture_output=True, text=True,
                          check=True).stdout.split()


# --- archs: every one the project selects is planned, none it excluded --------------------


def test_default_archs_plan_each_platforms_native_runners_and_windows_x86():
    kinds = {k.name: (k.runner, k.qemu) for k in slice_kinds(ROOT / "tests" / "projects" / "cext")}
    assert kinds == {
        "linux-x86_64": ("ubuntu-latest", False), "linux-aarch64": ("ubuntu-24.04-arm", False),
        "macos-x86_64": ("macos-15-intel", False), "macos-arm64": ("macos-latest", False),
        "windows-AMD64": ("windows-latest", False), "windows-ARM64": ("windows-11-arm", False),
        "windows-x86": ("windows-latest", False),  # cibuildwheel's `auto` on Windows x64 includes x86
    }


def test_archs_the_project_selects_are_planned_and_those_it_excludes_are_not(cli, sandbox_env, tmp_path, monkeypatch):
    project = _project(tmp_path, """
[tool.cibuildwheel]
skip = "*-musllinux_*"
[tool.cibuildwheel.linux]
archs = ["x86_64", "ppc64le"]
[tool.cibuildwheel.macos]
archs = ["universal2"]
[tool.cibuildwheel.windows]
archs = "AMD64"
""")
    monkeypatch.chdir(project)
    plan_json = tmp_path / "plan.json"
    result = cli("plan", project, "--spec", BUILDSPECS / "cext.toml", "--store", f"file://{tmp_path / 'store'}",
                 "--tag", "v0.1.0rc1", "--json", plan_json)
    assert result.code == 0, result.err
    slices = {s["name"]: s for s in json.loads(plan_json.read_text())["slices"]}
    # cext.toml's `slices` lists the usual six; the project's archs decide among them and add none it lists not
    assert set(slices) == {"sdist", "linux-x86_64", "windows-AMD64"}
    kinds = {k.name: k for k in slice_kinds(project)}
    assert set(kinds) == {"linux-x86_64", "linux-ppc64le", "macos-universal2", "windows-AMD64"}
    assert kinds["linux-ppc64le"].qemu and kinds["linux-ppc64le"].runner == "ubuntu-latest"
    assert kinds["macos-universal2"].runner == "macos-latest"
    assert slices["linux-x86_64"]["identifiers"] == _identifiers("linux", "x86_64", project)
    assert not any("musllinux" in i for i in slices["linux-x86_64"]["identifiers"])


def test_the_whole_plan_follows_the_projects_archs_with_qemu_for_emulated_ones(cli, sandbox_env, tmp_path,
                                                                               monkeypatch):
    project = _project(tmp_path, '[tool.cibuildwheel.linux]\narchs = "x86_64 s390x"\n'
                                 '[tool.cibuildwheel.macos]\narchs = "arm64 universal2"\n')
    (tmp_path / "all.toml").write_text('kind = "native"\nimport-names = ["cext"]\n')
    monkeypatch.setenv("CIBW_ARCHS_WINDOWS", "ARM64")  # the environment is the project's configuration too
    plan_json = tmp_path / "plan.json"
    result = cli("plan", project, "--spec", tmp_path / "all.toml", "--store", f"file://{tmp_path / 'store'}",
                 "--tag", "v0.1.0rc1", "--json", plan_json)
    assert result.code == 0, result.err
    slices = {s["name"]: s for s in json.loads(plan_json.read_text())["slices"]}
    assert set(slices) == {"sdist", "linux-x86_64", "linux-s390x", "macos-arm64", "macos-universal2",
                           "windows-ARM64"}
    assert slices["linux-s390x"]["qemu"] is True and slices["linux-s390x"]["runner"] == "ubuntu-latest"
    assert slices["linux-s390x"]["identifiers"] == _identifiers("linux", "s390x", project)
    assert slices["macos-universal2"]["identifiers"] == _identifiers("macos", "universal2", project)
    assert all(i.endswith("win_arm64") for i in slices["windows-ARM64"]["identifiers"])


def test_an_arch_wheelship_cannot_plan_is_a_usage_error(cli, sandbox_env, tmp_path):
    project = _project(tmp_path, '[tool.cibuildwheel.linux]\narchs = "x86_64 sparc"\n')
    result = cli("plan", project, "--spec", BUILDSPECS / "cext.toml", "--store", f"file://{tmp_path / 'store'}",
                 "--tag", "v0.1.0rc1")
    assert result.code == 2, result.err
    assert "sparc" in result.err and "Traceback" not in result.err


# --- the project's test command, frontend and engine stand ---------------------------------


def _opts(project: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return cibwconfig.options(project, "linux", env or {})


def test_a_test_command_set_only_in_the_linux_table_or_an_override_is_the_projects(tmp_path):
    linux = _project(tmp_path / "a", '[tool.cibuildwheel.linux]\ntest-command = "python -m cext.selftest"\n')
    override = _project(tmp_path / "b", '[[tool.cibuildwheel.overrides]]\nselect = "cp312-*"\n'
                                        'test-command = "pytest {project}/tests"\n')
    for project in (linux, override):
        assert cibwconfig.set_by_project(_opts(project), "test-command")
    assert _opts(linux).build_options("cp312-manylinux_x86_64").test_command == "python -m cext.selftest"
    plans = cibwconfig.test_plans(_opts(override), ("cp311-manylinux_x86_64", "cp312-manylinux_x86_64"), "x86_64",
                                  "the project's cibuildwheel test-command")
    assert plans["cp312-manylinux_x86_64"].command == "pytest {project}/tests"
    assert plans["cp311-manylinux_x86_64"].command is None
    assert "sets no test-command for cp311-manylinux_x86_64" in plans["cp311-manylinux_x86_64"].reason
    bare = _project(tmp_path / "c", "")
    assert not cibwconfig.set_by_project(_opts(bare), "test-command")
    assert cibwconfig.set_by_project(_opts(bare, {"CIBW_TEST_COMMAND_LINUX": "true"}), "test-command")


def test_test_skip_and_host_arch_decide_what_cibuildwheel_tests(tmp_path):
    project = _project(tmp_path, '[tool.cibuildwheel]\ntest-command = "true"\ntest-skip = "cp311-*"\n')
    ids = ("cp311-manylinux_x86_64", "cp312-manylinux_x86_64")
    plans = cibwconfig.test_plans(_opts(project), ids, "x86_64", "the project's")
    assert plans["cp311-manylinux_x86_64"].command is None
    assert plans["cp311-manylinux_x86_64"].reason == "cibuildwheel's test-skip (cp311-*) matches cp311-manylinux_x86_64"
    assert plans["cp312-manylinux_x86_64"].command == "true"
    mac = cibwconfig.test_plans(cibwconfig.options(project, "macos", {}), ("cp312-macosx_arm64",), "x86_64", "")
    assert "on an x86_64 host" in mac["cp312-macosx_arm64"].reason


def test_the_engine_wheelship_found_is_passed_unless_the_project_names_one(tmp_path, monkeypatch):
    project = _project(tmp_path, "")
    monkeypatch.setattr(cibw, "container_engine", lambda: ("podman", "docker does not answer; podman answers"))
    engine, why = cibw.engine_setting(_opts(project))
    assert engine == cibw.PODMAN and "podman answers" in why
    named = _project(tmp_path / "n", '[tool.cibuildwheel.linux]\ncontainer-engine = "docker"\n')
    assert cibw.engine_setting(_opts(named)) == (None, "the project's container-engine setting")
    assert cibw.engine_setting(_opts(project, {"CIBW_CONTAINER_ENGINE": "docker"}))[0] is None


# --- cibuildwheel's real Linux path, in Podman -------------------------------------------


@pytest.fixture(scope="module")
def manylinux_image() -> str:
    """The local image; `make test` makes it (and installs Podman) before pytest starts."""
    podman = shutil.which("podman")
    if podman is None or subprocess.run([podman, "image", "exists", IMAGE]).returncode != 0:
        pytest.fail(f"{IMAGE} is missing: run `make manylinux-image` (make test does)")
    return IMAGE


@pytest.fixture
def in_image(manylinux_image, monkeypatch):  # type: ignore[no-untyped-def]
    """A project setting a user would make to build in the local image: which builds, which image."""
    monkeypatch.setenv("CIBW_BUILD", "cp311-manylinux_x86_64 cp312-manylinux_x86_64")
    monkeypatch.setenv("CIBW_MANYLINUX_X86_64_IMAGE", manylinux_image)
    return manylinux_image


def _records(store_dir: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {a["name"]: a for path in store_dir.rglob("records/*.json")
            for a in json.loads(path.read_text())["artifacts"]}


def test_release_with_cibuildwheel_builds_and_tests_in_podman_and_publishes(cli, sandbox_env, tmp_path, in_image):
    project = copy_project("cext", tmp_path)
    store = tmp_path / "store"
    report = tmp_path / "report.json"
    result = cli("release", project, "--spec", BUILDSPECS / "cext.toml", "--tag", "v0.1.0rc1",
                 "--store", f"file://{store}", "--builder", "cibuildwheel", "--json", report)
    assert result.code == 0, result.err
    assert "slice linux-x86_64: the cibuildwheel builder (it was named)" in result.err
    assert "cibuildwheel's container engine: podman" in result.err
    assert "cibuildwheel tests with the buildspec's test-command" in result.err
    records = _records(store)
    wheels = {n: a for n, a in records.items() if n.endswith(".whl")}
    assert sorted(a["identifier"] for a in wheels.values()) == ["cp311-manylinux_x86_64", "cp312-manylinux_x86_64"]
    for wheel in wheels.values():
        assert wheel["builder"] == "cibuildwheel"
        assert wheel["tools"]["cibuildwheel"] and wheel["tools"]["image"] == in_image
        assert wheel["tools"]["container-engine"] == "podman"
        assert wheel["test"]["status"] == "passed" and "wheelship-demo-cext 1 2" in wheel["test"]["how"]
    on_index = index_files(sandbox_env, "testpypi")
    assert on_index == {f["name"]: f["sha256"] for f in json.loads(report.read_text())["files"]}
    env = tmp_path / "env"
    python312 = interpreters.by_tag("cp312")
    assert python312 is not None
    subprocess.run([UV, "venv", "-q", "--python", str(python312.path), str(env)], check=True)
    subprocess.run([UV, "pip", "install", "-q", "--python", str(env / "bin" / "python"), "--index-url",
                    sandbox_env.env()["WHEELSHIP_SANDBOX_TESTPYPI_SIMPLE"], "wheelship-demo-cext==0.1.0rc1"],
                   check=True)
    ran = subprocess.run([str(env / "bin" / "wheelship-demo-cext"), "2", "40"], capture_output=True, text=True)
    assert ran.returncode == 0 and "42" in ran.stdout


def test_test_skip_gives_an_untested_record_and_ws306_where_no_host_ran_it(sandbox_env, tmp_path, in_image):
    project = _project(tmp_path, '[tool.cibuildwheel]\ntest-skip = "cp312-*"\n[tool.cibuildwheel.linux]\n'
                                 'test-command = "python -c \\"import cext; print(\'project test ran\')\\""\n')
    shutil.copy(BUILDSPECS / "cext.toml", project / "wheelship.toml")
    store = tmp_path / "store"
    env = {**os.environ, "WHEELSHIP_STORE": f"file://{store}"}
    plan_json = tmp_path / "plan.json"
    assert run_subprocess("plan", ".", "--tag", "v0.1.0rc1", "--json", plan_json, env=env, cwd=project).code == 0
    run_id = json.loads(plan_json.read_text())["run_id"]
    assert run_subprocess("build", ".", "--run-id", run_id, "--slice", "sdist", env=env, cwd=project).code == 0
    built = run_subprocess("build", ".", "--run-id", run_id, "--slice", "linux-x86_64", "--builder", "cibuildwheel",
                           env={**env, "GITHUB_ACTIONS": "true"}, cwd=project)
    assert built.code == 0, built.err
    assert "building wheels from this run's stored sdist" in built.err
    # On GitHub, cibuildwheel's output is in the job's log, its steps in groups: the project's test ran once.
    assert "::group::Testing wheel..." in built.err or "::group::Building wheel..." in built.err
    assert [line for line in built.err.splitlines() if line.strip() == "project test ran"] == ["project test ran"]
    assert "cibuildwheel tests with the project's cibuildwheel test-command" in built.err
    tests = {a["identifier"]: a["test"] for a in _records(store).values() if a["kind"] == "wheel"}
    assert tests["cp311-manylinux_x86_64"]["status"] == "passed"
    assert "the project's cibuildwheel test-command" in tests["cp311-manylinux_x86_64"]["how"]
    assert tests["cp312-manylinux_x86_64"] == {**tests["cp312-manylinux_x86_64"], "status": "untested",
                                               "detail": "cibuildwheel's test-skip (cp312-*) matches "
                                                         "cp312-manylinux_x86_64"}
    # The publishing host has only CPython 3.11: the cp312 wheel has no test anywhere.
    empty = tmp_path / "no-pyenv"
    empty.mkdir()
    narrow = {**env, "PYENV_ROOT": str(empty), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    refused = run_subprocess("publish", "wheelship-demo-cext", "0.1.0rc1", "--run-id", run_id, "--index", "pypi",
                             "--verify", env=narrow, cwd=project)
    assert refused.code == 5, refused.err
    assert "WS306" in refused.err and "cp312-cp312-manylinux" in refused.err
    assert "test-skip (cp312-*) matches" in refused.err
    assert index_files(sandbox_env, "pypi") == {}


def test_auto_falls_back_to_the_local_builder_when_the_image_cannot_be_had(sandbox_env, tmp_path, monkeypatch):
    """A newcomer with an engine but no registry: `auto` says why and builds locally;
    `--builder cibuildwheel` fails with the reason. A build job without --slice builds
    what this host can and leaves the rest for their runners."""
    monkeypatch.setenv("CIBW_BUILD", "cp311-* cp312-*")
    monkeypatch.setenv("CIBW_SKIP", "*-musllinux_*")
    monkeypatch.delenv("CIBW_MANYLINUX_X86_64_IMAGE", raising=False)
    project = copy_project("cext", tmp_path)
    shutil.copy(BUILDSPECS / "cext.toml", project / "wheelship.toml")
    env = {**os.environ, "WHEELSHIP_STORE": f"file://{tmp_path / 'store'}"}
    plan_json = tmp_path / "plan.json"
    assert run_subprocess("plan", ".", "--tag", "v0.1.0rc1", "--json", plan_json, env=env, cwd=project).code == 0
    run_id = json.loads(plan_json.read_text())["run_id"]
    named = run_subprocess("build", ".", "--run-id", run_id, "--slice", "linux-x86_64", "--builder", "cibuildwheel",
                           env=env, cwd=project)
    assert named.code == 4, named.err
    assert "slice linux-x86_64 cannot be built on this host" in named.err and "Traceback" not in named.err
    built = run_subprocess("build", ".", "--run-id", run_id, env=env, cwd=project)
    assert built.code == 0, built.err
    engine, _ = cibw.container_engine()
    reason = "cannot pull quay.io/pypa/manylinux" if engine else "no container engine answers"
    assert "slice linux-x86_64: the local builder (cibuildwheel: " in built.err and reason in built.err
    assert "slice sdist: the local builder (the build frontend makes it the same on every host)" in built.err
    assert "slice macos-arm64 is left for its own runner (macos-latest)" in built.err


def test_runner_labels_come_from_the_buildspec_where_it_sets_them(cli, sandbox_env, tmp_path):
    project = copy_project("cext", tmp_path)
    (tmp_path / "spec.toml").write_text('kind = "native"\nimport-names = ["cext"]\n'
                                        '[runners]\nlinux-aarch64 = "arm-self-hosted"\nwindows-ARM64 = "win-arm"\n')
    plan_json = tmp_path / "plan.json"
    result = cli("plan", project, "--spec", tmp_path / "spec.toml", "--store", f"file://{tmp_path / 'store'}",
                 "--tag", "v0.1.0rc1", "--json", plan_json)
    assert result.code == 0, result.err
    runners = {s["name"]: s["runner"] for s in json.loads(plan_json.read_text())["slices"]}
    assert runners["linux-aarch64"] == "arm-self-hosted" and runners["windows-ARM64"] == "win-arm"
    assert runners["linux-x86_64"] == "ubuntu-latest" and runners["macos-arm64"] == "macos-latest"
    (tmp_path / "bad.toml").write_text('[runners]\nlinux-arm64 = "x"\n')
    bad = cli("plan", project, "--spec", tmp_path / "bad.toml", "--store", f"file://{tmp_path / 'store'}",
              "--tag", "v0.1.0rc1")
    assert bad.code == 2 and "unknown key runners.linux-arm64 (did you mean 'linux-aarch64'?)" in bad.err
