"""`make bench`: wheelship side by side with what users would run instead, in one run.

Each comparison runs every contender on the same inputs against the same servers,
takes the median of several runs, and prints the ratio. Nothing here is a test
assertion: the README quotes the figures with the machine they came from.

    python -m tests.bench [--runs N] [--only NAME ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CACHE = ROOT / ".wheelship" / "bench-cache"
CORPUS = ["six", "idna", "attrs", "packaging", "pyparsing", "toml", "tomli", "iniconfig", "pluggy", "certifi",
          "click", "colorama", "itsdangerous", "typing-extensions", "zipp", "more-itertools", "decorator",
          "jmespath", "pycparser", "sniffio"]
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def median_of(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _run(*command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    subprocess.run([str(c) for c in command], check=True, env=env, cwd=cwd, **QUIET)  # type: ignore[call-overload]


# --- 1. test-installs -------------------------------------------------------------


def corpus() -> list[Path]:
    folder = CACHE / "wheels"
    if len(list(folder.glob("*.whl"))) < len(CORPUS):
        folder.mkdir(parents=True, exist_ok=True)
        _run(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
             "--python-version", "3.11", "-d", folder, *CORPUS)
    return sorted(folder.glob("*.whl"))[: len(CORPUS)]


def bench_test_install(runs: int) -> dict[str, float]:
    from pipeline.interpreters import find_interpreters
    from pipeline.records import distribution_of
    from pipeline.testinstall import import_names_of, test_install

    wheels = corpus()
    python = next(i for i in find_interpreters() if i.tag == "cp311")
    imports = {w: import_names_of(w) for w in wheels}

    def wheelship() -> None:  # what the verify stage does for every wheel
        def one(wheel: Path) -> None:
            name, version = distribution_of(wheel.name)
            outcome = test_install(wheel, python, project=name, version=version, import_names=imports[wheel],
                                   tests=None)
            assert outcome.test.status == "passed", outcome.test.detail

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(one, wheels))

    def venv_pip() -> None:  # what typical release workflows do, one wheel at a time
        for wheel in wheels:
            with tempfile.TemporaryDirectory() as tmp:
                _run(python.path, "-m", "venv", f"{tmp}/env")
                _run(f"{tmp}/env/bin/python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)
                _run(f"{tmp}/env/bin/python", "-c", "import " + ", ".join(imports[wheel]), cwd=Path(tmp))

    def uv_floor() -> None:  # bare uv, two at a time
        uv = str(BIN / "uv")

        def one(wheel: Path) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                _run(uv, "venv", "-q", "--python", python.path, f"{tmp}/env")
                _run(uv, "pip", "install", "-q", "--no-deps", "--python", f"{tmp}/env/bin/python", wheel)
                _run(f"{tmp}/env/bin/python", "-c", "import " + ", ".join(imports[wheel]), cwd=Path(tmp))

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(one, wheels))

    return {"wheelship verify": median_of(wheelship, runs), "venv + pip": median_of(venv_pip, max(1, runs // 2)),
            "uv floor (2 at a time)": median_of(uv_floor, runs)}


# --- 2. publishing ----------------------------------------------------------------


def _one_release_tags(count: int) -> tuple[str, ...]:
    """`count` distinct wheel tags, the shape of a native release (CPython x platform x arch)."""
    platforms = ["manylinux_2_17_x86_64", "manylinux_2_17_aarch64", "musllinux_1_2_x86_64", "musllinux_1_2_aarch64",
                 "macosx_11_0_arm64", "macosx_10_13_x86_64", "win_amd64", "win_arm64", "win32",
                 "manylinux_2_17_ppc64le", "manylinux_2_17_s390x", "manylinux_2_17_i686", "musllinux_1_2_i686",
                 "macosx_10_13_universal2", "manylinux_2_31_armv7l", "manylinux_2_39_riscv64"]
    pythons = ["cp39", "cp310", "cp311", "cp312", "cp313", "cp314"]
    tags = [f"{py}-{py}-{plat}" for plat in platforms for py in pythons]
    return tuple(tags[:count])


# An index at a network distance: a round trip within one cloud region. Between a CI
# runner and a public index it is longer; on loopback it is none, and the time is the
# index's CPU alone. Both are measured (`--index-rtt-ms` sets the distance).
INDEX_RTT_MS = 10.0


def bench_publish(runs: int, box, load: dict[str, dict[str, float | None]],  # type: ignore[no-untyped-def]
                  rtt_ms: float = INDEX_RTT_MS) -> dict[str, float]:
    """Both shapes of a publish, each against uv publish and twine, side by side: one
    native release of 80 files (79 wheels and the sdist), and 40 projects of 2 files;
    each with the index on loopback and with it `rtt_ms` away."""
    from tests.distfactory import make_release

    folder = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    shapes = {
        "one release, 80": {"bench-native": make_release(folder / "bench-native", "bench-native",
                                                         tags=_one_release_tags(79))},
        "40 projects, 80": {f"bench-{i}": make_release(folder / f"bench-{i}", f"bench-{i}", tags=("py3-none-any",))
                            for i in range(40)},
    }
    relay = subprocess.Popen([sys.executable, "-m", "tests.netdelay", str(box.pypi.port), str(rtt_ms)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert relay.stdout is not None
        distant = f"http://127.0.0.1:{int(relay.stdout.readline())}/"
        results: dict[str, float] = {}
        for shape, projects in shapes.items():
            for where, url in ((_distant(rtt_ms), distant), (", loopback", box.pypi.url)):
                results.update(_publish_shape(shape, where, projects, folder, runs, box.pypi, url, load))
    finally:
        relay.terminate()
        relay.wait()
    shutil.rmtree(folder, ignore_errors=True)
    return results


def _publish_shape(shape: str, where: str, projects: dict[str, list], folder: Path, runs: int, server,  # type: ignore[no-untyped-def, type-arg]
                   url: str, load: dict[str, dict[str, float | None]]) -> dict[str, float]:
    """Every contender once per round, rounds repeated: the machine's drift falls on
    all of them alike. A new-files run starts from an empty index, a present-files run
    from one holding every file."""
    from pipeline.credentials import Credentials
    from pipeline.index import Index
    from pipeline.publishing import Publisher
    from pipeline.spec import IndexConfig, PublishPolicy

    files = [folder / name / a.name for name, arts in projects.items() for a in arts]
    target = IndexConfig(name="bench", upload_url=url, simple_url=url + "simple/", username="__token__",
                         password_env="X")
    env = {**os.environ, "TWINE_USERNAME": "__token__", "TWINE_PASSWORD": server.password,
           "UV_PUBLISH_USERNAME": "__token__", "UV_PUBLISH_PASSWORD": server.password}

    def wheelship() -> None:  # the publish stage's engine: look up, upload (wheels, then the sdist), confirm hashes
        index = Index(target, Credentials("__token__", server.password, "bench"))
        policy = PublishPolicy()  # the defaults a user gets

        def one(item: tuple[str, list]) -> None:  # type: ignore[type-arg]
            name, artifacts = item
            publisher = Publisher(index, name, policy)
            outcomes = publisher.publish(artifacts, {a.name: folder / name / a.name for a in artifacts})
            publisher.confirm(artifacts, outcomes)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, projects.items()))

    def twine() -> None:
        _run(BIN / "twine", "upload", "--non-interactive", "--disable-progress-bar", "--repository-url", url,
             *files, env=env)

    def uv_publish(check: bool) -> Callable[[], None]:
        def go() -> None:
            extra = ["--check-url", url + "simple/"] if check else []
            _run(BIN / "uv", "publish", "--publish-url", url, *extra, *files, env=env)

        return go

    # twine 7 refuses --skip-existing for an index other than PyPI's, so it has no present-files row
    contenders = [(f"wheelship, {shape} new files{where}", wheelship, True),
                  (f"twine upload, {shape} new files{where}", twine, True),
                  (f"uv publish, {shape} new files{where}", uv_publish(False), True),
                  (f"wheelship, {shape} present files{where}", wheelship, False),
                  (f"uv publish --check-url, {shape} present files{where}", uv_publish(True), False)]
    samples: dict[str, list[tuple[float, int, float | None]]] = {label: [] for label, _, _ in contenders}
    for _ in range(runs):
        for label, fn, fresh in contenders:
            if fresh:
                server.clear()
            elif not any(server.packages.iterdir()):
                wheelship()  # every file present before the re-publish rows
            samples[label].append(_measure_publish(fn, server))
    server.clear()
    results: dict[str, float] = {}
    for label, measured in samples.items():
        cpu = [c for _, _, c in measured if c is not None]
        results[label] = statistics.median(t for t, _, _ in measured)
        load[label] = {"requests": statistics.median(r for _, r, _ in measured),
                       "cpu_seconds": statistics.median(cpu) if cpu else None}
    return results


def _measure_publish(fn: Callable[[], None], server) -> tuple[float, int, float | None]:  # type: ignore[no-untyped-def]
    """Seconds one run took, the requests the index answered (counted in its access
    log) and the CPU seconds it spent (Linux /proc)."""
    log_start, cpu_start = server.log_file.stat().st_size, _cpu_seconds(server.process.pid)
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    cpu_end = _cpu_seconds(server.process.pid)
    cpu = cpu_end - cpu_start if cpu_start is not None and cpu_end is not None else None
    return seconds, len(server.requests_since(log_start)), cpu


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process, where /proc tells it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- 3. store and fetch ------------------------------------------------------------


def bench_store(runs: int, box) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from pipeline.records import Artifact, BuildRecord, Plan, Slice, sha256_of
    from pipeline.runs import Runs
    from pipeline.stores.s3 import S3Store

    s3 = box.s3
    env = {**os.environ, **s3.env()}
    os.environ.update(s3.env())
    results = {}
    for label, count, size in (("200 MiB (8 x 25 MiB)", 8, 25 << 20), ("80 small files", 80, 12 << 10)):
        folder = Path(tempfile.mkdtemp(prefix="bench-store-"))
        for i in range(count):  # wheels a store takes as a run's files: distinct build tags, one slice
            (folder / f"bench-1-{i + 1}-py3-none-any.whl").write_bytes(os.urandom(size))
        artifacts = tuple(Artifact(name=p.name, identifier="py3-none-any", slice="pure", kind="wheel",
                                   sha256=sha256_of(p), size=p.stat().st_size, builder="local", tools={},
                                   built_on="here")
                          for p in sorted(folder.iterdir()))
        record = BuildRecord(slice="pure", runner="here", finished="now", artifacts=artifacts)
        plan = Plan(project="bench", version="1", run_id="r", tag="1", trigger="push", created="now", dry_run=True,
                    index="testpypi", native=False, requires_python=None, import_names=(), test_command=None,
                    slices=(Slice(name="pure", platform="any", arch="any", runner="here",
                                  identifiers=("py3-none-any",)),))
        counter = iter(range(10**6))

        def wheelship_store() -> None:
            n = next(counter)
            runs_ = Runs(S3Store(f"s3://{s3.bucket}/ws-{label[:3]}-{n}"), "bench", "1")
            runs_.write_plan(plan)
            runs_.store_record(record, {a.name: folder / a.name for a in artifacts}, "r")

        def aws_store() -> None:
            n = next(counter)
            _run(BIN / "aws", "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", s3.endpoint, folder,
                 f"s3://{s3.bucket}/aws-{label[:3]}-{n}/", env=env)

        results[f"wheelship store, {label}"] = median_of(wheelship_store, runs)
        results[f"aws s3 cp, {label}"] = median_of(aws_store, runs)
        source = Runs(S3Store(f"s3://{s3.bucket}/ws-{label[:3]}-0"), "bench", "1")
        state = source.read("r")
        aws_prefix = f"s3://{s3.bucket}/aws-{label[:3]}-{runs}/"

        def wheelship_fetch() -> None:
            with tempfile.TemporaryDirectory() as out:
                source.fetch(state, Path(out))

        def aws_fetch() -> None:
            with tempfile.TemporaryDirectory() as out:
                _run(BIN / "aws", "s3", "cp", "--recursive", "--only-show-errors", "--endpoint-url", s3.endpoint,
                     aws_prefix, out, env=env)

        results[f"wheelship fetch (verified), {label}"] = median_of(wheelship_fetch, runs)
        results[f"aws s3 cp, fetch, {label}"] = median_of(aws_fetch, runs)
        shutil.rmtree(folder, ignore_errors=True)
    return results


# --- 4. whole releases ---------------------------------------------------------------


def bench_release(runs: int, box) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from pipeline.interpreters import supported
    from tests.conftest import BUILDSPECS, copy_project

    pythons = " ".join(str(i.path) for i in supported(">=3.9"))
    env = {**os.environ, **box.env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONS": pythons}
    env.pop("AWS_ENDPOINT_URL_S3", None)
    results = {}
    for name, tag, index, module, native in (("purepkg", "v1.0.0", box.pypi, "purepkg", "0"),
                                             ("cext", "v0.1.0rc1", box.testpypi, "cext", "1")):
        work = Path(tempfile.mkdtemp(prefix=f"bench-release-{name}-"))
        project = copy_project(name, work)
        spec = BUILDSPECS / f"{name}.toml"
        counter = iter(range(10**6))

        def wheelship() -> None:
            index.clear()
            _run(BIN / "wheelship", "release", project, "--tag", tag, "--spec", spec, "--store",
                 f"file://{work}/store-{next(counter)}", env=env)

        def by_hand() -> None:
            index.clear()
            shutil.rmtree(work / "dist", ignore_errors=True)
            _run("bash", ROOT / "tests" / "bench_byhand.sh", project, work / "dist", index.url, module, native,
                 env={**env, "TWINE_USERNAME": "__token__", "TWINE_PASSWORD": index.password})

        results[f"wheelship release, {name}"] = median_of(wheelship, runs)
        results[f"by-hand script, {name}"] = median_of(by_hand, runs)
        shutil.rmtree(work, ignore_errors=True)
    return results


def _publish_ratios(where: str, loopback: bool) -> list[tuple[str, str, str, str]]:
    """The issue's three publish ratios (the other tool's time / wheelship's) and the
    twine ones, for the index at one distance; on loopback the keys say so."""
    one, forty = "one release, 80", "40 projects, 80"
    key, label = ("-loopback", " (loopback)") if loopback else ("", "")
    return [
        (f"publish-one-release-vs-uv{key}", f"uv publish, {one} new files{where}",
         f"wheelship, {one} new files{where}", "≥ 1.0"),
        (f"publish-many-projects-vs-uv{key}", f"uv publish, {forty} new files{where}",
         f"wheelship, {forty} new files{where}", "≥ 0.7"),
        (f"republish-one-release-vs-uv-check-url{key}", f"uv publish --check-url, {one} present files{where}",
         f"wheelship, {one} present files{where}", "≥ 5"),
        (f"publish one release: twine / wheelship{label}", f"twine upload, {one} new files{where}",
         f"wheelship, {one} new files{where}", "≥ 1"),
        (f"publish 40 projects: twine / wheelship{label}", f"twine upload, {forty} new files{where}",
         f"wheelship, {forty} new files{where}", "≥ 1"),
        (f"republish 40 projects: uv --check-url / wheelship{label}",
         f"uv publish --check-url, {forty} present files{where}", f"wheelship, {forty} present files{where}", "≥ 1"),
    ]


def _distant(rtt_ms: float) -> str:
    return f", {rtt_ms:g} ms away"


def ratio_rows(rtt_ms: float) -> list[tuple[str, str, str, str]]:
    """(key, numerator row, denominator row, target) for every ratio the bench prints."""
    return [*RATIOS[:2], *_publish_ratios(_distant(rtt_ms), loopback=False),
            *_publish_ratios(", loopback", loopback=True), *RATIOS[2:]]


RATIOS = [
    ("test-install: venv + pip / wheelship", "venv + pip", "wheelship verify", "≥ 30"),
    ("test-install: wheelship / uv floor", "wheelship verify", "uv floor (2 at a time)", "≤ 1.5"),
    ("store 200 MiB: aws / wheelship", "aws s3 cp, 200 MiB (8 x 25 MiB)", "wheelship store, 200 MiB (8 x 25 MiB)", "≥ 1"),
    ("fetch 200 MiB: aws / wheelship", "aws s3 cp, fetch, 200 MiB (8 x 25 MiB)",
     "wheelship fetch (verified), 200 MiB (8 x 25 MiB)", "≥ 1"),
    ("store 80 small: aws / wheelship", "aws s3 cp, 80 small files", "wheelship store, 80 small files", "≥ 1"),
    ("fetch 80 small: aws / wheelship", "aws s3 cp, fetch, 80 small files",
     "wheelship fetch (verified), 80 small files", "≥ 1"),
    ("release purepkg: by hand / wheelship", "by-hand script, purepkg", "wheelship release, purepkg", "> 1"),
    ("release cext: by hand / wheelship", "by-hand script, cext", "wheelship release, cext", "> 1"),
]


SECTIONS = ("install", "publish", "store", "release", "floor")


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=[*SECTIONS])
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "latest.json")
    parser.add_argument("--index-rtt-ms", type=float, default=INDEX_RTT_MS,
                        help="the round trip to the distant index in the publish rows (default %(default)g)")
    args = parser.parse_args()
    from pipeline.sandbox import sandbox
    from tests.bench_floor import bench_release_vs_floor, print_summary

    times: dict[str, float] = {}
    load: dict[str, dict[str, float | None]] = {}
    floor: dict[str, dict[str, object]] = {}

    def release_vs_floor(box) -> dict[str, float]:  # type: ignore[no-untyped-def]
        rows, summary = bench_release_vs_floor(args.runs, box)
        floor.update(summary)
        return rows

    with sandbox(s3=True) as box:
        for name, fn in (("install", lambda: bench_test_install(args.runs)),
                         ("publish", lambda: bench_publish(args.runs, box, load, args.index_rtt_ms)),
                         ("store", lambda: bench_store(args.runs, box)),
                         ("release", lambda: bench_release(args.runs, box)),
                         ("floor", lambda: release_vs_floor(box))):
            if name in args.only:
                print(f"running {name} ...", file=sys.stderr, flush=True)
                times.update(fn())
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nwheelship benchmark — {machine}, median of {args.runs} run(s)\n")
    for label, seconds in times.items():
        print(f"  {label:<64} {seconds:8.3f} s")
    if load:
        print("\n  " + "the index's load per publish run".ljust(64) + " requests  index CPU")
        for label, used in load.items():
            cpu = f"{used['cpu_seconds']:8.2f} s" if used["cpu_seconds"] is not None else "       n/a"
            print(f"  {label:<64} {used['requests']:8.0f}  {cpu}")
    print(f"\n  {'ratio':<56} measured  target")
    ratios = {}
    for label, numerator, denominator, target in ratio_rows(args.index_rtt_ms):
        if numerator in times and denominator in times:
            ratios[label] = times[numerator] / times[denominator]
            print(f"  {label:<56} {ratios[label]:8.2f}×  {target}")
    print_summary(floor)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine, "runs": args.runs, "index_rtt_ms": args.index_rtt_ms, "seconds": times, "ratios": ratios,
               "index_load": load, **floor}
    if args.json.is_file() and set(args.only) != set(SECTIONS):
        earlier = json.loads(args.json.read_text())  # a partial run updates its own rows, keeps the others
        for key in ("seconds", "ratios", "index_load"):
            results[key] = {**earlier.get(key, {}), **results[key]}  # type: ignore[dict-item]
        results = {**{k: v for k, v in earlier.items() if k.startswith("release-vs-floor-")}, **results}
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
