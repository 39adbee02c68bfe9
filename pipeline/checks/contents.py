"""What is inside a wheel: the checks people run check-wheel-contents and auditwheel for.

Bytecode, VCS and editor files, duplicates, an empty wheel, RECORD entries that do
not match, top-level names that are generic or shadow well-known distributions,
modules outside the declared packages; and for platform wheels: compiled code
present, libraries loaded by path shipped, abi3 promises kept.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

from packaging.utils import parse_wheel_filename

from pipeline.checks import Findings

COMPILED = (".so", ".pyd", ".dylib", ".dll")
VCS_AND_EDITOR = re.compile(
    r"(^|/)(\.git|\.hg|\.svn|\.bzr|\.idea|\.vscode)(/|$)|(^|/)(\.gitignore|\.gitattributes|\.DS_Store|Thumbs\.db)$"
    r"|\.(swp|swo|orig|rej)$|~$"
)
GENERIC_NAMES = frozenset({
    "tests", "test", "testing", "docs", "doc", "examples", "example", "scripts", "src", "lib", "config", "configs",
    "settings", "api", "utils", "util", "helpers", "common", "core", "data", "build", "dist", "benchmarks", "tools",
    "main", "app",
})
#: Top-level import names of well-known distributions a project must not shadow.
WELL_KNOWN = {
    "yaml": "PyYAML", "requests": "requests", "six": "six", "attr": "attrs", "dateutil": "python-dateutil",
    "setuptools": "setuptools", "pkg_resources": "setuptools", "numpy": "numpy", "typing_extensions":
    "typing-extensions", "urllib3": "urllib3", "certifi": "certifi", "idna": "idna", "packaging": "packaging",
    "jwt": "PyJWT", "google": "protobuf", "bs4": "beautifulsoup4", "PIL": "pillow", "cv2": "opencv-python",
    "sklearn": "scikit-learn", "dotenv": "python-dotenv", "magic": "python-magic", "serial": "pyserial",
    "jose": "python-jose", "docx": "python-docx", "pytest": "pytest", "toml": "toml", "simplejson": "simplejson",
}
#: A library named in a ctypes or cffi load, within the call's first 200 characters.
LOADS_BY_PATH = re.compile(
    r"""(?:CDLL|PyDLL|WinDLL|LoadLibrary|dlopen)\s*\((?s:.{0,200}?)["']([\w.+-]+\.(?:so(?:\.\d+)*|dylib|dll))["']"""
)


def _entries(wheel: zipfile.ZipFile) -> list[str]:
    return [n for n in wheel.namelist() if not n.endswith("/")]


def _dist_info(names: list[str]) -> str | None:
    return next((n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith(".dist-info/RECORD")), None)


def top_levels(names: list[str]) -> set[str]:
    """Top-level importable names, from the wheel's own files (purelib/platlib)."""
    tops = set()
    for name in names:
        first, _, rest = name.partition("/")
        if first.endswith(".dist-info"):
            continue
        if first.endswith(".data"):
            parts = rest.split("/", 2)
            if len(parts) < 3 or parts[0] not in ("purelib", "platlib"):
                continue
            first, rest = parts[1], parts[2] if len(parts) > 2 else ""
        module = first if rest else first.split(".")[0]
        if module.isidentifier():
            tops.add(module)
    return tops


def _record_problems(wheel: zipfile.ZipFile, names: list[str]) -> list[str]:
    info = _dist_info(names)
    if info is None:
        return ["the wheel has no .dist-info/RECORD"]
    rows = list(csv.reader(io.StringIO(wheel.read(f"{info}/RECORD").decode())))
    recorded = {row[0]: row[1] if len(row) > 1 else "" for row in rows if row}
    problems = []
    for name in names:
        if name == f"{info}/RECORD" or name.endswith((".jws", ".p7s")):
            continue
        if name not in recorded:
            problems.append(f"{name} is not in RECORD")
            continue
        algorithm, _, digest = recorded[name].partition("=")
        if algorithm:
            actual = base64.urlsafe_b64encode(hashlib.new(algorithm, wheel.read(name)).digest()).rstrip(b"=").decode()
            if actual != digest:
                problems.append(f"{name} does not match its RECORD hash")
    problems += [f"RECORD names {n}, which the wheel lacks" for n in recorded if n not in names and n != f"{info}/RECORD"]
    return problems


def check_wheel(path: Path, findings: Findings, *, native: bool | None, import_names: tuple[str, ...] = ()) -> None:
    """Every contents and platform check on one wheel."""
    name = path.name
    _, _, _, tags = parse_wheel_filename(name)
    platform_tagged = any(t.platform != "any" for t in tags)
    with zipfile.ZipFile(path) as wheel:
        entries = wheel.namelist()
        files = _entries(wheel)
        for dup, count in Counter(entries).items():
            if count > 1:
                findings.add("WS403", name, f"{dup} is in the wheel {count} times")
        payload = [f for f in files if not f.split("/")[0].endswith(".dist-info")]
        if not payload:
            findings.add("WS404", name, "the wheel holds no modules or packages, only its metadata")
        bytecode = [f for f in files if f.endswith((".pyc", ".pyo")) or "/__pycache__/" in f]
        if bytecode:
            findings.add("WS401", name, f"bytecode in the wheel: {', '.join(bytecode[:5])}")
        junk = [f for f in files if VCS_AND_EDITOR.search(f)]
        if junk:
            findings.add("WS402", name, f"VCS or editor files in the wheel: {', '.join(junk[:5])}")
        for problem in _record_problems(wheel, files)[:5]:
            findings.add("WS408", name, problem)
        tops = top_levels(files)
        for top in sorted(tops & GENERIC_NAMES):
            findings.add("WS406", name, f"top-level package {top!r} is a generic name that collides with other "
                         "projects' files; move it under your package")
        for top in sorted(tops & WELL_KNOWN.keys()):
            findings.add("WS407", name, f"top-level {top!r} shadows the {WELL_KNOWN[top]} distribution")
        if import_names:
            declared = {n.split(".")[0] for n in import_names}
            outside = sorted(tops - declared)
            if outside:
                findings.add("WS405", name, f"top-level {', '.join(outside)} outside the declared packages "
                             f"({', '.join(sorted(declared))})")
        compiled = [f for f in files if f.endswith(COMPILED) or re.search(r"\.so\.\d", f)]
        if platform_tagged and not compiled:
            findings.add("WS202", name, "the wheel is tagged for a platform but contains no compiled code; "
                         "build a py3-none-any wheel instead")
        if native is False and (platform_tagged or any(t.abi != "none" for t in tags)):
            findings.add("WS205", name, "a pure-Python project's wheel should be py3-none-any")
        basenames = {PurePosixPath(f).name for f in files}
        for source in (f for f in files if f.endswith(".py")):
            text = wheel.read(source).decode(errors="replace")
            for library in LOADS_BY_PATH.findall(text):
                if library not in basenames:
                    findings.add("WS203", name, f"{source} loads {library}, which the wheel does not contain")
    if any(t.abi == "abi3" for t in tags):
        _abi3audit(path, findings)


def _abi3audit(path: Path, findings: Findings) -> None:
    """abi3audit: does an abi3 wheel use only the limited API its tag promises?"""
    import json

    command = [sys.executable, "-m", "abi3audit", "--strict", "--report", str(path)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        report = json.loads(result.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        findings.add("WS204", path.name, f"abi3audit could not audit the wheel: {exc}")
        return
    for spec in report.get("specs", {}).values():
        for extension in spec.get("wheel", []):
            facts = extension.get("result", {})
            future = facts.get("future_abi3_objects", {})
            if future:
                used = ", ".join(f"{symbol} ({version})" for symbol, version in sorted(future.items()))
                findings.add("WS204", path.name, f"{extension['name']} is tagged abi3 for {facts.get('baseline')} "
                             f"but uses {used}; raise the abi3 tag or drop those calls")
            if facts.get("non_abi3_symbols"):
                findings.add("WS204", path.name, f"{extension['name']} uses symbols outside the limited API: "
                             + ", ".join(sorted(facts["non_abi3_symbols"])[:8]))
