"""Run a notebook's code cells in order in one namespace, recording which cells fail (a child process of `tito test`).

Usage: python -m tito._cells NOTEBOOK RESULTS_JSON
"""
import contextlib
import io
import json
import re
import sys
import traceback

_DIRECTIVE = re.compile(r"^\s*#\s*\|")
_NO_EVAL = re.compile(r"^\s*#\s*\|\s*eval\s*:\s*false", re.M)


def _is_only_directives(src: str) -> bool:
    return all(not line.strip() or _DIRECTIVE.match(line) for line in src.splitlines())


def run(notebook: str) -> list[dict]:
    with open(notebook, encoding="utf-8") as f:
        nb = json.load(f)
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
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(compile(src, filename, "exec"), namespace)
        except KeyboardInterrupt:
            raise
        except SyntaxError as e:
            line = e.lineno if e.filename == filename else None
            text = src.splitlines()[line - 1].lstrip() if line and line <= len(src.splitlines()) else ""
            why = "IPython magics and shell escapes do not run here; write plain Python" \
                if text.startswith(("%", "!")) else e.msg
            result.update(ok=False, line=line, error=f"SyntaxError: {why}")
        except BaseException as e:  # a failing check is data here, whatever it raised
            line = next((fs.lineno for fs in reversed(traceback.extract_tb(e.__traceback__))
                         if fs.filename == filename), None)
            message = str(e).strip().splitlines()[0] if str(e).strip() else ""
            result.update(ok=False, line=line, error=f"{type(e).__name__}: {message}".rstrip(": "))
        results.append(result)
    return results


if __name__ == "__main__":
    notebook, out_path = sys.argv[1], sys.argv[2]
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(run(notebook), f)
