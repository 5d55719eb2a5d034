"""The `tito` command line. Only argparse at start-up: each command imports what it needs when it runs."""
import argparse
import re
import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

MODULE_HELP = "a module: 04_losses, 04, 4 or losses (see `tito list`)"

DESCRIPTION = """\
tito runs the tinytorch course: export your notebook to the package, test it, see what is left.
Run it anywhere inside the course (the folder holding settings.ini, or below it)."""

EPILOG = """\
typical session:
  tito list                 where every module stands
  tito export 04_losses     notebook -> tinytorch/core/losses.py
  tito test 04_losses       the notebook's checks, then tests/04_losses/
  tito complete 04          export + test + what to do next

exit status: 0 success, 1 failure (tests failed, notebook refused, ...), 2 bad usage.
Output is plain when piped or when NO_COLOR is set."""


def _add_module_arg(p: argparse.ArgumentParser, allow_all: bool):
    p.add_argument("module", nargs="?", help=MODULE_HELP)
    p.add_argument("--module", "-m", dest="module_opt", metavar="MODULE", help="the same, as an option")
    if allow_all:
        p.add_argument("--all", action="store_true", help="every module, in order")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="tito", description=DESCRIPTION, epilog=EPILOG, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"tito {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("list", help="each module, its notebook, its export target and status", formatter_class=fmt,
                   description="Each module with its notebook, the package file it exports to, whether that export\n"
                               "is up to date with the notebook, and whether its tests last passed.",
                   epilog="example:\n  tito list")

    p = sub.add_parser("export", help="notebook -> package (tinytorch/core/...)", formatter_class=fmt,
                       description="Export a module's notebook into the package with nbdev. A notebook with a syntax\n"
                                   "error or without `#| default_exp` is refused and the package file is left as it was.\n"
                                   "Notebooks are never written to.",
                       epilog="examples:\n  tito export 04_losses\n  tito export --all")
    _add_module_arg(p, allow_all=True)

    p = sub.add_parser("test", help="run a module's inline checks, then its tests", formatter_class=fmt,
                       description="Run the notebook's own checks (its code cells, in order), then tests/NN_name/ with\n"
                                   "pytest against this course's exported package, and report task by task: each\n"
                                   "failure with what was expected and what came, then the list of tasks, done or to do.\n"
                                   "Export first (tito export) if you changed the notebook: tito test says so if you did not.",
                       epilog="examples:\n  tito test 04_losses\n  tito test 04_losses --task 04.3\n  tito test --all\n"
                              "  tito test 4 --task 04.3 --verbose     every failure in full, with its traceback")
    _add_module_arg(p, allow_all=True)
    p.add_argument("--task", "-t", metavar="ID", help="only this task's checks and tests, e.g. 04.3")
    p.add_argument("--timeout", type=float, default=60, metavar="SECONDS",
                   help="how long one notebook cell may run before it counts as stuck (default: 60)")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="show every failure in full (tracebacks too), not only the first few")

    p = sub.add_parser("complete", help="export + test + what to do next", formatter_class=fmt,
                       description="The student's 'done': export the module, test it, and say what passed, what failed\n"
                                   "and where to look, and what comes next. Exit 0 only if the module is complete.",
                       epilog="example:\n  tito complete 04_losses")
    _add_module_arg(p, allow_all=False)

    p = sub.add_parser("release", help="write the student copy of the course", formatter_class=fmt,
                       description="Write the student copy of the whole course to DIR: every solution block replaced by\n"
                                   "a stub raising NotImplementedError('Task NN.K: implement NAME'), outputs cleared, the\n"
                                   "package exported from the stubs. Refuses a non-empty DIR unless --force; with --force\n"
                                   "the old contents are moved to DIR.backup-TIMESTAMP, never deleted.",
                       epilog="example:\n  tito release --to ../tinytorch-student")
    p.add_argument("--to", required=True, metavar="DIR", help="where to write the copy (outside the course)")
    p.add_argument("--force", action="store_true", help="replace a non-empty DIR, keeping its contents in a backup")

    p = sub.add_parser("site", help="the documentation site", formatter_class=fmt,
                       description="Build the documentation site from the executed notebooks (needs the `site` extra:\n"
                                   "pip install -e '.[site]').",
                       epilog="example:\n  tito site build")
    site_sub = p.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    b = site_sub.add_parser("build", help="build the site into site/_build/html", formatter_class=fmt,
                            description="Build the site; a second build without changes reuses the executed notebooks.",
                            epilog="example:\n  tito site build")
    b.add_argument("--clean", action="store_true", help="start from scratch (drop the build and execution cache)")

    p = sub.add_parser("bench", help="time a module's code against PyTorch (benchmarks/bench_NAME.py)",
                       formatter_class=fmt,
                       description="Run a module's benchmark against this course's package: each case timed against\n"
                                   "PyTorch (when installed), with MET or NOT MET against the performance contract.\n"
                                   "It measures: exit 0 whether or not targets are met, 1 only if it cannot run.\n"
                                   "--stretch grades the optional Task 04.9, your own row kernel; --floors times the\n"
                                   "fewest NumPy calls of each case against PyTorch.",
                       epilog="examples:\n  tito bench losses\n  tito bench losses --quick\n"
                              "  tito bench losses --only 'CE 8 x 10'\n  tito bench losses --stretch")
    _add_module_arg(p, allow_all=False)
    p.add_argument("--quick", action="store_true", help="2 short rounds: a rough look in a few seconds")
    p.add_argument("--rounds", type=int, metavar="N", help="rounds of timed blocks per contender (default 5)")
    p.add_argument("--only", action="append", metavar="TEXT", help="only the cases whose name contains TEXT")
    p.add_argument("--stretch", action="store_true", help="grade Task 04.9 (_softmax_rows_stretch) instead")
    p.add_argument("--floors", action="store_true", help="time the fewest NumPy calls of each case instead")
    return parser


def _version() -> str:
    from tito import __version__

    return __version__


def _module_name(args, parser) -> str | None:
    if args.module and args.module_opt and args.module != args.module_opt:
        parser.error(f"two different modules given: '{args.module}' and '{args.module_opt}'")
    return args.module or args.module_opt


def _modules(course, args, parser):
    name = _module_name(args, parser)
    if getattr(args, "all", False):
        if name:
            parser.error("give a module or --all, not both")
        if not course.modules:
            from tito.errors import TitoError

            raise TitoError(f"no modules in {course.rel(course.nbs_path)}/")
        return course.modules
    if not name:
        parser.error(f"name a module ({MODULE_HELP})" + (" or --all" if hasattr(args, "all") else ""))
    return [course.module(name)]


def cmd_list(course, args, parser, ui) -> int:
    from tito.export import export_status

    rows = []
    state = course.load_state()
    for m in course.modules:
        try:
            target = ", ".join(course.rel(t) for t in course.targets(m))
        except Exception as e:  # a broken notebook is a row, not a crash
            target = f"? ({e})"
        test = state.get(m.slug, {}).get("test")
        tests = "never run" if not test else f"{'passed' if test['passed'] else 'FAILED'} ({test['at'][:16].replace('T', ' ')} UTC)"
        status = export_status(course, m)
        if status.startswith("cannot be exported"):
            status = f"cannot be exported (tito export {m.slug} says why)"
        rows.append([m.slug, course.rel(m.notebook), target, status, tests])
    if not rows:
        ui.line(f"no modules in {course.rel(course.nbs_path)}/")
        return EXIT_OK
    ui.table(["module", "notebook", "exports to", "export", "tests last run"], rows)
    return EXIT_OK


def _export(course, m, ui):
    from tito.export import export_module

    with ui.status(f"exporting {course.rel(m.notebook)}"):
        results = export_module(course, m)
    for r in results:
        ui.ok(f"{m.slug}: {course.rel(r.target)} " + ("written" if r.changed else "unchanged"))
        for name in r.dropped:
            ui.warn(f"{name} was in {course.rel(r.target)} and is not any more: if its cell lost its `#| export` "
                    "line, put it back, then export again")


def cmd_export(course, args, parser, ui) -> int:
    for m in _modules(course, args, parser):
        _export(course, m, ui)
    return EXIT_OK


def cmd_test(course, args, parser, ui) -> int:
    from tito.testing import run_module_tests

    modules = _modules(course, args, parser)
    if args.task:
        from tito.errors import TitoError

        if not re.fullmatch(r"\d{2}\.\d+", args.task):
            raise TitoError(f"--task {args.task!r} is not a task id; write it as in the notebook, e.g. 04.3")
        if args.all:
            raise TitoError("--task goes with one module, e.g. tito test 04_losses --task 04.3")
    failed = []
    for m in modules:
        ui.heading(f"== {m.slug}" + (f", task {args.task}" if args.task else ""))
        if not run_module_tests(course, m, ui, verbose=args.verbose, task=args.task, timeout=args.timeout,
                                next_step=len(modules) == 1):
            failed.append(m.slug)
    if failed:
        ui.error(f"tests failed for {', '.join(failed)}")
        return EXIT_FAIL
    if len(modules) > 1:
        ui.ok(f"all {len(modules)} modules passed")
    return EXIT_OK


def cmd_complete(course, args, parser, ui) -> int:
    from tito.testing import run_module_tests, task_locations

    (m,) = _modules(course, args, parser)
    _export(course, m, ui)
    ui.heading(f"== {m.slug}")
    passed = run_module_tests(course, m, ui, next_step=False)
    ui.line("")
    if passed:
        later = [x for x in course.modules if x.number > m.number]
        ui.ok(f"{m.slug} is complete.")
        if later:
            ui.line(f"      Next: {later[0].slug} ({course.rel(later[0].notebook)}), then `tito complete {later[0].slug}`.")
        else:
            ui.line("      That was the last module. `tito list` shows the whole course.")
        return EXIT_OK
    left = task_locations(course, m)
    if left:
        ui.line(f"      Still to do in {course.rel(m.notebook)}:")
        for task_id, (name, section) in left.items():
            ui.line(f'        Task {task_id}: implement {name} (in "{section}")')
    ui.line(f"      Finish or fix the tasks above (the first one first), then run `tito complete {m.slug}` again.")
    ui.error(f"{m.slug} is not complete yet")
    return EXIT_FAIL


def cmd_release(course, args, parser, ui) -> int:
    from tito.release import release

    to = release(course, args.to, args.force, ui)
    ui.ok(f"student copy written to {to}")
    ui.line(f"      Next: in {to}, its README.md's setup command makes the student's venv (`.venv/bin/tito` then works);"
            " check the copy with `.venv/bin/tito list`.")
    return EXIT_OK


def cmd_site(course, args, parser, ui) -> int:
    from tito.errors import TitoError

    try:
        from tito.site import build
    except ImportError as e:
        raise TitoError(f"the site builder is not available: {e}") from None
    try:
        index = build(course.root, clean=args.clean, echo=ui.line)
    except RuntimeError as e:
        raise TitoError(str(e)) from None
    ui.ok(f"site built: {index}")
    return EXIT_OK


def cmd_bench(course, args, parser, ui) -> int:
    from tito.bench import run

    name = _module_name(args, parser)
    options = [f"--{flag}" for flag in ("quick", "stretch", "floors") if getattr(args, flag)]
    options += ([f"--rounds={args.rounds}"] if args.rounds else []) + [f"--only={o}" for o in args.only or ()]
    return EXIT_OK if run(course, course.module(name) if name else None, options, ui) else EXIT_FAIL


COMMANDS = {"list": cmd_list, "export": cmd_export, "test": cmd_test, "complete": cmd_complete,
            "release": cmd_release, "site": cmd_site, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    from tito.course import Course
    from tito.errors import TitoError
    from tito.ui import UI

    ui = UI()
    try:
        return COMMANDS[args.command](Course.find(), args, parser, ui)
    except TitoError as e:
        ui.error(str(e))
        return EXIT_FAIL
    except KeyboardInterrupt:
        ui.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
