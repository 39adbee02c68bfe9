"""Completeness: every planned identifier exactly once, nothing unplanned."""

from __future__ import annotations

from collections import defaultdict

from pipeline.checks import Findings
from pipeline.records import Artifact, Plan


def check_completeness(plan: Plan, artifacts: list[Artifact], findings: Findings) -> None:
    found: dict[str, list[Artifact]] = defaultdict(list)
    for artifact in artifacts:
        found[artifact.identifier].append(artifact)
    for s in plan.slices:
        for identifier in s.identifiers:
            files = found.get(identifier, [])
            if not files:
                findings.add("WS001", identifier, f"planned {identifier} (slice {s.name}) is missing from the run")
            elif len(files) > 1:
                names = ", ".join(f"{a.name} (slice {a.slice})" for a in files)
                findings.add("WS003", identifier, f"{identifier} (slice {s.name}) is answered twice: {names}")
    planned = set(plan.identifiers)
    for artifact in artifacts:
        if artifact.identifier not in planned:
            findings.add("WS002", artifact.name,
                         f"{artifact.name} from slice {artifact.slice} is {artifact.identifier}, which the plan does not name")
