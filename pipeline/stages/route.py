"""route: where a release event goes, decided in a job that runs no project code.

The jobs that plan, build and verify run the project's code, so what they output is
input, not an order. The publish job's environment, index, tag and dry-run flag come
from here instead: the event itself (the tag pushed or dispatched, the dispatch's
inputs, the schedule), the version the tag names, and the routing the committed
buildspec declares, read as TOML and never executed. Written to ``GITHUB_OUTPUT`` as
the keys of `pipeline.outputs.ROUTE`.
"""

from __future__ import annotations

import logging

from pipeline.context import Context, Stage
from pipeline.outputs import ROUTE
from pipeline.records import write_json_atomic
from pipeline.stages.plan import routed_index
from pipeline.versioning import is_prerelease

log = logging.getLogger(__name__)

#: The GitHub environment of a publish job that uploads nothing.
DRY_RUN_ENVIRONMENT = "dry-run"


def route(ctx: Context) -> dict[str, str]:
    """The publish job's inputs, from the release request alone."""
    request = ctx.request
    assert request is not None
    if request.tag:
        index = routed_index(ctx, request.index, is_prerelease(request.version))
    else:  # a scheduled dry run: the declared version, which only the plan (project code) can read
        index = request.index or ""
    return {"tag": request.tag, "version": str(request.version) if request.tag else "", "index": index,
            "environment": DRY_RUN_ENVIRONMENT if request.dry_run else index,
            "dry-run": "true" if request.dry_run else "false",
            "github-release": "true" if ctx.spec.github_release and request.tag and not request.dry_run else "false"}


class Route(Stage):
    name = "route"

    def run(self, ctx: Context) -> None:
        outputs = route(ctx)
        ROUTE.write(outputs)
        if ctx.options.json_path:
            write_json_atomic(ctx.options.json_path, outputs)
        log.info("route: %s", ", ".join(f"{k} {v or '(none)'}" for k, v in outputs.items()))
