"""The OIDC identity a publish job signs with, checked against what PyPI will accept.

On GitHub Actions the publish job's token (audience ``sigstore``) is what Fulcio binds
into the signing certificate, and its claims decide whether PyPI accepts the upload: PyPI
finds the trusted publisher by the workflow the job is defined in, and checks attestations
against the run's top-level workflow that the certificate names. This module gets the
token (``WHEELSHIP_SIGSTORE_IDENTITY_TOKEN`` first, for the sandbox and the rehearsal),
reads its claims, and refuses before anything is signed or uploaded an identity PyPI would
refuse. A token is a credential: it is never logged nor put in a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import jwt
import sigstore.errors
from sigstore.oidc import detect_credential

from pipeline.errors import UsageError

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY_TOKEN_ENV = "WHEELSHIP_SIGSTORE_IDENTITY_TOKEN"


class IdentityRejected(UsageError):
    """The job's OIDC identity is missing, unreadable, or one PyPI would not accept."""

    title = "signing identity error"


@dataclass(frozen=True, kw_only=True)
class Publisher:
    """The identity PyPI's trusted publisher names: a repository and its workflow file.

    PyPI does not check the environment against an attestation and neither does this
    module; it is kept so a caller can report what the trusted publisher is configured with.
    """

    repository: str
    workflow: str
    environment: str | None = None

    def describe(self) -> str:
        return f"{self.repository} workflow {self.workflow}"


@dataclass(frozen=True, kw_only=True)
class Claims:
    """The claims of a GitHub Actions OIDC token that decide what PyPI accepts."""

    issuer: str
    repository: str
    repository_owner: str
    workflow_ref: str
    job_workflow_ref: str
    ref: str
    sha: str
    event_name: str
    environment: str | None = None
    runner_environment: str | None = None

    @property
    def workflow(self) -> str:
        """The file name of the run's top-level workflow (what the certificate names)."""
        return workflow_file(self.workflow_ref)

    @property
    def job_workflow(self) -> str:
        """The file name of the workflow the job is defined in (what PyPI looks up)."""
        return workflow_file(self.job_workflow_ref)


def ambient_identity() -> str | None:
    """The job's OIDC token for Sigstore, or None where there is none (not on CI).

    ``WHEELSHIP_SIGSTORE_IDENTITY_TOKEN`` wins (the sandbox and the rehearsal set it); else
    sigstore-python's detection (on GitHub Actions, ``ACTIONS_ID_TOKEN_REQUEST_URL`` and
    ``_TOKEN``). Raises `IdentityRejected` when CI offers an identity that cannot be had,
    such as a GitHub job without ``id-token: write``.
    """
    override = os.environ.get(IDENTITY_TOKEN_ENV)
    if override:
        return override.strip()
    try:
        return detect_credential()
    except sigstore.errors.Error as exc:
        raise IdentityRejected(f"cannot get the job's OIDC identity: {exc}",
                               hint="give the publish job `permissions: id-token: write`") from None


def identity_claims(token: str) -> Claims:
    """The GitHub Actions claims of `token` (read, not verified: Fulcio verifies them)."""
    try:
        raw = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise IdentityRejected(f"the OIDC identity token is not a JWT ({type(exc).__name__})") from None
    if raw.get("iss") != GITHUB_ISSUER:
        raise IdentityRejected(f"the OIDC identity comes from {raw.get('iss')!r}, not GitHub Actions "
                               f"({GITHUB_ISSUER}); wheelship signs PyPI attestations from GitHub Actions only")
    fields = ("repository", "repository_owner", "workflow_ref", "job_workflow_ref", "ref", "sha", "event_name")
    missing = [key for key in fields if not isinstance(raw.get(key), str) or not raw[key]]
    if missing:
        raise IdentityRejected(f"the GitHub Actions identity token lacks the claims {', '.join(missing)}")
    optional = {key: raw[key] for key in ("environment", "runner_environment") if isinstance(raw.get(key), str)}
    return Claims(issuer=raw["iss"], **{key: raw[key] for key in fields}, **optional)


def identity_preflight(claims: Claims, expected: Publisher | None = None) -> None:
    """Refuse, before anything is signed or uploaded, an identity PyPI would refuse.

    PyPI finds the trusted publisher by the workflow the job is defined in
    (``job_workflow_ref``) and checks the attestation against the workflow the
    certificate names (``workflow_ref``, the run's top-level workflow): in a reusable
    workflow the two differ and no trusted publisher satisfies both. With `expected`,
    the token's repository and workflow must also be that publisher's.
    """
    if _workflow_path(claims.job_workflow_ref) != _workflow_path(claims.workflow_ref):
        environment = f", environment {claims.environment}" if claims.environment else ""
        raise IdentityRejected(
            f"this publish job is defined in the reusable workflow {claims.job_workflow} "
            f"({claims.job_workflow_ref}), called from {claims.workflow} ({claims.workflow_ref}). "
            f"PyPI looks the trusted publisher up by {claims.job_workflow}, but the attestation's certificate "
            f"names {claims.workflow}: no trusted publisher accepts both, and PyPI would refuse the upload (400)",
            hint=f"move the publish job into {claims.workflow} itself and configure PyPI's trusted publisher as "
                 f"repository {claims.repository}, workflow {claims.workflow}{environment}; or keep "
                 f"{claims.job_workflow} as the trusted publisher and set `[publish] attestations = \"off\"`")
    if expected is not None and (claims.repository, claims.workflow) != (expected.repository, expected.workflow):
        raise IdentityRejected(
            f"this job signs as {claims.repository} workflow {claims.workflow}, but the trusted publisher "
            f"expected is {expected.describe()}",
            hint="make the trusted publisher on PyPI and wheelship's configuration name the workflow that publishes")


def _workflow_path(workflow_ref: str) -> str:
    """``owner/repo/.github/workflows/file.yml`` of a ``…@ref``."""
    return workflow_ref.partition("@")[0]


def workflow_file(workflow_ref: str) -> str:
    """The file name (``release.yml``) of a workflow ref."""
    return _workflow_path(workflow_ref).rsplit("/", 1)[-1]
