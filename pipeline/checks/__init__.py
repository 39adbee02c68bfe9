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
        Check("WS201", "linux-tag", "error", "a Linux wheel without a manylinux or musllinux tag"),
        Check("WS301", "install-failed", "error", "the wheel does not install in a fresh environment"),
        Check("WS302", "import-failed", "error", "an import name does not import"),
        Check("WS303", "installed-version", "error", "the installed version differs from the release's"),
        Check("WS304", "dunder-version", "error", "a module's __version__ differs from the release's"),
        Check("WS305", "test-command", "error", "the test command failed"),
        Check("WS306", "untested", "error", "a wheel no host has tested"),
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
