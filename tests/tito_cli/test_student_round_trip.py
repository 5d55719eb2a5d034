"""The instructor -> student -> grade round trip on the real course, in temporary folders."""
import json
import re
from pathlib import Path

import pytest
from tito_support import REPO, notebook_bytes, run_tito

from tito.release import BEGIN, END


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


def test_student_copy_ships_no_solutions(student):
    for path in [*student.rglob("*.ipynb"), *(student / "tinytorch").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert BEGIN not in text and END not in text, path
    losses = (student / "tinytorch" / "core" / "losses.py").read_text(encoding="utf-8")
    assert 'NotImplementedError("Task 04.3: implement _target_class_loss")' in losses


def test_tito_lists_the_student_copy(student):
    r = run_tito(student, "list")
    assert r.returncode == 0, r.stderr
    assert len(re.findall(r"up to date\s+never run", r.stdout)) == len(list((REPO / "modules").glob("*/*.ipynb")))


def test_unfilled_module_fails_naming_its_tasks_then_passes_once_filled(student):
    before = run_tito(student, "test", "04_losses")
    assert before.returncode == 1
    assert "NotImplementedError: Task 04.3: implement _target_class_loss" in before.stdout
    assert "Traceback" not in before.stdout
    assert "Task 04.3 (_target_class_loss) is not implemented yet" in before.stdout

    nb = student / "modules" / "04_losses" / "losses.ipynb"
    _fill_in(nb, REPO / "modules" / "04_losses" / "losses.ipynb")
    after = run_tito(student, "complete", "losses")
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr
    assert "04_losses is complete" in after.stdout
    assert re.search(r"tests: [1-9]\d* passed, 0 failed", after.stdout)


TASKS = {"05_optimizers": ["sgd_step", "l2_penalty", "momentum_buffer", "nesterov_direction", "adam_moments",
                           "bias_correction", "adam_step", "decoupled_weight_decay"],
         "06_training": ["batch_indices", "epoch_order", "train_epoch", "evaluate", "accuracy", "r2_score"]}


def test_modules_05_and_06_are_stubbed_task_by_task_and_pass_once_the_course_is_filled(student):
    for slug, names in TASKS.items():
        before = run_tito(student, "test", slug)
        assert before.returncode == 1 and "Traceback" not in before.stdout
        number = slug[:2]
        for k, name in enumerate(names, 1):
            assert f"Task {number}.{k} ({name}) is not implemented yet" in before.stdout, (slug, name)
    # a student who has done every module so far: all the reference bodies filled in, exported, tested
    for nb in sorted((student / "modules").glob("*/*.ipynb")):
        _fill_in(nb, REPO / nb.relative_to(student))
    exported = run_tito(student, "export", "--all")
    assert exported.returncode == 0, exported.stdout + exported.stderr
    for slug in TASKS:
        after = run_tito(student, "test", slug)
        assert after.returncode == 0, after.stdout[-3000:] + after.stderr
        assert re.search(r"inline checks: [1-9]\d* passed, 0 failed", after.stdout)
        assert re.search(r"tests: [1-9]\d* passed, 0 failed", after.stdout)
