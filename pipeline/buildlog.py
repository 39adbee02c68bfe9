"""Build logs: a step's output appended to its log file, and a log's tail for an error."""

from __future__ import annotations

from pathlib import Path

#: How much of a failed step's output an error shows; the whole of it stays in the log file.
TAIL_LINES = 40


def tail(log_file: Path, lines: int = TAIL_LINES) -> str:
    """The last lines of a log, indented, for an error message. Logs hold what tools
    printed, as bytes: read as UTF-8 whatever the platform's default (cp1252 on Windows
    runners), an undecodable byte shown as U+FFFD rather than failing the report."""
    try:
        text = log_file.read_bytes().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return "    (no log)"
    return "\n".join("    " + line for line in text[-lines:]) or "    (the log is empty)"


def append_output(log_file: Path, header: str, *outputs: bytes | str | None) -> None:
    """Add a step's captured output to its log file, as UTF-8."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"{header}\n")
        for output in outputs:
            if output:
                text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else output
                out.write(text if text.endswith("\n") else text + "\n")
