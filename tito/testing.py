"""`tito test`: the notebook's inline checks, then pytest on tests/NN_name/, against the course's own package."""
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from tito.course import Course, Module, cell_source, read_notebook
from tito.errors import TitoError

TASK = re.compile(r"Task (\d+\.\d+): implement ([\w.]+)")
# pytest's report of a test file that skipped itself: ('path', line, 'Skipped: reason')
_FILE_SKIP = re.compile(r"""^\(['"](?P<file>.+?)['"], \d+, ['"](?:Skipped: )?(?P<reason>.*)['"]\)$""")
MAX_LINES = 40  # failing checks listed one per line; beyond this, a count


@dataclass
class Failure:
    where: str
    message: str


@dataclass
class Outcome:
    label: str
    passed: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    problem: str | None = None  # the run itself went wrong (no tests, crash)
    skip_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and self.problem is None

    def summary(self) -> str:
        parts = [f"{self.passed} passed", f"{len(self.failures)} failed"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        return f"{self.label}: " + ", ".join(parts)


def course_env(course: Course) -> dict:
    """The environment in which a course's code runs: its own package first on the path, plots off-screen."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(course.root), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_inline(course: Course, module: Module, timeout: float = 900) -> Outcome:
    outcome = Outcome("inline checks")
    with tempfile.TemporaryDirectory(prefix="tito-") as tmp:
        results_file = Path(tmp) / "cells.json"
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "tito._cells", str(module.notebook), str(results_file)],
                cwd=course.root, env=course_env(course), capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            outcome.problem = f"the notebook's cells did not finish within {timeout:.0f} s (an endless loop?)"
            return outcome
        if proc.returncode != 0 or not results_file.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            outcome.problem = f"the notebook could not be run: {last}"
            return outcome
        results = json.loads(results_file.read_text(encoding="utf-8"))
    nb_name = course.rel(module.notebook)
    for r in results:
        if r["ok"]:
            outcome.passed += 1
        else:
            at = f"{nb_name} cell {r['cell']}" + (f", line {r['line']}" if r.get("line") else "")
            outcome.failures.append(Failure(at, r["error"]))
    if not results:
        outcome.problem = f"{nb_name} has no code cells to run"
    return outcome


def run_pytest(course: Course, module: Module, timeout: float = 1800) -> Outcome:
    outcome = Outcome("tests")
    rel = course.rel(module.tests)
    if not module.tests.is_dir():
        outcome.problem = f"no tests for {module.slug}: {rel}/ does not exist"
        return outcome
    with tempfile.TemporaryDirectory(prefix="tito-") as tmp:
        report = Path(tmp) / "junit.xml"
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", rel, "-q", "--tb=no", "--no-header", "-p", "no:cacheprovider",
                 "-o", "junit_family=xunit2", f"--junitxml={report}"],
                cwd=course.root, env=course_env(course), capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            outcome.problem = f"{rel}/ did not finish within {timeout:.0f} s (an endless loop?)"
            return outcome
        if proc.returncode == 5:
            outcome.problem = f"pytest found no tests in {rel}/"
            return outcome
        if proc.returncode not in (0, 1) or not report.exists():
            tail = [ln for ln in (proc.stdout + proc.stderr).strip().splitlines() if ln.strip()][-1:] or ["no output"]
            outcome.problem = f"pytest could not run {rel}/ (exit {proc.returncode}): {tail[0]}"
            return outcome
        _read_junit(report, outcome)
    return outcome


def _read_junit(report: Path, outcome: Outcome):
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{Path(case.get('classname', '').replace('.', '/')).name}::{case.get('name')}"
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        skip = case.find("skipped")
        if bad is not None:
            message = (bad.get("message") or bad.text or "failed").strip().splitlines()[0]
            outcome.failures.append(Failure(name, message))
        elif skip is not None:
            outcome.skipped += 1
            reason = (skip.get("message") or "skipped").strip().splitlines()[0]
            m = _FILE_SKIP.match((skip.text or "").strip())
            if reason == "collection skipped" and m:  # a whole file skipped itself; its text has the reason
                reason = f"all of {Path(m['file']).name}: {m['reason']}"
            outcome.skip_reasons[reason] = outcome.skip_reasons.get(reason, 0) + 1
        else:
            outcome.passed += 1


def task_locations(course: Course, module: Module) -> dict[str, tuple[str, int]]:
    """Task id -> (its name, the notebook cell that holds its stub), for pointing a student at the work left."""
    found = {}
    for number, cell in enumerate(read_notebook(module.notebook, course)["cells"], 1):
        if cell.get("cell_type") == "code":
            for task_id, name in TASK.findall(cell_source(cell)):
                found.setdefault(task_id, (name, number))
    return found


def run_module_tests(course: Course, module: Module, ui, verbose: bool = False) -> bool:
    """Run both layers, print one line per failing check and a summary; record the result for `tito list`."""
    if not module.tests.is_dir():
        raise TitoError(f"no tests for {module.slug}: {course.rel(module.tests)}/ does not exist")
    with ui.status(f"{module.slug}: running the notebook's inline checks"):
        inline = run_inline(course, module)
    with ui.status(f"{module.slug}: running {course.rel(module.tests)}/"):
        tests = run_pytest(course, module)
    outcomes = [inline, tests]
    shown = 0
    for o in outcomes:
        for f in o.failures:
            if verbose or shown < MAX_LINES:
                ui.fail(f"{f.where}: {f.message}")
            shown += 1
    if shown > MAX_LINES and not verbose:
        ui.line(f"      ... and {shown - MAX_LINES} more failing checks (tito test {module.slug} --verbose lists all)")
    for o in outcomes:
        if o.problem:
            ui.fail(o.problem)
    tasks = unimplemented_tasks(outcomes)
    for task_id, (name, count) in sorted(tasks.items()):
        ui.line(f"      Task {task_id} ({name}) is not implemented yet: {count} failing checks raise its NotImplementedError")
    for o in outcomes:
        (ui.ok if o.ok else ui.fail)(o.summary())
        for reason, count in o.skip_reasons.items():
            ui.line(f"      {count} skipped: {reason}")
    passed = all(o.ok for o in outcomes)
    course.record(module, "test", passed=passed, summary="; ".join(o.summary() for o in outcomes))
    return passed


def unimplemented_tasks(outcomes: list[Outcome]) -> dict[str, tuple[str, int]]:
    tasks: dict[str, tuple[str, int]] = {}
    for o in outcomes:
        for f in o.failures:
            m = TASK.search(f.message)
            if m and "NotImplementedError" in f.message:
                name, count = tasks.get(m.group(1), (m.group(2), 0))
                tasks[m.group(1)] = (name, count + 1)
    return tasks
