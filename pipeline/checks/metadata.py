"""Metadata checks: what ``twine check --strict`` checks, and agreement with the plan."""

from __future__ import annotations

import email.message
import email.parser
import io
import re
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pipeline import archives
from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.checks import Findings
from pipeline.records import Plan


@dataclass(frozen=True)
class DistMetadata:
    fields: email.message.Message
    wheel_tags: frozenset[str]  # from the WHEEL file; empty for an sdist


def parse_fields(data: bytes) -> email.message.Message:
    """Core metadata as PyPI reads it: UTF-8 (a bad byte replaced), so every header is a str."""
    return email.parser.Parser().parsestr(data.decode("utf-8", errors="replace"))


def read_metadata(path: Path, limits: Limits = DEFAULT_LIMITS) -> DistMetadata:
    """The METADATA (or PKG-INFO) and WHEEL tags of a distribution, read within `limits`.
    Raises ValueError for missing or malformed metadata, `archives.ArchiveError` for an
    archive past a limit or unreadable."""
    if path.name.endswith(".whl"):
        with archives.open_wheel(path, limits) as wheel:
            names = wheel.namelist()
            meta = next((n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
            info = next((n for n in names if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")), None)
            if meta is None or info is None:
                raise ValueError("the wheel has no .dist-info/METADATA or WHEEL; build it with a PEP 517 frontend")
            fields = parse_fields(archives.read_member(wheel, meta))
            tags = parse_fields(archives.read_member(wheel, info)).get_all("Tag") or []
        return DistMetadata(fields, frozenset(t for tag in tags for t in map(str, parse_tag(tag))))
    pkg_info = archives.scan_sdist(path, limits).pkg_info
    if pkg_info is None:
        raise ValueError("the sdist has no PKG-INFO at its top level; build it with a PEP 517 frontend")
    return DistMetadata(parse_fields(pkg_info), frozenset())


def description_of(fields: email.message.Message) -> str:
    """The long description: the message body (metadata 2.1 and later), else the
    ``Description`` header unfolded as the core metadata specification says: each line
    after the first carries 7 spaces and ``|`` (setuptools) or 8 spaces (distutils)
    before its text. The parser keeps that folding; rendered as it is, every line is
    indented and reStructuredText breaks (toml 0.10.2, defusedxml 0.7.1)."""
    body = fields.get_payload()
    if isinstance(body, str) and body.strip():
        return body
    header = str(fields.get("Description") or "")
    first, *rest = header.split("\n")
    unfolded = [line[8:] if line.startswith(("       |", "        ")) else line.lstrip() if not line.strip() else line
                for line in rest]
    return "\n".join([first, *unfolded])


def description_gaps(fields: email.message.Message) -> list[str]:
    """What `twine check --strict` reports but PyPI accepts: no description, no content type."""
    description = description_of(fields).strip()
    gaps = []
    if fields.get("Description-Content-Type") is None:
        gaps.append("Description-Content-Type is missing; PyPI then renders the description as "
                    "reStructuredText (twine check --strict fails on this)")
    if not description or description == "UNKNOWN":
        gaps.append("the long description is missing; the project page on the index will be empty")
    return gaps


def render_problems(fields: email.message.Message) -> list[str]:
    """Why the description would not render as PyPI renders it (PyPI refuses such an upload)."""
    import readme_renderer.markdown
    import readme_renderer.rst

    description = description_of(fields)
    if not description.strip() or description.strip() == "UNKNOWN":
        return []
    kind = (fields.get("Description-Content-Type") or "text/x-rst").split(";")[0].strip()
    renderer = {"text/x-rst": readme_renderer.rst, "text/markdown": readme_renderer.markdown}.get(kind)
    if kind not in ("text/plain", "text/x-rst", "text/markdown"):
        return [f"Description-Content-Type {kind!r} is not one PyPI renders"]
    if renderer is not None and renderer.render(description, stream=io.StringIO()) is None:
        return [f"the description does not render as {kind}"]
    return []


def accepted_metadata_versions() -> tuple[str, ...]:
    """The Metadata-Versions an upload may carry: those `packaging` knows, which is what
    warehouse validates uploads with (its forklift parses metadata through
    packaging.metadata), so a new version is accepted here when packaging learns it."""
    import packaging.metadata

    return tuple(packaging.metadata._VALID_METADATA_VERSIONS)


def check_metadata(path: Path, plan: Plan | None, findings: Findings,
                   limits: Limits = DEFAULT_LIMITS) -> DistMetadata | None:
    """Render, metadata version and tags; with a plan, agreement with it too. Raises
    `archives.ArchiveError` for an archive past a limit or unreadable."""
    name = path.name
    try:
        meta = read_metadata(path, limits)
    except ValueError as exc:
        findings.add("WS106", name, str(exc))
        return None
    fields = meta.fields
    for problem in render_problems(fields):
        findings.add("WS101", name, problem)
    for gap in description_gaps(fields):
        findings.add("WS108", name, gap)
    accepted = accepted_metadata_versions()
    if fields.get("Metadata-Version") not in accepted:
        findings.add("WS107", name, f"Metadata-Version {fields.get('Metadata-Version')!r} is not one PyPI accepts "
                     f"({', '.join(accepted)}, as packaging knows them)")
    if plan is not None:
        _against_plan(name, fields, plan, findings)
    if name.endswith(".whl"):
        _tags(name, meta, findings)
    return meta


def _against_plan(name: str, fields: email.message.Message, plan: Plan, findings: Findings) -> None:
    if canonicalize_name(fields.get("Name", "")) != plan.project:
        findings.add("WS102", name, f"metadata name {fields.get('Name')!r}, project {plan.project!r}")
    version = fields.get("Version", "")
    if not version or _version(version) != Version(plan.version):
        findings.add("WS103", name, f"metadata version {version!r}, release {plan.version} (tag {plan.tag})")
    requires = fields.get("Requires-Python")
    if _specifier(requires) != _specifier(plan.requires_python):
        findings.add("WS104", name, f"Requires-Python {requires!r}, project declares {plan.requires_python!r}")


def _tags(name: str, meta: DistMetadata, findings: Findings) -> None:
    _, _, _, file_tags = parse_wheel_filename(name)
    declared = {str(t) for t in file_tags}
    if declared != set(meta.wheel_tags):
        findings.add("WS105", name, f"file name tags {sorted(declared)}, WHEEL says {sorted(meta.wheel_tags)}")
    for tag in sorted({t.platform for t in file_tags}):
        reason = refused_platform(tag)
        if reason:
            findings.add("WS201", name, f"platform tag {tag}: {reason}")


def refused_platform(platform: str) -> str | None:
    """Why PyPI refuses a wheel's platform tag, or None (shared PYPI-RULES, from warehouse)."""
    if platform.startswith("linux_") and platform not in ("linux_armv6l", "linux_armv7l"):
        return "PyPI refuses plain linux_* tags; repair the wheel with auditwheel to get a manylinux tag"
    if platform.startswith("emscripten_"):
        return "PyPI refuses emscripten_* tags; use pyemscripten_* (pyodide) tags"
    macos = re.fullmatch(r"macosx_(\d+)_(\d+)_\w+", platform)
    if macos and int(macos.group(1)) >= 11 and macos.group(2) != "0":
        return (f"PyPI refuses macOS {macos.group(1)}+ tags with a minor version; "
                f"use macosx_{macos.group(1)}_0 (set MACOSX_DEPLOYMENT_TARGET={macos.group(1)}.0)")
    return None


def _specifier(value: str | None) -> SpecifierSet | None:
    if not value:
        return None
    try:
        return SpecifierSet(value)
    except InvalidSpecifier:
        return None


def _version(value: str) -> Version | None:
    try:
        return Version(value)
    except InvalidVersion:
        return None
