"""Write entries into a zip as streams, hashing every byte on the way: memory stays flat whatever the size."""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from django.core.serializers.json import DjangoJSONEncoder

from core.hashing import HashingWriter


@dataclass
class Entry:
    name: str
    sha256: str
    size: int
    rows: int | None = None


class TextSink:
    """A text sink over a zip entry: encodes, then hashes, counts and writes through."""

    def __init__(self, raw: IO[bytes]):
        self.bytes = HashingWriter(raw)

    def write(self, text: str) -> int:
        self.bytes.write(text.encode("utf-8"))
        return len(text)


class PackageWriter:
    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.entries: list[Entry] = []

    @contextmanager
    def entry(self, name: str) -> Iterator[TextSink]:
        with self.archive.open(name, "w", force_zip64=True) as raw:
            writer = TextSink(raw)
            yield writer
        self.entries.append(Entry(name, writer.bytes.sha256, writer.bytes.size))

    def write_text(self, name: str, text: str) -> Entry:
        with self.entry(name) as out:
            out.write(text)
        return self.entries[-1]

    def write_rows(self, name: str, fmt: str, fields: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> Entry:
        """One population file: csv (header + rows), json (an array, one row per line) or jsonl."""
        count = 0
        with self.entry(name) as out:
            if fmt == "csv":
                writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: a CR or LF in a cell is quoted
                writer.writerow(fields)
                for row in rows:
                    writer.writerow([_cell(row[f]) for f in fields])
                    count += 1
            elif fmt == "json":
                out.write("[")
                for row in rows:
                    out.write(("\n" if count == 0 else ",\n") + _json(row))
                    count += 1
                out.write("\n]\n")
            elif fmt == "jsonl":
                for row in rows:
                    out.write(_json(row) + "\n")
                    count += 1
            else:
                raise ValueError(f"unknown format {fmt!r}")
        self.entries[-1].rows = count
        return self.entries[-1]

    def sha256sums(self) -> str:
        """GNU coreutils format, so `sha256sum -c SHA256SUMS.txt` checks the extracted package."""
        return "".join(f"{e.sha256}  {e.name}\n" for e in self.entries)


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) phones home): such text
# gets a leading apostrophe, which spreadsheets show as text (OWASP "CSV injection"). JSON files keep values as is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return _json(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
