"""PyPI's upload rules: wheel platform tags (see pipeline.checks.rules).

warehouse refuses a wheel whose file name carries a platform tag it does not list
(warehouse/forklift/legacy.py ``file_upload``: "has an unsupported platform tag", by
warehouse/utils/wheel.py ``is_valid_platform_tag``, which ``_parse_platform_tag``
decides). `accepted` is that allow-list, exactly; `refusal` only says why a tag is off it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

if TYPE_CHECKING:
    from pipeline.archives import Limits
    from pipeline.checks import Findings

RULES: tuple[tuple[str, str, str, str], ...] = (
    ("WS611", "platform-macos", "error", "a macOS tag on an architecture or a major version PyPI does not list"),
    ("WS612", "platform-manylinux", "error", "a manylinux tag on an architecture PyPI does not list"),
    ("WS613", "platform-musllinux", "error", "a musllinux tag on an architecture PyPI does not list (ppc64)"),
    ("WS614", "platform-windows", "error", "a Windows tag other than win32, win_amd64, win_arm64, win_ia64"),
    ("WS615", "platform-ios", "error", "an iOS tag on an architecture or SDK PyPI does not list"),
    ("WS616", "platform-android", "error", "an Android tag on an architecture PyPI does not list"),
    ("WS617", "platform-pyemscripten", "error", "a pyemscripten tag other than pyemscripten_X_Y_wasm32"),
    ("WS618", "platform-unknown", "error", "a platform PyPI does not know at all (cygwin, freebsd, solaris...)"),
)

# warehouse/utils/wheel.py, the allow-list as it stands
_ALLOWED = frozenset({
    "any", "win32", "win_arm64", "win_amd64", "win_ia64",
    "manylinux1_x86_64", "manylinux1_i686", "manylinux2010_x86_64", "manylinux2010_i686",
    "manylinux2014_x86_64", "manylinux2014_i686", "manylinux2014_aarch64", "manylinux2014_armv7l",
    "manylinux2014_ppc64", "manylinux2014_ppc64le", "manylinux2014_s390x",
    "linux_armv6l", "linux_armv7l",
})
#: ``_platform_display``'s keys: a tag whose first word is none of these is refused outright
_KNOWN = frozenset({"any", "win", "win32", "manylinux", "manylinux2014", "manylinux2010", "manylinux1",
                    "musllinux", "macosx", "ios", "android", "pyemscripten"})
_MACOS = re.compile(r"^(?P<plat>macosx)_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.*)$")
_MACOS_ARCHES = frozenset({"ppc", "ppc64", "i386", "x86_64", "arm64", "intel", "fat", "fat3", "fat64", "universal",
                           "universal2"})
_MACOS_MAJORS = frozenset({"11", "12", "13", "14", "15", "26"})  # and 10, with any minor
_IOS = re.compile(r"^(?P<plat>ios)_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.*)_(?P<plat2>iphoneos|iphonesimulator)$")
_IOS_ARCHES = frozenset({"arm64", "x86_64"})
_ANDROID = re.compile(r"^(?P<plat>android)_(?P<major>\d+)_(?P<arch>.*)$")
_ANDROID_ARCHES = frozenset({"armeabi_v7a", "arm64_v8a", "x86", "x86_64"})
_LINUX = re.compile(r"^(?P<plat>(?P<libc>(many|musl))linux)_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.*)$")
_MUSLLINUX_ARCHES = frozenset({"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"})
_MANYLINUX_ARCHES = _MUSLLINUX_ARCHES | {"ppc64"}
_PYEMSCRIPTEN = re.compile(r"^(?P<plat>pyemscripten)_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>wasm32)$")


def accepted(platform: str) -> bool:
    """Whether PyPI accepts a wheel platform tag: warehouse/utils/wheel.py
    ``_parse_platform_tag`` (behind ``is_valid_platform_tag``), check for check."""
    if platform in _ALLOWED:
        return True
    if platform.split("_", maxsplit=1)[0] not in _KNOWN:
        return False
    if m := _MACOS.match(platform):
        listed = m["major"] == "10" or (m["major"] in _MACOS_MAJORS and m["minor"] == "0")
        return listed and m["arch"] in _MACOS_ARCHES
    if m := _LINUX.match(platform):
        return m["arch"] in (_MUSLLINUX_ARCHES if m["libc"] == "musl" else _MANYLINUX_ARCHES)
    if m := _IOS.match(platform):
        return m["arch"] in _IOS_ARCHES
    if m := _ANDROID.match(platform):
        return m["arch"] in _ANDROID_ARCHES
    return _PYEMSCRIPTEN.match(platform) is not None


def refusal(platform: str) -> tuple[str, str] | None:
    """(code, why) for a platform tag PyPI refuses, or None for one it accepts."""
    if accepted(platform):
        return None
    first = platform.split("_", maxsplit=1)[0]
    if reason := refused_platform(platform):
        return "WS201", reason
    if m := _MACOS.match(platform):
        if m["arch"] not in _MACOS_ARCHES:
            return "WS611", f"PyPI knows no macOS architecture {m['arch']!r} ({', '.join(sorted(_MACOS_ARCHES))})"
        return "WS611", (f"PyPI lists macOS 10.x and {', '.join(sorted(_MACOS_MAJORS, key=int))} (with minor "
                         f"version 0), not macOS {m['major']}")
    if first in ("manylinux", "manylinux1", "manylinux2010", "manylinux2014"):
        return "WS612", ("PyPI lists manylinux_X_Y on " + ", ".join(sorted(_MANYLINUX_ARCHES)) + "; manylinux1 and "
                         "manylinux2010 on x86_64 and i686; manylinux2014 on those, aarch64, armv7l, ppc64, "
                         "ppc64le and s390x")
    if first == "musllinux":
        return "WS613", "PyPI lists musllinux_X_Y on " + ", ".join(sorted(_MUSLLINUX_ARCHES)) + " only (no ppc64)"
    if first in ("win", "win32"):
        return "WS614", "PyPI lists win32, win_amd64, win_arm64 and win_ia64 only"
    if first == "ios":
        return "WS615", ("PyPI lists ios_X_Y_{arm64,x86_64}_{iphoneos,iphonesimulator} only")
    if first == "android":
        return "WS616", "PyPI lists android_API_{" + ",".join(sorted(_ANDROID_ARCHES)) + "} only"
    if first == "pyemscripten":
        return "WS617", "PyPI lists pyemscripten_X_Y_wasm32 only (PEP 783)"
    return "WS618", ("PyPI does not know this platform; it accepts manylinux, musllinux, macOS, Windows, iOS, "
                     "Android and pyemscripten wheels, and any")


def refused_platform(platform: str) -> str | None:
    """Why PyPI refuses the tags people most often build by mistake (WS201), or None."""
    if platform.startswith("linux_") and platform not in ("linux_armv6l", "linux_armv7l"):
        return "PyPI refuses plain linux_* tags; repair the wheel with auditwheel to get a manylinux tag"
    if platform.startswith("emscripten_"):
        return "PyPI refuses emscripten_* tags; use pyemscripten_* (pyodide) tags"
    macos = re.fullmatch(r"macosx_(\d+)_(\d+)_\w+", platform)
    if macos and int(macos.group(1)) >= 11 and macos.group(2) != "0":
        return (f"PyPI refuses macOS {macos.group(1)}+ tags with a minor version; "
                f"use macosx_{macos.group(1)}_0 (set MACOSX_DEPLOYMENT_TARGET={macos.group(1)}.0)")
    return None


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """Each platform tag of a wheel's file name PyPI refuses (legacy.py ``file_upload``,
    "Binary wheel ... has an unsupported platform tag")."""
    if not path.name.endswith(".whl"):
        return
    try:
        _, _, _, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename:
        return  # pipeline.checks.rules.filenames reports it
    for platform in sorted({tag.platform for tag in tags}):
        if found := refusal(platform):
            findings.add(found[0], path.name, f"platform tag {platform}: {found[1]}")
