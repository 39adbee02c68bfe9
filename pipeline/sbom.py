"""The release SBOM (CycloneDX 1.6 JSON) and the ``SHA256SUMS`` of a run.

The SBOM names the release as its root component (``pkg:pypi/<name>@<version>``), every
file of the run as a component with its SHA-256 (``?file_name=`` in its PURL), the
project's declared dependencies with their specifiers (Requires-Dist, read from the
files' own metadata), and the tools that made the files (wheelship, the builder's
tools, the build backend, the image) as the run's records and the wheels' WHEEL files
name them. The same run gives the same bytes: the serial number is derived from the run
id and the timestamp is the last record's.

Everything here comes from a run (records and files written by jobs that ran project
code): it is written into JSON as text, never used as a path, a URL or code.
"""

from __future__ import annotations

import email.message
import re
import uuid
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.license import LicenseExpression
from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pipeline import archives
from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.checks.metadata import parse_fields
from pipeline.errors import IntegrityError
from pipeline.records import sha256_of
from pipeline.runs import RunState
from pipeline.validation import HINT, SHA256

#: Where the serial numbers of wheelship's SBOMs live: uuid5 of this and the run.
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/wheelship/wheelship/sbom")
#: A name `sha256sum -c` reads back as written: no path, no control character, no
#: backslash (which sha256sum escapes), not hidden.
BARE_NAME = re.compile(r"(?!\.)[^/\\\x00-\x1f\x7f]{1,255}")
#: Keys of an artifact's `tools` that are not "tool name: version".
IMAGE, ENGINE = "image", "container-engine"


@dataclass(frozen=True, kw_only=True)
class Declared:
    """What the distribution files declare of themselves: the project's name as its
    metadata spells it, its summary and license, its Requires-Dist, and each wheel's
    WHEEL ``Generator`` (the build backend and its version)."""

    name: str
    summary: str = ""
    license: str = ""
    requires: tuple[str, ...] = ()
    generators: tuple[str, ...] = ()


def sbom_name(project: str, version: str) -> str:
    """The SBOM's file name in a fetch folder and on a GitHub Release."""
    return f"{canonicalize_name(project)}-{version}.cdx.json"


def declared(files: Iterable[Path], limits: Limits = DEFAULT_LIMITS) -> Declared:
    """What `files` (a run's wheels and sdist) declare. Requires-Dist is the union over the
    wheels (a wheel's metadata is what installers read), else the sdist's. Raises
    `archives.ArchiveError` for a file past `limits` or unreadable, ValueError for a
    file without metadata: verify has said so before an SBOM is made."""
    paths = sorted(files, key=lambda p: (not p.name.endswith(".whl"), p.name))
    if not paths:
        raise ValueError("no distribution files to describe")
    requires: dict[str, None] = {}
    generators: dict[str, None] = {}
    first = None
    for path in paths:
        fields, generator = _read(path, limits)
        first = first or fields
        if path.name.endswith(".whl") or not requires:
            requires.update(dict.fromkeys(fields.get_all("Requires-Dist") or []))
        if generator:
            generators[generator] = None
    assert first is not None
    return Declared(name=first.get("Name", ""), summary=first.get("Summary", ""),
                    license=first.get("License-Expression", ""), requires=tuple(requires),
                    generators=tuple(generators))


def _read(path: Path, limits: Limits) -> tuple[email.message.Message, str]:
    """A file's core metadata, and for a wheel its WHEEL ``Generator`` ("" for an sdist)."""
    if not path.name.endswith(".whl"):
        pkg_info = archives.scan_sdist(path, limits).pkg_info
        if pkg_info is None:
            raise ValueError(f"{path.name} has no PKG-INFO at its top level")
        return parse_fields(pkg_info), ""
    with archives.open_wheel(path, limits) as wheel:
        names = wheel.namelist()
        meta = next((n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
        info = next((n for n in names if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")), None)
        if meta is None or info is None:
            raise ValueError(f"{path.name} has no .dist-info/METADATA or WHEEL")
        fields = parse_fields(archives.read_member(wheel, meta))
        generator = parse_fields(archives.read_member(wheel, info)).get("Generator", "")
    return fields, generator.strip()


def release_sbom(state: RunState, declared: Declared) -> bytes:
    """The run's CycloneDX 1.6 JSON SBOM, as UTF-8 bytes ending in a newline.

    `declared` is what the run's files say of themselves (`declared`); everything else
    comes from the records. Deterministic: the same run and files give the same bytes.
    """
    plan = state.plan
    project = canonicalize_name(plan.project)
    root_purl = PackageURL(type="pypi", name=project, version=plan.version)
    root = Component(
        type=ComponentType.LIBRARY, name=declared.name or project, version=plan.version, purl=root_purl,
        bom_ref=root_purl.to_string(), description=declared.summary or None,
        licenses=[LicenseExpression(declared.license)] if declared.license else None,
    )
    files = [_file_component(project, plan.version, a.name, a.sha256, {
        "wheelship:identifier": a.identifier, "wheelship:slice": a.slice, "wheelship:builder": a.builder,
        "wheelship:built-on": a.built_on, "wheelship:test": a.test.status if a.test else "none",
    }) for a in sorted(state.artifacts, key=lambda a: a.name)]
    requirements = _requirements(declared.requires)
    bom = Bom(
        serial_number=uuid.uuid5(SERIAL_NAMESPACE, f"{project}/{plan.version}/{plan.run_id}"),
        metadata=BomMetaData(
            component=root, timestamp=_timestamp(state),
            tools=ToolRepository(components=_tools(state, declared.generators)),
            lifecycles=[PredefinedLifecycle(LifecyclePhase.BUILD)],
            properties=[Property(name="wheelship:run-id", value=plan.run_id),
                        *([Property(name="wheelship:tag", value=plan.tag)] if plan.tag else []),
                        *([Property(name="wheelship:commit", value=plan.commit)] if plan.commit else [])],
        ),
        components=[*files, *requirements],
    )
    bom.register_dependency(root, requirements)
    for component in requirements:
        bom.register_dependency(component, ())
    with warnings.catch_warnings():
        # the library warns when the root depends on nothing: for a release that declares no
        # dependencies, that empty graph is the complete one
        warnings.filterwarnings("ignore", "The Component this BOM is describing", UserWarning)
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    return (text + "\n").encode()


def _file_component(project: str, version: str, name: str, sha256: str, properties: Mapping[str, str]) -> Component:
    purl = PackageURL(type="pypi", name=project, version=version, qualifiers={"file_name": name})
    return Component(
        type=ComponentType.FILE, name=name, version=version, purl=purl, bom_ref=purl.to_string(),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha256)],
        properties=[Property(name=k, value=v) for k, v in properties.items() if v],
    )


def _requirements(requires: Iterable[str]) -> list[Component]:
    """One component per declared requirement, its specifier and marker kept whole in a
    property (CycloneDX 1.6 has no field for a PEP 508 specifier). A requirement that does
    not parse is left out: verify's WS651 names it."""
    components: dict[str, Component] = {}
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        spelled = str(requirement)
        name = canonicalize_name(requirement.name)
        optional = requirement.marker is not None and "extra" in str(requirement.marker)
        components[spelled] = Component(
            type=ComponentType.LIBRARY, name=name, purl=PackageURL(type="pypi", name=name),
            bom_ref=f"requires-dist:{spelled}",
            scope=ComponentScope.OPTIONAL if optional else ComponentScope.REQUIRED,
            properties=[Property(name="wheelship:requires-dist", value=spelled)],
        )
    return [components[k] for k in sorted(components)]


def _tools(state: RunState, generators: Iterable[str]) -> list[Component]:
    """wheelship, every tool the records name (one component per name and version), the
    build backends the wheels name, and the images they were built in."""
    found: dict[str, Component] = {}

    def add(kind: ComponentType, name: str, version: str | None, role: str) -> None:
        ref = f"tool:{name}@{version or ''}"
        found.setdefault(ref, Component(type=kind, name=name, version=version or None, bom_ref=ref,
                                        properties=[Property(name="wheelship:role", value=role)]))

    add(ComponentType.APPLICATION, "wheelship", state.plan.written_by, "planned the release")
    for artifact in state.artifacts:
        for key, value in artifact.tools.items():
            if key == IMAGE:
                image, _, tag = value.rpartition(":") if ":" in value.rpartition("/")[2] else (value, "", "")
                add(ComponentType.CONTAINER, image, tag, "the image the wheels were built in")
            elif key == ENGINE:
                add(ComponentType.APPLICATION, value, None, "the container engine")
            else:
                add(ComponentType.APPLICATION, key, value, f"used by the {artifact.builder} builder")
    for generator in generators:
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*\(?\s*([^()\s]*)\s*\)?", generator)
        name, version = (match.group(1), match.group(2)) if match else (generator, "")
        add(ComponentType.APPLICATION, name, version, "the build backend (the wheel's WHEEL Generator)")
    return [found[k] for k in sorted(found)]


def _timestamp(state: RunState) -> datetime:
    """The last record's time: when the run's files were complete."""
    times = [r.finished for r in state.records.values()] or [state.plan.created]
    parsed = []
    for text in times:  # a record's time is input: one that is not ISO 8601 is left out
        try:
            parsed.append(datetime.fromisoformat(text))
        except (TypeError, ValueError):
            continue
    if not parsed:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return max(t if t.tzinfo else t.replace(tzinfo=UTC) for t in parsed)


def sha256sums(files: Mapping[str, str]) -> str:
    """``SHA256SUMS`` for `files` (bare file name -> SHA-256 hex), sorted by name, in the
    format ``sha256sum -c`` reads: the hash, two spaces, the name, one file a line.

    Raises `IntegrityError` for a name that is not a bare file name (a path, a control
    character, a backslash, hidden) or a hash that is not SHA-256 hex: the names come
    from a run's records, which are input.
    """
    lines = []
    for name in sorted(files):
        digest = files[name]
        if not BARE_NAME.fullmatch(name) or name.endswith((" ", "\t")) or name in (".", ".."):
            raise IntegrityError(f"refusing {name!r} in SHA256SUMS: it is not a bare file name", hint=HINT)
        if not SHA256.fullmatch(digest):
            raise IntegrityError(f"refusing the hash of {name} in SHA256SUMS: {digest!r} is not SHA-256 hex",
                                 hint=HINT)
        lines.append(f"{digest}  {name}\n")
    return "".join(lines)


def sha256sums_of(paths: Iterable[Path]) -> str:
    """``SHA256SUMS`` of files on disk, each hashed here."""
    return sha256sums({p.name: sha256_of(p) for p in paths})
