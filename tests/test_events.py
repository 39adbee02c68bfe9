"""GitHub events become release requests, or "nothing to do"."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import NothingToDo, UsageError
from pipeline.stages.event import request_from_github


def test_a_pushed_tag() -> None:
    r = request_from_github("push", {"ref": "refs/tags/v1.2.0-rc.1"}, "refs/tags/v1.2.0-rc.1", False)
    assert r is not None and r.tag == "v1.2.0-rc.1" and str(r.version) == "1.2.0rc1" and r.trigger == "push"


def test_a_published_release() -> None:
    payload = {"action": "published", "release": {"tag_name": "v2.0.0", "draft": False}}
    r = request_from_github("release", payload, "refs/tags/v2.0.0", False)
    assert r is not None and str(r.version) == "2.0.0" and r.trigger == "release"


def test_workflow_dispatch_with_inputs() -> None:
    payload = {"inputs": {"tag": "v3.1.0", "index": "testpypi", "dry-run": "true"}}
    r = request_from_github("workflow_dispatch", payload, "refs/heads/main", False)
    assert r is not None and r.index == "testpypi" and r.dry_run and str(r.version) == "3.1.0"


def test_a_schedule_is_a_dry_run_at_the_declared_version() -> None:
    assert request_from_github("schedule", {"schedule": "17 3 * * *"}, "refs/heads/main", True) is None


@pytest.mark.parametrize(
    ("name", "payload", "ref", "says"),
    [
        ("push", {"ref": "refs/heads/main"}, "refs/heads/main", "a push to refs/heads/main releases nothing"),
        ("push", {"deleted": True}, "refs/tags/v1.0.0", "a deleted tag releases nothing"),
        ("release", {"action": "published", "release": {"tag_name": "v1", "draft": True}}, "", "draft"),
        ("release", {"action": "created", "release": {"tag_name": "v1"}}, "", "a created release event"),
        ("pull_request", {}, "refs/pull/1/merge", "a pull_request event releases nothing"),
    ],
)
def test_events_that_must_not_release(name: str, payload: dict[str, object], ref: str, says: str) -> None:
    with pytest.raises(NothingToDo, match=says):
        request_from_github(name, payload, ref, False)


def test_dispatch_without_a_tag_needs_dry_run() -> None:
    with pytest.raises(UsageError, match="needs a tag input"):
        request_from_github("workflow_dispatch", {"inputs": {}}, "refs/heads/main", False)


@pytest.mark.integration
def test_nothing_to_do_has_its_own_exit_code_and_stores_no_run(tmp_path, cli, monkeypatch, file_store):
    from tests.conftest import copy_project

    project = copy_project("purepkg", tmp_path)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "deleted": False}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_REF", "refs/heads/main")
    result = cli("plan", project, "--store", file_store)
    assert result.code == NothingToDo.exit_code == 9
    assert "nothing to do: a push to refs/heads/main releases nothing" in result.err
    assert not (tmp_path / "store").exists()


def test_the_run_id_on_github_is_the_workflow_run_and_attempt(monkeypatch) -> None:
    from pipeline.runs import new_run_id

    monkeypatch.setenv("GITHUB_RUN_ID", "123456")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    assert new_run_id() == "gh123456-2"
    monkeypatch.delenv("GITHUB_RUN_ID")
    local = new_run_id()
    assert local[:8].isdigit() and local[8] == "T"  # time-ordered
