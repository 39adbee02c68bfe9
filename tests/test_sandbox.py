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
    assert len(ports) == 2 and all(_answers(p) for p in ports)
    env_file = (tmp_path / "sandbox.env")
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    proc.stderr.close()
    assert not any(_answers(p) for p in ports)
