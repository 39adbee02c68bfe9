"""What a plan starts early, beside its own work, so that a release does each thing once.

The plan builds the sdist (and a wheel from it, where that wheel can be pure) when it
must learn from them (a dynamic version is read from the sdist's PKG-INFO; a kind
only a wheel shows is read from its tag) or when the same process builds next
(`release`): the build stage then takes those files (`Context.prebuilt`) instead of
building them again. While that build runs, a release also loads what its later
stages need and asks which builder can make each wheel slice here.
"""

from __future__ import annotations

import importlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from pipeline import builders, interpreters, testinstall
from pipeline.builders import BuildJob, Built, run_before_sdist
from pipeline.builders.local import LocalBuilder
from pipeline.context import Context
from pipeline.planning import PURE, SDIST
from pipeline.project import Configuration
from pipeline.records import Slice
from pipeline.stages.build import source_date_epoch

log = logging.getLogger("pipeline.stages.plan")

#: What the later stages of a release load, most of a second of one core between them:
#: the README renderers of verify's checks, the SBOM library, and (unless attestations
#: are off) the signing libraries.
LATER_STAGES_LOAD = ("readme_renderer.rst", "readme_renderer.markdown", "cyclonedx.model.bom",
                     "cyclonedx.output.json")
SIGNING_LIBRARIES = ("pypi_attestations", "sigstore.sign", "sigstore.verify", "sigstore.oidc")

Early = tuple[Built, Built | None]  # the sdist, and the wheel built from it where one was


def build(ctx: Context, config: Configuration, known: tuple[bool, str] | None,
          pool: ThreadPoolExecutor) -> Future[Early] | None:
    """Start building the sdist (and a wheel from it unless the project is known to be
    native) on `pool` where the plan needs it or this process builds next; else None,
    with the buildspec's before-sdist run as the plan's first step."""
    if known is not None and not config.version_is_dynamic and ctx.options.command != "release":
        run_before_sdist(ctx.spec.before_sdist, config.root, ctx.workdir / "before-sdist.log")
        return None
    out = ctx.dist
    out.mkdir(parents=True, exist_ok=True)
    job = BuildJob(project_dir=config.root, slice=SDIST, sdist=None, outdir=out, logdir=ctx.workdir, native=False,
                   requires_python=None, test_command=None, smoke_test="",
                   source_date_epoch=source_date_epoch(config.root), before_sdist=ctx.spec.before_sdist)
    with_wheel = known is None or not known[0]
    if known is None:
        log.info("building the sdist of %s and a wheel from it, to see whether its backend makes a pure or a "
                 "native wheel", config.root.name)
    elif config.version_is_dynamic:
        log.info("building the sdist of %s to read the version its backend gives", config.root.name)

    interpreters.uv_binary()  # the frontend is found (and `uv` imported) here, not on the pool's thread

    def run() -> Early:
        if with_wheel:
            return LocalBuilder().sdist_and_wheel(job)
        return LocalBuilder().build(job)[0], None

    return pool.submit(run)


def wheel_of(early: Early | None) -> Path:
    """The wheel an early build made: there is one whenever the kind was not known."""
    assert early is not None and early[1] is not None
    return early[1].path


def load_later_stages(ctx: Context) -> None:
    """Start finding the interpreters verify test-installs with, and load what verify,
    sbom and attest need, here on the plan's own thread while its build runs on the
    pool's, which only waits for the frontend meanwhile: no import races another."""
    testinstall.find_interpreters_early()
    signing = SIGNING_LIBRARIES if ctx.spec.publish.attestations != "off" else ()
    for module in (*LATER_STAGES_LOAD, *signing):
        try:
            importlib.import_module(module)
        except ImportError:  # the stage that needs it says so, in its own words
            continue


def taken(ctx: Context, building: Future[Early], slices: tuple[Slice, ...], native: bool,
          root: Path) -> dict[str, list[Built]]:
    """The files the build stage takes, by slice: the sdist, and the wheel when pure.
    A release first asks, while the sdist builds, which builder can make each wheel
    slice here: the build stage asks again and finds the slow answers (whether a
    container engine has or can pull cibuildwheel's image) ready; its choice stands."""
    if ctx.options.command == "release":
        for s in slices:
            if s.name not in (SDIST.name, PURE.name):
                builders.find(ctx.options.builder, s, root)
    sdist, wheel = building.result()
    files = {SDIST.name: [sdist]}
    if wheel is not None and not native:
        files[PURE.name] = [replace(wheel, identifier=PURE.identifiers[0])]
    elif wheel is not None:  # it showed the kind; the native wheels are built for each interpreter
        wheel.path.unlink(missing_ok=True)
    return files
