"""Sphinx configuration of the tinytorch site.

Build it with `tito site build`: that command first writes the module pages and the API page
into `_generated/` (from the notebooks and the package), then runs Sphinx with `-W`, so any
warning fails the build. Running `sphinx-build` by hand skips that first step.
"""
import io

project = "tinytorch"
author = "tinytorch authors"
copyright = "2026 onwards, tinytorch authors"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    # Copies the MathJax 3 bundle from its Python package into _static/mathjax and points
    # `mathjax_path` at it, so the math renders without reaching any other host.
    "sphinx-mathjax-offline",
]

root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints", ".jupyter_cache", "Thumbs.db", ".DS_Store"]
templates_path = []
html_static_path = ["_static"]
html_css_files = ["tinytorch.css"]

# --- the pages: MyST markdown and notebooks, executed at build time --------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
# the execution cache: myst-nb keeps it next to the output, in _build/.jupyter_cache
nb_execution_in_temp = False  # run next to the page; `tito site build` puts the course on PYTHONPATH
nb_execution_timeout = 300
nb_execution_raise_on_error = True  # a failing cell stops the build with its traceback
nb_execution_show_tb = True
nb_merge_streams = True
nb_render_markdown_format = "myst"  # tables printed by the pages' code render as tables
# Notebook headings are written for the notebook, not for Sphinx; a jump from # to ### is fine.
suppress_warnings = ["myst.header"]

# --- the API reference: autodoc + napoleon -------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # attributes as fields, so they are not described twice
napoleon_custom_sections = ["Shape"]
# Docstrings write `name` for code, as Markdown does: show it as code (a link when Sphinx knows it).
default_role = "py:obj"

# --- the look -----------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "tinytorch"
html_show_sourcelink = False
html_context = {"default_mode": "auto"}  # light or dark as the reader's system prefers
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}


# --- a docstring that is not valid reStructuredText is shown verbatim, never as a warning ----
_raw_docstrings = {}


def _keep_raw_docstring(app, what, name, obj, options, lines):
    _raw_docstrings[name] = list(lines)


def _rst_problems(app, text):
    """Parse `text` as reStructuredText on its own and return its warning and error messages."""
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser, roles
    from docutils.transforms import references
    from docutils.utils import new_document

    settings = get_default_settings(Parser)
    settings.report_level = 5  # report nothing to the console ...
    settings.halt_level = 5
    settings.warning_stream = io.StringIO()
    settings.env = app.env  # ... but let Sphinx's roles (:class:, :math:) parse as they will
    document = new_document("<docstring>", settings)
    problems = []
    document.reporter.attach_observer(
        lambda message: problems.append(message.astext()) if message["level"] >= 2 else None
    )
    default_role = roles._roles.get("")  # docutils forgets the default role after a parse
    try:
        Parser().parse(text, document)
        # Some problems (|x| read as a substitution, name_ as a link) only show when references resolve.
        document.transformer.add_transforms([
            references.Substitutions, references.PropagateTargets, references.AnonymousHyperlinks,
            references.IndirectHyperlinks, references.Footnotes, references.ExternalTargets,
            references.InternalTargets, references.DanglingReferences,
        ])
        document.transformer.apply_transforms()
    except Exception as error:  # a parser crash is a format problem too
        problems.append(repr(error))
    finally:
        if default_role is not None:
            roles._roles[""] = default_role
    return problems


def _verbatim_if_malformed(app, what, name, obj, options, lines):
    if not lines or not _rst_problems(app, "\n".join(lines)):
        return
    raw = _raw_docstrings.get(name) or list(lines)
    lines[:] = ["::", ""] + ["    " + line if line.strip() else "" for line in raw] + [""]


def setup(app):
    # napoleon rewrites the docstring at the default priority (500): keep the raw text before
    # it and check the result after it.
    app.connect("autodoc-process-docstring", _keep_raw_docstring, priority=100)
    app.connect("autodoc-process-docstring", _verbatim_if_malformed, priority=900)
    return {"parallel_read_safe": True}
