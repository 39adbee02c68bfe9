"""PyPI's upload rules: an sdist's gzip and tar structure, as warehouse reads it.

warehouse/forklift/legacy.py ``_is_valid_dist_file`` opens an sdist with
``tarfile.open(filename, "r:gz")``: anything but a gzip-compressed tar is refused, and so is
a stream damaged anywhere, a sparse member (pull 20404), a header that sends tarfile
backwards (a negative size, CVE-2025-8194, refused by the tarfile warehouse runs), a tar
that is also a ZIP (pull 19638), an archive without one top-level folder, and one without
PKG-INFO in it; ``file_upload`` then wants every License-File there. Its scanner refuses
obfuscated ``.py``/``.pye`` files as in wheels (the wheelfiles family's `scan`).

The stream is read once, through `pipeline.archives.sdist_members`, within the limits;
past one, nothing is reported here and the reader's WS109 speaks.
"""

from __future__ import annotations

import io
import posixpath
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import archives
from pipeline.checks.rules.wheelfiles import license_files, scan, scanned

if TYPE_CHECKING:
    from pipeline.archives import Limits
    from pipeline.checks import Findings

RULES: tuple[tuple[str, str, str, str], ...] = (
    ("WS691", "sdist-not-gzip-tar", "error", "an sdist that is not a gzip-compressed tar (a plain tar, bzip2, a ZIP)"),
    ("WS692", "sdist-stream-damaged", "error", "an sdist whose gzip stream or tar is damaged anywhere"),
    ("WS693", "sdist-sparse-member", "error", "a sparse member in the sdist, which PyPI refuses"),
    ("WS694", "sdist-negative-offset", "error", "a tar header that declares a negative size or offset"),
    ("WS695", "sdist-top-level", "error", "an sdist without exactly one top-level folder, which PyPI refuses"),
    ("WS696", "sdist-license-file-missing", "error", "a License-File that is not in the sdist, which PyPI refuses"),
    ("WS697", "sdist-zip-polyglot", "error", "an sdist that is also a ZIP archive, which PyPI refuses"),
)
#: The warehouse rule each code mirrors (file:function, in pypi/warehouse).
WAREHOUSE = {
    "WS501": "warehouse/forklift/legacy.py:_is_valid_dist_file (PKG-INFO at the top-level folder)",
    "WS691": "warehouse/forklift/legacy.py:_is_valid_dist_file (tarfile.open(filename, \"r:gz\"))",
    "WS692": "warehouse/forklift/legacy.py:_is_valid_dist_file (zlib.error, ReadError, EOFError; pull 20415)",
    "WS693": "warehouse/forklift/legacy.py:_is_valid_dist_file (member.issparse(), pull 20404)",
    "WS694": "warehouse/forklift/legacy.py:_is_valid_dist_file (its tarfile's CVE-2025-8194 fix)",
    "WS695": "warehouse/forklift/legacy.py:_is_valid_dist_file (_commonpath of the member names)",
    "WS696": "warehouse/forklift/legacy.py:file_upload (License-File in the sdist)",
    "WS697": "warehouse/forklift/legacy.py:_is_valid_dist_file (ZIP/tar polyglots, pull 19638)",
}

HEAD = 1 << 20
SHOWN = 5
BUILD = "build the sdist with a PEP 517 frontend (python -m build --sdist)"
DAMAGE = (OSError, EOFError, zlib.error, tarfile.TarError, ValueError, OverflowError, struct.error)


@dataclass
class _Seen:
    names: list[str] = field(default_factory=list)
    sparse: list[str] = field(default_factory=list)
    pkg_info: tuple[str, bytes] | None = None  # the one top-level PKG-INFO, when there is one
    scans: list[tuple[str, str]] = field(default_factory=list)


def _not_gzip(path: Path) -> str | None:
    """What the file is, when it is not gzip (tarfile's "r:gz" refuses it), else None."""
    with path.open("rb") as fh:
        head = fh.read(HEAD)
    if head.startswith(b"\x1f\x8b"):
        return None
    for magic, what in ((b"BZh", "a bzip2-compressed file"), (b"\xfd7zXZ\x00", "an xz-compressed file"),
                        (b"PK\x03\x04", "a ZIP archive"), (b"\x28\xb5\x2f\xfd", "a Zstandard-compressed file")):
        if head.startswith(magic):
            return what
    try:
        with tarfile.open(fileobj=io.BytesIO(head), mode="r:"):
            return "a plain, uncompressed tar"
    except (tarfile.TarError, ValueError, OSError, EOFError):
        return "neither gzip nor tar"


def _commonpath(names: list[str]) -> str:
    """legacy.py ``_commonpath``: the folder every member is in, "" when there is none."""
    try:
        return posixpath.commonpath(names)
    except ValueError:  # no names, or absolute and relative ones mixed
        return ""


def _read(path: Path, limits: Limits, seen: _Seen) -> None:
    for info, tar in archives.sdist_members(path, limits):
        seen.names.append(info.name)
        if info.issparse():
            seen.sparse.append(info.name)
        if not info.isfile():
            continue
        if archives.is_pkg_info(info.name) and (seen.pkg_info is None or seen.pkg_info[0] == info.name):
            handle = tar.extractfile(info)
            seen.pkg_info = (info.name, handle.read(info.size) if handle is not None else b"")
        elif scanned(info.name, info.size) and (handle := tar.extractfile(info)) is not None:
            hit = scan(handle.read(info.size))
            if hit is not None:
                seen.scans.append((hit[0], f"{info.name} holds {hit[1]}"))


def _judge(seen: _Seen) -> list[tuple[str, str]]:
    found = []
    if seen.sparse:
        found.append(("WS693", f"sparse members (a GNU extension): {', '.join(seen.sparse[:SHOWN])}; {BUILD}"))
    top = _commonpath(seen.names)
    pkg_info = posixpath.join(top, "PKG-INFO")
    names = set(seen.names)
    if top in ("", ".", "/"):
        tops = sorted({n.split("/")[0] or "/" for n in seen.names})
        found.append(("WS695", f"the sdist holds {len(tops)} top-level entries ({', '.join(tops[:SHOWN])}), not one "
                      f"folder; {BUILD}"))
    elif pkg_info not in names:
        found.append(("WS501", f"no PKG-INFO at {pkg_info}, the sdist's one top-level folder; {BUILD}"))
    elif seen.pkg_info is not None and seen.pkg_info[0] == pkg_info:
        found += [("WS696", f"License-File {lf} is not in the sdist at {posixpath.join(top, lf)}; list it in the "
                   "build backend's license-files, or drop the field")
                  for lf in license_files(seen.pkg_info[1]) if posixpath.join(top, lf).rstrip("/") not in names]
    return found + [(code, f"{why}; PyPI refuses it") for code, why in seen.scans]


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """An sdist's gzip and tar structure as warehouse/forklift/legacy.py ``_is_valid_dist_file``
    and ``file_upload`` check it."""
    if not path.name.endswith(".tar.gz"):
        return
    name = path.name
    what = _not_gzip(path)
    if what is not None:
        findings.add("WS691", name, f"the file is {what}, not a gzip-compressed tar; {BUILD}")
        return
    if _reads_as_zip(path):
        findings.add("WS697", name, "the file also reads as a ZIP archive (a tar/ZIP polyglot, CVE-2026-3219); "
                     + BUILD)
    seen = _Seen()
    try:
        _read(path, limits, seen)
    except archives.NegativeSize as exc:
        findings.add("WS694", name, f"{exc.message}: tarfile would read backwards; {BUILD}")
        return
    except archives.ArchiveError:
        return  # past a limit: the reader's WS109 speaks
    except tarfile.ReadError as exc:
        if seen.names or "zlib" in str(exc) or "unexpected end" in str(exc):
            findings.add("WS692", name, f"the gzip stream is damaged ({exc}); build or download it again")
        else:
            findings.add("WS691", name, f"gzip-compressed, but no tar archive inside ({exc}); {BUILD}")
        return
    except DAMAGE as exc:
        findings.add("WS692", name, f"the gzip stream or the tar in it is damaged ({type(exc).__name__}: {exc}); "
                     "PyPI decompresses it to the end: build or download it again")
        return
    for code, why in _judge(seen):
        findings.add(code, name, why)


def _reads_as_zip(path: Path) -> bool:
    """`zipfile.is_zipfile`, which raises on some damaged ZIP64 records instead of saying no."""
    try:
        return zipfile.is_zipfile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
