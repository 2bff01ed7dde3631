"""Reading the rows of `tracker import`: CSV or JSON Lines in, decoded cells out.

A row keeps its line number (where it starts in the file), its kind and its non-empty
cells. Problems found just reading (the header, a cell of another kind, a bad flag) are
collected with their line numbers; checking the rows is the importer's job.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .errors import TrackerError, a_or_an, shown
from .rowformat import (
    FLAGS,
    MULTI_VALUED,
    ROW_KINDS,
    all_columns,
    columns,
    parse_flag_cell,
    split_list,
)

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
KNOWN_COLUMNS = frozenset(all_columns())
ALLOWED = {kind: frozenset(columns(kind)) for kind in ROW_KINDS}
PLAIN = KNOWN_COLUMNS - MULTI_VALUED - FLAGS


@dataclass(slots=True)
class Row:
    """One row of the file: the line it starts on, its kind and its non-empty cells."""

    line: int
    kind: str
    cells: dict[str, Any]  # column -> str, list[str] (multi-valued) or bool (flag)
    given: dict[str, Any]  # multi-valued column -> its value as the file gives it

    def as_given(self, column: str) -> Any:
        """A cell's value as the file gives it (a list as one cell, not the items)."""
        return self.given.get(column, self.cells.get(column))


@dataclass(frozen=True, slots=True)
class Kinds:
    """The kind of a row with no kind cell (`--kind`, else the file's name), and the kind
    `--kind` requires of every row."""

    default: str | None
    forced: str | None


@dataclass
class Problem:
    """Why a row (or the header, line 1 of a CSV file) cannot be imported."""

    line: int
    field: str | None
    message: str
    value: Any = None
    header: bool = False

    def as_json(self) -> dict[str, Any]:
        """For `tracker import --json`: the line, the column (or null), the value as the
        file gives it (or null), the message, and the whole line printed on stderr."""
        return {"line": self.line, "column": self.field,
                "value": self.value if isinstance(self.value, str | list) else None,
                "message": self.message, "text": str(self)}

    def __str__(self) -> str:
        message = self.message
        if self.field is None:
            return f"line {self.line}: {message}"
        value = "; ".join(self.value) if isinstance(self.value, list) else self.value
        if value in (None, "", True, False) or shown(value) in message:
            return f"line {self.line}: {self.field}: {message}"
        return f"line {self.line}: {self.field} {shown(value)}: {message}"


def read_text(path: str) -> str:
    """The file (or stdin for `-`) as text: UTF-8, with or without a byte-order mark."""
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TrackerError(
            f"{path} is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}): "
            "save it as UTF-8 CSV"
        ) from None


def kind_from_name(path: str) -> str | None:
    """`meetings.csv`, `pledges-2020.csv` -> the kind their rows are, if the name says."""
    match = re.match(r"[a-z]+", Path(path).stem.lower())
    if not match:
        return None
    word = match.group()
    for kind in ROW_KINDS:
        if word in (kind, kind + "s"):
            return kind
    return None


def read_rows(path: str, kind: str | None = None) -> tuple[list[Row], list[Problem]]:
    """The rows of a CSV or JSON Lines file and the problems found just reading them."""
    text = read_text(path)
    suffix = Path(path).suffix.lower()
    if not text.strip():
        if suffix in JSONL_SUFFIXES:  # no rows: what `export` writes of no records
            return [], []
        raise TrackerError(f"{path} is empty")
    kinds = Kinds(kind or kind_from_name(path), kind)
    is_jsonl = suffix in JSONL_SUFFIXES or (
        suffix not in CSV_SUFFIXES and text.lstrip()[:1] == "{"
    )
    problems: list[Problem] = []
    rows = list((_jsonl_rows if is_jsonl else _csv_rows)(text, kinds, problems))
    return rows, problems


def _row(line: int, cells: dict[str, Any], given: dict[str, Any], kinds: Kinds,
         problems: list[Problem]) -> Row | None:
    """A row of a known kind whose cells all belong to that kind, else a problem."""
    written = cells.pop("kind", None)
    kind = str(written or kinds.default or "").strip().lower()
    if kinds.forced and written is not None and kind != kinds.forced:
        problems.append(Problem(line, "kind", f"not the kind --kind gives "
                                f"({kinds.forced})", written))
        return None
    if kind not in ROW_KINDS:
        message = (f"unknown kind {shown(kind)}: use one of {', '.join(ROW_KINDS)}" if kind
                   else "no kind: add a kind column, or use --kind")
        problems.append(Problem(line, "kind", message))
        return None
    if not cells.keys() <= ALLOWED[kind]:
        name = next(name for name in cells if name not in ALLOWED[kind])
        problems.append(Problem(line, name, f"not a column of {a_or_an(kind)} row",
                                given.get(name, cells[name])))
        return None
    return Row(line, kind, cells, given)


def _delimiter(header_line: str) -> str:
    """`,`, `;` or a tab: whichever separates the names of the header line."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _csv_rows(text: str, kinds: Kinds, problems: list[Problem]) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""),
                        delimiter=_delimiter(text.partition("\n")[0]), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as error:
        problems.append(Problem(1, None, f"malformed CSV header ({error})", header=True))
        return
    known = KNOWN_COLUMNS if "kind" in header else set(columns(kinds.default or "citation"))
    if "kind" not in header and kinds.default is None:
        problems.append(Problem(1, None, "no kind column: add one, name the file after its "
                                "kind (meetings.csv), or use --kind", header=True))
        return
    seen: set[str] = set()
    for name in header:
        if name and name not in known and name != "kind":
            problems.append(Problem(1, None, f"unknown column {shown(name)}", header=True))
        elif name in seen and name not in MULTI_VALUED:
            problems.append(Problem(1, None, f"column {shown(name)} appears twice",
                                    header=True))
        seen.add(name)
    if problems:
        return
    end = reader.line_num
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problems.append(Problem(end + 1, None, f"malformed CSV ({error})"))
            return
        line, end = end + 1, reader.line_num
        given: dict[str, str] = {}
        cells = _csv_cells(line, header, record, given, problems)
        if cells is not None and (row := _row(line, cells, given, kinds, problems)):
            yield row


def _csv_cells(line: int, header: list[str], record: list[str], given: dict[str, str],
               problems: list[Problem]) -> dict[str, Any] | None:
    """The non-empty cells of one CSV record, decoded; None for a blank or bad record.
    `given` gets the text of each cell of several values (of a column repeated in the
    header, the texts joined as one cell would hold them)."""
    if len(record) > len(header) and any(cell.strip() for cell in record[len(header):]):
        problems.append(Problem(line, None, f"{len(record)} cells, but the header names "
                                f"{len(header)} columns"))
        return None
    cells: dict[str, Any] = {}
    for name, cell in zip(header, record, strict=False):
        if not cell or cell.isspace():
            continue
        if name in PLAIN:
            cells[name] = cell.strip()
        elif not name:
            problems.append(Problem(line, None, f"a value in a column with no name: "
                                    f"{shown(cell)}"))
            return None
        elif name in MULTI_VALUED:
            cells.setdefault(name, []).extend(split_list(cell))
            given[name] = f"{given[name]}; {cell.strip()}" if name in given else cell.strip()
        else:
            try:
                cells[name] = parse_flag_cell(name, cell)
            except TrackerError as error:
                problems.append(Problem(line, name, str(error), cell))
                return None
    return cells or None


def _jsonl_rows(text: str, kinds: Kinds, problems: list[Problem]) -> Iterator[Row]:
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            problems.append(Problem(number, None, f"not valid JSON ({error.args[0]})"))
            continue
        if not isinstance(value, dict):
            problems.append(Problem(number, None, "not a JSON object"))
            continue
        try:
            repeated = _repeated_key(raw, value)
            if not repeated and any(type(cell) in (int, float) for cell in value.values()):
                value = json.loads(raw, parse_int=Number, parse_float=Number)  # as written
        except RecursionError:  # Python's parser nests less deep than orjson's
            problems.append(Problem(number, None, "not valid JSON (nested too deeply)"))
            continue
        if repeated:
            problems.append(Problem(number, None, f"key {shown(repeated)} appears twice"))
            continue
        cells = _json_cells(number, value, problems)
        given = {name: value[name] for name in cells if name in MULTI_VALUED} if cells else {}
        if cells is not None and (row := _row(number, cells, given, kinds, problems)):
            yield row


# Where a key may end: a quote, then a colon. Each key of a line has one, so a line with no
# more of them than its object has keys names no key twice (and holds no nested object).
KEY_END = re.compile(r'"\s*:')


def _repeated_key(raw: str, value: dict[str, Any]) -> str | None:
    """A key the line's object gives twice (orjson, as JSON parsers do, keeps the last
    value: a repeated amount would be taken silently), or None."""
    if len(KEY_END.findall(raw)) <= len(value):
        return None
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:  # each object of the line
        keys = [key for key, _ in items]
        repeated.extend(key for index, key in enumerate(keys) if key in keys[:index])
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    return repeated[0] if repeated else None


class Number(str):
    """A JSON number as written in the file: `12345678901234567.89`, not the float it
    reads as (1.2345678901234568e+16), so that an amount keeps its digits, and a message
    names what the file says."""


def _json_cells(line: int, value: dict[str, Any],
                problems: list[Problem]) -> dict[str, Any] | None:
    cells: dict[str, Any] = {}
    for name, cell in value.items():
        problem = None
        if name not in KNOWN_COLUMNS:
            problem = "unknown field"
        elif cell is None or cell == "" or cell == []:
            continue
        elif name in MULTI_VALUED:
            items = [cell] if type(cell) is str else cell
            if isinstance(items, list) and all(type(item) is str for item in items):
                cells[name] = [item.strip() for item in items if item.strip()]
            else:
                problem = "expected text or a list of text"
        elif name in FLAGS:
            if isinstance(cell, bool):
                cells[name] = cell
            elif type(cell) is str:
                try:
                    cells[name] = parse_flag_cell(name, cell)
                except TrackerError as error:
                    problem = str(error)
            else:
                problem = "expected true or false"
        elif type(cell) is str:
            cells[name] = cell.strip()
        elif type(cell) is Number:
            cells[name] = str(cell)
        else:
            problem = "expected text"
        if problem:
            problems.append(Problem(line, name, problem, cell if type(cell) is str else None))
            return None
    return cells
