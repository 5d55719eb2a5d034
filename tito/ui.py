"""Output for humans: colour and spinners on a terminal, plain lines when piped or when NO_COLOR is set."""
import contextlib
import os
import sys


def _fancy(stream) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class UI:
    """Every message tito prints goes through here. Markers are ASCII so any console can print them."""

    def __init__(self):
        for stream in (sys.stdout, sys.stderr):
            # A console that cannot encode a character must not crash a command.
            with contextlib.suppress(AttributeError, ValueError):
                stream.reconfigure(errors="replace")
        self.fancy = _fancy(sys.stdout)
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, emoji=False, soft_wrap=True)
        return self._console

    def _print(self, text: str, style: str | None = None):
        if self.fancy and style:
            from rich.markup import escape

            self.console.print(f"[{style}]{escape(text)}[/]")
        elif self.fancy:
            from rich.markup import escape

            self.console.print(escape(text))
        else:
            print(text, flush=True)

    def line(self, text: str = ""):
        self._print(text)

    def ok(self, text: str):
        self._print(f"ok    {text}", "green")

    def fail(self, text: str):
        self._print(f"FAIL  {text}", "red")

    def warn(self, text: str):
        self._print(f"warn  {text}", "yellow")

    def heading(self, text: str):
        self._print(text, "bold")

    def error(self, text: str):
        """The one line a failed command ends with, on stderr."""
        print(f"tito: error: {text}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def status(self, text: str):
        """A spinner on a terminal; a single progress line otherwise."""
        if self.fancy:
            with self.console.status(text, spinner="line"):  # ASCII: any console can draw it
                yield
        else:
            print(f"...   {text}", flush=True)
            yield

    def table(self, headers: list[str], rows: list[list[str]]):
        if self.fancy:
            from rich.table import Table

            t = Table(*headers, show_lines=False)
            for r in rows:
                t.add_row(*r)
            self.console.print(t)
            return
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
        for r in [headers, *rows]:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip(), flush=True)
