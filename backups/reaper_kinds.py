"""Other apps' job kinds that the reaper (backups/reaper.py) also reaps, such as evidence exports: functions
(now) -> list of reaped rows. A module of its own, so an app registers at start-up without importing the reaper
and everything it uses."""

from __future__ import annotations

extra_kinds: list = []
