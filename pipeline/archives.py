"""Reading wheels and sdists within limits, and unpacking an sdist safely.

Every archive wheelship reads goes through here: a check reading METADATA or PKG-INFO,
hashing RECORD, listing an sdist, unpacking one to build it. Each limit is checked before
the bytes it guards are decompressed (the limits and their errors: pipeline.archive_limits):

- a wheel (ZIP), here: the member count, by walking the central directory's fixed-size
  headers (at most ``members`` + 1 of them) before zipfile parses it into memory; then
  each member's size, the metadata files' sizes, the total and the compression ratios,
  all from the central directory, whose sizes are also all zipfile will ever inflate;
- an sdist (tar.gz), in pipeline.sdists: sizes come from each member's header, and every
  decompressed byte passes through one capped stream, checked chunk by chunk.

Past a limit: `LimitExceeded`, naming the member and its size. A file that is not the
archive its name says, or a damaged one: `Unreadable`. Both are `VerificationFailed`.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from pipeline.archive_limits import (
    CHUNK,
    DEFAULT_LIMITS,
    ArchiveError,
    LimitExceeded,
    Limits,
    Unreadable,
    admit,
    check_ratio,
    size_text,
    too_many,
)
from pipeline.sdists import (
    Member,
    NegativeSize,
    SdistListing,
    extract,
    is_pkg_info,
    scan_sdist,
    sdist_members,
)

__all__ = [
    "CHUNK", "DEFAULT_LIMITS", "ArchiveError", "LimitExceeded", "Limits", "Member", "NegativeSize", "SdistListing",
    "Unreadable", "extract", "is_pkg_info", "is_wheel_metadata", "member_chunks", "open_member", "open_wheel",
    "read_member", "scan_sdist", "sdist_members", "size_text",
]

#: The files parsed whole in memory, held to `Limits.metadata_size`: in a wheel's
#: .dist-info these, in an sdist its top-level PKG-INFO.
METADATA_FILES = ("METADATA", "WHEEL", "RECORD", "entry_points.txt")
#: What PyPI accepts in a wheel: stored and deflated members (warehouse's `_is_valid_dist_file`,
#: https://github.com/pypi/warehouse/blob/main/warehouse/forklift/legacy.py).
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def is_wheel_metadata(name: str) -> bool:
    folder, _, file = name.partition("/")
    return folder.endswith(".dist-info") and file in METADATA_FILES


def _central_directory(fh: BinaryIO) -> tuple[int, int] | None:
    """Where the central directory starts and its size, from the end record (ZIP64's
    when there is one), or None when there is no end record (zipfile then says why)."""
    end = fh.seek(0, os.SEEK_END)
    fh.seek(max(0, end - 22 - 0xFFFF))
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    record, size = end - len(tail) + at, struct.unpack_from("<I", tail, at + 12)[0]
    if at >= 20 and tail.startswith(b"PK\x06\x07", at - 20):  # ZIP64: its record precedes the locator
        record -= 20 + 56
        fh.seek(max(0, record))
        zip64 = fh.read(56)
        if len(zip64) < 56 or not zip64.startswith(b"PK\x06\x06"):
            return None
        size = struct.unpack_from("<Q", zip64, 40)[0]
    return record - size, size


def _count_members(fh: BinaryIO, limits: Limits) -> None:
    """Walk the central directory's headers and stop past `limits.members`: zipfile
    parses every entry into memory, so a bomb of entries must stop before it does."""
    span = _central_directory(fh)
    if span is None:
        return
    start, left = span
    fh.seek(max(0, start))
    for count in range(limits.members + 1):
        header = fh.read(46)
        if left < 46 or len(header) < 46 or not header.startswith(b"PK\x01\x02"):
            return
        if count == limits.members:
            raise too_many(limits)
        skip = sum(struct.unpack_from("<3H", header, 28))
        fh.seek(skip, os.SEEK_CUR)
        left -= 46 + skip


def _admit_zip(wheel: zipfile.ZipFile, packed: int, limits: Limits) -> None:
    total = 0
    for count, info in enumerate(wheel.infolist()):
        if not info.filename:
            raise Unreadable(f"member {count + 1} of the central directory has no name; the wheel is damaged")
        if info.flag_bits & (0x1 | 0x40):
            raise Unreadable(f"{info.filename} is encrypted; a wheel's members are plain")
        if info.flag_bits & 0x20:
            raise Unreadable(f"{info.filename} is compressed patched data (ZIP flag bit 5), which no installer "
                             "reads; a wheel's members are stored or deflated")
        if not 0 <= info.header_offset < packed:
            raise Unreadable(f"the central directory places {info.filename} at byte {info.header_offset:,}, "
                             f"outside the file's {packed:,} bytes; the wheel is damaged or truncated")
        if info.compress_type not in ZIP_METHODS:
            raise Unreadable(f"{info.filename} uses ZIP compression method {info.compress_type}; "
                             "PyPI accepts only stored (0) and deflated (8) members")
        total += admit(info.filename, info.file_size, count, total, limits, metadata=is_wheel_metadata(info.filename))
        check_ratio(info.filename, info.file_size, info.compress_size, limits)
    check_ratio("the whole wheel", total, packed, limits)


def _unreadable_wheel(exc: BaseException, member: str | None = None) -> Unreadable:
    if isinstance(exc, zipfile.BadZipFile) and "not a zip file" in str(exc):
        return Unreadable("not a ZIP archive (or a truncated one), which a wheel is: build it with a PEP 517 "
                          "frontend (python -m build), or download it again")
    where = f" at {member}" if member else ""
    return Unreadable(f"the wheel is damaged{where} ({type(exc).__name__}: {exc}); build or download it again")


#: What zipfile raises opening a member whose local header contradicts the central
#: directory or is damaged: a bad signature or name, an offset before the file's start,
#: a name that is not the UTF-8 its flag says, a feature (flag bits) it does not read.
_MEMBER_ERRORS = (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, NotImplementedError)


@contextmanager
def open_wheel(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[zipfile.ZipFile]:
    """A wheel as a ZipFile whose every member is within `limits`. Raises `LimitExceeded`,
    or `Unreadable` for a file that is no ZIP or is damaged, also when a read inside the
    ``with`` block finds the damage (a bad CRC, a broken deflate stream)."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise Unreadable(f"cannot be opened: {exc}") from None
    with fh:
        try:
            _count_members(fh, limits)
            wheel = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise _unreadable_wheel(exc) from None
        with wheel:
            _admit_zip(wheel, os.fstat(fh.fileno()).st_size, limits)
            try:
                yield wheel
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise _unreadable_wheel(exc) from None


@contextmanager
def open_member(wheel: zipfile.ZipFile, member: str | zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    """A member of a wheel from `open_wheel` (its size checked there), to read. Raises
    `Unreadable` naming the member when its local header is damaged; a damaged body
    raises when read, and `open_wheel` turns that into `Unreadable` too."""
    name = member.filename if isinstance(member, zipfile.ZipInfo) else member
    try:
        fh = wheel.open(member)
    except _MEMBER_ERRORS as exc:
        raise _unreadable_wheel(exc, name) from None
    with fh:
        yield fh


def read_member(wheel: zipfile.ZipFile, name: str, most: int = -1) -> bytes:
    """A member of a wheel from `open_wheel`, or its first `most` bytes."""
    with open_member(wheel, name) as fh:
        return fh.read(most)


def member_chunks(wheel: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    """A member of a wheel from `open_wheel`, a chunk at a time."""
    with open_member(wheel, name) as fh:
        while chunk := fh.read(CHUNK):
            yield chunk
