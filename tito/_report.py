"""A pytest plugin for `tito test`: writes every test's outcome, its tasks and its failure to a JSON file.

Loaded with `-p tito._report`; the file is named by the environment variable TITO_REPORT.
"""
import json
import os

import pytest

_results: dict[str, dict] = {}
_collection: list[dict] = []


def _failure_lines(report) -> tuple[str, list[str]]:
    """The error line and the detail lines (pytest's `E ` lines: the compared values, NumPy's mismatch report)."""
    text = report.longreprtext or ""
    e_lines = _fold_examples([ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")])
    if e_lines:
        return e_lines[0], [ln for ln in e_lines[1:] if ln]
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "failed"), []


def _fold_examples(lines: list[str]) -> list[str]:
    """Hypothesis's failing example (`Falsifying example: test(`, one argument a line, comments, `)`) on one line,
    so that the few lines a report shows hold the arguments, not its comments."""
    out, example = [], None
    for line in lines:
        if example is None and line.endswith("(") and ("example" in line or "test case" in line):
            example = [line]
        elif example is not None:
            if line.startswith(")"):
                out.append(example[0] + " ".join(example[1:]).rstrip(",") + ")")
                example = None
            elif line and not line.startswith("#"):
                example.append(line.split("  # ")[0])  # `dim=0,  # or any other generated value`
        else:
            out.append(line)
    return out + ([" ".join(example)] if example else [])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().tito_tasks = sorted({t for mark in item.iter_markers("task") for t in mark.args},
                                             key=lambda t: tuple(int(p) for p in t.split(".")))


def pytest_runtest_logreport(report):
    entry = _results.setdefault(report.nodeid, {"nodeid": report.nodeid, "outcome": "passed",
                                                "tasks": getattr(report, "tito_tasks", [])})
    if report.failed and entry["outcome"] != "failed":
        error, detail = _failure_lines(report)
        entry.update(outcome="failed", error=error, detail=detail, full=report.longreprtext)
    elif report.skipped and entry["outcome"] == "passed":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        entry.update(outcome="skipped", reason=reason.removeprefix("Skipped: "))


def pytest_collectreport(report):
    if report.failed:
        error, detail = _failure_lines(report)
        _collection.append({"nodeid": report.nodeid, "outcome": "error", "error": error, "detail": detail,
                            "full": report.longreprtext})
    elif report.skipped and isinstance(report.longrepr, tuple):
        _collection.append({"nodeid": report.nodeid, "outcome": "skipped",
                            "reason": report.longrepr[2].removeprefix("Skipped: ")})


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("TITO_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"tests": list(_results.values()), "collection": _collection, "exitstatus": int(exitstatus)}, f)
