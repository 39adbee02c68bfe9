"""PyPI's upload rules: a wheel's ZIP structure, read record by record as warehouse reads it.

warehouse/utils/zipfiles.py ``validate_zipfile`` walks the file from its first byte: local
headers, each followed by its data, then the central directory, then the end record, and
nothing before, between or after them; legacy.py ``_is_valid_dist_file`` adds the
compression methods and the bomb rule. Python's zipfile reads only the central directory
and so hides most of this. The walk here reads headers only (never member data), at most
``limits.members`` of each kind; past that it stops without a finding, for the reader's
WS109 speaks. A file with no end record at all is not a ZIP: WS106 says so.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from pipeline.archives import Limits
    from pipeline.checks import Findings

RULES: tuple[tuple[str, str, str, str], ...] = (
    ("WS621", "zip-compression", "error", "a wheel member neither stored nor deflated (bzip2, LZMA), which PyPI refuses"),
    ("WS622", "zip-data-descriptor", "error", "a wheel member written with a data descriptor, which PyPI refuses"),
    ("WS623", "zip-entry-comment", "error", "a comment on a central-directory entry, which PyPI refuses"),
    ("WS624", "zip64-extensible-data", "error", "a ZIP64 end record with extensible data, which PyPI refuses"),
    ("WS625", "zip-name-encoding", "error", "a wheel member name PyPI cannot read as UTF-8"),
    ("WS626", "zip-name-control", "error", "a control character in a wheel member name, which PyPI refuses"),
    ("WS627", "zip-duplicate-extra", "error", "a ZIP64 or Unicode-path extra field twice in one local header"),
    ("WS628", "zip-header-mismatch", "error", "local and central ZIP headers that disagree on a name or a size"),
    ("WS629", "zip-end-record", "error", "an end record that disagrees with the central directory"),
    ("WS630", "zip-stray-data", "error", "bytes before or between a wheel's ZIP records"),
    ("WS631", "zip-trailing-data", "error", "bytes after the end of a wheel's ZIP archive"),
    ("WS632", "zip-malformed", "error", "ZIP records PyPI cannot walk (truncated, a malformed extra field)"),
    ("WS633", "zip-bomb", "error", "a wheel that unpacks to over 64 MiB and over 50x its size"),
    ("WS634", "zip-tar-polyglot", "error", "a wheel that is also a tar archive, which PyPI refuses"),
)
#: The warehouse rule each code mirrors (file:function, in pypi/warehouse).
WAREHOUSE = {
    "WS403": "warehouse/utils/zipfiles.py:validate_zipfile (duplicate local or central names)",
    "WS621": "warehouse/forklift/legacy.py:_is_valid_dist_file (compress_type)",
    "WS622": "warehouse/utils/zipfiles.py:_handle_local_file_header (data descriptor)",
    "WS623": "warehouse/utils/zipfiles.py:_handle_central_directory_header (comment)",
    "WS624": "warehouse/utils/zipfiles.py:_handle_eocd64 (extensible data)",
    "WS625": "warehouse/utils/zipfiles.py:_handle_local_file_header (UTF-8 names, the central lookup)",
    "WS626": "warehouse/utils/zipfiles.py:_handle_local_file_header, _handle_central_directory_header",
    "WS627": "warehouse/utils/zipfiles.py:_handle_local_file_header (DISALLOW_DUPLICATE_EXTRA_IDS)",
    "WS628": "warehouse/utils/zipfiles.py:_handle_local_file_header, validate_zipfile (names, sizes)",
    "WS629": "warehouse/utils/zipfiles.py:_handle_eocd, _handle_eocd64, validate_zipfile",
    "WS630": "warehouse/utils/zipfiles.py:validate_zipfile (unknown record signature)",
    "WS631": "warehouse/utils/zipfiles.py:validate_zipfile (trailing data)",
    "WS632": "warehouse/utils/zipfiles.py:_read_check, _handle_local_file_header (malformed zip file)",
    "WS633": "warehouse/forklift/legacy.py:_is_valid_dist_file (COMPRESSION_RATIO_THRESHOLD)",
    "WS634": "warehouse/forklift/legacy.py:_is_valid_dist_file (ZIP/tar polyglots, pull 19638)",
}

LOCAL, CENTRAL, END, END64, LOCATOR = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
ZIP64_EXTRA, UNICODE_PATH_EXTRA = 0x0001, 0x7075
UNPRINTABLE = frozenset(range(0x20)) | {0x7F}
STORED, DEFLATED = 0, 8
METHOD_NAMES = {9: "deflate64", 12: "bzip2", 14: "LZMA", 93: "Zstandard", 95: "xz", 99: "AES"}
DATA_DESCRIPTOR, UTF8_NAMES, ENCRYPTED = 0x08, 0x800, 0x01
#: legacy.py COMPRESSION_RATIO_MIN_SIZE and COMPRESSION_RATIO_THRESHOLD
RATIO_FLOOR, RATIO = 64 << 20, 50
#: How much of a wheel's start is read as a tar (and how much of it decompressed).
TAR_HEAD = 1 << 20
SHOWN = 5
FIX = "rebuild the wheel with a PEP 517 frontend (python -m build) rather than zipping or editing it by hand"


class _Stop(Exception):
    """The walk cannot go on the way warehouse's does; its finding is recorded."""


@dataclass(frozen=True)
class _Local:
    raw: bytes
    name: str | None  # UTF-8, as warehouse decodes a local name; None when it is not
    compressed: int
    size: int


@dataclass(frozen=True)
class _Central:
    raw: bytes
    name: str  # as zipfile decodes it: UTF-8 with flag bit 11, else cp437
    flags: int
    method: int
    compressed: int
    size: int


@dataclass
class _Walk:
    locals: list[_Local] = field(default_factory=list)
    centrals: list[_Central] = field(default_factory=list)
    found: dict[str, list[str]] = field(default_factory=dict)
    complete: bool = False  # the end record was reached
    overflow: bool = False  # more records than the limits allow: the reader's WS109 speaks

    def refuse(self, code: str, message: str) -> None:
        self.found.setdefault(code, []).append(message)

    def stop(self, code: str, message: str) -> _Stop:
        self.refuse(code, message)
        return _Stop()


def _show(raw: bytes) -> str:
    return repr(raw.decode("utf-8", errors="replace"))


def _read(fh: BinaryIO, n: int, walk: _Walk, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise walk.stop("WS632", f"the file ends inside {what}")
    return data


def _local_extras(extra: bytes, method: int, compressed: int, size: int, raw: bytes, walk: _Walk) -> tuple[int, int]:
    """A local header's sizes after its ZIP64 extra field, and its extra fields checked, as
    zipfiles.py ``_handle_local_file_header`` reads them."""
    seen: set[int] = set()
    while extra:
        if len(extra) < 4:
            raise walk.stop("WS632", f"{_show(raw)} has a malformed extra field")
        kind, length = struct.unpack_from("<HH", extra)
        if length + 4 > len(extra):
            raise walk.stop("WS632", f"{_show(raw)} has an extra field longer than its header says")
        if kind in seen and kind in (ZIP64_EXTRA, UNICODE_PATH_EXTRA):
            walk.refuse("WS627", f"{_show(raw)} carries extra field {kind:#06x} twice")
        seen.add(kind)
        if kind == ZIP64_EXTRA:
            compressed, size = _zip64_local(extra[4:4 + length], method, compressed, size, raw, walk)
        elif kind == UNICODE_PATH_EXTRA:
            unicode_name = extra[9:4 + length]
            if UNPRINTABLE.intersection(unicode_name):
                walk.refuse("WS626", f"the Unicode-path extra field of {_show(raw)} holds a control character")
            try:
                unicode_name.decode("utf-8")
            except UnicodeDecodeError:
                walk.refuse("WS625", f"the Unicode-path extra field of {_show(raw)} is not UTF-8")
        extra = extra[length + 4:]
    return compressed, size


def _zip64_local(data: bytes, method: int, compressed: int, size: int, raw: bytes, walk: _Walk) -> tuple[int, int]:
    if len(data) not in (0, 8, 16, 24, 28) or (not data and 0xFFFFFFFF in (compressed, size)) \
            or (len(data) == 8 and method != STORED):
        raise walk.stop("WS632", f"{_show(raw)} has a malformed ZIP64 extra field")
    if len(data) == 8:  # only the uncompressed size: a stored member, both sizes the same
        (value,) = struct.unpack_from("<Q", data)
        return value, value if size == 0xFFFFFFFF else size
    if len(data) >= 16:
        return struct.unpack_from("<Q", data, 8)[0], struct.unpack_from("<Q", data)[0] if size == 0xFFFFFFFF else size
    return compressed, size


def _local(fh: BinaryIO, walk: _Walk) -> None:
    """One local header (zipfiles.py ``_handle_local_file_header``), then a seek past its data."""
    flags, method, compressed, size, name_length, extra_length = struct.unpack(
        "<2xHH8xIIHH", _read(fh, 26, walk, "a local header"))
    raw = _read(fh, name_length, walk, "a local header's name")
    extra = _read(fh, extra_length, walk, "a local header's extra field")
    if UNPRINTABLE.intersection(raw):
        walk.refuse("WS626", f"local header name {_show(raw)} holds a control character")
    compressed, size = _local_extras(extra, method, compressed, size, raw, walk)
    if flags & DATA_DESCRIPTOR:
        raise walk.stop("WS622", f"{_show(raw)} is followed by a data descriptor (flag bit 3): its sizes are not "
                        "in its header")
    try:
        name: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        walk.refuse("WS625", f"local header name {_show(raw)} is not UTF-8")
        name = None
    walk.locals.append(_Local(raw, name, compressed, size))
    fh.seek(compressed, io.SEEK_CUR)


def _zip64_central(extra: bytes, compressed: int, size: int, offset: int, raw: bytes, walk: _Walk) -> tuple[int, int]:
    """A central entry's sizes as zipfile's ``ZipInfo._decodeExtra`` reads them."""
    while len(extra) >= 4:
        kind, length = struct.unpack_from("<HH", extra)
        if length + 4 > len(extra):
            raise walk.stop("WS632", f"central entry {_show(raw)} has an extra field longer than its header says")
        if kind == ZIP64_EXTRA:
            data = extra[4:4 + length]
            fields = [value for value in (size, compressed, offset) if value == 0xFFFFFFFF]
            if len(data) < 8 * len(fields):
                raise walk.stop("WS632", f"central entry {_show(raw)} has a truncated ZIP64 extra field")
            values = iter(struct.unpack_from(f"<{len(fields)}Q", data))
            size = next(values) if size == 0xFFFFFFFF else size
            compressed = next(values) if compressed == 0xFFFFFFFF else compressed
        extra = extra[length + 4:]
    return compressed, size


def _central(fh: BinaryIO, walk: _Walk) -> int:
    """One central-directory header (zipfiles.py ``_handle_central_directory_header``); its length."""
    header = _read(fh, 42, walk, "a central-directory header")
    flags, method = struct.unpack_from("<HH", header, 4)
    compressed, size, name_length, extra_length, comment_length = struct.unpack_from("<IIHHH", header, 16)
    (offset,) = struct.unpack_from("<I", header, 38)
    raw = _read(fh, name_length, walk, "a central-directory name")
    extra = _read(fh, extra_length, walk, "a central-directory extra field")
    if comment_length:
        walk.refuse("WS623", f"central entry {_show(raw)} has a {comment_length}-byte comment")
        fh.seek(comment_length, io.SEEK_CUR)
    if UNPRINTABLE.intersection(raw):
        walk.refuse("WS626", f"central entry {_show(raw)} holds a control character")
    try:
        name = raw.decode("utf-8") if flags & UTF8_NAMES else raw.decode("cp437")
    except UnicodeDecodeError:
        raise walk.stop("WS625", f"central entry {_show(raw)} is flagged UTF-8 but is not") from None
    compressed, size = _zip64_central(extra, compressed, size, offset, raw, walk)
    walk.centrals.append(_Central(raw, name, flags, method, compressed, size))
    return 46 + len(raw) + len(extra) + int(comment_length)


def _end(fh: BinaryIO, walk: _Walk, start: int, length: int, declared: tuple[int, int, int] | None) -> None:
    """The end record (zipfiles.py ``_handle_eocd``), and the central directory it points to;
    a ZIP64 end record's figures, when there is one, stand instead of its own."""
    on_disk, records, size, offset, comment = struct.unpack("<4xHHIIH", _read(fh, 18, walk, "the end record"))
    if on_disk != records:
        walk.refuse("WS629", f"the end record counts {on_disk} entries on this disk but {records} in all")
    fh.seek(comment, io.SEEK_CUR)  # an archive comment is allowed: only entry comments are refused
    records, size, offset = declared or (records, size, offset)
    if records != len(walk.centrals):
        walk.refuse("WS629", f"the end record counts {records} entries; the central directory holds "
                    f"{len(walk.centrals)}")
    if offset != start:
        walk.refuse("WS629", f"the end record puts the central directory at byte {offset}; it starts at {start}")
    elif size != length:
        walk.refuse("WS629", f"the end record sizes the central directory at {size} bytes; it is {length}")
    walk.complete = True


def _end64(fh: BinaryIO, walk: _Walk) -> tuple[int, int, int]:
    """A ZIP64 end record (zipfiles.py ``_handle_eocd64``): 44 bytes, nothing extensible."""
    size, on_disk, records, cd_size, cd_offset = struct.unpack("<Q12xQQQQ", _read(fh, 52, walk, "a ZIP64 end record"))
    if on_disk != records:
        walk.refuse("WS629", f"the ZIP64 end record counts {on_disk} entries on this disk but {records} in all")
    if size != 44:
        if size < 44:
            raise walk.stop("WS624", f"the ZIP64 end record declares {size} bytes, fewer than its fixed 44")
        walk.refuse("WS624", f"the ZIP64 end record carries {size - 44} bytes of extensible data")
        fh.seek(size - 44, io.SEEK_CUR)
    return records, cd_size, cd_offset


def _walk_records(fh: BinaryIO, limits: Limits, walk: _Walk) -> None:
    """zipfiles.py ``validate_zipfile``'s walk: record after record from byte 0 to the end record."""
    end64: tuple[int, int, int] | None = None
    located = False
    start: int | None = None
    length = 0
    for _ in range(2 * limits.members + 8):
        at = fh.tell()
        signature = _read(fh, 4, walk, "the archive, before its end record")
        if signature == LOCAL:
            _local(fh, walk)
        elif signature == CENTRAL:
            start = at if start is None else start
            length += _central(fh, walk)
        elif signature == END:
            if end64 is not None and not located:
                raise walk.stop("WS632", "a ZIP64 end record without its locator")
            _end(fh, walk, at if start is None else start, length, end64)
            return
        elif signature == END64:
            end64 = _end64(fh, walk)
        elif signature == LOCATOR:
            _read(fh, 16, walk, "a ZIP64 locator")
            located = True
        elif at == 0:
            raise walk.stop("WS630", f"the file starts with {signature!r}, not a ZIP record: data before the archive "
                            "(a self-extractor stub, or another file glued in front)")
        else:
            raise walk.stop("WS630", f"byte {at} holds {signature!r}, which starts no record PyPI accepts (a data "
                            "descriptor, an archive extra data record, a signature, or stray bytes)")
        if max(len(walk.locals), len(walk.centrals)) > limits.members:
            walk.overflow = True
            return
    walk.overflow = True


def _cross_check(walk: _Walk) -> None:
    """Local and central headers agree, name for name and size for size (``_handle_local_file_header``),
    and no name is there twice (``validate_zipfile``)."""
    by_name = {c.name: c for c in walk.centrals}
    by_raw = {c.raw: c for c in walk.centrals}
    local_raws = {entry.raw for entry in walk.locals}
    for entry in walk.locals:
        if entry.name is None:
            continue  # not UTF-8: WS625 already
        central = by_name.get(entry.name)
        if central is None and entry.raw in by_raw:
            walk.refuse("WS625", f"{entry.name!r} is not ASCII and its central entry lacks the UTF-8 flag (bit 11), "
                        f"so Python's zipfile reads it as {by_raw[entry.raw].name!r}")
        elif central is None:
            walk.refuse("WS628", f"local header {entry.name!r} has no central-directory entry of that name")
        elif (central.compressed, central.size) != (entry.compressed, entry.size):
            walk.refuse("WS628", f"{entry.name!r}: the local header says {entry.compressed:,} bytes packed, "
                        f"{entry.size:,} unpacked; the central directory {central.compressed:,} and {central.size:,}")
    for central in walk.centrals:
        if central.raw not in local_raws:
            walk.refuse("WS628", f"central entry {central.name!r} has no local header")
    centrals, locals_ = Counter(c.raw for c in walk.centrals), Counter(e.raw for e in walk.locals)
    for raw in dict.fromkeys([*centrals, *locals_]):
        if max(centrals[raw], locals_[raw]) > 1:
            walk.refuse("WS403", f"{_show(raw)} is in the wheel {max(centrals[raw], locals_[raw])} times")


def _methods_and_size(walk: _Walk, packed: int, limits: Limits) -> None:
    """legacy.py ``_is_valid_dist_file``: stored or deflated members only, and no bomb."""
    odd = [c for c in walk.centrals if c.method not in (STORED, DEFLATED)]
    for central in odd:
        walk.refuse("WS621", f"{central.name!r} uses compression method {central.method} "
                    f"({METHOD_NAMES.get(central.method, 'unknown')}); PyPI accepts stored (0) and "
                    "deflated (8) only")
    unpacked = sum(c.size for c in walk.centrals)
    bomb = unpacked > RATIO_FLOOR and unpacked / max(packed, 1) > RATIO
    # With a compression-ratio limit of 50 or less the reader refuses the same file (WS109),
    # unless it stops earlier at a method it cannot read or an encrypted member.
    covered = limits.compression_ratio <= RATIO and not odd and not any(c.flags & ENCRYPTED for c in walk.centrals)
    if bomb and not covered:
        walk.refuse("WS633", f"the wheel unpacks to {unpacked:,} bytes, {unpacked / max(packed, 1):.0f}x its "
                    f"{packed:,}; PyPI refuses over 64 MiB at over 50x")


def _decompressed_head(head: bytes) -> bytes:
    """The first `TAR_HEAD` bytes of the file as tarfile's ``r:*`` would see them."""
    try:
        if head.startswith(b"\x1f\x8b"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, TAR_HEAD)
        if head.startswith(b"BZh"):
            return bz2.BZ2Decompressor().decompress(head, TAR_HEAD)
        if head.startswith(b"\xfd7zXZ\x00"):
            return lzma.LZMADecompressor().decompress(head, TAR_HEAD)
    except (zlib.error, OSError, EOFError, lzma.LZMAError):
        return b""
    return head


def reads_as_tar(path: Path) -> bool:
    """Whether ``tarfile.is_tarfile`` would take the file (warehouse's polyglot refusal,
    legacy.py ``_is_valid_dist_file``): a tar header opens it, plain or compressed. Read
    from its first MiB, so a forged header cannot make it read more."""
    with path.open("rb") as fh:
        head = fh.read(TAR_HEAD)
    try:
        with tarfile.open(fileobj=io.BytesIO(_decompressed_head(head)), mode="r:"):
            return True
    except (tarfile.TarError, ValueError, OSError, EOFError):
        return False


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """The ZIP framing of a wheel, rule for rule as warehouse/utils/zipfiles.py and
    warehouse/forklift/legacy.py ``_is_valid_dist_file`` check it."""
    if not path.name.endswith(".whl") or not _reads_as_zip(path):
        return  # not a ZIP at all: the reader's WS106 says so
    result = _Walk()
    with path.open("rb") as fh:
        try:
            _walk_records(fh, limits, result)
            end, size = fh.tell(), fh.seek(0, io.SEEK_END)
            if end > size:
                result.refuse("WS632", "the end record's comment runs past the end of the file")
            elif end < size:
                result.refuse("WS631", f"{size - end:,} bytes follow the end record (a second archive, or a "
                              "signature, glued on)")
        except _Stop:
            pass
    if result.overflow:
        return  # past `limits.members`: the reader refuses it (WS109), and nothing more is read
    if result.complete:
        _cross_check(result)
        _methods_and_size(result, path.stat().st_size, limits)
    if reads_as_tar(path):
        result.refuse("WS634", "the file also opens as a tar archive (a ZIP/tar polyglot, CVE-2026-3219)")
    for code, messages in result.found.items():
        more = f" and {len(messages) - SHOWN} more" if len(messages) > SHOWN else ""
        findings.add(code, path.name, "; ".join(messages[:SHOWN]) + more + f": {FIX}")


def _reads_as_zip(path: Path) -> bool:
    """`zipfile.is_zipfile`, which raises on some damaged ZIP64 records instead of saying no."""
    try:
        return zipfile.is_zipfile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
