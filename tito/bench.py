"""`tito bench`: run a module's benchmark, benchmarks/bench_NAME.py, against this course's own package."""
import os
import subprocess
import sys
from pathlib import Path

from tito.errors import TitoError


def scripts(course) -> dict:
    """{module slug: benchmark script} for every module that has a benchmarks/bench_<name>.py."""
    found = {}
    for m in course.modules:
        script = course.root / "benchmarks" / f"bench_{m.name}.py"
        if script.is_file():
            found[m.slug] = script
    return found


def run(course, module, options: list[str], ui) -> bool:
    """Run the benchmark of `module` (None: every module that has one); False if one could not run."""
    available = scripts(course)
    if module is not None and module.slug not in available:
        names = ", ".join(available) or "none"
        raise TitoError(f"{module.slug} has no benchmark (no benchmarks/bench_{module.name}.py); "
                        f"modules with one: {names}")
    chosen = [module.slug] if module is not None else list(available)
    if not chosen:
        raise TitoError(f"no benchmarks in {course.rel(course.root / 'benchmarks')}/")
    env = dict(os.environ)  # the course's own package first, whatever is installed
    env["PYTHONPATH"] = os.pathsep.join([str(course.root), *filter(None, [env.get("PYTHONPATH")])])
    ok = True
    for slug in chosen:
        script = Path(available[slug])
        ui.heading(f"== {slug}: {course.rel(script)}")
        # Not captured: the table appears row by row as each case is measured.
        code = subprocess.run([sys.executable, str(script), *options], cwd=course.root, env=env).returncode
        if code != 0:
            ui.error(f"the benchmark {course.rel(script)} could not run (exit status {code})")
            ok = False
    return ok
