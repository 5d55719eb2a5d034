"""A module's tasks: their stable ids, where the notebook introduces them, which cells check them, which are done.

The notebook's prose introduces each task once, with a bold `**Task 04.3:**` (or `**Stretch task 04.9 ...**`
for an optional one), in the section whose cells implement and check it. That prose is the same in the
instructor's copy (solution blocks `### BEGIN SOLUTION 04.3`) and in the student's copy (stubs
`raise NotImplementedError("Task 04.3: implement NAME")`), so it is what tito reads.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

STUB = re.compile(r'raise NotImplementedError\("Task (\d{2}\.\d+): implement ([\w.]+)"\)')
_MENTION = re.compile(r"\*\*(Stretch task|Task) (\d{2}\.\d+)\b")
# what the prose names right after the mention: "**Task 04.7:** `_bce_elements(p, y)`", "... `a` and `b`"
_NAMED = re.compile(r"[^*`]*\*\*\s*`([A-Za-z_][\w.]*)(?:\([^`]*\))?`(?:,? and `([A-Za-z_][\w.]*)(?:\([^`]*\))?`)?")
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*$", re.M)
_DIRECTIVE = re.compile(r"^\s*#\s*\|")


def task_key(task: str) -> tuple[int, ...]:
    """04.10 after 04.9: task ids compare by their numbers."""
    return tuple(int(part) for part in task.split("."))


def stubbed_tasks(package: Path) -> dict[str, str]:
    """Task id -> what it implements, for every task whose stub is still in the package's code."""
    found = {}
    for path in sorted(Path(package).rglob("*.py")):
        for task, name in STUB.findall(path.read_text(encoding="utf-8")):
            found.setdefault(task, name)
    return found


@dataclass
class Task:
    id: str
    section: str  # the heading of the section that introduces it
    optional: bool = False
    names: list[str] = field(default_factory=list)  # what its stubs or solution blocks implement, if known
    described: list[str] = field(default_factory=list)  # what the prose names right after the mention (a
    # student's finished task has neither stub nor solution block left to name it)

    @property
    def label(self) -> str:
        names = self.names or self.described
        return f"Task {self.id}" + (f" ({', '.join(names)})" if names else "")


@dataclass
class Cell:
    number: int  # 1-based, counting every cell (as the notebook file does)
    id: str
    section: str  # the nearest heading above it, as Jupyter shows it
    first_line: str  # its first line of code, as Jupyter shows it
    task: str | None  # the task whose section it belongs to

    def describe(self) -> str:
        """How a student finds the cell in Jupyter: its section and its first line."""
        where = f'in "{self.section}", ' if self.section else ""
        line = self.first_line if len(self.first_line) <= 60 else self.first_line[:57] + "..."
        return f'{where}the cell starting "{line}"'


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _solution_blocks(text: str) -> list[tuple[str, str]]:
    """(task, the function it sits in) for each solution block of an instructor's cell."""
    from tito.release import BEGIN_MARKER, _enclosing_name

    found, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        m = BEGIN_MARKER.match(line)
        if m and m.group("task"):
            name = _enclosing_name(lines[:i], len(line) - len(line.lstrip()))
            if name:
                found.append((m.group("task"), name))
    return found


def read_tasks(nb: dict) -> tuple[list[Task], list[Cell]]:
    """The tasks a notebook introduces, in order, and every code cell with its section and task."""
    tasks: dict[str, Task] = {}
    cells, section, current = [], "", None
    for number, cell in enumerate(nb["cells"], 1):
        text = _source(cell)
        if cell.get("cell_type") == "markdown":
            # Walk the cell's headings and mentions in order: a heading closes the task before it.
            marks = sorted([(m.start(), "heading", m.group(2)) for m in _HEADING.finditer(text)]
                           + [(m.start(), "task", m) for m in _MENTION.finditer(text)], key=lambda x: x[0])
            for _, kind, value in marks:
                if kind == "heading":
                    section, current = value.strip("# ").replace("`", ""), None
                else:
                    current = value.group(2)
                    task = tasks.setdefault(current, Task(current, section, optional=value.group(1) == "Stretch task"))
                    named = _NAMED.match(text, value.end())
                    if named and not task.described:
                        task.described = [name for name in named.groups() if name]
            continue
        if cell.get("cell_type") != "code":
            continue
        code = [ln.strip() for ln in text.splitlines() if ln.strip() and not _DIRECTIVE.match(ln)]
        for task, name in [*STUB.findall(text), *_solution_blocks(text)]:
            if task in tasks and name not in tasks[task].names:
                tasks[task].names.append(name)
        cells.append(Cell(number, cell.get("id", ""), section, code[0] if code else "", current))
    return sorted(tasks.values(), key=lambda t: task_key(t.id)), cells
