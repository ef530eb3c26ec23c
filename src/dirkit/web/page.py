"""The page and its static files, read from the package (no build step, no CDN)."""

from __future__ import annotations

import string
from importlib import resources

from dirkit.report.html import json_for_script

ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
"""The files under /assets/, each with its type: only these names are ever served."""


def asset_text(name: str) -> str:
    """Return one file of web/assets."""
    return resources.files("dirkit.web").joinpath("assets", name).read_text(encoding="utf-8")


def render_index(csrf: str, trees: list[str]) -> str:
    """Return the page, with the CSRF token and the start trees (passwords already hidden) as data."""
    page = string.Template(asset_text("index.html"))
    return page.substitute(data=json_for_script({"csrf": csrf, "trees": trees}))
