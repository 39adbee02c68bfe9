"""PyPI's archive rules, rule for rule: the smallest file PyPI refuses, and its nearest twin
that PyPI accepts. Every refused file gets its error code; every twin passes (no error);
nothing is a traceback or exit 70. Files are made here, byte by byte where Python's zipfile
and tarfile would hide what PyPI reads (local headers, data descriptors, trailing data).

The rules live in pipeline/checks/rules/{zipframe,wheelfiles,tarframe}.py, each citing the
warehouse file and function it mirrors.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import io
import json
import random
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.checks import CHECKS, Finding, Findings
from pipeline.checks.files import check_files
from pipeline.checks.rules import tarframe, wheelfiles, zipframe

WHEEL_NAME, SDIST_NAME, INFO, ROOT = "demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz", "demo-1.0.dist-info", "demo-1.0"
META = (b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: A demo\n"
        b"Description-Content-Type: text/plain\n\nA demo.\n")
META_LICENSED = META.replace(b"2.1", b"2.4").replace(b"Summary", b"License-File: LICENSE\nSummary")
WHEEL = b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
LOCAL, CENTRAL, END, END64, LOCATOR = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
MIB = 1 << 20


# --- ZIP, byte by byte --------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: bytes
    data: bytes = b""
    method: int = DEFLATED
    flags: int = 0
    local_name: bytes | None = None  # when the local header is to say another name
    local_size: int | None = None  # when the local header is to say another unpacked size
    local_extra: bytes = b""
    comment: bytes = b""


def _packed(entry: Entry) -> bytes:
    if entry.method == DEFLATED:
        squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
        return squeeze.compress(entry.data) + squeeze.flush()
    return bz2.compress(entry.data) if entry.method == BZIP2 else entry.data


def build_zip(entries: list[Entry], *, before: bytes = b"", between: bytes = b"", after: bytes = b"",
              archive_comment: bytes = b"", records: int | None = None, zip64: bytes | None = None) -> bytes:
    """A ZIP as PyPI reads it: local headers and data, the central directory, an end record
    (with a ZIP64 one before it when `zip64` is given, carrying it as extensible data)."""
    out, central = bytearray(before), bytearray()
    for entry in entries:
        packed, crc, offset = _packed(entry), zlib.crc32(entry.data), len(out)
        local_name = entry.local_name or entry.name
        size = len(entry.data) if entry.local_size is None else entry.local_size
        out += struct.pack("<4s5H3I2H", LOCAL, 20, entry.flags, entry.method, 0, 0x21, crc, len(packed), size,
                           len(local_name), len(entry.local_extra)) + local_name + entry.local_extra + packed + between
        central += struct.pack("<4s6H3I5H2I", CENTRAL, 20, 20, entry.flags, entry.method, 0, 0x21, crc, len(packed),
                               len(entry.data), len(entry.name), 0, len(entry.comment), 0, 0, 0o644 << 16, offset)
        central += entry.name + entry.comment
    start, count = len(out), len(entries) if records is None else records
    out += central
    if zip64 is not None:
        at = len(out)
        out += struct.pack("<4sQ2H2I4Q", END64, 44 + len(zip64), 45, 45, 0, 0, count, count, len(central), start)
        out += zip64 + struct.pack("<4sIQI", LOCATOR, 0, at, 1)
    out += struct.pack("<4s4H2IH", END, 0, 0, count, count, len(central), start, len(archive_comment))
    return bytes(out + archive_comment + after)


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_files(extra: dict[str, bytes] | None = None, *, metadata: bytes = META, record: bool = True,
                folder: str = INFO) -> dict[str, bytes]:
    """A small wheel of demo 1.0, with `extra` files and a RECORD that matches."""
    files = {"demo/__init__.py": b"x = 1\n", f"{folder}/METADATA": metadata, f"{folder}/WHEEL": WHEEL,
             **(extra or {})}
    if record:
        rows = "".join(f"{name},{_hash(data)},{len(data)}\n" for name, data in files.items())
        files[f"{folder}/RECORD"] = (rows + f"{folder}/RECORD,,\n").encode()
    return files


def entries_of(files: dict[str, bytes]) -> list[Entry]:
    return [Entry(name.encode(), data, flags=0 if name.isascii() else 0x800) for name, data in files.items()]


def wheel(folder: Path, files: dict[str, bytes] | None = None, *, tweak: Callable[[list[Entry]], list[Entry]] = list,
          name: str = WHEEL_NAME, **layout: bytes | int | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(build_zip(tweak(entries_of(wheel_files() if files is None else files)), **layout))  # type: ignore[arg-type]
    return path


def at(name: str, change: Callable[[Entry], Entry]) -> Callable[[list[Entry]], list[Entry]]:
    """A tweak: `change` the entry called `name`."""
    return lambda entries: [change(e) if e.name == name.encode() else e for e in entries]


# --- tar, byte by byte where tarfile will not write it -------------------------------------


def sdist(folder: Path, members: dict[str, bytes] | None = None, *, mode: str = "w:gz", level: int = 9,
          kinds: dict[str, bytes] | None = None) -> Path:
    """demo-1.0.tar.gz holding `members` (a PKG-INFO and a pyproject.toml by default);
    `kinds` gives a member another tar type (a GNU sparse member)."""
    members = {f"{ROOT}/PKG-INFO": META, f"{ROOT}/pyproject.toml": b"[project]\n"} if members is None else members
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SDIST_NAME
    options = {"compresslevel": level} if mode == "w:gz" else {}
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT, **options) as tar:  # type: ignore[call-overload]
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size, info.type = len(data), (kinds or {}).get(member, tarfile.REGTYPE)
            tar.addfile(info, io.BytesIO(data))
    return path


def _header(name: str, size_field: bytes) -> bytes:
    """A ustar header whose size field is `size_field` as it stands (base-256 included)."""
    info = tarfile.TarInfo(name)
    block = bytearray(info.tobuf(tarfile.USTAR_FORMAT))
    block[124:136] = size_field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % (256 + sum(block[:148]) + sum(block[156:]))
    return bytes(block)


def sdist_with_size_field(folder: Path, size_field: bytes) -> Path:
    """demo-1.0.tar.gz: PKG-INFO, then an empty member whose size field is `size_field`."""
    pkg = tarfile.TarInfo(f"{ROOT}/PKG-INFO")
    pkg.size = len(META)
    data = pkg.tobuf(tarfile.USTAR_FORMAT) + META.ljust(512, b"\0") + _header(f"{ROOT}/empty.py", size_field)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SDIST_NAME
    path.write_bytes(gzip.compress(data + b"\0" * 1024))
    return path


# --- what check says -----------------------------------------------------------------------


def check(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[Finding]:
    findings = Findings()
    check_files([path], findings, parity=False, limits=limits)
    return findings.items


def errors(items: list[Finding]) -> set[str]:
    return {f.code for f in items if f.severity == "error"}


# --- the cases: (refused, its twin PyPI accepts, the code) ---------------------------------


def _descriptor_wheel(folder: Path, seekable: bool) -> Path:
    """Python's zipfile writes data descriptors when it cannot seek back (a pipe)."""
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    sink: io.BytesIO | Pipe = io.BytesIO() if seekable else Pipe()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for member, data in wheel_files().items():
            archive.writestr(member, data)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WHEEL_NAME).write_bytes(sink.getvalue() if isinstance(sink, io.BytesIO) else bytes(sink.data))
    return folder / WHEEL_NAME


def _zipfile_wheel(folder: Path, *, entry_comment: bytes = b"", archive_comment: bytes = b"") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / WHEEL_NAME, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in wheel_files().items():
            info = zipfile.ZipInfo(member)
            info.comment = entry_comment if member.endswith("__init__.py") else b""
            archive.writestr(info, data, zipfile.ZIP_DEFLATED)
        archive.comment = archive_comment
    return folder / WHEEL_NAME


def _extra(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _unicode_path(name: bytes) -> bytes:
    return _extra(0x7075, b"\x01" + struct.pack("<I", zlib.crc32(name)) + name)


POLYGLOT_NAME_LENGTH = 512 - 30


def _polyglot(folder: Path, *, valid: bool) -> Path:
    """A wheel whose first 512 bytes (a local header and its long, printable name) are also a
    valid tar header: tarfile.is_tarfile takes it (CVE-2026-3219). Its twin's checksum is off by one."""
    head = struct.pack("<4s5H3I2H", LOCAL, 20, 0, STORED, 0, 0x21, 0, 0, 0, POLYGLOT_NAME_LENGTH, 0)
    fields = (b"demo/" + b"p" * 65 + b"0000644 " + b"0000000 " * 2 + b"00000000000 " * 2 + b"CHECKSUM" + b"0"
              + b"l" * 100 + b"v7tarxyz" + b"u" * 32 + b"g" * 32 + b"0000000 " * 2 + b"q" * 155 + b"z" * 12)
    block = head + fields
    checksum = 256 + sum(block[:148]) + sum(block[156:]) + (0 if valid else 1)
    name = (block[:148] + b"%07o " % checksum + block[156:])[30:]
    first = [Entry(name, method=STORED)]  # stored and empty: the header above is its local header
    return wheel(folder, wheel_files({name.decode(): b""}), tweak=lambda entries: first + [e for e in entries
                                                                                          if e.name != name])


def _bomb(folder: Path, *, with_noise: bool) -> Path:
    """Two 33 MiB members of zeros (each under 64 MiB), with 1.5 MB of noise in the twin."""
    noise = {"demo/noise.bin": random.Random(0).randbytes(1_500_000)} if with_noise else {}
    return wheel(folder, wheel_files({"demo/a.bin": bytes(33 * MIB), "demo/b.bin": bytes(33 * MIB), **noise}))


TOKEN = "pypi-" + "AgEIcHlwaS5vcmcCJ"  # a token's fixed start, in two parts for secret scanners


def _source_wheel(name: str, text: bytes) -> Callable[[Path], Path]:
    return lambda folder: wheel(folder, wheel_files({name: text}))


def _entry_points(text: bytes) -> Callable[[Path], Path]:
    return lambda folder: wheel(folder, wheel_files({f"{INFO}/entry_points.txt": text}))


def _sdist_members(members: dict[str, bytes], **options: int | str) -> Callable[[Path], Path]:
    return lambda folder: sdist(folder, members, **options)  # type: ignore[arg-type]


def _damaged_trailer(folder: Path) -> Path:
    """The gzip CRC at the very end is wrong: tarfile stops at the tar's end and never sees
    it; PyPI decompresses to the end and does."""
    path = sdist(folder)
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _zip_inside(level: int) -> Callable[[Path], Path]:
    """An sdist holding a ZIP as test data: stored (gzip level 0), its end record is the
    sdist's too; deflated, it is not."""
    def make(folder: Path) -> Path:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as inner:
            inner.writestr("a.txt", "a\n")
        return sdist(folder, {f"{ROOT}/PKG-INFO": META, f"{ROOT}/tests/data.zip": buffer.getvalue()}, level=level)
    return make


Maker = Callable[[Path], Path]
GOOD_WHEEL: Maker = wheel
GOOD_SDIST: Maker = sdist
PKG = {f"{ROOT}/PKG-INFO": META}

CASES: dict[str, tuple[Maker, Maker, str]] = {
    # zipframe: warehouse/utils/zipfiles.py and legacy.py _is_valid_dist_file
    "bzip2-member": (lambda f: wheel(f, tweak=at("demo/__init__.py", lambda e: replace(e, method=BZIP2))),
                     GOOD_WHEEL, "WS621"),
    "data-descriptor": (lambda f: _descriptor_wheel(f, seekable=False), lambda f: _descriptor_wheel(f, seekable=True),
                        "WS622"),
    "entry-comment": (lambda f: _zipfile_wheel(f, entry_comment=b"hi"),
                      lambda f: _zipfile_wheel(f, archive_comment=b"an archive comment is fine"), "WS623"),
    "zip64-extensible-data": (lambda f: wheel(f, zip64=b"\x00\x01\x02\x00ab"), lambda f: wheel(f, zip64=b""),
                              "WS624"),
    "duplicate-name": (lambda f: wheel(f, tweak=lambda es: [*es, es[0]]),
                       lambda f: wheel(f, wheel_files({"demo/A.py": b"", "demo/a.py": b""})), "WS403"),
    "name-not-utf8": (lambda f: wheel(f, tweak=at("demo/__init__.py", lambda e: replace(e, name=b"demo/\xff.py"))),
                      lambda f: wheel(f, wheel_files({"demo/\u00e9.py": b""})), "WS625"),
    "utf8-name-without-flag": (lambda f: wheel(f, wheel_files({"demo/\u00e9.py": b""}),
                                               tweak=at("demo/\u00e9.py", lambda e: replace(e, flags=0))),
                               lambda f: wheel(f, wheel_files({"demo/\u00e9.py": b""})), "WS625"),
    "control-character": (lambda f: wheel(f, wheel_files({"demo/a\x01.py": b""})),
                          lambda f: wheel(f, wheel_files({"demo/a b~.py": b""})), "WS626"),
    "unicode-path-control": (
        lambda f: wheel(f, tweak=at("demo/__init__.py", lambda e: replace(e, local_extra=_unicode_path(b"demo/\x07")))),
        lambda f: wheel(f, tweak=at("demo/__init__.py", lambda e: replace(e, local_extra=_unicode_path(e.name)))),
        "WS626"),
    "duplicate-unicode-path-extra": (
        lambda f: wheel(f, tweak=at("demo/__init__.py",
                                    lambda e: replace(e, local_extra=_unicode_path(e.name) * 2))),
        lambda f: wheel(f, tweak=at("demo/__init__.py",  # a timestamp twice is no rule's business
                                    lambda e: replace(e, local_extra=_extra(0x5455, b"\x01\0\0\0\0") * 2))),
        "WS627"),
    "local-size-differs": (lambda f: wheel(f, tweak=at("demo/__init__.py", lambda e: replace(e, local_size=7))),
                           GOOD_WHEEL, "WS628"),
    "local-name-differs": (
        lambda f: wheel(f, tweak=at("demo/__init__.py", lambda e: replace(e, local_name=b"demo/__main__.py"))),
        GOOD_WHEEL, "WS628"),
    "record-count": (lambda f: wheel(f, records=5), GOOD_WHEEL, "WS629"),
    "leading-data": (lambda f: wheel(f, before=b"#!/bin/sh\nexec python3 -m demo\n"), GOOD_WHEEL, "WS630"),
    "gap-between-members": (lambda f: wheel(f, between=b"\0" * 16), GOOD_WHEEL, "WS630"),
    "trailing-data": (lambda f: wheel(f, after=b"glued on"), lambda f: wheel(f, archive_comment=b"glued on"), "WS631"),
    "malformed-zip64-extra": (
        lambda f: wheel(f, tweak=at("demo/__init__.py", lambda e: replace(e, local_extra=_extra(1, b"\0" * 12)))),
        lambda f: wheel(f, tweak=at("demo/__init__.py", lambda e: replace(e, local_extra=_extra(1, b"")))),
        "WS632"),
    "zip-tar-polyglot": (lambda f: _polyglot(f, valid=True), lambda f: _polyglot(f, valid=False), "WS634"),
    # wheelfiles: legacy.py file_upload, utils/wheel.py, utils/scanner.py
    "wheel-file-misplaced": (lambda f: wheel(f, wheel_files({"Demo-1.0.dist-info/WHEEL": WHEEL}),
                                             tweak=lambda es: [e for e in es if e.name != f"{INFO}/WHEEL".encode()]),
                             GOOD_WHEEL, "WS671"),
    "metadata-misplaced": (
        lambda f: wheel(f, wheel_files({"Demo-1.0.dist-info/METADATA": META}),
                        tweak=lambda es: [e for e in es if e.name != f"{INFO}/METADATA".encode()]),
        GOOD_WHEEL, "WS672"),
    "no-record": (lambda f: wheel(f, wheel_files(record=False)),
                  lambda f: wheel(f, {**wheel_files(), f"{INFO}/RECORD": b"demo/__init__.py,,\n"}),  # PyPI e-mails
                  "WS673"),
    "entry-points-not-ini": (_entry_points(b"demo = demo:main\n"), _entry_points(b"[console_scripts]\ndemo = demo:main\n"),
                             "WS674"),
    "entry-points-not-utf8": (_entry_points(b"[console_scripts]\nd\xe9mo = demo:main\n"),
                              _entry_points("[console_scripts]\nd\u00e9mo = demo:main\n".encode()), "WS674"),
    "script-name-path": (_entry_points(b"[console_scripts]\nbin/demo = demo:main\n"),
                         _entry_points(b"[console_scripts]\ndemo-cli.v2_x = demo:main\n[other]\nbin/x = demo:m\n"),
                         "WS675"),
    "license-file-missing": (lambda f: wheel(f, wheel_files(metadata=META_LICENSED)),
                             lambda f: wheel(f, wheel_files({f"{INFO}/licenses/LICENSE": b"MIT\n"},
                                                            metadata=META_LICENSED)), "WS676"),
    "pyarmor": (_source_wheel("demo/core.py", b"from .pyarmor_runtime import __pyarmor__\n"
                              b"__pyarmor__(__name__, __file__, b'PY000000')\n"),
                _source_wheel("demo/core.py", b"# the pyarmor template: __pyarmor__(__name__, $path, b'')\n"), "WS677"),
    "pyarmor-hook": (_source_wheel("demo/core.py", b"__pyarmor_enter__()\n"),
                     _source_wheel("demo/core.txt", b"__pyarmor_enter__()\n"), "WS677"),
    "pyarmor-past-5-mib": (_source_wheel("demo/core.PY", b"__pyarmor_exit__()\n".ljust(5 * MIB, b"#")),
                           _source_wheel("demo/core.PY", b"__pyarmor_exit__()\n".ljust(5 * MIB + 1, b"#")), "WS677"),
    "sourcedefender": (_source_wheel("demo/core.pye", b"---BEGIN PYE FILE---\nAAAA\n---END PYE FILE---\n"),
                       _source_wheel("demo/core.pye", b"---BEGIN PYE FILE---\nAAAA\n"), "WS677"),
    "pypi-token": (_source_wheel("demo/conf.py", f"TOKEN = '{TOKEN}{'A' * 150}'\n".encode()),
                   _source_wheel("demo/conf.py", f"TOKEN = '{TOKEN}{'A' * 149}'\n".encode()), "WS678"),
    # tarframe: legacy.py _is_valid_dist_file and file_upload
    "plain-tar": (lambda f: sdist(f, mode="w"), GOOD_SDIST, "WS691"),
    "bzip2-tar": (lambda f: sdist(f, mode="w:bz2"), GOOD_SDIST, "WS691"),
    "gzip-crc-at-the-end": (_damaged_trailer, GOOD_SDIST, "WS692"),
    "sparse-member": (lambda f: sdist(f, {**PKG, f"{ROOT}/hole.bin": b""}, kinds={f"{ROOT}/hole.bin": b"S"}),
                      _sdist_members({**PKG, f"{ROOT}/hole.bin": b""}), "WS693"),
    "negative-size": (lambda f: sdist_with_size_field(f, b"\xff" * 12),
                      lambda f: sdist_with_size_field(f, b"\x80" + b"\0" * 11), "WS694"),
    "two-top-folders": (_sdist_members({**PKG, "other-1.0/README": b"hi\n"}),
                        _sdist_members({**PKG, f"{ROOT}/other/README": b"hi\n"}), "WS695"),
    "no-pkg-info": (_sdist_members({f"{ROOT}/pyproject.toml": b"[project]\n", f"{ROOT}/setup.py": b""}),
                    GOOD_SDIST, "WS501"),
    "sdist-license-file-missing": (_sdist_members({f"{ROOT}/PKG-INFO": META_LICENSED, f"{ROOT}/README": b""}),
                                   _sdist_members({f"{ROOT}/PKG-INFO": META_LICENSED, f"{ROOT}/LICENSE": b"MIT\n"}),
                                   "WS696"),
    "tar-zip-polyglot": (_zip_inside(level=0), _zip_inside(level=9), "WS697"),
    "sdist-pyarmor": (_sdist_members({**PKG, f"{ROOT}/demo/__init__.py": b"__pyarmor_assert__()\n"}),
                      _sdist_members({**PKG, f"{ROOT}/demo/NOTES.txt": b"__pyarmor_assert__()\n"}), "WS677"),
}
VIA_CLI = ("data-descriptor", "entry-comment", "trailing-data", "no-record", "plain-tar", "tar-zip-polyglot",
           "negative-size")


@pytest.mark.parametrize("case", [c for c in CASES if c not in VIA_CLI])
def test_pypi_refuses_it_and_its_twin_passes(tmp_path, case):
    refused, twin, code = CASES[case]
    found = check(refused(tmp_path / "refused"))
    assert code in errors(found), [f.line() for f in found]
    accepted = check(twin(tmp_path / "twin"))
    assert errors(accepted) == set(), [f.line() for f in accepted]


@pytest.mark.parametrize("case", VIA_CLI)
def test_wheelship_check_refuses_it_and_passes_its_twin(cli, tmp_path, case):
    refused, twin, code = CASES[case]
    for path, expected in ((refused(tmp_path / "refused"), 5), (twin(tmp_path / "twin"), 0)):
        report = tmp_path / f"{path.parent.name}.json"
        result = cli("check", path, "--json", report)
        assert result.code == expected and "Traceback" not in result.text, result.text
        found = json.loads(report.read_text())["findings"]
        assert (code in {f["code"] for f in found if f["severity"] == "error"}) == (expected == 5), found


def test_every_rule_of_the_three_families_has_a_case():
    codes = {code for family in (zipframe, wheelfiles, tarframe) for code, *_ in family.RULES} | {"WS403", "WS501"}
    assert codes - {code for _, _, code in CASES.values()} == {"WS633"}  # the bomb has its own tests below
    assert all(CHECKS[code].severity == "error" for code in codes)
    cited = {code for family in (zipframe, wheelfiles, tarframe) for code in family.WAREHOUSE}
    assert cited == codes and all(w.startswith("warehouse/") for family in (zipframe, wheelfiles, tarframe)
                                  for w in family.WAREHOUSE.values())


def test_a_bomb_pypi_refuses_is_ws633_when_the_ratio_limit_is_raised_and_never_twice(tmp_path):
    raised = Limits(compression_ratio=5000)
    bomb = _bomb(tmp_path / "bomb", with_noise=False)  # 66 MiB from about 70 KB: PyPI refuses over 50x
    assert "WS633" in errors(check(bomb, raised))
    at_default = errors(check(bomb))
    assert "WS109" in at_default and "WS633" not in at_default  # the reader's limit already says it
    twin = _bomb(tmp_path / "twin", with_noise=True)  # 67 MiB from 1.6 MB: 43x, which PyPI accepts
    assert errors(check(twin, raised)) == set() and errors(check(twin)) == set()


def test_a_wheel_past_the_member_limit_gets_only_the_limits_finding(tmp_path):
    findings = check(wheel(tmp_path, tweak=lambda es: [*es, es[0]]), Limits(members=2))
    assert [f.code for f in findings] == ["WS109"]  # nothing more of it is read, no framing finding either


def test_a_record_pypi_would_only_e_mail_about_stays_a_warning(tmp_path):
    found = check(wheel(tmp_path, {**wheel_files(), f"{INFO}/RECORD": b"demo/__init__.py,,\n"}))
    assert errors(found) == set() and "WS408" in {f.code for f in found}
