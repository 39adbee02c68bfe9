"""Reading wheels and sdists within limits, and unpacking an sdist safely.

Every archive wheelship reads goes through here: a check reading METADATA or PKG-INFO,
hashing RECORD, listing an sdist, unpacking one to build it. Each limit is checked before
the bytes it guards are decompressed:

- a wheel (ZIP): the member count, by walking the central directory's fixed-size headers
  (at most ``members`` + 1 of them) before zipfile parses it into memory; then each
  member's size, the metadata files' sizes, the total and the compression ratios, all
  from the central directory, whose sizes are also all zipfile will ever inflate;
- an sdist (tar.gz): sizes come from each member's header, but reaching a member means
  decompressing what precedes it, so every decompressed byte passes through one capped
  stream, checked chunk by chunk: a scan stops as soon as the running total or the
  ratio of bytes out to bytes in passes its limit.

Past a limit: `LimitExceeded`, naming the member and its size. A file that is not the
archive its name says, or a damaged one: `Unreadable`. Both are `VerificationFailed`.

``tarfile``'s ``filter="data"`` (no absolute paths, no escaping the folder, no device
files, no links out) arrived in 3.11.4; Debian 12's python3 is 3.11.2. There the same
rules are checked here before anything is written.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from pipeline.errors import IntegrityError, VerificationFailed

MiB, GiB = 1 << 20, 1 << 30
#: Below this size any compression ratio is fine, as on PyPI, which refuses a ZIP member
#: only when it is over 64 MiB *and* over 50x its compressed size.
RATIO_FLOOR = 64 * MiB
#: The files parsed whole in memory, held to `Limits.metadata_size`: in a wheel's
#: .dist-info these, in an sdist its top-level PKG-INFO.
METADATA_FILES = ("METADATA", "WHEEL", "RECORD", "entry_points.txt")
CHUNK = MiB
#: What PyPI accepts in a wheel: stored and deflated members (shared PYPI-RULES).
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one wheel or sdist may hold; the buildspec's ``[limits]`` table changes each.

    Sized from real files with margin. The largest of each, measured on 2026-12-01 over
    the top-100 corpus (253 files, tests/corpus/top-pypi.json) and torch 2.13.0+cpu
    (cp311 manylinux_2_28 x86_64, 192 MB), in parentheses the corpus alone:
    """

    #: a member: 434,184,800 B, torch/lib/libtorch_cpu.so (48,696,144, pyarrow's libarrow.so)
    member_size: int = 2 * GiB
    #: all members: 699,298,109 B, torch (171,390,364, a pyarrow wheel; sdists 140,534,550, botocore)
    total_size: int = 8 * GiB
    #: members: 12,248, torch (9,226, the awscli sdist)
    members: int = 100_000
    #: for a member over 64 MiB: 3.8x, libtorch_cpu.so; a whole archive over 64 MiB: 8.3x, the
    #: botocore sdist (any size: 9.0x, pygments). Under 64 MiB no limit: pillow's 2.1 MB libXau is 224x.
    #: Past 50x a ZIP member over 64 MiB is refused by PyPI anyway.
    compression_ratio: float = 50
    #: METADATA or PKG-INFO: 141,528 B, pydantic; RECORD: 1,294,660 B, torch (887,182, awscli);
    #: entry_points.txt: 2,449 B, setuptools; WHEEL: 190 B
    metadata_size: int = 16 * MiB


DEFAULT_LIMITS = Limits()


class ArchiveError(VerificationFailed):
    """A wheel or sdist that cannot be read as one, or that passes a limit."""


class LimitExceeded(ArchiveError):
    """Past one of `Limits`; the message names the member, its size and the limit's key."""

    def __init__(self, what: str, limit: str, key: str) -> None:
        super().__init__(f"{what}: over {limit}, so wheelship read no further; if the file is genuine, raise "
                         f"[limits] {key} in the buildspec",
                         hint="a real distribution is far within the limits: rebuild the file, or raise the limit "
                              "named if the file is genuine")


class Unreadable(ArchiveError):
    """Not the archive its name says, or damaged."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="rebuild it with a PEP 517 frontend (python -m build), or download it again")


def size_text(n: float) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} bytes"


def _too_many(limits: Limits) -> LimitExceeded:
    return LimitExceeded(f"the archive holds more than {limits.members:,} members",
                         f"the limit of {limits.members:,} members", "members")


def _admit(name: str, size: int, count: int, total: int, limits: Limits, *, metadata: bool) -> int:
    """`size` if one more member `name` keeps the archive within `limits`; else raises."""
    if count >= limits.members:
        raise _too_many(limits)
    if size < 0:
        raise Unreadable(f"{name} declares a negative size; the archive is damaged or forged")
    cap, key, kind = (limits.metadata_size, "metadata-size", "a metadata file") if metadata else \
        (limits.member_size, "member-size", "a member")
    if size > cap:
        raise LimitExceeded(f"{name} unpacks to {size_text(size)} ({size:,} bytes)",
                            f"the {size_text(cap)} limit for {kind}", key)
    if total + size > limits.total_size:
        raise LimitExceeded(f"the members up to {name} unpack to {size_text(total + size)}",
                            f"the {size_text(limits.total_size)} limit for the total", "total-size")
    return size


def _check_ratio(what: str, out: int, packed: int, limits: Limits) -> None:
    if out > RATIO_FLOOR and out > limits.compression_ratio * max(packed, 1):
        raise LimitExceeded(f"{what} unpacks to {size_text(out)} from {size_text(packed)} "
                            f"({out / max(packed, 1):.0f}x)",
                            f"the {limits.compression_ratio:g}x compression-ratio limit for anything over 64 MiB",
                            "compression-ratio")


# --- wheels -------------------------------------------------------------------


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
            raise _too_many(limits)
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
        total += _admit(info.filename, info.file_size, count, total, limits, metadata=is_wheel_metadata(info.filename))
        _check_ratio(info.filename, info.file_size, info.compress_size, limits)
    _check_ratio("the whole wheel", total, packed, limits)


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


# --- sdists -------------------------------------------------------------------


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
        _check_ratio(f"the sdist, at {self.passing},", out, self._raw.tell(), self._limits)
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
                total += _admit(info.name, info.size, len(members), total, limits, metadata=is_pkg_info(info.name))
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
            total += _admit(info.name, info.size, count, total, limits, metadata=is_pkg_info(info.name))
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
