"""An event's details as a person reads them: rows of field and value, or field, before and after for a change.

The trail stores details as JSON (whatever each app recorded); the audit page shows them through here instead of
a Python repr. Configuration changes carry {"changed": {field: {before, after}}, "before": {...}, "after": {...}}
(audit.config_audit): the changed fields come first, marked, then the unchanged ones for context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EMPTY = "—"


@dataclass(frozen=True)
class DetailRow:
    field: str
    value: str = ""  # plain details
    before: str = ""  # changes
    after: str = ""
    changed: bool = False


@dataclass(frozen=True)
class DetailTable:
    rows: list[DetailRow]
    is_change: bool  # show before/after columns

    def __bool__(self) -> bool:
        return bool(self.rows)


def readable(value: Any) -> str:
    """One value in words: None as a dash, booleans as yes/no, lists and mappings flattened one level deep."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {readable(item)}" for key, item in value.items()) or EMPTY
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(item) for item in value) or EMPTY
    return str(value)


def _label(field: str) -> str:
    return field.replace("_", " ")


def detail_table(details: dict[str, Any] | None) -> DetailTable:
    details = details or {}
    if "before" in details and "after" in details or "changed" in details:
        before = details.get("before") or {}
        after = details.get("after") or {}
        changed = details.get("changed") or {}
        rows = [DetailRow(_label(field), before=readable(change.get("before")), after=readable(change.get("after")),
                          changed=True) for field, change in changed.items()]
        if not changed:  # created or deleted: every field is a change from or to nothing
            fields = list(after) or list(before)
            rows = [DetailRow(_label(f), before=readable(before.get(f)) if before else EMPTY,
                              after=readable(after.get(f)) if after else EMPTY, changed=True) for f in fields]
        else:
            rows += [DetailRow(_label(f), before=readable(before.get(f)), after=readable(after.get(f)))
                     for f in after if f not in changed]
        return DetailTable(rows, is_change=True)
    return DetailTable([DetailRow(_label(field), value=readable(value)) for field, value in details.items()],
                       is_change=False)
