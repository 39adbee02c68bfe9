"""An index that echoes the token back, anywhere in its answer, never gets any of it
shown: secrets are masked in the whole text before anything cuts it.

The index here is `Hostile` (a real HTTP server on loopback, tests/test_index_limits.py).
Every check looks for each prefix of 4 characters or more of the token and of its
encodings (base64, URL-quoted, and the `user:token` Basic form) in what a user sees:
the error's message, the log, and the command line's output.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest

from pipeline import index as index_module
from pipeline.errors import PublishFailed
from pipeline.index import Index
from pipeline.publishing import Publisher
from pipeline.redaction import redact, register_secret, shorten
from pipeline.spec import PublishPolicy
from tests.test_index_limits import JSON, Handler, Hostile, reply, run_release

# '/', '+', '=' and ':' so that URL-quoting changes it
TOKEN = "pypi-" + "AgEIcHlwaS5vcmc/Rz9+kL=2:x7YqT3"  # not a token: a scanner-proof look-alike
FORMS = {
    "plain": TOKEN,
    "base64": base64.b64encode(TOKEN.encode()).decode(),
    "quoted": quote(TOKEN, safe=""),
    "basic": base64.b64encode(f"__token__:{TOKEN}".encode()).decode(),
}
CUT = 300  # the index's message is cut to this many characters
OFFSETS = range(0, 401)


@pytest.fixture(autouse=True)
def _token() -> None:
    register_secret(TOKEN, "__token__")


@pytest.fixture
def hostile():  # type: ignore[no-untyped-def]
    with Hostile() as server:
        yield server


def leaks(text: str) -> list[str]:
    """Each form of the token whose first 4 or more characters are in `text`."""
    return [name for name, form in FORMS.items() if any(form[:n] in text for n in range(4, len(form) + 1))]


def echo(body: str, status: int = 403, content_type: str = "text/plain"):  # type: ignore[no-untyped-def]
    return lambda h: reply(h, status, body.encode(), content_type)


def _refusal(index: Index) -> str:
    with pytest.raises(PublishFailed) as info:
        index.listing("pkg")
    return str(info.value)


# --- the masking itself ----------------------------------------------------------


def test_redact_masks_every_form_and_shorten_cuts_only_after():
    for form in FORMS.values():
        for offset in range(CUT + 1):
            text = "." * offset + form + "." * 20
            assert leaks(shorten(text, CUT)) == [], (offset, form)
    assert shorten("x" * 290 + TOKEN, CUT) == "x" * 290 + "***"
    assert shorten("x" * 299 + TOKEN, CUT) == "x" * 299 + "*"


def test_redact_of_text_already_cut_masks_the_secret_s_start():
    for form in FORMS.values():
        for length in range(4, len(form)):
            assert redact("said: " + form[:length], cut=True) == "said: ***"
    assert redact("said: " + TOKEN[:3], cut=True) == "said: " + TOKEN[:3]  # too short to be told apart
    assert redact("pypi-ish words", cut=True) == "pypi-ish words"  # a secret's start only at the very end


# --- an index's error answer, at every offset ----------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "text/html"])
@pytest.mark.parametrize("form", FORMS)
def test_a_token_echoed_at_any_offset_of_a_refusal_is_never_shown(hostile, form, content_type):
    index = hostile.index()
    shown: list[tuple[int, list[str]]] = []
    for offset in OFFSETS:
        body = "." * offset + FORMS[form] + " and the rest of the answer"
        if content_type == "text/html":
            body = f"<html><body><p>{body}</p></body></html>"
        hostile.answer = echo(body, content_type=content_type)
        message = _refusal(index)
        assert "the index answered 403: ." in message or offset == 0, message
        if offset < CUT:
            assert "*" in message  # the echo was cut inside the message, not before it
        if leaks(message):
            shown.append((offset, leaks(message)))
    assert shown == []
    assert len(hostile.requests) == len(OFFSETS)


def test_a_token_in_the_reason_phrase_is_never_shown(hostile):
    index = hostile.index()
    shown = []
    for offset in OFFSETS:
        hostile.answer = lambda h, offset=offset: reply(h, 403, reason="." * offset + TOKEN)
        message = _refusal(index)
        if leaks(message):
            shown.append(offset)
    assert shown == []


@pytest.mark.parametrize("form", FORMS)
def test_a_token_cut_by_the_error_body_cap_is_never_shown(hostile, form):
    # Whitespace up to the 64 KiB cap, the token across it: the cap cuts the token
    # before any masking could see it whole, and the whitespace collapses away.
    index, limit = hostile.index(), index_module.ERROR_LIMIT
    shown = []
    for inside in range(1, len(FORMS[form]) + 1):
        hostile.answer = echo(" " * (limit - inside) + FORMS[form] + " the rest")
        message = _refusal(index)
        if leaks(message):
            shown.append((inside, message[-60:]))
    assert shown == []


def test_a_token_echoed_by_a_failing_index_is_in_no_retry_log_line_nor_the_final_error(hostile, caplog):
    publisher = Publisher(hostile.index(), "pkg", PublishPolicy(attempts=2, max_wait=0.01, timeout=5),
                          sleep=lambda s: None)
    shown = []
    for offset in range(CUT - len(TOKEN) - 5, CUT + 5):
        for form in FORMS.values():
            hostile.answer = echo("." * offset + form, status=503)
            caplog.clear()
            with caplog.at_level(logging.WARNING), pytest.raises(PublishFailed) as info:
                publisher.listing()
            assert "attempt 1 failed" in caplog.text and "the last answer" in str(info.value)
            if leaks(caplog.text) or leaks(str(info.value)):
                shown.append(offset)
    assert shown == []


# --- through the command line -----------------------------------------------------


@pytest.mark.parametrize(("status", "offset"), [(403, 0), (403, CUT - 20), (403, CUT - 4), (403, CUT - 1),
                                                (403, CUT), (503, CUT - 10)])
def test_the_command_line_shows_no_part_of_an_echoed_token(cli, hostile, tmp_path, monkeypatch, caplog, status,
                                                           offset):
    monkeypatch.setenv("HOSTILE_TOKEN", TOKEN)  # as CI sets it; credentials register it
    monkeypatch.delenv("WHEELSHIP_CONFIG", raising=False)
    hostile.answer = echo("." * offset + TOKEN + " " + FORMS["basic"] + " " + FORMS["quoted"], status=status)
    with caplog.at_level(logging.DEBUG):
        result = run_release(cli, hostile, tmp_path)
    assert result.code == 7, result.err
    said = "the index answered 403: " if status == 403 else "/simple/pkg/: 503 "
    assert f"publish failed: listing pkg at {hostile.url}simple/pkg/" in result.err or status == 503, result.err
    assert said in result.err and (offset >= CUT or "*" in result.err)
    assert leaks(result.text) == [] and leaks(caplog.text) == []


def test_an_index_answering_json_still_gets_its_error_masked(hostile):
    index = hostile.index()
    hostile.answer = echo('{"message": "' + "." * 280 + TOKEN + '"}', content_type=JSON)
    message = _refusal(index)
    assert leaks(message) == [] and message.endswith('***"}')


@pytest.mark.parametrize("location", [f"file:///{TOKEN}", f"/pages/{TOKEN}/"])
def test_a_token_in_a_redirect_s_url_is_masked_in_the_error(hostile, location, caplog):
    def answer(h: Handler) -> None:
        if h.path == "/simple/pkg/":
            return reply(h, 302, headers={"Location": location})
        reply(h, 200, b'{"files": [{"filename": "pkg\\u0000.whl", "url": "/f"}, 1]}', JSON)

    hostile.answer = answer
    with caplog.at_level(logging.WARNING):
        message = _refusal(hostile.index())
    assert "***" in message and leaks(message) == [] and leaks(caplog.text) == []
