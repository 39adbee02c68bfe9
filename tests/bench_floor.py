"""`make bench`, the whole release against its floor: the least work that puts the same
files on an index, with no checks and no tests.

- pure: `uv build` (the sdist, then the wheel from it), then `uv publish`;
- C extension: `uv build --sdist`, one `uv build --wheel` per CPython from the sdist,
  `auditwheel repair`, then `uv publish`.

wheelship's contender is `wheelship release` of the same project into a folder store
and the sandbox's index. The two alternate round by round, so a slow moment of the
machine falls on both; each figure is the median of the rounds. wheelship's time is
split by stage from its own report (`--json`, each stage's `seconds`).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
#: wheelship's stages, grouped as the issue reports them: the SBOM is written into the run
#: (store), attestations are signed for the upload (publish); any other stage shows as "other".
GROUPS = {"plan": ("route", "event", "plan", "record plan"), "build": ("build",), "store": ("store", "sbom"),
          "verify": ("verify",), "publish": ("load", "preflight", "inspect", "attest", "publish")}
TARGETS = {"pure": 1.5, "cext": 1.0}


def _run(*command: str | Path, env: dict[str, str], cwd: Path | None = None) -> None:
    subprocess.run([str(c) for c in command], check=True, env=env, cwd=cwd, **QUIET)  # type: ignore[call-overload]


def _timed(fn, *args, **kwargs) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def _floor(project: Path, dist: Path, index, pythons: list[str], native: bool, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    shutil.rmtree(dist, ignore_errors=True)
    uv = str(BIN / "uv")
    if native:
        _run(uv, "build", "--sdist", "-o", dist, project, env=env)
        (sdist,) = dist.glob("*.tar.gz")
        raw = dist.parent / "raw"
        shutil.rmtree(raw, ignore_errors=True)
        for python in pythons:
            _run(uv, "build", "--wheel", "--python", python, "-o", raw, sdist, env=env)
        glibc = os.confstr("CS_GNU_LIBC_VERSION").split()[-1].replace(".", "_")  # type: ignore[union-attr]
        _run(BIN / "auditwheel", "repair", "--plat", f"manylinux_{glibc}_{os.uname().machine}", "-w", dist,
             *sorted(raw.glob("*.whl")), env=env)
    else:
        _run(uv, "build", "-o", dist, project, env=env)
    _run(uv, "publish", "--publish-url", index.url, "--username", "__token__", "--password", index.password,
         *sorted(dist.iterdir()), env=env)


def _stage_seconds(report: Path) -> dict[str, float]:
    data = json.loads(report.read_text())
    seconds = {group: 0.0 for group in GROUPS}
    for stage in data.get("stages", []):
        group = next((g for g, names in GROUPS.items() if stage["name"] in names), "other")
        seconds[group] = seconds.get(group, 0.0) + float(stage.get("seconds") or 0.0)
    return seconds


def bench_release_vs_floor(runs: int, box) -> tuple[dict[str, float], dict[str, dict[str, object]]]:  # type: ignore[no-untyped-def]
    """(the rows' seconds, `release-vs-floor-{pure,cext}` with ratio and stage shares)."""
    from pipeline.interpreters import supported
    from tests.conftest import BUILDSPECS, copy_project

    pythons = [str(i.path) for i in supported(">=3.9")]
    env = {**os.environ, **box.env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("AWS_ENDPOINT_URL_S3", None)
    rows: dict[str, float] = {}
    summary: dict[str, dict[str, object]] = {}
    for shape, name, tag, index, native in (("pure", "purepkg", "v1.0.0", box.pypi, False),
                                            ("cext", "cext", "v0.1.0rc1", box.testpypi, True)):
        work = Path(tempfile.mkdtemp(prefix=f"bench-floor-{name}-"))
        project = copy_project(name, work)
        spec = BUILDSPECS / f"{name}.toml"
        floor_times: list[float] = []
        ours: list[float] = []
        stages: list[dict[str, float]] = []
        for round_ in range(runs):
            index.clear()
            floor_times.append(_timed(_floor, project, work / "dist", index, pythons, native, env))
            index.clear()
            report = work / f"report-{round_}.json"
            ours.append(_timed(_run, BIN / "wheelship", "release", project, "--tag", tag, "--spec", spec,
                               "--store", f"file://{work}/store-{round_}", "--json", report, env=env))
            stages.append(_stage_seconds(report))
        floor, wheelship = statistics.median(floor_times), statistics.median(ours)
        rows[f"floor (uv build + uv publish), {name}"] = floor
        rows[f"wheelship release vs floor, {name}"] = wheelship
        groups = sorted({g for s in stages for g in s})
        medians = {g: statistics.median(s.get(g, 0.0) for s in stages) for g in groups}
        total = sum(medians.values()) or 1.0
        summary[f"release-vs-floor-{shape}"] = {
            "ratio": wheelship / floor, "target": TARGETS[shape], "wheelship_seconds": wheelship,
            "floor_seconds": floor, "stage_seconds": medians,
            "stage_share": {g: seconds / total for g, seconds in medians.items()},
        }
        shutil.rmtree(work, ignore_errors=True)
    return rows, summary


def print_summary(summary: dict[str, dict[str, object]]) -> None:
    if not summary:
        return
    print(f"\n  {'whole release against the floor':<40} wheelship    floor   ratio  target  stage shares")
    for key, row in summary.items():
        shares = "  ".join(f"{g} {share:.0%}" for g, share in row["stage_share"].items())  # type: ignore[attr-defined]
        print(f"  {key:<40} {row['wheelship_seconds']:8.2f} s {row['floor_seconds']:6.2f} s "
              f"{row['ratio']:6.2f}×  ≤ {row['target']}  {shares}")
