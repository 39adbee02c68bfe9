"""Import names come from the built wheel, the same for every builder and for verify:
a namespace's real packages are imported, each one; declared names win."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline import importnames
from pipeline.testinstall import import_names_of
from tests.conftest import copy_project


@pytest.mark.parametrize(("paths", "names"), [
    (["pkg/__init__.py", "pkg/core.py", "mod.py"], ("mod", "pkg")),
    (["jaraco/functools/__init__.py", "jaraco/functools/__init__.pyi"], ("jaraco.functools",)),  # PEP 420
    (["a/b/c/__init__.py", "a/b/d.py", "a/e.cpython-312-x86_64-linux-gnu.so"], ("a.b.c",)),
    (["google/longrunning/operations_grpc.py", "google/rpc/status_pb2.py"], ("google",)),  # modules only
    (["_speedups.cpython-312-x86_64-linux-gnu.so", "lib.pyd"], ("_speedups", "lib")),
    (["tests/__init__.py", "pkg/__init__.py", "x-1.dist-info/METADATA", "../../bin/tool"], ("pkg",)),
    (["pkg/__pycache__/x.pyc", "pkg/__init__.py"], ("pkg",)),
])
def test_names_from_a_wheels_files(paths, names):
    assert importnames.import_names(paths) == names


def test_a_pkgutil_namespace_is_descended_into():
    paths = ["google/__init__.py", "google/protobuf/__init__.py"]
    texts = {"google/__init__.py": "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n"}
    assert importnames.import_names(paths, lambda p: texts.get(p, "")) == ("google.protobuf",)


def _wheel(tmp_path: Path, files: dict[str, str], metadata: str = "") -> Path:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
        wheel.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.5\nName: demo\nVersion: 1.0\n" + metadata)
    return path


def test_a_wheel_says_its_names_and_import_name_metadata_wins(tmp_path):
    wheel = _wheel(tmp_path, {"demo-1.0.data/purelib/ns/inner/__init__.py": "", "experiments/run.py": ""})
    assert import_names_of(wheel) == ("experiments", "ns.inner")  # a namespace of modules: itself
    declared = _wheel(tmp_path, {"ns/inner/__init__.py": ""}, "Import-Name: ns.inner\nImport-Name: ns_extra ; private\n")
    assert import_names_of(declared) == ("ns.inner", "ns_extra")


def test_the_smoke_command_imports_an_installed_distributions_own_names():
    """What cibuildwheel runs where the project sets no test command: one command line,
    no quotes a shell could break, importing what the installed distribution ships."""
    command = importnames.smoke_command("requests")
    assert len(command) < 8191 and "'" not in command.split('"')[0]
    out = subprocess.run(command.replace("python ", f"{sys.executable} ", 1), shell=True, capture_output=True,
                         text=True)
    assert out.returncode == 0 and "import requests: ok" in out.stdout, out.stdout + out.stderr
    broken = subprocess.run(f'{sys.executable} -c "{command.split(chr(34))[1]}" requests requests_not_there',
                            shell=True, capture_output=True, text=True)
    assert broken.returncode == 1 and "import requests_not_there failed: ModuleNotFoundError" in broken.stdout


@pytest.mark.integration
def test_a_broken_package_inside_a_namespace_stops_the_release(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("nspkg", tmp_path)
    report = tmp_path / "report.json"
    ok = cli("release", project, "--tag", "v1.0.0", "--dry-run", "--store", file_store, "--json", report)
    assert ok.code == 0, ok.err
    wheel = next(f for f in json.loads(report.read_text())["files"] if f["name"].endswith(".whl"))
    assert "import wsns.demo" in wheel["test"]["how"] and wheel["test"]["status"] == "passed"
    (project / "src" / "wsns" / "demo" / "__init__.py").write_text("def broken(:\n")
    failed = cli("release", project, "--tag", "v1.0.0", "--dry-run", "--store", file_store)
    assert failed.code == 5, failed.err
    assert "WS302 import-failed" in failed.err and "import wsns.demo failed: SyntaxError" in failed.err


@pytest.mark.integration
def test_the_projects_cibuildwheel_tests_run_when_the_local_builder_built_the_wheel(cli, sandbox_env, file_store,
                                                                                     tmp_path):
    """[tool.cibuildwheel] is the authority on testing wherever a wheel is built: its
    test-command, test-sources, test-extras and test-groups run in verify's test-install;
    a test-skip that matches is recorded "not-run", never "passed"."""
    project = copy_project("cibwtests", tmp_path)
    report = tmp_path / "report.json"
    ok = cli("release", project, "--tag", "v1.0.0", "--dry-run", "--store", file_store, "--json", report)
    assert ok.code == 0, ok.err
    wheel = next(f for f in json.loads(report.read_text())["files"] if f["name"].endswith(".whl"))
    assert wheel["test"]["status"] == "passed"
    assert "the project's cibuildwheel test-command: python tests/check_installed.py {project}" in wheel["test"]["how"]

    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'test-skip = "*"\n')
    skipped = cli("release", project, "--tag", "v1.0.0", "--dry-run", "--store", file_store, "--json", report)
    assert skipped.code == 0, skipped.err
    wheel = next(f for f in json.loads(report.read_text())["files"] if f["name"].endswith(".whl"))
    assert wheel["test"]["status"] == "not-run"
    assert "not run: cibuildwheel's test-skip (*) matches py3-none-any" in wheel["test"]["detail"]

    pyproject.write_text(pyproject.read_text().replace('test-skip = "*"\n', ""))
    (project / "tests" / "check_installed.py").write_text("raise SystemExit('the project says: broken')\n")
    failed = cli("release", project, "--tag", "v1.0.0", "--dry-run", "--store", file_store)
    assert failed.code == 5 and "WS305 test-command" in failed.err and "the project says: broken" in failed.err
