"""The buildspec's key table: what each key accepts, where it is written, how it is read.

Each key is one field of a frozen dataclass (`pipeline.spec.Spec` and its
`PublishPolicy`, `pipeline.archive_limits.Limits`, `pipeline.indexes.IndexConfig`),
declared with one of the functions below. The field's default is the key's default;
the `Key` they keep in the field's metadata is the key's row: where it is written,
what it accepts, how its value is held, and a value it takes. Validation, layering
and the environment variables (pipeline.spec) are derived from those rows, so a new
key is one new field. This module imports nothing of wheelship's, so that any
module may declare keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

T = TypeVar("T")
#: What a key accepts: the value as written in, returning what was expected or None if fine.
Validator = Callable[[Any], str | None]
METADATA = "wheelship.key"


def _as_written(value: Any) -> Any:
    return value


def _anything(value: Any) -> str | None:
    return None


@dataclass(frozen=True, kw_only=True)
class Key:
    """One buildspec key's row.

    `path` is where it is written: ``store``, or ``s3.endpoint-url`` for a field of
    `Spec` kept in a table, or its name in the table for a field of a nested
    dataclass (``attempts`` in ``[publish]``). `kind` says what it holds: a
    ``value``; a ``table`` whose keys are the fields of the nested dataclass the
    field holds; ``names``, a table of NAME = value (each NAME one of `names()`,
    each value `check`ed) merged over the layer below; or ``entries``, a table of
    NAME tables, each read into `entry`, a dataclass whose fields are keys."""

    path: str
    kind: Literal["value", "table", "names", "entries"] = "value"
    check: Validator = _anything
    convert: Callable[[Any], Any] = _as_written  # the value as the dataclass holds it
    example: Any = None  # a value it takes, other than its default
    names: Callable[[], Collection[str]] = tuple
    expected: str = "a table"  # said when a table key's value is not a table
    entry: type | None = None  # a ``table``'s dataclass, or each of the ``entries``

    @property
    def from_environment(self) -> bool:
        """A top-level value: ``store`` is also read from ``WHEELSHIP_STORE``."""
        return self.kind == "value" and "." not in self.path


def key(path: str, check: Validator, default: T, *, example: Any, convert: Callable[[Any], Any] = _as_written,
        ) -> T:
    """A field that is the value key `path`."""
    row = Key(path=path, check=check, convert=convert, example=example)
    result: T = field(default=default, metadata={METADATA: row})
    return result


def required(path: str, check: Validator, *, example: Any) -> Any:
    """A field with no default that is the value key `path` (an index's URLs)."""
    return field(metadata={METADATA: Key(path=path, check=check, example=example)})


def table(path: str, default: T) -> T:
    """A field holding a nested dataclass whose fields are the keys of the table `path`."""
    result: T = field(default=default, metadata={METADATA: Key(path=path, kind="table", entry=type(default))})
    return result


def names(path: str, check: Validator, of: Callable[[], Collection[str]], *, expected: str, example: Any) -> Any:
    """A field holding the table `path` of NAME = value, merged over the layer below."""
    row = Key(path=path, kind="names", check=check, names=of, expected=expected, example=example)
    return field(default_factory=dict, metadata={METADATA: row})


def entries(path: str, entry: type, *, expected: str, example: Any) -> Any:
    """A field holding the table `path` of NAME tables, each one `entry`."""
    row = Key(path=path, kind="entries", entry=entry, expected=expected, example=example)
    return field(default_factory=dict, metadata={METADATA: row})


def rows(cls: type) -> Iterator[tuple[str, Key]]:
    """(field name, row) for each field of the dataclass `cls` that is a key."""
    for f in dataclasses.fields(cls):
        if METADATA in f.metadata:
            yield f.name, f.metadata[METADATA]


def by_path(cls: type) -> dict[str, tuple[str, Key]]:
    """(field name, row) for each key of the dataclass `cls`, by where it is written."""
    return {row.path: (name, row) for name, row in rows(cls)}


def env_name(path: str) -> str:
    """The environment variable that overrides a top-level key."""
    return "WHEELSHIP_" + path.upper().replace("-", "_")


# --- what keys accept --------------------------------------------------------------


def is_str(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "a non-empty string"


def is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def is_url(value: Any) -> str | None:
    ok = isinstance(value, str) and value.startswith(("http://", "https://"))
    return None if ok else "an http:// or https:// URL"


def is_store_url(value: Any) -> str | None:
    ok = isinstance(value, str) and value.startswith(("file://", "s3://"))
    return None if ok else "a store URL starting with file:// or s3://"


def is_env_name(value: Any) -> str | None:
    ok = isinstance(value, str) and value.replace("_", "").isalnum() and not value[0].isdigit()
    return None if ok else "the name of an environment variable, such as PYPI_API_TOKEN"


def is_names(value: Any) -> str | None:
    ok = isinstance(value, list) and all(
        isinstance(v, str) and v.replace(".", "_").isidentifier() for v in value
    )
    return None if ok else "a list of importable module names, such as [\"mypkg\"]"


def one_of(*choices: str) -> Validator:
    def check(value: Any) -> str | None:
        return None if value in choices else "one of " + ", ".join(map(repr, choices))

    return check


def list_of(*choices: str) -> Validator:
    def check(value: Any) -> str | None:
        ok = isinstance(value, list) and all(v in choices for v in value)
        return None if ok else "a list drawn from " + ", ".join(choices)

    return check


def positive(kind: type[int] | type[float]) -> Validator:
    def check(value: Any) -> str | None:
        ok = isinstance(value, kind | int) and not isinstance(value, bool) and value > 0
        return None if ok else f"a positive {'number' if kind is float else 'whole number'}"

    return check


SIZE_UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?\s*")


def size_in_bytes(value: Any) -> int | None:
    """A size given as bytes (1048576) or with a binary unit ("512 MiB"), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    match = SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    size = int(float(match.group(1)) * SIZE_UNITS[match.group(2) or ""])
    return size if size > 0 else None


def is_size(value: Any) -> str | None:
    return None if size_in_bytes(value) is not None else 'a size: a number of bytes, or a string such as "512 MiB"'


#: Characters a typist mistakes for each other: a check code typed with a letter O.
LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1"})


def did_you_mean(name: str, known: Collection[str]) -> str:
    candidates = list(known)
    alike = [k for k in candidates if k.translate(LOOKALIKES) == name.translate(LOOKALIKES)]
    close = alike or difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
