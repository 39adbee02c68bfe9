"""The one named retry policy for talking to indexes, by class of failure.

Retried, with capped exponential backoff and jitter: connection errors, timeouts
(an answer that outlasts its deadline included), answers larger than their cap,
5xx, 429 (waiting at least its ``Retry-After``), and PyPI's temporary read-only
403. Not retried: every other 4xx, whose message from the index is shown.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import requests
import tenacity

from pipeline.errors import PublishFailed
from pipeline.redaction import redact
from pipeline.spec import PublishPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")


class Transient(Exception):
    """A failure worth another try; `retry_after` is the index's own wish, if any, and
    `hint` what to do if every try fails the same way."""

    def __init__(self, what: str, retry_after: float | None = None, *, hint: str | None = None) -> None:
        super().__init__(what)
        self.retry_after = retry_after
        self.hint = hint


# ChunkedEncodingError: the connection broke in the middle of an answer's body.
TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, Transient)


def retry_after(response: requests.Response) -> float | None:
    """The wait the index asks for, in seconds (a number or an HTTP date); None if it
    asks for none, or in words that are neither."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_transient(status: int, text: str) -> bool:
    """Whether an index's error answer (its status and its text) may pass."""
    if status >= 500 or status == 429:
        return True
    # PyPI answers 403 "read-only mode" during maintenance; that passes.
    return status == 403 and "read-only" in text.lower()


RETRY_AFTER_CAP = 300.0  # an index asking for more than five minutes is treated as down


class _WaitRespectingRetryAfter(tenacity.wait.wait_base):
    """The backoff, but never shorter than the index's Retry-After (up to a cap)."""

    def __init__(self, base: tenacity.wait.wait_base, cap: float = RETRY_AFTER_CAP) -> None:
        self.base, self.cap = base, cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self.base(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, Transient) and error.retry_after is not None:
            wait = max(wait, min(error.retry_after, self.cap))
        return wait


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("attempt %d failed (%s); retrying in %.1fs", state.attempt_number,
                redact(str(error) or type(error).__name__), state.upcoming_sleep)


def index_policy(policy: PublishPolicy, *, initial: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> tenacity.Retrying:
    """The `index` retry policy: what every request to an index goes through."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TRANSIENT),
        wait=_WaitRespectingRetryAfter(
            # capped exponential backoff plus jitter, spelled to work on every tenacity >= 8
            tenacity.wait_exponential(multiplier=initial, max=policy.max_wait) + tenacity.wait_random(0, initial),
        ),
        stop=tenacity.stop_after_attempt(policy.attempts),
        before_sleep=_log_retry,
        sleep=sleep,
        reraise=True,
    )


def call(policy: PublishPolicy, what: str, fn: Callable[..., T], *args: object, failed: str = "did not succeed",
         sleep: Callable[[float], None] = time.sleep, server: str = "the index") -> T:
    """`fn(*args)` under the index policy. A transient failure that outlasts the policy
    is a `PublishFailed` naming the request, the attempts, the time and the last answer,
    never an internal error; `server` is who failed to answer, for the hint."""
    started = time.monotonic()
    retrying = index_policy(policy, sleep=sleep)
    try:
        return retrying(fn, *args)
    except TRANSIENT as exc:
        attempts = retrying.statistics.get("attempt_number", policy.attempts)
        raise PublishFailed(
            f"{what} {failed} after {attempts} attempts over {time.monotonic() - started:.1f} seconds; "
            f"the last answer: {redact(str(exc) or type(exc).__name__)}",
            hint=getattr(exc, "hint", None) or f"{server} is down or overloaded; run the same command again "
                 "later: it resumes where it stopped and never sends a file twice",
        ) from None

