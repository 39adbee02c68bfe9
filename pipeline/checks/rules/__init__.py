"""What PyPI refuses at upload, rule for rule, with warehouse's own code as the reference.

One module per family of warehouse's upload checks, each small, so that when warehouse
changes a rule one place changes here:

- `filenames`: the file name itself (warehouse/forklift/legacy.py: PEP 625 sdist names,
  wheel names, `_is_valid_dist_file`'s extensions, length and characters);
- `platforms`: wheel platform tags (warehouse/forklift/legacy.py `_valid_platform_tag`);
- `zipframe`: the ZIP structure (warehouse/utils/zipfiles.py: local and central headers,
  data descriptors, comments, trailing data, compression methods, the bomb rule);
- `wheelfiles`: what a wheel must hold (WHEEL, METADATA, RECORD, entry_points.txt,
  License-File, obfuscated modules);
- `tarframe`: an sdist's tar and gzip structure (one top-level folder with PKG-INFO,
  no sparse members, a gzip stream that decompresses to its end, not also a ZIP);
- `fields`: metadata fields as warehouse/forklift/metadata.py validates them;
- `sboms`: PEP 770 SBOMs in a wheel's `.dist-info/sboms/` (PyPI accepts them all today,
  so these rules warn: each SBOM is readable, recorded and about this distribution).

Each family module defines ``RULES``, a tuple of (code, name, severity, summary), and
``check(path, findings, limits)``, which adds a finding per refusal. A rule's docstring
or comment cites the warehouse file and function it mirrors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.checks.rules import fields, filenames, platforms, sboms, tarframe, wheelfiles, zipframe

if TYPE_CHECKING:
    from pipeline.archives import Limits
    from pipeline.checks import Findings

FAMILIES = (filenames, platforms, zipframe, wheelfiles, tarframe, fields, sboms)
RULES: tuple[tuple[str, str, str, str], ...] = tuple(rule for family in FAMILIES for rule in family.RULES)


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """Every family's rules on one distribution file (well named as a wheel or sdist)."""
    for family in FAMILIES:
        family.check(path, findings, limits)
