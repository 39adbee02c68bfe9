"""Metadata checks: what ``twine check --strict`` checks, and agreement with the plan."""

from __future__ import annotations

import email.message
import email.parser
import io
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pipeline import archives
from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.checks import Findings
from pipeline.checks.rules.upload_fields import description_of
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


def check_metadata(path: Path, plan: Plan | None, findings: Findings,
                   limits: Limits = DEFAULT_LIMITS) -> DistMetadata | None:
    """Render and tags; with a plan, agreement with it too (Metadata-Version, WS107, and
    platform tags, WS201, are `pipeline.checks.rules.fields` and `.platforms`). Raises
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
