"""tito: the command-line tool of the tinytorch course (export, test, complete, release, site)."""
__version__ = "0.1.0"
