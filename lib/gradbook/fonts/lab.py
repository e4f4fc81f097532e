"""A Jupyter server extension that gives JupyterLab the bundled CJK font: `custom.css` beside the font.

JupyterLab links `{base_url}custom/custom.css` into every page when `LabApp.custom_css` is on, and
serves `/custom/<file>` from the server's `static_custom_path` (the user's ~/.jupyter/custom/ by
default, which is not configurable). This extension puts this package's folder first on that path,
so the page gets `fonts/custom.css` (an @font-face for the bundled font, added to the theme's font
stacks) and the font itself. `jupyter/cjk-font/jupyter_server_config.json` turns both on;
`workbook.py lab --lang zh` adds that folder to JUPYTER_CONFIG_PATH (a course hub adds it the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent  # custom.css and the font


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "gradbook.fonts.lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    # In place: JupyterLab's /custom/ handler was given this very list, and reads it on each request.
    paths = serverapp.web_app.settings.setdefault("static_custom_path", [])
    if str(FOLDER) not in paths:
        paths.insert(0, str(FOLDER))
    serverapp.log.info("gradbook: JupyterLab gets the bundled CJK font (%s)", FOLDER / "custom.css")


__all__ = ["FOLDER"]
