"""`tito site build`: the course's documentation site, built with Sphinx.

The build has two steps:

1. Generate the pages Sphinx cannot find on its own, into `site/_generated/` (gitignored):
   one notebook per module, copied from `modules/NN_name/*.ipynb` with nbdev's directive lines
   and the export-only cells hidden, and the API reference page of `tinytorch.core.*`.
   The source notebooks are only read, never written.
2. Run Sphinx (`-W`: a warning is an error) in a subprocess whose working directory and
   PYTHONPATH are the course, so the executed pages import the course's own package.

Building again without changes is fast: generated files are rewritten only when their content
changes (Sphinx rebuilds what changed), and myst-nb caches executed notebooks in
`site/_build/.jupyter_cache`. When the package's code changes, that cache is dropped, because the
pages' outputs depend on the package and not only on the pages' own code.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

from tito.course import Course

# import name -> distribution name, for the message when the `site` extra is missing
_SITE_REQUIREMENTS = {
    "sphinx": "sphinx",
    "myst_nb": "myst-nb",
    "sphinx_book_theme": "sphinx-book-theme",
    "sphinx-mathjax-offline": "sphinx-mathjax-offline",
    "matplotlib": "matplotlib",
    "ipykernel": "ipykernel",
}
_DIRECTIVE = re.compile(r"^\s*#\s*\|\s*([\w-]+)")
_NO_EVAL = re.compile(r"^\s*#\s*\|\s*eval\s*:\s*false", re.MULTILINE)
_EXPORT_DIRECTIVES = {"export", "exporti", "exports"}


def build(root: pathlib.Path, *, clean: bool = False, echo=print) -> pathlib.Path:
    """Build the site of the course at `root`; return the path of the built index.html."""
    started = time.perf_counter()
    root = pathlib.Path(root).resolve()
    site = root / "site"
    if not (site / "conf.py").is_file():
        raise RuntimeError(f"no site/conf.py in {root}: is this the course's folder?")
    missing = [dist for mod, dist in _SITE_REQUIREMENTS.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise RuntimeError(
            f"the site needs {', '.join(missing)}, which is not installed: pip install -e '.[site]'"
        )
    if not (root / "settings.ini").is_file():
        raise RuntimeError(f"no settings.ini in {root}: is this the course's folder?")
    course = Course(root)
    nbs_path, lib_path = course.nbs_path, course.lib_path
    build_dir = site / "_build"
    generated = site / "_generated"
    if clean:
        echo("removing the previous build (site/_build, site/_generated)")
        shutil.rmtree(build_dir, ignore_errors=True)
        shutil.rmtree(generated, ignore_errors=True)

    modules = generate_pages(root, nbs_path=nbs_path, lib_path=lib_path, echo=echo)
    sources = {docname: notebook.relative_to(root).as_posix() for docname, notebook in modules.items()}
    _drop_stale_cache(build_dir, _code_fingerprint(root, lib_path), echo)

    echo("running Sphinx (pages whose code or package changed are executed again)")
    html = build_dir / "html"
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
        "-d", str(build_dir / "doctrees"), str(site), str(html),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # no debugger notice from each kernel
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    env.pop("MPLBACKEND", None)  # the kernel's inline backend draws with Agg
    result = _run_sphinx(command, root, env, echo, sources)
    if result:
        raise RuntimeError(result)
    index = html / "index.html"
    if not index.is_file():
        raise RuntimeError(f"Sphinx finished but wrote no {index}")
    echo(f"site ready ({len(modules)} module page(s)) in {time.perf_counter() - started:.1f} s")
    echo(f"the site is at {index}")
    return index


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXCEPTION_LINE = re.compile(r"^\w*(Error|Exception|Exit|Interrupt)(: .*)?$")
_SPHINX_PROBLEM = re.compile(r"(WARNING|ERROR|CRITICAL): ")


def _run_sphinx(command, root, env, echo, sources) -> str | None:
    """Run Sphinx and echo its progress; return None on success, else the one-line reason."""
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    site = str(root / "site") + os.sep
    problems, tail, failed_cell = [], [], None
    for raw in process.stdout:
        line = _ANSI.sub("", raw.rstrip())
        tail = (tail + [line])[-40:]
        page = line.split(":", 1)[0].replace(site, "").rsplit(".", 1)[0]
        ours = line.startswith(site)  # Sphinx's crash report repeats these lines, indented
        if ours and "Executing notebook failed" in line:
            problems.append(line)
            echo(f"  executing {page} failed")
        elif ours and "Executing notebook" in line:
            echo(f"  executing {page}")
        elif ours and "Executed notebook in" in line:
            echo(f"  executed {page} in {line.split('Executed notebook in', 1)[1].split('[')[0].strip()}")
        elif ours and "Using cached notebook" in line:
            echo(f"  {page}: outputs from the execution cache")
        elif _SPHINX_PROBLEM.search(line) and not line.startswith(("[", " ")):  # not "[IPKernelApp] WARNING |"
            problems.append(line)
            echo(line.replace(site, "site/"))
        elif problems and _EXCEPTION_LINE.match(line) and "Traceback" not in line and failed_cell is None:
            failed_cell = line.strip()
        elif line.startswith(("build succeeded", "build finished")):
            echo("  " + line)
    code = process.wait()
    if code == 0:
        return None
    if problems:
        first = problems[0]
        if "Executing notebook failed" in first:
            page = first.split(":", 1)[0].replace(site, "").rsplit(".", 1)[0]
            docname = page.rsplit("/", 1)[-1]
            where = sources.get(docname, page)
            return f"executing {where} for the site failed: {failed_cell or 'see the traceback above'}"
        more = f" (and {len(problems) - 1} more above)" if len(problems) > 1 else ""
        return f"the site build failed (warnings are errors): {first.replace(site, 'site/')}{more}"
    for line in tail:
        echo(line)
    last = next((line for line in reversed(tail) if line.strip()), "no output")
    return f"Sphinx exited with status {code}: {last}"


# --- step 1: the generated pages -----------------------------------------------------------

def generate_pages(root: pathlib.Path, *, nbs_path: pathlib.Path, lib_path: pathlib.Path,
                   echo=print) -> dict[str, pathlib.Path]:
    """Write site/_generated/: the module pages, their toctree and the API page.

    Returns {docname: source notebook} of the module pages, in course order.
    """
    generated = root / "site" / "_generated"
    (generated / "modules").mkdir(parents=True, exist_ok=True)
    pages, sources = [], {}  # pages: (docname, title)
    exported = []  # default_exp targets in course order
    for notebook in module_notebooks(nbs_path):
        docname = _docname(notebook)
        source = json.loads(notebook.read_text(encoding="utf-8"))
        page, title, target = site_notebook(source)
        _write_if_changed(generated / "modules" / f"{docname}.ipynb", json.dumps(page, indent=1, ensure_ascii=False) + "\n")
        pages.append((docname, title or docname))
        sources[docname] = notebook
        if target:
            exported.append(target)
    keep = {f"{docname}.ipynb" for docname, _ in pages}
    for old in (generated / "modules").glob("*.ipynb"):
        if old.name not in keep:
            old.unlink()
    echo(f"generated {len(pages)} module page(s) from {nbs_path.relative_to(root)}/")

    lines = ["```{toctree}", ":caption: Modules", ":maxdepth: 1", ""]
    for docname, title in pages:
        number = docname.split("_", 1)[0]
        label = f"{number} · {title}" if number.isdigit() else title
        lines.append(f"{label} <_generated/modules/{docname}>")
    if not pages:
        lines = ["*No module notebooks yet: add `modules/NN_name/name.ipynb` and build again.*"]
    _write_if_changed(generated / "toctree.inc", "\n".join(lines + ["```" if pages else ""]) + "\n")

    _write_if_changed(generated / "api.rst", api_page(root, lib_path, exported))
    return sources


def module_notebooks(nbs_path: pathlib.Path) -> list[pathlib.Path]:
    """Every module's notebook: nbs_path/NN_name/*.ipynb, in module order."""
    found = []
    for folder in sorted(p for p in nbs_path.glob("*") if p.is_dir() and not p.name.startswith((".", "_"))):
        found += sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith((".", "_")))
    return found


def _docname(notebook: pathlib.Path) -> str:
    folder = notebook.parent.name
    if folder.split("_", 1)[-1] == notebook.stem:
        return folder
    return f"{folder}-{notebook.stem}"


def site_notebook(source: dict) -> tuple[dict, str | None, str | None]:
    """The page version of a module notebook: (notebook, its title, its default_exp target).

    nbdev's `#|` lines are removed from the code (the `### BEGIN/END SOLUTION` markers stay: they
    show the reader what a student writes); a cell that held only directives disappears; a cell
    that only imports what the module exports is kept (the later cells need it) but hidden; an
    `#| eval: false` cell is shown and not run. Outputs are cleared: the build executes the page.
    """
    cells, title, target = [], None, None
    for number, cell in enumerate(source.get("cells", []), 1):
        text = "".join(cell.get("source", ""))
        cell_id = cell.get("id") or f"cell-{number}"
        if cell.get("cell_type") == "markdown":
            if title is None:
                match = re.search(r"^#\s+(.+?)\s*$", text, flags=re.MULTILINE)
                title = match.group(1) if match else None
            cells.append({"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text})
            continue
        if cell.get("cell_type") != "code":
            continue
        directives, kept = [], []
        for line in text.splitlines():
            match = _DIRECTIVE.match(line)
            if match:
                directives.append(match.group(1))
                if match.group(1) == "default_exp" and target is None:
                    target = line.split("default_exp", 1)[1].strip() or None
            else:
                kept.append(line)
        code = "\n".join(kept).strip("\n")
        if not code.strip():
            continue
        tags = []
        if "hide" in directives or (_EXPORT_DIRECTIVES & set(directives) and _only_imports(code)):
            tags.append("remove-cell")
        if _NO_EVAL.search(text):
            tags.append("skip-execution")
        cells.append({
            "cell_type": "code", "id": cell_id, "metadata": {"tags": tags} if tags else {},
            "execution_count": None, "outputs": [], "source": code,
        })
    metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}, title, target


def _only_imports(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return bool(tree.body) and all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in tree.body)


def api_page(root: pathlib.Path, lib_path: pathlib.Path, order: list[str]) -> str:
    """The reStructuredText of the API page: one automodule per module of the package's core."""
    package = lib_path.name
    found = sorted(
        f"{package}.core.{p.stem}" for p in (lib_path / "core").glob("*.py") if not p.name.startswith("_")
    )
    rank = {f"{package}.{target}": i for i, target in enumerate(order)}
    found.sort(key=lambda name: (rank.get(name, len(rank)), name))
    title = "API reference"
    lines = [
        title, "=" * len(title), "",
        f"Generated from the docstrings of ``{package}.core``, the code exported from the module",
        "notebooks. The derivations and the reasons behind each choice are in the modules' pages.", "",
    ]
    if not found:
        lines += ["Nothing is exported yet: run ``tito export --all``.", ""]
    for name in found:
        lines += [f"``{name}``", "-" * (len(name) + 4), "", f".. automodule:: {name}", ""]
    return "\n".join(lines)


def _write_if_changed(path: pathlib.Path, text: str) -> None:
    """Write only when the content differs, so Sphinx's incremental build sees no change."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# --- the execution cache follows the code, not only the pages -------------------------------

def _code_fingerprint(root: pathlib.Path, lib_path: pathlib.Path) -> str:
    """A hash of what the executed pages depend on besides their own code: the package, the
    benchmark script, and which Python, NumPy and PyTorch (if any) run them."""
    digest = hashlib.sha256()
    for name in ("numpy", "torch"):
        spec = importlib.util.find_spec(name)
        digest.update(f"{name}={spec.origin if spec else None}\0".encode())
    digest.update(f"{sys.executable}\0{sys.version}\0".encode())
    for folder in (lib_path, root / "benchmarks"):
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _drop_stale_cache(build_dir: pathlib.Path, fingerprint: str, echo) -> None:
    """Forget executed outputs and parsed pages when the package's code changed since last build."""
    stamp = build_dir / "code-fingerprint"
    previous = stamp.read_text().strip() if stamp.is_file() else None
    if previous is not None and previous != fingerprint:
        echo("the package (or the Python running it) changed since the last build: executing every page again")
        shutil.rmtree(build_dir / ".jupyter_cache", ignore_errors=True)
        shutil.rmtree(build_dir / "doctrees", ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")
