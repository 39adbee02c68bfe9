"""SBOMs inside a wheel (PEP 770): ``{name}-{version}.dist-info/sboms/*``.

Each SBOM must parse as CycloneDX or SPDX JSON, be listed in RECORD (PEP 770: the
files are part of the wheel, so RECORD names them as it names every other file), and,
where its root says it describes this distribution, name the wheel's project and
version. PyPI accepts a wheel whatever its SBOMs hold, and neither an install nor an
import reads them, so by the README's rule for defaults every code here is a warning.

Whose root is checked: an SBOM's root need not be the wheel. auditwheel (6.5 and later)
writes ``auditwheel.cdx.json`` whose root is the wheel itself
(``pkg:pypi/<name>@<version>?file_name=<wheel>``); maturin and cargo-cyclonedx write one
whose root is the Rust crate (``pkg:cargo/…``, its own version); a project may ship the
SBOM of a vendored C library. A root is compared only when it claims to be this
distribution: its PURL is ``pkg:pypi/…``, or it has no PURL and its name is the
project's. Then its name (normalised) and version (as PEP 440 versions) must agree.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipeline import archives

if TYPE_CHECKING:
    import zipfile

    from pipeline.archives import Limits
    from pipeline.checks import Findings

RULES: tuple[tuple[str, str, str, str], ...] = (
    ("WS681", "sbom-unreadable", "warning",
     "an SBOM in .dist-info/sboms/ that is not CycloneDX or SPDX JSON, or too large to read"),
    ("WS682", "sbom-not-in-record", "warning", "an SBOM in .dist-info/sboms/ that RECORD does not list"),
    ("WS683", "sbom-root-mismatch", "warning",
     "an SBOM whose root claims this distribution under another name or version than the wheel's"),
)
#: The rule each code follows.
PEP770 = {
    "WS681": "PEP 770: SBOM files use a well-known format (CycloneDX or SPDX), here its JSON serialisation",
    "WS682": "PEP 770 and the binary distribution format: every file of the wheel is listed in RECORD",
    "WS683": "PEP 770: an SBOM describing the distribution names it as the wheel does",
}
#: ``pkg:pypi/<name>[@<version>][?qualifiers][#subpath]``, name and version percent-encoded
PYPI_PURL = re.compile(r"pkg:pypi/(?P<name>[^@?#/]+)(?:@(?P<version>[^?#]+))?(?:[?#].*)?", re.I)


def _kind(data: object) -> str | None:
    """"CycloneDX", "SPDX" or None for a parsed JSON document that is neither."""
    if not isinstance(data, dict):
        return None
    if data.get("bomFormat") == "CycloneDX" and isinstance(data.get("specVersion"), str):
        return "CycloneDX"
    if isinstance(data.get("spdxVersion"), str) and data["spdxVersion"].startswith("SPDX-"):
        return "SPDX"
    context = data.get("@context")  # SPDX 3 is JSON-LD
    if any(isinstance(c, str) and "spdx.org/rdf/3" in c for c in (context if isinstance(context, list) else [context])):
        return "SPDX"
    return None


def _roots(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, version, purl) of each root an SBOM names: CycloneDX ``metadata.component``;
    SPDX 2 the packages the document DESCRIBES. SPDX 3 roots are not read."""
    if data.get("bomFormat") == "CycloneDX":
        metadata = data.get("metadata")
        component = metadata.get("component") if isinstance(metadata, dict) else None
        return [_identity(component.get("name"), component.get("version"), component.get("purl"))] \
            if isinstance(component, dict) else []
    described = {d for d in data.get("documentDescribes") or [] if isinstance(d, str)}
    for rel in data.get("relationships") or []:
        if isinstance(rel, dict) and rel.get("spdxElementId") == "SPDXRef-DOCUMENT" \
                and rel.get("relationshipType") == "DESCRIBES" and isinstance(rel.get("relatedSpdxElement"), str):
            described.add(rel["relatedSpdxElement"])
    roots = []
    for package in data.get("packages") or []:
        if isinstance(package, dict) and package.get("SPDXID") in described:
            refs = package.get("externalRefs") or []
            purl = next((r.get("referenceLocator") for r in refs
                         if isinstance(r, dict) and r.get("referenceType") == "purl"), None)
            roots.append(_identity(package.get("name"), package.get("versionInfo"), purl))
    return roots


def _identity(name: object, version: object, purl: object) -> tuple[str, str, str]:
    return (name if isinstance(name, str) else "", version if isinstance(version, str) else "",
            purl if isinstance(purl, str) else "")


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def root_problem(root: tuple[str, str, str], project: str, version: str) -> str | None:
    """Why a root that claims to be `project` `version` names something else; None when it
    agrees, or when it describes something else (another PURL type, another name)."""
    name, root_version, purl = root
    if purl:
        match = PYPI_PURL.fullmatch(purl)
        if match is None:
            return None  # pkg:cargo/…, pkg:generic/…: a component inside the wheel, not the wheel
        name, root_version = unquote(match["name"]), unquote(match["version"] or "") or root_version
        if canonicalize_name(name) != canonicalize_name(project):
            return f"its root is {purl}, another project than {project}"
    elif canonicalize_name(name) != canonicalize_name(project):
        return None
    if root_version and not _same_version(root_version, version):
        return f"its root is {name} {root_version}, but the wheel is {project} {version}"
    return None


def _recorded(wheel: zipfile.ZipFile, folder: str) -> set[str] | None:
    """The paths RECORD lists; None when RECORD is missing or unreadable (WS673 and WS106 say so)."""
    try:
        text = archives.read_member(wheel, f"{folder}/RECORD").decode()
        return {row[0] for row in csv.reader(text.splitlines()) if row}
    except (KeyError, UnicodeDecodeError, csv.Error):
        return None


def _one(wheel: zipfile.ZipFile, info: zipfile.ZipInfo, project: str, version: str,
         limits: Limits) -> list[tuple[str, str]]:
    member = info.filename
    if info.file_size > limits.metadata_size:
        return [("WS681", f"{member} is {archives.size_text(info.file_size)}, over the "
                          f"{archives.size_text(limits.metadata_size)} [limits] metadata-size, so it was not read")]
    try:
        data = json.loads(archives.read_member(wheel, member).decode("utf-8-sig"))
    except UnicodeDecodeError:
        return [("WS681", f"{member} is not UTF-8, so it is no JSON SBOM")]
    except (ValueError, RecursionError) as exc:
        return [("WS681", f"{member} is not JSON ({type(exc).__name__}: {str(exc)[:120]})")]
    if _kind(data) is None:
        return [("WS681", f"{member} is JSON but neither CycloneDX (bomFormat, specVersion) nor SPDX (spdxVersion)")]
    return [("WS683", f"{member}: {why}") for root in _roots(data)
            if (why := root_problem(root, project, version)) is not None]


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """Each SBOM in the wheel's ``.dist-info/sboms/`` (the folder as the file name spells it)."""
    if not path.name.endswith(".whl"):
        return
    name, version, _ = path.name.split("-", 2)
    folder = f"{name}-{version}.dist-info"
    found: list[tuple[str, str]] = []
    try:
        with archives.open_wheel(path, limits) as wheel:
            sboms = [i for i in wheel.infolist() if i.filename.startswith(f"{folder}/sboms/") and not i.is_dir()]
            if not sboms:
                return
            recorded = _recorded(wheel, folder)
            for info in sboms:
                if recorded is not None and info.filename not in recorded:
                    found.append(("WS682", f"{info.filename} is not listed in {folder}/RECORD"))
                found += _one(wheel, info, name, version, limits)
    except archives.ArchiveError:
        return  # past a limit or unreadable: the readers that follow say so (WS109, WS106)
    for code, why in found:
        findings.add(code, path.name, f"{why}; {FIXES[code]}")


FIXES = {
    "WS681": "write SBOMs as CycloneDX or SPDX JSON (auditwheel, cyclonedx-py and cargo-cyclonedx do), or leave "
             "the file out of .dist-info/sboms/",
    "WS682": "let the build backend or auditwheel add the SBOM, so that RECORD lists it with its hash",
    "WS683": "make the SBOM's root the distribution (pkg:pypi/<name>@<version>) or the component it describes",
}
