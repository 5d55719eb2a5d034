"""Parametrized cases marked with the student task they grade (`@pytest.mark.task`), for the module tests.

`tito test MODULE --task 04.3` runs the tests whose last task is 04.3; a test that exercises a task whose
stub is still in the package fails at once, naming that task (see conftest.py).
"""
import pytest


def marked(values, tasks_of, ids=None):
    """Each value as a pytest.param marked with `tasks_of(value)` (a task id, a tuple of ids, or None)."""
    cases = []
    for i, value in enumerate(values):
        tasks = tasks_of(value)
        tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks or ())
        name = ids(value) if callable(ids) else ids[i] if ids is not None else None
        cases.append(pytest.param(value, marks=[pytest.mark.task(*tasks)] if tasks else [], id=name))
    return cases
