"""PyPI's upload rules: the file name itself (see pipeline.checks.rules).

From warehouse/forklift/legacy.py: ``_validate_filename`` (characters, extension),
``file_upload``'s sdist checks (PEP 625: exactly ``{name}-{version}.tar.gz``, both
normalized, both the metadata's) and wheel checks (``parse_wheel_filename``; the name
part the normalized project name; the version the metadata's), and the ``.metadata``
file it writes beside a wheel, whose name the file system caps.

`unusable_name` is what makes a name unusable for any other check (it runs first, in
`pipeline.checks.files`); `check` is the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from packaging.metadata import Metadata
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pipeline.archives import ArchiveError
from pipeline.checks.rules.upload_fields import form_to_raw, read_form_metadata

if TYPE_CHECKING:
    from pipeline.archives import Limits
    from pipeline.checks import Findings

RULES: tuple[tuple[str, str, str, str], ...] = (
    ("WS601", "filename-characters", "error", "a control character, '/' or '\\' in the file name"),
    ("WS602", "filename-extension", "error", "not .whl or .tar.gz in lower case (.zip, .tgz, .tar.bz2, .WHL, .egg)"),
    ("WS603", "filename-unparsable", "error", "a .whl or .tar.gz name packaging cannot parse"),
    ("WS604", "filename-name-not-normalized", "error", "the name part is not the normalized name with '_'"),
    ("WS605", "sdist-version-not-normalized", "error", "an sdist's version not written as packaging normalizes it"),
    ("WS606", "filename-name-mismatch", "error", "the file name's project differs from its metadata's Name"),
    ("WS607", "filename-version-mismatch", "error", "the file name's version differs from its metadata's Version"),
    ("WS608", "wheel-build-tag", "error", "a wheel build tag that does not start with a digit"),
    ("WS609", "filename-too-long", "error", "a file name longer than PyPI can store (246 bytes for a wheel)"),
)

FORMS = ("a wheel is named {name}-{version}(-{build})-{python}-{abi}-{platform}.whl (demo-1.0-py3-none-any.whl), "
         "an sdist {name}-{version}.tar.gz (demo-1.0.tar.gz)")
#: legacy.py writes the wheel's METADATA beside it as ``{filename}.metadata``; a file
#: name holds at most 255 bytes, so a wheel's name at most 246 (an sdist's, 255)
LONGEST = {".whl": 255 - len(".metadata"), ".tar.gz": 255}
_OTHER_EXTENSIONS = {
    ".zip": "a .zip sdist is refused since PEP 625 (enforced on PyPI since October 2025): build a .tar.gz with "
            "python -m build --sdist",
    ".tgz": "an sdist is a .tar.gz (PEP 625); build it with python -m build --sdist",
    ".tar.bz2": "an sdist is a gzip-compressed .tar.gz (PEP 625); build it with python -m build --sdist",
    ".tar.xz": "an sdist is a gzip-compressed .tar.gz (PEP 625); build it with python -m build --sdist",
    ".tar": "an sdist is a gzip-compressed .tar.gz (PEP 625); build it with python -m build --sdist",
    ".egg": "PyPI refuses eggs since August 2023; build a wheel",
    ".exe": "PyPI refuses bdist_wininst installers; build a wheel",
    ".msi": "PyPI refuses bdist_msi installers; build a wheel",
}


def unusable_name(name: str) -> tuple[str, str] | None:
    """(code, message) for a name no check can use and PyPI refuses: a control character,
    a path separator, an extension other than ``.whl`` or ``.tar.gz``, or one packaging
    cannot parse (legacy.py ``_validate_filename`` and the parsers ``file_upload`` runs)."""
    if bad := sorted({c for c in name if ord(c) < 32 or ord(c) == 127 or c in "/\\"}):
        return "WS601", (f"the name holds {', '.join(map(repr, bad))}; PyPI refuses control characters, DEL, '/' "
                         "and '\\' in a file name")
    lower = name.lower()
    if not name.endswith((".whl", ".tar.gz")):
        if lower.endswith((".whl", ".tar.gz")):
            return "WS602", "PyPI accepts the .whl and .tar.gz extensions only in lower case: rename the file"
        reason = next((why for ext, why in _OTHER_EXTENSIONS.items() if lower.endswith(ext)), None)
        return "WS602", (reason or "neither a wheel nor an sdist by its name") + f": {FORMS}"
    try:
        if name.endswith(".whl"):
            parse_wheel_filename(name)
        else:
            parse_sdist_filename(name)
    except InvalidWheelFilename as exc:
        if str(exc).startswith("Invalid build number"):
            return "WS608", f"{exc}: a build tag starts with a digit (1, 2b); {FORMS}"
        return "WS603", f"{exc}: {FORMS}"
    except InvalidSdistFilename as exc:
        return "WS603", f"{exc}: {FORMS}"
    return None


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """The name rules beyond `unusable_name`: its length, and its name and version against
    the metadata the upload sends."""
    name = path.name
    extension = ".whl" if name.endswith(".whl") else ".tar.gz"
    if (size := len(name.encode())) > LONGEST[extension]:
        findings.add("WS609", name, f"the name is {size} bytes; PyPI stores at most {LONGEST[extension]} for a "
                                    f"{'wheel' if extension == '.whl' else 'sdist'} (legacy.py: 'Filename is too long')")
    meta = _metadata(path, limits)
    refusals = _wheel(name, meta) if extension == ".whl" else _sdist(name, meta)
    for code, message in refusals:
        findings.add(code, name, message)


def _metadata(path: Path, limits: Limits) -> tuple[str, Version] | None:
    """(canonical name, version) from the upload form's metadata, or None where it cannot
    be read or is invalid (other checks report that)."""
    try:
        raw, _ = form_to_raw(read_form_metadata(path, limits))
        meta = Metadata.from_raw(raw, validate=False)
        return canonicalize_name(meta.name, validate=True), meta.version
    except (ValueError, ArchiveError):  # InvalidMetadata and InvalidName are ValueErrors
        return None


def _wheel(name: str, meta: tuple[str, Version] | None) -> list[tuple[str, str]]:
    """legacy.py ``file_upload``, for a wheel: "Start filename for ... with ...", "should
    contain the normalized project name", "Version in filename should be ..."."""
    found = []
    project, version, _, _ = parse_wheel_filename(name)
    written = name.split("-", 1)[0]
    normalized = (meta[0] if meta else project).replace("-", "_")
    if meta and meta[0] != project:
        found.append(("WS606", f"the name says {project!r}, the metadata's Name {meta[0]!r}; start the file name "
                               f"with {normalized!r}"))
    elif written != normalized:
        found.append(("WS604", f"the name part {written!r} should be {normalized!r}, the normalized project name "
                               "(PEP 427, PEP 503): rebuild with a current build backend"))
    if meta and meta[1] != version:
        found.append(("WS607", f"the name says version {version}, the metadata's Version {meta[1]}"))
    return found


def _sdist(name: str, meta: tuple[str, Version] | None) -> list[tuple[str, str]]:
    """legacy.py ``file_upload``, for an sdist: the name must be exactly
    ``{normalized name}-{normalized version}.tar.gz`` for the metadata's (PEP 625)."""
    if meta is None:
        return []
    expected = f"{meta[0].replace('-', '_')}-{meta[1]}.tar.gz"
    if name == expected:
        return []
    written, _, version_text = name[: -len(".tar.gz")].rpartition("-")
    if canonicalize_name(written) != meta[0] and meta[1].is_postrelease and name.count("-") >= 2:
        # legacy.py's own edge case: a post-release written with a hyphen (foo-1.0-1)
        written = name.rpartition("-")[0].rpartition("-")[0]
        version_text = name[len(written) + 1: -len(".tar.gz")]
    should = f"; PyPI takes it only as {expected!r} (PEP 625)"
    if canonicalize_name(written) != meta[0]:
        return [("WS606", f"the name says {canonicalize_name(written)!r}, the metadata's Name {meta[0]!r}{should}")]
    found = []
    if written != meta[0].replace("-", "_"):
        found.append(("WS604", f"the name part {written!r} is not the normalized name{should}"))
    if _version(version_text) != meta[1]:
        found.append(("WS607", f"the name says version {version_text}, the metadata's Version {meta[1]}{should}"))
    elif version_text != str(meta[1]):
        found.append(("WS605", f"version {version_text!r} should be written {str(meta[1])!r}{should}"))
    return found or [("WS604", f"the name is not the normalized one{should}")]


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None
