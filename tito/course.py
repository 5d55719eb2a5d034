"""Where the course is and what it holds: settings.ini, the module folders, name resolution, saved state."""
import configparser
import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tito.errors import TitoError

_MODULE_DIR = re.compile(r"^(\d{2})_([a-z][a-z0-9_]*)$")
_DEFAULT_EXP = re.compile(r"^\s*#\s*\|\s*default_exp\s+(\S+)\s*$", re.M)


@dataclass(frozen=True)
class Module:
    number: int
    name: str
    folder: Path
    notebook: Path
    tests: Path

    @property
    def slug(self) -> str:
        return f"{self.number:02d}_{self.name}"


class Course:
    """A course is the folder holding nbdev's settings.ini; modules live under its nbs_path."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        cfg = configparser.ConfigParser()
        try:
            cfg.read(self.root / "settings.ini", encoding="utf-8")
            d = cfg["DEFAULT"]
            self.lib_name = d.get("lib_name", "tinytorch")
            self.lib_path = self.root / d.get("lib_path", self.lib_name)
            self.nbs_path = self.root / d.get("nbs_path", "modules")
        except configparser.Error as e:
            raise TitoError(f"{self.root / 'settings.ini'} cannot be read: {e}") from None
        self.tests_path = self.root / "tests"
        self.state_file = self.root / ".tito" / "state.json"

    @classmethod
    def find(cls, start: Path | None = None) -> "Course":
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "settings.ini").is_file():
                return cls(folder)
        raise TitoError(f"no course here: no settings.ini in {here} or any folder above it")

    def rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    @property
    def modules(self) -> list[Module]:
        found = []
        if not self.nbs_path.is_dir():
            return found
        for folder in sorted(self.nbs_path.iterdir()):
            m = _MODULE_DIR.match(folder.name)
            if not (m and folder.is_dir()):
                continue
            notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith((".", "_")))
            if not notebooks:
                continue
            named = folder / f"{m.group(2)}.ipynb"  # modules/04_losses/losses.ipynb
            if len(notebooks) > 1 and named not in notebooks:
                shown = ", ".join(p.name for p in notebooks)
                raise TitoError(f"{self.rel(folder)}/ holds {len(notebooks)} notebooks ({shown}); a module has one, "
                                f"named {named.name}")
            notebook = named if named in notebooks else notebooks[0]
            found.append(Module(int(m.group(1)), m.group(2), folder, notebook, self.tests_path / folder.name))
        return found

    def module(self, name: str) -> Module:
        """Resolve `04_losses`, `04`, `4` or `losses` to a module; refuse paths and unknown names."""
        name = (name or "").strip()
        if not name:
            raise TitoError("name a module, e.g. 04_losses, 04, 4 or losses (see `tito list`)")
        if "/" in name or "\\" in name or name.startswith(".") or name.endswith(".ipynb"):
            raise TitoError(f"'{name}' is a path; name a module instead, e.g. 04_losses, 04, 4 or losses")
        mods = self.modules
        key = name.lower()
        for m in mods:
            if key in (m.slug, m.name) or (key.isdigit() and int(key) == m.number):
                return m
        known = ", ".join(m.slug for m in mods) or "none"
        raise TitoError(f"unknown module '{name}'; the modules are: {known}")

    def targets(self, module: Module) -> list[Path]:
        """Every package file the module's notebook exports to: its `#| default_exp` one first, then those its
        cells name (`#| export core.autograd`)."""
        nb = read_notebook(module.notebook, self)
        found = [self.target(module)]
        for cell in nb["cells"]:
            if cell.get("cell_type") == "code":
                for name in re.findall(r"^\s*#\s*\|\s*export[si]?\s+([\w.]+)\s*$", cell_source(cell), re.M):
                    path = self.lib_path / (name.replace(".", "/") + ".py")
                    if path not in found:
                        found.append(path)
        return found

    def target(self, module: Module) -> Path:
        """The package file the module's notebook exports to, read from its `#| default_exp` cell."""
        exp = default_exp(read_notebook(module.notebook, self))
        if exp is None:
            raise TitoError(f"{self.rel(module.notebook)}: no `#| default_exp` cell (e.g. `#| default_exp core.losses`)")
        return self.lib_path / (exp.replace(".", "/") + ".py")

    # -- saved state: when each module was last exported and tested (in .tito/, never committed) --
    def load_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def record(self, module: Module, key: str, **values):
        state = self.load_state()
        values["at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        state.setdefault(module.slug, {})[key] = values
        write_atomic(self.state_file, json.dumps(state, indent=2, sort_keys=True) + "\n")


def read_notebook(path: Path, course: Course | None = None) -> dict:
    shown = course.rel(path) if course else str(path)
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TitoError(f"{shown}: no such notebook") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise TitoError(f"{shown} is not a valid notebook (JSON error: {e})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise TitoError(f"{shown} is not a valid notebook (no list of cells)")
    return nb


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def default_exp(nb: dict) -> str | None:
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            m = _DEFAULT_EXP.search(cell_source(cell))
            if m:
                return m.group(1)
    return None


def write_atomic(path: Path, text: str):
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
