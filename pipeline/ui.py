"""How wheelship looks: progress on a terminal, grouped plain lines on CI, quiet for --json.

Library code logs through `logging` and asks this module for `progress` and
`group`; the CLI edge calls `configure` once to choose the look, as cibuildwheel's
logger does. On GitHub Actions groups are collapsible and errors become annotations.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger("pipeline")


@dataclass
class _Look:
    rich: bool = False
    github: bool = False
    quiet: bool = False


_look = _Look()


def on_github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def on_ci() -> bool:
    return bool(os.environ.get("CI")) or on_github()


def host_description() -> str:
    """Where work runs: the GitHub runner, or this host's name and platform."""
    if on_github():
        return (f"GitHub runner {os.environ.get('RUNNER_NAME', '?')} "
                f"({os.environ.get('ImageOS', os.environ.get('RUNNER_OS', '?'))}, {os.environ.get('RUNNER_ARCH', '?')})")
    import platform
    import socket

    return f"{socket.gethostname()} ({platform.system()} {platform.machine()})"


def configure(*, verbose: bool = False, quiet: bool = False) -> None:
    """Choose the look once, at the CLI edge."""
    _look.github = on_github()
    _look.rich = sys.stderr.isatty() and not on_ci() and not quiet
    _look.quiet = quiet
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    root = logging.getLogger("pipeline")
    root.handlers.clear()
    root.setLevel(level)
    root.propagate = True  # the root logger has no handler of ours; pytest's caplog listens there
    handler: logging.Handler
    if _look.rich:
        from rich.logging import RichHandler

        handler = RichHandler(console=console(), show_time=False, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = _StderrHandler()
        handler.setFormatter(_PlainFormatter())
    root.addHandler(handler)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a record comes, not the stream it was
    when the CLI started (a test's capture, long closed)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


#: Control characters but newline and tab: a record value could move the cursor, clear the
#: terminal or set its title.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def plain(text: str) -> str:
    """Text safe to print: no control characters, and on GitHub Actions no line that
    could be read as a workflow command (``::warning::``, ``::add-mask::``)."""
    text = CONTROL.sub("?", text)
    return re.sub(r"(?m)^(\s*)::", r"\1 ::", text) if _look.github else text


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = plain(record.getMessage())
        if record.levelno >= logging.ERROR:
            return "::error::" + text.replace("\n", "%0A") if _look.github else "error: " + text
        if record.levelno >= logging.WARNING:
            prefix = "::warning::" if _look.github else "warning: "
            return prefix + text
        return text


_console: Console | None = None


def console() -> Console:
    """The one rich console, writing to stderr so stdout stays for data."""
    global _console
    if _console is None:
        from rich.console import Console

        # CI logs are wide; rich's 80-column default would fold every file name.
        width = None if sys.stderr.isatty() else 160
        _console = Console(stderr=True, highlight=False, width=width)
    return _console


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible group on GitHub Actions; a heading line elsewhere."""
    if _look.github:
        print(f"::group::{title}", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            print("::endgroup::", file=sys.stderr, flush=True)
    else:
        if not _look.quiet:
            log.info("── %s", title)
        yield


@contextlib.contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[str], None]]:
    """Yield `advance(item)`; a bar on a terminal, one line per item elsewhere."""
    if _look.rich and total > 1:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[item]}"),
            console=console(),
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=total, item="")
            yield lambda item: bar.update(task, advance=1, item=item)
        log.info("%s: %d done", label, total)
    else:
        done = 0

        def advance(item: str) -> None:
            nonlocal done
            done += 1
            log.info("%s [%d/%d] %s", label, done, total, item)

        yield advance
