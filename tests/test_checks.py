"""Verification catches what real releases get wrong: one real project per defect."""

from __future__ import annotations

import compileall
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipeline.checks import CHECKS
from tests.conftest import BUILDSPECS, PROJECTS, ROOT, copy_project

pytestmark = pytest.mark.integration


def build(tmp_path: Path, name: str, *flags: str, prepare=None) -> list[Path]:  # type: ignore[no-untyped-def]
    """Build a project for real with `python -m build`, as a user's own CI would."""
    project = tmp_path / name
    if not project.exists():
        shutil.copytree(PROJECTS / name, project)
    if prepare:
        prepare(project)
    out = tmp_path / f"dist-{name}"
    subprocess.run([sys.executable, "-m", "build", "-q", "--installer", "uv", *flags, "--outdir", str(out),
                    str(project)], check=True, capture_output=True)
    return sorted(out.iterdir())


def check(cli, tmp_path: Path, paths: list[Path], *args: str) -> tuple[int, list[dict[str, str]]]:  # type: ignore[no-untyped-def]
    report = tmp_path / "check.json"
    result = cli("check", *paths, "--json", report, *args)
    assert "Traceback" not in result.text
    return result.code, json.loads(report.read_text())["findings"]


def codes(findings: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(f["code"], f["severity"]) for f in findings}


def test_a_clean_project_passes_with_no_warnings(cli, tmp_path):
    code, findings = check(cli, tmp_path, build(tmp_path, "purepkg"), "--import-names", "purepkg")
    assert code == 0 and findings == []


def test_a_native_wheel_without_the_library_it_loads(cli, tmp_path):
    _, findings = check(cli, tmp_path, build(tmp_path, "defect-missing-lib"))
    # a static guess is a warning; the test-install's import (WS302) is what proves a break
    assert ("WS203", "warning") in codes(findings)
    assert any("loads libhelper.so from its own folder" in f["message"] for f in findings)


def test_a_linux_wheel_tagged_linux_x86_64(cli, tmp_path):
    code, findings = check(cli, tmp_path, build(tmp_path, "cext", "--wheel"))
    assert code == 5 and ("WS201", "error") in codes(findings)


def test_generic_and_shadowing_top_level_names(cli, tmp_path):
    code, findings = check(cli, tmp_path, build(tmp_path, "defect-toplevel"), "--import-names", "mypkg")
    assert code == 5
    assert {("WS406", "warning"), ("WS407", "error"), ("WS405", "warning")} <= codes(findings)
    messages = " ".join(f["message"] for f in findings)
    assert "'config'" in messages and "'api'" in messages and "belongs to the PyYAML distribution" in messages


def test_a_platform_wheel_with_no_compiled_code(cli, tmp_path):
    code, findings = check(cli, tmp_path, build(tmp_path, "defect-no-compiled"))
    assert code == 5 and {("WS202", "warning"), ("WS201", "error")} <= codes(findings)


def test_an_abi3_wheel_that_breaks_its_promise(cli, tmp_path):
    _, findings = check(cli, tmp_path, build(tmp_path, "defect-abi3", "--wheel"))
    assert ("WS204", "warning") in codes(findings)
    assert any("PyModule_AddObjectRef (3.10)" in f["message"] for f in findings)


def test_an_empty_wheel(cli, tmp_path):
    code, findings = check(cli, tmp_path, build(tmp_path, "defect-empty-wheel", "--wheel"))
    assert code == 0 and ("WS404", "warning") in codes(findings)  # a meta-package is legitimate


def test_bytecode_and_editor_files_in_the_wheel(cli, tmp_path):
    def compile_first(project: Path) -> None:  # a developer's tree has bytecode lying around
        compileall.compile_dir(project / "src", quiet=1)

    code, findings = check(cli, tmp_path, build(tmp_path, "defect-wheel-junk", "--wheel", prepare=compile_first))
    assert code == 0  # warnings by default
    assert {("WS401", "warning"), ("WS402", "warning")} <= codes(findings)


def test_a_record_that_does_not_match_and_duplicate_entries(cli, tmp_path):
    wheel = next(p for p in build(tmp_path, "purepkg", "--wheel") if p.suffix == ".whl")
    with zipfile.ZipFile(wheel, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("purepkg/__init__.py", "print('changed after RECORD was written')\n")
    code, findings = check(cli, tmp_path, [wheel])
    assert code == 5
    assert {("WS408", "warning"), ("WS403", "error")} <= codes(findings)


def test_an_unsupported_metadata_version(cli, tmp_path):
    wheel = next(p for p in build(tmp_path, "purepkg", "--wheel") if p.suffix == ".whl")
    rewritten = tmp_path / "re" / wheel.name
    rewritten.parent.mkdir()
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(rewritten, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith(".dist-info/METADATA"):
                data = data.replace(b"Metadata-Version: 2.", b"Metadata-Version: 9.")
            dst.writestr(item, data)
    code, findings = check(cli, tmp_path, [rewritten])
    assert code == 5 and ("WS107", "error") in codes(findings)


def test_a_description_that_does_not_render(cli, tmp_path):
    code, findings = check(cli, tmp_path, build(tmp_path, "defect-bad-readme"))
    assert code == 5 and ("WS101", "error") in codes(findings)


def test_an_sdist_that_carries_caches_venvs_vcs_locks_and_large_files(cli, tmp_path):
    def litter(project: Path) -> None:
        (project / ".hg").mkdir()
        (project / ".hg" / "hgrc").write_text("[paths]\n")
        (project / ".venv" / "bin").mkdir(parents=True)
        (project / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (project / ".mypy_cache").mkdir()
        (project / ".mypy_cache" / "CACHEDIR.TAG").write_text("x\n")
        (project / "poetry.lock").write_text("# lock\n")
        (project / "recording.bin").write_bytes(b"\0" * (6 << 20))

    paths = build(tmp_path, "defect-dirty-sdist", "--sdist", prepare=litter)
    code, findings = check(cli, tmp_path, paths)
    assert code == 0  # sdist hygiene warns by default
    assert {("WS503", "warning"), ("WS504", "warning"), ("WS505", "warning"), ("WS506", "warning"),
            ("WS507", "warning")} <= codes(findings)


def test_an_sdist_without_pkg_info(cli, tmp_path):
    sdist = next(p for p in build(tmp_path, "purepkg", "--sdist"))
    stripped = tmp_path / "stripped" / sdist.name
    stripped.parent.mkdir()
    with tarfile.open(sdist) as src, tarfile.open(stripped, "w:gz") as dst:
        for member in src.getmembers():
            if not member.name.endswith("/PKG-INFO") or member.name.count("/") != 1:
                dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    code, findings = check(cli, tmp_path, [stripped])
    assert code == 5 and ("WS501", "error") in codes(findings)


def test_a_wheel_that_differs_from_the_one_the_sdist_builds(cli, tmp_path):
    build(tmp_path, "defect-sdist-missing-file", "--sdist")
    # then the wheel from the tree, not from the sdist, as many hand-written workflows do
    paths = build(tmp_path, "defect-sdist-missing-file", "--wheel")
    assert sorted(p.suffix for p in paths) == [".gz", ".whl"]
    code, findings = check(cli, tmp_path, paths, "--build-sdist")  # building runs the backend: only when asked
    assert code == 5 and ("WS502", "error") in codes(findings)
    assert any("partial/data.json" in f["message"] for f in findings)
    code, findings = check(cli, tmp_path, paths)
    assert code == 0 and ("WS502", "error") not in codes(findings)


def test_the_checks_table_changes_severity_or_turns_a_check_off(cli, tmp_path):
    paths = build(tmp_path, "defect-toplevel")
    spec = tmp_path / "spec.toml"
    spec.write_text('[checks]\ngeneric-toplevel = "warning"\nWS407 = "off"\n')
    code, findings = check(cli, tmp_path, paths, "--spec", str(spec))
    assert code == 0
    assert ("WS406", "warning") in codes(findings) and not [f for f in findings if f["code"] == "WS407"]


# --- caught in a release --------------------------------------------------------


def _dry_release(cli, tmp_path: Path, name: str, *args: str):  # type: ignore[no-untyped-def]
    project = copy_project(name, tmp_path)
    report = tmp_path / "report.json"
    result = cli("release", project, "--tag", "v1.0.0", "--store", f"file://{tmp_path / 'store'}", "--dry-run",
                 "--json", report, *args)
    verify = json.loads(next((tmp_path / "store").rglob("verify.json")).read_text())
    return result, verify


def test_a_dunder_version_that_disagrees_stops_the_release(cli, sandbox_env, tmp_path):
    result, verify = _dry_release(cli, tmp_path, "defect-dunder-version")
    assert result.code == 5
    assert ("WS304", "error") in codes(verify["findings"])
    assert "dunder.__version__ is '0.9.0', release is 1.0.0" in result.err


def test_a_pure_plan_whose_backend_makes_a_platform_wheel_is_a_build_error(cli, sandbox_env, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('kind = "pure"\n')
    project = copy_project("defect-no-compiled", tmp_path)
    result = cli("release", project, "--tag", "v1.0.0", "--store", f"file://{tmp_path / 'store'}", "--dry-run",
                 "--spec", spec)
    assert result.code == 4, result.err
    assert "building py3-none-any of slice pure made defect_no_compiled-1.0.0-cp" in result.err
    assert "Traceback" not in result.text and not list((tmp_path / "store").rglob("records/*.json"))


def test_a_pure_project_planned_native_is_a_build_error_naming_both_identifiers(cli, sandbox_env, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('kind = "native"\n')
    project = copy_project("purepkg", tmp_path, version="1.0.0")
    result = cli("release", project, "--tag", "v1.0.0", "--store", f"file://{tmp_path / 'store'}", "--dry-run",
                 "--spec", spec)
    assert result.code == 4, result.err
    assert re.search(r"planned identifiers (cp3\d+-manylinux_x86_64, )*cp3\d+-manylinux_x86_64 and "
                     r"cp3\d+-manylinux_x86_64 of slice linux-x86_64 (both|all) built "
                     r"wheelship_demo_pure-1.0.0-py3-none-any.whl", result.err), result.err
    assert "Traceback" not in result.text and not list((tmp_path / "store").rglob("records/*.json"))


def test_a_clean_release_has_no_warnings(cli, sandbox_env, tmp_path):
    result, verify = _dry_release(cli, tmp_path, "purepkg", "--spec", str(BUILDSPECS / "purepkg.toml"))
    assert result.code == 0, result.err
    assert verify["findings"] == [] and "warning" not in result.err.lower()


def test_the_readme_lists_every_check_with_its_code_and_default():
    readme = (ROOT / "README.md").read_text()
    for check in CHECKS.values():
        assert f"| {check.code} | {check.name} | {check.severity} |" in readme, check.code
