"""Read rendered reports back into figures, so the tests can check that every format agrees."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

_DURATION = re.compile(r"^(-)?(?:(\d+)h )?(?:(\d+)m )?(\d+)s$")


def parse_seconds(text: str) -> int | None:
    """Inverse of `tables.format_seconds`."""
    if text == "-":
        return None
    match = _DURATION.match(text)
    assert match, f"not a duration: {text!r}"
    sign, hours, minutes, secs = match.groups()
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(secs)
    return -total if sign else total


def csv_cells(text: str) -> dict[tuple[str, str, str], str]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "item", "field", "value"]
    return {(section, item, field): value for section, item, field, value in rows[1:]}


def markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """Every table under a `## Title` heading, header row first, cells unescaped."""
    tables: dict[str, list[list[str]]] = {}
    title = ""
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:]
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            tables.setdefault(title, []).append(cells)
    return tables


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self._table = attributes.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attributes.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(text: str) -> tuple[dict[str, list[list[str]]], list[str]]:
    """(tables by id with header row first, image sources)."""
    parser = _Tables()
    parser.feed(text)
    return parser.tables, parser.images
