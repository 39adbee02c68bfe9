"""Metadata checks: what ``twine check --strict`` checks, and agreement with the plan."""

from __future__ import annotations

import email.message
import email.parser
import io
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from pipeline.checks import Findings
from pipeline.records import Plan


@dataclass(frozen=True)
class DistMetadata:
    fields: email.message.Message
    wheel_tags: frozenset[str]  # from the WHEEL file; empty for an sdist


def read_metadata(path: Path) -> DistMetadata:
    """The METADATA (or PKG-INFO) and WHEEL tags of a distribution. Raises ValueError."""
    parser = email.parser.BytesParser()
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            names = wheel.namelist()
            meta = next((n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
            info = next((n for n in names if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")), None)
            if meta is None or info is None:
                raise ValueError("the wheel has no .dist-info/METADATA or WHEEL")
            fields = parser.parsebytes(wheel.read(meta))
            tags = parser.parsebytes(wheel.read(info)).get_all("Tag") or []
        return DistMetadata(fields, frozenset(t for tag in tags for t in map(str, parse_tag(tag))))
    with tarfile.open(path) as sdist:
        member = next((m for m in sdist.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")), None)
        if member is None:
            raise ValueError("the sdist has no PKG-INFO at its top level")
        handle = sdist.extractfile(member)
        assert handle is not None
        return DistMetadata(parser.parse(io.BytesIO(handle.read())), frozenset())


def render_problems(fields: email.message.Message) -> list[str]:
    """What `twine check --strict` would report about the description."""
    import readme_renderer.markdown
    import readme_renderer.rst

    description = fields.get_payload() or fields.get("Description") or ""
    content_type = fields.get("Description-Content-Type")
    problems = []
    if content_type is None:
        problems.append("Description-Content-Type is missing (twine check --strict fails on this)")
    if not str(description).strip() or str(description).strip() == "UNKNOWN":
        problems.append("the long description is missing")
        return problems
    kind = (content_type or "text/x-rst").split(";")[0].strip()
    renderer = {"text/x-rst": readme_renderer.rst, "text/markdown": readme_renderer.markdown}.get(kind)
    if kind not in ("text/plain", "text/x-rst", "text/markdown"):
        problems.append(f"Description-Content-Type {kind!r} is not one PyPI renders")
    elif renderer is not None and renderer.render(str(description), stream=io.StringIO()) is None:
        problems.append(f"the description does not render as {kind}")
    return problems


ACCEPTED_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4")


def check_metadata(path: Path, plan: Plan | None, findings: Findings) -> DistMetadata | None:
    """Render, metadata version and tags; with a plan, agreement with it too."""
    name = path.name
    try:
        meta = read_metadata(path)
    except (ValueError, OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        findings.add("WS106", name, str(exc))
        return None
    fields = meta.fields
    for problem in render_problems(fields):
        findings.add("WS101", name, problem)
    if fields.get("Metadata-Version") not in ACCEPTED_METADATA_VERSIONS:
        findings.add("WS107", name, f"Metadata-Version {fields.get('Metadata-Version')!r} is not one PyPI accepts "
                     f"({', '.join(ACCEPTED_METADATA_VERSIONS)})")
    if plan is not None:
        _against_plan(name, fields, plan, findings)
    if name.endswith(".whl"):
        _tags(name, meta, findings)
    return meta


def _against_plan(name: str, fields: email.message.Message, plan: Plan, findings: Findings) -> None:
    if canonicalize_name(fields.get("Name", "")) != plan.project:
        findings.add("WS102", name, f"metadata name {fields.get('Name')!r}, project {plan.project!r}")
    version = fields.get("Version", "")
    if not version or Version(version) != Version(plan.version):
        findings.add("WS103", name, f"metadata version {version!r}, release {plan.version} (tag {plan.tag})")
    requires = fields.get("Requires-Python")
    if _specifier(requires) != _specifier(plan.requires_python):
        findings.add("WS104", name, f"Requires-Python {requires!r}, project declares {plan.requires_python!r}")


def _tags(name: str, meta: DistMetadata, findings: Findings) -> None:
    _, _, _, file_tags = parse_wheel_filename(name)
    declared = {str(t) for t in file_tags}
    if declared != set(meta.wheel_tags):
        findings.add("WS105", name, f"file name tags {sorted(declared)}, WHEEL says {sorted(meta.wheel_tags)}")
    linux = [t for t in file_tags if t.platform.startswith("linux_")]
    if linux:
        findings.add("WS201", name, f"tag {linux[0].platform} is refused by PyPI; repair the wheel with "
                     "auditwheel to get a manylinux tag")


def _specifier(value: str | None) -> SpecifierSet | None:
    if not value:
        return None
    try:
        return SpecifierSet(value)
    except InvalidSpecifier:
        return None
