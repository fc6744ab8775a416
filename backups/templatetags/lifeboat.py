from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def sort_query(filters, column: str) -> str:
    """The history's query string sorted by `column`; clicking the current column flips the direction."""
    return filters.querystring(sort=f"-{column}" if filters.sort == column else column)
