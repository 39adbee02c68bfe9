"""The project's cibuildwheel configuration, read by cibuildwheel's own options machinery.

The project is the authority on what cibuildwheel builds and how: its archs, build
and skip selections, test command, test-skip, frontend, images and environment, set
anywhere cibuildwheel reads them (top level, platform tables, ``overrides``,
``CIBW_*`` variables). wheelship reads them here and only fills what is unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError

#: The GitHub-hosted runner that builds each arch natively, per platform, as in
#: cibuildwheel's own deploy example
#: (https://github.com/pypa/cibuildwheel/blob/main/examples/github-deploy.yml).
NATIVE_RUNNERS = {
    "linux": {"x86_64": "ubuntu-latest", "aarch64": "ubuntu-24.04-arm"},
    "macos": {"x86_64": "macos-15-intel", "arm64": "macos-latest"},
    "windows": {"AMD64": "windows-latest", "ARM64": "windows-11-arm"},
}
#: Arches with no native runner: the runner that builds them, and whether it needs QEMU.
OTHER_ARCHES = {
    "linux": {"i686": ("ubuntu-latest", False), "ppc64le": ("ubuntu-latest", True),
              "s390x": ("ubuntu-latest", True), "armv7l": ("ubuntu-latest", True),
              "riscv64": ("ubuntu-latest", True)},
    "macos": {"universal2": ("macos-latest", False)},  # an arm64 runner tests both halves
    "windows": {"x86": ("windows-latest", False)},
}
#: 32-bit companions that `auto32` (and `auto` on Windows x64) add to a native arch.
ARCH32 = {("linux", "x86_64"): "i686", ("linux", "aarch64"): "armv7l", ("windows", "AMD64"): "x86"}


def host_arch_for(platform: str, arch: str) -> str | None:
    """The host arch that builds `arch` wheels on `platform`: the arch itself where a
    runner builds it natively, else the arch of the runner that emulates or
    cross-builds it (linux i686 and the QEMU arches on x86_64, macOS universal2 on
    arm64, Windows x86 on AMD64); None for an arch wheelship does not plan."""
    if arch in NATIVE_RUNNERS.get(platform, {}):
        return arch
    other = OTHER_ARCHES.get(platform, {}).get(arch)
    if other is None:
        return None
    return next((native for native, label in NATIVE_RUNNERS[platform].items() if label == other[0]), None)


@dataclass(frozen=True)
class PlannedArch:
    """A platform and arch, the runner that builds it, and whether that runner emulates it."""

    platform: str
    arch: str
    runner: str
    qemu: bool = False

    @property
    def name(self) -> str:
        return f"{self.platform}-{self.arch}"


def options(project_dir: Path, platform: str, env: Mapping[str, str] | None = None) -> Any:
    """cibuildwheel's Options for the project on one platform, as cibuildwheel would read them."""
    from cibuildwheel import errors as cibw_errors
    from cibuildwheel.options import CommandLineArguments, compute_options

    args = CommandLineArguments.defaults()
    args.platform = platform  # type: ignore[assignment]
    args.package_dir = project_dir
    env = dict(os.environ if env is None else env)
    env.pop("CIBW_PLATFORM", None)
    try:
        return compute_options(platform, args, env)  # type: ignore[arg-type]
    except (cibw_errors.ConfigurationError, ValueError) as exc:
        raise UsageError(f"cibuildwheel cannot read the configuration of {project_dir}: {exc}",
                         hint="fix [tool.cibuildwheel] in pyproject.toml or the CIBW_* variables") from None


def set_by_project(opts: Any, name: str) -> bool:
    """Whether the project sets an option anywhere cibuildwheel reads it: a ``CIBW_*``
    variable (plain or per platform), the top level, the platform table, any override."""
    reader = opts.reader
    envvar = "CIBW_" + name.upper().replace("-", "_")
    if reader.env.get(envvar) or reader.env.get(f"{envvar}_{reader.platform.upper()}"):
        return True
    if name in reader.config_options or name in reader.config_platform_options:
        return True
    return any(name in o.options for o in reader.overrides)


def archs_setting(opts: Any) -> str:
    """The project's `archs` for the platform, as written (default ``auto``)."""
    from cibuildwheel.options import ListFormat

    return str(opts.reader.get("archs", option_format=ListFormat(sep=" "), ignore_empty=True) or "auto")


def planned_archs(project_dir: Path, platform: str, env: Mapping[str, str] | None = None) -> list[PlannedArch]:
    """Every arch the project's `archs` selects for a platform, each with the runner that
    builds it. `auto` and `native` mean each runner's own arch, as they do on that runner."""
    from cibuildwheel.architecture import Architecture

    setting = archs_setting(options(project_dir, platform, env))
    natives = NATIVE_RUNNERS[platform]
    known = [*natives, *OTHER_ARCHES[platform]]
    chosen: set[str] = set()
    for token in setting.replace(",", " ").split():
        if token in ("auto", "native", "auto64"):
            chosen |= set(natives)
            if token == "auto" and platform == "windows":
                chosen.add("x86")
        elif token == "auto32":
            chosen |= {ARCH32[(platform, n)] for n in natives if (platform, n) in ARCH32}
        elif token == "all":
            chosen |= {a.value for a in Architecture.all_archs(platform)}  # type: ignore[arg-type]
        else:
            match = next((a for a in known if a.lower() == token.lower()), None)
            if match is None:
                raise UsageError(
                    f"the project's cibuildwheel archs for {platform} name {token!r}, which wheelship cannot plan",
                    hint=f"use auto, native, auto64, auto32, all or one of: {', '.join(known)}",
                )
            chosen.add(match)
    planned = []
    for arch in known:
        if arch in chosen:
            runner, qemu = (natives[arch], False) if arch in natives else OTHER_ARCHES[platform][arch]
            planned.append(PlannedArch(platform, arch, runner, qemu))
    return planned


@dataclass(frozen=True)
class TestPlan:
    """What cibuildwheel will do about testing one identifier, and why."""

    __test__ = False  # not a pytest class

    command: str | None  # None: cibuildwheel will not test it
    reason: str  # why not, or whose command it is


def test_plans(opts: Any, identifiers: tuple[str, ...], host_arch: str, owner: str) -> dict[str, TestPlan]:
    """Whether cibuildwheel tests each identifier, from its test command and test-skip
    selector (as cibuildwheel decides), and whether this host can run the wheel."""
    plans = {}
    skip = opts.globals.test_selector.skip_config
    for identifier in identifiers:
        command = opts.build_options(identifier).test_command
        arch = identifier.rsplit("_", 1)[-1] if "macosx" in identifier else ""
        if not command:
            plans[identifier] = TestPlan(None, f"the project's cibuildwheel configuration sets no test-command "
                                               f"for {identifier}")
        elif not opts.globals.test_selector(identifier):
            plans[identifier] = TestPlan(None, f"cibuildwheel's test-skip ({skip}) matches {identifier}")
        elif host_arch == "x86_64" and arch in ("arm64", "universal2"):
            plans[identifier] = TestPlan(None, f"cibuildwheel cannot test the arm64 code of {identifier} "
                                               "on an x86_64 host")
        elif "win_arm64" in identifier and host_arch.lower() in ("amd64", "x86_64"):
            plans[identifier] = TestPlan(None, f"an {host_arch} host cannot run {identifier}")
        else:
            plans[identifier] = TestPlan(command, owner)
    return plans


def image_for(opts: Any, identifier: str) -> str | None:
    """The container image cibuildwheel builds a Linux identifier in (None elsewhere)."""
    if "linux_" not in identifier:
        return None
    _, platform_tag = identifier.split("-", 1)
    _, arch = platform_tag.split("_", 1)
    build = opts.build_options(identifier)
    images = build.manylinux_images if platform_tag.startswith("manylinux") else build.musllinux_images
    return str(images[arch]) if images else None
