"""`tito release`: the student copy of the course, every solution replaced by a stub that names its task."""
import json
import re
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

from tito.course import Course, cell_source, read_notebook
from tito.errors import TitoError

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_DEF = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+(\w+)")
# Never copied: version control, environments, caches and build output.
SKIP = {"venv", "__pycache__", "build", "dist"}  # and every dot-file but .gitignore: .git, .venv, caches, .ci
SKIP_PATHS = {"site/_build", "site/_generated"}
# The instructor's: the README for instructors and CI, and the tests of tito and of the committed course itself
# (the release round trip, the hygiene checks) and of the instructor's README (its training example), which a
# student's finished work has nothing to do with.
INSTRUCTOR_ONLY = {"README.md", "tests/tito_cli", "tests/tito_support.py", "tests/test_readme.py",
                   "benchmarks/floors_losses.py"}  # the floors' plain NumPy versions of the losses are solutions
STUDENT_README = "STUDENT_README.md"  # becomes the copy's README.md


def _enclosing_name(lines: list[str], indent: int) -> str | None:
    """The qualified name (Class.method) of the def that a solution block at `indent` sits in."""
    names, limit = [], indent
    for line in reversed(lines):
        m = _DEF.match(line)
        if m and len(m.group(1)) < limit:
            names.append(m.group(3))
            limit = len(m.group(1))
            if limit == 0:
                break
    return ".".join(reversed(names)) or None


BEGIN_MARKER = re.compile(r"^\s*### BEGIN SOLUTION(?:\s+(?P<task>\d{2}\.\d+))?(?:\s+(?P<stretch>stretch))?\s*$")


def strip_solutions(source: str, module_number: int, where: str) -> tuple[str, list[str]]:
    """Replace each solution block in one cell's source by a stub; return the new source and its task ids.

    Every block names its stable task id in its marker, `### BEGIN SOLUTION 04.3` (`... 04.9 stretch` for an
    optional task); the stub raises NotImplementedError("Task 04.3: implement NAME").
    """
    out, tasks, block_start = [], [], None
    for lineno, line in enumerate(source.splitlines(keepends=True), 1):
        marker = line.strip()
        begin = BEGIN_MARKER.match(line) if marker.startswith(BEGIN) else None
        if marker.startswith(BEGIN) and begin is None:
            raise TitoError(f"{where}: line {lineno} `{marker}` is not a solution marker; write "
                            f"`{BEGIN} {module_number:02d}.K` with the block's task id")
        if begin:
            if block_start is not None:
                raise TitoError(f"{where}: `{BEGIN}` on line {lineno} opens a block inside the one opened on line {block_start}")
            task = begin.group("task")
            if task is None:
                raise TitoError(f"{where}: the solution block on line {lineno} has no task id; write "
                                f"`{BEGIN} {module_number:02d}.K` (a stable id: the stub, the tests and the prose use it)")
            if int(task.split(".")[0]) != module_number:
                raise TitoError(f"{where}: the solution block on line {lineno} names task {task}, which is not a task "
                                f"of module {module_number:02d}")
            block_start = lineno
            indent = line[: len(line) - len(line.lstrip())]
            name = _enclosing_name([ln.rstrip("\n") for ln in out], len(indent))
            if name is None:
                raise TitoError(f"{where}: the solution block on line {lineno} is not inside a function")
            tasks.append(task)
            out.append(f'{indent}raise NotImplementedError("Task {task}: implement {name}")\n')
        elif marker == END:
            if block_start is None:
                raise TitoError(f"{where}: `{END}` on line {lineno} has no `{BEGIN}` before it")
            block_start = None
        elif block_start is None:
            out.append(line)
    if block_start is not None:
        raise TitoError(f"{where}: `{BEGIN}` on line {block_start} has no matching `{END}`")
    return "".join(out), tasks


def student_notebook(course: Course, notebook: Path, module_number: int) -> dict:
    """The notebook with solutions stubbed and outputs cleared; cell ids and everything else kept."""
    nb = read_notebook(notebook, course)
    for number, cell in enumerate(nb["cells"], 1):
        if cell.get("cell_type") != "code":
            continue
        where = f"{course.rel(notebook)} cell {number}"
        source, _ = strip_solutions(cell_source(cell), module_number, where)
        cell["source"] = source.splitlines(keepends=True)
        cell["outputs"] = []
        cell["execution_count"] = None
    return nb


def _git_files(src: Path) -> tuple[set[str], set[str]] | None:
    """(tracked, untracked but not ignored) files of the course, as git sees them; None outside a git checkout."""
    def listed(*options):
        out = subprocess.run(["git", "-C", str(src), "ls-files", "-z", *options], capture_output=True, timeout=60)
        if out.returncode != 0:
            raise OSError(out.stderr.decode(errors="replace"))
        return {p for p in out.stdout.decode("utf-8", errors="surrogateescape").split("\0") if p}
    try:
        if not (src / ".git").exists():
            return None
        return listed("--cached"), listed("--others", "--exclude-standard")
    except (OSError, subprocess.SubprocessError):
        return None


def _copy_course(src: Path, dest: Path, ui=None):
    """The course without what students must not get; in a git checkout, only the files git tracks or would
    track (never what .gitignore leaves out: results, backups, build output), the untracked ones named."""
    files = _git_files(src)
    if files is not None:
        tracked, untracked = files
        allowed = {f for f in tracked | untracked if (src / f).is_file() or (src / f).is_symlink()}
        folders = {p.as_posix() for f in allowed for p in Path(f).parents}
        if untracked and ui is not None:
            shown = ", ".join(sorted(untracked)[:5]) + (", ..." if len(untracked) > 5 else "")
            ui.warn(f"copying {len(untracked)} file{'s' if len(untracked) != 1 else ''} that git does not track yet: "
                    f"{shown}")

    def ignore(folder, names):
        rel = Path(folder).resolve().relative_to(src)
        skipped = {n for n in names if n in SKIP or (n.startswith(".") and n != ".gitignore") or n.endswith(".egg-info")
                   or (rel / n).as_posix() in SKIP_PATHS | INSTRUCTOR_ONLY}
        if files is not None:
            skipped |= {n for n in names if (rel / n).as_posix().removeprefix("./") not in allowed | folders}
        return skipped

    shutil.copytree(src, dest, ignore=ignore, symlinks=True)
    if (dest / STUDENT_README).is_file():
        (dest / STUDENT_README).rename(dest / "README.md")


def release(course: Course, to: Path, force: bool, ui) -> Path:
    to = Path(to).expanduser().resolve()
    if to == course.root or course.root in to.parents:
        raise TitoError(f"{to} is inside the course; write the student copy to a folder outside {course.root}")
    if to in course.root.parents:
        raise TitoError(f"{to} holds the course itself; write the student copy to a folder outside {course.root}")
    if to.exists() and not to.is_dir():
        raise TitoError(f"{to} exists and is not a folder")
    existing = sorted(p.name for p in to.iterdir()) if to.is_dir() else []
    if existing and not force:
        raise TitoError(f"{to} is not empty ({len(existing)} entries); use --force to replace it (its contents are kept in a backup)")
    # Stub every notebook first: a broken solution block stops the release before anything is written.
    students = {m.notebook: student_notebook(course, m.notebook, m.number) for m in course.modules}

    to.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{to.name}.tito-", dir=to.parent))
    try:
        copy = staging / "course"
        with ui.status(f"copying the course to {to}"):
            _copy_course(course.root, copy, ui)
        for notebook, nb in students.items():
            target = copy / notebook.relative_to(course.root)
            target.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        from tito.export import export_module

        student_course = Course(copy)
        for m in student_course.modules:
            with ui.status(f"exporting {m.slug} from the stubs"):
                export_module(student_course, m)
        _check_no_solutions(student_course)
        backup = None
        if to.exists():
            if existing:
                backup = _free_name(to.with_name(f"{to.name}.backup-{datetime.now():%Y%m%d-%H%M%S}"))
                to.rename(backup)
            else:
                to.rmdir()
        copy.rename(to)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if backup:
        ui.line(f"      the previous contents of {to} are kept in {backup}")
    return to


def _free_name(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, ... : the first that does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _check_no_solutions(course: Course):
    """Belt and braces: no marker and no reference code may ship in the copy's notebooks or package."""
    for path in [*course.nbs_path.rglob("*.ipynb"), *course.lib_path.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if BEGIN in text or END in text:
            raise TitoError(f"internal error: {course.rel(path)} still holds a solution marker; nothing was released")
