"""`tito test`: the notebook's inline checks, then pytest on tests/NN_name/, reported task by task.

Every result (a notebook cell, a test) knows the tasks it exercises. A failure that only says a task is not
written yet (its stub raised, or the test was not run because of it) is folded into that task's line of the
task list; every other failure is shown with what was expected and what came, where to find it, and the one
command that shows all of it.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tito.course import Course, Module, read_notebook
from tito.errors import TitoError
from tito.tasks import STUB, Task, read_tasks, stubbed_tasks, task_key

_WAITS = re.compile(r"Task (\d{2}\.\d+)(?:: implement|\s+\()")  # a stub's message, or conftest's "needs Task 04.3 (...)"
MAX_SHOWN = 8  # failures shown in full; beyond this, a count (--verbose shows all)
DETAIL_LINES = 6


@dataclass
class Result:
    kind: str  # "check" (a notebook cell) or "test"
    where: str
    tasks: list[str]  # the tasks it exercises; it grades the last one; [] for given code
    ok: bool = True
    skipped: bool = False
    error: str = ""
    detail: list[str] = field(default_factory=list)
    full: str = ""
    command: str = ""
    waits_for: str | None = None  # the unwritten task that this failure is only a symptom of
    definition: bool = False  # an `#| export` cell: it defines, the cells after it check

    @property
    def task(self) -> str | None:
        return self.tasks[-1] if self.tasks else None


@dataclass
class Layer:
    label: str
    results: list[Result] = field(default_factory=list)
    problem: str | None = None  # the run itself went wrong (no tests, a crash, a file that does not import)
    skip_reasons: dict[str, int] = field(default_factory=dict)

    def count(self, what) -> int:
        return sum(1 for r in self.results if what(r))

    @property
    def ok(self) -> bool:
        return self.problem is None and all(r.ok for r in self.results)

    def summary(self) -> str:
        passed = self.count(lambda r: r.ok and not r.skipped and not r.definition)
        waiting = self.count(lambda r: not r.ok and r.waits_for)
        failed = self.count(lambda r: not r.ok and not r.waits_for)
        skipped = self.count(lambda r: r.skipped)
        parts = [f"{passed} passed", f"{failed} failed"]
        if waiting:
            parts.append(f"{waiting} waiting for tasks not written yet")
        if skipped:
            parts.append(f"{skipped} skipped")
        return f"{self.label}: " + ", ".join(parts)


def course_env(course: Course) -> dict:
    """The environment in which a course's code runs: its own package first on the path, plots off-screen."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(course.root), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _pytest_command(course: Course, nodeid: str) -> str:
    """The command that reruns one test, from the folder the student is in: `.venv/bin/python` inside the course."""
    try:
        python = Path(sys.executable).relative_to(course.root).as_posix()
    except ValueError:
        python = "python"
    command = f"{python} -m pytest '{nodeid}'"
    here = Path.cwd().resolve()
    if here != course.root:
        command = f"cd {os.path.relpath(course.root, here)} && {command}"
    return command


def _waits_for(text: str, stubs: dict[str, str]) -> str | None:
    """The unwritten task a failure message names, if it names one whose stub is still in the package."""
    return next((m for m in _WAITS.findall(text) if m in stubs), None)


_LONGEST = 600  # characters of one detail line: room for both arrays of an allclose of two 3 x 4 arrays


def _tidy(lines: list[str]) -> list[str]:
    """Assertion details as a student reads them: names for functions and modules, no lines that only say
    where a name came from (`+ where allclose = numpy.allclose`)."""
    out = []
    for line in lines:
        line = re.sub(r"\\n\s+", " ", line)  # an array's repr, folded onto one line by pytest's explanation
        line = re.sub(r"<function (\S+) at 0x[0-9a-f]+>", r"\1", line)
        line = re.sub(r"<module '([^']+)' from '[^']*'>", r"\1", line)
        line = re.sub(r"<built-in function (\w+)>", r"\1", line)
        line = re.sub(r"<built-in method (\w+) of [^>]*>", r"\1", line)
        line = re.sub(r"<ufunc '(\w+)'>", r"\1", line)
        line = re.sub(r"<bound method (\S+) of [^>]*>+", r"\1", line)
        line = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", line)
        line = re.sub(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-f]+>", r"\1(...)", line)
        where = re.match(r"^\+\s+(?:where|and)\s+(.+?) = (.+)$", line.strip())
        trivial = where and (where.group(2) == where.group(1) or where.group(2).endswith("." + where.group(1))
                             or re.fullmatch(r"array\((.*)\)", where.group(1)) and where.group(2).startswith("array("))
        if not trivial:
            out.append(line if len(line) <= _LONGEST else line[:_LONGEST - 3] + "...")
    return out


def _unexported_names(nb: dict) -> set[str]:
    """Names that a code cell without `#| export` defines at its top level: missing from the package."""
    import ast

    names = set()
    for cell in nb["cells"]:
        source = "".join(cell.get("source", [])) if cell.get("cell_type") == "code" else ""
        if not source or re.search(r"^\s*#\s*\|\s*export", source, re.M):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        names.update(n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)))
    return names


def _hint(result: Result, unexported: set[str], module: Module, owners: dict[str, str] | None = None):
    """A line on what a NameError or ImportError of a definition that lost its `#| export` line means; the
    failure then belongs to the task that writes the missing name, if the test exercises it."""
    m = re.search(r"(?:name|cannot import name) '(\w+)'", result.error)
    owner = (owners or {}).get(m.group(1)) if m else None
    if owner in result.tasks:
        result.tasks = result.tasks[:result.tasks.index(owner) + 1]
    if m and m.group(1) in unexported:
        result.detail.insert(0, f"{m.group(1)} is defined in the notebook, in a cell without `#| export`, so it is "
                                f"not in the package: add the line, then `tito export {module.slug}`")


def run_inline(course: Course, module: Module, cell_timeout: float = 60, timeout: float = 1800) -> Layer:
    """The notebook's code cells, run in order; a cell of a task whose stub is still in the *notebook* waits for it."""
    layer = Layer("inline checks")
    nb = read_notebook(module.notebook, course)
    stubs = {task: name for cell in nb["cells"] if cell.get("cell_type") == "code"
             for task, name in STUB.findall("".join(cell.get("source", [])))}
    nb_name = course.rel(module.notebook)
    with tempfile.TemporaryDirectory(prefix="tito-") as tmp:
        results_file = Path(tmp) / "cells.json"
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "tito._cells", str(module.notebook), str(results_file), str(cell_timeout)],
                cwd=course.root, env=course_env(course), capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            layer.problem = f"the notebook's cells did not finish within {timeout:.0f} s (an endless loop?)"
            return layer
        if proc.returncode != 0 or not results_file.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            layer.problem = f"the notebook could not be run: {last}"
            return layer
        ran = json.loads(results_file.read_text(encoding="utf-8"))
    _, cells = read_tasks(nb)
    by_number = {c.number: c for c in cells}
    waiting_before = None  # the task an earlier failed cell waits for: a later NameError is likely its symptom
    for r in ran:
        cell = by_number[r["cell"]]
        result = Result("check", f"{nb_name}, {cell.describe()}", [cell.task] if cell.task else [], ok=r["ok"],
                        definition=r["kind"] == "export")
        if not r["ok"]:
            line = f", line {r['line']}" if r.get("line") else ""
            source = f": {r['source']}" if r.get("source") else ""
            result.where += line + source
            result.error, result.detail, result.full = r["error"], _tidy(r.get("detail", [])), r.get("traceback", "")
            result.waits_for = cell.task if cell.task in stubs else _waits_for(r["error"], stubs)
            symptom = r["error"].startswith(("NameError", "KeyError", "AttributeError")) or cell.task is None
            if result.waits_for is None and symptom and waiting_before:  # e.g. a result an unwritten task was to give
                result.waits_for = waiting_before
            waiting_before = result.waits_for or waiting_before
            if r.get("timeout"):
                result.detail.append(f"`tito test {module.slug} --timeout SECONDS` allows a cell more time")
            result.command = f"tito test {module.slug} --task {cell.task} --verbose" if cell.task \
                else f"tito test {module.slug} --verbose"
        layer.results.append(result)
    if not ran:
        layer.problem = f"{nb_name} has no code cells to run"
    return layer


def run_pytest(course: Course, module: Module, task: str | None = None, stubs: dict[str, str] | None = None,
               timeout: float = 1800) -> Layer:
    layer = Layer("tests")
    stubs = stubbed_tasks(course.lib_path) if stubs is None else stubs
    rel = course.rel(module.tests)
    if not module.tests.is_dir():
        layer.problem = f"no tests for {module.slug}: {rel}/ does not exist"
        return layer
    with tempfile.TemporaryDirectory(prefix="tito-") as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pytest", rel, "-q", "--tb=short", "--no-header", "-p", "no:cacheprovider",
                   "-p", "tito._report"] + (["--task", task] if task else [])
        try:
            proc = subprocess.run(command, cwd=course.root, env=dict(course_env(course), TITO_REPORT=str(report)),
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            layer.problem = f"{rel}/ did not finish within {timeout:.0f} s (an endless loop?)"
            return layer
        if proc.returncode == 5:
            layer.problem = f"pytest found no tests in {rel}/" + (f" for task {task}" if task else "")
            return layer
        if not report.exists():
            tail = [ln for ln in (proc.stdout + proc.stderr).strip().splitlines() if ln.strip()][-1:] or ["no output"]
            layer.problem = f"pytest could not run {rel}/ (exit {proc.returncode}): {tail[0]}"
            return layer
        data = json.loads(report.read_text(encoding="utf-8"))
    nb = read_notebook(module.notebook, course)
    unexported = _unexported_names(nb)
    owners = {name.split(".")[0]: t.id for t in read_tasks(nb)[0] for name in t.names}  # Class.method: the class
    for entry in data["collection"]:
        if entry["outcome"] == "error":
            waits = _waits_for(entry["full"], stubs)
            layer.results.append(Result("test", f"{entry['nodeid']} (while importing it)", [waits] if waits else [],
                                        ok=False, error=entry["error"], detail=entry["detail"], full=entry["full"],
                                        command=_pytest_command(course, entry["nodeid"]), waits_for=waits))
            _hint(layer.results[-1], unexported, module, owners)
        else:
            reason = f"all of {Path(entry['nodeid']).name}: {entry['reason']}"
            layer.skip_reasons[reason] = layer.skip_reasons.get(reason, 0) + 1
            layer.results.append(Result("test", entry["nodeid"], [], skipped=True))
    for entry in data["tests"]:
        result = Result("test", entry["nodeid"], entry["tasks"], ok=entry["outcome"] != "failed",
                        skipped=entry["outcome"] == "skipped")
        if entry["outcome"] == "failed":
            result.error, result.detail, result.full = entry["error"], _tidy(entry["detail"]), entry["full"]
            result.waits_for = _waits_for(entry["error"], stubs)
            result.command = _pytest_command(course, entry["nodeid"])
            _hint(result, unexported, module, owners)
        elif result.skipped:
            layer.skip_reasons[entry["reason"]] = layer.skip_reasons.get(entry["reason"], 0) + 1
        layer.results.append(result)
    return layer


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _waiting(results: list[Result]) -> str:
    """'6 checks and 32 tests wait' for these results: each kind there is, counted, and the verb that fits."""
    checks = sum(r.kind == "check" for r in results)
    counts = " and ".join(_plural(n, kind) for kind, n in (("check", checks), ("test", len(results) - checks)) if n)
    return f"{counts} {'waits' if len(results) == 1 else 'wait'}"


def _task_line(task: Task, results: list[Result], stubs: dict[str, str], unrun: bool = False) -> tuple[str, str]:
    """(status, text) of one task's line in the task list; `unrun`: some test files could not even be imported."""
    mine = [r for r in results if r.task == task.id and not r.skipped and not (r.definition and r.ok)]
    checks = [r for r in mine if r.kind == "check"]
    tests = [r for r in mine if r.kind == "test"]
    names = ", ".join(task.names) if task.names else (stubs.get(task.id) or ", ".join(task.described))
    label = f"Task {task.id}" + (f" ({names})" if names else "") + f', in "{task.section}"'
    if task.id in stubs:
        if task.optional:
            return "optional", f"{label}: a stretch task; `tito bench losses --stretch` grades it"
        return "to do", f"{label}: not written yet" + (f" ({_waiting(checks + tests)} for it)" if mine else "")
    failed = [r for r in mine if not r.ok and not r.waits_for]
    waiting = [r for r in mine if not r.ok and r.waits_for]
    if failed:
        bad_checks, bad_tests = sum(r.kind == "check" for r in failed), sum(r.kind == "test" for r in failed)
        return "FAIL", (f"{label}: {bad_checks} of {_plural(len(checks), 'check')} and {bad_tests} of "
                        f"{_plural(len(tests), 'test')} fail")
    if task.optional:
        return "optional", f"{label}: written; `tito bench losses --stretch` grades it"
    if waiting:
        others = ", ".join(sorted({f"Task {r.waits_for}" for r in waiting}, key=lambda t: task_key(t[5:])))
        return "waiting", f"{label}: written, and what ran passes; {_waiting(waiting)} for {others}"
    if unrun:  # its tests may be among those that never ran: not done until they have
        return "not run", (f"{label}: {_plural(len(checks), 'check')} and {_plural(len(tests), 'test')} pass, but "
                           "some test files could not be imported (see above), so not all of its tests ran")
    return "done", f"{label}: {_plural(len(checks), 'check')} and {_plural(len(tests), 'test')} pass"


def run_module_tests(course: Course, module: Module, ui, verbose: bool = False, task: str | None = None,
                     timeout: float = 60, next_step: bool = True) -> bool:
    """Run both layers and report them task by task; record the result for `tito list`."""
    from tito.export import export_status

    if not module.tests.is_dir():
        raise TitoError(f"no tests for {module.slug}: {course.rel(module.tests)}/ does not exist")
    tasks, _ = read_tasks(read_notebook(module.notebook, course))
    if task is not None and task not in {t.id for t in tasks}:
        known = ", ".join(t.id for t in tasks) or "none"
        raise TitoError(f"{module.slug} has no task {task}; its tasks are: {known}")
    status = export_status(course, module)
    stale = status != "up to date"
    if stale:
        what = "has changed since its last export" if status == "stale" else status
        ui.warn(f"{course.rel(module.notebook)} {what}: the tests below grade the package as last exported, not "
                f"your notebook; run `tito export {module.slug}` first")
    stubs = stubbed_tasks(course.lib_path)
    with ui.status(f"{module.slug}: running the notebook's inline checks"):
        inline = run_inline(course, module, cell_timeout=timeout)
    with ui.status(f"{module.slug}: running {course.rel(module.tests)}/" + (f" for task {task}" if task else "")):
        tests = run_pytest(course, module, task, stubs)
    if task is not None:  # the task's own checks and tests only
        inline.results = [r for r in inline.results if r.task == task]
        shown_tasks = [t for t in tasks if t.id == task]
    else:
        shown_tasks = tasks
    layers = [inline, tests]

    failures = sorted((r for layer in layers for r in layer.results if not r.ok and not r.waits_for),
                      key=lambda r: (r.task is None, task_key(r.task) if r.task else (), r.kind != "check"))
    if not verbose:  # the first failure of every task (and of the checks outside the tasks) before the cut
        firsts = [r for i, r in enumerate(failures) if i == 0 or failures[i - 1].task != r.task]
        shown = set(map(id, firsts[:MAX_SHOWN]))
        shown |= set(map(id, [r for r in failures if id(r) not in shown][:MAX_SHOWN - len(shown)]))
        failures = [r for r in failures if id(r) in shown] + [r for r in failures if id(r) not in shown]
    for i, r in enumerate(failures):
        if i == MAX_SHOWN and not verbose:
            ui.line(f"      ... and {_plural(len(failures) - MAX_SHOWN, 'more failure')} "
                    f"(`tito test {module.slug}{' --task ' + task if task else ''} --verbose` shows them all)")
            break
        prefix = f"Task {r.task}: " if r.task else ""
        ui.fail(f"{prefix}{'check' if r.kind == 'check' else 'test'} {r.where}")
        detail = r.detail if verbose else r.detail[:DETAIL_LINES]
        for line in [r.error, *detail]:
            ui.line(f"          {line}")
        if verbose and r.full:
            for line in r.full.rstrip().splitlines():
                ui.line(f"          | {line}")
        elif r.command:
            ui.line(f"          all of it: {r.command}")
    for layer in layers:
        if layer.problem:
            ui.fail(layer.problem)

    all_results = inline.results + tests.results
    unrun = any(r.where.endswith("(while importing it)") and not r.waits_for for r in tests.results) or \
        tests.problem is not None
    if shown_tasks:
        ui.line("      Tasks, in order:")
        for t in shown_tasks:
            state, text = _task_line(t, all_results, stubs, unrun)
            ui.line(f"        {state:<8}  {text}")
        outside = [r for r in all_results if r.task is None and not r.ok and not r.waits_for and not r.skipped]
        if outside:  # checks of given code (the loss classes, the summary) that use what the tasks wrote
            sections = sorted({m.group(1) for r in outside for m in [re.search(r'in "([^"]+)"', r.where)] if m})
            where = f', in "{sections[0]}"' + (f" and {len(sections) - 1} more sections" if len(sections) > 1 else "") \
                if sections else ""
            counts = [_plural(n, kind) for kind in ("check", "test") if (n := sum(r.kind == kind for r in outside))]
            ui.line(f"        {'FAIL':<8}  outside the tasks{where}: {' and '.join(counts)} "
                    f"{'fails' if len(outside) == 1 else 'fail'}; they use what the tasks write, so fix those first")
    own = {t.id for t in tasks}  # results that wait for an unwritten task of an earlier module
    awaiting = [r for r in all_results if not r.ok and r.waits_for and not r.skipped and r.waits_for not in own]
    earlier = sorted({r.waits_for for r in awaiting}, key=task_key)
    waiting_outside = [r for r in awaiting if r.task is None]  # (a task's own say so on the task's line)
    if waiting_outside:
        ui.line(f"        {'waiting':<8}  outside the tasks: {_waiting(waiting_outside)} for "
                f"{', '.join(sorted({f'Task {r.waits_for}' for r in waiting_outside}, key=lambda t: task_key(t[5:])))}")
    for layer in layers:
        (ui.ok if layer.ok else ui.fail)(layer.summary())
        for reason, count in layer.skip_reasons.items():
            ui.line(f"      {count} skipped: {reason}")
    states = {t.id: _task_line(t, all_results, stubs, unrun)[0] for t in shown_tasks}
    failing = [t for t in shown_tasks if states[t.id] == "FAIL"]
    todo = [t for t in tasks if t.id in stubs and not t.optional]
    if failing:
        first = failing[0]
        more = f"`tito test {module.slug} --task {first.id} --verbose` shows each failure in full" if task \
            else f"`tito test {module.slug} --task {first.id}` shows only its checks and tests"
        ui.line(f"      Next: fix Task {first.id} (in \"{first.section}\"); {more}.")
    elif todo:
        first = todo[0]
        ui.line(f"      Next: Task {first.id}, in \"{first.section}\" of {course.rel(module.notebook)}; then "
                f"`tito export {module.slug}` and `tito test {module.slug} --task {first.id}`.")
    elif earlier:  # this module's tasks are written; what waits, waits for a task of an earlier module
        owner = course.module(earlier[0].split(".")[0])  # task NN.K belongs to module NN
        _, section = task_locations(course, owner).get(earlier[0], (None, owner.slug))
        ui.line(f"      Next: Task {earlier[0]}, in \"{section}\" of {course.rel(owner.notebook)}, which this module's "
                f"code uses; then `tito export {owner.slug}` and `tito test {module.slug}` again.")
    passed = all(layer.ok for layer in layers) and not stale
    if passed and not todo and next_step:
        ui.line(f"      Next: `tito test {module.slug}`, every task at once, then `tito complete {module.slug}`." if task
                else f"      Next: `tito complete {module.slug}` records the module as done and says what comes next.")
    if stale:
        ui.fail(f"these results are for the package as last exported, not your notebook: run "
                f"`tito export {module.slug}`, then test again")
    if task is None:
        course.record(module, "test", passed=passed, summary="; ".join(layer.summary() for layer in layers))
    return passed


def task_locations(course: Course, module: Module) -> dict[str, tuple[str, str]]:
    """Task id -> (what it implements, the section that introduces it), for the tasks whose stub remains."""
    tasks, _ = read_tasks(read_notebook(module.notebook, course))
    stubs = stubbed_tasks(course.lib_path)
    return {t.id: (", ".join(t.names) or stubs[t.id], t.section) for t in tasks if t.id in stubs and not t.optional}
