"""Session-wide rules: the tests grade *this* course's package, CI runs every layer, and tests know their task.

Each test that grades a student task carries `@pytest.mark.task("04.3", ...)`: the tasks it exercises, the
last of which it grades. `--task 04.3` runs only the tests that grade 04.3. A test whose task is still the
stub `raise NotImplementedError("Task 04.3: ...")` in the package fails at once, naming the task, instead of
running (and, for hypothesis, shrinking) a failure that only says "not implemented".
"""
import importlib.util
import os
import re
from pathlib import Path

import pytest

from tito.tasks import stubbed_tasks, task_key

COURSE_ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--task", metavar="ID", help="run only the tests that grade this task, e.g. 04.3")


def pytest_configure(config):
    # Locate the package without importing it: an unfinished module must fail its own tests, not this hook.
    spec = importlib.util.find_spec("tinytorch")
    where = Path(spec.origin).resolve() if spec and spec.origin else None
    if where is None or COURSE_ROOT not in where.parents:
        raise pytest.UsageError(
            f"the tests would grade tinytorch from {where.parent if where else 'nowhere (not importable)'}, not this course's package in "
            f"{COURSE_ROOT / 'tinytorch'}; run pytest (or tito test) from {COURSE_ROOT}"
        )
    task = config.getoption("--task")
    if task is not None and not re.fullmatch(r"\d{2}\.\d+", task):
        raise pytest.UsageError(f"--task {task!r} is not a task id; write it as in the notebook, e.g. 04.3")
    # CI sets TINYTORCH_REQUIRE=torch,browser so that the optional layers cannot skip unnoticed there.
    required = {n.strip() for n in os.environ.get("TINYTORCH_REQUIRE", "").split(",") if n.strip()}
    if "torch" in required and importlib.util.find_spec("torch") is None:
        raise pytest.UsageError("TINYTORCH_REQUIRE names torch, but torch is not installed (pip install torch==2.13.0)")
    config._tinytorch_stubs = stubbed_tasks(where.parent)


def _tasks(item) -> list[str]:
    return sorted({t for mark in item.iter_markers("task") for t in mark.args}, key=task_key)


def pytest_collection_modifyitems(config, items):
    task = config.getoption("--task")
    if task is None:
        return
    chosen = [item for item in items if _tasks(item) and _tasks(item)[-1] == task]
    config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
    items[:] = chosen


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    stubs = pyfuncitem.config._tinytorch_stubs
    waiting = [t for t in _tasks(pyfuncitem) if t in stubs]
    if waiting:
        names = ", ".join(f"Task {t} ({stubs[t]})" for t in waiting)
        pytest.fail(f"not run: it needs {names}, not implemented yet", pytrace=False)
