"""An sdist unpacks safely on every Python wheelship runs on, 3.11.2 (Debian 12) included."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from pipeline import archives
from pipeline.errors import IntegrityError


def _tar(path: Path, members: dict[str, bytes], link: tuple[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid, info.uname = len(data), 1234, 1234, "packer"
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)
    return path


@pytest.fixture(params=["tarfile's data filter", "wheelship's own checks (Python < 3.11.4)"])
def variant(request, monkeypatch):  # type: ignore[no-untyped-def]
    if request.param.startswith("wheelship"):
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def test_a_plain_sdist_unpacks(tmp_path, variant):
    archive = _tar(tmp_path / "p-1.0.tar.gz", {"p-1.0/pyproject.toml": b"[project]\n", "p-1.0/src/p.py": b"x = 1\n"},
                   link=("p-1.0/README", "pyproject.toml"))
    archives.extract(archive, tmp_path / "out")
    unpacked = tmp_path / "out" / "p-1.0" / "src" / "p.py"
    assert unpacked.read_bytes() == b"x = 1\n"
    assert unpacked.stat().st_uid == os.getuid()  # never the packer's uid, even as root


@pytest.mark.parametrize(("members", "link"), [
    ({"../evil.py": b"x"}, None),
    ({"p-1.0/a": b"x"}, ("p-1.0/out", "../../../etc/passwd")),
])
def test_a_member_that_escapes_is_refused_and_nothing_lands_outside(tmp_path, variant, members, link):
    archive = _tar(tmp_path / "bad.tar.gz", members, link=link)
    with pytest.raises(IntegrityError, match="unsafe member"):
        archives.extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()
