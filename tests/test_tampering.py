"""A stored record is input, never an order: the tampering suite.

Someone who can write the artifact store (or a job that ran project code and hands the
run on as a workflow artifact) rewrites a stored run: hostile file names, files of
another project or version, duplicated names, a switched index, forged verification.
For both store kinds, `fetch`, `copy`, `verify`, `publish` and `status` must refuse
(exit 6, or the documented exit for the case), write nothing outside their folder,
upload nothing the run did not build, and send no request (so no credential) anywhere
the live configuration does not name.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pipeline.records import BuildRecord, FileVerification, Plan, Slice, VerifyRecord, identifier_of, sha256_of
from pipeline.runs import Runs
from pipeline.stores import Store, open_store
from tests.conftest import index_files
from tests.distfactory import make_release, make_wheel

pytestmark = pytest.mark.integration

PROJECT, VERSION, RUN = "tampered", "1.0", "r1"
COMMANDS = ("fetch", "copy", "verify", "publish-verified", "publish", "status")


class _Listener(http.server.BaseHTTPRequestHandler):
    """An index somebody else runs: it only counts who calls."""

    calls: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.calls.append(self.path)
        self.send_response(404)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def elsewhere() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    _Listener.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@dataclass
class Run:
    """A pristine stored run, and how to reach its records."""

    store: Store
    url: str
    runs: Runs
    folder: Path  # the files as built

    def key(self, *parts: str) -> str:
        return self.runs.key(RUN, *parts)

    def read(self, *parts: str) -> Any:
        raw = self.store.get_json(self.key(*parts))
        assert raw is not None
        return json.loads(raw)

    def write(self, data: Any, *parts: str) -> None:
        self.store.put_json(self.key(*parts), json.dumps(data).encode())

    def put_file(self, path: Path, name: str | None = None) -> None:
        self.store.put_file(self.key("files", name or path.name), path, sha256_of(path))


def _pristine(url: str, tmp_path: Path) -> Run:
    folder = tmp_path / "built"
    artifacts = make_release(folder, PROJECT, VERSION, tags=("py3-none-any",))
    runs = Runs(open_store(url), PROJECT, VERSION)
    plan = Plan(project=PROJECT, version=VERSION, run_id=RUN, tag=f"v{VERSION}", trigger="push", created="now",
                dry_run=False, index="pypi", native=False, requires_python=None, import_names=(),
                checks={"WS502": "off"},  # the made-up sdist has no backend to build from
                test_command=None, slices=(Slice(name="sdist", platform="any", arch="any", runner="ubuntu-latest",
                                                 identifiers=("sdist",)),
                                           Slice(name="pure", platform="any", arch="any", runner="ubuntu-latest",
                                                 identifiers=("py3-none-any",))))
    runs.write_plan(plan)
    for artifact in artifacts:
        record = BuildRecord(slice=artifact.slice, runner="r", finished="now", artifacts=(artifact,))
        runs.store_record(record, {artifact.name: folder / artifact.name}, RUN)
    runs.write_result(RUN, VerifyRecord(ok=True, host="h", finished="now", run_id=RUN, files={
        a.name: FileVerification(identifier=a.identifier, sha256=a.sha256, size=a.size, test=None)
        for a in artifacts}))
    return Run(runs.store, url, runs, folder)


def _add_to_record(run: Run, slice_name: str, path: Path, name: str, *, verified: bool = True) -> None:
    """Put `path` into the run as `name`: stored bytes, record and verification consistent,
    as someone who can write the store would make them."""
    record = run.read("records", f"{slice_name}.json")
    entry = {**record["artifacts"][0], "name": name, "identifier": identifier_of(name), "sha256": sha256_of(path),
             "size": path.stat().st_size}
    record["artifacts"].append(entry)
    run.write(record, "records", f"{slice_name}.json")
    run.put_file(path, name)
    if verified:
        verify = run.read("verify.json")
        verify["files"][name] = {"identifier": entry["identifier"], "sha256": entry["sha256"], "size": entry["size"],
                                 "test": None, "findings": []}
        run.write(verify, "verify.json")


def _rename(run: Run, name: str) -> None:
    """The pure wheel's record (and its verification) name `name` instead."""
    record = run.read("records", "pure.json")
    wheel = record["artifacts"][0]
    if isinstance(name, str) and name not in ("", ".", "..") and "/" not in name:
        run.put_file(run.folder / wheel["name"], name)
    old = wheel["name"]
    wheel["name"] = name
    run.write(record, "records", "pure.json")
    verify = run.read("verify.json")
    verify["files"] = {(name if k == old else k): v for k, v in verify["files"].items()}
    run.write(verify, "verify.json")


def _edit(path: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Run, Path, str], None]:
    def tamper(run: Run, marker: Path, elsewhere: str) -> None:
        parts = path.split("/")
        data = run.read(*parts)
        change(data)
        run.write(data, *parts)

    return tamper


def _other_project(run: Run, marker: Path, elsewhere: str) -> None:
    victim = make_wheel(marker.parent, "victim-lib", "9.9.9", "py3-none-any")
    _add_to_record(run, "pure", victim, victim.name)


def _other_version(run: Run, marker: Path, elsewhere: str) -> None:
    later = make_wheel(marker.parent, PROJECT, "2.0", "py3-none-any")
    _add_to_record(run, "pure", later, later.name)


def _twice(run: Run, marker: Path, elsewhere: str) -> None:
    wheel = run.read("records", "pure.json")["artifacts"][0]
    record = run.read("records", "sdist.json")
    record["artifacts"].append({**wheel, "slice": "sdist"})
    run.write(record, "records", "sdist.json")


def _switched_index(run: Run, marker: Path, elsewhere: str) -> None:
    plan = run.read("plan.json")
    plan.update(index="testpypi", index_urls={"upload": elsewhere, "simple": elsewhere + "simple/"})
    run.write(plan, "plan.json")


def _unknown_index(run: Run, marker: Path, elsewhere: str) -> None:
    plan = run.read("plan.json")
    plan.update(index="evil", index_urls={"upload": elsewhere, "simple": elsewhere + "simple/"})
    run.write(plan, "plan.json")


def _other_bytes(run: Run, marker: Path, elsewhere: str) -> None:
    """The wheel's bytes replaced by another project's wheel under this run's name, with
    the record and the verification rewritten to match: only reading the file shows it."""
    wheel = run.read("records", "pure.json")["artifacts"][0]
    victim = make_wheel(marker.parent, "victim-lib", VERSION, "py3-none-any")
    forged = marker.parent / wheel["name"]
    forged.write_bytes(victim.read_bytes())
    record = run.read("records", "pure.json")
    record["artifacts"][0].update(sha256=sha256_of(forged), size=forged.stat().st_size)
    run.write(record, "records", "pure.json")
    run.put_file(forged)
    verify = run.read("verify.json")
    verify["files"][wheel["name"]].update(sha256=sha256_of(forged), size=forged.stat().st_size)
    run.write(verify, "verify.json")


def _unplanned(run: Run, marker: Path, elsewhere: str) -> None:
    """A platform wheel of this very project and version, which the plan never named."""
    extra = make_wheel(marker.parent, PROJECT, VERSION, "cp312-cp312-manylinux_2_17_x86_64")
    _add_to_record(run, "pure", extra, extra.name)


def _set_plan(**values: Any) -> Callable[[Run, Path, str], None]:
    return _edit("plan.json", lambda plan: plan.update(values))


def _slices_path(plan: dict[str, Any]) -> None:
    plan["slices"][1]["name"] = "../../escape"


def _verify_other_run(verify: dict[str, Any]) -> None:
    verify["run_id"] = "r0"


def _publish_record(run: Run, marker: Path, elsewhere: str) -> None:
    run.write({"index": "pypi", "upload_url": elsewhere, "dry_run": False, "finished": "t", "host": "h",
               "files": {"../" + marker.name: "uploaded"}}, "publish.json")


#: case -> (tamper, {command: expected exit}); commands not named expect 6 (an integrity error)
CASES: dict[str, tuple[Callable[[Run, Path, str], None], dict[str, int]]] = {
    "absolute-name": (lambda run, marker, _: _rename(run, str(marker)), {}),
    "relative-escape": (lambda run, marker, _: _rename(run, f"../../../../{marker.name}"), {}),
    "numeric-name": (lambda run, marker, _: _rename(run, 7), {}),  # type: ignore[arg-type]
    "empty-name": (lambda run, marker, _: _rename(run, ""), {}),
    "dot-name": (lambda run, marker, _: _rename(run, ".."), {}),
    "other-project": (_other_project, {}),
    "other-version": (_other_version, {}),
    "name-twice": (_twice, {}),
    "slice-as-path": (_edit("plan.json", _slices_path), {}),
    "plan-of-another-project": (_set_plan(project="victim-lib"), {}),
    "plan-of-another-run": (_set_plan(run_id="r0"), {}),
    "switched-index": (_switched_index, {"fetch": 0, "copy": 0, "verify": 0, "status": 0}),
    "unknown-index": (_unknown_index, {"fetch": 0, "copy": 0, "verify": 0, "status": 0}),
    "verification-of-another-run": (_edit("verify.json", _verify_other_run), {}),
    "publish-record-path": (_publish_record, {}),
    # consistent records, hostile bytes: the read before publishing finds them (exit 5)
    "another-projects-bytes": (_other_bytes, {"fetch": 0, "copy": 0, "status": 0, "verify": 5,
                                              "publish-verified": 5, "publish": 5}),
    # a file of this project and version that the plan never named (exit 5: WS002)
    "unplanned-file": (_unplanned, {"fetch": 0, "copy": 0, "status": 0, "verify": 5, "publish-verified": 5,
                                    "publish": 5}),
}


def _command(name: str, run: Run, tmp_path: Path) -> list[str | Path]:
    target = f"file://{tmp_path / 'copy-target'}"
    return {
        "fetch": ["fetch", PROJECT, VERSION, "--store", run.url, "-o", tmp_path / "out"],
        "copy": ["copy", PROJECT, VERSION, "--from", run.url, "--store", target, "--run-id", RUN],
        "verify": ["verify", PROJECT, VERSION, "--store", run.url, "--run-id", RUN],
        "publish-verified": ["publish", PROJECT, VERSION, "--store", run.url, "--run-id", RUN, "--require-verified"],
        "publish": ["publish", PROJECT, VERSION, "--store", run.url, "--run-id", RUN],
        "status": ["status", PROJECT, VERSION, "--store", run.url],
    }[name]


def _written_outside(marker: Path, tmp_path: Path) -> list[Path]:
    """Every file of the marker's name where a hostile name could have put it: anywhere
    under the test's folder (its stores aside), and in each folder above it (where
    `../` names from the output, staging and work folders lead)."""
    inside = {p for p in tmp_path.rglob(marker.name) if "store" not in p.relative_to(tmp_path).parts[0]}
    above = {folder / marker.name for folder in (*tmp_path.parents, Path.cwd(), Path("/tmp"))}
    return sorted(inside | {p for p in above if p.exists()})


@pytest.mark.parametrize("store_kind", ["file", "s3"])
def test_a_pristine_run_publishes(cli, sandbox_env, s3_store, tmp_path, store_kind):
    """The control: untouched, the same run fetches, copies, verifies and publishes."""
    run = _pristine(s3_store if store_kind == "s3" else f"file://{tmp_path / 'store'}", tmp_path)
    for command in COMMANDS:
        result = cli(*_command(command, run, tmp_path))
        assert result.code == 0, f"{command}: {result.err}"
    assert sorted(index_files(sandbox_env, "pypi")) == sorted(p.name for p in run.folder.iterdir())


@pytest.mark.parametrize("store_kind", ["file", "s3"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_tampered_run_is_refused_and_nothing_leaves(cli, sandbox_env, s3_store, elsewhere, tmp_path, store_kind,
                                                      case):
    run = _pristine(s3_store if store_kind == "s3" else f"file://{tmp_path / 'store'}", tmp_path)
    marker = tmp_path / "attacker" / f"wheelship-tampered-{uuid.uuid4().hex[:8]}.pth"
    marker.parent.mkdir()
    tamper, expected = CASES[case]
    tamper(run, marker, elsewhere)
    for command in COMMANDS:
        result = cli(*_command(command, run, tmp_path))
        want = expected.get(command, 6)
        assert result.code == want, f"{case} / {command}: exit {result.code}, expected {want}\n{result.err}"
        assert "Traceback" not in result.text and "internal error" not in result.text
        if want == 6:
            assert "integrity error" in result.err and "nothing was" in result.err, result.err
        assert _written_outside(marker, tmp_path) == [], f"{case} / {command} wrote outside its folder"
    assert index_files(sandbox_env, "pypi") == {} and index_files(sandbox_env, "testpypi") == {}
    assert _Listener.calls == [], f"{case}: a request went to an index the configuration does not name"


def test_switched_index_publishes_only_where_the_command_says(cli, sandbox_env, elsewhere, tmp_path):
    """The documented way past a plan that names another index: --index, from the command."""
    run = _pristine(f"file://{tmp_path / 'store'}", tmp_path)
    _switched_index(run, tmp_path / "m", elsewhere)
    refused = cli("publish", PROJECT, VERSION, "--store", run.url, "--require-verified")
    assert refused.code == 6
    assert "was planned for index 'testpypi', but the configuration in force routes tampered 1.0 to 'pypi'" \
        in refused.err and "--index pypi" in refused.err
    result = cli("publish", PROJECT, VERSION, "--store", run.url, "--require-verified", "--index", "testpypi")
    assert result.code == 0, result.err
    assert len(index_files(sandbox_env, "testpypi")) == 2 and index_files(sandbox_env, "pypi") == {}
    assert _Listener.calls == []  # the URLs the plan recorded were never used


def _fifo(run: Run, marker: Path, elsewhere: str) -> None:
    path = Path(run.store.root) / run.key("verify.json")  # type: ignore[attr-defined]
    path.unlink()
    os.mkfifo(path)


def _loop(run: Run, marker: Path, elsewhere: str) -> None:
    path = Path(run.store.root) / run.key("verify.json")  # type: ignore[attr-defined]
    path.unlink()
    path.symlink_to(path.name)


def _folder(run: Run, marker: Path, elsewhere: str) -> None:
    path = Path(run.store.root) / run.key("verify.json")  # type: ignore[attr-defined]
    path.unlink()
    path.mkdir()


def _swollen(run: Run, marker: Path, elsewhere: str) -> None:
    """The wheel's object grown to 1 GiB (sparse: it costs the writer nothing)."""
    name = run.read("records", "pure.json")["artifacts"][0]["name"]
    with (Path(run.store.root) / run.key("files", name)).open("r+b") as fh:  # type: ignore[attr-defined]
        fh.truncate(1 << 30)


def _markup(run: Run, marker: Path, elsewhere: str) -> None:
    plan = run.read("plan.json")
    plan["created"] = "[/]\n::warning title=store::forged\x1b]0;TITLE\x07"
    run.write(plan, "plan.json")
    record = run.read("records", "pure.json")
    record["runner"] = "[/]"
    run.write(record, "records", "pure.json")


#: A folder store's objects of the wrong kind or size: refused (exit 6), never a hang,
#: an internal error or a gigabyte copied; record text is shown, never obeyed.
OBJECTS: dict[str, tuple[Callable[[Run, Path, str], None], dict[str, int]]] = {
    "fifo-record": (_fifo, {}),
    "symlink-loop": (_loop, {}),
    "folder-record": (_folder, {}),
    "swollen-file": (_swollen, {"status": 0}),
    "markup-and-commands-in-text": (_markup, dict.fromkeys(COMMANDS, 0)),
}


@pytest.mark.parametrize("case", sorted(OBJECTS))
def test_store_objects_of_the_wrong_kind_are_refused_without_a_hang(cli, sandbox_env, tmp_path, case, monkeypatch):
    run = _pristine(f"file://{tmp_path / 'store'}", tmp_path)
    marker = tmp_path / "attacker" / "marker"
    marker.parent.mkdir()
    tamper, expected = OBJECTS[case]
    tamper(run, marker, "")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # where a forged "::warning::" line would be obeyed
    for command in COMMANDS:
        result = cli(*_command(command, run, tmp_path))
        want = expected.get(command, 6)
        assert result.code == want, f"{case} / {command}: exit {result.code}, expected {want}\n{result.err}"
        assert "internal error" not in result.text and "Traceback" not in result.text
        assert "\n::warning title=store" not in result.err and "\x1b" not in result.err
    staged = [p for p in (tmp_path / "out").rglob("*") if p.is_file()] if (tmp_path / "out").exists() else []
    assert all(p.stat().st_size < (1 << 20) for p in staged), "a swollen object was copied"
