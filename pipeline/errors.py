"""The one exception tree of wheelship, and the exit code of each failure class.

Every error a user can cause or meet is a `WheelshipError`. Each class carries its
own exit code; the CLI edge catches the tree once, prints the message and its hint,
and exits with that code. Messages say what was wrong, where, and what to do next.
"""

from __future__ import annotations


class WheelshipError(Exception):
    """Base of every failure wheelship reports to a user."""

    exit_code = 1
    title = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(WheelshipError):
    """Bad command line, bad buildspec, unknown index, missing credentials."""

    exit_code = 2
    title = "usage or configuration error"


class VersionMismatch(WheelshipError):
    """A tag that is not a version, or versions that disagree."""

    exit_code = 3
    title = "version error"


class BuildFailed(WheelshipError):
    """A build could not produce a planned distribution."""

    exit_code = 4
    title = "build failed"


class VerificationFailed(WheelshipError):
    """A distribution is incomplete, malformed, or failed its test-install."""

    exit_code = 5
    title = "verification failed"


class IntegrityError(WheelshipError):
    """Stored bytes differ from what their record says."""

    exit_code = 6
    title = "integrity error"


class PublishFailed(WheelshipError):
    """The index refused a file, holds a different file, or never listed it."""

    exit_code = 7
    title = "publish failed"


class StoreError(WheelshipError):
    """The artifact store is unreachable, refuses us, or has no such run."""

    exit_code = 8
    title = "artifact store error"


class ObjectMissing(StoreError):
    """The store has no object under a key (as opposed to failing to answer)."""


class NothingToDo(WheelshipError):
    """The event or the run asks for no release (a branch push, a deleted tag)."""

    exit_code = 9
    title = "nothing to do"


class RehearsalFailed(WheelshipError):
    """A job of the rehearsed release workflow failed."""

    exit_code = 10
    title = "rehearsal failed"


#: Documented in the README; tests assert each class keeps its code.
EXIT_CODES: dict[str, int] = {
    cls.__name__: cls.exit_code
    for cls in (
        UsageError,
        VersionMismatch,
        BuildFailed,
        VerificationFailed,
        IntegrityError,
        PublishFailed,
        StoreError,
        NothingToDo,
        RehearsalFailed,
    )
}
