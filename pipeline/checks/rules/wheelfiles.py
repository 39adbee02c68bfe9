"""PyPI's upload rules: what a wheel must hold, where, and what it must not.

warehouse finds a wheel's metadata by its file name, case and all: the folder is
``{name}-{version}.dist-info`` with `name` and `version` as the file name spells them
(``filename.split("-", 2)``), never a normalised form. WHEEL, METADATA and RECORD must be
there; entry_points.txt, when there, must read; every License-File must be under its
``licenses/``. Its scanner (warehouse/utils/scanner.py with the YARA rules in
warehouse/utils/scanner_rules/) refuses obfuscated ``.py``/``.pye`` files of up to 5 MiB,
in wheels and sdists alike (`scan` is shared with the tarframe family).

A wheel past the reader's limits, or one it cannot read, is left to WS109 and WS106.
"""

from __future__ import annotations

import configparser
import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from packaging.metadata import Metadata
from packaging.version import InvalidVersion, Version

from pipeline import archives

if TYPE_CHECKING:
    from pipeline.archives import Limits
    from pipeline.checks import Findings

RULES: tuple[tuple[str, str, str, str], ...] = (
    ("WS671", "dist-info-wheel-missing", "error",
     "WHEEL is not in {name}-{version}.dist-info as the file name spells it, which PyPI refuses"),
    ("WS672", "dist-info-metadata-missing", "error",
     "METADATA is not in {name}-{version}.dist-info as the file name spells it, which PyPI refuses"),
    ("WS673", "dist-info-record-missing", "error",
     "no RECORD in {name}-{version}.dist-info as the file name spells it, which PyPI refuses"),
    ("WS674", "entry-points-invalid", "error", "entry_points.txt that is not UTF-8 or not INI, which PyPI refuses"),
    ("WS675", "script-name-invalid", "error", "a console or GUI script whose name is a path or holds other characters"),
    ("WS676", "wheel-license-file-missing", "error", "a License-File the wheel lacks under .dist-info/licenses/"),
    ("WS677", "obfuscated-code", "error", "PyArmor- or SourceDefender-obfuscated code, which PyPI refuses"),
    ("WS678", "pypi-token-in-code", "error", "a PyPI API token in a .py file, which PyPI refuses"),
)
#: The warehouse rule each code mirrors (file:function, in pypi/warehouse).
WAREHOUSE = {
    "WS671": "warehouse/forklift/legacy.py:_is_valid_dist_file (WHEEL at {name}-{version}.dist-info)",
    "WS672": "warehouse/forklift/legacy.py:file_upload (METADATA at {name}-{version}.dist-info)",
    "WS673": "warehouse/utils/wheel.py:_validate_record (MissingWheelRecordError)",
    "WS674": "warehouse/utils/wheel.py:_validate_entrypoints",
    "WS675": "warehouse/utils/wheel.py:_validate_section",
    "WS676": "warehouse/forklift/legacy.py:file_upload (License-File in .dist-info/licenses/)",
    "WS677": "warehouse/utils/scanner.py:check_members (scanner_rules/pyarmor.yar, sourcedefender.yar)",
    "WS678": "warehouse/utils/scanner.py:check_members (scanner_rules/pypi_token.yar)",
}

#: scanner.py ``_SCAN_EXTENSIONS`` and ``_SCAN_MAX_FILE_SIZE``
SCANNED, SCAN_MOST = (".py", ".pye"), 5 << 20
#: scanner_rules/pyarmor.yar: any one of these
PYARMOR = (b"__pyarmor__(__name__, __file__,", b"__pyarmor_enter__", b"__pyarmor_exit__", b"__pyarmor_assert__",
           b"__pyarmor_bcc__")
#: scanner_rules/sourcedefender.yar: both
SOURCEDEFENDER = (b"---BEGIN PYE FILE---", b"---END PYE FILE---")
#: scanner_rules/pypi_token.yar
#: A pypi.org API token: "pypi-" and the macaroon's fixed base64 start (its location, pypi.org),
#: spelled in two parts so that secret scanners do not take this pattern for a token.
PYPI_TOKEN = re.compile(rb"pypi-" + rb"AgEIcHlwaS5vcmcCJ[a-zA-Z0-9_-]{150,157}")
#: utils/wheel.py ``_ENTRY_POINT_NAME_RE``
SCRIPT_NAME = re.compile(r"[\w.-]+")
#: License-File is a field of Metadata-Version 2.4; warehouse parses metadata with packaging,
#: which refuses the field in older versions, so only 2.4 and later reach the existence check.
LICENSE_FILE_SINCE = Version("2.4")


def scan(data: bytes) -> tuple[str, str] | None:
    """(code, what) when one scanned file matches warehouse's YARA rules (scanner.py
    ``check_members`` attributes a match to one file: rules never match across files)."""
    if any(marker in data for marker in PYARMOR):
        return "WS677", "PyArmor-obfuscated code (PyPI's acceptable-use policy forbids it)"
    if all(marker in data for marker in SOURCEDEFENDER):
        return "WS677", "SourceDefender-encrypted code (PyPI's acceptable-use policy forbids it)"
    if PYPI_TOKEN.search(data):
        return "WS678", "a PyPI API token: revoke it now on pypi.org, then remove it from the file"
    return None


def scanned(name: str, size: int) -> bool:
    """Whether warehouse's scanner reads a member of this name and unpacked size."""
    return PurePosixPath(name).suffix.lower() in SCANNED and size <= SCAN_MOST


def license_files(data: bytes) -> list[str]:
    """The License-File values warehouse checks: none when packaging (as warehouse) refuses
    the metadata, or for a Metadata-Version before 2.4 (the fields family judges those)."""
    try:
        meta = Metadata.from_email(data)
        if Version(meta.metadata_version) < LICENSE_FILE_SINCE:
            return []
    except (ExceptionGroup, ValueError, InvalidVersion):
        return []
    return list(meta.license_files or [])


def _misplaced(names: list[str], folder: str, file: str) -> str | None:
    """Why `file` is not at PyPI's `folder` (None when it is), or None as well when no
    top-level .dist-info holds it at all: the metadata reader's WS106 says that."""
    if f"{folder}/{file}" in names:
        return None
    elsewhere = [n for n in names if n.count("/") == 1 and n.endswith(f".dist-info/{file}")]
    if not elsewhere:
        return None
    return f"{file} is at {elsewhere[0]}, but PyPI reads {folder}/{file}"


def _entry_points(text: bytes) -> list[tuple[str, str]]:
    """utils/wheel.py ``_validate_entrypoints``: (code, why) for each refusal."""
    class CaseSensitive(configparser.ConfigParser):
        def optionxform(self, optionstr: str) -> str:
            return optionstr

    try:
        parser = CaseSensitive(delimiters=("=",))
        parser.read_string(text.decode())
    except UnicodeDecodeError:
        return [("WS674", "entry_points.txt is not UTF-8")]
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        return [("WS674", f"entry_points.txt is not an INI file PyPI reads ({type(exc).__name__}: {first})")]
    return [("WS675", f"{section} entry point {name!r} is not a script name ([A-Za-z0-9_.-] only, no path)")
            for section in ("console_scripts", "gui_scripts") if parser.has_section(section)
            for name in parser[section] if SCRIPT_NAME.fullmatch(name) is None]


def _layout(wheel: zipfile.ZipFile, folder: str) -> list[tuple[str, str]]:
    names = wheel.namelist()
    found = [(code, why) for code, file in (("WS671", "WHEEL"), ("WS672", "METADATA"))
             if (why := _misplaced(names, folder, file)) is not None]
    if f"{folder}/RECORD" not in names:  # utils/wheel.py _validate_record: MissingWheelRecordError
        found.append(("WS673", _misplaced(names, folder, "RECORD") or f"the wheel has no {folder}/RECORD"))
    if f"{folder}/entry_points.txt" in names:
        found += _entry_points(archives.read_member(wheel, f"{folder}/entry_points.txt"))
    if f"{folder}/METADATA" in names:
        found += [("WS676", f"License-File {lf} is not at {folder}/licenses/{lf}")
                  for lf in license_files(archives.read_member(wheel, f"{folder}/METADATA"))
                  if f"{folder}/licenses/{lf}" not in names]
    return found


def _scans(wheel: zipfile.ZipFile) -> list[tuple[str, str]]:
    found = []
    for info in wheel.infolist():
        if info.is_dir() or not scanned(info.filename, info.file_size):
            continue
        hit = scan(archives.read_member(wheel, info.filename, SCAN_MOST + 1))
        if hit is not None:
            found.append((hit[0], f"{info.filename} holds {hit[1]}"))
    return found


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """What a wheel holds, as warehouse/forklift/legacy.py and warehouse/utils/wheel.py require."""
    if not path.name.endswith(".whl"):
        return
    name, version, _ = path.name.split("-", 2)
    try:
        with archives.open_wheel(path, limits) as wheel:
            found = _layout(wheel, f"{name}-{version}.dist-info") + _scans(wheel)
    except archives.ArchiveError:
        return  # past a limit or unreadable: the readers that follow say so (WS109, WS106)
    for code, why in found:
        findings.add(code, path.name, f"{why}; {FIXES[code]}")


FIXES = {
    "WS671": "build the wheel with a PEP 517 frontend, whose .dist-info name matches the file name",
    "WS672": "build the wheel with a PEP 517 frontend, whose .dist-info name matches the file name",
    "WS673": "build the wheel with a PEP 517 frontend: it writes RECORD",
    "WS674": "write entry points as `name = module:attr` lines under [section] headers, in UTF-8",
    "WS675": "name the script with letters, digits, '_', '.' and '-' only",
    "WS676": "list the file in the build backend's license-files so it lands in .dist-info/licenses/",
    "WS677": "PyPI refuses obfuscated code; publish the source",
    "WS678": "PyPI refuses the upload",
}
