"""Fuzzing what wheelship reads from others: wheels, sdists, stored records, index answers.

Issue 23, point 5: a bad input is a coded finding or a class error (exit 2 to 8) whose
message names the input and says what to do; exit 70 is left for wheelship's own bugs.
Each family starts from small valid inputs (tests/distfactory, a pristine stored run,
a well-formed listing) and changes them, byte by byte and part by part, and asserts:
no exit 70, no traceback, and nothing written outside the example's own folder.

Every run is the same run: Hypothesis is derandomized (its seed comes from the test's
name), keeps no example database, and each family's example count is fixed (`EXAMPLES`).
(It does keep a cache of the constants it reads in the source under ./.hypothesis, which
it gitignores itself.) A bug the fuzzing found stays as an explicit `@example`, with
what it was.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import http.server
import io
import json
import shutil
import struct
import tarfile
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline import archives
from pipeline.errors import PublishFailed, WheelshipError
from pipeline.index import Index, Listed, parse_listing
from pipeline.records import PublishRecord, TestResult
from pipeline.spec import IndexConfig
from pipeline.ui import host_description
from tests.conftest import ROOT
from tests.test_tampering import PROJECT, RUN, VERSION, _pristine

#: Examples per family: together well under a minute on two cores.
EXAMPLES = {"wheels": 300, "sdists": 250, "records": 100, "publish": 8, "listings": 1000, "answers": 100}


def fuzzing(examples: int) -> settings:
    """The same `examples` examples on every run, none remembered between runs."""
    return settings(
        max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=False,
        suppress_health_check=[
            # An example is a whole command (tens of milliseconds; verify and publish more): slow
            # for a unit, not for what it does.
            HealthCheck.too_slow,
            # `cli`, `tmp_path` and the sandbox carry nothing from one example to the next: each
            # example works in a fresh folder of its own (`contained`), `cli` empties the capture
            # on each call, and a dry-run publish uploads nothing.
            HealthCheck.function_scoped_fixture,
        ],
    )


# --- nothing written outside --------------------------------------------------------------

#: A name the fuzzed inputs plant as paths (`../`, absolute): it must never appear outside
#: the folder an sdist is unpacked into.
MARKER = "wheelship-fuzz-escaped.pth"
HOSTILE_NAMES = (f"../{MARKER}", f"../../{MARKER}", "../" * 8 + MARKER, f"/tmp/{MARKER}", f"//tmp/{MARKER}",
                 f"fuzzed-1.0/../../{MARKER}", f"fuzzed-1.0/..\\..\\{MARKER}", f"C:/{MARKER}", f"./{MARKER}", MARKER)


def _escaped(tmp_path: Path) -> list[Path]:
    """The marker wherever a hostile name could have put it: under the test's folder (less
    the folders sdists are unpacked into), in each folder above it, the repository, /tmp."""
    inside = {p for p in tmp_path.rglob(MARKER) if "dest" not in p.relative_to(tmp_path).parts}
    above = {folder / MARKER for folder in (*tmp_path.parents, ROOT, Path("/tmp"), Path.home())}
    return sorted(inside | {p for p in above if p.exists() or p.is_symlink()})


@contextlib.contextmanager
def contained(tmp_path: Path) -> Iterator[Path]:
    """A fresh folder for one example that is also the working folder and holds the
    temporary folder: whatever a command writes by a relative path or through `tempfile`
    lands inside it. Afterwards the temporary folder must be empty, and the marker
    nowhere outside."""
    work = Path(tempfile.mkdtemp(dir=tmp_path, prefix="example-"))
    scratch = work / "tmp"
    scratch.mkdir()
    with contextlib.chdir(work), mock.patch.object(tempfile, "tempdir", str(scratch)):
        yield work
    assert _escaped(tmp_path) == [], "a name from the input was written outside the example's folder"
    assert sorted(scratch.iterdir()) == [], "the command left files in the temporary folder"
    shutil.rmtree(work)


def _no_bug(result: Any, codes: tuple[int, ...]) -> None:
    """The edge's promise: a class code, its message and what to do, never a traceback."""
    assert result.code in codes, f"exit {result.code}\n{result.err}"
    assert "Traceback" not in result.text and "internal error" not in result.text, result.err
    if result.code != 0:
        assert "what to do:" in result.err, f"exit {result.code} with no hint:\n{result.err}"


# --- byte-level changes, for every archive ----------------------------------------------------

#: Header fields worth forging, by signature: (offset, width).
ZIP_FIELDS: dict[bytes, tuple[tuple[int, int], ...]] = {
    # local header: flags, method, CRC, compressed and full size, name and extra lengths
    b"PK\x03\x04": ((6, 2), (8, 2), (14, 4), (18, 4), (22, 4), (26, 2), (28, 2)),
    # central directory: flags, method, CRC, sizes, name/extra/comment lengths, disk, attributes, offset
    b"PK\x01\x02": ((8, 2), (10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (34, 2), (38, 4),
                    (42, 4)),
    # end record: disks, entry counts, directory size and offset, comment length
    b"PK\x05\x06": ((4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 4), (20, 2)),
    # ZIP64 end record (entry counts, directory size and offset) and its locator (disks, the record's offset)
    b"PK\x06\x06": ((24, 8), (32, 8), (40, 8), (48, 8)),
    b"PK\x06\x07": ((4, 4), (8, 8), (16, 4)),
}
EDGES = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 63,
         (1 << 64) - 1)
POSITION = st.integers(0, 1 << 16)
BYTE_OPS = st.one_of(
    st.tuples(st.just("flip"), POSITION, st.integers(1, 255)),
    st.tuples(st.just("cut"), POSITION),
    st.tuples(st.just("insert"), POSITION, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("write"), POSITION, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), POSITION, st.integers(1, 512)),
    st.tuples(st.just("repeat"), POSITION, st.integers(1, 512), st.integers(1, 3)),
    st.tuples(st.just("field"), st.sampled_from(sorted(ZIP_FIELDS)), st.integers(0, 8), st.integers(0, 10),
              st.one_of(st.sampled_from(EDGES), st.integers(0, (1 << 64) - 1))),
)


def mutate(data: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    """`data` changed by each op in turn; positions wrap around the data's length."""
    out = bytearray(data)
    for op in ops:
        kind, at = op[0], op[1] % (len(out) + 1) if isinstance(op[1], int) else 0
        if kind == "flip" and at < len(out):
            out[at] ^= op[2]
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = op[2]
        elif kind == "write":
            out[at:at + len(op[2])] = op[2]
        elif kind == "delete":
            del out[at:at + op[2]]
        elif kind == "repeat":
            out[at:at] = bytes(out[at:at + op[2]]) * op[3]
        elif kind == "field":
            _forge(out, *op[1:])
    return bytes(out)


def _forge(out: bytearray, signature: bytes, which: int, field: int, value: int) -> None:
    """Overwrite one header field of the `which`-th header with `signature`."""
    starts, at = [], out.find(signature)
    while at >= 0:
        starts.append(at)
        at = out.find(signature, at + 1)
    if not starts:
        return
    offset, width = ZIP_FIELDS[signature][field % len(ZIP_FIELDS[signature])]
    start = starts[which % len(starts)] + offset
    if start + width <= len(out):
        out[start:start + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


# --- wheels -----------------------------------------------------------------------------------

PURE, PLATFORM = "py3-none-any", "cp311-cp311-manylinux_2_17_x86_64"
INFO = "fuzzed-1.0.dist-info"
METADATA = (b"Metadata-Version: 2.1\nName: fuzzed\nVersion: 1.0\nSummary: test distribution\n"
            b"Description-Content-Type: text/markdown\n\n# fuzzed\n")
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=40)
MEMBER_NAMES = st.one_of(st.sampled_from((
    *HOSTILE_NAMES, "fuzzed/__init__.py", "fuzzed/", "fuzzed/mod.py", "fuzzed/_native.so", "tests/__init__.py",
    "yaml/__init__.py", "google/protobuf/__init__.py", f"{INFO}/METADATA", f"{INFO}/RECORD", f"{INFO}/WHEEL",
    f"{INFO}/entry_points.txt", "other-2.0.dist-info/METADATA", "fuzzed-1.0.data/purelib/x.py",
    "fuzzed-1.0.data/scripts/x", "fuzzed-1.0.data/", "fuzzed/__pycache__/x.pyc", ".git/config", "fuzzed/x~", "",
    "/", "a" * 300, "fuzzed/ünïcode.py", "fuzzed/x\\y.py", "fuzzed//x.py", "fuzzed/./x.py",
)), TEXT)
CONTENTS = st.one_of(st.sampled_from((
    b"", b"\x7fELF" + b"\0" * 60, b"MZ" + b"\0" * 70, b"import ctypes\nctypes.CDLL(os.path.join(os.path.dirname("
    b"__file__), 'libmissing.so'))\n", b"__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n",
    b"\xff\xfe\x00", b"x" * 5000,
)), st.binary(max_size=200))
METADATA_FIELDS = {
    "Metadata-Version": ("2.1", "2.4", "1.0", "3.0", "x", ""),
    "Name": ("fuzzed", "Fuzzed", "other-project", "", "../x", "fuzzed\x00"),
    "Version": ("1.0", "1.0.0", "2.0", "not a version", "", "1.0+local", "1.0\udcff"),
    "Description-Content-Type": ("text/markdown", "text/x-rst", "text/plain", "text/html", ";;", "",
                                 "text/markdown; charset=UTF-8; variant=GFM", "text/x-rst; charset=latin-1"),
    "Requires-Python": (">=3.8", ">=", "garbage", "", "~=3"),
    "Import-Name": ("fuzzed", "yaml", "fuzzed; private", "", "a.b.c"),
    "Summary": ("a summary", "", "x" * 2000),
}
DESCRIPTIONS = ("# Title\n", "Title\n=====\n\n* a\n* b\n", ".. raw:: html\n\n   <script>x</script>\n",
                "`unterminated", "* " * 100, "[x](javascript:alert(1))", ".. include:: /etc/passwd\n",
                "Title\n===\n\n.. image:: x\n   :width: 9999999999999999999\n", "::\n\n" + "  x\n" * 50,
                "UNKNOWN", "")
WHEEL_TAGS = (PURE, PLATFORM, "garbage", "a-b", "py3-none-any-extra", "", "py2.py3-none-any", "cp311-abi3-linux_x86_64")


@st.composite
def metadata_files(draw: st.DrawFn) -> bytes:
    lines = [f"{name}: {draw(st.sampled_from(values) | TEXT)}" for name, values in METADATA_FIELDS.items()
             if draw(st.booleans())]
    text = "\n".join(lines) + "\n\n" + draw(st.sampled_from(DESCRIPTIONS) | st.text(max_size=200))
    data = text.encode("utf-8", "surrogateescape")
    return draw(st.just(data) | st.builds(lambda d, at: d[:at] + b"\xff\xfe" + d[at:], st.just(data),
                                          st.integers(0, len(data))))


@st.composite
def record_files(draw: st.DrawFn, members: list[tuple[str, bytes]]) -> bytes:
    def digest(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    right = [f"{name},sha256={digest(data)},{len(data)}" for name, data in members] + [f"{INFO}/RECORD,,"]
    kind = draw(st.sampled_from(("right", "rows", "missing-row", "binary")))
    if kind == "right":
        return "\n".join(right).encode() + b"\n"
    if kind == "missing-row":
        return "\n".join(right[draw(st.integers(0, len(right) - 1)) + 1:]).encode()
    if kind == "binary":
        return draw(st.binary(max_size=200))
    hashes = st.sampled_from(("sha256=wrong", "md5=x", "shake_128=x", "=", "", "sha256", "nosuch=x",
                              "sha256\x00=x", "sha3_256=x", "blake2b=" + "A" * 86, 'sha256="x'))
    names = st.sampled_from([n for n, _ in members]) | MEMBER_NAMES
    rows = draw(st.lists(st.tuples(names, hashes, st.sampled_from(("", "1", "-1", "x", "9" * 30))), max_size=6))
    return "\n".join(",".join(row) for row in rows).encode("utf-8", "surrogateescape")


def _zip(members: list[tuple[str, bytes]], compression: int) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as archive:
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # a duplicate is the point
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def zip64(data: bytes) -> bytes:
    """The same ZIP with a ZIP64 end record and locator, and the plain end record's fields
    at their ZIP64 markers, as a ZIP past 65,535 entries or 4 GiB is written."""
    at = data.rfind(b"PK\x05\x06")
    _, _, _, count, total, size, offset, _ = struct.unpack_from("<4s4H2IH", data, at)
    record = struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, total, size, offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:at] + record + locator + end


@st.composite
def wheels(draw: st.DrawFn) -> tuple[str, bytes]:
    """A wheel's file name and bytes: the members tests/distfactory.make_wheel writes (here
    with a fixed date, so that the bytes are the same on every run), some of them replaced,
    dropped or added, then some of its bytes changed."""
    tag = draw(st.sampled_from((PURE, PLATFORM)))
    members = [("fuzzed/__init__.py", b"__version__ = '1.0'\n")]
    if tag == PLATFORM:
        members.append(("fuzzed/_native.so", b"\x7fELF (stands in for compiled code)"))
    members += [(f"{INFO}/METADATA", draw(st.just(METADATA) | metadata_files())),
                (f"{INFO}/WHEEL", f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: "
                                  f"{draw(st.just(tag) | st.sampled_from(WHEEL_TAGS))}\n".encode())]
    members += draw(st.lists(st.tuples(MEMBER_NAMES, CONTENTS), max_size=3))
    dropped = draw(st.sets(st.integers(0, len(members) - 1), max_size=2))
    members = [m for i, m in enumerate(members) if i not in dropped]
    members += members[:1] if draw(st.booleans()) else []  # a duplicate entry
    members.append((f"{INFO}/RECORD", draw(record_files(members))))
    data = _zip(members, draw(st.sampled_from((zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED))))
    if draw(st.booleans()):
        data = zip64(data)
    name = draw(st.just(f"fuzzed-1.0-{tag}.whl") | st.sampled_from((
        "fuzzed-1.0-1-py3-none-any.whl", "fuzzed-1.0-py2.py3-none-any.whl", "Fuzzed-1.0-py3-none-any.whl",
        "fuzzed-2.0-py3-none-any.whl", "other-1.0-py3-none-any.whl", "fuzzed-1.0-py3-none-linux_x86_64.whl",
        "fuzzed-1.0-py3-none-any.WHL", "fuzzed-1.0-py3-none.whl", "fuzzed-1.0.zip")))
    return name, mutate(data, draw(st.lists(BYTE_OPS, max_size=3)))


def _check(cli: Any, work: Path, name: str, data: bytes) -> Any:
    path = work / name
    path.write_bytes(data)
    report = work / "report.json"
    result = cli("check", path, "--json", report)
    _no_bug(result, (0, 2, 5))
    if result.code in (0, 5):
        facts = json.loads(report.read_text())
        assert facts["ok"] == (result.code == 0)
        assert all(f["file"] == name for f in facts["findings"])  # each finding names the file
        if result.code == 5:
            assert name in result.err
    return result


def _wheel(*extra: tuple[str, bytes], record: bytes | None = None, tag: str = PURE) -> tuple[str, bytes]:
    """A wheel as distfactory makes one, with `extra` members and another RECORD if given."""
    members = [("fuzzed/__init__.py", b"__version__ = '1.0'\n"), (f"{INFO}/METADATA", METADATA),
               (f"{INFO}/WHEEL", f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()),
               *extra]
    return f"fuzzed-1.0-{tag}.whl", _zip([*members, (f"{INFO}/RECORD", record or b"")], zipfile.ZIP_DEFLATED)


VALID_WHEEL = _wheel()[1]


@fuzzing(EXAMPLES["wheels"])
# Found by this test, each once exit 70:
@example(wheel=(_wheel()[0], VALID_WHEEL[1:]))  # a member placed before the file's start: OSError
@example(wheel=_wheel(record=b"fuzzed/__init__.py,sha256\x00=x,20\n"))  # hashlib.new("sha256\0"): TypeError
@example(wheel=_wheel(("", b"x"), tag=PLATFORM))  # a member with no name: IndexError in ZipInfo.is_dir
# The same kind, found reading zipfile after them: flags it does not read, a local name that is not its UTF-8
@example(wheel=(_wheel()[0], mutate(VALID_WHEEL, [("field", b"PK\x01\x02", 0, 0, 0x20)])))
@example(wheel=(_wheel()[0], mutate(VALID_WHEEL, [("field", b"PK\x03\x04", 0, 0, 0x800), ("write", 30, b"\xff")])))
@example(wheel=(_wheel()[0], zip64(VALID_WHEEL)))  # ZIP64 end records, which the member count walks
# a ZIP64 locator that says two disks: zipfile.is_zipfile raised BadZipFile (exit 70)
@example(wheel=(_wheel()[0], mutate(zip64(VALID_WHEEL), [("field", b"PK\x06\x07", 0, 2, 2)])))
@given(wheel=wheels())
def test_a_fuzzed_wheel_is_a_finding_never_a_bug(cli, tmp_path, wheel):
    name, data = wheel
    with contained(tmp_path) as work:
        _check(cli, work, name, data)


# --- sdists -----------------------------------------------------------------------------------

#: ustar header fields: (offset, width), and values worth forging in them.
TAR_FIELDS = {"name": (0, 100), "mode": (100, 8), "uid": (108, 8), "size": (124, 12), "mtime": (136, 12),
              "chksum": (148, 8), "type": (156, 1), "linkname": (157, 100), "magic": (257, 8), "devmajor": (329, 8),
              "prefix": (345, 155)}
TAR_VALUES = st.one_of(st.sampled_from((
    b"", b"\0", b"0000000\0", b"77777777777\0", b"7" * 12, b"\x80" + b"\xff" * 11, b"\xff" * 12,
    b"\x80\0\0\0\0\0\0\x01\0\0\0\0", b"zz", b"-1", *(t.encode() for t in "0123456789gxKLSDVMN"),
    *(n.encode() for n in HOSTILE_NAMES), b"ustar\x0000", b"ustar  \0", b"a" * 155,
)), st.binary(max_size=16))
TAR_OPS = st.tuples(st.integers(0, 6), st.sampled_from(sorted(TAR_FIELDS)), TAR_VALUES, st.booleans())
TAR_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "link": tarfile.LNKTYPE,
             "fifo": tarfile.FIFOTYPE, "chardev": tarfile.CHRTYPE, "contiguous": tarfile.CONTTYPE,
             "sparse": tarfile.GNUTYPE_SPARSE}
PAX_KEYS = ("path", "linkpath", "size", "mtime", "uid", "uname", "GNU.sparse.map", "GNU.sparse.major",
            "GNU.sparse.minor", "GNU.sparse.size", "GNU.sparse.name", "GNU.sparse.realsize", "GNU.sparse.offset",
            "GNU.sparse.numbytes", "GNU.sparse.numblocks", "hdrcharset", "SCHILY.xattr.user.x", "comment")
PAX_VALUES = ("0", "-1", "abc", "9" * 20, "1,2,3", "1,a", "0,0", "1.0", "1.5e9", "../" + MARKER, "BINARY", "",
              "\u202e", "0.1")
SDIST_NAMES = st.one_of(st.sampled_from(HOSTILE_NAMES), st.sampled_from((
    "fuzzed-1.0/PKG-INFO", "fuzzed-1.0/setup.py", "fuzzed-1.0/src", "fuzzed-1.0/src/x.py", "fuzzed-1.0/.git/HEAD",
    "fuzzed-1.0/__pycache__/x.pyc", "fuzzed-1.0/.venv/pyvenv.cfg", "fuzzed-1.0/poetry.lock", "fuzzed-1.0",
    "fuzzed-1.0/", "other-1.0/PKG-INFO", "PKG-INFO", "fuzzed-1.0/" + "a" * 200, "fuzzed-1.0/link",
    "fuzzed-1.0/link/x", "fuzzed-1.0/PKG-INFO/x", "fuzzed-1.0/ünï", "",
)), TEXT.map(lambda t: "fuzzed-1.0/" + t))


@st.composite
def tar_members(draw: st.DrawFn) -> tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(draw(SDIST_NAMES))
    kind = draw(st.sampled_from(sorted(TAR_TYPES)))
    info.type = TAR_TYPES[kind]
    info.linkname = draw(SDIST_NAMES | st.sampled_from(("/", "/etc/passwd", "..", "../..", "/tmp")))
    info.mode = draw(st.sampled_from((0o644, 0o755, 0o4755, 0o000, 0o7777)))
    info.pax_headers = draw(st.dictionaries(st.sampled_from(PAX_KEYS), st.sampled_from(PAX_VALUES), max_size=3))
    if kind in ("file", "contiguous", "sparse"):
        return info, draw(CONTENTS)
    return info


def _tar(members: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]], fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for member in members:
            info, data = member if isinstance(member, tuple) else (member, b"")
            info.size = len(data)
            with contextlib.suppress(ValueError, tarfile.TarError, UnicodeError):  # what tarfile will not write
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def forge_tar(data: bytes, ops: list[tuple[int, str, bytes, bool]]) -> bytes:
    """Overwrite fields of the tar's headers, the checksum fixed or not, so tarfile reads
    the forged value (a fixed checksum) or finds the header damaged."""
    out = bytearray(data)
    headers = [at for at in range(0, len(out) - 511, 512) if out[at + 257:at + 262] == b"ustar"]
    for which, field, value, fix in ops:
        if not headers:
            break
        at = headers[which % len(headers)]
        offset, width = TAR_FIELDS[field]
        out[at + offset:at + offset + width] = value[:width].ljust(width, b"\0")
        if fix:
            block = out[at:at + 512]
            block[148:156] = b" " * 8
            out[at + 148:at + 156] = b"%06o\0 " % sum(block)
    return bytes(out)


@st.composite
def sdists(draw: st.DrawFn) -> bytes:
    """An sdist's bytes: the members tests/distfactory.make_sdist writes, others added, tar
    headers forged, then gzip's bytes changed."""
    members: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]] = [
        (tarfile.TarInfo("fuzzed-1.0/PKG-INFO"), draw(st.just(METADATA) | metadata_files())),
        (tarfile.TarInfo("fuzzed-1.0/pyproject.toml"), b'[project]\nname = "fuzzed"\n'),
    ]
    members += draw(st.lists(tar_members(), max_size=4))
    tar = _tar(members, draw(st.sampled_from((tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT))))
    tar = forge_tar(tar, draw(st.lists(TAR_OPS, max_size=3)))
    packed = gzip.compress(tar, mtime=0)
    packed += draw(st.sampled_from((b"", gzip.compress(b"x" * 600, mtime=0), b"\0" * 64, b"garbage")))
    return mutate(packed, draw(st.lists(BYTE_OPS, max_size=2)))


def _sdist(*extra: tarfile.TarInfo, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """An sdist as distfactory makes one, with `extra` members (empty files, links, folders)."""
    return gzip.compress(_tar([(tarfile.TarInfo("fuzzed-1.0/PKG-INFO"), METADATA), *extra], fmt), mtime=0)


def _member(name: str, **attributes: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    for key, value in attributes.items():
        setattr(info, key, value)
    return info


@fuzzing(EXAMPLES["sdists"])
# Found by this test, each once exit 70 or a traceback:
@example(data=_sdist(_member("fuzzed-1.0/x", pax_headers={"GNU.sparse.map": "abc"})))  # tarfile's int(): ValueError
@example(data=_sdist(_member("fuzzed-1.0/link", type=tarfile.LNKTYPE, linkname="fuzzed-1.0/missing")))  # KeyError
@example(data=_sdist(_member("fuzzed-1.0/late", mtime=10**20)))  # os.utime: OverflowError
@example(data=_sdist(_member("fuzzed-1.0/.git/\udc80"), fmt=tarfile.GNU_FORMAT))  # a name no stream can print
@given(data=sdists())
def test_a_fuzzed_sdist_is_a_finding_never_a_bug_and_unpacks_only_into_its_folder(cli, tmp_path, data):
    with contained(tmp_path) as work:
        _check(cli, work, "fuzzed-1.0.tar.gz", data)
        try:  # what verify and `check --build-sdist` do before building: the only path that writes
            archives.extract(work / "fuzzed-1.0.tar.gz", work / "dest")
        except WheelshipError as exc:
            assert exc.exit_code in (5, 6) and exc.hint, exc


# --- stored records ---------------------------------------------------------------------------

TARGETS = ("plan.json", "records/pure.json", "records/sdist.json", "verify.json", "publish.json")
KEYS = ("project", "version", "run_id", "tag", "trigger", "created", "dry_run", "index", "native", "requires_python",
        "import_names", "test_command", "checks", "slices", "name", "platform", "arch", "runner", "identifiers",
        "index_urls", "tagged", "commit", "written_by", "slice", "finished", "artifacts", "identifier", "kind",
        "sha256", "size", "builder", "tools", "built_on", "test", "status", "host", "ok", "files", "findings",
        "upload_url", "qemu", "job")
ODD_STRINGS = (
    "", ".", "..", f"../../{MARKER}", f"/tmp/{MARKER}", MARKER, "C:\\x", "tampered-1.0-py3-none-any.whl",
    "tampered-1.0.tar.gz", "tampered-2.0-py3-none-any.whl", "victim-1.0-py3-none-any.whl",
    "tampered-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "tampered-1.0-py3-none-any.whl/..", "pure", "sdist",
    "linux-x86_64", "r1", "r0", "pypi", "testpypi", "passed", "untested", "failed", "uploaded", "would upload",
    "[/]", "[bold]x", "%s", "{}", "\x00", "\u202e", "ü" * 3, "a" * 300, "0" * 64, ">=3.8", ">=", "not a specifier",
    "1.0", "2.0", "v1.0", "not a version", "WS001", "error", "off", "bogus", "py3-none-any", "now",
    "2024-01-01T00:00:00+00:00", "9999-99-99",
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from((1 << 64, -1, 10**30, 1e308, -0.0)),
              st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(ODD_STRINGS), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
RAW = (b"", b"{", b"\xff\xfe", b"null", b"[]", b'"x"', b"1e999999", b"9" * 5000, b"[" * 100_000, b'{"a":' * 50_000,
       b"NaN", b"{}" + b"\0")
DROP = object()
#: One change to one stored record: (file, path, operation, value). A path's steps are
#: keys, or numbers that pick the n-th key or item (wrapping), so any record can be walked.
EDITS = st.one_of(
    st.tuples(st.sampled_from(TARGETS), st.lists(st.integers(0, 15) | st.sampled_from(KEYS), max_size=4).map(tuple),
              st.sampled_from(("set", "drop", "add", "wrap")), JSON_VALUES),
    st.tuples(st.sampled_from(TARGETS), st.just(()), st.just("raw"), st.sampled_from(RAW)),
)


def edit(node: Any, path: tuple[Any, ...], op: str, value: Any) -> Any:
    """`node` with the part at `path` (as far as it goes) changed by `op`; `DROP` to remove it."""
    step = path[0] if path else None
    if isinstance(node, dict) and node and step is not None:
        key = step if step in node else sorted(node)[step % len(node)] if isinstance(step, int) else None
        if key is not None:
            changed = edit(node[key], path[1:], op, value)
            return {k: v for k, v in node.items() if k != key} if changed is DROP else {**node, key: changed}
    if isinstance(node, list) and node and isinstance(step, int):
        i = step % len(node)
        changed = edit(node[i], path[1:], op, value)
        return node[:i] + ([] if changed is DROP else [changed]) + node[i + 1:]
    return {"set": value, "drop": DROP, "wrap": [node], "add": {**node, "extra": value} if isinstance(node, dict)
            else value}[op]


@pytest.fixture
def pristine(tmp_path: Path) -> Path:
    """A stored run that publishes (tests/test_tampering.py), with a publish record too."""
    run = _pristine(f"file://{tmp_path / 'pristine'}", tmp_path)
    files = {a["name"]: "uploaded" for r in ("pure", "sdist") for a in run.read("records", f"{r}.json")["artifacts"]}
    run.write(PublishRecord.from_json({"index": "pypi", "upload_url": "http://127.0.0.1:1/", "dry_run": False,
                                       "files": files, "finished": "now", "host": "h"}).to_json(), "publish.json")
    return tmp_path / "pristine"


@pytest.fixture
def no_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify's test-installs and its build from the sdist are other tests' subject (test_release,
    test_checks); here they would cost seconds an example. What is fuzzed is the reading of records."""
    from pipeline import testinstall

    passed = TestResult(status="passed", host=host_description(), interpreter="stub", how="stub")
    monkeypatch.setattr("pipeline.checks.files.check_built_from_sdist", lambda *args, **kwargs: None)
    monkeypatch.setattr(testinstall, "test_install", lambda *args, **kwargs: testinstall.Outcome(test=passed))


def _tamper(pristine: Path, work: Path, edits: list[tuple[str, tuple[Any, ...], str, Any]]) -> str:
    """A copy of the pristine store in `work`, its records changed by `edits`; its URL."""
    store = work / "store"
    shutil.copytree(pristine, store)
    run = store / PROJECT / VERSION / RUN
    for target, path, op, value in edits:
        record = run / target
        if op == "raw":
            record.write_bytes(value)
            continue
        try:
            current = json.loads(record.read_bytes())
        except (OSError, ValueError, RecursionError):
            continue  # dropped, or no longer JSON, by an earlier edit
        changed = edit(current, path, op, value)
        if changed is DROP:
            record.unlink(missing_ok=True)
        else:
            record.write_text(json.dumps(changed))
    return f"file://{store}"


RECORD_CODES = (0, 2, 5, 6, 7, 8)


@fuzzing(EXAMPLES["records"])
# Found by this test, each once exit 70 or a message with no hint:
@example(edits=[("plan.json", (), "raw", b"{")])  # invalid JSON: exit 6 with no "what to do"
@example(edits=[("plan.json", (), "raw", b"[" * 100_000)])  # RecursionError from json
@example(edits=[("plan.json", ("project",), "set", None)])  # AttributeError: every value's type is checked now
@example(edits=[("plan.json", (), "set", None)])  # JSON null: "no run r1" (exit 8) for a run that is there
@example(edits=[("plan.json", ("requires_python",), "set", ">=")])  # InvalidSpecifier in verify
@example(edits=[("plan.json", ("tag",), "set", "[/]")])  # rich MarkupError in status
@example(edits=[("plan.json", ("trigger",), "set", "[/]")])
@example(edits=[("plan.json", ("checks",), "set", {"WS001": "bogus"})])  # silenced a check: now refused
@example(edits=[("records/pure.json", ("artifacts", 0, "tools"), "set", {"build": 1})])  # read whole, typed
@example(edits=[("records/pure.json", ("runner",), "set", "[/]")])  # text status shows, as rich markup
@given(edits=st.lists(EDITS, min_size=1, max_size=3))
def test_a_fuzzed_stored_run_is_a_class_error_never_a_bug(cli, pristine, no_builds, tmp_path, edits):
    with contained(tmp_path) as work:
        url = _tamper(pristine, work, edits)
        for command in (["status"], ["fetch", "-o", work / "out"], ["fetch", "--run-id", RUN, "-o", work / "out"],
                        ["verify", "--run-id", RUN]):
            _no_bug(cli(command[0], PROJECT, VERSION, "--store", url, *command[1:]), RECORD_CODES)


@pytest.mark.integration
@fuzzing(EXAMPLES["publish"])
# Runs that pass their reading, so the publish stages themselves see them:
@example(edits=[("verify.json", ("ok",), "set", False)])  # a run no verify passed
@example(edits=[("publish.json", (), "drop", None)])
@example(edits=[("records/pure.json", ("artifacts", 0, "sha256"), "set", "0" * 64)])  # bytes not as recorded
@given(edits=st.lists(EDITS, max_size=2))  # the first example is the untouched run, which would upload
def test_a_fuzzed_stored_run_publishes_as_a_dry_run_or_is_refused(cli, sandbox_env, pristine, no_builds, tmp_path,
                                                                  edits):
    with contained(tmp_path) as work:
        url = _tamper(pristine, work, edits)
        _no_bug(cli("publish", PROJECT, VERSION, "--store", url, "--run-id", RUN, "--dry-run"), RECORD_CODES)


# --- index answers ----------------------------------------------------------------------------

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
CONTENT_TYPES = (JSON_TYPE, "application/json", "text/html", "application/vnd.pypi.simple.v1+html", "",
                 "text/plain", "application/json; charset=utf-8", "text/html; charset=latin-1")
BASES = ("https://pypi.example/simple/pkg/", "http://127.0.0.1:1/simple/pkg/", "https://h/simple/pkg",
         "http://[::1]/simple/pkg/")
HREFS = st.one_of(st.sampled_from((
    "../../packages/pkg-1.0.tar.gz#sha256=" + "0" * 64, "https://files.example/pkg-1.0-py3-none-any.whl",
    "http://[::1", "http://[bad/", "//host/x.whl", "javascript:alert(1)", "file:///etc/passwd", "data:,x",
    "http://a:99999999/x", "http://user:secret@host/x.whl", "\x00", "%", "%zz", "?", "#", "", " https://x/y.whl ",
    "https://ex ample/x.whl", "http://\u0130.example/x.whl", "x.whl#sha256=a&sha256=b", "x.whl#sha256", "#sha256=",
    "x.whl#md5=1", "pkg%2F..%2F..%2Fx.whl", "pkg-1.0.tar.gz?x=1#sha256=%zz", "\\\\host\\x.whl", "http:x.whl",
)), TEXT)
FILENAMES = st.one_of(st.sampled_from(("pkg-1.0.tar.gz", "pkg-1.0-py3-none-any.whl", "", ".", "..", "a/b",
                                       "a\\b", "x\x00", "\u202e", "a" * 300)), TEXT)
TIMES = st.sampled_from(("2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "2024-13-45T99:99", "", "Z",
                         "9999-12-31T23:59:59+23:59", "0001-01-01T00:00:00-23:59", "2024-01-01T00:00:00+24:00"))


@st.composite
def json_pages(draw: st.DrawFn) -> str:
    entries = draw(st.lists(st.fixed_dictionaries(
        {"filename": FILENAMES, "url": HREFS},
        optional={"hashes": st.fixed_dictionaries({}, optional={"sha256": st.sampled_from(("0" * 64, "", "x"))}),
                  "upload-time": TIMES, "size": st.integers(-1, 1 << 70), "yanked": st.booleans() | TEXT}),
        max_size=4))
    page: dict[str, Any] = {"meta": {"api-version": "1.1"}, "name": "pkg", "files": entries}
    if draw(st.booleans()):  # PEP 792
        page["project-status"] = draw(st.fixed_dictionaries({}, optional={
            "status": st.sampled_from(("active", "archived", "quarantined", "deprecated")) | JSON_VALUES,
            "reason": JSON_VALUES}) | JSON_VALUES)
    for path, op, value in draw(st.lists(st.tuples(
            st.lists(st.integers(0, 9) | st.sampled_from(("files", "filename", "url", "hashes", "sha256", "size",
                                                          "upload-time")), max_size=4).map(tuple),
            st.sampled_from(("set", "drop", "add", "wrap")), JSON_VALUES), max_size=2)):
        page = edit(page, path, op, value) if page is not DROP else page
    text = "" if page is DROP else json.dumps(page)
    return draw(st.just(text) | st.sampled_from(("[" * 100_000, '{"files": ' * 50_000, "9" * 5000, "{", "NaN",
                                                  '{"files": [], "files": 1}', text[: len(text) // 2])))


HTML_PIECES = st.one_of(
    st.builds(lambda href, text: f'<a href="{href}">{text}</a>', HREFS, FILENAMES),
    st.builds(lambda href: f"<a href='{href}'>", HREFS),
    st.sampled_from(("<a href=", "<a>", "</a>", "<a href>x</a>", "<![bogus[", "<!--", "<![CDATA[x", "&#x110000;",
                     "&#0;", "&", "<base href='http://evil/'>", "<a href=x.whl data-yanked>x.whl</a>",
                     "<script>", "<a href=\"x.whl\"><a href=\"y.whl\">y</a>", "<!DOCTYPE html><html><body>",
                     "<?xml ?>", "</", "<a\x00 href=x>x</a>", "<a href=x.whl>\u202egpj.whl</a>",
                     '<meta name="pypi:project-status" content="archived">', '<meta name="pypi:project-status">',
                     '<meta name="pypi:project-status-reason" content="[/]\x00">', "<meta content=x>")),
    TEXT,
)


def _answered(body: str, content_type: str, base: str) -> None:
    """parse_listing's promise: plain file names and http(s) URLs, or a publish error naming the page."""
    try:
        listed = parse_listing(body, content_type, base)
    except PublishFailed as exc:
        assert exc.exit_code == 7 and exc.hint and "the listing at" in exc.message, exc
        return
    for name, entry in listed.items():
        assert isinstance(entry, Listed) and entry.filename == name and name.isprintable() and "/" not in name
        assert entry.url.startswith(("http://", "https://")) and "#" not in entry.url


@fuzzing(EXAMPLES["listings"])
# Found by this test: a URL kept with the spaces (and tabs, newlines) urlsplit dropped before it was checked
@example(body='<a href=" https://x/y.whl ">pkg-1.0.tar.gz</a>', content_type="text/html", base=BASES[0])
@given(body=json_pages() | st.lists(HTML_PIECES, max_size=8).map("".join), content_type=st.sampled_from(CONTENT_TYPES),
       base=st.sampled_from(BASES))
def test_a_fuzzed_listing_is_files_or_a_publish_error(body, content_type, base):
    _answered(body, content_type, base)


class _Answer(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        status, content_type, body = self.server.answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    answer: tuple[int, str, bytes] = (404, "text/plain", b"")


@pytest.fixture(scope="module")
def index_server() -> Iterator[_Server]:
    """An index on loopback whose one answer each example sets."""
    server = _Server(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


CHARSETS = ("", "; charset=utf-8", "; charset=latin-1", "; charset=utf-16", "; charset=nope", "; charset=idna",
            "; charset=punycode", "; charset=unicode_escape", "; charset=base64", "; charset=\"utf-8")


@fuzzing(EXAMPLES["answers"])
@given(status=st.sampled_from((200, 200, 200, 404, 410)),
       content_type=st.builds(str.__add__, st.sampled_from(CONTENT_TYPES), st.sampled_from(CHARSETS)),
       body=st.one_of(json_pages().map(str.encode), st.lists(HTML_PIECES, max_size=6).map("".join).map(str.encode),
                      st.binary(max_size=100), st.sampled_from((b'{"files": [{"filename": "\xff", "url": "x"}]}',
                                                                 b"<a href='x.whl'>\xff\xfe</a>"))))
def test_an_index_s_fuzzed_answer_is_files_or_a_publish_error(index_server, status, content_type, body):
    index_server.answer = (status, content_type, body)
    url = f"http://127.0.0.1:{index_server.server_port}/"
    index = Index(IndexConfig(name="fuzzed", upload_url=url + "legacy/", simple_url=url + "simple/",
                              password_env="FUZZED_TOKEN"), None, timeout=10)
    try:
        listed = index.listing("pkg")
    except WheelshipError as exc:
        assert exc.exit_code == 7 and exc.hint and f"{url}simple/pkg/" in exc.message, exc
        return
    assert status == 200 or listed == {}
