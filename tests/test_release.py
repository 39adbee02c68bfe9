"""Whole releases of the example projects: real builds, real stores, a real index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BUILDSPECS, UV, copy_project, index_files

pytestmark = pytest.mark.integration


def _install_and_run(tmp_path: Path, simple_url: str, requirement: str, code: str) -> str:
    env = tmp_path / "user-env"
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, str(env)], check=True)
    subprocess.run([UV, "pip", "install", "-q", "--python", str(env / "bin" / "python"), "--index-url",
                    simple_url, "--no-cache", requirement], check=True)
    return subprocess.run([str(env / "bin" / "python"), "-c", code], check=True, capture_output=True,
                          text=True).stdout


def test_release_native_project_through_s3_to_testpypi(cli, sandbox_env, s3_store, tmp_path):
    project = copy_project("cext", tmp_path)
    report = tmp_path / "report.json"
    result = cli("release", project, "--tag", "v0.1.0rc1", "--spec", BUILDSPECS / "cext.toml",
                 "--store", s3_store, "--json", report)
    assert result.code == 0, result.err
    facts = json.loads(report.read_text())
    assert facts["index"] == "testpypi" and facts["version"] == "0.1.0rc1" and not facts["dry_run"]
    files = {f["name"]: f for f in facts["files"]}
    # the sdist, and one manylinux wheel per local CPython the project supports
    identifiers = sorted(f["identifier"] for f in files.values())
    assert "sdist" in identifiers
    wheels = [f for f in files.values() if f["identifier"] != "sdist"]
    assert len(wheels) >= 2
    assert all("manylinux" in f["name"] and f["test"]["status"] == "passed" for f in wheels)
    assert all(f["publish"] == "uploaded" for f in files.values())
    # the index holds exactly the planned files, with the recorded hashes
    assert index_files(sandbox_env, "testpypi") == {name: f["sha256"] for name, f in files.items()}
    assert index_files(sandbox_env, "pypi") == {}
    out = _install_and_run(tmp_path, sandbox_env.testpypi.url + "simple/", "wheelship-demo-cext==0.1.0rc1",
                           "import cext; print(cext.add(2, 40), cext.__version__)")
    assert out.split() == ["42", "0.1.0rc1"]
    assert "run " in result.err and "testpypi lists all" in result.err


def test_release_pure_project_with_dynamic_version_to_pypi(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path, version="1.0.0")
    report = tmp_path / "report.json"
    result = cli("release", project, "--tag", "1.0.0", "--spec", BUILDSPECS / "purepkg.toml",
                 "--store", file_store, "--json", report)
    assert result.code == 0, result.err
    # the version is dynamic: read from the sdist the plan builds (with the wheel, which the build stage takes)
    assert "building the sdist of purepkg and a wheel from it" in result.err
    assert "slice pure: built from this checkout while planning; not built again" in result.err
    facts = json.loads(report.read_text())
    assert facts["index"] == "pypi"  # a final version routes to pypi
    assert sorted(f["identifier"] for f in facts["files"]) == ["py3-none-any", "sdist"]
    assert index_files(sandbox_env, "pypi") == {f["name"]: f["sha256"] for f in facts["files"]}
    out = _install_and_run(tmp_path, sandbox_env.pypi.url + "simple/", "wheelship-demo-pure==1.0.0",
                           "import purepkg; print(purepkg.greet('you'))")
    assert out.strip() == "hello, you"


def test_dry_run_uploads_nothing_then_publish_uploads_the_verified_bytes(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path, version="2.0.0rc1")
    dry = tmp_path / "dry.json"
    result = cli("release", project, "--tag", "v2.0.0-rc.1", "--spec", BUILDSPECS / "purepkg.toml",
                 "--store", file_store, "--dry-run", "--json", dry)
    assert result.code == 0, result.err
    facts = json.loads(dry.read_text())
    assert facts["dry_run"] and facts["index"] == "testpypi"
    assert all(f["publish"] == "would upload" for f in facts["files"])
    assert index_files(sandbox_env, "testpypi") == {}
    assert "would be uploaded to testpypi" in result.err

    # the project folder is gone: publish works from the store alone, without rebuilding
    import shutil

    shutil.rmtree(project)
    published = tmp_path / "published.json"
    log_size = sandbox_env.testpypi.log_file.stat().st_size
    result = cli("publish", "wheelship-demo-pure", "2.0.0rc1", "--from-store", "--store", file_store,
                 "--include-dry-runs", "--json", published)
    assert result.code == 0, result.err
    # the lookup (preflight's listing), one upload per file, the listing afterwards; nothing downloaded back
    assert sandbox_env.testpypi.requests_since(log_size) == [
        "GET /simple/wheelship-demo-pure/", "POST /", "POST /", "GET /simple/wheelship-demo-pure/"]
    assert "build" not in [line.strip("─ ") for line in result.err.splitlines()]
    after = json.loads(published.read_text())
    assert after["run_id"] == facts["run_id"]
    assert {f["name"]: f["sha256"] for f in after["files"]} == {f["name"]: f["sha256"] for f in facts["files"]}
    assert index_files(sandbox_env, "testpypi") == {f["name"]: f["sha256"] for f in facts["files"]}

    # publishing again finds everything there with the same hashes and uploads nothing
    again = cli("publish", "wheelship-demo-pure", "2.0.0rc1", "--store", file_store, "--include-dry-runs",
                "--json", published)
    assert again.code == 0, again.err
    assert all(f["publish"] == "already present" for f in json.loads(published.read_text())["files"])


def test_status_shows_each_run_and_its_records(cli, sandbox_env, file_store, tmp_path):
    project = copy_project("purepkg", tmp_path, version="3.0.0")
    assert cli("release", project, "--tag", "v3.0.0", "--spec", BUILDSPECS / "purepkg.toml",
               "--store", file_store, "--dry-run").code == 0
    status_json = tmp_path / "status.json"
    result = cli("status", "wheelship-demo-pure", "3.0.0", "--store", file_store, "--json", status_json)
    assert result.code == 0, result.err
    runs = json.loads(status_json.read_text())["runs"]
    assert len(runs) == 1
    run = runs[0]
    assert set(run["slices"]) == {"sdist", "pure"} and all(run["slices"].values())
    assert run["verified"]["ok"] is True and run["published"] is None and run["dry_run"] is True
    assert run["run_id"] in result.err
