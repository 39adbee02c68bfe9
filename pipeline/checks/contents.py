"""What is inside a wheel: the checks people run check-wheel-contents and auditwheel for.

Bytecode, VCS and editor files, duplicates, an empty wheel, RECORD entries that do
not match, top-level names that are generic or shadow well-known distributions,
modules outside the declared packages; and for platform wheels: compiled code
present, libraries loaded by path shipped, abi3 promises kept.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from pipeline import archives
from pipeline.archives import DEFAULT_LIMITS, Limits
from pipeline.checks import Findings
from pipeline.checks.record import record_problems

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
#: Import names and the distribution that owns each on PyPI, where the two differ or
#: where the name is one other projects have been caught shipping. A wheel of the owner
#: (after PEP 503 normalisation) ships its own name; any other wheel shadows it.
OWNERS = {
    "yaml": "PyYAML", "_yaml": "PyYAML", "requests": "requests", "six": "six", "attr": "attrs", "attrs": "attrs",
    "dateutil": "python-dateutil", "setuptools": "setuptools", "pkg_resources": "setuptools",
    "_distutils_hack": "setuptools", "numpy": "numpy", "typing_extensions": "typing-extensions",
    "urllib3": "urllib3", "certifi": "certifi", "idna": "idna", "packaging": "packaging", "jwt": "PyJWT",
    "google.protobuf": "protobuf", "bs4": "beautifulsoup4", "PIL": "pillow", "cv2": "opencv-python",
    "sklearn": "scikit-learn", "dotenv": "python-dotenv", "magic": "python-magic", "serial": "pyserial",
    "jose": "python-jose", "docx": "python-docx", "pytest": "pytest", "toml": "toml", "simplejson": "simplejson",
}
#: Distributions that legitimately ship another's import name (drop-in forks and builds).
ALSO_OWNED_BY = {
    "cv2": ("opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless"),
    "PIL": ("pillow-simd",), "jwt": ("pyjwt",), "magic": ("python-magic-bin",),
}
#: A library loaded from the package's own folder: a ctypes/cffi load whose argument
#: joins ``__file__`` (or its folder) with a literal library file name.
LOADS_FROM_PACKAGE = re.compile(
    r"""(?:CDLL|PyDLL|WinDLL|LoadLibrary|dlopen)\s*\(([^()]*(?:\([^()]*(?:\([^()]*\)[^()]*)*\)[^()]*)*)\)"""
)
LIBRARY_NAME = re.compile(r"""["']([\w.+-]+\.(?:so(?:\.\d+)*|dylib|dll|pyd))["']""")
#: Executable formats: ELF, Mach-O (32/64-bit, both byte orders, fat) and PE.
BINARY_MAGIC = (b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
                b"\xca\xfe\xba\xbe", b"MZ")
#: How much of a .py file the library-load scan reads: PyPI's own scan of .py files stops at 5 MiB.
SOURCE_HEAD = 5 << 20


def _entries(wheel: zipfile.ZipFile) -> list[str]:
    return [n for n in wheel.namelist() if not n.endswith("/")]


def _importable(names: list[str]) -> list[str]:
    """Paths as they land in site-packages: purelib/platlib of .data folded in, metadata out."""
    out = []
    for name in names:
        first, _, rest = name.partition("/")
        if first.endswith(".dist-info"):
            continue
        if first.endswith(".data"):
            parts = rest.split("/", 1)
            if len(parts) < 2 or parts[0] not in ("purelib", "platlib"):
                continue
            name = parts[1]
        out.append(name)
    return out


def _is_namespace(wheel: zipfile.ZipFile, paths: list[str], package: str) -> bool:
    """A PEP 420 namespace (no __init__.py) or a pkgutil/pkg_resources-style one."""
    inits = [n for n in wheel.namelist() if _importable([n]) == [f"{package}/__init__.py"]]
    if not inits:
        return any(p.startswith(package + "/") for p in paths)
    text = archives.read_member(wheel, inits[0], SOURCE_HEAD).decode(errors="replace")
    return "extend_path" in text or "declare_namespace" in text


def top_levels(names: list[str]) -> set[str]:
    """Top-level importable names, from the wheel's own files (purelib/platlib)."""
    tops = set()
    for name in _importable(names):
        first, _, rest = name.partition("/")
        module = first if rest else first.split(".")[0]
        if module.isidentifier():
            tops.add(module)
    return tops


def claimed_names(wheel: zipfile.ZipFile, files: list[str]) -> set[str]:
    """What a wheel puts on the import path: top-level names, and for a namespace
    package (``google``) the packages inside it (``google.protobuf``), never the
    shared namespace itself."""
    paths = _importable(files)
    claimed = set()
    for top in top_levels(files):
        if _is_namespace(wheel, paths, top):
            inner = {p.split("/")[1].split(".")[0] for p in paths if p.startswith(top + "/") and p.count("/") >= 1}
            claimed |= {f"{top}.{n}" for n in inner if n.isidentifier() and n != "__init__"}
        else:
            claimed.add(top)
    return claimed


def owns(project: str | None, name: str, declared: frozenset[str]) -> bool:
    """Whether the distribution `project` owns the import name `name`: it declares it
    (PEP 794 Import-Name, or the buildspec's import-names), or it is the owner PyPI
    knows (after PEP 503 normalisation), or its own name is the import name."""
    if name in declared or name.split(".")[0] in declared:
        return True
    if project is None:
        return False
    mine = canonicalize_name(project)
    owners = [OWNERS.get(name), *ALSO_OWNED_BY.get(name, ())]
    return mine in {canonicalize_name(o) for o in owners if o} or mine == canonicalize_name(name.split(".")[-1])


def _compiled(wheel: zipfile.ZipFile, files: list[str]) -> list[str]:
    """Compiled code anywhere in the wheel, scripts under .data included: by extension,
    else by the file's first bytes (ELF, Mach-O, PE)."""
    by_name = [f for f in files if f.endswith(COMPILED) or re.search(r"\.so\.\d", f)]
    if by_name:
        return by_name
    found = []
    for info in wheel.infolist():
        if info.is_dir() or info.file_size < 64 or info.filename.endswith((".py", ".pyi", ".txt", ".json", ".md")):
            continue
        with archives.open_member(wheel, info) as fh:
            if fh.read(4).startswith(BINARY_MAGIC):
                found.append(info.filename)
                break
    return found


def _loads_missing(source: str, text: str, basenames: set[str]) -> list[str]:
    """Libraries `source` loads from its own folder that are not in the wheel. A load by
    bare name (``CDLL("kernel32.dll")``) or by a computed name is the system's affair."""
    missing = []
    for match in LOADS_FROM_PACKAGE.finditer(text):
        arguments = match.group(1)
        if "__file__" not in arguments and "dirname" not in arguments and "files(" not in arguments:
            continue
        missing += [lib for lib in LIBRARY_NAME.findall(arguments) if lib not in basenames]
    return missing


def check_wheel(path: Path, findings: Findings, *, native: bool | None, import_names: tuple[str, ...] = (),
                project: str | None = None, declared: tuple[str, ...] = (), limits: Limits = DEFAULT_LIMITS) -> None:
    """Every contents and platform check on one wheel. `project` is the distribution the
    wheel belongs to (default: its file name's), `declared` the import names its
    metadata declares (PEP 794 Import-Name). A bad file name is a finding; an archive
    past `limits` or unreadable raises `archives.ArchiveError`."""
    name = path.name
    try:
        dist, _, _, tags = parse_wheel_filename(name)
    except InvalidWheelFilename as exc:
        findings.add("WS106", name, str(exc))
        return
    project = project or str(dist)
    owned = frozenset(n.strip() for n in (*import_names, *declared))
    platform_tagged = any(t.platform != "any" for t in tags)
    with archives.open_wheel(path, limits) as wheel:
        files = _entries(wheel)  # the same path twice (WS403) is an upload rule: pipeline.checks.rules.zipframe
        payload = [f for f in files if not f.split("/")[0].endswith(".dist-info")]
        if not payload:
            findings.add("WS404", name, "the wheel holds no modules or packages, only its metadata")
        bytecode = [f for f in files if f.endswith((".pyc", ".pyo")) or "/__pycache__/" in f]
        if bytecode:
            findings.add("WS401", name, f"bytecode in the wheel: {', '.join(bytecode[:5])}")
        junk = [f for f in files if VCS_AND_EDITOR.search(f)]
        if junk:
            findings.add("WS402", name, f"VCS or editor files in the wheel: {', '.join(junk[:5])}")
        try:  # no RECORD at all is an upload rule (WS673): pipeline.checks.rules.wheelfiles
            recorded = any(f.count("/") == 1 and f.endswith(".dist-info/RECORD") for f in files)
            for problem in (record_problems(wheel, files) if recorded else [])[:5]:
                findings.add("WS408", name, problem)
        except ValueError as exc:
            findings.add("WS106", name, str(exc))
        claimed = claimed_names(wheel, files)
        for top in sorted(n for n in claimed if n in GENERIC_NAMES and not owns(project, n, owned)):
            findings.add("WS406", name, f"top-level package {top!r} is a generic name that collides with other "
                         "projects' files; move it under your package")
        for top in sorted(n for n in claimed if n in OWNERS and not owns(project, n, owned)):
            findings.add("WS407", name, f"top-level {top!r} belongs to the {OWNERS[top]} distribution; installing "
                         f"{project} would overwrite or shadow it")
        if import_names:
            declared_tops = {n.split(".")[0] for n in import_names}
            outside = sorted(top_levels(files) - declared_tops)
            if outside:
                findings.add("WS405", name, f"top-level {', '.join(outside)} outside the declared packages "
                             f"({', '.join(sorted(declared_tops))})")
        if platform_tagged and not _compiled(wheel, files):
            findings.add("WS202", name, "the wheel is tagged for a platform but contains no compiled code; "
                         "build a py3-none-any wheel instead")
        if native is False and (platform_tagged or any(t.abi != "none" for t in tags)):
            findings.add("WS205", name, "a pure-Python project's wheel should be py3-none-any")
        basenames = {PurePosixPath(f).name for f in files}
        for source in (f for f in files if f.endswith(".py")):
            text = archives.read_member(wheel, source, SOURCE_HEAD).decode(errors="replace")
            if "DLL" not in text and "dlopen" not in text and "LoadLibrary" not in text:
                continue
            for library in _loads_missing(source, text, basenames):
                findings.add("WS203", name, f"{source} loads {library} from its own folder, which the wheel "
                             "does not contain")
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
