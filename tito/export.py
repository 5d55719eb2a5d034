"""Notebook -> package, through nbdev, refusing broken notebooks and writing each file atomically."""
import ast
import contextlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tito.course import Course, Module, cell_source, default_exp, read_notebook, write_atomic
from tito.errors import TitoError

_EXPORTED = re.compile(r"^\s*#\s*\|\s*export[si]?\b", re.M)


@dataclass
class Exported:
    module: Module
    target: Path
    changed: bool
    dropped: list[str] = field(default_factory=list)  # definitions the previous export had and this one lacks


def check_notebook(course: Course, module: Module) -> dict:
    """Refuse, with the cell number, a notebook that nbdev would export into a broken module."""
    nb = read_notebook(module.notebook, course)
    where = course.rel(module.notebook)
    if default_exp(nb) is None:
        raise TitoError(f"{where}: no `#| default_exp` cell; add one first, e.g. `#| default_exp core.{module.name}`")
    from tito.tasks import read_tasks

    _, cells = read_tasks(nb)
    for cell in cells:
        # Only what goes into the package must parse here; a broken check cell is `tito test`'s to report.
        source = cell_source(nb["cells"][cell.number - 1])
        if not _EXPORTED.search(source):
            continue
        try:
            ast.parse(source)
        except SyntaxError as e:
            raise TitoError(f"{where}: {cell.describe()} has a syntax error on line {e.lineno}: {e.msg}") from None
    return nb


def _definitions(text: str | None) -> set[str]:
    """The names a module's code defines at its top level (functions, classes, assignments)."""
    try:
        tree = ast.parse(text or "")
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id != "__all__")
    return names


def _render(course: Course, module: Module) -> dict[Path, str]:
    """Run nbdev's exporter, but collect each module's text instead of letting nbdev write it in place."""
    try:
        from nbdev.export import nb_export
        from nbdev.maker import ModuleMaker
    except ImportError as e:
        raise TitoError(f"exporting needs nbdev ({e}); install the tools with: pip install -e '.[dev]'") from None

    rendered: dict[Path, str] = {}

    class CollectingMaker(ModuleMaker):
        def __init__(self, dest, name, nb_path, is_new=True, **kwargs):
            # A notebook may send cells to a second module of its own (`#| export core.autograd`): that module
            # is written whole from this notebook, like its default_exp one, never appended to.
            super().__init__(dest, name, nb_path, is_new=True, **kwargs)

        def make(self, cells, all_cells=None, lib_path=None):
            final = self.fname
            final.parent.mkdir(parents=True, exist_ok=True)
            # Same folder as the real file, so nbdev computes the same relative paths in the header.
            fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".tito.py", dir=final.parent)
            os.close(fd)
            self.fname = Path(tmp)
            try:
                super().make(cells, all_cells, lib_path)
                rendered[final] = self.fname.read_text(encoding="utf-8")
            finally:
                self.fname = final
                os.unlink(tmp)

    with contextlib.chdir(course.root), warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            nb_export(module.notebook, lib_path=course.lib_path, mod_maker=CollectingMaker)
        except Exception as e:  # nbdev's own failures (a broken directive, ...) as one line, not a traceback
            raise TitoError(f"{course.rel(module.notebook)}: nbdev could not export it: {type(e).__name__}: {e}") from None
    if not rendered:
        why = "; ".join(str(w.message).splitlines()[0] for w in caught) or "no `#| export` cells"
        raise TitoError(f"{course.rel(module.notebook)}: nothing to export ({why})")
    return rendered


def export_module(course: Course, module: Module) -> list[Exported]:
    check_notebook(course, module)
    results = []
    for target, text in _render(course, module).items():
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old != text:
            write_atomic(target, text)
        dropped = sorted(_definitions(old) - _definitions(text))
        results.append(Exported(module, target, changed=old != text, dropped=dropped))
    _write_index(course)
    course.record(module, "export", notebook_mtime=module.notebook.stat().st_mtime)
    return results


def _write_index(course: Course):
    """nbdev's symbol index (tinytorch/_modidx.py), kept as `nbdev_export` would leave it."""
    from nbdev.doclinks import _build_modidx

    with contextlib.chdir(course.root), contextlib.redirect_stdout(io.StringIO()):
        _build_modidx(dest=course.lib_path, nbs_path=course.nbs_path)


def export_status(course: Course, module: Module) -> str:
    """'up to date', 'stale', 'not exported', or why the notebook cannot be exported."""
    try:
        check_notebook(course, module)
        rendered = _render(course, module)
    except TitoError as e:
        return f"cannot be exported: {str(e).split(': ', 1)[-1]}"
    for target, text in rendered.items():
        if not target.exists():
            return "not exported"
        if target.read_text(encoding="utf-8") != text:
            return "stale"
    return "up to date"
