"""PyPI's upload rules for file names, platform tags and metadata fields, rule for rule.

For each rule the suite makes the smallest file PyPI refuses and its nearest twin that
PyPI accepts (wheels and sdists written here with zipfile and tarfile): the refused file
gets the rule's error code, the twin passes with no error, and nothing exits 70. One
case per code runs through `wheelship check`, the rest through `check_files`. The
upload form `publish` sends is twine's, field for field, but for unfolded descriptions.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from trove_classifiers import deprecated_classifiers

from pipeline.checks import CHECKS, Findings
from pipeline.checks.files import check_files
from pipeline.checks.rules import fields, filenames, platforms
from pipeline.checks.rules.upload_fields import read_form_metadata, unfold_description, upload_fields

BASE = (("Metadata-Version", "2.4"), ("Name", "demo"), ("Version", "1.0"), ("Summary", "a demo"),
        ("Description-Content-Type", "text/markdown"))


@dataclass(frozen=True)
class Dist:
    """A distribution to make: its METADATA headers in order, body, kind, tag, file name."""

    headers: tuple[tuple[str, str], ...] = BASE
    body: str = "# demo\n"
    sdist: bool = False
    tag: str = "py3-none-any"
    filename: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # more members, under .dist-info/ or the sdist's folder

    def header(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.headers if k.lower() == key.lower()), default)

    def stem(self) -> str:
        try:
            name = canonicalize_name(self.header("Name"), validate=True).replace("-", "_")
        except ValueError:
            name = "demo"
        version = self.header("Version", "1.0")
        return f"{name}-{version if version[:1].isdigit() else '1.0'}"

    def name(self) -> str:
        return self.filename or (f"{self.stem()}.tar.gz" if self.sdist else f"{self.stem()}-{self.tag}.whl")


def wheel(*changes: tuple[str, str | None], **kw: Any) -> Dist:
    """The base wheel with headers changed (a value None drops the header; a new key is added)."""
    return Dist(headers=_changed(changes), **kw)


def sdist(*changes: tuple[str, str | None], **kw: Any) -> Dist:
    return Dist(headers=_changed(changes), sdist=True, **kw)


def _changed(changes: tuple[tuple[str, str | None], ...]) -> tuple[tuple[str, str], ...]:
    headers = list(BASE)
    for key, value in changes:
        at = next((i for i, (k, _) in enumerate(headers) if k == key), None)
        if value is None and at is not None:
            del headers[at]
        elif at is not None and key not in ("Classifier", "Project-URL", "Requires-Dist", "Dynamic", "Summary"):
            headers[at] = (key, value)  # type: ignore[assignment]
        elif value is not None:
            headers.append((key, value))
    return tuple(headers)


def metadata_text(dist: Dist) -> str:
    return "".join(f"{k}: {v}\n" for k, v in dist.headers) + "\n" + dist.body


def make(dist: Dist, folder: Path) -> Path:
    """Write `dist` into `folder`: a wheel whose .dist-info is named as its file (as PyPI
    looks for it) with a true RECORD, or an sdist with one top-level folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / dist.name()
    lower = path.name.lower()
    if lower.endswith(".whl"):
        parts = path.name.split("-")
        stem = "-".join(parts[:2]) if len(parts) >= 5 else "demo-1.0"
        tags = "-".join(parts[-3:])[: -len(".whl")] if len(parts) >= 5 else dist.tag
        info = f"{stem}.dist-info"
        members = {"demo/__init__.py": "", f"{info}/METADATA": metadata_text(dist),
                   f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tags}\n",
                   **{f"{info}/{k}": v for k, v in dist.extra}}
        record = [f"{n},sha256={_digest(t)},{len(t.encode())}" for n, t in members.items()] + [f"{info}/RECORD,,"]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, text in {**members, f"{info}/RECORD": "\n".join(record) + "\n"}.items():
                archive.writestr(member, text)
        return path
    top = path.name.split(".tar")[0].split(".zip")[0].split(".tgz")[0]
    members = {"PKG-INFO": metadata_text(dist), "pyproject.toml": '[project]\nname = "demo"\n', **dict(dist.extra)}
    if lower.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            for member, text in members.items():
                archive.writestr(f"{top}/{member}", text)
        return path
    with tarfile.open(path, "w:bz2" if lower.endswith(".bz2") else "w:gz") as tar:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class Case:
    code: str
    what: str
    refused: Dist
    twin: Dist
    cli: bool = field(default=False, compare=False)


LONG = "a" * 226  # a wheel named {LONG}-1.0-py3-none-any.whl is 247 bytes
DEPRECATED = next(iter(sorted(deprecated_classifiers)))
PKG_URL = ("Project-URL", "Source, https://example.com/demo")

CASES = [
    # --- file names (warehouse/forklift/legacy.py _validate_filename, file_upload) ---
    Case("WS601", "a DEL character", wheel(filename="demo-1.0-py3-none-any\x7f.whl"), wheel()),
    Case("WS601", "a backslash", wheel(filename="demo\\x-1.0-py3-none-any.whl"), wheel()),
    Case("WS602", "a .zip sdist (PEP 625)", sdist(filename="demo-1.0.zip"), sdist()),
    Case("WS602", "a .tgz sdist", sdist(filename="demo-1.0.tgz"), sdist()),
    Case("WS602", "a .tar.bz2 sdist", sdist(filename="demo-1.0.tar.bz2"), sdist()),
    Case("WS602", "an upper-case .WHL", wheel(filename="demo-1.0-py3-none-any.WHL"), wheel()),
    Case("WS602", "an egg", wheel(filename="demo-1.0-py3.11.egg"), wheel()),
    Case("WS603", "an sdist name without a version", sdist(filename="demo.tar.gz"), sdist()),
    Case("WS603", "a wheel name with a part missing", wheel(filename="demo-1.0-py3-none.whl"), wheel()),
    Case("WS603", "a wheel name whose version is no version", wheel(filename="demo-one-py3-none-any.whl"), wheel()),
    Case("WS604", "an upper-case sdist name", sdist(("Name", "Demo"), filename="Demo-1.0.tar.gz"), sdist(("Name", "Demo"))),
    Case("WS604", "a '-' in an sdist's name", sdist(("Name", "demo-pkg"), filename="demo-pkg-1.0.tar.gz"),
         sdist(("Name", "demo-pkg"))),
    Case("WS604", "a '.' in a wheel's name", wheel(("Name", "demo.pkg"), filename="demo.pkg-1.0-py3-none-any.whl"),
         wheel(("Name", "demo.pkg"))),
    Case("WS604", "an upper-case wheel name", wheel(("Name", "Demo"), filename="Demo-1.0-py3-none-any.whl"),
         wheel(("Name", "Demo"))),
    Case("WS605", "an sdist version not normalized", sdist(("Version", "1.0.post1"), filename="demo-1.0.post01.tar.gz"),
         sdist(("Version", "1.0.post1"))),
    Case("WS605", "an sdist version spelled longer", sdist(filename="demo-1.0.0.tar.gz"), sdist()),
    Case("WS606", "a wheel of another project", wheel(filename="other-1.0-py3-none-any.whl"), wheel()),
    Case("WS606", "an sdist of another project", sdist(filename="other-1.0.tar.gz"), sdist()),
    Case("WS607", "a wheel of another version", wheel(filename="demo-1.1-py3-none-any.whl"), wheel()),
    Case("WS607", "an sdist of another version", sdist(filename="demo-1.1.tar.gz"), sdist()),
    Case("WS608", "a build tag that is no number", wheel(filename="demo-1.0-x1-py3-none-any.whl"),
         wheel(filename="demo-1.0-1-py3-none-any.whl")),
    Case("WS609", "a wheel name of 247 bytes", wheel(("Name", LONG)), wheel(("Name", LONG[1:]))),
    # --- platform tags (warehouse/utils/wheel.py is_valid_platform_tag) ---
    Case("WS201", "linux_x86_64", wheel(tag="cp312-cp312-linux_x86_64"), wheel(tag="cp312-cp312-manylinux_2_17_x86_64")),
    Case("WS201", "macOS 11 with a minor version", wheel(tag="cp312-cp312-macosx_11_3_arm64"),
         wheel(tag="cp312-cp312-macosx_11_0_arm64")),
    Case("WS201", "emscripten", wheel(tag="cp312-cp312-emscripten_3_1_58_wasm32"),
         wheel(tag="cp314-cp314-pyemscripten_2026_0_wasm32")),
    Case("WS611", "a macOS arch PyPI does not list", wheel(tag="cp312-cp312-macosx_10_9_arm64e"),
         wheel(tag="cp312-cp312-macosx_10_9_arm64")),
    Case("WS611", "a macOS major PyPI does not list", wheel(tag="cp312-cp312-macosx_16_0_arm64"),
         wheel(tag="cp312-cp312-macosx_15_0_arm64")),
    Case("WS612", "manylinux on mips64", wheel(tag="cp312-cp312-manylinux_2_17_mips64"),
         wheel(tag="cp312-cp312-manylinux_2_17_riscv64")),
    Case("WS612", "manylinux2014 on riscv64", wheel(tag="cp312-cp312-manylinux2014_riscv64"),
         wheel(tag="cp312-cp312-manylinux2014_s390x")),
    Case("WS613", "musllinux on ppc64", wheel(tag="cp312-cp312-musllinux_1_2_ppc64"),
         wheel(tag="cp312-cp312-musllinux_1_2_ppc64le")),
    Case("WS614", "win_arm32", wheel(tag="cp312-cp312-win_arm32"), wheel(tag="cp312-cp312-win_arm64")),
    Case("WS615", "an iOS arch PyPI does not list", wheel(tag="cp313-cp313-ios_13_0_arm64e_iphoneos"),
         wheel(tag="cp313-cp313-ios_13_0_arm64_iphoneos")),
    Case("WS616", "an Android arch PyPI does not list", wheel(tag="cp313-cp313-android_21_armeabi"),
         wheel(tag="cp313-cp313-android_21_armeabi_v7a")),
    Case("WS617", "pyemscripten on wasm64", wheel(tag="cp314-cp314-pyemscripten_2026_0_wasm64"),
         wheel(tag="cp314-cp314-pyemscripten_2026_0_wasm32")),
    Case("WS618", "cygwin", wheel(tag="cp312-cp312-cygwin_3_5_x86_64"), wheel(tag="cp312-cp312-win_amd64")),
    Case("WS618", "freebsd", wheel(tag="cp312-cp312-freebsd_14_0_amd64"), wheel(tag="cp312-cp312-win_amd64")),
    # --- metadata fields (warehouse/forklift/metadata.py, packaging's validation) ---
    Case("WS107", "Metadata-Version 2.0", wheel(("Metadata-Version", "2.0")), wheel(("Metadata-Version", "2.1"))),
    Case("WS107", "Metadata-Version 3.0", wheel(("Metadata-Version", "3.0")), wheel(("Metadata-Version", "2.5"))),
    Case("WS107", "Metadata-Version 2.6, before PyPI takes it", wheel(("Metadata-Version", "2.6")),
         wheel(("Metadata-Version", "1.0"), ("Description-Content-Type", None))),
    Case("WS641", "a Name that is no project name", wheel(("Name", "demo-")), wheel()),
    Case("WS641", "no Name", wheel(("Name", None)), wheel()),
    Case("WS642", "a Version that is no version", wheel(("Version", "one")), wheel()),
    Case("WS643", "a local version", wheel(("Version", "1.0+local")), wheel()),
    Case("WS644", "a Summary of 513 characters", wheel(("Summary", None), ("Summary", "s" * 513)),
         wheel(("Summary", None), ("Summary", "s" * 512))),
    Case("WS645", "a Summary on two lines", wheel(("Summary", None), ("Summary", "a demo\n of two lines")),
         wheel(("Summary", None), ("Summary", "a demo of one line"))),
    Case("WS646", "an Author-email with no domain", wheel(("Author-email", "Ann <ann@localhost>")),
         wheel(("Author-email", "Ann <ann@example.com>"))),
    Case("WS646", "a Maintainer-email with no '@'", wheel(("Maintainer-email", "ann")),
         wheel(("Maintainer-email", "ann@example.com"))),
    Case("WS647", "a private classifier", wheel(("Classifier", "Private :: Do Not Upload")),
         wheel(("Classifier", "Programming Language :: Python :: 3"))),
    Case("WS648", "a deprecated classifier", wheel(("Classifier", DEPRECATED)),
         wheel(("Classifier", "Programming Language :: Python :: 3"))),
    Case("WS649", "a Home-page with no scheme", wheel(("Home-page", "example.com")),
         wheel(("Home-page", "https://example.com"))),
    Case("WS649", "an ftp Download-URL", wheel(("Download-URL", "ftp://example.com/demo.tar.gz")),
         wheel(("Download-URL", "UNKNOWN"))),
    Case("WS650", "a Project-URL label of 33 characters", wheel(("Project-URL", f"{'L' * 33}, https://example.com")),
         wheel(("Project-URL", f"{'L' * 32}, https://example.com"))),
    Case("WS650", "a git Project-URL", wheel(("Project-URL", "Source, git://example.com/demo")), wheel(PKG_URL)),
    Case("WS651", "a Requires-Dist that does not parse", wheel(("Requires-Dist", "requests >>= 2")),
         wheel(("Requires-Dist", "requests >= 2"))),
    Case("WS651", "a Provides-Dist that does not parse", wheel(("Provides-Dist", "demo (")),
         wheel(("Provides-Dist", "demo-compat"))),
    Case("WS652", "a direct URL in Requires-Dist", wheel(("Requires-Dist", "requests @ https://example.com/r.whl")),
         wheel(("Requires-Dist", "requests"))),
    Case("WS652", "a direct URL in Obsoletes-Dist", wheel(("Obsoletes-Dist", "old @ https://example.com/o.whl")),
         wheel(("Obsoletes-Dist", "old"))),
    Case("WS653", "Dynamic: Version", sdist(("Dynamic", "Version")), sdist(("Dynamic", "Requires-Dist"))),
    Case("WS653", "Dynamic: Dynamic", sdist(("Dynamic", "Dynamic")), sdist(("Dynamic", "Summary"))),
    Case("WS654", "License and License-Expression", wheel(("License", "MIT"), ("License-Expression", "MIT")),
         wheel(("License-Expression", "MIT"))),
    Case("WS655", "a License-Expression that is no SPDX", wheel(("License-Expression", "MIT-ish")),
         wheel(("License-Expression", "mit OR apache-2.0"))),
    Case("WS656", "a License-File with '..'", wheel(("License-File", "../LICENSE"), extra=(("licenses/LICENSE", "x"),)),
         wheel(("License-File", "LICENSE"), extra=(("licenses/LICENSE", "x"),))),
    Case("WS657", "License-Expression under Metadata-Version 2.3",
         wheel(("Metadata-Version", "2.3"), ("License-Expression", "MIT")), wheel(("License-Expression", "MIT"))),
    Case("WS657", "Dynamic under Metadata-Version 2.1", sdist(("Metadata-Version", "2.1"), ("Dynamic", "Summary")),
         sdist(("Metadata-Version", "2.2"), ("Dynamic", "Summary"))),
    Case("WS658", "a Requires-Python that is no specifier", wheel(("Requires-Python", ">=3.8,<")),
         wheel(("Requires-Python", ">=3.8"))),
    Case("WS659", "a latin-1 description", wheel(("Description-Content-Type", "text/markdown; charset=latin-1")),
         wheel(("Description-Content-Type", "text/markdown; charset=UTF-8"))),
    Case("WS659", "a markdown variant PyPI does not render",
         wheel(("Description-Content-Type", "text/markdown; variant=Original")),
         wheel(("Description-Content-Type", "text/markdown; variant=CommonMark"))),
    Case("WS660", "a Provides-Extra that is no name", wheel(("Provides-Extra", "-fast")), wheel(("Provides-Extra", "fast"))),
    Case("WS661", "Summary twice", wheel(("Summary", "another")), wheel()),
    Case("WS661", "two Project-URLs with one label", wheel(PKG_URL, ("Project-URL", "Source, https://example.org")),
         wheel(PKG_URL, ("Project-URL", "Docs, https://example.org"))),
]
CASES = [replace(case, cli=case.code not in {c.code for c in CASES[:i]}) for i, case in enumerate(CASES)]


def _errors_via_check_files(path: Path) -> list[tuple[str, str]]:
    findings = Findings()
    check_files([path], findings, parity=False)
    return [(f.code, f.message) for f in findings.errors]


def _errors_via_cli(cli: Any, path: Path, report: Path) -> list[tuple[str, str]]:
    result = cli("check", path, "--json", report)
    assert result.code in (0, 5), result.err  # never 70: a bad file is a finding, not a crash
    assert "Traceback" not in result.out + result.err
    return [(f["code"], f["message"]) for f in json.loads(report.read_text())["findings"] if f["severity"] == "error"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code}-{c.what}" for c in CASES])
def test_pypi_refuses_the_file_and_accepts_its_twin(case: Case, cli: Any, tmp_path: Path) -> None:
    refused, twin = make(case.refused, tmp_path / "refused"), make(case.twin, tmp_path / "twin")
    if case.cli:
        refused_errors = _errors_via_cli(cli, refused, tmp_path / "refused.json")
        twin_errors = _errors_via_cli(cli, twin, tmp_path / "twin.json")
    else:
        refused_errors, twin_errors = _errors_via_check_files(refused), _errors_via_check_files(twin)
    assert case.code in {code for code, _ in refused_errors}, refused_errors
    assert twin_errors == []


def test_every_rule_of_these_families_has_a_refused_file_and_a_twin() -> None:
    families = {code for family in (filenames, platforms, fields) for code, *_ in family.RULES}
    tested = {case.code for case in CASES}
    assert families - tested == {"WS662"}  # the fallback for a refusal packaging adds later: see below
    assert {"WS107", "WS201"} <= tested
    assert all(CHECKS[code].severity == "error" for code in families | {"WS107", "WS201"})


def test_a_refusal_packaging_adds_later_is_still_an_error() -> None:
    from packaging.metadata import InvalidMetadata

    code, message = fields._packaging_refusal(InvalidMetadata("import-name", "'1x' is invalid for 'import-name'"))
    assert code == "WS662" and "packaging's validation" in message


# --- what PyPI accepts must pass ----------------------------------------------------------

ACCEPTED_PLATFORMS = [
    "any", "win32", "win_amd64", "win_arm64", "win_ia64", "linux_armv6l", "linux_armv7l",
    "manylinux1_x86_64", "manylinux1_i686", "manylinux2010_x86_64", "manylinux2010_i686",
    *(f"manylinux2014_{a}" for a in ("x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x")),
    *(f"manylinux_2_{m}_{a}" for m in (17, 28, 34)
      for a in ("x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x", "riscv64")),
    *(f"musllinux_1_{m}_{a}" for m in (1, 2) for a in ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x",
                                                       "riscv64")),
    "macosx_10_6_intel", "macosx_10_9_x86_64", "macosx_10_15_universal2", "macosx_10_4_fat", "macosx_10_5_ppc",
    *(f"macosx_{major}_0_{a}" for major in (11, 12, 13, 14, 15, 26) for a in ("arm64", "x86_64", "universal2")),
    "ios_13_0_arm64_iphoneos", "ios_13_0_arm64_iphonesimulator", "ios_13_0_x86_64_iphonesimulator",
    *(f"android_{api}_{a}" for api in (21, 24) for a in ("armeabi_v7a", "arm64_v8a", "x86", "x86_64")),
    "pyemscripten_2026_0_wasm32",
]
REFUSED_PLATFORMS = {
    "linux_x86_64": "WS201", "linux_aarch64": "WS201", "macosx_11_3_arm64": "WS201", "macosx_14_2_arm64": "WS201",
    "emscripten_3_1_58_wasm32": "WS201", "macosx_10_9_arm64e": "WS611", "macosx_27_0_arm64": "WS611",
    "macosx_9_0_x86_64": "WS611", "manylinux2010_aarch64": "WS612", "manylinux1_aarch64": "WS612",
    "manylinux_2_17_sparc64": "WS612", "musllinux_1_2_ppc64": "WS613", "win_arm32": "WS614", "win64": "WS618",
    "ios_13_0_arm64_iphone": "WS615", "ios_13_0_i386_iphonesimulator": "WS615", "android_21_mips": "WS616",
    "pyemscripten_2026_0_wasm64": "WS617", "cygwin": "WS618", "cygwin_3_5_x86_64": "WS618",
    "freebsd_14_0_amd64": "WS618", "solaris_2_11_sun4v": "WS618", "linux": "WS618",
}


@pytest.mark.parametrize("platform", ACCEPTED_PLATFORMS)
def test_every_platform_tag_pypi_accepts_passes(platform: str) -> None:
    assert platforms.accepted(platform) and platforms.refusal(platform) is None


@pytest.mark.parametrize(("platform", "code"), REFUSED_PLATFORMS.items())
def test_every_platform_tag_pypi_refuses_has_its_code(platform: str, code: str) -> None:
    found = platforms.refusal(platform)
    assert not platforms.accepted(platform) and found is not None and found[0] == code, found


@pytest.mark.parametrize("dist", [
    wheel(filename="demo-01.0-py3-none-any.whl"),  # a wheel's version need only equal the metadata's
    wheel(filename="demo-1.0.0-py3-none-any.whl"),
    wheel(filename="demo-1.0-1-py3-none-any.whl"),
    wheel(("Name", "Demo_Pkg"), filename="demo_pkg-1.0-py3-none-any.whl"),
    wheel(("Metadata-Version", "2.1"), ("License-File", "LICENSE")),  # setuptools' habit; not sent, as twine
    wheel(("Metadata-Version", "1.0"), ("Description-Content-Type", None), ("Home-page", "UNKNOWN"),
          ("Author-email", "UNKNOWN"), ("License", "UNKNOWN"), ("Platform", "UNKNOWN")),
    wheel(("Author-email", '"Doe, Ann" <ann@example.com>, Bob <bob@example.org>'), ("Keywords", "a, b,c"),
          ("Home-page", ""), ("Classifier", "Programming Language :: Python :: 3"), PKG_URL,
          ("Requires-Dist", 'pytest; extra == "test"'), ("Provides-Extra", "test"), ("Requires-Python", ">=3.9")),
    sdist(("Version", "1.0rc1")),
    sdist(("Metadata-Version", "1.2"), ("Description-Content-Type", None), ("Description", "Demo\n        ====\n        \n        A demo."),
          body=""),
    wheel(tag="cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64"),
], ids=lambda d: d.name())
def test_what_pypi_accepts_passes(dist: Dist, tmp_path: Path) -> None:
    assert _errors_via_check_files(make(dist, tmp_path)) == []


# --- the upload form: what was checked is what is sent -------------------------------------


def twine_fields(path: Path) -> dict[str, list[str]]:
    """twine's upload form for `path`, laid out as pipeline/index.py laid it out before."""
    from twine.package import PackageFile

    grouped: dict[str, list[str]] = defaultdict(list)
    for key, value in PackageFile.from_filename(str(path), comment=None).metadata_dictionary().items():
        if value is None or key == "gpg_signature":
            continue
        if key == "project_urls" and isinstance(value, dict):
            grouped[key] += [f"{k}, {v}" for k, v in value.items()]
        elif key == "keywords" and isinstance(value, list):
            grouped[key].append(", ".join(value))
        elif isinstance(value, list | tuple):
            grouped[key] += list(value)
        else:
            grouped[key].append(str(value))
    return dict(grouped)


def ours(path: Path) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for key, value in upload_fields(path):
        grouped[key].append(value)
    return dict(grouped)


def assert_twines_but_unfolded(path: Path) -> bool:
    """The form equals twine's; where twine sends a folded Description, ours is that
    unfolded. Returns whether it was folded."""
    theirs, mine = twine_fields(path), ours(path)
    folded = theirs.get("description") != mine.get("description")
    if folded:
        theirs["description"] = [unfold_description(theirs["description"][0])]
    assert mine == theirs
    return folded


FORM_DISTS = [
    wheel(("Classifier", "Programming Language :: Python :: 3"), ("Classifier", "Typing :: Typed"), PKG_URL,
          ("Project-URL", "Docs, https://example.com/docs"), ("Keywords", "a,b , c"), ("Requires-Dist", "requests>=2"),
          ("Requires-Dist", 'pytest; extra == "test"'), ("Provides-Extra", "test"), ("Author", "Ann"),
          ("Author-email", "Ann <ann@example.com>"), ("License-Expression", "MIT"), ("License-File", "LICENSE"),
          ("Requires-Python", ">=3.9"), ("Name", "Demo_Pkg"), filename="demo_pkg-1.0-1-cp312-abi3-win_amd64.whl",
          extra=(("licenses/LICENSE", "MIT\n"),)),
    wheel(("Metadata-Version", "2.1"), ("License-File", "LICENSE"), ("Platform", "UNKNOWN")),
    sdist(("Metadata-Version", "2.2"), ("Dynamic", "Requires-Dist"), body="Démo, in UTF-8\n"),
]


@pytest.mark.parametrize("dist", FORM_DISTS, ids=lambda d: d.name())
def test_the_upload_form_is_twines(dist: Dist, tmp_path: Path) -> None:
    assert not assert_twines_but_unfolded(make(dist, tmp_path))


def test_a_folded_description_is_sent_unfolded(tmp_path: Path) -> None:
    folded = "Demo\n        ====\n        \n        A *demo*.\n            indented"
    path = make(sdist(("Metadata-Version", "1.2"), ("Description-Content-Type", None), ("Description", folded),
                      body=""), tmp_path)
    assert assert_twines_but_unfolded(path)
    assert read_form_metadata(path).values("description") == ["Demo\n====\n\nA *demo*.\n    indented"]
    assert unfold_description("Demo\n       |====\n       |\n       |  x") == "Demo\n====\n\n  x"  # the spec's form


def test_publish_sends_the_checked_fields(tmp_path: Path) -> None:
    from pipeline.index import _metadata_fields

    path = make(FORM_DISTS[0], tmp_path)
    sent = _metadata_fields(path)
    assert sent[-2:] == [(":action", "file_upload"), ("protocol_version", "1")]
    assert sent[:-2] == upload_fields(path)
    assert ("name", "Demo-Pkg") in sent and ("pyversion", "cp312") in sent and ("filetype", "bdist_wheel") in sent
    assert dict(sent)["sha256_digest"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_field_twine_would_refuse_is_sent_whole_and_refused_by_the_checks(tmp_path: Path) -> None:
    path = make(wheel(("Summary", "another")), tmp_path)
    assert [v for k, v in upload_fields(path) if k == "summary"] == ["a demo", "another"]
    assert ("WS661" in {code for code, _ in _errors_via_check_files(path)})


@pytest.mark.integration
@pytest.mark.real
def test_the_upload_form_is_twines_on_the_corpus() -> None:
    from tests.corpus import by_project

    paths = [p for files in by_project().values() for p in files]
    folded = [p.name for p in paths if assert_twines_but_unfolded(p)]
    assert len(paths) >= 250
    assert set(folded) <= {"defusedxml-0.7.1.tar.gz", "toml-0.10.2.tar.gz"}  # old setuptools' folding
