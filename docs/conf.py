"""Sphinx configuration for sbkcard."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "sbkcard"
author = "the sbkcard developers"
copyright = "2026, the sbkcard developers"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.graphviz",
    "pictures",
]
graphviz_output_format = "svg"
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
nitpicky = False
suppress_warnings = ["autosummary.import_cycle"]
exclude_patterns = ["_build", "_pictures"]
html_theme = "alabaster"
language = "en"
