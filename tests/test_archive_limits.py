"""Hostile and malformed files: `wheelship check` reads them within limits, runs nothing
from them, and answers each with a coded finding, never a traceback or exit 70."""

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
import textwrap
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.archives import Limits
from pipeline.checks import Findings
from pipeline.checks.files import check_files

GIB_IN_MIB = 1024
ZEROS = bytes(1 << 20)
METADATA = b"Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\nDescription-Content-Type: text/plain\n\nA demo.\n"
WHEEL = b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


# --- making bombs without holding them -----------------------------------------------------


def _deflated(prefix: bytes, mib: int, suffix: bytes = b"") -> Iterator[bytes]:
    """Raw deflate of `prefix`, `mib` MiB of zeros and `suffix`: one MiB of zeros is
    deflated once and its flushed output repeated, so a GiB costs no GiB of work."""
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    yield head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = block.compress(ZEROS) + block.flush(zlib.Z_FULL_FLUSH)
    for _ in range(mib):
        yield one
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    yield tail.compress(suffix) + tail.flush()


def _crc(prefix: bytes, mib: int, suffix: bytes = b"") -> int:
    crc = zlib.crc32(prefix)
    for _ in range(mib):
        crc = zlib.crc32(ZEROS, crc)
    return zlib.crc32(suffix, crc)


def zip_bomb(path: Path, member: str, prefix: bytes, mib: int, others: dict[str, bytes]) -> Path:
    """A ZIP whose first member (deflated) holds `prefix` and `mib` MiB of zeros, then `others`."""
    name = member.encode()
    size, crc = len(prefix) + (mib << 20), _crc(prefix, mib)
    with path.open("wb") as fh:
        fh.write(b"\0" * (30 + len(name)))  # the local header, written once the sizes are known
        compressed = sum(fh.write(chunk) for chunk in _deflated(prefix, mib))
        end = fh.tell()
        fh.seek(0)
        fh.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, compressed, size, len(name), 0)
                 + name)
        fh.seek(end)
        central = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, compressed, size,
                              len(name), 0, 0, 0, 0, 0o644 << 16, 0) + name
        fh.write(central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), end, 0))
    with zipfile.ZipFile(path, "a") as archive:  # appending reads the central directory, never the bomb
        for other, data in others.items():
            archive.writestr(other, data)
    return path


def wheel_bomb(path: Path, mib: int = GIB_IN_MIB) -> Path:
    """bomb-1.0-py3-none-any.whl whose METADATA unpacks to `mib` MiB."""
    return zip_bomb(path / "bomb-1.0-py3-none-any.whl", "bomb-1.0.dist-info/METADATA", METADATA, mib, {
        "bomb-1.0.dist-info/WHEEL": WHEEL, "bomb-1.0.dist-info/RECORD": b"", "bomb/__init__.py": b""})


def sdist_bomb(path: Path, mib: int = GIB_IN_MIB, member: str = "bomb-1.0/PKG-INFO") -> Path:
    """bomb-1.0.tar.gz whose `member` (PKG-INFO) unpacks to `mib` MiB, then a pyproject.toml."""
    info = tarfile.TarInfo(member)
    info.size = len(METADATA) + (mib << 20)
    later = tarfile.TarInfo("bomb-1.0/pyproject.toml")
    later.size = 10
    suffix = b"\0" * (-info.size % 512) + later.tobuf() + b"[project]\n".ljust(512, b"\0") + b"\0" * 1024
    prefix = info.tobuf() + METADATA
    out = path / "bomb-1.0.tar.gz"
    with out.open("wb") as fh:
        fh.write(b"\x1f\x8b\x08\x00\0\0\0\0\x02\xff")  # gzip: deflate, no name, no time
        for chunk in _deflated(prefix, mib, suffix):
            fh.write(chunk)
        total = len(prefix) + (mib << 20) + len(suffix)
        fh.write(struct.pack("<2I", _crc(prefix, mib, suffix), total & 0xFFFFFFFF))
    return out


# --- small real-looking files --------------------------------------------------------------


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(folder: Path, name: str = "demo-1.0-py3-none-any.whl", *, files: dict[str, bytes] | None = None,
               record: bytes | None = None, metadata: bytes | None = None) -> Path:
    """A small wheel of `demo` 1.0 with a RECORD that matches, unless `record` replaces it."""
    files = {"demo/__init__.py": b"x = 1\n"} if files is None else files
    meta = {"demo-1.0.dist-info/METADATA": metadata or METADATA.replace(b"bomb", b"demo"),
            "demo-1.0.dist-info/WHEEL": WHEEL}
    rows = "".join(f"{n},{_hash(d)},{len(d)}\n" for n, d in {**files, **meta}.items())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in {**files, **meta}.items():
            archive.writestr(member, data)
        archive.writestr("demo-1.0.dist-info/RECORD",
                         record if record is not None else (rows + "demo-1.0.dist-info/RECORD,,\n").encode())
    return path


def make_sdist(folder: Path, members: dict[str, bytes] | None = None, name: str = "demo-1.0.tar.gz",
               mode: str = "w:gz") -> Path:
    members = {"demo-1.0/PKG-INFO": METADATA.replace(b"bomb", b"demo"), "demo-1.0/pyproject.toml": b"[project]\n"} \
        if members is None else members
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(autouse=True)
def _no_overlay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHEELSHIP_CONFIG", raising=False)


def run_check(cli, tmp_path: Path, *args: str | Path) -> tuple[int, list[dict[str, str]], str]:  # type: ignore[no-untyped-def]
    report = tmp_path / "check.json"
    result = cli("check", *args, "--json", report)
    assert "Traceback" not in result.text and "internal error" not in result.text, result.text
    findings = json.loads(report.read_text())["findings"] if report.exists() else []
    return result.code, findings, result.text


# --- bombs: a limit stops them before their bytes are unpacked ------------------------------


def test_a_wheel_whose_metadata_unpacks_to_a_gib_is_refused_unread(cli, tmp_path):
    bomb = wheel_bomb(tmp_path)
    assert bomb.stat().st_size < 2 << 20
    code, findings, _ = run_check(cli, tmp_path, bomb)
    assert code == 5
    assert [(f["code"], f["severity"]) for f in findings] == [("WS109", "error")]
    assert "bomb-1.0.dist-info/METADATA unpacks to 1.0 GiB" in findings[0]["message"]
    assert "[limits] metadata-size" in findings[0]["message"]


def test_an_sdist_whose_pkg_info_unpacks_to_a_gib_is_refused_unread(cli, tmp_path):
    bomb = sdist_bomb(tmp_path)
    assert bomb.stat().st_size < 2 << 20
    code, findings, _ = run_check(cli, tmp_path, bomb)
    assert code == 5
    assert [(f["code"], f["severity"]) for f in findings] == [("WS109", "error")]
    assert "bomb-1.0/PKG-INFO unpacks to 1.0 GiB" in findings[0]["message"]


def test_a_wheel_member_past_the_compression_ratio_is_refused(cli, tmp_path):
    bomb = zip_bomb(tmp_path / "bomb-1.0-py3-none-any.whl", "bomb/data.bin", b"", 100, {
        "bomb-1.0.dist-info/METADATA": METADATA, "bomb-1.0.dist-info/WHEEL": WHEEL, "bomb-1.0.dist-info/RECORD": b""})
    code, findings, _ = run_check(cli, tmp_path, bomb)
    assert code == 5 and [f["code"] for f in findings] == ["WS109"]
    assert "bomb/data.bin unpacks to 100.0 MiB" in findings[0]["message"]
    assert "50x compression-ratio limit" in findings[0]["message"]


def test_an_sdist_stops_where_its_stream_passes_the_ratio_and_a_spec_can_raise_it(cli, tmp_path):
    bomb = sdist_bomb(tmp_path, mib=100, member="bomb-1.0/data.bin")  # no PKG-INFO: the ratio speaks first
    code, findings, _ = run_check(cli, tmp_path, bomb)
    assert code == 5 and [f["code"] for f in findings] == ["WS109"]
    assert "at bomb-1.0/data.bin (100.0 MiB)" in findings[0]["message"]
    spec = tmp_path / "spec.toml"
    spec.write_text("[limits]\ncompression-ratio = 5000\n")
    code, findings, _ = run_check(cli, tmp_path, bomb, "--spec", spec)
    assert "WS109" not in {f["code"] for f in findings}
    assert {"WS501", "WS507"} <= {f["code"] for f in findings}  # read to the end: no PKG-INFO, a large file


@pytest.mark.parametrize(("table", "expected"), [
    ('members = 3', "more than 3 members"),
    ('member-size = "4 B"', "demo/__init__.py unpacks to 6 bytes (6 bytes): over the 4 bytes limit for a member"),
    ('total-size = 100', "limit for the total"),
    ('metadata-size = "0.05 KiB"', "demo-1.0.dist-info/METADATA unpacks to"),
])
def test_each_limit_is_a_buildspec_key_and_a_finding_naming_the_member(cli, tmp_path, table, expected):
    spec = tmp_path / "spec.toml"
    spec.write_text(f"[limits]\n{table}\n")
    code, findings, _ = run_check(cli, tmp_path, make_wheel(tmp_path / "dist"), "--spec", spec)
    assert code == 5 and [f["code"] for f in findings] == ["WS109"]
    assert expected in findings[0]["message"]


def test_an_sdist_with_more_members_than_the_limit(cli, tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text("[limits]\nmembers = 5\n")
    sdist = make_sdist(tmp_path / "dist", {f"demo-1.0/m{i}.py": b"" for i in range(9)})
    code, findings, _ = run_check(cli, tmp_path, sdist, "--spec", spec)
    assert code == 5 and [(f["code"], f["message"][:38]) for f in findings] == [
        ("WS109", "the archive holds more than 5 members:")]


def test_a_forged_tar_header_is_refused_before_it_is_read(cli, tmp_path):
    info = tarfile.TarInfo("demo-1.0/PKG-INFO")
    info.pax_headers = {"comment": "x" * (20 << 20)}  # a 20 MiB pax header, read whole by tarfile
    path = tmp_path / "demo-1.0.tar.gz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b""))
    code, findings, _ = run_check(cli, tmp_path, path)
    assert code == 5 and [f["code"] for f in findings] == ["WS109"]
    assert "a tar header after the first header declares 20.0 MiB" in findings[0]["message"]


def test_check_files_takes_its_limits_and_verify_s_call_keeps_working(tmp_path):
    wheel = make_wheel(tmp_path)
    findings = Findings()
    check_files([wheel], findings, native=False, parity=False, limits=Limits(members=2))
    assert [f.code for f in findings.items] == ["WS109"]
    findings = Findings()
    check_files([wheel], findings, native=False, parity=True)  # as verify calls it: the defaults
    assert findings.items == []


@pytest.mark.parametrize(("table", "expected"), [
    ('member-size = "lots"', "limits.member-size = 'lots': expected a size"),
    ("members = 0", "limits.members = 0: expected a positive whole number"),
    ("member = 1", "unknown key limits.member (did you mean 'members'?)"),
])
def test_a_bad_limits_table_is_a_usage_error(cli, tmp_path, table, expected):
    spec = tmp_path / "spec.toml"
    spec.write_text(f"[limits]\n{table}\n")
    result = cli("check", make_wheel(tmp_path), "--spec", spec)
    assert result.code == 2 and expected in result.err


# --- bad files: a coded finding each, exit 5, never a traceback ------------------------------


def _not_a_zip(tmp: Path) -> Path:
    tmp.mkdir(parents=True)
    (tmp / "demo-1.0-py3-none-any.whl").write_bytes(b"this is not a zip file\n")
    return tmp / "demo-1.0-py3-none-any.whl"


def _named(name: str):  # type: ignore[no-untyped-def]
    def make(tmp: Path) -> Path:
        return make_wheel(tmp, name) if name.lower().endswith(".whl") else make_sdist(tmp, name=name)
    return make


def _record(record: bytes):  # type: ignore[no-untyped-def]
    return lambda tmp: make_wheel(tmp, record=record)


def _truncated_wheel(tmp: Path) -> Path:
    wheel = make_wheel(tmp, files={"demo/__init__.py": bytes(range(256)) * 400})
    wheel.write_bytes(wheel.read_bytes()[:-300])
    return wheel


def _broken_member(tmp: Path) -> Path:
    wheel = make_wheel(tmp, files={"demo/__init__.py": b"x = 1\n" * 2000})
    data = bytearray(wheel.read_bytes())
    at = data.index(b"demo/__init__.py") + len("demo/__init__.py") + 20  # inside its deflate stream
    data[at:at + 8] = b"\xff" * 8
    wheel.write_bytes(bytes(data))
    return wheel


def _bzip2_member(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", METADATA)
    return path


def _plain_tar(tmp: Path) -> Path:
    return make_sdist(tmp, mode="w")


def _bzip2_tar(tmp: Path) -> Path:
    return make_sdist(tmp, mode="w:bz2")


def _truncated_gzip(tmp: Path) -> Path:
    sdist = make_sdist(tmp, {"demo-1.0/PKG-INFO": METADATA, "demo-1.0/data": random.Random(0).randbytes(200_000)})
    sdist.write_bytes(sdist.read_bytes()[:-2000])
    return sdist


def _gzip_of_junk(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "demo-1.0.tar.gz").write_bytes(gzip.compress(b"not a tar archive" * 100))
    return tmp / "demo-1.0.tar.gz"


def _bz2_named_gz(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "demo-1.0.tar.gz").write_bytes(bz2.compress(b"x" * 100))
    return tmp / "demo-1.0.tar.gz"


BAD = {
    "whl-not-a-zip": (_not_a_zip, "WS106", "not a ZIP archive (or a truncated one), which a wheel is"),
    "name-foo.whl": (_named("foo.whl"), "WS603", "Invalid wheel filename (wrong number of parts): 'foo'"),
    "name-a-b-c.whl": (_named("a-b-c.whl"), "WS603", "a wheel is named {name}-{version}"),
    "name-x.tar.gz": (_named("x.tar.gz"), "WS603", "an sdist {name}-{version}.tar.gz"),
    "name-upper-WHL": (_named("demo-1.0-py3-none-any.WHL"), "WS602", "in lower case"),
    "name-zip-sdist": (_named("foo-1.0.zip"), "WS602", "a .zip sdist is refused since PEP 625"),
    "record-not-utf8": (_record(b"demo/__init__.py,,\n\xff\xfe,,\n"), "WS106", "RECORD is not UTF-8"),
    "record-not-csv": (_record(b"demo/__init__.py,," + b"x" * 200_000 + b"\n"), "WS106", "RECORD is not CSV"),
    "wheel-truncated": (_truncated_wheel, "WS106", "not a ZIP archive (or a truncated one)"),
    "wheel-member-corrupt": (_broken_member, "WS106", "the wheel is damaged"),
    "wheel-bzip2-member": (_bzip2_member, "WS106", "PyPI accepts only stored (0) and deflated (8) members"),
    "sdist-plain-tar": (_plain_tar, "WS106", "not gzip-compressed"),
    "sdist-bzip2-tar": (_bzip2_tar, "WS106", "not gzip-compressed"),
    "sdist-bz2-junk": (_bz2_named_gz, "WS106", "not gzip-compressed"),
    "sdist-truncated-gzip": (_truncated_gzip, "WS106", "the file is truncated"),
    "sdist-gzip-of-junk": (_gzip_of_junk, "WS106", "not a tar archive inside its gzip"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_file_is_a_coded_finding_and_exit_5(cli, tmp_path, case):
    make, code, text = BAD[case]
    path = make(tmp_path / "dist")
    exit_code, findings, output = run_check(cli, tmp_path, path)
    assert exit_code == 5, output
    ours = [f for f in findings if f["code"] == code and f["file"] == path.name]
    assert ours and ours[0]["severity"] == "error", findings
    assert text in ours[0]["message"], ours[0]["message"]


@pytest.mark.parametrize("algorithm", ["foo", "shake_128"])
def test_a_record_hash_that_cannot_be_checked_is_a_warning(cli, tmp_path, algorithm):
    # PyPI accepts any RECORD (it only e-mails), and pip and uv install such a wheel: a warning.
    wheel = make_wheel(tmp_path / "dist", record=f"demo/__init__.py,{algorithm}=abc,6\n".encode())
    exit_code, findings, _ = run_check(cli, tmp_path, wheel)
    assert exit_code == 0
    assert any(f["code"] == "WS408" and f"with {algorithm!r}, which cannot be checked" in f["message"]
               for f in findings), findings


def test_non_ascii_metadata_headers_are_read_as_text(cli, tmp_path):
    metadata = "Metadata-Version: 2.1\nName: démo\nVersion: 1.0\nDescription-Content-Type: text/plaiñ\n\nbody\n"
    exit_code, findings, _ = run_check(cli, tmp_path, make_wheel(tmp_path / "dist", metadata=metadata.encode()))
    assert exit_code == 5
    assert any(f["code"] == "WS101" and "'text/plaiñ' is not one PyPI renders" in f["message"] for f in findings)


def test_a_bad_name_beside_good_files_leaves_the_others_checked(cli, tmp_path):
    good = make_wheel(tmp_path / "dist")
    bad = _named("a-b-c.whl")(tmp_path / "dist")
    exit_code, findings, _ = run_check(cli, tmp_path, good, bad)
    assert exit_code == 5 and {(f["file"], f["code"]) for f in findings} == {(bad.name, "WS603")}


def test_a_missing_file_is_a_usage_error(cli, tmp_path):
    result = cli("check", tmp_path / "demo-1.0-py3-none-any.whl")
    assert result.code == 2 and "no such file" in result.err and "Traceback" not in result.text


# --- building from an sdist: only when asked, and without credentials -------------------------


BACKEND = textwrap.dedent('''\
    import base64, hashlib, os, sys, zipfile

    def _write(directory):
        if os.environ.get("DEMO_FAIL"):
            sys.stdout.buffer.write(b"backend says \\xff\\xfe no\\n")
            raise SystemExit(3)
        with open(os.environ["DEMO_LEAK"], "w") as fh:
            fh.write(repr(sorted(k for k in os.environ if "PASSWORD" in k or "TOKEN" in k or k.startswith("AWS_"))))
        name = "demo-1.0-py3-none-any.whl"
        with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
            wheel.writestr("demo/__init__.py", "x = 1\\n")
            wheel.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n")
            wheel.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nTag: py3-none-any\\n")
            wheel.writestr("demo-1.0.dist-info/RECORD", "")
        return name

    def build_wheel(directory, config_settings=None, metadata_directory=None):
        return _write(directory)
''')


@pytest.fixture
def leaky_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """An sdist whose in-tree backend writes down which credentials it can see, a wheel, the record."""
    pyproject = b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    sdist = make_sdist(tmp_path / "dist", {"demo-1.0/PKG-INFO": METADATA.replace(b"bomb", b"demo"),
                                           "demo-1.0/pyproject.toml": pyproject,
                                           "demo-1.0/backend.py": BACKEND.encode(),
                                           "demo-1.0/demo/__init__.py": b"x = 1\n"})
    leak = tmp_path / "leak.txt"
    for key, value in {"DEMO_LEAK": str(leak), "TWINE_PASSWORD": "pypi-secret-1", "MY_API_TOKEN": "t0ken-2",
                       "AWS_SECRET_ACCESS_KEY": "aws-3"}.items():
        monkeypatch.setenv(key, value)
    return sdist, make_wheel(tmp_path / "dist"), leak


@pytest.mark.integration
def test_check_builds_nothing_by_default(cli, tmp_path, leaky_project):
    sdist, wheel, leak = leaky_project
    exit_code, _, _ = run_check(cli, tmp_path, sdist, wheel)
    assert exit_code == 0 and not leak.exists()
    exit_code, _, _ = run_check(cli, tmp_path, sdist, wheel, "--no-build")  # the old flag, now the default
    assert exit_code == 0 and not leak.exists()


@pytest.mark.integration
def test_a_build_from_the_sdist_runs_without_credentials(cli, tmp_path, leaky_project):
    sdist, wheel, leak = leaky_project
    exit_code, _, output = run_check(cli, tmp_path, sdist, wheel, "--build-sdist")
    assert exit_code == 0, output
    assert leak.read_text() == "[]"  # the backend ran, and saw none of the three


@pytest.mark.integration
def test_a_failing_build_s_undecodable_output_is_a_finding(cli, tmp_path, leaky_project, monkeypatch):
    sdist, wheel, _ = leaky_project
    monkeypatch.setenv("DEMO_FAIL", "1")
    exit_code, findings, _ = run_check(cli, tmp_path, sdist, wheel, "--build-sdist")
    assert exit_code == 5
    assert [f["code"] for f in findings] == ["WS502"]
    assert "no wheel builds from the sdist" in findings[0]["message"]


def test_a_wheel_s_member_count_is_checked_before_zipfile_parses_it(tmp_path, monkeypatch):
    from pipeline import archives

    wheel = make_wheel(tmp_path, files={f"demo/m{i}.py": b"" for i in range(20)})
    monkeypatch.setattr(archives.zipfile, "ZipFile", None)  # any parse would fail loudly
    with pytest.raises(archives.LimitExceeded, match="more than 10 members"), \
            archives.open_wheel(wheel, Limits(members=10)):
        pass
