"""`tracker export`: the current records, read from the projected database, as import rows.

Each record is one row (its first source included), followed by one row per status update
and per further source, in the order they were recorded. Records come in an order that
`tracker import` accepts: formats, meetings, pledges, then announcements, each after any
record it refers to. Event ids are carried in `id`, so an export imported into an empty
log gives the same records, sources and status changes.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO

import orjson

from .rowformat import RECORD_KINDS, all_columns, to_csv_cell

Row = dict[str, Any]

EXPORT_ORDER = ("format", "meeting", "pledge", "announcement")
QUERIES = {
    "format": "select * from formats order by recorded_at, slug",
    "meeting": "select * from meetings order by recorded_at, id",
    "pledge": "select * from pledges order by recorded_at, id",
    "announcement": "select * from announcements order by recorded_at, id",
}


def _list(value: str | None) -> list[str] | None:
    return orjson.loads(value) if value else None


def _source(row: sqlite3.Row) -> Row:
    return {"source": row["url"] or row["citation"], "publisher": row["publisher"],
            "published": row["published"], "quote": row["quote"]}


def _compact(row: Row) -> Row:
    return {key: value for key, value in row.items() if value not in (None, "", [], False)}


class Exporter:
    """Reads the whole database once, then yields rows record by record."""

    def __init__(self, conn: sqlite3.Connection):
        conn.row_factory = sqlite3.Row
        self.conn = conn
        self.sources: dict[str, list[sqlite3.Row]] = defaultdict(list)
        for row in conn.execute("select * from sources order by recorded_at, event_id"):
            self.sources[row["subject"]].append(row)
        self.changes = {row["event_id"]: row for row in conn.execute(
            "select * from status_changes order by recorded_at, event_id")}
        self.officials: dict[str, list[str]] = defaultdict(list)
        for row in conn.execute("select * from meeting_participants where official is not null "
                                "order by rowid"):
            title = f":{row['official_title']}" if row["official_title"] else ""
            self.officials[row["meeting_id"]].append(f"{row['actor']}:{row['official']}{title}")

    def rows(self, kinds: tuple[str, ...] = RECORD_KINDS) -> Iterator[Row]:
        for kind in EXPORT_ORDER:
            if kind in kinds:
                records = list(self.conn.execute(QUERIES[kind]))
                if kind == "announcement":
                    records = _referred_first(records)
                for record in records:
                    yield from self._record_rows(kind, record)

    def _record_rows(self, kind: str, record: sqlite3.Row) -> Iterator[Row]:
        subject = record["slug"] if kind == "format" else record["id"]
        sources = self.sources.get(subject, [])
        first = next((row for row in sources if row["kind"] == "record"), None)
        fields = getattr(self, f"_{kind}")(record)
        event_id = first["event_id"] if first else None
        yield _compact({"kind": kind, "id": event_id, **fields,
                        **(_source(first) if first else {})})
        for row in sources:
            if row is first:
                continue
            change = self.changes.get(row["event_id"]) if row["kind"] == "update" else None
            if change is not None:
                yield _compact({"kind": "update", "id": row["event_id"], "subject": subject,
                                "status": change["status"], "date": change["date"],
                                "amount": change["amount_text"], "note": change["note"],
                                **_source(row)})
            else:
                yield _compact({"kind": "citation", "id": row["event_id"], "subject": subject,
                                **_source(row)})

    @staticmethod
    def _format(record: sqlite3.Row) -> Row:
        return {"slug": record["slug"], "name": record["name"],
                "member": _list(record["members"]), "launched": record["launched"],
                "summary": record["summary"]}

    def _meeting(self, record: sqlite3.Row) -> Row:
        first_change = next(
            (self.changes[row["event_id"]] for row in self.sources.get(record["id"], [])
             if row["kind"] == "update" and row["event_id"] in self.changes), None)
        return {"title": record["title"], "date": record["date"],
                "status": first_change["previous_status"] if first_change else record["status"],
                "format": record["format"], "level": record["level"], "mode": record["mode"],
                "city": record["city_as_given"] or record["city"], "country": record["country"],
                "participant": _list(record["participants"]), "chair": record["chair"],
                "official": self.officials.get(record["id"]),
                "topic": _list(record["topics"]), "summary": record["summary"]}

    @staticmethod
    def _announcement(record: sqlite3.Row) -> Row:
        return {"title": record["title"], "date": record["date"], "by": record["by_actor"],
                "about": _list(record["about"]), "topic": _list(record["topics"]),
                "summary": record["summary"]}

    @staticmethod
    def _pledge(record: sqlite3.Row) -> Row:
        return {"title": record["title"], "date": record["date"], "donor": record["donor"],
                "recipient": _list(record["recipients"]), "amount": record["amount_text"],
                "currency": record["currency"], "approximate": bool(record["approximate"]),
                "instrument": record["instrument"], "purpose": record["purpose"],
                "at": record["meeting_id"]}


def _referred_first(records: list[sqlite3.Row]) -> list[sqlite3.Row]:
    """Announcements in recorded order, except that one comes after those it is about."""
    by_id = {record["id"]: record for record in records}
    ordered: list[sqlite3.Row] = []
    placed: set[str] = set()

    def place(record: sqlite3.Row, path: set[str]) -> None:
        if record["id"] in placed or record["id"] in path:
            return
        for reference in _list(record["about"]) or []:
            if reference in by_id:
                place(by_id[reference], path | {record["id"]})
        placed.add(record["id"])
        ordered.append(record)

    for record in records:
        place(record, set())
    return ordered


def export_rows(db_path: Path | str, kinds: tuple[str, ...] = RECORD_KINDS) -> Iterator[Row]:
    """The rows of every record of the given kinds in a built database."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        yield from Exporter(conn).rows(kinds)


def write_jsonl(rows: Iterator[Row], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(orjson.dumps(row).decode() + "\n")
        count += 1
    return count


def write_csv(rows: Iterator[Row], out: TextIO, kinds: tuple[str, ...] = RECORD_KINDS) -> int:
    """CSV with a header of every column the kinds (and their updates and citations) use."""
    row_kinds = (*kinds, "citation") if kinds == ("format",) else (*kinds, "update", "citation")
    header = all_columns(row_kinds)
    writer = csv.writer(out)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([to_csv_cell(row.get(column)) for column in header])
        count += 1
    return count
