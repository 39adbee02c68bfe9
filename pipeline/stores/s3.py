"""A store in S3-compatible object storage (AWS S3, MinIO, SeaweedFS, R2) through boto3.

The endpoint comes from ``WHEELSHIP_STORE_ENDPOINT``, ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL``, else the buildspec's ``[s3] endpoint-url``; credentials from the
store's own keys (``WHEELSHIP_STORE_ACCESS_KEY_ID`` and ``…_SECRET_ACCESS_KEY``) when
set, else the standard AWS chain (environment, profiles, GitHub OIDC roles through
configure-aws-credentials).
Each object carries its SHA-256 in its metadata (``x-amz-meta-sha256``) and, where
the server supports it, as an S3 SHA-256 checksum the server itself checks.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipeline.errors import IntegrityError, ObjectMissing, StoreError, UsageError
from pipeline.redaction import register_secret
from pipeline.stores.base import FILE_LIMIT, RECORD_LIMIT

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

MiB = 1 << 20
ATTEMPTS = 10  # at a 30% fault rate, ten failures in a row come once in 170,000 requests


#: The endpoint-and-keys path (any S3-compatible server: R2, B2, MinIO, Wasabi, GCS's
#: S3 interface): a workflow sets these from the repository's variable and secrets,
#: in the publish job only. Absent, boto3's own chain (an AWS role, a profile) applies.
ENDPOINT_VARIABLE = "WHEELSHIP_STORE_ENDPOINT"
KEY_ID_VARIABLE = "WHEELSHIP_STORE_ACCESS_KEY_ID"
SECRET_VARIABLE = "WHEELSHIP_STORE_SECRET_ACCESS_KEY"


def store_keys() -> dict[str, str]:
    """The store's own keys when both are set (registered as secrets, so no log shows
    them), none when neither is; one without the other is a usage error."""
    key_id, secret = os.environ.get(KEY_ID_VARIABLE, ""), os.environ.get(SECRET_VARIABLE, "")
    if bool(key_id) != bool(secret):
        missing = SECRET_VARIABLE if key_id else KEY_ID_VARIABLE
        raise UsageError(f"{missing} is not set, but {KEY_ID_VARIABLE if key_id else SECRET_VARIABLE} is",
                         hint="set both of the store's keys (the repository secrets of the same names), or neither "
                              "to use an AWS role or profile")
    if not key_id:
        return {}
    register_secret(key_id)
    register_secret(secret)
    return {"aws_access_key_id": key_id, "aws_secret_access_key": secret}


class S3Store:
    def __init__(self, url: str, *, endpoint_url: str | None = None, region: str | None = None,
                 attempts: int = ATTEMPTS, read_timeout: float = 120.0, keys: dict[str, str] | None = None,
                 addressing_style: Literal["auto", "path", "virtual"] = "auto") -> None:
        """`keys` (``aws_access_key_id`` and ``aws_secret_access_key``) with `endpoint_url`
        name a server outright, whatever the environment says (the sandbox's)."""
        import boto3
        import botocore.config
        from boto3.s3.transfer import TransferConfig

        rest = url.removeprefix("s3://")
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise StoreError(f"store URL {url!r} names no bucket", hint="use s3://BUCKET/PREFIX")
        self.prefix = prefix.strip("/")
        self.url = url
        self.endpoint = endpoint_url if keys is not None else (
            os.environ.get(ENDPOINT_VARIABLE) or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL") or endpoint_url)
        # The store's retry policy is botocore's own standard mode, sized for a release:
        # every request (HEAD, PUT, GET, LIST, each multipart part) is retried on
        # connection errors, 500/502/503/504, throttling (503 SlowDown, 429) and
        # timeouts, with capped exponential backoff and jitter, up to ATTEMPTS times.
        # A PUT whose answer was lost is sent again; that is safe, the bytes are the same.
        config = botocore.config.Config(
            retries={"mode": "standard", "max_attempts": attempts},
            connect_timeout=5, read_timeout=read_timeout, max_pool_connections=32,
            s3={"addressing_style": addressing_style},
        )
        chosen = store_keys() if keys is None else keys
        session = boto3.session.Session(aws_access_key_id=chosen.get("aws_access_key_id"),
                                        aws_secret_access_key=chosen.get("aws_secret_access_key"))
        self.client = session.client(
            "s3", endpoint_url=self.endpoint, config=config,
            region_name=region or session.region_name or "us-east-1",
        )
        self.transfer = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB,
                                       max_concurrency=4, use_threads=True)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Translate boto's failures into a `StoreError` that says what to do."""
        import botocore.exceptions as bx
        from boto3.exceptions import S3UploadFailedError
        from s3transfer.exceptions import RetriesExceededError, S3DownloadFailedError

        where = f"{self.url}" + (f" at {self.endpoint}" if self.endpoint else "")
        try:
            yield
        except bx.NoCredentialsError:
            raise StoreError(f"no AWS credentials to {doing} in {where}",
                             hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or an OIDC role") from None
        except (bx.EndpointConnectionError, bx.ConnectTimeoutError) as exc:
            raise StoreError(f"cannot reach the S3 endpoint to {doing} in {where}: {exc}",
                             hint="check AWS_ENDPOINT_URL_S3 or [s3] endpoint-url, and that the server runs") from None
        except (bx.BotoCoreError, RetriesExceededError, S3UploadFailedError, S3DownloadFailedError) as exc:  # retries exhausted: resets, read timeouts, streams cut
            raise StoreError(f"could not {doing} in {where}: {type(exc).__name__}: {exc} (the store's retry "
                             "policy gave up)",
                             hint="the S3 server is failing or overloaded; run the same command again: "
                                  "objects already stored are not sent again") from None
        except bx.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket",):
                raise StoreError(f"bucket {self.bucket!r} does not exist ({where})",
                                 hint="create it (infra/ has a template) or fix the store URL") from None
            if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "ExpiredToken"):
                raise StoreError(f"the S3 server refused our credentials to {doing} in {where} ({code})",
                                 hint="check the AWS credentials and that they may use this bucket prefix") from None
            raise StoreError(f"S3 error {code or '?'} while trying to {doing} in {where}: "
                             f"{exc.response.get('Error', {}).get('Message', '')} (after the store's retries)",
                             hint="the S3 server is failing or overloaded; run the same command again: "
                                  "objects already stored are not sent again") from None

    @functools.cached_property
    def _sha256_checksums(self) -> bool:
        """Whether the server takes S3's SHA-256 checksums (AWS does; some servers do not)."""
        return os.environ.get("WHEELSHIP_S3_SHA256_CHECKSUM", "1") != "0"

    def put_file(self, key: str, path: Path, sha256: str) -> bool:
        if self.stored_sha256(key) == sha256:
            return False
        extra: dict[str, Any] = {"Metadata": {"sha256": sha256}}
        if self._sha256_checksums:
            extra["ChecksumAlgorithm"] = "SHA256"
        with self._errors(f"store {key}"):
            self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs=extra, Config=self.transfer)
        return True

    def get_file(self, key: str, dest: Path, limit: int = FILE_LIMIT) -> None:
        import botocore.exceptions as bx

        with self._errors(f"fetch {key}"):
            try:
                size = self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
                if size > limit:
                    raise IntegrityError(f"{key} in {self.url} holds {size} bytes, more than the {limit} it may",
                                         hint="someone changed the store; nothing was written or uploaded")
                self.client.download_file(self.bucket, self._key(key), str(dest), Config=self.transfer)
            except bx.ClientError as exc:
                if _missing(exc):
                    raise ObjectMissing(f"{key} is missing from {self.url}") from None
                raise

    def put_json(self, key: str, data: bytes) -> None:
        import hashlib

        with self._errors(f"write {key}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                   ContentType="application/json",
                                   Metadata={"sha256": hashlib.sha256(data).hexdigest()})

    def get_json(self, key: str) -> bytes | None:
        import botocore.exceptions as bx

        with self._errors(f"read {key}"):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
                if answer["ContentLength"] > RECORD_LIMIT:
                    raise IntegrityError(f"{key} in {self.url} holds {answer['ContentLength']} bytes, more than "
                                         f"a record may ({RECORD_LIMIT})", hint="someone changed the store; nothing "
                                         "was written or uploaded")
                return answer["Body"].read(RECORD_LIMIT + 1)
            except bx.ClientError as exc:
                if _missing(exc):
                    return None
                raise

    def stored_sha256(self, key: str) -> str | None:
        import botocore.exceptions as bx

        with self._errors(f"look up {key}"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except bx.ClientError as exc:
                if _missing(exc):
                    return None
                raise
        return head.get("Metadata", {}).get("sha256")

    def list(self, prefix: str) -> list[str]:
        keys = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        with self._errors(f"list {prefix or 'the store'}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)
            ):
                keys += [obj["Key"][strip:] for obj in page.get("Contents", [])]
        return sorted(keys)


def _missing(exc: ClientError) -> bool:
    """The object is not there (the code differs by call and by server)."""
    return exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")
