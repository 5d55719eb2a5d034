"""The committed course itself: notebooks are clean sources, and the package is what they export."""
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "modules").glob("*/*.ipynb"))
ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def test_the_course_has_its_four_modules():
    assert [p.parent.name for p in NOTEBOOKS] == ["01_tensor", "02_activations", "03_layers", "04_losses"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_notebook_is_committed_without_outputs_and_with_stable_ids(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5)
    ids = [c.get("id") for c in nb["cells"]]
    assert all(i and ID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None, c["id"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_notebook_starts_with_default_exp_and_has_a_readme(path):
    first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    assert re.match(r"#\| default_exp core\.\w+", first)
    assert (path.parent / "README.md").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_exported_package_is_up_to_date_with_its_notebook(path):
    from tito.course import Course
    from tito.export import export_status

    course = Course(REPO)
    module = course.module(path.parent.name)
    assert export_status(course, module) == "up to date"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_no_inline_math_is_split_by_a_line_that_markdown_reads_as_a_list(path):
    """`$a\n+ b$` renders as a bullet list holding broken math: keep `+`, `-`, `*` off the start of such lines."""
    broken = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = re.sub(r"\$\$.*?\$\$", "", "".join(cell["source"]), flags=re.S)  # display math may span lines
        for paragraph in text.split("\n\n"):
            dollars = 0
            for i, line in enumerate(paragraph.split("\n")):
                if i and dollars % 2 and re.match(r"\s*([-+*]|\d+\.)\s", line):
                    broken.append(f"{cell['id']}: {line.strip()[:50]}")
                dollars += len(re.findall(r"(?<![\\`])\$", line))
    assert not broken


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_every_task_has_a_stable_id_that_its_prose_and_readme_use(path):
    """Each solution block names its task (`### BEGIN SOLUTION 04.3`); each task is introduced once in the prose
    (`**Task 04.3:**`), in the module's number, and listed in the module's README."""
    from tito.release import BEGIN_MARKER
    from tito.tasks import read_tasks

    nb = json.loads(path.read_text(encoding="utf-8"))
    number = path.parent.name[:2]
    blocks = {m.group("task") for c in nb["cells"] if c["cell_type"] == "code"
              for m in map(BEGIN_MARKER.match, "".join(c["source"]).splitlines()) if m}
    assert None not in blocks, "a solution block without a task id"
    mentions = [m for c in nb["cells"] if c["cell_type"] == "markdown"
                for m in re.findall(r"\*\*(?:Stretch task|Task) (\d{2}\.\d+)\b", "".join(c["source"]))]
    assert sorted(mentions) == sorted(set(mentions)), "a task introduced twice"
    assert set(mentions) == blocks
    assert all(t.startswith(number + ".") for t in blocks)
    tasks, _ = read_tasks(nb)
    assert {t.id for t in tasks} == blocks and all(t.section for t in tasks)
    readme = (path.parent / "README.md").read_text(encoding="utf-8")
    assert [t for t in blocks if not re.search(rf"\b{re.escape(t)}\b", readme)] == []
