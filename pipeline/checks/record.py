"""Whether a wheel's RECORD can be read, and whether it matches the wheel's files.

A RECORD pip or uv cannot read breaks installs (an error); one that merely disagrees
with the files is accepted by PyPI and installers (a warning).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import zipfile

from pipeline import archives


def _dist_info(names: list[str]) -> str | None:
    return next((n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith(".dist-info/RECORD")), None)


def _record_rows(wheel: zipfile.ZipFile, record: str) -> dict[str, str]:
    """RECORD's path -> hash. Raises ValueError for a RECORD pip or uv cannot read, which
    breaks installs: not UTF-8, or not CSV to Python's csv module (what pip parses it with)."""
    try:
        text = archives.read_member(wheel, record).decode()
        rows = list(csv.reader(text.splitlines()))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{record} is not UTF-8 ({exc}), so pip and uv refuse to install the wheel; "
                         "let the build backend write RECORD") from None
    except csv.Error as exc:
        raise ValueError(f"{record} is not CSV ({exc}), so pip refuses to install the wheel; "
                         "let the build backend write RECORD") from None
    return {row[0]: row[1] if len(row) > 1 else "" for row in rows if row}


def _digest(wheel: zipfile.ZipFile, name: str, algorithm: str) -> str | None:
    """The RECORD-style digest of a member, hashed a chunk at a time; None for an algorithm
    hashlib lacks, or a shake_* one, whose digest length RECORD cannot say."""
    if algorithm.lower().startswith("shake_"):
        return None
    try:
        hasher = hashlib.new(algorithm)
    except (ValueError, TypeError):  # TypeError: a name with a NUL in it ("sha256\0")
        return None
    for chunk in archives.member_chunks(wheel, name):
        hasher.update(chunk)
    return base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode()


def record_problems(wheel: zipfile.ZipFile, names: list[str]) -> list[str]:
    """How RECORD and the wheel's files disagree. Raises ValueError for an unreadable RECORD."""
    info = _dist_info(names)
    if info is None:
        return ["the wheel has no .dist-info/RECORD"]
    recorded = _record_rows(wheel, f"{info}/RECORD")
    problems = []
    for name in names:
        if name == f"{info}/RECORD" or name.endswith((".jws", ".p7s")):
            continue
        if name not in recorded:
            problems.append(f"{name} is not in RECORD")
            continue
        algorithm, _, digest = recorded[name].partition("=")
        if not algorithm:
            continue
        actual = _digest(wheel, name, algorithm)
        if actual is None:
            problems.append(f"RECORD hashes {name} with {algorithm!r}, which cannot be checked; use sha256")
        elif actual != digest:
            problems.append(f"{name} does not match its RECORD hash")
    problems += [f"RECORD names {n}, which the wheel lacks" for n in recorded if n not in names and n != f"{info}/RECORD"]
    return problems
