"""`already_published`: the one decision both the plan job and a release's preflight ask.

Records and listings made in memory: no store, no index, no network.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline.index import Listed
from pipeline.publishing import Published, already_published
from pipeline.records import Artifact, BuildRecord, Outcome, Plan, PublishRecord, Slice
from pipeline.runs import RunState

WHEEL, SDIST = "pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz"
SHA = {WHEEL: "a" * 64, SDIST: "b" * 64}


def _plan(run_id: str = "20250101T000000Z-new", *, tag: str = "v1.0", commit: str = "c0ffee" * 7,
          index: str = "pypi") -> Plan:
    return Plan(project="pkg", version="1.0", run_id=run_id, tag=tag, trigger="push", created=run_id, dry_run=False,
                index=index, native=False, requires_python=None, import_names=("pkg",), test_command=None,
                slices=(Slice(name="sdist", platform="any", arch="any", runner="ubuntu-latest", identifiers=("sdist",)),
                        Slice(name="pure", platform="any", arch="any", runner="ubuntu-latest",
                              identifiers=("py3-none-any",))),
                commit=commit)


def _artifact(name: str, identifier: str, slice: str) -> Artifact:
    return Artifact(name=name, identifier=identifier, slice=slice, kind="sdist" if slice == "sdist" else "wheel",
                    sha256=SHA[name], size=100, builder="local", tools={}, built_on="test")


def _run(run_id: str, *, index: str = "pypi", dry_run: bool = False, published: bool = True,
         **plan: str) -> RunState:
    """A stored run of pkg 1.0 with both files built, published to `index` (or not at all)."""
    records = {"sdist": BuildRecord(slice="sdist", runner="test", finished=run_id,
                                    artifacts=(_artifact(SDIST, "sdist", "sdist"),)),
               "pure": BuildRecord(slice="pure", runner="test", finished=run_id,
                                   artifacts=(_artifact(WHEEL, "py3-none-any", "pure"),))}
    publish = PublishRecord(index=index, upload_url=f"https://{index}/legacy/", dry_run=dry_run,
                            files={SDIST: Outcome.UPLOADED, WHEEL: Outcome.UPLOADED}, finished=run_id, host="test")
    return RunState(plan=_plan(run_id, index=index, **plan), records=records, publish=publish if published else None)


def _listing(sdist_sha256: str | None = SHA[SDIST]) -> dict[str, Listed]:
    """The index's listing: both files, the wheel with its recorded sha256, the sdist with `sdist_sha256`."""
    files = {WHEEL: SHA[WHEEL], SDIST: sdist_sha256}
    return {name: Listed(name, f"https://files/{name}", digest) for name, digest in files.items()}


def test_nothing_stored_and_nothing_listed_is_not_published():
    assert already_published(_plan(), [], None) is None
    assert already_published(_plan(), [], {}) is None
    assert already_published(_plan(), [_run("r1", published=False), _run("r2", dry_run=True)], None) is None


def test_a_stored_run_that_published_this_tags_commit_says_so_without_the_index():
    earlier = _run("r1", index="testpypi")  # published elsewhere: still this very commit, released
    found = already_published(_plan(), [earlier], None)
    assert found == Published(f"run r1 already published tag v1.0 (commit {'c0ffee' * 2}) to testpypi", None)


def test_another_commit_or_an_untracked_checkout_is_not_the_tags_release():
    assert already_published(_plan(), [_run("r1", commit="beef" * 10)], None) is None
    assert already_published(_plan(commit=""), [_run("r1", commit="")], None) is None


def test_every_planned_file_on_the_index_is_published_with_no_run_stored():
    found = already_published(_plan(), [], _listing(sdist_sha256=None))  # a listing with no hash still counts
    assert found == Published("every planned file of pkg 1.0 (2) is on pypi already", None)


def test_a_planned_file_missing_from_the_index_is_not_published():
    listing = _listing()
    del listing[WHEEL]
    assert already_published(_plan(), [], listing) is None
    other_version = {n.replace("1.0", "0.9"): replace(f, filename=n.replace("1.0", "0.9")) for n, f in _listing().items()}
    assert already_published(_plan(), [], other_version) is None


def _with_linux_wheel(plan: Plan) -> Plan:
    """`plan` with one more planned wheel, one the index never lists."""
    linux = Slice(name="linux", platform="linux", arch="x86_64", runner="ubuntu-latest",
                  identifiers=("cp312-manylinux_x86_64",))
    return replace(plan, slices=(*plan.slices, linux))


def test_a_published_run_whose_files_the_index_holds_is_the_run_found():
    old, new = _run("r1", commit="beef" * 10), _run("r2", commit="beef" * 10)
    found = already_published(_with_linux_wheel(_plan()), [old, new], _listing())
    assert found == Published("pkg 1.0 is already on pypi: all 2 files of run r2 are there with their sha256", new)


def test_the_run_found_is_given_whatever_evidence_speaks_first():
    stored = _run("r1")
    found = already_published(_plan(), [stored], _listing())
    assert found is not None and found.reason.startswith("run r1 already published tag v1.0") and found.run is stored
    found = already_published(_plan(commit=""), [_run("r1", commit="")], _listing())
    assert found is not None and found.reason.startswith("every planned file of pkg 1.0") and found.run is not None


def test_a_run_is_found_only_when_the_index_lists_each_of_its_files_with_its_hash_there():
    plan = _with_linux_wheel(_plan(commit=""))  # never every planned file: only a stored run can decide
    assert already_published(plan, [_run("r1", commit="")], _listing(sdist_sha256="c" * 64)) is None
    assert already_published(plan, [_run("r1", commit="")], _listing(sdist_sha256=None)) is None
    assert already_published(plan, [_run("r1", commit="", index="testpypi")], _listing()) is None
    assert already_published(plan, [_run("r1", commit="", dry_run=True)], _listing()) is None
    assert already_published(plan, [_run("r1", commit="", published=False)], _listing()) is None
    assert already_published(plan, [_run("r1", commit="")], _listing()) is not None


def test_old_file_names_an_index_still_lists_are_not_ours_and_break_nothing():
    """PyPI lists what old releases uploaded (setuptools-scm 1.10.0's .tar.bz2, PyYAML
    3.10's .exe, eggs): no such name is a wheel or sdist of this version, nor an error."""
    old = ["pkg-0.9.tar.bz2", "pkg-0.9.win32-py2.5.exe", "pkg-0.9-py2.7.egg", "pkg-1.0.win32.exe", "garbage"]
    listing = {name: Listed(name, f"https://files/{name}", None) for name in old}
    assert already_published(_plan(), [], listing) is None
    listing.update(_listing())
    assert already_published(_plan(), [], listing) == Published("every planned file of pkg 1.0 (2) is on pypi already",
                                                               None)
