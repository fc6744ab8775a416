"""Links for a thousand rows: reverse() a URL once and fill in each row's argument.

reverse() walks the resolver for every call (tens of microseconds each): for one link per database of a fleet it was
a tenth of the overview's time. `link_maker` reverses once, with a sample argument, under the current script
prefix, and returns a function that puts each row's argument where the sample was. An argument that reverse() might
treat differently from plain text (anything beyond letters, digits and `_ . ~ -`, which need no quoting and match
the `str` and `int` path converters alike) is handed to reverse() itself, so the result is always what reverse()
gives.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.urls import reverse

PLAIN = re.compile(r"[A-Za-z0-9_.~-]+")


def link_maker(viewname: str, sample: str | int) -> Callable[[str | int], str]:
    """A function of one argument equal to `lambda arg: reverse(viewname, args=[arg])`, reversing only once.

    `sample` is any valid argument for the URL (say 1 for an `<int:...>` converter) whose text appears nowhere
    else in the URL; if it does, every call reverses.
    """
    url = reverse(viewname, args=[sample])
    text = str(sample)
    if url.count(text) != 1:
        return lambda arg: reverse(viewname, args=[arg])
    before, _, after = url.partition(text)
    numeric = isinstance(sample, int)

    def make(arg: str | int) -> str:
        if numeric:
            plain = type(arg) is int and arg >= 0
        else:
            plain = type(arg) is str and PLAIN.fullmatch(arg) is not None
        return f"{before}{arg}{after}" if plain else reverse(viewname, args=[arg])

    return make


def lazy_link_maker(viewname: str, sample: str | int) -> Callable[[str | int], str]:
    """link_maker, made at the first link asked for: rows built by code that may never show a link (the alert rules
    after every job read the overview's matrix) do not load the URL conf, and with it the web layer."""
    made: list[Callable[[str | int], str]] = []

    def make(arg: str | int) -> str:
        if not made:
            made.append(link_maker(viewname, sample))
        return made[0](arg)

    return make
