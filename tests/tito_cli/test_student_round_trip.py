"""The instructor -> student -> grade round trip on the real course, in temporary folders."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tito_support import REPO, notebook_bytes, run_tito

from tito.release import BEGIN, END
from tito.tasks import read_tasks, task_key

MODULES = sorted(p.parent.name for p in (REPO / "modules").glob("*/*.ipynb"))


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "student"
    before = notebook_bytes(REPO)
    r = run_tito(REPO, "release", "--to", str(dest))
    assert r.returncode == 0, r.stdout + r.stderr
    assert notebook_bytes(REPO) == before  # releasing never touches the instructor's notebooks
    return dest


def _fill_in(student_nb: Path, reference_nb: Path):
    """What a student does: write the code where the stubs are (here: the reference bodies, markers dropped)."""
    ref = {c["id"]: c for c in json.loads(reference_nb.read_text(encoding="utf-8"))["cells"]}
    nb = json.loads(student_nb.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = "".join(ref.get(cell["id"], {}).get("source", []))
        if BEGIN in source:
            cell["source"] = [ln for ln in source.splitlines(keepends=True)
                              if not ln.strip().startswith(BEGIN) and ln.strip() != END]
    student_nb.write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _pytest_report(course: Path, *paths: str) -> dict:
    report = course / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(course), TITO_REPORT=str(report))
    subprocess.run([sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider", "-p", "tito._report"],
                   cwd=course, env=env, capture_output=True, text=True, timeout=900)
    data = json.loads(report.read_text(encoding="utf-8"))
    report.unlink()
    return data


def test_student_copy_ships_no_solutions(student):
    for path in [*student.rglob("*.ipynb"), *(student / "tinytorch").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert BEGIN not in text and END not in text, path
    losses = (student / "tinytorch" / "core" / "losses.py").read_text(encoding="utf-8")
    assert 'NotImplementedError("Task 04.3: implement _target_class_loss")' in losses


def test_no_line_of_a_solution_is_anywhere_in_the_student_copy(student):
    """Not only the notebooks and the package: a benchmark or a helper that spells a solution out is a leak too.
    (The notebooks' prose may quote a line as a hint, and the tests compute their references their own way.)"""
    solution_lines = set()
    for nb_path in (REPO / "modules").glob("*/*.ipynb"):
        for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
            inside = False
            for line in "".join(cell["source"]).splitlines():
                stripped = line.strip()
                if stripped.startswith(BEGIN):
                    inside = True
                elif stripped == END:
                    inside = False
                elif inside and not stripped.startswith("#"):
                    code = stripped.split("  # ")[0]  # without its comment
                    if len(code) >= 30:  # long enough to be telling
                        solution_lines.add(code)
    leaks = []
    for path in student.rglob("*"):
        if path.relative_to(student).parts[0] in ("modules", "tests"):
            continue
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md", ".txt", ".json", ".ini", ".toml", ".cfg"):
            text = path.read_text(encoding="utf-8", errors="replace")
            leaks += [(str(path.relative_to(student)), line) for line in solution_lines if line in text]
    assert leaks == [], "\n".join(f"{f}: {line}" for f, line in sorted(leaks))


def test_student_copy_has_the_students_readme_and_none_of_the_instructors_files(student):
    readme = (student / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("# tinytorch: your copy") and "What \"failing\" means at first" in readme
    assert readme == (REPO / "STUDENT_README.md").read_text(encoding="utf-8")
    for instructor_only in ("STUDENT_README.md", ".ci", "tests/tito_cli", "tests/tito_support.py", "tests/test_readme.py",
                            "benchmarks/floors_losses.py", ".git"):
        assert not (student / instructor_only).exists(), instructor_only
    assert sorted(p.name for p in (student / "tests").iterdir() if p.is_dir()) == sorted(
        p.name for p in (REPO / "tests").iterdir() if p.is_dir() and p.name not in ("tito_cli", "__pycache__"))


def test_tito_lists_the_student_copy(student):
    r = run_tito(student, "list")
    assert r.returncode == 0, r.stderr
    assert len(re.findall(r"up to date\s+never run", r.stdout)) == len(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_every_test_that_reaches_a_stub_is_marked_with_its_task(student, module):
    """In the fresh copy every task is a stub: a test that hits one without being marked would fail slowly, with
    only NotImplementedError to say, instead of at once naming its task."""
    data = _pytest_report(student, f"tests/{module}")
    number = module[:2]
    unmarked = [t["nodeid"] for t in data["tests"]
                if t["outcome"] == "failed" and f"NotImplementedError: Task {number}." in t.get("error", "")]
    assert not unmarked


def test_a_fresh_module_lists_its_tasks_in_order_without_a_wall_of_failures(student):
    r = run_tito(student, "test", "04_losses")
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    assert not [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL  Task")]
    tasks, _ = read_tasks(json.loads((REPO / "modules" / "04_losses" / "losses.ipynb").read_text(encoding="utf-8")))
    listed = re.findall(r"^\s+(?:to do|optional)\s+Task (\d{2}\.\d+)", r.stdout, re.M)
    assert listed == sorted((t.id for t in tasks), key=task_key) and len(listed) >= 8
    assert "to do     Task 04.3 (_target_class_loss, _target_class_grad)" in r.stdout
    assert 'Next: Task 04.1, in "Mean squared error"' in r.stdout


def test_unfilled_module_fails_naming_its_tasks_then_passes_once_filled(student):
    nb = student / "modules" / "04_losses" / "losses.ipynb"
    _fill_in(nb, REPO / "modules" / "04_losses" / "losses.ipynb")
    after = run_tito(student, "complete", "losses")
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr
    assert "04_losses is complete" in after.stdout
    assert re.search(r"tests: [1-9]\d* passed, 0 failed", after.stdout)
    # a finished task has no stub left to name it: its line takes the name from the task's prose
    assert "done      Task 04.7 (_bce_elements)" in after.stdout
    assert "done      Task 04.5 (_uniform_sum, _uniform_grad)" in after.stdout


TASKS = {"05_optimizers": ["sgd_step", "l2_penalty", "momentum_buffer", "nesterov_direction", "adam_moments",
                           "bias_correction", "adam_step", "decoupled_weight_decay"],
         "06_training": ["batch_indices", "epoch_order", "train_epoch", "evaluate", "accuracy", "r2_score"]}


def test_modules_05_and_06_list_their_tasks_one_by_one_while_stubbed(student):
    for slug, names in TASKS.items():
        before = run_tito(student, "test", slug)
        assert before.returncode == 1 and "Traceback" not in before.stdout
        number = slug[:2]
        for k, name in enumerate(names, 1):
            assert re.search(rf"to do\s+Task {number}\.{k} \({name}\)", before.stdout), (slug, name)


def test_every_test_in_the_copy_passes_once_the_student_has_finished(student):
    for module in MODULES:
        _fill_in(student / "modules" / module / f"{module[3:]}.ipynb", REPO / "modules" / module / f"{module[3:]}.ipynb")
    assert run_tito(student, "export", "--all").returncode == 0
    # the whole folder, as the student's `pytest` runs it, but for the browser tests of the site (minutes of building, the same code as in the instructor's copy)
    data = _pytest_report(student, "tests", "--ignore=tests/site")
    failed = [t["nodeid"] for t in data["tests"] if t["outcome"] == "failed"] + \
        [c["nodeid"] for c in data["collection"] if c["outcome"] == "error"]
    assert not failed and data["exitstatus"] == 0
    assert sum(t["outcome"] == "passed" for t in data["tests"]) > 1000
