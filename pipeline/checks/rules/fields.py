"""PyPI's upload rules: metadata fields as warehouse validates them (see pipeline.checks.rules).

warehouse takes an upload's metadata from the form the uploader sends, which wheelship
builds from the file (`upload_fields`); cleans it (warehouse/forklift/legacy.py
``file_upload``: a value ``UNKNOWN`` dropped); turns it into packaging's metadata
(warehouse/forklift/metadata.py ``parse_form_metadata``), which packaging validates
(``Metadata.from_raw(raw, validate=True)``); then adds its own rules
(warehouse/forklift/metadata.py ``_validate_metadata``). Each refusal is one code here,
found by the libraries warehouse uses: packaging, trove-classifiers, email-validator and
rfc3986. A description that does not render is WS101 (`pipeline.checks.metadata`).
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.metadata import _RAW_TO_EMAIL_MAPPING, _VALID_METADATA_VERSIONS, InvalidMetadata, Metadata, RawMetadata
from packaging.requirements import InvalidRequirement, Requirement

from pipeline.archives import ArchiveError
from pipeline.checks.rules.upload_fields import FormMetadata, form_to_raw, read_form_metadata

if TYPE_CHECKING:
    from pipeline.archives import Limits
    from pipeline.checks import Findings

RULES: tuple[tuple[str, str, str, str], ...] = (
    ("WS641", "name-invalid", "error", "Name missing, or not a valid project name"),
    ("WS642", "version-invalid", "error", "Version missing, or not a PEP 440 version"),
    ("WS643", "version-local", "error", "a local version (1.0+local), which PyPI refuses"),
    ("WS644", "summary-too-long", "error", "a Summary over 512 characters"),
    ("WS645", "summary-multiline", "error", "a Summary of more than one line"),
    ("WS646", "email-invalid", "error", "an Author-email or Maintainer-email address that is not valid"),
    ("WS647", "classifier-unknown", "error", "a classifier trove-classifiers does not list (Private :: ...)"),
    ("WS648", "classifier-deprecated", "error", "a deprecated classifier"),
    ("WS649", "url-invalid", "error", "a Home-page or Download-URL that is no http(s) URL"),
    ("WS650", "project-url-invalid", "error", "a Project-URL with no label, a label over 32 characters, or a bad URL"),
    ("WS651", "requirement-invalid", "error", "a Requires-Dist, Provides-Dist or Obsoletes-Dist that does not parse"),
    ("WS652", "direct-url-requirement", "error", "a direct URL reference (pkg @ https://...) in a *-Dist field"),
    ("WS653", "dynamic-invalid", "error", "a Dynamic field the specification does not allow"),
    ("WS654", "license-with-expression", "error", "both License and License-Expression"),
    ("WS655", "license-expression-invalid", "error", "a License-Expression that is no valid SPDX expression"),
    ("WS656", "license-file-path", "error", "a License-File path that is absolute, uses '\\', '..' or '*'"),
    ("WS657", "field-too-new", "error", "a field newer than the declared Metadata-Version"),
    ("WS658", "requires-python-invalid", "error", "a Requires-Python that is no valid specifier"),
    ("WS659", "description-content-type-invalid", "error", "a Description-Content-Type packaging refuses"),
    ("WS660", "provides-extra-invalid", "error", "a Provides-Extra that is no valid name"),
    ("WS661", "field-repeated", "error", "a single field given twice, or two Project-URLs with one label"),
    ("WS662", "field-invalid", "error", "any other field packaging's validation refuses"),
)

#: warehouse/forklift/metadata.py SUPPORTED_METADATA_VERSIONS: PyPI accepts these only,
#: and only those packaging also knows (2.0 never was one; 2.6 waits for warehouse).
SUPPORTED_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5")
#: warehouse/forklift/metadata.py DYNAMIC_FIELDS
DYNAMIC_FIELDS = frozenset(f.lower() for f in (
    "Platform", "Supported-Platform", "Summary", "Description", "Description-Content-Type", "Keywords",
    "Home-Page", "Download-Url", "Author", "Author-Email", "Maintainer", "Maintainer-Email", "License",
    "License-Expression", "License-File", "Classifier", "Requires-Dist", "Requires-Python", "Requires-External",
    "Project-Url", "Provides-Extra", "Provides-Dist", "Obsoletes-Dist", "Requires", "Provides", "Obsoletes",
    "Import-Name", "Import-Namespace"))
#: packaging's refusals by field, each to its code (metadata-version's is WS107)
_PACKAGING_CODES = {
    "metadata-version": "WS107", "name": "WS641", "version": "WS642", "summary": "WS645",
    "description-content-type": "WS659", "dynamic": "WS653", "provides-extra": "WS660",
    "requires-python": "WS658", "requires-dist": "WS651", "license-expression": "WS655", "license-file": "WS656",
}
Refusal = tuple[str, str]


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """Every field rule on the metadata the upload form carries for `path`."""
    try:
        form = read_form_metadata(path, limits)
    except (ValueError, ArchiveError):
        return  # pipeline.checks.metadata reports a file without metadata (WS106) or past a limit
    for code, message in refusals(form):
        findings.add(code, path.name, message)


def refusals(form: FormMetadata) -> list[Refusal]:
    """Why PyPI would refuse these form fields, as (code, message), each rule once per value."""
    raw, unparsed = form_to_raw(form)
    found = [("WS661", _repeated(key, values)) for key, values in unparsed.items()]
    found += _packaging_refusals(raw)
    meta = Metadata.from_raw(raw, validate=False)
    for rule in WAREHOUSE_RULES:
        found += rule(meta)
    return found


def _repeated(field: str, values: list[str]) -> str:
    """warehouse/forklift/metadata.py ``parse_form_metadata``: "... has invalid data"."""
    given = ", ".join(repr(v[:60]) for v in values)
    if field == "project-url":
        return f"two Project-URLs share a label ({given}); PyPI refuses it: give each its own label"
    return f"{field.title()} is given {len(values)} times ({given}); PyPI refuses it: keep one"


def _packaging_refusals(raw: RawMetadata) -> list[Refusal]:
    """packaging's own validation (packaging/metadata.py ``Metadata.from_raw``), which
    warehouse's ``parse_form_metadata`` runs."""
    try:
        Metadata.from_raw(raw, validate=True)
    except ExceptionGroup as group:
        return [_packaging_refusal(exc) for exc in group.exceptions if isinstance(exc, InvalidMetadata)]
    return []


def _packaging_refusal(exc: InvalidMetadata) -> Refusal:
    field, text = exc.field, str(exc)
    if "introduced in metadata version" in text:
        return "WS657", (f"{text}: PyPI refuses a field newer than the file's Metadata-Version; build it with a "
                         "backend that declares the version the fields need")
    if field == "metadata-version":
        return "WS107", _metadata_version_message(text)
    return _PACKAGING_CODES.get(field, "WS662"), f"{text} (packaging's validation, which PyPI runs on every upload)"


def _metadata_version_message(text: str) -> str:
    return (f"{text}: PyPI accepts Metadata-Version {', '.join(SUPPORTED_METADATA_VERSIONS)} only (2.0 never "
            "was one); build it with a current backend")


def _attr(meta: Metadata, name: str) -> Any:
    """A field of `meta`, or None where packaging refused it (reported already)."""
    try:
        return getattr(meta, name)
    except InvalidMetadata:
        return None


# --- warehouse/forklift/metadata.py _validate_metadata, rule for rule -------------------


def _metadata_version(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: SUPPORTED_METADATA_VERSIONS (on top of packaging's list)."""
    version = _attr(meta, "metadata_version")
    if version is None or version in SUPPORTED_METADATA_VERSIONS or version not in _VALID_METADATA_VERSIONS:
        return []  # packaging refused it (WS107 above), or PyPI accepts it
    return [("WS107", _metadata_version_message(f"Metadata-Version {version!r} is not one PyPI supports yet"))]


def _local_version(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: "The use of local versions ... is not allowed"."""
    version = _attr(meta, "version")
    if version is None or version.local is None:
        return []
    return [("WS643", f"version {version} has a local part (+{version.local}); PyPI refuses local versions: "
                      f"release {version.public}")]


def _summary_length(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: _LENGTH_LIMITS, Summary at most 512 characters."""
    summary = _attr(meta, "summary")
    if not isinstance(summary, str) or len(summary) <= 512:
        return []
    return [("WS644", f"Summary is {len(summary)} characters; PyPI takes at most 512: shorten the description "
                      "in pyproject.toml")]


def _emails(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: Author-email and Maintainer-email through email-validator
    (the first address email.utils.parseaddr finds, deliverability not checked)."""
    import email_validator

    found = []
    for field in ("author_email", "maintainer_email"):
        if (value := _attr(meta, field)) is None:
            continue
        _, address = email.utils.parseaddr(value)
        if not address:
            continue
        try:
            email_validator.validate_email(address, check_deliverability=False)
        except email_validator.EmailNotValidError as exc:
            found.append(("WS646", f"{_RAW_TO_EMAIL_MAPPING[field].title()} {address!r} is not a valid e-mail "
                                   f"address: {exc}"))
    return found


def _classifiers(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: classifiers must be in trove-classifiers and not deprecated."""
    from trove_classifiers import all_classifiers, deprecated_classifiers

    given = set(_attr(meta, "classifiers") or [])
    found = []
    for classifier in sorted(given - set(all_classifiers)):
        hint = ("a 'Private ::' classifier is how a project keeps itself off PyPI" if classifier.startswith("Private ::")
                else "check its spelling against https://pypi.org/classifiers/")
        found.append(("WS647", f"classifier {classifier!r} is not one PyPI knows: {hint}"))
    for classifier in sorted(given & deprecated_classifiers.keys()):
        instead = deprecated_classifiers[classifier]
        found.append(("WS648", f"classifier {classifier!r} is deprecated" +
                      (f"; use {' or '.join(map(repr, instead))}" if instead else "; drop it")))
    return found


def valid_url(url: str) -> bool:
    """warehouse/utils/http.py ``is_valid_uri(url, require_authority=False)``: an http or
    https URL, by rfc3986."""
    from rfc3986 import exceptions, uri_reference, validators  # type: ignore[import-untyped]

    validator = validators.Validator().allow_schemes("http", "https").require_presence_of("scheme")
    validator.check_validity_of("scheme", "host", "port", "path", "query")
    try:
        validator.validate(uri_reference(url).normalize())
    except exceptions.ValidationError:
        return False
    return True


def _urls(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: Home-page and Download-URL must be valid URLs."""
    found = []
    for field in ("home_page", "download_url"):
        if (url := _attr(meta, field)) is not None and not valid_url(url):
            found.append(("WS649", f"{_RAW_TO_EMAIL_MAPPING[field].title()} {url!r} is not a valid http(s) URL"))
    return found


def _project_urls(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: each Project-URL has a label of at most 32 characters and a valid URL."""
    found = []
    for label, url in (_attr(meta, "project_urls") or {}).items():
        if not label:
            found.append(("WS650", f"Project-URL {url!r} has no label; write it as 'Label, URL'"))
        elif len(label) > 32:
            found.append(("WS650", f"Project-URL label {label!r} is {len(label)} characters; PyPI takes at most 32"))
        elif not url:
            found.append(("WS650", f"Project-URL {label!r} has no URL"))
        elif not valid_url(url):
            found.append(("WS650", f"Project-URL {label!r}: {url!r} is not a valid http(s) URL"))
    return found


def _other_dists(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: Provides-Dist and Obsoletes-Dist parse as requirements,
    with no direct URL."""
    found = []
    for field in ("provides_dist", "obsoletes_dist"):
        name = _RAW_TO_EMAIL_MAPPING[field].title()
        for value in _attr(meta, field) or []:
            try:
                requirement = Requirement(value)
            except InvalidRequirement as exc:
                found.append(("WS651", f"{name} {value!r} is not a valid requirement: {exc}"))
                continue
            if requirement.url is not None:
                found.append(("WS652", f"{name} {value!r} is a direct URL reference, which PyPI refuses"))
    return found


def _direct_requirements(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: no Requires-Dist is a direct URL reference."""
    return [("WS652", f"Requires-Dist {str(req)!r} is a direct URL reference, which PyPI refuses: depend on a "
                      "released version instead")
            for req in _attr(meta, "requires_dist") or [] if req.url is not None]


def _dynamic(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: each Dynamic field is in DYNAMIC_FIELDS."""
    return [("WS653", f"Dynamic: {field} is not a field PyPI allows as dynamic")
            for field in _attr(meta, "dynamic") or [] if field not in DYNAMIC_FIELDS]


def _license_and_expression(meta: Metadata) -> list[Refusal]:
    """``_validate_metadata``: License and License-Expression are mutually exclusive (PEP 639)."""
    if not (_attr(meta, "license") and _attr(meta, "license_expression")):
        return []
    return [("WS654", "both License and License-Expression are set; PyPI refuses that (PEP 639): keep only "
                      "License-Expression (project.license = \"MIT\" in pyproject.toml, no license table)")]


WAREHOUSE_RULES: tuple[Callable[[Metadata], list[Refusal]], ...] = (
    _metadata_version, _local_version, _summary_length, _emails, _classifiers, _urls, _project_urls,
    _other_dists, _direct_requirements, _dynamic, _license_and_expression,
)
