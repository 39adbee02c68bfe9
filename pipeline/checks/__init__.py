"""The checks verify runs: each with a stable code, a name, a default severity.

An ``error`` stops the release; a ``warning`` is reported. The buildspec's
``[checks]`` table changes a check's severity or turns it ``off``, by code or name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    severity: str
    summary: str


CHECKS: dict[str, Check] = {
    c.code: c
    for c in (
        Check("WS001", "missing-file", "error", "a planned distribution is missing from the run"),
        Check("WS002", "unplanned-file", "error", "the run holds a distribution the plan does not name"),
        Check("WS003", "duplicate-file", "error", "two files answer the same planned identifier"),
        Check("WS101", "metadata-render", "error", "the description does not render as PyPI requires"),
        Check("WS102", "metadata-name", "error", "the metadata's name differs from the project's"),
        Check("WS103", "metadata-version", "error", "the metadata's version differs from the release's"),
        Check("WS104", "requires-python", "error", "Requires-Python differs from the project's"),
        Check("WS105", "wheel-tags", "error", "the file name's tags differ from the WHEEL file's"),
        Check("WS106", "metadata-unreadable", "error", "the file's metadata cannot be read"),
        Check("WS107", "metadata-version-unsupported", "error", "a Metadata-Version the index does not accept"),
        Check("WS201", "linux-tag", "error", "a Linux wheel without a manylinux or musllinux tag"),
        Check("WS202", "no-compiled-code", "error", "a platform-tagged wheel with no compiled code in it"),
        Check("WS203", "missing-library", "error", "code loads a shared library by path that the wheel lacks"),
        Check("WS204", "abi3-violation", "error", "an abi3 wheel uses more than the limited API (abi3audit)"),
        Check("WS205", "pure-not-any", "error", "a pure-Python project's wheel is not py3-none-any"),
        Check("WS301", "install-failed", "error", "the wheel does not install in a fresh environment"),
        Check("WS302", "import-failed", "error", "an import name does not import"),
        Check("WS303", "installed-version", "error", "the installed version differs from the release's"),
        Check("WS304", "dunder-version", "error", "a module's __version__ differs from the release's"),
        Check("WS305", "test-command", "error", "the test command failed"),
        Check("WS306", "untested", "error", "a wheel no host has tested"),
        Check("WS401", "bytecode", "warning", "bytecode or __pycache__ in the wheel"),
        Check("WS402", "vcs-or-editor-files", "warning", "VCS or editor files in the wheel"),
        Check("WS403", "duplicate-entries", "error", "the same path twice in the wheel"),
        Check("WS404", "empty-wheel", "error", "a wheel with no modules or packages"),
        Check("WS405", "undeclared-toplevel", "warning", "top-level modules outside the declared import names"),
        Check("WS406", "generic-toplevel", "error", "a generic top-level name (tests, config, api, utils, src...)"),
        Check("WS407", "shadows-distribution", "error", "a top-level name that shadows a well-known distribution"),
        Check("WS408", "record-mismatch", "error", "RECORD entries that do not match the wheel's files"),
        Check("WS501", "sdist-no-pkg-info", "error", "the sdist has no PKG-INFO"),
        Check("WS502", "sdist-wheel-differs", "error", "the wheel built from the sdist differs from the one shipped"),
        Check("WS503", "sdist-vcs", "warning", "VCS folders in the sdist"),
        Check("WS504", "sdist-caches", "warning", "caches or bytecode in the sdist"),
        Check("WS505", "sdist-venv", "warning", "a virtual environment in the sdist"),
        Check("WS506", "sdist-foreign-lock", "warning", "lock files of other tools in the sdist"),
        Check("WS507", "sdist-large-file", "warning", "a file over 5 MiB in the sdist"),
    )
}
BY_NAME = {c.name: c for c in CHECKS.values()}


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: str
    file: str
    message: str

    def line(self) -> str:
        return f"{self.code} {self.name} [{self.severity}] {self.file}: {self.message}"


@dataclass
class Findings:
    """Findings of one verification, with the buildspec's severity overrides applied."""

    overrides: Mapping[str, str] = field(default_factory=dict)
    items: list[Finding] = field(default_factory=list)

    def severity(self, check: Check) -> str:
        return self.overrides.get(check.code, self.overrides.get(check.name, check.severity))

    def add(self, code: str, file: str, message: str) -> None:
        check = CHECKS[code]
        severity = self.severity(check)
        if severity != "off":
            self.items.append(Finding(check.code, check.name, severity, file, message))

    def extend(self, other: Findings) -> None:
        self.items.extend(other.items)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.items if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.items if f.severity == "warning"]

    def for_file(self, name: str) -> list[Finding]:
        return [f for f in self.items if f.file == name]
