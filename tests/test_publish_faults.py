"""Publishing under injected faults: a fault proxy between wheelship and a real pypiserver."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline import index as index_module
from pipeline.credentials import Credentials
from pipeline.errors import PublishFailed
from pipeline.index import Index
from pipeline.publishing import Publisher
from pipeline.records import sha256_of
from pipeline.spec import IndexConfig, PublishPolicy
from tests.conftest import BUILDSPECS, copy_project, index_files
from tests.distfactory import make_release
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

RUNS = 200
RATE = 0.3


@pytest.fixture
def proxy(sandbox_env):  # type: ignore[no-untyped-def]
    server = sandbox_env.pypi
    with FaultProxy(server.port, server.packages) as running:
        yield running


def _target(proxy: FaultProxy) -> IndexConfig:
    return IndexConfig(name="faulty", upload_url=proxy.url, simple_url=proxy.url + "simple/",
                       username="__token__", password_env="WHEELSHIP_SANDBOX_PYPI_TOKEN")


def _publisher(proxy: FaultProxy, box, project: str, waits: list[float],  # type: ignore[no-untyped-def]
               download_back: bool = False) -> Publisher:
    creds = Credentials("__token__", box.pypi.password, "test")
    policy = PublishPolicy(attempts=15, max_wait=0.05, timeout=0.25, concurrency=2, download_back=download_back)
    return Publisher(Index(_target(proxy), creds, timeout=policy.timeout), project, policy, sleep=waits.append)


def test_seeded_runs_under_faults_end_with_exactly_the_planned_files(proxy, sandbox_env, tmp_path, monkeypatch):
    proxy.faults.stall = 0.35
    waits: list[float] = []
    expected: dict[str, str] = {}
    for seed in range(RUNS):
        name = f"fault-{seed}"
        artifacts = make_release(tmp_path / name, name)
        files = {a.name: tmp_path / name / a.name for a in artifacts}
        proxy.faults.reset(seed, RATE)
        # odd runs stream their files from disk, as a release of large wheels does
        monkeypatch.setattr(index_module, "IN_MEMORY_UPLOAD", 0 if seed % 2 else 32 * 1024 * 1024)
        # every kind of request meets faults: the preflight probe, listings before and after,
        # uploads, and (every fourth run, with download-back on) downloads
        publisher = _publisher(proxy, sandbox_env, name, waits, download_back=seed % 4 == 0)
        known = publisher.probe()
        outcomes = publisher.publish(artifacts, files, known=known)
        publisher.confirm(artifacts, outcomes)
        assert set(outcomes.values()) <= {"uploaded", "already present"}, (seed, outcomes)
        expected.update({a.name: a.sha256 for a in artifacts})
    ledger = proxy.ledger
    on_index = index_files(sandbox_env, "pypi")
    assert on_index == expected
    assert ledger.duplicate_uploads == []  # the server never got a file it already held
    assert ledger.faults / ledger.requests >= 0.2
    assert all(ledger.kinds.get(k, 0) > 0 for k in ("503", "502", "429", "reset", "stall", "forward-then-drop"))
    assert all(ledger.targets.get(k, 0) > 0 for k in ("listing", "upload", "download")), ledger.targets
    assert sum(1 for w in waits if w >= 1.0) >= ledger.kinds["429"]  # Retry-After: 1 was honoured
    (tmp_path.parent / "fault-counts.json").write_text(json.dumps({
        "runs": RUNS, "requests": ledger.requests, "faults": ledger.faults, "kinds": ledger.kinds,
        "faulted_requests": ledger.targets,
        "uploads": len(ledger.uploads), "files": len(expected), "duplicates": len(ledger.duplicate_uploads)}))


def test_a_permanent_refusal_stops_at_once_with_the_index_message(proxy, sandbox_env, tmp_path):
    artifacts = make_release(tmp_path, "refused")
    proxy.faults.reset(1, 0.0)
    proxy.faults.permanent = "400"
    with pytest.raises(PublishFailed) as info:
        _publisher(proxy, sandbox_env, "refused", []).publish(artifacts, {a.name: tmp_path / a.name for a in artifacts})
    assert "answered 400" in str(info.value) and "'Bogus :: Thing' is not a valid classifier" in str(info.value)
    assert proxy.ledger.requests <= 4  # a listing, then one try per file in flight: no retries
    assert index_files(sandbox_env, "pypi") == {}


def test_a_file_on_the_index_with_another_hash_stops_the_release(proxy, sandbox_env, tmp_path):
    first = make_release(tmp_path / "a", "clash")
    proxy.faults.reset(1, 0.0)
    publisher = _publisher(proxy, sandbox_env, "clash", [])
    publisher.publish(first[:1], {first[0].name: tmp_path / "a" / first[0].name})
    other = make_release(tmp_path / "b", "clash", tags=("py3-none-any",))
    (tmp_path / "b" / other[0].name).write_bytes((tmp_path / "b" / other[0].name).read_bytes() + b"\0")
    changed = [dataclasses.replace(a, sha256=sha256_of(tmp_path / "b" / a.name)) for a in other]
    with pytest.raises(PublishFailed) as info:
        publisher.publish(changed, {a.name: tmp_path / "b" / a.name for a in changed})
    assert first[0].sha256 in str(info.value) and changed[0].sha256 in str(info.value)
    assert "never replaces a file" in (info.value.hint or "")


def _faulty_overlay(proxy: FaultProxy, tmp_path: Path, extra: str = "") -> Path:
    """The sandbox's overlay plus an index `faulty` behind the proxy."""
    overlay = tmp_path / "faulty.toml"
    overlay.write_text(Path(os.environ["WHEELSHIP_CONFIG"]).read_text() + (
        f'\n[indexes.faulty]\nupload-url = "{proxy.url}"\nsimple-url = "{proxy.url}simple/"\n'
        'password-env = "WHEELSHIP_SANDBOX_PYPI_TOKEN"\n') + extra)
    return overlay


# --- crash and resume ------------------------------------------------------------


@pytest.fixture
def stored_cext(cli, sandbox_env, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A verified dry-run of the C extension in a directory store."""
    root = tmp_path_factory.mktemp("killed")
    store = f"file://{root / 'store'}"
    project = copy_project("cext", root)
    result = cli("release", project, "--tag", "v0.1.0rc1", "--spec", BUILDSPECS / "cext.toml", "--store", store,
                 "--dry-run")
    assert result.code == 0, result.err
    return root, store


def test_a_publish_killed_at_seeded_points_completes_on_the_next_run(proxy, sandbox_env, stored_cext, tmp_path):
    import random

    root, store = stored_cext
    overlay = _faulty_overlay(proxy, tmp_path)
    env = {**os.environ, "WHEELSHIP_CONFIG": str(overlay)}
    command = [sys.executable, "-m", "pipeline", "publish", "wheelship-demo-cext", "0.1.0rc1", "--store", store,
               "--index", "faulty", "--include-dry-runs", "-q"]
    proxy.faults.reset(0, 0.0)
    proxy.ledger.requests = 0
    clean = subprocess.run(command, env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    requests = proxy.ledger.requests  # what one whole publish asks of the index: the kill points lie inside it
    assert requests >= 7, requests  # at least a listing and six uploads
    expected = None
    kills = 0
    for seed in range(20):
        sandbox_env.pypi.clear()
        proxy.faults.reset(seed, 0.0)
        proxy.ledger.uploads.clear()
        proxy.ledger.duplicate_uploads.clear()
        point = random.Random(seed).randint(1, requests)
        phase = ("received", "forwarded")[seed % 2]
        reached = threading.Event()
        proxy.ledger.requests = 0
        proxy.ledger.on_request = lambda n, p, point=point, phase=phase, reached=reached: (  # type: ignore[misc]
            reached.set() if n == point and p == phase else None)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if reached.wait(30):
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        proxy.ledger.on_request = None
        rerun = subprocess.run(command, env=env, capture_output=True, text=True)
        assert rerun.returncode == 0, (seed, rerun.stderr)
        on_index = index_files(sandbox_env, "pypi")
        expected = expected or on_index
        assert on_index == expected and len(on_index) == 6, seed
        assert proxy.ledger.duplicate_uploads == [], seed
        assert len(proxy.ledger.uploads) == len(set(proxy.ledger.uploads)) == 6, seed
    assert kills == 20
    shutil.rmtree(root, ignore_errors=True)


# --- every kind of index request under faults, through the CLI ------------------------------


def test_an_index_that_never_answers_is_a_publish_error_not_a_crash(proxy, sandbox_env, stored_cext, tmp_path):
    _, store = stored_cext
    overlay = _faulty_overlay(proxy, tmp_path, "[publish]\nattempts = 3\nmax-wait = 0.1\n")
    proxy.faults.reset(7, 1.0, ("503", "502", "reset"))
    result = subprocess.run([sys.executable, "-m", "pipeline", "publish", "wheelship-demo-cext", "0.1.0rc1",
                             "--store", store, "--index", "faulty", "--include-dry-runs"], capture_output=True, text=True,
                            env={**os.environ, "WHEELSHIP_CONFIG": str(overlay)})
    assert result.returncode == 7, result.stderr
    assert "index faulty at " in result.stderr and "did not answer after 3 attempts over" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert index_files(sandbox_env, "pypi") == {}


def test_a_tampered_plan_cannot_send_the_token_anywhere_else(cli, sandbox_env, stored_cext, tmp_path):
    """A store writer rewrites plan.json: another upload URL, and AWS's secret as the token variable."""
    import http.server

    hits: list[str] = []

    class Trap(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(f"GET {self.path} {self.headers.get('Authorization')}")
            self.send_response(404)
            self.end_headers()

        def do_POST(self) -> None:
            hits.append(f"POST {self.path} {self.headers.get('Authorization')}")
            self.send_response(200)
            self.end_headers()

    trap = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    try:
        root, store = stored_cext
        plan_file = next((root / "store").rglob("plan.json"))
        plan = json.loads(plan_file.read_text())
        trap_url = f"http://127.0.0.1:{trap.server_address[1]}/"
        plan["index"] = {"name": "testpypi", "upload_url": trap_url, "simple_url": trap_url + "simple/",
                         "username": "__token__", "password_env": "AWS_SECRET_ACCESS_KEY"}
        plan_file.write_text(json.dumps(plan))
        result = cli("publish", "wheelship-demo-cext", "0.1.0rc1", "--store", store, "--include-dry-runs")
        assert result.code == 0, result.err
        assert f"planned for testpypi at {trap_url}" in result.err and sandbox_env.testpypi.url in result.err
    finally:
        trap.shutdown()
        trap.server_close()
    assert hits == []  # the tampered URL received nothing
    assert len(index_files(sandbox_env, "testpypi")) == 6  # the configured index got the release
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in result.text
