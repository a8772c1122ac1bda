"""Sphinx configuration of the exactregions documentation.

Build with ``make docs`` (warnings are errors). The API reference (``api.rst``) is written here,
at every build, from ``exactregions.__all__``: every public name gets a page, grouped under the
comments of the ``__all__`` list in ``exactregions/__init__.py``, and the build fails if a public
name ends up without one.
"""

from __future__ import annotations

import ast
import importlib
import io
import os
import sys
import tokenize
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # the gallery's counts run on one BLAS thread

import exactregions  # noqa: E402

# -- project -------------------------------------------------------------------------------------

project = "exactregions"
author = "the exactregions developers"
copyright = "the exactregions developers"
release = exactregions.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.md5", "auto_examples/*.py",
                    "auto_examples/*.ipynb", "auto_examples/*.zip"]
default_role = "literal"  # `x` in the pages is code, as in the docstrings
pygments_style = "sphinx"

# -- the API reference ---------------------------------------------------------------------------

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # the signatures keep their annotations; numpydoc reads the docstrings
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set = set()


def _groups(source: str, names: list[str]) -> list[tuple[str, list[str]]]:
    """The names of ``__all__`` grouped under the comment lines that precede them in the
    package's ``__init__.py`` (a name under no comment goes to "Other names")."""
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.Assign)
                and any(getattr(t, "id", None) == "__all__" for t in n.targets))
    groups: list[tuple[str, list[str]]] = []
    current = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if not node.lineno <= tok.start[0] <= node.end_lineno:
            continue
        if tok.type == tokenize.COMMENT:
            current = tok.string.lstrip("#").strip()
            current = current[:1].upper() + current[1:]
            groups.append((current, []))
        elif tok.type == tokenize.STRING:
            name = ast.literal_eval(tok.string)
            if current is None:
                groups.append(("Other names", []))
                current = "Other names"
            groups[-1][1].append(name)
    listed = {n for _, ns in groups for n in ns}
    missing = [n for n in names if n not in listed]
    if missing:
        groups.append(("Other names", missing))
    return [(title, [n for n in ns if n in names]) for title, ns in groups if ns]


def write_api_page() -> list[str]:
    """Write ``api.rst`` from ``exactregions.__all__``; return the names it lists."""
    names = [n for n in exactregions.__all__ if n != "__version__"]
    source = Path(exactregions.__file__).read_text()
    head = (DOCS / "_templates" / "api_head.rst").read_text()
    parts = [head]
    for title, ns in _groups(source, names):
        parts.append(f"{title}\n{'-' * len(title)}\n\n.. autosummary::\n   :toctree: generated\n\n")
        parts.extend(f"   {n}\n" for n in ns)
        parts.append("\n")
    parts.append("The package's version is ``exactregions.__version__`` "
                 f"(this documentation: {release}).\n")
    text = "".join(parts)
    page = DOCS / "api.rst"
    if not page.exists() or page.read_text() != text:  # unchanged: keep its time stamp
        page.write_text(text)
    return names


API_NAMES = write_api_page()

# -- docstrings of module data -------------------------------------------------------------------


def _data_doc(name: str):
    """The ``#:`` comment of the module of the package that defines the datum ``name``."""
    from sphinx.pycode import ModuleAnalyzer

    obj = getattr(exactregions, name)
    for modname, mod in sorted(sys.modules.items()):
        if not modname.startswith("exactregions.") or getattr(mod, name, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # a compiled or source-less module
            continue
        if ("", name) in docs:
            return list(docs[("", name)])
    return None


def process_docstring(app, what, name, obj, options, lines):
    """A datum exported at the top level is described by the comment where it is defined (not
    by the docstring of its type: ``dict``'s for a dict)."""
    if what == "data" and name.startswith("exactregions.") and name.count(".") == 1:
        doc = _data_doc(name.split(".", 1)[1])
        if doc is not None:
            lines[:] = doc
        elif lines and "\n".join(lines).strip() == (type(obj).__doc__ or "").strip():
            lines[:] = []


def check_reference(app, exception):
    """Fail the build (a warning, with ``-W`` an error) when a public name has no page."""
    if exception is not None or app.builder.name != "html":
        return
    from sphinx.util import logging

    log = logging.getLogger("exactregions.docs")
    for n in exactregions.__all__:
        if n == "__version__":
            continue
        if f"generated/exactregions.{n}" not in app.env.found_docs:
            log.warning(f"exactregions.{n} is in exactregions.__all__ but has no page in the API reference")


def drop_object_base(app, name, obj, options, bases):
    """``Bases: object`` says nothing: show a class's bases only when it has real ones."""
    bases[:] = [b for b in bases if b is not object]


def setup(app):
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("autodoc-process-bases", drop_object_base)
    app.connect("build-finished", check_reference)


# -- the gallery ---------------------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "abort_on_example_error": True,
    "run_stale_examples": True,  # every build runs every example: a broken one fails it
    "only_warn_on_example_error": False,
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "doc_module": ("exactregions",),
    "backreferences_dir": "generated/backreferences",
    "min_reported_time": 1,
    "show_memory": False,
}

# -- the pages -----------------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = f"exactregions {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "changelog": [], "benchmarks": []}
