"""Helpers for the tests of tito: notebooks built in code, a tiny course, running `tito` as a user would."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def notebook(*cells: tuple[str, str]) -> dict:
    """A notebook (nbformat 4.5, no outputs, stable ids) from (cell_type, source) pairs."""
    out = []
    for i, (kind, src) in enumerate(cells, 1):
        cell = {"cell_type": kind, "id": f"cell-{i}", "metadata": {}, "source": src.splitlines(keepends=True)}
        if kind == "code":
            cell.update(outputs=[], execution_count=None)
        out.append(cell)
    return {"cells": out, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def write_notebook(path: Path, nb: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n", encoding="utf-8")


DEMO_EXPORT = '''#| export
def double(x):
    "Twice `x`."
    ### BEGIN SOLUTION 01.1
    return 2 * x
    ### END SOLUTION
'''

DEMO_CLASS = '''#| export
class Counter:
    "Counts calls."
    def __init__(self):
        self.n = 0

    def tick(self, by=1):
        if by < 0:
            raise ValueError(f"by must be >= 0, got {by}")
        ### BEGIN SOLUTION 01.2
        self.n += by
        return self.n
        ### END SOLUTION
'''


def demo_notebook() -> dict:
    return notebook(
        ("code", "#| default_exp core.demo"),
        ("markdown", "# Demo\nA module for testing tito.\n\n## Doubling\n\n**Task 01.1:** `double`."),
        ("code", DEMO_EXPORT),
        ("code", "assert double(2) == 4"),
        ("markdown", "## Counting\n\n**Task 01.2:** `Counter.tick`."),
        ("code", DEMO_CLASS),
        ("code", "c = Counter()\nassert c.tick() == 1 and c.tick(2) == 3"),
    )


def make_course(tmp_path: Path) -> Path:
    """A one-module course (01_demo: a function and a class method to fill in) in `tmp_path`."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "settings.ini", root / "settings.ini")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "tinytorch" / "core").mkdir(parents=True)
    (root / "tinytorch" / "__init__.py").write_text("")
    (root / "tinytorch" / "core" / "__init__.py").write_text("")
    write_notebook(root / "modules" / "01_demo" / "demo.ipynb", demo_notebook())
    tests = root / "tests" / "01_demo"
    tests.mkdir(parents=True)
    shutil.copy(REPO / "tests" / "conftest.py", root / "tests" / "conftest.py")
    (tests / "test_demo.py").write_text(
        "import pytest\n\nfrom tinytorch.core.demo import Counter, double\n\n"
        "@pytest.mark.task(\"01.1\")\ndef test_double_of_three_is_six():\n    assert double(3) == 6\n\n"
        "@pytest.mark.task(\"01.2\")\ndef test_counter_adds_up():\n    c = Counter()\n    c.tick(2)\n    assert c.tick(3) == 5\n"
    )
    return root


def run_tito(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m tito ARGS` in `cwd`, using this checkout's tito, output captured (so: not a terminal)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NO_COLOR")}
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tito", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=600)


def notebook_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.ipynb"))}
