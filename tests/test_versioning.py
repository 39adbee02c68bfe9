"""Tags, versions and routing."""

from __future__ import annotations

import pytest
from packaging.version import Version

from pipeline.errors import EXIT_CODES, VersionMismatch
from pipeline.versioning import check_same, is_prerelease, parse_tag


@pytest.mark.parametrize(
    ("tag", "version", "pre"),
    [
        ("1.2.3", "1.2.3", False),
        ("v1.2.3", "1.2.3", False),
        ("v1.2.3rc1", "1.2.3rc1", True),
        ("v1.2.3-rc.1", "1.2.3rc1", True),
        ("v1.2.0-beta.2", "1.2.0b2", True),
        ("v1.2.3.dev4", "1.2.3.dev4", True),
        ("v1.2.3.post1", "1.2.3.post1", False),
        ("refs/tags/v2.0.0", "2.0.0", False),
    ],
)
def test_accepted_tags(tag: str, version: str, pre: bool) -> None:
    parsed = parse_tag(tag)
    assert str(parsed) == version
    assert is_prerelease(parsed) is pre


@pytest.mark.parametrize("tag", ["release-1", "v1.2.3-final-final", "latest", ""])
def test_a_tag_that_is_not_a_version_quotes_it(tag: str) -> None:
    with pytest.raises(VersionMismatch) as info:
        parse_tag(tag)
    assert repr(tag) in str(info.value)
    assert info.value.hint and "v1.2.3-rc.1" in info.value.hint


def test_local_versions_are_refused() -> None:
    with pytest.raises(VersionMismatch, match=r"local version label \(\+abc\)"):
        parse_tag("v1.0.0+abc")


def test_a_mismatch_names_both_values_and_the_source() -> None:
    with pytest.raises(VersionMismatch) as info:
        check_same(Version("1.2.0"), Version("1.1.0"), where="pyproject.toml [project].version", tag="v1.2.0")
    assert str(info.value) == "tag 'v1.2.0' says version 1.2.0, but pyproject.toml [project].version says 1.1.0"


def test_every_failure_class_has_its_own_exit_code() -> None:
    codes = list(EXIT_CODES.values())
    assert len(codes) == len(set(codes))
    assert 0 not in codes and 1 not in codes
