"""Tags on databases: short labels, stored as ",a,b," so one tag is found with a plain `contains` lookup on
every database backend (",eu," never matches "eu-west")."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def split_tags(value: str) -> list[str]:
    return [t.strip().lower() for t in value.replace(";", ",").split(",") if t.strip()]


def tag_list(stored: str) -> list[str]:
    """The tags of a stored value (",a,b,", as normalize_tags writes it)."""
    return [t for t in stored.split(",") if t]


def validate_tags(value: str) -> None:
    bad = [t for t in split_tags(value) if not TAG_RE.match(t)]
    if bad:
        raise ValidationError(f"Tags are letters, digits, '_', '.' or '-' (up to 40 each); not: {', '.join(bad)}.")


def normalize_tags(value: str) -> str:
    tags = sorted(set(split_tags(value)))
    return f",{','.join(tags)}," if tags else ""


def tag_lookup(tag: str) -> dict[str, str]:
    """Filter keyword for databases carrying `tag`."""
    return {"tags__contains": f",{tag.strip().lower()},"}
