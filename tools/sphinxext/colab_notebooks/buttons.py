"""The header buttons: Colab and ``.ipynb`` on pages with code, nothing GitHub without GitHub.

- Pages with code: the theme's Colab entry opens the published notebook
  (``colab.research.google.com/github/<org>/<repo>/blob/gh-pages/notebooks/<slug>.ipynb``), and
  the download menu's ``.ipynb`` entry is the generated notebook (also without a GitHub
  location). Pages without code get neither.
- Without a GitHub location the theme is given no repository URL (see ``configure_theme``), so
  it renders no repository, edit or launch button: never a dead link.
"""

from __future__ import annotations

from typing import Any

from .location import NOTEBOOK_DIR, Location

LAUNCH, DOWNLOAD, NOTEBOOK_ENTRY = "launch-buttons", "download-buttons", "download-notebook-button"


def configure_theme(theme_options: dict[str, Any], location: Location | None) -> None:
    """Turn on the theme's repository and edit buttons, pointing at the derived location, or
    turn them and Colab off (Jupyter Book's default ``repository.url`` is its own repository)."""
    if location is not None:
        theme_options.update({"repository_url": location.repo_url, "use_repository_button": True,
                              "use_edit_page_button": True, "repository_branch": location.branch,
                              "path_to_docs": location.book_path})
        return
    theme_options["repository_url"] = ""
    for key in ("use_repository_button", "use_edit_page_button", "use_issues_button",
                "use_source_button"):
        theme_options[key] = False
    launch = dict(theme_options.get("launch_buttons") or {})
    launch.pop("colab_url", None)
    theme_options["launch_buttons"] = launch


def _group(context: dict, label: str) -> dict | None:
    return next((b for b in context.get("header_buttons", []) if b.get("label") == label), None)


def retarget(context: dict, location: Location | None, slug: str | None) -> None:
    """Fix a page's launch and download menus; ``slug`` is None for a page without code."""
    buttons = context["header_buttons"]
    launch = _group(context, LAUNCH)
    if launch is not None:
        for entry in list(launch["buttons"]):
            if entry.get("text") == "Colab":
                if location is not None and slug is not None:
                    entry["url"] = location.colab_url(slug)
                    entry["tooltip"] = "Open this page as a notebook in Colab"
                else:
                    launch["buttons"].remove(entry)
        if not launch["buttons"]:
            buttons.remove(launch)
    download = _group(context, DOWNLOAD)
    if download is not None:
        entries = [b for b in download["buttons"] if b.get("label") != NOTEBOOK_ENTRY]
        if slug is not None:
            entries.insert(0, {
                "type": "link",
                "url": context["pathto"](f"{NOTEBOOK_DIR}/{slug}.ipynb", 1),
                "text": ".ipynb",
                "icon": "fas fa-code",
                "tooltip": "Download this page as a notebook (no outputs; runs on Colab)",
                "label": NOTEBOOK_ENTRY,
            })
        download["buttons"] = entries
