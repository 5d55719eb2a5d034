"""Run a notebook's code cells in order in one namespace, recording which cells fail (a child process of `tito test`).

`assert` statements are rewritten as pytest rewrites them in test files, so that a failing check reports the
values it compared (`assert 3.0 == 4.0`), not an empty AssertionError.

A cell that runs longer than the time limit is stopped (by an alarm signal, which interrupts Python code, so
an endless `while` loop) and reported as stuck; the cells after it still run.

Usage: python -m tito._cells NOTEBOOK RESULTS_JSON [SECONDS_PER_CELL]
"""
import ast
import contextlib
import io
import json
import re
import signal
import sys
import traceback


class CellTimeout(Exception):
    """Raised inside a cell that ran past its time limit."""


def _alarm(signum, frame):
    raise CellTimeout()

_DIRECTIVE = re.compile(r"^\s*#\s*\|")
_NO_EVAL = re.compile(r"^\s*#\s*\|\s*eval\s*:\s*false", re.M)


def _is_only_directives(src: str) -> bool:
    return all(not line.strip() or _DIRECTIVE.match(line) for line in src.splitlines())


def _compile(src: str, filename: str):
    """The cell's code, with pytest's assertion rewriting when pytest is there (it is, in the dev extra)."""
    tree = ast.parse(src, filename)
    try:
        from _pytest.assertion.rewrite import rewrite_asserts
    except ImportError:  # plain asserts still work, just with less to say
        return compile(tree, filename, "exec")
    rewrite_asserts(tree, src.encode("utf-8"), filename)
    return compile(tree, filename, "exec")


def run(notebook: str, limit: float = 60) -> list[dict]:
    with open(notebook, encoding="utf-8") as f:
        nb = json.load(f)
    timed = hasattr(signal, "setitimer")  # not on Windows: there the whole run's limit in tito test still holds
    if timed:
        signal.signal(signal.SIGALRM, _alarm)
    namespace = {"__name__": "__main__"}
    results = []
    for number, cell in enumerate(nb["cells"], 1):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if _is_only_directives(src) or _NO_EVAL.search(src):
            continue
        filename = f"<cell {number}>"
        kind = "export" if re.search(r"^\s*#\s*\|\s*export", src, re.M) else "check"
        result = {"cell": number, "id": cell.get("id", ""), "kind": kind, "ok": True}
        lines = src.splitlines()
        first = next((ln.strip() for ln in lines if ln.strip() and not _DIRECTIVE.match(ln)), "")
        out = io.StringIO()
        try:
            code = _compile(src, filename)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                if timed:
                    signal.setitimer(signal.ITIMER_REAL, limit)
                try:
                    exec(code, namespace)
                finally:
                    if timed:
                        signal.setitimer(signal.ITIMER_REAL, 0)
        except KeyboardInterrupt:
            raise
        except CellTimeout as e:
            frames = traceback.extract_tb(e.__traceback__)
            line = next((fs.lineno for fs in reversed(frames) if fs.filename == filename), None)
            result.update(ok=False, line=line, source=lines[line - 1].strip() if line and line <= len(lines) else "",
                          error=f"this cell did not finish within {limit:g} s (an endless loop?)", detail=[],
                          traceback="", timeout=True)
        except SyntaxError as e:
            line = e.lineno if e.filename == filename else None
            text = lines[line - 1].lstrip() if line and line <= len(lines) else ""
            why = "IPython magics and shell escapes do not run here; write plain Python" \
                if text.startswith(("%", "!")) else e.msg
            result.update(ok=False, line=line, source=text, error=f"SyntaxError: {why}", detail=[], traceback="")
        except BaseException as e:  # a failing check is data here, whatever it raised
            frames = traceback.extract_tb(e.__traceback__)
            line = next((fs.lineno for fs in reversed(frames) if fs.filename == filename), None)
            message = str(e).strip()
            headline, *rest = message.splitlines() or [""]
            result.update(
                ok=False, line=line, source=lines[line - 1].strip() if line and line <= len(lines) else "",
                error=f"{type(e).__name__}: {headline}".rstrip(": "), detail=[ln.rstrip() for ln in rest if ln.strip()],
                # from the cell's own frame on: the frame of this runner says nothing to a student
                traceback="".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next)).replace(
                    f'File "{filename}"', f'the cell starting "{first[:50]}"'),
            )
        results.append(result)
    return results


if __name__ == "__main__":
    notebook, out_path = sys.argv[1], sys.argv[2]
    results = run(notebook, float(sys.argv[3]) if len(sys.argv) > 3 else 60)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)
