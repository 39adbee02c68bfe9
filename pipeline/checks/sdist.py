"""sdist hygiene, and whether the wheel built from the sdist is the wheel shipped."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pipeline import archives
from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.checks import Findings
from pipeline.cleanenv import without_credentials
from pipeline.errors import WheelshipError
from pipeline.records import sha256_of

log = logging.getLogger(__name__)

LARGE = 5 << 20  # an sdist file over 5 MiB is worth a look
VCS = re.compile(r"(^|/)(\.git|\.hg|\.svn|\.bzr)(/|$)")
CACHES = re.compile(
    r"(^|/)(__pycache__|\.mypy_cache|\.pytest_cache|\.ruff_cache|\.tox|\.nox|\.ipynb_checkpoints|\.hypothesis)(/|$)"
    r"|\.py[co]$"
)
VENV = re.compile(r"(^|/)(\.venv|venv|\.env|env)/(pyvenv\.cfg|bin/python|Scripts/python\.exe|lib/python)")
FOREIGN_LOCKS = {"poetry.lock", "Pipfile.lock", "pdm.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
                 "Gemfile.lock", "composer.lock"}


def check_sdist(path: Path, findings: Findings, limits: Limits = DEFAULT_LIMITS) -> None:
    """The sdist's hygiene. Raises `archives.ArchiveError` for an archive past `limits` or unreadable."""
    name = path.name
    members = [m for m in archives.scan_sdist(path, limits).members if m.is_file]
    paths = [m.name.split("/", 1)[1] if "/" in m.name else m.name for m in members]
    # WS501 (no PKG-INFO where PyPI looks) is an upload rule: pipeline.checks.rules.tarframe
    for code, pattern, what in (("WS503", VCS, "VCS folders"), ("WS504", CACHES, "caches or bytecode"),
                                ("WS505", VENV, "a virtual environment")):
        hits = sorted({p for p in paths if pattern.search(p)})
        if hits:
            findings.add(code, name, f"{what} in the sdist: {', '.join(hits[:5])}"
                         + (f" and {len(hits) - 5} more" if len(hits) > 5 else ""))
    locks = sorted(p for p in paths if p.rsplit("/", 1)[-1] in FOREIGN_LOCKS)
    if locks:
        findings.add("WS506", name, f"lock files of other tools in the sdist: {', '.join(locks)}")
    for member, relative in zip(members, paths, strict=True):
        if member.size > LARGE:
            findings.add("WS507", name, f"{relative} is {member.size / (1 << 20):.1f} MiB")


def payload(wheel: Path, limits: Limits) -> set[str]:
    """A wheel's files, less its .dist-info, which differs by build tool."""
    with archives.open_wheel(wheel, limits) as archive:
        return {n for n in archive.namelist() if not n.endswith("/") and ".dist-info/" not in n}


def _build_wheel(sdist: Path, tmp: Path, limits: Limits) -> Path | str:
    """The wheel the sdist builds, or why none: its backend runs here, with this
    process's environment less every credential (pipeline.cleanenv)."""
    try:
        archives.extract(sdist, tmp, limits)
    except WheelshipError as exc:
        return f"the sdist cannot be unpacked: {exc.message}"
    roots = [p for p in tmp.iterdir() if p.is_dir()]
    if len(roots) != 1:
        return "the sdist does not hold exactly one top-level folder"
    out = tmp / "out"
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--installer", "uv", "--outdir", str(out),
                             str(roots[0])], capture_output=True, encoding="utf-8", errors="replace",
                            env=without_credentials())
    lines = (result.stdout + result.stderr).strip().splitlines()
    built = sorted(out.glob("*.whl")) if out.is_dir() else []
    if result.returncode != 0 or not built:
        return lines[-1][:300] if lines else f"the build exited {result.returncode} and said nothing"
    return built[0]


def proven_by_records(sdist: Path, wheels: list[Path], built_from: Mapping[str, str]) -> bool:
    """Whether the build records prove every one of `wheels` was built from `sdist`, so
    WS502 holds without building again: each wheel's record says it was built from an
    sdist whose SHA-256 (`built_from`, by wheel name) is that of this very `sdist` file.

    That is enough: the records passed pipeline.validation when they were read, and the
    hash compared is taken here of the file being checked, so a record can prove only
    the bytes in hand, never another or an earlier sdist. A record that lies could as
    well come with a rewritten wheel and sdist: WS502 catches a build from the wrong
    tree, which an honest builder's record rules out by saying what it built from."""
    if not wheels or not all(built_from.get(w.name) for w in wheels):
        return False
    digest = sha256_of(sdist)
    if all(built_from[w.name] == digest for w in wheels):
        log.info("WS502: the build records prove %s built from %s (sha256 %s); not building it again",
                 ", ".join(w.name for w in wheels), sdist.name, digest[:12])
        return True
    return False


def check_built_from_sdist(sdist: Path, wheel: Path, findings: Findings, limits: Limits = DEFAULT_LIMITS) -> None:
    """Build a wheel from the sdist here (this runs the sdist's build backend, without
    credentials) and compare its file list with the shipped wheel's."""
    with tempfile.TemporaryDirectory(prefix="wheelship-parity-") as tmp:
        built = _build_wheel(sdist, Path(tmp), limits)
        if isinstance(built, str):
            findings.add("WS502", sdist.name, f"no wheel builds from the sdist: {built}")
            return
        try:
            rebuilt = payload(built, limits)
        except archives.ArchiveError as exc:
            findings.add("WS502", sdist.name, f"the wheel the sdist builds cannot be read: {exc.message}")
            return
    shipped = payload(wheel, limits)  # check_files passes only wheels that read within the limits
    missing, extra = sorted(shipped - rebuilt), sorted(rebuilt - shipped)
    if missing:  # extra files in the sdist's wheel harm no one; missing ones break installs from source
        parts = [f"the shipped wheel has {', '.join(missing[:5])}, which the sdist's wheel lacks"]
        if extra:
            parts.append(f"the sdist's wheel has {', '.join(extra[:5])}, which the shipped wheel lacks")
        findings.add("WS502", wheel.name, "; ".join(parts) + " (the sdist is missing files, or the wheel was "
                     "built from another tree)")
