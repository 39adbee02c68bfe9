"""`wheelship sandbox`: real servers up for a command, and none left behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_command_runs_inside_the_sandbox_and_its_exit_code_comes_back(tmp_path):
    # An unknown project must answer 404 from the sandbox itself, never a redirect to the public index.
    script = ("import os, urllib.error, urllib.request\n"
              "simple = os.environ['WHEELSHIP_SANDBOX_TESTPYPI_SIMPLE']; print(simple)\n"
              "urllib.request.urlopen(simple)\n"
              "class NoRedirect(urllib.request.HTTPRedirectHandler):\n"
              "    def redirect_request(self, *a, **k): return None\n"
              "try: urllib.request.build_opener(NoRedirect).open(simple + 'requests/')\n"
              "except urllib.error.HTTPError as e: print('unknown project:', e.code)\n"
              "raise SystemExit(3)")
    result = subprocess.run([sys.executable, "-m", "pipeline", "sandbox", "--no-s3", "--", sys.executable, "-c",
                             script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    port = int(re.search(r":(\d+)/simple/", result.stdout).group(1))
    assert not _answers(port)  # stopped once the command ended
    assert "unknown project: 404" in result.stdout  # --disable-fallback: no redirect to a public index
    assert "sandbox up: testpypi http://127.0.0.1:" in result.stderr


def test_sigterm_stops_every_server_it_started(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "sandbox", "--no-s3", "--dir", str(tmp_path)],
                            stderr=subprocess.PIPE, text=True, env={**os.environ})
    line = ""
    deadline = time.monotonic() + 60
    while "sandbox up" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", line)]
    assert len(ports) == 3 and all(_answers(p) for p in ports)  # two indexes and the local Sigstore
    env_file = (tmp_path / "sandbox.env")
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    proc.stderr.close()
    assert not any(_answers(p) for p in ports)


def test_what_the_sandbox_holds_is_read_with_its_own_servers_and_keys(sandbox_env, tmp_path, monkeypatch):
    """The rehearsal's reading of the sandbox: every file each index lists, and every file
    the store's runs of a version keep, read back through wheelship's store with the
    sandbox's keys even when this process's environment names another S3 server."""
    from pipeline.records import Artifact, BuildRecord, sha256_of
    from pipeline.runs import Runs, new_run_id
    from pipeline.stores import open_store
    from tests.test_outputs import plan_of

    box = sandbox_env
    assert box.s3 is not None
    project = f"held-{new_run_id().lower().replace('_', '-')}"[:40].rstrip("-")
    runs = Runs(open_store(box.s3.store_url), project, "1.0")
    plan = plan_of(project=project, version="1.0", run_id=new_run_id())
    runs.write_plan(plan)
    sdist = tmp_path / f"{project.replace('-', '_')}-1.0.tar.gz"
    sdist.write_bytes(b"not really an sdist")
    artifact = Artifact(name=sdist.name, identifier="sdist", slice="sdist", kind="sdist", sha256=sha256_of(sdist),
                        size=sdist.stat().st_size, builder="local", tools={}, built_on="here")
    runs.store_record(BuildRecord(slice="sdist", runner="ubuntu-latest", finished="now", artifacts=(artifact,)),
                      {sdist.name: sdist}, plan.run_id)
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "WHEELSHIP_STORE_ENDPOINT"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "not-the-sandboxs")
    assert box.s3.stored(project, "1.0") == {f"runs/{project}/1.0/{plan.run_id}/files/{sdist.name}": artifact.sha256}
    assert box.s3.stored(project, "2.0") == {}
    assert box.listed("testpypi") == {} and box.listed("pypi") == {}
