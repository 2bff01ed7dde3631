"""What records the log holds: the lookups commands need before appending.

An index in `events/.cache/catalog/` (git-ignored, local, rebuildable) of every record
and every event id, with where to find each in the log. Opening it reads only what was
appended since the last time, so commands that check a reference (`add meeting
--format`, `update`, `cite`, `amend`, `retract`, a retry with `--id`) do no work in
proportion to the size of the log. After a merge brought older events, or if anything
was rewritten, it is rebuilt from the whole log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import TrackerError, shown
from .log import EventLog, SegmentState
from .model import AMENDED, RETRACTED, apply_changes

VERSION = "1"
SCHEMA = """
create table if not exists meta (key text primary key, value text);
create table if not exists segments (name text primary key, size integer, tail text);
create table if not exists subjects (
  id text primary key, kind text, latest text, date text, retracted integer,
  data text,      -- the current data, once amended (else: the recording event's data)
  segment text, offset integer  -- where the recording event is
);
create table if not exists events (id text primary key, segment text, offset integer);
"""


@dataclass
class Subject:
    kind: str  # format, meeting, announcement or pledge
    latest: str  # recorded_at of the latest event about it
    date: str | None = None  # the record's date, for the checks of `update`
    retracted: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # filled by `Catalog.data_of`


class Subjects:
    """The records of the log, looked up by id (or format slug) like a read-only dict."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def get(self, subject: str) -> Subject | None:
        row = self.conn.execute("select kind, latest, date, retracted from subjects "
                                "where id = ?", (subject,)).fetchone()
        return Subject(row[0], row[1], row[2], bool(row[3])) if row else None

    def __contains__(self, subject: object) -> bool:
        return self.conn.execute("select 1 from subjects where id = ?",
                                 (subject,)).fetchone() is not None

    def __getitem__(self, subject: str) -> Subject:
        found = self.get(subject)
        if found is None:
            raise KeyError(subject)
        return found

    def __iter__(self) -> Iterator[str]:
        return (row[0] for row in self.conn.execute("select id from subjects"))


class Catalog:
    """The index, open and up to date with the log."""

    def __init__(self, log: EventLog, conn: sqlite3.Connection):
        self.log = log
        self.conn = conn
        self.subjects = Subjects(conn)

    @classmethod
    def scan(cls, log: EventLog) -> Catalog:
        """Open the index, first reading into it whatever was appended since."""
        folder = log.root / ".cache" / "catalog"
        if log.root.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "index.db"
        else:
            path = Path(":memory:")  # no log yet: nothing to remember
        conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
        try:
            conn.execute("pragma journal_mode = wal")
            conn.executescript(SCHEMA)
            _refresh(log, conn)
        except sqlite3.DatabaseError:
            conn.close()
            path.unlink(missing_ok=True)  # a damaged index: it is only a cache
            return cls.scan(log)
        return cls(log, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def event(self, event_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("select segment, offset from events where id = ?",
                                (event_id,)).fetchone()
        return self._read(*row) if row else None

    def data_of(self, subject: str) -> dict[str, Any]:
        """A record's current data: as recorded, then amended."""
        row = self.conn.execute("select data, segment, offset from subjects where id = ?",
                                (subject,)).fetchone()
        if row is None:
            raise KeyError(subject)
        if row[0] is not None:
            return orjson.loads(row[0])
        recorded = self._read(row[1], row[2])["data"]
        return {key: value for key, value in recorded.items() if key != "source"}

    def _read(self, segment: str, offset: int) -> dict[str, Any]:
        return _read_line(self.log, segment, offset)

    def require(self, wanted: str, reference: str) -> Subject:
        """The subject `reference` names, which must be a `wanted` (or any "record")
        and must not have been retracted."""
        subject = self.subjects.get(reference)
        if subject is None:
            label = "format" if wanted == "format" else "id"
            raise TrackerError(f"unknown {label} {shown(reference)}")
        if wanted not in ("record", subject.kind):
            raise TrackerError(f"{reference} is a {subject.kind}, not a {wanted}")
        if subject.retracted:
            raise TrackerError(f"{reference} was retracted")
        return subject


def _refresh(log: EventLog, conn: sqlite3.Connection) -> None:
    """Bring the index up to date, in one transaction (other processes wait)."""
    conn.execute("begin immediate")
    try:
        meta = dict(conn.execute("select key, value from meta"))
        known = {name: SegmentState(size, tail)
                 for name, size, tail in conn.execute("select name, size, tail from segments")}
        now = log.snapshot()
        ranges = log.appended_since(known, now) if meta.get("version") == VERSION else None
        events = _read_ranges(log, ranges) if ranges is not None else None
        last = orjson.loads(meta["last_key"]) if meta.get("last_key") else None
        if events is None or (events and last and list(events[0][0]) <= last):
            # Rewritten, or older events arrived (a merge): index the whole log again.
            for table in ("meta", "segments", "subjects", "events"):
                conn.execute(f"delete from {table}")
            events = _read_ranges(log, {name: (0, state.size) for name, state in now.items()})
            last = None
        for key, event, segment, offset in events:
            _note(log, conn, event, segment, offset)
            last = list(key)
        conn.executemany("insert or replace into segments values (?, ?, ?)",
                         ((name, state.size, state.tail) for name, state in now.items()))
        conn.executemany("insert or replace into meta values (?, ?)",
                         [("version", VERSION), ("last_key", orjson.dumps(last).decode())])
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def _read_ranges(log: EventLog, ranges: dict[str, tuple[int, int]]) -> list[tuple]:
    """(sort key, event, segment, offset) of the lines in the ranges, in replay order;
    damaged lines are left out (`tracker verify` reports them)."""
    found = []
    for segment, (start, stop) in ranges.items():
        for _number, offset, body in log.read_range(log.root / segment, start, stop):
            try:
                event = orjson.loads(body)
                key = (event["recorded_at"], event["writer"], event["seq"], event["id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            found.append((key, event, segment, offset))
    found.sort(key=lambda item: item[0])
    return found


def _note(log: EventLog, conn: sqlite3.Connection, event: dict[str, Any], segment: str,
          offset: int) -> None:
    """Index one event, applied in replay order."""
    try:
        kind, _, action = event["type"].partition(".")
        subject, recorded_at, data = event["subject"], event["recorded_at"], event["data"]
        conn.execute("insert or ignore into events values (?, ?, ?)",
                     (event["id"], segment, offset))
        if action == "recorded":
            conn.execute("insert or ignore into subjects values (?, ?, ?, ?, 0, ?, ?, ?)",
                         (subject, kind, recorded_at, data.get("date"),
                          None if subject == event["id"] else _json(_without_source(data)),
                          segment, offset))
            return
        row = conn.execute("select data, segment, offset from subjects where id = ?",
                           (subject,)).fetchone()
        if row is None:
            return
        changes: dict[str, Any] = {"latest": recorded_at}
        if event["type"] == RETRACTED:
            changes["retracted"] = 1
        elif event["type"] == AMENDED:
            current = (orjson.loads(row[0]) if row[0] is not None
                       else _without_source(_read_line(log, row[1], row[2])["data"]))
            amended = apply_changes(current, data["changes"])
            changes["data"] = _json(amended)
            if "date" in data["changes"]:
                changes["date"] = data["changes"]["date"]
        assignments = ", ".join(f"{column} = ?" for column in changes)
        conn.execute(f"update subjects set {assignments} where id = ?",
                     (*changes.values(), subject))
    except (KeyError, TypeError, AttributeError, orjson.JSONDecodeError):
        return


def _read_line(log: EventLog, segment: str, offset: int) -> dict[str, Any]:
    """The event whose line starts at `offset` of a segment."""
    with open(log.root / segment, "rb") as file:
        file.seek(offset)
        return orjson.loads(file.readline())


def _without_source(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "source"}


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
