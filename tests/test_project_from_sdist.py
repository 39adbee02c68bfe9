"""The version a plan reads from the sdist the project's backend built: the backend is
the project's code, so the sdist is read within limits and every field checked before
it is used."""

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
