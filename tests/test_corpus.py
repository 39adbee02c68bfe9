"""Reality is the test: wheelship on files and projects that no one here wrote.

- `wheelship check` on the current sdists and wheels of the 100 most-downloaded PyPI
  projects (tests/corpus/top-pypi.json) reports no error, and only the warnings
  reviewed in tests/corpus/reviewed-warnings.tsv.
- Each false alarm once raised on a real file has a test on that file.
- `wheelship release --dry-run` of real projects' sdists, one or more per build
  backend, passes against the sandbox (tests/corpus/releases.json). Build backends
  are not pinned: the next backend or metadata change shows here first.

Files come from PyPI into a cache, checked against their pinned SHA-256.
"""

from __future__ import annotations

import csv
import json
import subprocess
import tarfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from pipeline import archives
from pipeline.cli import main
from tests.corpus import HERE, by_project, entries, fetch

pytestmark = [pytest.mark.integration, pytest.mark.real]

REVIEWED = HERE / "reviewed-warnings.tsv"


def _check(paths: list[Path], report: Path) -> tuple[int, list[dict[str, str]]]:
    """`wheelship check` on one project's files, in a worker process."""
    # --no-build: WS502 builds each sdist; the release corpus below covers it
    code = main(["check", *map(str, paths), "--json", str(report), "-q", "--no-build"])
    return code, json.loads(report.read_text())["findings"]


#: Current files PyPI took before a rule it enforces now: a correct refusal of the same
#: upload today, not a false alarm. Each is asserted to be found, so the list cannot rot.
REFUSED_TODAY = {
    # uploaded in March 2024; PEP 625 sdist names (no '-' in the name part) since October 2025
    ("requests-oauthlib-2.0.0.tar.gz", "WS604"),
}


def _reviewed() -> set[tuple[str, str]]:
    with REVIEWED.open() as fh:
        return {(row["file"], row["code"]) for row in csv.DictReader(fh, delimiter="\t")}


def test_the_most_downloaded_projects_files_give_no_errors_and_only_reviewed_warnings(tmp_path):
    projects = by_project()
    assert len(projects) >= 100
    with ProcessPoolExecutor(2) as pool:
        futures = {name: pool.submit(_check, paths, tmp_path / f"{name}.json") for name, paths in projects.items()}
        results = {name: future.result() for name, future in futures.items()}
    findings = [f for _, found in results.values() for f in found]
    errors = [f"{f['code']} {f['file']}: {f['message']}" for f in findings
              if f["severity"] == "error" and (f["file"], f["code"]) not in REFUSED_TODAY]
    assert errors == [], "\n".join(errors)
    found = {(f["file"], f["code"]) for f in findings if f["severity"] == "error"}
    assert found == REFUSED_TODAY, f"refused today, not found: {sorted(REFUSED_TODAY - found)}"
    refused = {name for name, (_, found) in results.items()
               if any((f["file"], f["code"]) in REFUSED_TODAY for f in found)}
    assert all(code == 0 for name, (code, _) in results.items() if name not in refused)
    warnings = {(f["file"], f["code"]) for f in findings if f["severity"] == "warning"}
    assert warnings == _reviewed(), f"new: {sorted(warnings - _reviewed())}; gone: {sorted(_reviewed() - warnings)}"
    files = sum(len(paths) for paths in projects.values())
    by_code = Counter(code for _, code in warnings)
    (tmp_path / "figures.json").write_text(json.dumps({"files": files, "warnings": by_code}))
    print(f"\ncorpus: {len(projects)} projects, {files} files, 0 errors, warnings by code: {dict(by_code)}")


# --- each false alarm, on the real file that showed it ------------------------------------


def _file(name: str) -> Path:
    items = [e for e in entries() + entries("regressions.json") if e["filename"] == name]
    assert items, f"{name} is not in the corpus lists"
    return fetch(items[0])


def _top(project: str, endswith: str) -> Path:
    return fetch(next(e for e in entries() if e["project"] == project and str(e["filename"]).endswith(endswith)))


def _findings(cli, tmp_path: Path, *paths: Path) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    report = tmp_path / "check.json"
    result = cli("check", *paths, "--json", report, "--no-build")
    assert result.code == 0, result.err
    return json.loads(report.read_text())["findings"]  # type: ignore[no-any-return]


def test_metadata_version_2_5_from_hatchling_is_accepted(cli, tmp_path):
    sdist = _top("python-dateutil", ".tar.gz")
    with tarfile.open(sdist) as archive:
        pkg_info = next(m for m in archive.getmembers() if m.name.endswith("/PKG-INFO") and m.name.count("/") == 1)
        handle = archive.extractfile(pkg_info)
        assert handle is not None and handle.read().startswith(b"Metadata-Version: 2.5")
    assert not [f for f in _findings(cli, tmp_path, sdist) if f["code"] == "WS107"]


def test_no_description_content_type_is_a_warning_not_an_error(cli, tmp_path):
    wheel = _top("six", ".whl")  # six 1.17.0 declares no Description-Content-Type
    found = _findings(cli, tmp_path, wheel)
    assert {(f["code"], f["severity"]) for f in found} == {("WS108", "warning")}
    assert "Description-Content-Type is missing" in found[0]["message"]


@pytest.mark.parametrize(("project", "name"), [("requests", "requests"), ("attrs", "attr"), ("pillow", "PIL"),
                                               ("pyyaml", "yaml"), ("protobuf", "google"),
                                               ("google-api-core", "google"), ("setuptools", "pkg_resources")])
def test_a_projects_own_names_and_shared_namespaces_never_shadow(cli, tmp_path, project, name):
    wheels = [fetch(e) for e in entries() if e["project"] == project and str(e["filename"]).endswith(".whl")]
    assert wheels
    found = _findings(cli, tmp_path, *wheels)
    assert not [f for f in found if f["code"] in ("WS406", "WS407")], found


@pytest.mark.parametrize("filename", ["toml-0.10.2.tar.gz", "defusedxml-0.7.1.tar.gz"])
def test_a_folded_description_is_unfolded_before_it_is_rendered(cli, tmp_path, filename):
    """Metadata 1.x keeps the description in a folded `Description:` header (8 spaces, or
    7 and `|`); rendered folded, reStructuredText breaks (WS101), though PyPI renders both."""
    sdist = _file(filename)
    assert not [f for f in _findings(cli, tmp_path, sdist) if f["code"] == "WS101"]


def test_a_distribution_that_owns_a_generic_name_is_not_flagged(cli, tmp_path):
    wheel = _file(next(str(e["filename"]) for e in entries("regressions.json") if e["project"] == "build"))
    assert not [f for f in _findings(cli, tmp_path, wheel) if f["code"] == "WS406"]


@pytest.mark.parametrize("project", ["ruff", "uv"])
def test_an_executable_under_data_scripts_is_compiled_code(cli, tmp_path, project):
    wheel = _file(next(str(e["filename"]) for e in entries("regressions.json") if e["project"] == project))
    assert not [f for f in _findings(cli, tmp_path, wheel) if f["code"] == "WS202"]


def test_a_system_library_loaded_by_name_is_not_a_missing_library(cli, tmp_path):
    wheel = _top("pip", ".whl")  # pip's vendored truststore loads crypt32.dll and kernel32.dll by name
    assert not [f for f in _findings(cli, tmp_path, wheel) if f["code"] == "WS203"]


# --- real projects, released from their sdists --------------------------------------------


RELEASES = entries("releases.json")


def _tagged_checkout(entry: dict[str, object], tmp_path: Path, tag: str, *, workflows: bool = False) -> Path:
    """A release's sdist as the git repository it came from, tagged: a release starts from a
    checkout at its tag (meson's sdist needs one; VCS versions read it). With `workflows`,
    after `wheelship init`, as a maintainer adopting wheelship has it."""
    archives.extract(fetch(entry), tmp_path / "src")
    (project,) = (tmp_path / "src").iterdir()
    git = ["git", "-c", "user.name=corpus", "-c", "user.email=corpus@invalid", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True, capture_output=True)
    if workflows:
        from pipeline.workflows import init

        init(project)
    for step in (["add", "-A"], ["commit", "-q", "-m", "release"], ["tag", tag]):
        subprocess.run([*git, *step], cwd=project, check=True, capture_output=True)
    return project


# Backends warn (deprecated license classifiers, tests_require): no user runs wheelship with
# warnings as errors, so this test does not either.
@pytest.mark.filterwarnings("default")
@pytest.mark.parametrize("entry", RELEASES, ids=[str(e["project"]) for e in RELEASES])
def test_a_real_project_releases_from_its_sdist(cli, sandbox_env, tmp_path, entry):
    project = _tagged_checkout(entry, tmp_path, f"v{entry['version']}")
    report = tmp_path / "report.json"
    result = cli("release", project, "--tag", f"v{entry['version']}", "--dry-run",
                 "--store", f"file://{tmp_path / 'store'}", "--json", report)
    assert result.code == 0, result.err[-4000:]
    facts = json.loads(report.read_text())
    assert facts["version"] == entry["version"] and facts["verified"] is True
    wheels = [f for f in facts["files"] if f["identifier"] != "sdist"]
    assert wheels and all(f["test"]["status"] == "passed" for f in wheels)
    assert all(f["publish"] == "would upload" for f in facts["files"])
    assert not [f for f in facts["files"] for finding in f["findings"] if finding["severity"] == "error"]


# --- real cibuildwheel configurations plan exactly the arches they declare ------------------


@pytest.mark.parametrize(("project", "expected", "emulated"), [
    # [tool.cibuildwheel.linux] archs = x86_64 aarch64 armv7l ppc64le riscv64; macos x86_64 arm64; windows AMD64 ARM64 x86
    ("markupsafe", {"linux-x86_64", "linux-aarch64", "linux-armv7l", "linux-ppc64le", "linux-riscv64",
                    "macos-x86_64", "macos-arm64", "windows-AMD64", "windows-ARM64", "windows-x86"},
     {"linux-armv7l", "linux-ppc64le", "linux-riscv64"}),
    # linux archs = x86_64 aarch64 riscv64; macos arm64 only; windows auto
    ("sqlalchemy", {"linux-x86_64", "linux-aarch64", "linux-riscv64", "macos-arm64", "windows-AMD64",
                    "windows-ARM64", "windows-x86"}, {"linux-riscv64"}),
])
def test_a_real_cibuildwheel_configuration_plans_exactly_its_arches(tmp_path, project, expected, emulated):
    from pipeline.planning import slice_kinds

    entry = next(e for e in [*entries("releases.json"), *entries()]
                 if e["project"] == project and str(e["filename"]).endswith(".tar.gz"))
    archives.extract(fetch(entry), tmp_path)
    (root,) = tmp_path.iterdir()
    kinds = {k.name: k for k in slice_kinds(root)}
    assert set(kinds) == expected
    assert {name for name, k in kinds.items() if k.qemu} == emulated


# --- a real project's own release workflow, rehearsed ------------------------------------


def test_markupsafes_release_workflow_rehearses_its_linux_jobs_and_lists_the_rest(cli, tmp_path, pinned_init):
    """markupsafe 3.0.4 from its sdist, after `wheelship init`, tagged as its maintainers tag
    (3.0.4): a tag push under act, against the sandbox."""
    entry = next(e for e in RELEASES if e["project"] == "markupsafe")
    project = _tagged_checkout(entry, tmp_path, str(entry["version"]), workflows=True)
    report = tmp_path / "rehearsal.json"
    result = cli("rehearse", project, "--event", "push", "--json", report)
    assert result.code == 0, result.err[-4000:]
    data = json.loads(report.read_text())
    jobs = {job["name"]: job for job in data["jobs"]}
    assert [n for n, j in jobs.items() if j["status"] == "passed"] == [
        "route", "plan", "sdist", "build (linux-x86_64)", "verify", "publish"]
    elsewhere = {n: j["note"] for n, j in jobs.items() if j["status"] == "not-rehearsable"}
    # every other arch its cibuildwheel configuration declares, the emulated ones said to need QEMU
    assert {f"build ({s})" for s in ("linux-aarch64", "linux-armv7l", "linux-ppc64le", "linux-riscv64",
                                     "macos-x86_64", "macos-arm64", "windows-AMD64", "windows-ARM64",
                                     "windows-x86")} <= set(elsewhere)
    assert "under QEMU" in elsewhere["build (linux-riscv64)"] and "under QEMU" not in elsewhere["build (macos-arm64)"]
    published = {f["filename"]: f["sha256"] for f in data["published"] if f["index"] == "pypi"}  # a final
    assert f"markupsafe-{entry['version']}.tar.gz" in published
    assert len([n for n in published if n.endswith(".whl")]) >= 5
    assert {f["filename"]: f["sha256"] for f in data["stored"]} == published


def test_a_tag_versioned_real_project_releases_its_tags_version_through_inits_workflow(cli, tmp_path, pinned_init):
    """attrs 26.1.0 takes its version from its git tag (hatch-vcs): every job of init's
    workflow checks out the tag itself, so the files carry the tag's version."""
    entry = next(e for e in RELEASES if e["project"] == "attrs")
    version = str(entry["version"])
    project = _tagged_checkout(entry, tmp_path, version, workflows=True)
    report = tmp_path / "rehearsal.json"
    result = cli("rehearse", project, "--event", "push", "--json", report)
    assert result.code == 0, result.err[-4000:]
    data = json.loads(report.read_text())
    jobs = {job["name"]: job for job in data["jobs"]}
    assert [n for n, j in jobs.items() if j["status"] == "passed"] == [
        "route", "plan", "sdist", "build (pure)", "verify", "publish"]
    published = {f["filename"] for f in data["published"] if f["index"] == "pypi"}
    assert published == {f"attrs-{version}.tar.gz", f"attrs-{version}-py3-none-any.whl"}


# --- more real projects (issue 26), and the defects they showed --------------------------


@pytest.fixture(autouse=True)
def _build_output_untracked(tmp_path_factory, monkeypatch):  # type: ignore[no-untyped-def]
    """A maintainer's checkout never tracks setuptools' `*.egg-info`, though the sdist carries
    it: jaraco's repositories have no .gitignore and leave it to a global excludes file.
    Corpus checkouts ignore it the same way; tracked, the build rewrites it, the tree is
    dirty, and setuptools-scm versions jaraco.classes 3.4.0 as 3.4.1.dev0+g….dYYYYMMDD."""
    excludes = tmp_path_factory.mktemp("git-excludes") / "ignore"
    excludes.write_text("*.egg-info/\n")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.excludesFile")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", str(excludes))


def _release_entry(project: str) -> dict[str, object]:
    return next(e for e in RELEASES if e["project"] == project)


def _verified(store: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    """Each file's facts as the run's verify stage stored them, also when it failed (the
    release's --json report is written only when every stage passed)."""
    (verify,) = store.rglob("verify.json")
    return json.loads(verify.read_text())["files"]  # type: ignore[no-any-return]


def _commit_and_retag(project: Path, tag: str) -> None:
    """Commit what a test changed in a corpus checkout and move its tag there: a tagged
    release is what the maintainer committed, never a dirty tree."""
    git = ["git", "-c", "user.name=corpus", "-c", "user.email=corpus@invalid"]
    for step in (["add", "-A"], ["commit", "-q", "-m", "as the repository has it"], ["tag", "-f", tag]):
        subprocess.run([*git, *step], cwd=project, check=True, capture_output=True)


@pytest.mark.filterwarnings("default")
def test_beancounts_cibuildwheel_smoke_test_imports_only_what_its_wheel_ships(cli, sandbox_env, tmp_path,
                                                                              monkeypatch):
    """beancount 3.2.3 (meson-python; flex and bison from PyPI) built by cibuildwheel in Podman
    with the local image. Its repository has an `experiments/` folder that its sdist
    (`export-ignore` in its .gitattributes) and wheels leave out; the checkout gets one back,
    a package that fails when imported, so a smoke test that took import names from the
    source tree shows. wheelship's smoke test reads them from the built wheel: `beancount`."""
    import shutil

    podman = shutil.which("podman")
    image = "localhost/wheelship-manylinux:local"
    if podman is None or subprocess.run([podman, "image", "exists", image]).returncode != 0:
        pytest.fail(f"{image} is missing: run `make manylinux-image` (make test-real does)")
    entry = _release_entry("beancount")
    tag = f"v{entry['version']}"
    project = _tagged_checkout(entry, tmp_path, tag)
    experiments = project / "experiments"
    experiments.mkdir()
    (experiments / "__init__.py").write_text('raise ImportError("experiments/ is not in beancount\'s wheel")\n')
    (experiments / "sandbox.py").write_text("import duckdb  # a requirement beancount does not declare\n")
    _commit_and_retag(project, tag)
    monkeypatch.setenv("CIBW_MANYLINUX_X86_64_IMAGE", image)
    monkeypatch.setenv("CIBW_BUILD", "cp311-manylinux_x86_64 cp312-manylinux_x86_64")  # what the image has
    # flex-bin and bison-bin call m4, which a manylinux image has and this Debian one has not
    monkeypatch.setenv("CIBW_BEFORE_ALL_LINUX", "command -v m4 >/dev/null || "
                                                "(apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                                                "apt-get install -y -qq m4)")
    report, work = tmp_path / "report.json", tmp_path / "work"
    result = cli("release", project, "--tag", tag, "--dry-run", "--builder", "cibuildwheel",
                 "--store", f"file://{tmp_path / 'store'}", "--json", report, "--workdir", work)
    assert result.code == 0, result.err[-4000:]
    assert "cibuildwheel tests with wheelship's import smoke test" in result.err
    facts = json.loads(report.read_text())
    wheels = [f for f in facts["files"] if f["identifier"] != "sdist"]
    assert sorted(f["identifier"] for f in wheels) == ["cp311-manylinux_x86_64", "cp312-manylinux_x86_64"]
    assert all(f["test"]["status"] == "passed" for f in wheels), [f["test"] for f in wheels]
    with tarfile.open(next((tmp_path / "store").rglob("beancount-3.2.3.tar.gz"))) as sdist:
        assert not [n for n in sdist.getnames() if "/experiments/" in n]
    log = (work / "cibuildwheel-linux-x86_64.log").read_text(errors="replace")
    imported = [line.strip() for line in log.splitlines() if line.strip().startswith("import ")]
    assert imported == ["import beancount: ok"] * 2, imported


@pytest.mark.filterwarnings("default")
def test_a_syntax_error_in_a_namespace_package_fails_the_release_with_ws302(cli, sandbox_env, tmp_path):
    """jaraco.classes 3.4.0 is `jaraco/classes/` in the PEP 420 namespace `jaraco` (no
    `jaraco/__init__.py`): importing `jaraco` alone proves nothing, `jaraco.classes` is
    what must import."""
    entry = _release_entry("jaraco.classes")
    tag = f"v{entry['version']}"
    project = _tagged_checkout(entry, tmp_path, tag)
    assert not (project / "jaraco" / "__init__.py").exists()
    init = project / "jaraco" / "classes" / "__init__.py"
    init.write_text(init.read_text() + "\ndef broken(:\n")
    _commit_and_retag(project, tag)
    result = cli("release", project, "--tag", tag, "--dry-run", "--store", f"file://{tmp_path / 'store'}")
    assert result.code == 5, result.err[-4000:]
    assert "WS302" in result.err and "import jaraco.classes failed: SyntaxError" in result.err, result.err[-4000:]
    wheel = next(f for f in _verified(tmp_path / "store").values() if f["identifier"] != "sdist")
    assert wheel["test"]["status"] == "failed" and wheel["test"]["how"].endswith("import jaraco.classes")
    ws302 = [f["message"] for f in wheel["findings"] if f["code"] == "WS302"]
    assert ws302 and all("import jaraco.classes failed: SyntaxError" in m for m in ws302), wheel["findings"]


@pytest.mark.filterwarnings("default")
def test_a_projects_cibuildwheel_test_command_runs_on_the_local_builder(cli, sandbox_env, tmp_path, monkeypatch):
    """mapbox_earcut 2.1.0 (scikit-build-core, nanobind) sets `[tool.cibuildwheel]
    test-requires = ["pytest"]` and `test-command = "pytest {package}/tests"`; built by the
    local builder, that command runs on the installed wheel, as cibuildwheel would run it."""
    entry = _release_entry("mapbox-earcut")
    tag = f"v{entry['version']}"
    project = _tagged_checkout(entry, tmp_path, tag)
    monkeypatch.setenv("CIBW_BUILD", "cp312-manylinux_x86_64")  # one wheel is enough to see it run
    report = tmp_path / "report.json"
    result = cli("release", project, "--tag", tag, "--dry-run", "--builder", "local",
                 "--store", f"file://{tmp_path / 'store'}", "--json", report)
    assert result.code == 0, result.err[-4000:]
    wheels = [f for f in json.loads(report.read_text())["files"] if f["identifier"] != "sdist"]
    assert [f["identifier"] for f in wheels] == ["cp312-manylinux_x86_64"]
    test = wheels[0]["test"]
    assert "the project's cibuildwheel test-command: pytest {package}/tests" in test["how"], test
    assert test["status"] == "passed", test


@pytest.mark.parametrize(("project", "names"), [("protobuf", ("google.protobuf",)),
                                                ("googleapis-common-protos", ("google",)),
                                                ("google-api-core", ("google.api_core",))])
def test_import_names_of_real_namespace_wheels(project, names):
    """A namespace's packages are imported, never its loose modules one by one:
    googleapis-common-protos ships google/longrunning/operations_grpc.py, which needs the
    optional grpcio, and would fail a test-install that imported it."""
    from pipeline.testinstall import import_names_of

    wheels = [fetch(e) for e in entries() if e["project"] == project and str(e["filename"]).endswith(".whl")]
    assert wheels and {import_names_of(w) for w in wheels} == {names}


#: certifi 2026.10.19.post1 repackages 2026.10.19: its `certifi.__version__` still says
#: "2026.10.19". The test-install once called that WS304 (found by `make bench`).
CERTIFI_POST = {"project": "certifi", "version": "2026.10.19.post1",
                "filename": "certifi-2026.10.19.post1-py3-none-any.whl",
                "url": "https://files.pythonhosted.org/packages/7a/3e/9ddb6d78c2ffd17604c05745f553614bfbecd2cc6741bbaa5181bc8b2496/certifi-2026.10.19.post1-py3-none-any.whl",
                "sha256": "1324c476b4811eff41a8bc2122cd0bbd4d9c7234c725446d99ab1612b3a7fdd2"}


def test_a_post_release_whose_module_keeps_the_released_version_passes_its_test_install():
    from pipeline.interpreters import find_interpreters
    from pipeline.testinstall import import_names_of, test_install

    wheel = fetch(CERTIFI_POST)
    python = find_interpreters()[-1]
    outcome = test_install(wheel, python, project="certifi", version="2026.10.19.post1",
                           import_names=import_names_of(wheel), tests=None)
    assert outcome.test.status == "passed", outcome.test.detail
