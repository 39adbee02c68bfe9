"""The command line: parsing only, then the callable core; one handler at the edge.

Every failure wheelship knows is a `WheelshipError` with its own exit code; the
handler here prints its message and hint (secrets removed) and exits with that
code. Anything else is a bug: one line, no traceback unless --verbose.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pipeline import __version__, ui
from pipeline.context import Context, Options
from pipeline.errors import EXIT_CODES, NothingToDo, UsageError, WheelshipError
from pipeline.redaction import redact
from pipeline.rehearsal import EVENTS

if TYPE_CHECKING:
    from pipeline.commands import StoredVersion

log = logging.getLogger("pipeline")

EPILOG = "exit codes: 0 ok, " + ", ".join(f"{code} {name}" for name, code in EXIT_CODES.items()) + \
    ", 70 internal error"


def _common(parser: argparse.ArgumentParser, *, json_out: bool = False) -> None:
    parser.add_argument("--spec", type=Path, help="buildspec TOML file (default: [tool.wheelship] in pyproject.toml)")
    parser.add_argument("--store", help="artifact store URL: file://PATH or s3://BUCKET/PREFIX")
    parser.add_argument("-v", "--verbose", action="store_true", help="say more")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--workdir", type=Path, default=_env("WHEELSHIP_WORKDIR"),
                        help="folder for builds, logs and downloads (default: $WHEELSHIP_WORKDIR, else a temporary one)")
    if json_out:
        parser.add_argument("--json", dest="json_path", type=Path, metavar="FILE", help="write the facts as JSON")


def _env(name: str) -> str | None:
    """A job input from the environment, so workflow steps carry no shell syntax."""
    return os.environ.get(name) or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wheelship", description="Release a Python project: plan, build, store, verify, publish.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"wheelship {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _run_commands(sub)
    _stored_commands(sub)
    _file_and_project_commands(sub)
    return parser


def _run_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that run a release's stages on a project folder."""
    p = sub.add_parser("release", help="every stage on this machine", epilog=EPILOG)
    p.add_argument("project_dir", type=Path, metavar="PROJECT_DIR")
    p.add_argument("--tag", help="the tag to release, such as v1.2.0 (default: the GitHub event)")
    p.add_argument("--index", help="publish to this index instead of the routed one")
    p.add_argument("--dry-run", action="store_true", help="do everything but upload")
    p.add_argument("--builder", choices=("auto", "local", "cibuildwheel"), default="auto")
    _common(p, json_out=True)

    p = sub.add_parser("plan", help="plan a release and store it as a new run", epilog=EPILOG)
    p.add_argument("project_dir", type=Path, metavar="PROJECT_DIR")
    p.add_argument("--tag", help="the tag to release (default: the GitHub event)")
    p.add_argument("--index", help="publish to this index instead of the routed one")
    p.add_argument("--dry-run", action="store_true", help="plan a rehearsal that will not upload")
    p.add_argument("--event", dest="event_file", type=Path, help="a GitHub event payload file")
    p.add_argument("--host", dest="host_only", action="store_true", default=_env("WHEELSHIP_REHEARSAL") == "1",
                   help="plan only what this host can build (default: on in a `wheelship rehearse`)")
    _common(p, json_out=True)

    p = sub.add_parser("route", help="where a release event goes (the publish job's inputs); runs no project code",
                       epilog=EPILOG)
    p.add_argument("project_dir", type=Path, nargs="?", default=Path("."), metavar="PROJECT_DIR")
    p.add_argument("--tag", help="the tag to release (default: the GitHub event)")
    p.add_argument("--index", help="publish to this index instead of the routed one")
    p.add_argument("--dry-run", action="store_true", help="a rehearsal that will not upload")
    p.add_argument("--event", dest="event_file", type=Path, help="a GitHub event payload file")
    _common(p, json_out=True)

    p = sub.add_parser("build", help="build a run's slices and store them", epilog=EPILOG)
    p.add_argument("project_dir", type=Path, metavar="PROJECT_DIR")
    p.add_argument("--run-id", default=_env("WHEELSHIP_RUN_ID"), help="the run (default: $WHEELSHIP_RUN_ID)")
    p.add_argument("--slice", default=_env("WHEELSHIP_SLICE"),
                   help="the slice to build (default: $WHEELSHIP_SLICE, else every slice this host can build)")
    p.add_argument("--builder", choices=("auto", "local", "cibuildwheel"), default="auto")
    _common(p)


def _stored_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands on a stored run: NAME VERSION, in a store."""
    for name, text in (("verify", "verify a stored run"), ("publish", "publish a stored, verified run"),
                       ("status", "show the runs of a version"), ("fetch", "download a run's files, verified"),
                       ("copy", "copy a run into --store from another store, every file checked"),
                       ("github-release", "make the tag's GitHub Release hold a published run's files, "
                                          "SHA256SUMS, SBOM and attestations")):
        p = sub.add_parser(name, help=text, epilog=EPILOG)
        p.add_argument("name", metavar="NAME", nargs="?", default=_env("WHEELSHIP_PROJECT"),
                       help="the project (default: $WHEELSHIP_PROJECT)")
        p.add_argument("version", metavar="VERSION", nargs="?", default=_env("WHEELSHIP_VERSION"),
                       help="its version (default: $WHEELSHIP_VERSION)")
        if name != "status":
            p.add_argument("--run-id", default=_env("WHEELSHIP_RUN_ID"),
                           help="the run (default: $WHEELSHIP_RUN_ID, else the newest tagged release)")
        if name == "publish":
            p.add_argument("--index", default=_env("WHEELSHIP_INDEX"),
                           help="publish to this index (default: $WHEELSHIP_INDEX, else the index the configuration "
                                "in force routes the version to; a stored plan never chooses)")
            p.add_argument("--dry-run", action="store_true", default=_env("WHEELSHIP_DRY_RUN") == "true",
                           help="do everything but upload (default: $WHEELSHIP_DRY_RUN is true)")
            p.add_argument("--tag", default=_env("WHEELSHIP_TAG"),
                           help="the release's tag (default: $WHEELSHIP_TAG): the run must be of the version it "
                                "names, planned for this tag; VERSION may then be left out")
            p.add_argument("--from-store", action="store_true",
                           help="the default, said explicitly: upload the stored run's verified bytes, never a rebuild")
            p.add_argument("--require-verified", action="store_true",
                           help="the default, said explicitly: publish only a run `wheelship verify` passed")
            p.add_argument("--verify", action="store_true",
                           help="verify the run here first when no passing verification covers its files; this "
                                "test-installs the stored wheels, so their code runs where this process's "
                                "credentials can be read: prefer `wheelship verify` in a shell without tokens")
        if name == "copy":
            p.add_argument("--from", dest="from_store", default=_env("WHEELSHIP_FROM_STORE"),
                           help="the store the run is in (default: $WHEELSHIP_FROM_STORE)")
        if name == "github-release":
            p.add_argument("--tag", default=_env("WHEELSHIP_TAG"),
                           help="the release's tag (default: $WHEELSHIP_TAG): the run must be this tag's")
        if name in ("publish", "fetch"):
            p.add_argument("--include-dry-runs", action="store_true",
                           help="without --run-id, a tagged dry run may be taken too (never a run with no tag)")
        if name == "fetch":
            p.add_argument("-o", "--output", type=Path, required=True, help="folder to write the files to")
        if name in ("verify", "publish"):
            p.add_argument("--project", dest="project_dir", type=Path,
                           help="the project folder, for a test command that uses {project}")
        _common(p, json_out=name not in ("fetch", "copy"))


def _file_and_project_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`check` on files in hand; `init`, `rehearse` and `sandbox` around a project."""
    p = sub.add_parser("check", help="run the file-level checks on distributions you already have", epilog=EPILOG,
                       description="Read wheels and sdists and check them. Reading runs nothing from the files, and "
                                   "each archive is read within the buildspec's [limits]; only --build-sdist runs "
                                   "code from them.")
    p.add_argument("dists", nargs="+", type=Path, metavar="DIST", help="wheels and sdists")
    p.add_argument("--spec", type=Path,
                   help="a buildspec whose [checks] table changes severities and [limits] table the archive limits")
    p.add_argument("--import-names", default="", help="comma-separated declared top-level packages")
    build = p.add_mutually_exclusive_group()
    build.add_argument("--build-sdist", action="store_true",
                       help="also build a wheel from the sdist and compare it with the one shipped (WS502); this "
                            "runs the sdist's build backend, with your environment less every credential (no "
                            "TWINE_*, *_TOKEN, AWS or index variables), its output read as UTF-8")
    build.add_argument("--no-build", action="store_true",
                       help="the default, said explicitly: build nothing, run nothing from the files")
    p.add_argument("--json", dest="json_path", type=Path, metavar="FILE", help="write the findings as JSON")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser("init", help="write release workflows and a starter buildspec into a project")
    p.add_argument("project_dir", type=Path, nargs="?", default=Path("."), metavar="PROJECT_DIR")
    p.add_argument("--force", action="store_true", help="replace files that exist")
    p.add_argument("--on-release", action="store_true",
                   help="also release when a GitHub release is published (then publish releases, not push tags)")
    p.add_argument("--find-links", type=Path, metavar="DIR",
                   help="a folder of wheels to pin wheelship from (by default it is found on PyPI)")
    p.add_argument("--index-url", help="the index to pin wheelship and its requirements from (default: PyPI)")
    p.add_argument("--store-access", choices=("aws-role", "keys"), default="aws-role",
                   help="how the publish job reaches the store: an AWS role (default; writes the AWS template) "
                        "or any S3-compatible endpoint with keys")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser("rehearse", help="run the project's release workflow here under act, against the sandbox",
                       epilog=EPILOG)
    p.add_argument("project_dir", type=Path, nargs="?", default=Path("."), metavar="PROJECT_DIR")
    p.add_argument("--event", choices=EVENTS, default="push",
                   help="the GitHub event to rehearse: a tag push (default), a published release, a manual "
                        "dispatch, the nightly schedule, or a push to the current branch")
    p.add_argument("--tag", help="the tag (default: the tag at HEAD, else the newest one)")
    p.add_argument("--index", help="dispatch input: the index to publish to")
    p.add_argument("--dry-run", action="store_true", help="dispatch input: do everything but upload")
    p.add_argument("--store-access", choices=("aws-role", "keys"), default="aws-role",
                   help="how the publish job reaches the store: the AWS role (default), or an endpoint with keys")
    p.add_argument("--workflow", type=Path, help="the workflow file (default: .github/workflows/wheelship-release.yml, "
                   "or wheelship-dry-run.yml for --event schedule)")
    p.add_argument("--json", dest="json_path", type=Path, metavar="FILE", help="write the jobs and files as JSON")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser("sandbox", help="local pypiserver indexes and SeaweedFS to rehearse a release")
    p.add_argument("--no-s3", action="store_true", help="indexes only, no SeaweedFS")
    p.add_argument("--dir", type=Path, help="folder for the servers' data (default: a temporary one)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- COMMAND: run it inside the sandbox, then stop")


def _options(args: argparse.Namespace) -> Options:
    fields = Options.__dataclass_fields__
    return Options(**{k: v for k, v in vars(args).items() if k in fields and v is not None})


def _run_pipeline(args: argparse.Namespace, stages_name: str) -> int:
    from pipeline import stages
    from pipeline.spec import load_spec

    options = _options(args)
    project_dir = options.project_dir  # verify and publish take it as --project
    if options.command == "release":
        options = dataclasses.replace(options, host_only=True)  # a local release builds for this host
    if options.command == "publish":  # never run a stored wheel's code next to the credentials, unless asked
        options = dataclasses.replace(options, require_verified=not args.verify)
    spec = load_spec(project_dir, args.spec, store=args.store)
    # absolute: builders run tools in other folders (the workflow passes `--workdir wheelship-logs`)
    workdir = options.workdir.resolve() if options.workdir else Path(tempfile.mkdtemp(prefix="wheelship-"))
    options = dataclasses.replace(options, workdir=options.workdir and workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = Context(options=options, spec=spec, workdir=workdir)
    keep = False
    try:
        stages.run_stages(getattr(stages, stages_name), ctx)
    except WheelshipError as exc:
        keep = exc.exit_code == 4  # a failed build keeps its logs
        if keep:
            where = "uploaded as this job's wheelship-logs artifact" if os.environ.get("GITHUB_ACTIONS") == "true" \
                and options.workdir else f"kept in {workdir}"
            exc.hint = "; ".join(filter(None, [exc.hint, f"build logs are {where}"]))
        _failure_summary(ctx, exc)
        raise
    finally:
        if options.workdir is None and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _failure_summary(ctx: Context, exc: WheelshipError) -> None:
    """On GitHub Actions, a failed command says so in the job's step summary too."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path or isinstance(exc, NothingToDo):
        return
    plan = ctx.plan
    what = f"{plan.project} {plan.version}, run `{plan.run_id}`" if plan else ctx.options.command
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"### ❌ wheelship {ctx.options.command} failed: {what}\n\n**{exc.title}** (exit {exc.exit_code})\n\n"
                 f"```\n{redact(exc.message)}\n```\n\n{redact(exc.hint or '')}\n")


def _stored(args: argparse.Namespace) -> StoredVersion:
    from pipeline.commands import StoredVersion

    return StoredVersion(name=args.name, version=args.version, spec=args.spec, store=args.store)


def _status(args: argparse.Namespace) -> int:
    from pipeline.commands import status

    return status(_stored(args), json_path=args.json_path)


def _fetch(args: argparse.Namespace) -> int:
    from pipeline.commands import fetch

    return fetch(_stored(args), output=args.output, run_id=args.run_id, include_dry_runs=args.include_dry_runs)


def _copy(args: argparse.Namespace) -> int:
    from pipeline.commands import copy

    return copy(_stored(args), from_store=args.from_store, run_id=args.run_id)


def _github_release(args: argparse.Namespace) -> int:
    from pipeline.commands import github_release

    return github_release(_stored(args), run_id=args.run_id, tag=args.tag, json_path=args.json_path)


def _check(args: argparse.Namespace) -> int:
    from pipeline.commands import check

    names = tuple(n.strip() for n in args.import_names.split(",") if n.strip())
    return check(args.dists, spec=args.spec, import_names=names, build_sdist=args.build_sdist,
                 json_path=args.json_path)


def _init(args: argparse.Namespace) -> int:
    from pipeline.workflows import checklist, init, project_name

    for path in init(args.project_dir, force=args.force, on_release=args.on_release, find_links=args.find_links,
                     index_url=args.index_url, store_access=args.store_access):
        print(path)
    log.info("next, once:")
    for number, step in enumerate(checklist(project_name(args.project_dir), args.store_access), start=1):
        log.info("  %d. %s", number, step)
    return 0


def _rehearse(args: argparse.Namespace) -> int:
    from pipeline.rehearsal import Rehearsal, rehearse

    return rehearse(args.project_dir, Rehearsal(args.event, args.tag, args.index, args.dry_run, args.store_access),
                    args.workflow,
                    args.json_path)


def _sandbox(args: argparse.Namespace) -> int:
    from pipeline.sandbox import main as sandbox_main

    return sandbox_main([c for c in args.cmd or () if c != "--"], root=args.dir, s3=not args.no_s3)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "release": lambda a: _run_pipeline(a, "RELEASE"),
    "route": lambda a: _run_pipeline(a, "ROUTE"),
    "plan": lambda a: _run_pipeline(a, "PLAN"),
    "build": lambda a: _run_pipeline(a, "BUILD"),
    "verify": lambda a: _run_pipeline(a, "VERIFY"),
    "publish": lambda a: _run_pipeline(a, "PUBLISH"),
    "status": _status,
    "fetch": _fetch,
    "copy": _copy,
    "github-release": _github_release,
    "check": _check,
    "init": _init,
    "sandbox": _sandbox,
    "rehearse": _rehearse,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ui.configure(verbose=args.verbose, quiet=args.quiet)
    try:
        if args.command == "publish" and args.tag and not args.version and args.name:
            from pipeline.versioning import parse_tag

            args.version = str(parse_tag(args.tag))
        if args.command in ("verify", "publish", "status", "fetch", "copy", "github-release") \
                and not (args.name and args.version):
            raise UsageError(f"{args.command} needs the project's NAME and VERSION",
                             hint="pass them, or set WHEELSHIP_PROJECT and WHEELSHIP_VERSION")
        return COMMANDS[args.command](args)
    except WheelshipError as exc:
        log.error("%s: %s", exc.title, redact(exc.message))
        if exc.hint:
            print(f"  what to do: {redact(exc.hint)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so in one line
        if args.verbose:  # the traceback, as text: the log's formatters show only a record's message
            log.error("internal error, where it happened:\n%s", redact(traceback.format_exc()))
        log.error("internal error: %s: %s", type(exc).__name__, redact(str(exc)))
        print("  what to do: this is a wheelship bug; rerun with --verbose and report the output",
              file=sys.stderr)
        return 70


def run() -> NoReturn:
    """The `wheelship` command: `main`, then out at once. By then every file is closed and
    every server and pool stopped (each in a `with` or `finally`); what the interpreter
    would still do is take apart the modules a release loads (signing, rendering, SBOM
    libraries), a tenth of a second of work nobody sees. Tests call `main`."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
