"""The checks verify runs: each with a stable code, a name, a default severity.

An ``error`` stops the release; a ``warning`` is reported. The buildspec's
``[checks]`` table changes a check's severity or turns it ``off``, by code or name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.archives import ArchiveError, LimitExceeded
from pipeline.records import Finding, is_severity


@dataclass(frozen=True)
class Check:
    code: str
    name: str
    severity: str
    summary: str


#: The rule for a default severity, written out per code in the README: an error is only
#: what the target index refuses at upload (as warehouse's upload code decides it, rule for
#: rule in pipeline.checks.rules), what breaks an install or an import, or a defect of the
#: release itself (a planned file missing, a file untested). Everything else is a warning.
CHECKS: dict[str, Check] = {
    c.code: c
    for c in (
        Check("WS001", "missing-file", "error", "a planned distribution is missing from the run"),
        Check("WS002", "unplanned-file", "error", "the run holds a distribution the plan does not name"),
        Check("WS003", "duplicate-file", "error", "two files answer the same planned identifier"),
        Check("WS101", "metadata-render", "error", "the description does not render, which PyPI refuses"),
        Check("WS102", "metadata-name", "error", "the metadata's name differs from the project's"),
        Check("WS103", "metadata-version", "error", "the metadata's version differs from the release's"),
        Check("WS104", "requires-python", "error", "Requires-Python differs from the project's"),
        Check("WS105", "wheel-tags", "warning", "the file name's tags differ from the WHEEL file's"),
        Check("WS106", "metadata-unreadable", "error", "the file's metadata cannot be read"),
        Check("WS107", "metadata-version-unsupported", "error", "a Metadata-Version PyPI does not take (2.0, 3.0, or newer than warehouse knows)"),
        Check("WS108", "description-missing", "warning", "no long description, or no Description-Content-Type"),
        Check("WS109", "archive-limit", "error", "a member, or the whole archive, past a size, count or ratio limit"),
        Check("WS201", "platform-tag-refused", "error", "a platform tag PyPI refuses (linux_*, macOS 11+ minor, emscripten)"),
        Check("WS202", "no-compiled-code", "warning", "a platform-tagged wheel with no compiled code in it"),
        Check("WS203", "missing-library", "warning", "code loads a library from its own folder that the wheel lacks"),
        Check("WS204", "abi3-violation", "warning", "an abi3 wheel uses more than the limited API (abi3audit)"),
        Check("WS205", "pure-not-any", "warning", "a pure-Python project's wheel is not py3-none-any"),
        Check("WS301", "install-failed", "error", "the wheel does not install in a fresh environment"),
        Check("WS302", "import-failed", "error", "an import name does not import"),
        Check("WS303", "installed-version", "error", "the installed version differs from the release's"),
        Check("WS304", "dunder-version", "error", "a module's __version__ differs from the release's"),
        Check("WS305", "test-command", "error", "the test command failed"),
        Check("WS306", "untested", "error", "a wheel no host has tested"),
        Check("WS401", "bytecode", "warning", "bytecode or __pycache__ in the wheel"),
        Check("WS402", "vcs-or-editor-files", "warning", "VCS or editor files in the wheel"),
        Check("WS403", "duplicate-entries", "error", "the same path twice in the wheel, which PyPI refuses"),
        Check("WS404", "empty-wheel", "warning", "a wheel with no modules or packages (fine for a meta-package)"),
        Check("WS405", "undeclared-toplevel", "warning", "top-level modules outside the declared import names"),
        Check("WS406", "generic-toplevel", "warning", "a generic top-level name (tests, config, utils...) the project does not own"),
        Check("WS407", "shadows-distribution", "error", "a top-level name another distribution owns"),
        Check("WS408", "record-mismatch", "warning", "RECORD entries that do not match the wheel's files"),
        Check("WS501", "sdist-no-pkg-info", "error", "the sdist has no PKG-INFO, which PyPI refuses"),
        Check("WS502", "sdist-wheel-differs", "error", "the wheel built from the sdist lacks files the shipped wheel has"),
        Check("WS503", "sdist-vcs", "warning", "VCS folders in the sdist"),
        Check("WS504", "sdist-caches", "warning", "caches or bytecode in the sdist"),
        Check("WS505", "sdist-venv", "warning", "a virtual environment in the sdist"),
        Check("WS506", "sdist-foreign-lock", "warning", "lock files of other tools in the sdist"),
        Check("WS507", "sdist-large-file", "warning", "a file over 5 MiB in the sdist"),
        Check("WS701", "attestation-invalid", "error",
              "a PEP 740 attestation beside a file that does not verify: malformed, for other bytes, or signed "
              "by another identity"),
        Check("WS702", "checksum-mismatch", "error",
              "SHA256SUMS or the release SBOM beside the files gives a file another SHA-256 than its bytes have"),
    )
}
from pipeline.checks.rules import RULES  # noqa: E402 (the rules' modules need Check defined first)

CHECKS.update({code: Check(code, name, severity, summary) for code, name, severity, summary in RULES})
#: The checks that keep a release the project's own: a file is one the plan names, it
#: was read whole (within the limits), its metadata can be read, and its name and
#: version are the release's. No `[checks]` table
#: (the buildspec's, or one a stored plan carries) can lower them.
PROTECTED = frozenset({"WS002", "WS102", "WS103", "WS106", "WS109"})


def _text(value: str) -> str:
    """`value` as text every stream and JSON reader takes: names read from an archive keep
    bytes that are not UTF-8 as lone surrogates (tarfile's surrogateescape), which no
    UTF-8 stream can write; each is shown as its escape (\\udc80) instead."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Findings:
    """Findings of one verification, with the buildspec's severity overrides applied."""

    overrides: Mapping[str, str] = field(default_factory=dict)
    items: list[Finding] = field(default_factory=list)

    def severity(self, check: Check) -> str:
        if check.code in PROTECTED:  # a buildspec, or a stored plan, never lowers these
            return check.severity
        return self.overrides.get(check.code, self.overrides.get(check.name, check.severity))

    def add(self, code: str, file: str, message: str) -> None:
        check = CHECKS[code]
        severity = self.severity(check)
        if is_severity(severity):  # not "off", the one other setting a buildspec or plan may hold
            self.items.append(Finding(check.code, check.name, severity, _text(file), _text(message)))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.items if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.items if f.severity == "warning"]

    def for_file(self, name: str) -> list[Finding]:
        return [f for f in self.items if f.file == name]

    def add_archive_error(self, file: str, exc: ArchiveError) -> None:
        """A file past a limit of `pipeline.archives.Limits` (WS109), or one that cannot be read (WS106)."""
        self.add("WS109" if isinstance(exc, LimitExceeded) else "WS106", file, exc.message)
