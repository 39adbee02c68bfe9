"""The endpoint-and-keys path to an S3-compatible store: the store's own keys and
endpoint (the variables a workflow sets from the repository's secrets) reach the
server, with no AWS variable set; one key without the other is a usage error."""

from __future__ import annotations

import pytest

from pipeline.errors import UsageError
from pipeline.redaction import redact
from pipeline.stores import open_store

pytestmark = pytest.mark.integration


@pytest.fixture
def keys_only(sandbox_env, monkeypatch):
    """The sandbox's S3 server reached only through WHEELSHIP_STORE_*: no AWS_* at all."""
    s3 = sandbox_env.s3
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
                "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("WHEELSHIP_STORE_ENDPOINT", s3.endpoint)
    monkeypatch.setenv("WHEELSHIP_STORE_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("WHEELSHIP_STORE_SECRET_ACCESS_KEY", s3.secret_key)
    return s3


def test_the_store_keys_reach_the_store(keys_only, s3_store, tmp_path):
    store = open_store(s3_store)
    store.put_json("probe/record.json", b'{"ok": true}')
    assert store.get_json("probe/record.json") == b'{"ok": true}'
    assert store.endpoint == keys_only.endpoint  # type: ignore[attr-defined]
    # the keys are secrets from now on: no log line can show them
    assert keys_only.secret_key not in redact(f"secret={keys_only.secret_key}")


@pytest.mark.parametrize("missing", ["WHEELSHIP_STORE_ACCESS_KEY_ID", "WHEELSHIP_STORE_SECRET_ACCESS_KEY"])
def test_one_key_without_the_other_is_a_usage_error(keys_only, s3_store, monkeypatch, missing):
    monkeypatch.delenv(missing)
    with pytest.raises(UsageError) as caught:
        open_store(s3_store)
    assert missing in str(caught.value)
    assert keys_only.secret_key not in str(caught.value) + str(caught.value.hint)


def test_without_keys_or_aws_credentials_the_store_says_so(keys_only, s3_store, monkeypatch):
    monkeypatch.delenv("WHEELSHIP_STORE_ACCESS_KEY_ID")
    monkeypatch.delenv("WHEELSHIP_STORE_SECRET_ACCESS_KEY")
    from pipeline.errors import StoreError

    with pytest.raises(StoreError):
        open_store(s3_store).get_json("probe/absent.json")


@pytest.mark.parametrize("style", ["path", "virtual", "auto"])
def test_the_buildspecs_addressing_style_reaches_botocore(keys_only, s3_store, style):
    store = open_store(s3_store, addressing_style=style)
    assert store.client.meta.config.s3["addressing_style"] == style  # type: ignore[attr-defined]
    if style == "path":  # SeaweedFS on 127.0.0.1 answers path-style requests
        store.put_json("probe/path.json", b"{}")
        assert store.get_json("probe/path.json") == b"{}"
