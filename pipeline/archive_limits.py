"""What one wheel or sdist may hold, and the errors for one that holds more or cannot be read.

Each limit is checked before the bytes it guards are decompressed (pipeline.archives
for wheels, pipeline.sdists for sdists). Past a limit: `LimitExceeded`, naming the
member and its size. A file that is not the archive its name says, or a damaged one:
`Unreadable`. Both are `VerificationFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import VerificationFailed
from pipeline.speckeys import is_size, key, positive, size_in_bytes

MiB, GiB = 1 << 20, 1 << 30
#: Below this size any compression ratio is fine, as on PyPI, which refuses a ZIP member
#: only when it is over 64 MiB *and* over 50x its compressed size.
RATIO_FLOOR = 64 * MiB
CHUNK = MiB  # what a stream is read by


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one wheel or sdist may hold; the buildspec's ``[limits]`` table changes each.

    Sized from real files with margin. The largest of each, measured on 2026-12-01 over
    the top-100 corpus (253 files, tests/corpus/top-pypi.json) and torch 2.13.0+cpu
    (cp311 manylinux_2_28 x86_64, 192 MB), in parentheses the corpus alone:
    """

    #: a member: 434,184,800 B, torch/lib/libtorch_cpu.so (48,696,144, pyarrow's libarrow.so)
    member_size: int = key("member-size", is_size, 2 * GiB, example="512 MiB", convert=size_in_bytes)
    #: all members: 699,298,109 B, torch (171,390,364, a pyarrow wheel; sdists 140,534,550, botocore)
    total_size: int = key("total-size", is_size, 8 * GiB, example="1 GiB", convert=size_in_bytes)
    #: members: 12,248, torch (9,226, the awscli sdist)
    members: int = key("members", positive(int), 100_000, example=5_000)
    #: for a member over 64 MiB: 3.8x, libtorch_cpu.so; a whole archive over 64 MiB: 8.3x, the
    #: botocore sdist (any size: 9.0x, pygments). Under 64 MiB no limit: pillow's 2.1 MB libXau is 224x.
    #: Past 50x a ZIP member over 64 MiB is refused by PyPI anyway.
    compression_ratio: float = key("compression-ratio", positive(float), 50, example=80.0)
    #: METADATA or PKG-INFO: 141,528 B, pydantic; RECORD: 1,294,660 B, torch (887,182, awscli);
    #: entry_points.txt: 2,449 B, setuptools; WHEEL: 190 B
    metadata_size: int = key("metadata-size", is_size, 16 * MiB, example=1_048_576, convert=size_in_bytes)


DEFAULT_LIMITS = Limits()


class ArchiveError(VerificationFailed):
    """A wheel or sdist that cannot be read as one, or that passes a limit."""


class LimitExceeded(ArchiveError):
    """Past one of `Limits`; the message names the member, its size and the limit's key."""

    def __init__(self, what: str, limit: str, key: str) -> None:
        super().__init__(f"{what}: over {limit}, so wheelship read no further; if the file is genuine, raise "
                         f"[limits] {key} in the buildspec",
                         hint="a real distribution is far within the limits: rebuild the file, or raise the limit "
                              "named if the file is genuine")


class Unreadable(ArchiveError):
    """Not the archive its name says, or damaged."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="rebuild it with a PEP 517 frontend (python -m build), or download it again")


def size_text(n: float) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} bytes"


def too_many(limits: Limits) -> LimitExceeded:
    return LimitExceeded(f"the archive holds more than {limits.members:,} members",
                         f"the limit of {limits.members:,} members", "members")


def admit(name: str, size: int, count: int, total: int, limits: Limits, *, metadata: bool) -> int:
    """`size` if one more member `name` keeps the archive within `limits`; else raises."""
    if count >= limits.members:
        raise too_many(limits)
    if size < 0:
        raise Unreadable(f"{name} declares a negative size; the archive is damaged or forged")
    cap, key, kind = (limits.metadata_size, "metadata-size", "a metadata file") if metadata else \
        (limits.member_size, "member-size", "a member")
    if size > cap:
        raise LimitExceeded(f"{name} unpacks to {size_text(size)} ({size:,} bytes)",
                            f"the {size_text(cap)} limit for {kind}", key)
    if total + size > limits.total_size:
        raise LimitExceeded(f"the members up to {name} unpack to {size_text(total + size)}",
                            f"the {size_text(limits.total_size)} limit for the total", "total-size")
    return size


def check_ratio(what: str, out: int, packed: int, limits: Limits) -> None:
    if out > RATIO_FLOOR and out > limits.compression_ratio * max(packed, 1):
        raise LimitExceeded(f"{what} unpacks to {size_text(out)} from {size_text(packed)} "
                            f"({out / max(packed, 1):.0f}x)",
                            f"the {limits.compression_ratio:g}x compression-ratio limit for anything over 64 MiB",
                            "compression-ratio")
