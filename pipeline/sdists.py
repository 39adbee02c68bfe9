"""Reading an sdist (.tar.gz) within limits, and unpacking one safely.

Sizes come from each member's header, but reaching a member means decompressing what
precedes it, so every decompressed byte passes through one capped stream, checked
chunk by chunk: a scan stops as soon as the running total or the ratio of bytes out
to bytes in passes its limit (pipeline.archive_limits).

``tarfile``'s ``filter="data"`` (no absolute paths, no escaping the folder, no device
files, no links out) arrived in 3.11.4; Debian 12's python3 is 3.11.2. There the same
rules are checked here before anything is written.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.archive_limits import (
    CHUNK,
    DEFAULT_LIMITS,
    LimitExceeded,
    Limits,
    Unreadable,
    admit,
    check_ratio,
    size_text,
)
from pipeline.errors import IntegrityError


class _Capped:
    """The decompressed stream of a .tar.gz that goes no further than `limits` allow.
    Every byte tarfile reads or skips passes through `read`, checked chunk by chunk."""

    def __init__(self, raw: BinaryIO, limits: Limits) -> None:
        self._raw, self._limits = raw, limits
        self._gz = gzip.GzipFile(fileobj=raw, mode="rb")
        self._most = limits.total_size + 1024 * limits.members + CHUNK  # headers and padding on top
        self.passing = "the first header"  # where the stream is, for a message

    def tell(self) -> int:
        return self._gz.tell()

    def read(self, size: int = -1, /) -> bytes:
        if not 0 <= size <= max(CHUNK, self._limits.metadata_size):  # only a forged tar header asks for more
            raise LimitExceeded(f"a tar header after {self.passing} declares {size_text(size)}",
                                f"the {size_text(self._limits.metadata_size)} limit for a header", "metadata-size")
        data = self._gz.read(size)
        out = self._gz.tell()
        if out > self._most:
            raise LimitExceeded(f"the sdist unpacks past {size_text(self._most)} at {self.passing}",
                                f"the {size_text(self._limits.total_size)} limit for the total", "total-size")
        check_ratio(f"the sdist, at {self.passing},", out, self._raw.tell(), self._limits)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        if whence == io.SEEK_CUR:
            offset += self.tell()
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a .tar.gz stream seeks from its start only")
        while self.tell() < offset and self.read(min(CHUNK, offset - self.tell())):
            pass  # forward: decompressed through `read`, so every chunk is checked
        if offset < self.tell():
            self._gz.seek(offset)  # back: over bytes already checked
        return self.tell()

    def write(self, data: bytes, /) -> int:
        raise io.UnsupportedOperation("read-only")

    def close(self) -> None:
        self._gz.close()


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    is_file: bool


@dataclass(frozen=True)
class SdistListing:
    members: tuple[Member, ...]
    pkg_info: bytes | None  # the top-level PKG-INFO's bytes, when there is one


def is_pkg_info(name: str) -> bool:
    return name.count("/") == 1 and name.endswith("/PKG-INFO")


@contextmanager
def _open_tar(path: Path, limits: Limits, tarinfo: type[tarfile.TarInfo] = tarfile.TarInfo,
              ) -> Iterator[tuple[tarfile.TarFile, _Capped]]:
    with path.open("rb") as raw:
        stream = _Capped(raw, limits)
        try:
            with tarfile.open(fileobj=stream, mode="r:", tarinfo=tarinfo) as tar:
                yield tar, stream
        finally:
            stream.close()


def _unreadable_sdist(exc: BaseException) -> Unreadable:
    if isinstance(exc, gzip.BadGzipFile):
        return Unreadable(f"not gzip-compressed ({exc}); an sdist is a gzip-compressed tar: build it with "
                          "python -m build --sdist")
    if isinstance(exc, EOFError):
        return Unreadable("the gzip stream ends early: the file is truncated; build or download it again")
    if isinstance(exc, tarfile.TarError):
        return Unreadable(f"not a tar archive inside its gzip ({exc}); build it with python -m build --sdist")
    if isinstance(exc, ValueError):
        return Unreadable(f"a tar header in it cannot be read ({exc}); build it with python -m build --sdist")
    return Unreadable(f"the sdist is damaged ({type(exc).__name__}: {exc}); build or download it again")


def scan_sdist(path: Path, limits: Limits = DEFAULT_LIMITS) -> SdistListing:
    """Every member of a .tar.gz, each header checked against `limits` before its bytes are
    decompressed, the stream read to its end (PyPI refuses one damaged anywhere), and the
    top-level PKG-INFO kept. Raises `LimitExceeded` or `Unreadable`."""
    members: list[Member] = []
    pkg_info: bytes | None = None
    total = 0
    try:
        with _open_tar(path, limits) as (tar, stream):
            for info in tar:
                total += admit(info.name, info.size, len(members), total, limits, metadata=is_pkg_info(info.name))
                members.append(Member(info.name, info.size, info.isfile()))
                stream.passing = f"{info.name} ({size_text(info.size)})"
                if pkg_info is None and info.isfile() and is_pkg_info(info.name):
                    handle = tar.extractfile(info)
                    pkg_info = handle.read(info.size) if handle is not None else None
            stream.passing = "the end of the archive"
            while stream.read(CHUNK):
                pass
    # ValueError: tarfile reads some pax values with int() and lets its error out (GNU.sparse.map=abc)
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as exc:
        raise _unreadable_sdist(exc) from None
    return SdistListing(tuple(members), pkg_info)


class NegativeSize(Unreadable):
    """A tar header or sparse map that declares a negative size: tarfile would move
    backwards through the stream (CVE-2025-8194), so reading stops there."""


class _NoNegativeSize(tarfile.TarInfo):
    """Every header tarfile parses, its extension headers (pax, GNU long names) included,
    refused as soon as it declares a negative size, before tarfile reads by it."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> _NoNegativeSize:
        info = super().frombuf(buf, encoding, errors)
        if info.size < 0:
            raise NegativeSize(f"a tar header for {info.name} declares a negative size ({info.size})")
        return info


def sdist_members(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Each member of a .tar.gz with the TarFile to read it from (``extractfile``), each
    header checked against `limits` before its bytes are decompressed; after the last
    member, the stream is read to its end. For the upload rules, which tell apart what
    `scan_sdist` calls unreadable, errors come as they are: `NegativeSize`, `LimitExceeded`,
    and gzip's, zlib's and tarfile's own (OSError, zlib.error, EOFError, tarfile.TarError,
    ValueError from a broken sparse map)."""
    total = 0
    with _open_tar(path, limits, _NoNegativeSize) as (tar, stream):
        for count, info in enumerate(tar):
            sparse: list[tuple[int, int]] = getattr(info, "sparse", None) or []  # typeshed misses its type
            if info.size < 0 or any(n < 0 for pair in sparse for n in pair):
                raise NegativeSize(f"{info.name} declares a negative size or sparse offset")
            total += admit(info.name, info.size, count, total, limits, metadata=is_pkg_info(info.name))
            stream.passing = f"{info.name} ({size_text(info.size)})"
            yield info, tar
        stream.passing = "the end of the archive"
        while stream.read(CHUNK):
            pass


def extract(archive: Path, dest: Path, limits: Limits = DEFAULT_LIMITS) -> None:
    """Unpack an sdist (.tar.gz) into `dest`. Raises `LimitExceeded` or `Unreadable` before
    anything is written, `IntegrityError` for a member that would land outside `dest`,
    a link that points outside it, or a device file, and `Unreadable` for one that cannot
    be written (a hard link to nothing, a file where the archive also has a folder)."""
    scan_sdist(archive, limits)  # every limit, before anything is written
    try:
        _unpack(archive, dest, limits)
    except KeyError as exc:  # what tarfile raises for a hard link to a member the archive lacks
        raise Unreadable(f"{archive.name} cannot be unpacked: a hard link's target is not in it "
                         f"({exc.args[0] if exc.args else exc})") from None
    except OSError as exc:  # a name too long for the file system, a file where a folder must be
        raise Unreadable(f"{archive.name} cannot be unpacked: {exc.strerror or exc} at "
                         f"{exc.filename or 'a member'}") from None
    except (OverflowError, ValueError) as exc:  # a time past what the file system holds, a NUL in a name
        raise Unreadable(f"{archive.name} cannot be unpacked: a member's header holds a value the file "
                         f"system cannot take ({exc})") from None


def _unpack(archive: Path, dest: Path, limits: Limits) -> None:
    with _open_tar(archive, limits) as (tar, _):  # and the stream stays capped while unpacking
        if hasattr(tarfile, "data_filter"):
            try:
                tar.extractall(dest, filter="data")
            except tarfile.FilterError as exc:
                raise IntegrityError(f"{archive.name} holds an unsafe member: {exc}",
                                     hint="an sdist holds plain files and folders inside one top-level folder") from None
            return
        root = os.path.realpath(dest)
        for member in tar.getmembers():
            target = os.path.realpath(os.path.join(root, member.name))
            linked = os.path.realpath(os.path.join(os.path.dirname(target), member.linkname)) \
                if member.issym() or member.islnk() else target
            inside = all(p == root or p.startswith(root + os.sep) for p in (target, linked))
            if not inside or member.isdev() or os.path.isabs(member.name):
                raise IntegrityError(f"{archive.name} holds an unsafe member: {member.name}",
                                     hint="an sdist holds plain files and folders inside one top-level folder")
            # As the data filter does: the files belong to whoever unpacks them (as root, tar would
            # give them the packer's uid, and git then calls the folder "dubious"), no special bits.
            member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
            member.mode = (member.mode & 0o777) | (0o700 if member.isdir() else 0o600)
        tar.extractall(dest)  # every member was checked above
