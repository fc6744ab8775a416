"""Sections that apps above backups add to the database page (backups never imports them).

An app registers a function (request, database) -> HTML at start-up; the database page renders each in order.
The drills app adds its plan check this way (drills/apps.py).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

DatabasePanel = Callable[[HttpRequest, object], SafeString]
DATABASE_PANELS: dict[str, DatabasePanel] = {}


def register(name: str, panel: DatabasePanel) -> None:
    DATABASE_PANELS[name] = panel  # by name: registering twice (tests, reloads) replaces, never duplicates


def render_panels(request: HttpRequest, database) -> list[SafeString]:
    return [panel(request, database) for panel in DATABASE_PANELS.values()]
