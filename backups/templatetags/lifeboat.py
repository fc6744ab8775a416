from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def sort_query(filters, column: str) -> str:
    """The history's query string sorted by `column`; clicking the current column flips the direction."""
    return filters.querystring(sort=f"-{column}" if filters.sort == column else column)


@register.inclusion_tag("backups/partials/sort_header.html")
def sort_header(filters, column: str, label: str) -> dict:
    """A sortable history column: its link, and an arrow and aria-sort on the column the table is sorted by."""
    return {"query": sort_query(filters, column), "label": label, "direction": filters.direction(column)}
