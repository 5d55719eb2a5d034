"""`tito release` and grading in the student copy, on the temporary course."""
import json
import re

import pytest
from tito_support import notebook, notebook_bytes, run_tito, write_notebook

from tito.errors import TitoError
from tito.release import strip_solutions


def test_release_stubs_every_solution_with_its_task(course, tmp_path):
    dest = tmp_path / "student"
    r = run_tito(course, "release", "--to", str(dest))
    assert r.returncode == 0, r.stderr
    nb_text = (dest / "modules" / "01_demo" / "demo.ipynb").read_text()
    assert "BEGIN SOLUTION" not in nb_text and "END SOLUTION" not in nb_text
    assert "Task 01.1: implement double" in nb_text
    assert "Task 01.2: implement Counter.tick" in nb_text
    exported = (dest / "tinytorch" / "core" / "demo.py").read_text()
    assert "return 2 * x" not in exported and "self.n += by" not in exported
    assert 'raise NotImplementedError("Task 01.1: implement double")' in exported
    # what is not a solution stays: the signature, the docstring and the given validation
    assert 'raise ValueError(f"by must be >= 0, got {by}")' in exported
    for f in ("settings.ini", "pyproject.toml", "tests/01_demo/test_demo.py"):
        assert (dest / f).is_file()


def test_in_a_git_checkout_release_copies_what_git_tracks_and_never_what_it_ignores(course, tmp_path):
    import subprocess

    (course / ".gitignore").write_text("results/\n*.bak\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(course)]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "course"], check=True)
    (course / "results").mkdir()
    (course / "results" / "r.json").write_text("{}")
    (course / "modules" / "01_demo" / "solution.bak").write_text("return 2 * x")
    (course / "notes.txt").write_text("not committed yet")
    dest = tmp_path / "student"
    r = run_tito(course, "release", "--to", str(dest))
    assert r.returncode == 0, r.stderr
    assert not (dest / "results").exists() and not (dest / "modules" / "01_demo" / "solution.bak").exists()
    assert (dest / "notes.txt").is_file() and "1 file that git does not track yet: notes.txt" in r.stdout
    assert (dest / "tests" / "01_demo" / "test_demo.py").is_file() and (dest / ".gitignore").is_file()
    assert not (dest / ".git").exists()


def test_release_clears_outputs(course, tmp_path):
    nb_path = course / "modules" / "01_demo" / "demo.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["4\n"]}]
    nb["cells"][3]["execution_count"] = 7
    nb_path.write_text(json.dumps(nb))
    dest = tmp_path / "student"
    assert run_tito(course, "release", "--to", str(dest)).returncode == 0
    cells = json.loads((dest / "modules" / "01_demo" / "demo.ipynb").read_text())["cells"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")
    assert [c["id"] for c in cells] == [c["id"] for c in nb["cells"]]


def test_student_copy_grades_the_students_code(course, tmp_path):
    dest = tmp_path / "student"
    assert run_tito(course, "release", "--to", str(dest)).returncode == 0
    before = run_tito(dest, "test", "demo")
    assert before.returncode == 1
    assert re.search(r'to do\s+Task 01\.1 \(double\), in "Doubling": not written yet \(1 check and 1 test wait for it\)',
                     before.stdout)
    assert re.search(r"to do\s+Task 01\.2 \(Counter\.tick\)", before.stdout)
    assert "Traceback" not in before.stdout
    done = run_tito(dest, "complete", "demo")
    assert done.returncode == 1
    assert 'Task 01.1: implement double (in "Doubling")' in done.stdout
    # the student fills the cells in (here: the reference cells copied back) and completes the module
    (dest / "modules" / "01_demo" / "demo.ipynb").write_text((course / "modules" / "01_demo" / "demo.ipynb").read_text())
    after = run_tito(dest, "complete", "demo")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "01_demo is complete" in after.stdout


def test_release_refuses_a_non_empty_folder(course, tmp_path):
    dest = tmp_path / "student"
    dest.mkdir()
    (dest / "homework.txt").write_text("mine")
    r = run_tito(course, "release", "--to", str(dest))
    assert r.returncode == 1
    assert "is not empty" in r.stderr and "--force" in r.stderr
    assert (dest / "homework.txt").read_text() == "mine"


def test_release_force_keeps_a_backup(course, tmp_path):
    dest = tmp_path / "student"
    dest.mkdir()
    (dest / "homework.txt").write_text("mine")
    r = run_tito(course, "release", "--to", str(dest), "--force")
    assert r.returncode == 0, r.stderr
    backups = list(tmp_path.glob("student.backup-*"))
    assert len(backups) == 1 and (backups[0] / "homework.txt").read_text() == "mine"
    assert str(backups[0]) in r.stdout
    assert (dest / "modules" / "01_demo" / "demo.ipynb").exists()


def test_release_refuses_an_unterminated_solution_block(course, tmp_path):
    nb_path = course / "modules" / "01_demo" / "demo.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][2]["source"] = ["#| export\n", "def double(x):\n", "    ### BEGIN SOLUTION 01.1\n", "    return 2 * x\n"]
    nb_path.write_text(json.dumps(nb))
    dest = tmp_path / "student"
    r = run_tito(course, "release", "--to", str(dest))
    assert r.returncode == 1
    assert "modules/01_demo/demo.ipynb cell 3" in r.stderr and "no matching `### END SOLUTION`" in r.stderr
    assert not dest.exists()


def test_release_over_a_folder_holding_the_course_is_refused_even_with_force(course):
    before = notebook_bytes(course)
    for dest in (course.parent, course.parent.parent):
        r = run_tito(course, "release", "--to", str(dest), "--force")
        assert r.returncode == 1 and "holds the course itself" in r.stderr
    assert notebook_bytes(course) == before
    assert not list(course.parent.parent.glob("*.backup-*"))


def test_backup_names_never_collide(tmp_path):
    from tito.release import _free_name

    taken = tmp_path / "student.backup-20261124-101010"
    taken.mkdir()
    assert _free_name(taken) == tmp_path / "student.backup-20261124-101010-2"
    assert _free_name(tmp_path / "fresh") == tmp_path / "fresh"


def test_release_into_the_course_itself_is_refused(course):
    r = run_tito(course, "release", "--to", str(course / "student"))
    assert r.returncode == 1 and "inside the course" in r.stderr


def test_release_does_not_touch_the_source_notebooks(course, tmp_path):
    before = notebook_bytes(course)
    assert run_tito(course, "release", "--to", str(tmp_path / "student")).returncode == 0
    assert notebook_bytes(course) == before


def test_stub_keeps_the_blocks_indentation():
    src = "def f(x):\n    if x:\n        ### BEGIN SOLUTION 04.3\n        return 1\n        ### END SOLUTION\n    return 0\n"
    out, tasks = strip_solutions(src, 4, "nb cell 1")
    assert out == 'def f(x):\n    if x:\n        raise NotImplementedError("Task 04.3: implement f")\n    return 0\n'
    assert tasks == ["04.3"]


def test_stub_names_methods_with_their_class():
    src = "class A:\n    def go(self):\n        ### BEGIN SOLUTION 01.7\n        pass\n        ### END SOLUTION\n"
    out, _ = strip_solutions(src, 1, "nb cell 1")
    assert "Task 01.7: implement A.go" in out


def test_the_task_id_comes_from_the_marker_and_may_repeat_for_a_forward_and_backward_pair():
    src = ("class F:\n    def forward(ctx):\n        ### BEGIN SOLUTION 02.5\n        pass\n        ### END SOLUTION\n"
           "    def backward(ctx):\n        ### BEGIN SOLUTION 02.5\n        pass\n        ### END SOLUTION\n"
           "def g():\n    ### BEGIN SOLUTION 02.9 stretch\n    pass\n    ### END SOLUTION\n")
    out, tasks = strip_solutions(src, 2, "nb cell 1")
    assert tasks == ["02.5", "02.5", "02.9"]
    assert "Task 02.5: implement F.forward" in out and "Task 02.5: implement F.backward" in out
    assert "Task 02.9: implement g" in out


@pytest.mark.parametrize("src, message", [
    ("def f():\n    ### END SOLUTION\n", "has no `### BEGIN SOLUTION` before it"),
    ("def f():\n    ### BEGIN SOLUTION 01.1\n    ### BEGIN SOLUTION 01.2\n", "opens a block inside the one opened on line 2"),
    ("### BEGIN SOLUTION 01.1\nx = 1\n### END SOLUTION\n", "is not inside a function"),
    ("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n", "has no task id; write `### BEGIN SOLUTION 01.K`"),
    ("def f():\n    ### BEGIN SOLUTION 04.1\n    pass\n    ### END SOLUTION\n", "names task 04.1, which is not a task of module 01"),
    ("def f():\n    ### BEGIN SOLUTION task one\n    pass\n    ### END SOLUTION\n", "is not a solution marker"),
])
def test_malformed_solution_blocks_are_refused(src, message):
    with pytest.raises(TitoError, match=re.escape(message)):
        strip_solutions(src, 1, "nb cell 1")


def test_a_notebook_without_solutions_is_copied_unchanged_but_for_outputs(tmp_path):
    from tito.course import Course
    from tito.release import student_notebook

    root = tmp_path / "c"
    (root / "modules" / "01_x").mkdir(parents=True)
    (root / "settings.ini").write_text("[DEFAULT]\nlib_path = tinytorch\nnbs_path = modules\n")
    nb = notebook(("code", "#| default_exp core.x"), ("code", "#| export\ndef f():\n    return 1\n"))
    write_notebook(root / "modules" / "01_x" / "x.ipynb", nb)
    out = student_notebook(Course(root), root / "modules" / "01_x" / "x.ipynb", 1)
    assert [c["source"] for c in out["cells"]] == [c["source"] for c in nb["cells"]]
