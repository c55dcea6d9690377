"""Sphinx configuration for sbkcard."""

project = "sbkcard"
author = "the sbkcard developers"
copyright = "2026, the sbkcard developers"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
nitpicky = False
suppress_warnings = ["autosummary.import_cycle"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
language = "en"
