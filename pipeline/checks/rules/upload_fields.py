"""The upload form PyPI receives for a file, read by the same code that checks it.

warehouse validates an upload's metadata from the form fields the uploader sends, not
from the file (warehouse/forklift/legacy.py ``file_upload``: ``metadata.parse(None,
form_data=request.POST)``). So wheelship's field checks (`fields`, `filenames`) read
these fields, and `publish` sends exactly them: what was checked is what is sent.

They are the fields twine sends (twine/package.py ``PackageFile.metadata_dictionary``,
laid out as pipeline/index.py always has), with one deliberate difference: a
Description folded into a header (old sdists' ``Description:``) is unfolded as the core
metadata specification says, where twine sends the folding along.

`form_to_raw` reads the form back as warehouse does, for the checks.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from packaging.metadata import (
    _EMAIL_TO_RAW_MAPPING,
    _LIST_FIELDS,
    _RAW_TO_EMAIL_MAPPING,
    _STRING_FIELDS,
    RawMetadata,
    _parse_keywords,
    _parse_project_urls,
    parse_email,
)

from pipeline import archives
from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.errors import VerificationFailed

#: The core metadata fields in the order they are sent, by form key (twine's names:
#: twine/package.py ``_RAW_TO_PACKAGE_METADATA``), each with its RawMetadata key.
FORM_KEYS = {
    "metadata_version": "metadata_version", "name": "name", "version": "version", "summary": "summary",
    "description": "description", "description_content_type": "description_content_type",
    "keywords": "keywords", "home_page": "home_page", "download_url": "download_url", "author": "author",
    "author_email": "author_email", "maintainer": "maintainer", "maintainer_email": "maintainer_email",
    "license": "license", "license_expression": "license_expression", "license_file": "license_files",
    "classifiers": "classifiers", "platform": "platforms", "supported_platform": "supported_platforms",
    "requires": "requires", "provides": "provides", "obsoletes": "obsoletes", "requires_dist": "requires_dist",
    "provides_dist": "provides_dist", "obsoletes_dist": "obsoletes_dist", "requires_python": "requires_python",
    "requires_external": "requires_external", "project_urls": "project_urls", "provides_extra": "provides_extra",
    "dynamic": "dynamic",
}
_FORM_KEY_OF = {raw: form for form, raw in FORM_KEYS.items()}
#: twine's Wheel.py_version: the python tag of a wheel's name (twine/wheel.py ``wheel_file_re``).
_PYVER = re.compile(r"^(?P<namever>(?P<name>.+?)(-(?P<ver>\d.+?))?)((-(?P<build>\d.*?))?-(?P<pyver>.+?)-"
                    r"(?P<abi>.+?)-(?P<plat>.+?)\.whl|\.dist-info)$")
#: warehouse/forklift/metadata.py _FORM_TO_RAW_MAPPING: form key to RawMetadata key
_FORM_TO_RAW = {{"platforms": "platform", "supported_platforms": "supported_platform", "license_files": "license_file",
                 "import_names": "import_name", "import_namespaces": "import_namespace"}.get(k, k): k
                for k in _RAW_TO_EMAIL_MAPPING}


@dataclass(frozen=True)
class FormMetadata:
    """A file's metadata as the upload form carries it: each form key with its values,
    in order (one value for most keys, several for Classifier and the like)."""

    fields: tuple[tuple[str, str], ...]

    def values(self, key: str) -> list[str]:
        return [value for k, value in self.fields if k == key]


def metadata_bytes(path: Path, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """A wheel's .dist-info/METADATA or an sdist's top-level PKG-INFO, read within `limits`
    (the files `pipeline.checks.metadata.read_metadata` reads). Raises ValueError when
    there is none, `archives.ArchiveError` past a limit or unreadable."""
    if path.name.endswith(".whl"):
        with archives.open_wheel(path, limits) as wheel:
            meta = next((n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
            if meta is None:
                raise ValueError("the wheel has no .dist-info/METADATA; build it with a PEP 517 frontend")
            return archives.read_member(wheel, meta)
    pkg_info = archives.scan_sdist(path, limits).pkg_info
    if pkg_info is None:
        raise ValueError("the sdist has no PKG-INFO at its top level; build it with a PEP 517 frontend")
    return pkg_info


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


def unfold_description(header: str) -> str:
    """A Description read from a folded header, unfolded as the core metadata spec says,
    by the very code whose result WS101 renders (`description_of`)."""
    message = email.message.Message()
    message["Description"] = header
    return description_of(message)


def _described_in_header(text: str) -> bool:
    headers = email.parser.Parser(policy=email.policy.compat32).parsestr(text, headersonly=True)
    return headers.get("Description") is not None


def form_metadata(data: bytes) -> FormMetadata:
    """The metadata fields of the upload form, from METADATA or PKG-INFO bytes.

    Read as PyPI reads a file's metadata (UTF-8, a bad byte replaced) and parsed by
    packaging's ``parse_email``, as twine does. Where twine refuses to upload (a field
    given twice, two Project-URLs with one label), every value is sent, which PyPI then
    refuses: the checks report that. The name is twine's "safe" name. License-File under
    Metadata-Version 2.3 or older (setuptools wrote it for years) is dropped, as twine
    drops it."""
    text = data.decode("utf-8", errors="replace")
    raw, unparsed = parse_email(text)
    values: dict[str, list[str]] = {}
    for key, value in raw.items():
        form_key = _FORM_KEY_OF.get(key)
        if form_key is None:  # Import-Name and the like: twine does not send them
            continue
        if key == "project_urls":
            values[form_key] = [f"{label}, {url}" for label, url in cast(dict[str, str], value).items()]
        elif key == "keywords":
            values[form_key] = [", ".join(cast(list[str], value))]
        elif isinstance(value, list):
            values[form_key] = list(value)
        else:
            values[form_key] = [cast(str, value)]
    for email_name, given in unparsed.items():
        form_key = _FORM_KEY_OF.get(_EMAIL_TO_RAW_MAPPING.get(email_name, ""))
        if form_key is not None:
            values.setdefault(form_key, []).extend(given)
    if "description" in raw and _described_in_header(text):
        values["description"] = [unfold_description(raw["description"])]
    if _older_than_2_4(raw.get("metadata_version", "")):
        values.pop("license_file", None)
    values["name"] = [_safe_name(name) for name in values.get("name", ())]
    return FormMetadata(tuple((key, value) for key in FORM_KEYS for value in values.get(key, ())))


def form_to_raw(form: FormMetadata) -> tuple[RawMetadata, dict[str, list[str]]]:
    """The form as warehouse turns it into packaging's metadata: a value ``UNKNOWN``
    drops its field and NUL is escaped (legacy.py ``file_upload``), then each field is
    read as packaging reads METADATA, an empty one skipped (metadata.py
    ``parse_form_metadata``). Returns the raw metadata and the fields it could not
    take (a single field twice, a repeated Project-URL label)."""
    given: dict[str, list[str]] = {}
    for key, value in form.fields:
        given.setdefault(key, []).append(value.replace("\x00", "\\x00"))
    raw: dict[str, Any] = {}
    unparsed: dict[str, list[str]] = {}
    for key, values in given.items():
        raw_name = _FORM_TO_RAW.get(key)
        if raw_name is None or values[-1].strip() == "UNKNOWN" or values == [""]:
            continue  # warehouse reads request.POST.get(key), the last value, for UNKNOWN
        if raw_name in _STRING_FIELDS and len(values) == 1:
            raw[raw_name] = values[0]
        elif raw_name in _LIST_FIELDS:
            raw[raw_name] = values
        elif raw_name == "keywords" and len(values) == 1:
            raw[raw_name] = _parse_keywords(values[0])
        elif raw_name == "project_urls":
            try:
                raw[raw_name] = _parse_project_urls(values)
            except KeyError:
                unparsed[_RAW_TO_EMAIL_MAPPING[raw_name]] = values
        else:
            unparsed[_RAW_TO_EMAIL_MAPPING[raw_name]] = values
    return cast(RawMetadata, raw), unparsed


def _older_than_2_4(metadata_version: str) -> bool:
    major, _, minor = metadata_version.partition(".")
    return not (major.isdigit() and minor.isdigit() and (int(major), int(minor)) >= (2, 4))


@functools.lru_cache(maxsize=16)
def _read(path: Path, size: int, mtime_ns: int, limits: Limits) -> FormMetadata:
    return form_metadata(metadata_bytes(path, limits))


def read_form_metadata(path: Path, limits: Limits = DEFAULT_LIMITS) -> FormMetadata:
    """`form_metadata` of a distribution file, read once however many checks ask (a file
    that changes is read again). Raises as `metadata_bytes`."""
    stat = path.stat()
    return _read(path.resolve(), stat.st_size, stat.st_mtime_ns, limits)


def _safe_name(name: str) -> str:
    """twine's name for the form (twine/package.py ``_safe_name``, after pkg_resources)."""
    return re.sub("[^A-Za-z0-9.]+", "-", name)


def upload_fields(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, str]]:
    """The legacy upload form's fields for `path`, as twine sends them, less ``:action``
    and ``protocol_version``: the metadata (`read_form_metadata`), then pyversion,
    filetype and the SHA-256 and BLAKE2b-256 digests. Raises `VerificationFailed` for a
    file with no metadata (an `archives.ArchiveError` is one)."""
    try:
        meta = read_form_metadata(path, limits)
    except ValueError as exc:
        raise VerificationFailed(f"{path.name}: {exc}", hint="wheelship verify refuses such a file") from None
    wheel = path.name.endswith(".whl")
    match = _PYVER.match(path.name) if wheel else None
    pyversion = (match.group("pyver") if match else "any") if wheel else "source"
    sha256, blake2 = hashlib.sha256(), hashlib.blake2b(digest_size=32)
    with path.open("rb") as fh:
        while chunk := fh.read(archives.CHUNK):
            sha256.update(chunk)
            blake2.update(chunk)
    return [*meta.fields, ("pyversion", pyversion), ("filetype", "bdist_wheel" if wheel else "sdist"),
            ("sha256_digest", sha256.hexdigest()), ("blake2_256_digest", blake2.hexdigest())]

