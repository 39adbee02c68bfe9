"""A local Sigstore for the sandbox and the tests, and identity tokens shaped like GitHub's.

`LocalSigstore` runs ``infra/sigstore/server.js``: the Fulcio (certificate authority with
a CT log) and Rekor (transparency log) that Sigstore's authors publish as ``@sigstore/mock``
on npm, on one free loopback port. The server writes a trust configuration
(``ClientTrustConfig``: trusted root and signing configuration) that sigstore-python signs
and verifies with; `env()` points wheelship at it through ``WHEELSHIP_SIGSTORE_TRUST_CONFIG``.
Its keys live in the server's memory: attestations made before a restart no longer verify.

`mint_identity_token` makes an OIDC token with the claims GitHub Actions puts in a job's
token (audience ``sigstore``). It is signed with a throwaway key: the mock Fulcio reads the
claims without checking the signature, and nothing else accepts such a token.

Node's packages come from the npm registry by ``infra/sigstore/package-lock.json``
(``npm ci``) the first time they are needed, so this works in a checkout of wheelship's
repository, not in an installed wheelship alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.attestations import TRUST_CONFIG_ENV
from pipeline.errors import UsageError
from pipeline.loopback import free_port, stop
from pipeline.signing_identity import GITHUB_ISSUER, IDENTITY_TOKEN_ENV

#: Where the Node server lives: the repository's infra/, beside the pipeline package.
INFRA = Path(__file__).resolve().parent.parent / "infra" / "sigstore"
#: The line the server prints once it listens and its trust configuration is written.
READY = "wheelship-sigstore ready "


def infra_dir() -> Path:
    """``infra/sigstore`` of wheelship's checkout; a `UsageError` when wheelship runs
    installed without its repository."""
    if not (INFRA / "server.js").is_file() or not (INFRA / "package-lock.json").is_file():
        raise UsageError(
            f"the local Sigstore needs wheelship's repository: {INFRA} (server.js and package-lock.json) "
            "is missing, as in an installed wheelship",
            hint="run the sandbox or the tests from a clone of wheelship's repository",
        )
    return INFRA


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UsageError(f"the local Sigstore needs `{name}` on PATH (Node.js 20 or later, with npm)",
                         hint="install Node.js and npm, e.g. `apt-get install nodejs npm`")
    return path


def ensure_node_modules(infra: Path) -> None:
    """Install the server's Node packages with ``npm ci`` when they are absent; one process
    at a time (a lock file), as several test sessions may start at once."""
    if _installed(infra):
        return
    # the lock lives outside the checkout, and outside node_modules (which `npm ci` deletes)
    digest = hashlib.sha256(str(infra).encode()).hexdigest()[:16]
    with (Path(tempfile.gettempdir()) / f"wheelship-npm-ci-{digest}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(infra):
            return
        result = subprocess.run([_tool("npm"), "ci", "--prefix", str(infra), "--no-audit", "--no-fund"],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"`npm ci --prefix {infra}` failed ({result.returncode}):\n{result.stderr[-2000:]}")


def _installed(infra: Path) -> bool:
    modules = infra / "node_modules"
    return all((modules / name / "package.json").is_file() for name in ("@sigstore/mock", "express"))


@dataclass
class LocalSigstore:
    """Fulcio and Rekor from ``@sigstore/mock`` on a loopback port, and their trust configuration."""

    root: Path
    port: int = 0
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def trust_config_file(self) -> Path:
        return self.root / "trust-config.json"

    @property
    def log_file(self) -> Path:
        return self.root / "sigstore.log"

    def start(self, timeout: float = 60) -> None:
        infra = infra_dir()
        ensure_node_modules(infra)
        self.root.mkdir(parents=True, exist_ok=True)
        self.trust_config_file.unlink(missing_ok=True)
        self.port = free_port()
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [_tool("node"), str(infra / "server.js"), str(self.port), str(self.trust_config_file)],
                stdout=subprocess.PIPE, stderr=log, text=True, cwd=infra, start_new_session=True,
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None and self.process.stdout is not None
        lines: list[str] = []
        # readline blocks; a timer stops a server that never says it is ready
        timer = threading.Timer(timeout, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                lines.append(line)
                if line.startswith(READY):
                    return
        finally:
            timer.cancel()
        self.process.wait(10)
        raise RuntimeError(f"the local Sigstore exited ({self.process.returncode}) before it was ready "
                           f"(waited up to {timeout:.0f}s); see {self.log_file}:\n"
                           + "".join(lines)[-1000:] + self.log_file.read_text(errors="replace")[-2000:])

    def env(self, identity_token: str | None = None) -> dict[str, str]:
        """What points wheelship's signing and verifying at this Sigstore, and with
        `identity_token` (from `mint_identity_token`) the identity a job signs with."""
        env = {TRUST_CONFIG_ENV: str(self.trust_config_file)}
        if identity_token is not None:
            env[IDENTITY_TOKEN_ENV] = identity_token
        return env

    def stop(self, grace: float = 5) -> None:
        """SIGTERM, wait for the exit, SIGKILL after `grace` seconds."""
        process, self.process = self.process, None
        if process is None:
            return
        stop(process, grace)
        if process.stdout is not None:
            process.stdout.close()


@contextlib.contextmanager
def local_sigstore(root: Path | None = None) -> Iterator[LocalSigstore]:
    """A started `LocalSigstore`, stopped on the way out (its folder removed if it made one)."""
    owned = root is None
    base = Path(tempfile.mkdtemp(prefix="wheelship-sigstore-")) if root is None else root
    server = LocalSigstore(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if owned:
            shutil.rmtree(base, ignore_errors=True)


def mint_identity_token(
    repository: str,
    workflow: str,
    ref: str,
    *,
    sha: str | None = None,
    environment: str | None = None,
    job_workflow_ref: str | None = None,
    event_name: str = "push",
    lifetime: int = 600,
) -> str:
    """An OIDC token with the claims of a GitHub Actions job, for the local Sigstore only.

    `repository` is ``owner/name``, `workflow` the workflow's file name (``release.yml``),
    `ref` a full ref (``refs/tags/v1.0.0``). `job_workflow_ref` is the called workflow's
    ``owner/repo/.github/workflows/file.yml@ref`` when the job runs a reusable workflow;
    by default the job runs `workflow` itself, as a top-level job does.
    """
    owner = repository.split("/", 1)[0]
    sha = sha or secrets.token_hex(20)
    workflow_ref = f"{repository}/.github/workflows/{workflow}@{ref}"
    now = int(time.time())
    subject = f"repo:{repository}:" + (f"environment:{environment}" if environment else f"ref:{ref}")
    claims: dict[str, object] = {
        "iss": GITHUB_ISSUER,
        "aud": "sigstore",
        "sub": subject,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now - 5,
        "exp": now + lifetime,
        "repository": repository,
        "repository_id": "100000001",
        "repository_owner": owner,
        "repository_owner_id": "100000002",
        "repository_visibility": "public",
        "actor": owner,
        "actor_id": "100000002",
        "workflow": Path(workflow).stem,
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": job_workflow_ref or workflow_ref,
        "job_workflow_sha": sha,
        "ref": ref,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "ref_protected": "false",
        "sha": sha,
        "event_name": event_name,
        "run_id": str(now),
        "run_number": "1",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "head_ref": "",
        "base_ref": "",
    }
    if environment:
        claims["environment"] = environment
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "wheelship-local"})
