"""Tags, versions and routing: what a tag means and where its release goes."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from pipeline.errors import VersionMismatch

ACCEPTED_FORMS = "1.2.3, v1.2.3, v1.2.3rc1, v1.2.3-rc.1, v1.2.3.dev4, v1.2.3.post1"


def parse_tag(tag: str) -> Version:
    """Return the PEP 440 version a tag names.

    A leading ``v`` and semver-style pre-releases (``-rc.1``) are accepted, as
    PEP 440's normalisation allows. Raises `VersionMismatch` for anything else,
    and for local versions (``+abc``), which no public index accepts.
    """
    text = tag.strip()
    if text.startswith("refs/tags/"):
        text = text.removeprefix("refs/tags/")
    try:
        version = Version(text)
    except InvalidVersion:
        raise VersionMismatch(
            f"tag {tag!r} is not a version",
            hint=f"tag a release with a PEP 440 version, for example {ACCEPTED_FORMS}",
        ) from None
    if version.local is not None:
        raise VersionMismatch(
            f"tag {tag!r} has a local version label (+{version.local})",
            hint="package indexes refuse local versions; drop the '+...' part",
        )
    return version


def is_prerelease(version: Version) -> bool:
    """Pre-releases and dev releases go to the pre-release index."""
    return version.is_prerelease or version.is_devrelease


def check_same(tag_version: Version, other: Version, *, where: str, tag: str) -> None:
    """Raise `VersionMismatch` naming both values unless they are equal."""
    if tag_version != other:
        raise VersionMismatch(
            f"tag {tag!r} says version {tag_version}, but {where} says {other}",
            hint="tag the version the project declares, or bump the project's version",
        )
