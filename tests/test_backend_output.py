"""What a project's backend makes is input written by someone else: the sdist a plan
reads the version from is read within limits and each field checked before use, and a
file name no index takes is a clear build error."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pipeline.errors import BuildFailed, VersionMismatch
from pipeline.project import configuration, load_project

PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "b"\n[project]\nname = "demo"\ndynamic = ["version"]\n'


def _sdist(tmp_path: Path, pkg_info: str | None) -> Path:
    path = tmp_path / "demo-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        members = {"demo-1.0/pyproject.toml": PYPROJECT}
        if pkg_info is not None:
            members["demo-1.0/PKG-INFO"] = pkg_info
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    root.mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


def test_the_version_and_requires_python_come_from_the_sdists_pkg_info(tmp_path, project):
    sdist = _sdist(tmp_path, "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nRequires-Python: >=3.9\n")
    loaded = load_project(configuration(project), sdist=sdist)
    assert (loaded.name, str(loaded.version), loaded.requires_python) == ("demo", "1.0", ">=3.9")
    assert loaded.version_source == "the PKG-INFO of the sdist b built"


@pytest.mark.parametrize(("pkg_info", "error", "said"), [
    (None, BuildFailed, "cannot be read: the sdist has no PKG-INFO at its top level"),
    ("Metadata-Version: 2.4\nName: demo\nVersion: one point oh\n", VersionMismatch,
     "gives version 'one point oh', which is not PEP 440"),
    ("Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nRequires-Python: newest please\n", BuildFailed,
     "says Requires-Python 'newest please', which is not a version specifier"),
])
def test_an_sdist_that_says_something_unusable_is_a_clear_error(tmp_path, project, pkg_info, error, said):
    with pytest.raises(error) as raised:
        load_project(configuration(project), sdist=_sdist(tmp_path, pkg_info))
    assert said in raised.value.message


def test_a_static_version_is_read_from_pyproject_even_with_an_sdist(tmp_path, project):
    (project / "pyproject.toml").write_text(PYPROJECT.replace('dynamic = ["version"]', 'version = "2.0"'))
    sdist = _sdist(tmp_path, "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n")
    assert str(load_project(configuration(project), sdist=sdist).version) == "2.0"


@pytest.mark.parametrize("name", ["demo.whl", "demo-1.0.tar.bz2", "demo-1.0-py3-none.whl"])
def test_a_file_a_backend_made_under_a_name_no_index_takes_is_a_build_error(tmp_path, name):
    from pipeline.builders import Built
    from pipeline.planning import PURE
    from pipeline.records import Plan
    from pipeline.stages.build import make_record

    made = tmp_path / name
    made.write_bytes(b"not a distribution")
    plan = Plan(project="demo", version="1.0", run_id="r1", tag="v1.0", trigger="push", created="now", dry_run=False,
                index="pypi", native=False, requires_python=None, import_names=("demo",), test_command=None,
                slices=(PURE,))
    with pytest.raises(BuildFailed) as failed:
        make_record(plan, PURE, "local", [Built(path=made, tools={})])
    assert f"the build made {name!r}, which is not a wheel's or sdist's name" in failed.value.message


@pytest.mark.parametrize(("module_says", "release", "differs"), [
    ("1.0", "1.0", False),
    ("1.0.0", "1.0", False),                  # the same version, spelled otherwise
    ("2026.10.19", "2026.10.19.post1", False),  # a post-release repackages the code released as 2026.10.19
    ("1.0rc1", "1.0rc1.post2", False),
    ("1!2.0", "1!2.0.post1", False),
    ("1.0", "1.0.post1.dev1", True),          # a development release of a post-release: the code moved on
    ("0.9", "1.0.post1", True),
    ("1.0.post1", "1.0", True),
    ("1.0", "1.1", True),
    ("not a version", "1.0", True),
])
def test_a_modules_version_is_the_releases_or_for_a_post_release_the_version_it_repackages(module_says, release,
                                                                                            differs):
    from packaging.version import Version

    from pipeline.testinstall import _differs

    assert _differs(module_says, Version(release)) is differs
