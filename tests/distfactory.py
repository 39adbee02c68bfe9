"""Small, valid distribution files made on the spot, for publishing tests."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from pipeline.records import Artifact, identifier_of, sha256_of

WHEEL_TAGS = ("py3-none-any", "cp311-cp311-manylinux_2_17_x86_64", "cp312-cp312-manylinux_2_17_x86_64")


def _metadata(name: str, version: str) -> str:
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test distribution\n"
            f"Description-Content-Type: text/markdown\n\n# {name}\n")


def make_wheel(folder: Path, name: str, version: str, tag: str) -> Path:
    module = name.replace("-", "_")
    path = folder / f"{module}-{version}-{tag}.whl"
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n",
        **({f"{module}/_native.so": "\x7fELF (stands in for compiled code)"} if "-any" not in tag else {}),
        f"{info}/METADATA": _metadata(name, version),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n",
    }
    record = []
    for arcname, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{arcname},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(path, "w") as archive:
        for arcname, text in files.items():
            archive.writestr(arcname, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def make_sdist(folder: Path, name: str, version: str) -> Path:
    module = name.replace("-", "_")
    path = folder / f"{module}-{version}.tar.gz"
    members = {"PKG-INFO": _metadata(name, version), "pyproject.toml": f'[project]\nname = "{name}"\n'}
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{module}-{version}/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def make_release(folder: Path, name: str, version: str = "1.0", tags: tuple[str, ...] = WHEEL_TAGS) -> list[Artifact]:
    """Wheels for `tags` and an sdist, as artifacts whose `name` is also their file name in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [make_wheel(folder, name, version, tag) for tag in tags] + [make_sdist(folder, name, version)]
    return [
        Artifact(name=p.name, identifier=identifier_of(p.name), slice=_slice_of(p.name),
                 kind="sdist" if p.suffix == ".gz" else "wheel",
                 sha256=sha256_of(p), size=p.stat().st_size, builder="test", tools={}, built_on="here")
        for p in paths
    ]


def _slice_of(filename: str) -> str:
    """The slice a real plan would build a file in."""
    if filename.endswith(".tar.gz"):
        return "sdist"
    if filename.endswith("-any.whl"):
        return "pure"
    return "macos-arm64" if "macosx" in filename else "linux-x86_64"
