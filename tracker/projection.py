"""Replay events into SQLite: current state, history tables, derived tables, search.

Every event is applied in replay order by the Projector; the tables, indexes, views and
full-text search are declared in `schema`. How a database file is built, in full or
incrementally, is `build`'s part.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from . import schema
from .actors import all_actors, all_currencies, parse_actor, retired_currencies
from .dates import Span, parse_date
from .duplicates import Repeat, repeat_of
from .errors import TrackerError
from .model import (
    AMENDED,
    FIELDS,
    RETRACTED,
    SOURCE_ADDED,
    SOURCE_WITHDRAWN,
    STATUSES,
    apply_changes,
    disbursed_by,
    effective_changes,
    is_revision,
    may_move,
    update_changes,
    without_source,
)
from .replay import sort_key
from .upcast import upcast

if TYPE_CHECKING:
    import sqlite_utils

Event = dict[str, Any]
# A missing value in the rows the projection writes. A float NaN binds as SQL NULL (SQLite
# stores no NaN), without the adapter lookup Python's sqlite3 makes for every None: a full
# build binds about ten million of them (about 2.5 s at a million events).
NULL = float("nan")
# Bump when the projection changes: a database built by another version is rebuilt whole.
PROJECTION_VERSION = "21"


class Unprojectable(TrackerError):
    """Buffered rows that SQLite refused: made from events that `tracker verify` refuses
    (the build trusts a line whose hash holds, and leaves the checks to verify)."""


# What SQLite raises on values it cannot take (not on a full disk, or a lock).
REFUSED_VALUES = (OverflowError, sqlite3.IntegrityError, sqlite3.InterfaceError,
                  sqlite3.ProgrammingError)
# What applying an event that `tracker verify` refuses can raise: named in one line.
NOT_APPLICABLE = (AttributeError, KeyError, TypeError, ValueError, *REFUSED_VALUES,
                  TrackerError)


def refused_a_value(error: Exception) -> bool:
    """Whether an error among `REFUSED_VALUES` is about a value (a closed connection, say,
    also raises a ProgrammingError: that one is no fault of the log)."""
    return not isinstance(error, sqlite3.ProgrammingError) or "binding parameter" in str(error)


@lru_cache(maxsize=65536)
def span(text: str) -> Span:
    return parse_date(text)


def _json(value: Any) -> str | float:
    return NULL if value is None else orjson.dumps(value).decode()


def history_text(value: Any) -> str | None:
    """A field value as the history table keeps it: text as it is, a flag as true or
    false, any other value (a list, a number) as JSON; None as None."""
    if value is None or isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    return orjson.dumps(value).decode()


def _text(value: Any) -> str | float:
    """A field value as text for the history table (NULL for None)."""
    return NULL if value is None else history_text(value)


def _number(text: str | None) -> int | float:
    if text is None:
        return NULL
    return float(text) if "." in text else int(text)


def _dated(data: dict[str, Any], key: str = "date") -> dict[str, Any]:
    if key not in data:
        return {key: NULL, f"{key}_start": NULL, f"{key}_end": NULL, f"{key}_precision": NULL}
    when = span(data[key])
    return {key: when.text, f"{key}_start": when.start, f"{key}_end": when.end,
            f"{key}_precision": when.precision}


# -- how each kind of record becomes rows -------------------------------------------------
# A record's own row is a dict (amendments update it by column); its child rows are
# tuples in their table's column order (see `schema`), the fast path of a full build.


def format_row(data: dict[str, Any]) -> dict[str, Any]:
    return {"name": data["name"], **_dated(data, "launched"),
            "members": _json(data.get("members")), "summary": data.get("summary", NULL)}


def format_children(slug: str, data: dict[str, Any]) -> Iterator[tuple[str, tuple]]:
    for actor in dict.fromkeys(data.get("members", ())):  # once each, as the CLI writes
        yield "format_members", (slug, actor)


def years(start: str, end: str) -> str:
    """The year a date falls in, or the years it may fall in as an interval ("2020/2021"
    for 2020-05/2021-05): no year is made more precise than the date."""
    first, last = start[:4], end[:4]
    return first if first == last else f"{first}/{last}"


def meeting_row(data: dict[str, Any]) -> dict[str, Any]:
    dated = _dated(data)
    return {
        "title": data["title"], **dated, "year": years(dated["date_start"], dated["date_end"]),
        "format": data.get("format", NULL), "level": data.get("level", NULL),
        "mode": data.get("mode", NULL), "city": data.get("city", NULL),
        "country": data.get("country", NULL), "latitude": _number(data.get("latitude")),
        "longitude": _number(data.get("longitude")), "geonameid": data.get("geonameid", NULL),
        "city_as_given": data.get("city_as_given", NULL), "chair": data.get("chair", NULL),
        "participants": _json(data.get("participants")), "topics": _json(data.get("topics")),
        "summary": data.get("summary", NULL),
    }


def meeting_children(meeting_id: str, data: dict[str, Any]) -> Iterator[tuple[str, tuple]]:
    officials = data.get("officials", ())
    start = span(data["date"]).start
    for actor in data.get("participants", ()):
        own = [official for official in officials if official["actor"] == actor]
        if not own:
            yield "meeting_participants", (meeting_id, actor, NULL, NULL, start)
        for official in own:
            yield "meeting_participants", (meeting_id, actor, official.get("name", NULL),
                                           official.get("title", NULL), start)


def announcement_row(data: dict[str, Any]) -> dict[str, Any]:
    return {"title": data["title"], **_dated(data), "by_actor": data["by"],
            "about": _json(data.get("about")), "topics": _json(data.get("topics")),
            "summary": data.get("summary", NULL)}


def announcement_children(announcement_id: str, data: dict) -> Iterator[tuple[str, tuple]]:
    for subject in data.get("about", ()):
        yield "announcement_about", (announcement_id, subject)


def pledge_row(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": data["title"], **_dated(data), "donor": data["donor"],
        "recipients": _json(data["recipients"]), "amount": _number(data["amount"]),
        "amount_text": data["amount"], "currency": data["currency"],
        "approximate": int(bool(data.get("approximate"))),
        "instrument": data.get("instrument", NULL), "purpose": data.get("purpose", NULL),
        "meeting_id": data.get("meeting_id", NULL),
    }


def pledge_children(pledge_id: str, data: dict[str, Any]) -> Iterator[tuple[str, tuple]]:
    start = span(data["date"]).start
    for actor in dict.fromkeys(data["recipients"]):  # once each, as the CLI writes them
        yield "pledge_recipients", (pledge_id, actor, start)


@dataclass(frozen=True)
class Shape:
    """Where a kind of record lives: its table, key, row, child rows and first status."""

    table: str
    key: str
    row: Callable[[dict[str, Any]], dict[str, Any]]
    children: Callable[[str, dict[str, Any]], Iterator[tuple[str, tuple]]]
    child_tables: tuple[tuple[str, str], ...]  # (table, column naming the record)
    child_keys: tuple[str, ...]  # the data keys the child rows come from
    first_status: Callable[[dict[str, Any]], str | None] = lambda data: None


SHAPES = {
    "format": Shape("formats", "slug", format_row, format_children,
                    (("format_members", "format"),), ("members",)),
    "meeting": Shape("meetings", "id", meeting_row, meeting_children,
                     (("meeting_participants", "meeting_id"),),
                     ("participants", "officials", "date"), lambda data: data["status"]),
    "announcement": Shape("announcements", "id", announcement_row, announcement_children,
                          (("announcement_about", "announcement_id"),), ("about",)),
    "pledge": Shape("pledges", "id", pledge_row, pledge_children,
                    (("pledge_recipients", "pledge_id"),), ("recipients", "date"),
                    lambda data: "pledged"),
}
TABLE_OF = {kind: (shape.table, shape.key) for kind, shape in SHAPES.items()}
# A meeting's row as it stood, kept when it is retracted (with when and why).
KEEP_RETRACTED_MEETING = (
    f"insert into retracted_meetings select {', '.join(schema.MEETING)}, ?, ? "
    "from meetings where id = ?")
_ACTOR_FIELDS = {(spec.key, spec.many) for specs in FIELDS.values() for spec in specs
                 if spec.parse is parse_actor}
ACTOR_KEYS = tuple(sorted(key for key, many in _ACTOR_FIELDS if many))  # lists of actors
ACTOR_KEY = tuple(sorted(key for key, many in _ACTOR_FIELDS if not many))


def actors_of(data: dict[str, Any]) -> set[str]:
    """Every actor a record's data names (what actor_activity counts)."""
    found = {data[key] for key in ACTOR_KEY if key in data}
    for key in ACTOR_KEYS:
        found.update(data.get(key, ()))
    return found


COLUMNS = {table.name: tuple(table.columns) for table in schema.TABLES}
EMPTY = {name: dict.fromkeys(columns, NULL) for name, columns in COLUMNS.items()}
VALUES = {name: itemgetter(*columns) for name, columns in COLUMNS.items()}  # a row's values
# Tables whose key is their rowid (`schema.Table.created`): numbered as rows come.
NUMBERED = frozenset(table.name for table in schema.TABLES if table.pk is None)
INSERTS = {name: f"insert into {name} ({', '.join(columns)}) "
                 f"values ({', '.join('?' for _ in columns)})"
           for name, columns in COLUMNS.items()}


def event_row(event: Event) -> tuple:
    """An event's row in the events table (as written: not upcast)."""
    return (event["id"], event["type"], event["subject"], event["recorded_at"],
            event["recorded_by"], event["writer"], event["seq"], event["schema"],
            orjson.dumps(event["data"], option=orjson.OPT_SORT_KEYS).decode(), event["hash"])


def source_row(event: Event, kind: str) -> tuple:
    """The row in sources of the source an event gives."""
    source = event["data"]["source"]
    return (event["subject"], event["id"], kind, source.get("url", NULL),
            source.get("citation", NULL), source.get("publisher", NULL),
            source.get("published", NULL), source.get("quote", NULL), event["recorded_at"])


def record_rows(event: Event) -> Iterator[tuple[str, tuple]]:
    """(table, values) of the rows a record's (upcast) event adds: to records, its own
    table and the child tables, and sources."""
    kind, subject = event["type"].partition(".")[0], event["subject"]
    data = without_source(event["data"])
    shape, stamp = SHAPES[kind], event["recorded_at"]
    yield "records", (subject, kind, data.get("title") or data.get("name"),
                      _json(data) if subject != event["id"] else NULL, 0, NULL, NULL, stamp)
    row = {**EMPTY[shape.table], shape.key: subject, **shape.row(data),
           "recorded_at": stamp, "updated_at": stamp}
    status = shape.first_status(data)
    if status:
        row["status"] = status
    yield shape.table, VALUES[shape.table](row)
    yield from shape.children(subject, data)
    yield "sources", source_row(event, "record")


# New records' events in a row, made into rows without the database (see `Prepared`):
# their number, and for each table its rows and the subjects they are about.
PreparedRows = tuple[int, dict[str, tuple[list[tuple], list[str]]]]
NEW_RECORD_TYPES = frozenset(f"{kind}.recorded" for kind in SHAPES)


def prepare(event: Event) -> list[tuple[str, tuple]] | None:
    """(table, values) of the rows an event adds, its row in events included, if it
    records a new record under its own id: rows that depend on nothing before it. None
    for any other event, or one whose rows cannot be made (the Projector applies it, and
    names its problem)."""
    subject = event["subject"]
    if event["type"] not in NEW_RECORD_TYPES or subject != event["id"]:
        return None
    try:
        return [("events", event_row(event)), *record_rows(upcast(event))]
    except Exception:  # whatever it is, the Projector meets it again, as without a feed
        return None


class Prepared:
    """New records' events in a row, made into rows by `prepare` (in the process that
    reads the log, see `feed`), ready to be added to the Projector's buffers at once."""

    def __init__(self) -> None:
        self.count = 0
        self.tables: dict[str, tuple[list[tuple], list[str]]] = {}

    def add(self, event: Event) -> bool:
        """Prepare the event, if it records a new record; whether it did."""
        rows = prepare(event)
        if rows is None:
            return False
        subject = event["subject"]
        for table, values in rows:
            found = self.tables.get(table)
            if found is None:
                found = self.tables[table] = ([], [])
            found[0].append(values)
            if not found[1] or found[1][-1] is not subject:
                found[1].append(subject)
        self.count += 1
        return True

    def rows(self) -> PreparedRows:
        return self.count, self.tables


@dataclass
class Touched:
    """What an incremental build changed, for refreshing the derived tables."""

    ids: set[str] = field(default_factory=set)
    formats: set[str] = field(default_factory=set)
    actors: set[str] = field(default_factory=set)


@dataclass
class Record:
    kind: str
    stored: str | None  # records.data: kept once amended (and for formats)
    retracted: bool


class Projector:
    """Applies events in replay order to an open database of the shape of `schema`.

    Inserts are buffered per table and written with executemany; anything that reads or
    changes existing rows first flushes the buffers if they hold rows of that record, so
    every table sees the same sequence of changes as one statement per event would give.
    """

    FLUSH_EVERY = 1000  # events between two writes of every buffer

    def __init__(self, conn: sqlite3.Connection, incremental: bool = False):
        self.conn = conn
        self.touched = Touched() if incremental else None
        self.last_key: tuple | None = None
        self.seen: set[str] = set()  # event ids applied (an event repeated is applied once)
        self.repeats: list[Repeat] = []  # the copies of events applied before: left out
        self.after_retraction: set[str] = set()  # ids of events that changed nothing: their
        # record was retracted before them (see `current`)
        self.buffers: dict[str, list[tuple]] = {name: [] for name in COLUMNS}
        # table -> the subjects with rows in its buffer
        self.pending: dict[str, set[str]] = {name: set() for name in COLUMNS}
        self.unflushed = 0  # events applied since every buffer was last written
        self.handlers: dict[str, Callable[[Event], None]] = {
            "format.recorded": self.recorded,
            "meeting.recorded": self.recorded,
            "announcement.recorded": self.recorded,
            "pledge.recorded": self.recorded,
            "meeting.status_changed": self.status_changed,
            "pledge.status_changed": self.status_changed,
            SOURCE_ADDED: self.source_added,
            SOURCE_WITHDRAWN: self.source_withdrawn,
            AMENDED: self.amended,
            RETRACTED: self.retracted,
        }

    def apply(self, event: Event) -> None:
        event_id = event["id"]
        if event_id in self.seen or (self.touched is not None and self.conn.execute(
                "select 1 from events where id = ?", (event_id,)).fetchone()):
            # the same event seen again (a duplicated line, or a retry in two clones), or
            # another under the same id (see `duplicates`)
            self.repeats.append(repeat_of(event))
            return
        self.seen.add(event_id)
        key = sort_key(event)
        if self.last_key is None or key > self.last_key:
            self.last_key = key
        self.apply_new(event)

    def apply_new(self, event: Event) -> None:
        """Apply an event not seen before (`apply` tells; a feed of a full build has)."""
        event_id = event["id"]
        current = upcast(event)  # outside the try: a version it cannot read has its message
        handler = self.handlers.get(event["type"])
        if handler is None:
            raise TrackerError(f"event {event_id} has unknown type {event['type']!r}")
        try:
            self.insert_values("events", event_row(event), event_id)
            handler(current)
        except Unprojectable:
            raise
        except NOT_APPLICABLE as error:
            if not refused_a_value(error):
                raise
            why = str(error) if isinstance(error, TrackerError) else repr(error)
            raise TrackerError(
                f"event {event_id} cannot be projected ({why}); run tracker verify"
            ) from None
        self.unflushed += 1
        if self.unflushed >= self.FLUSH_EVERY:
            self.flush()

    def add_prepared(self, prepared: PreparedRows) -> None:
        """Apply new records' events, not seen before, as `Prepared` made them: what
        `recorded` does in a full build, with their rows already made."""
        count, tables = prepared
        for table, (rows, subjects) in tables.items():
            self.buffers[table] += rows
            self.pending[table].update(subjects)
        self.unflushed += count
        if self.unflushed >= self.FLUSH_EVERY:
            self.flush()

    def finish(self) -> None:
        self.flush()

    # -- helpers -------------------------------------------------------------------

    def insert(self, table: str, row: dict[str, Any], subject: str) -> None:
        """Buffer a row (missing columns are null) about the record `subject`."""
        self.insert_values(table, VALUES[table]({**EMPTY[table], **row}), subject)

    def insert_values(self, table: str, values: tuple, subject: str) -> None:
        """Buffer a row given as all its values, in the table's column order."""
        self.buffers[table].append(values)
        self.pending[table].add(subject)

    def flush(self, tables: Iterable[str] | None = None) -> None:
        """Write the buffered rows of some tables (by default, all)."""
        if tables is None:
            tables, self.unflushed = self.buffers, 0
        for table in tables:
            rows = self.buffers[table]
            if rows:
                try:
                    self.conn.executemany(INSERTS[table], rows)
                except REFUSED_VALUES as error:
                    if not refused_a_value(error):
                        raise
                    raise Unprojectable(f"the log cannot be projected: {table} refused a row "
                                        f"({error!r}); run tracker verify") from None
                rows.clear()
                self.pending[table].clear()

    def settle(self, subject: str, *tables: str) -> None:
        """Write the buffered rows of these tables if one is about `subject`, before its
        rows there are read or changed."""
        stale = [table for table in tables if subject in self.pending[table]]
        if stale:
            self.flush(stale)

    def settle_to_delete(self, subject: str, *tables: str) -> None:
        """`settle`, before rows of `subject` are deleted; and a table whose rows are
        numbered by their rowid (its key) is written whole first: SQLite numbers a new
        row after the largest left, so that rows buffered across a deletion would get
        other numbers than the same events built one at a time."""
        numbered = [table for table in tables if table in NUMBERED and self.buffers[table]]
        if numbered:
            self.flush(numbered)
        self.settle(subject, *tables)

    def update(self, table: str, key: str, value: str, changes: dict[str, Any]) -> None:
        self.settle(value, table)
        assignments = ", ".join(f"{column} = ?" for column in changes)
        self.conn.execute(f"update {table} set {assignments} where {key} = ?",
                          (*changes.values(), value))

    def record(self, subject: str) -> Record | None:
        self.settle(subject, "records")
        row = self.conn.execute("select kind, data, retracted from records where id = ?",
                                (subject,)).fetchone()
        return Record(row[0], row[1], bool(row[2])) if row else None

    def data_of(self, subject: str, record: Record) -> dict[str, Any]:
        """A record's current data: as amended, or else as recorded (by the event whose id
        is the record's id, which keeps records.data empty for most records)."""
        if record.stored is not None:
            return orjson.loads(record.stored)
        self.settle(subject, "events")
        cursor = self.conn.execute("select * from events where id = ?", (subject,))
        event = dict(zip([column[0] for column in cursor.description], cursor.fetchone(),
                         strict=True))
        return without_source(upcast({**event, "data": orjson.loads(event["data"])})["data"])

    def current(self, event: Event) -> Record | None:
        """The record an event applies to; None if unknown or retracted (possible after a
        merge; `tracker verify` reports unknown subjects). An event about a retracted
        record changes nothing: its id is noted in `after_retraction`."""
        record = self.record(event["subject"])
        if record is not None and record.retracted:
            self.after_retraction.add(event["id"])
            return None
        return record

    def touch(self, kind: str, subject: str, recorded_at: str) -> None:
        shape = SHAPES[kind]
        self.update(shape.table, shape.key, subject, {"updated_at": recorded_at})

    def add_source(self, event: Event, kind: str) -> None:
        self.insert_values("sources", source_row(event, kind), event["subject"])

    def history(self, event: Event, kind: str, field: str, old: Any, new: Any,
                reason: str | None = None) -> None:
        self.insert("history", {
            "subject": event["subject"], "kind": kind, "event_id": event["id"],
            "event_type": event["type"], "recorded_at": event["recorded_at"],
            "recorded_by": event["recorded_by"], "field": field, "old_value": _text(old),
            "new_value": _text(new), "reason": NULL if reason is None else reason,
        }, event["subject"])

    def correction(self, event: Event, kind: str, data: dict[str, Any], correction: str,
                   fields: str) -> None:
        self.insert_values("correction_rows", (
            event["id"], event["recorded_at"], event["recorded_by"], event["subject"], kind,
            data.get("title") or data.get("name"), correction, fields,
            event["data"]["reason"]), event["subject"])

    def write_children(self, shape: Shape, subject: str, data: dict[str, Any],
                       replace: bool = False) -> None:
        if replace:
            self.settle_to_delete(subject, *(table for table, _column in shape.child_tables))
            for table, column in shape.child_tables:
                self.conn.execute(f"delete from {table} where {column} = ?", (subject,))
        for table, values in shape.children(subject, data):
            self.insert_values(table, values, subject)

    # -- handlers ------------------------------------------------------------------

    def recorded(self, event: Event) -> None:
        subject = event["subject"]
        if subject != event["id"] and self.record(subject) is not None:
            self.current(event)  # noted if that format was retracted before it
            return  # a format's slug recorded first by another event: verify warns
        for table, values in record_rows(event):
            self.insert_values(table, values, subject)
        if self.touched is not None:
            self.touched.ids.add(subject)
            self.touched.actors |= actors_of(without_source(event["data"]))

    def amended(self, event: Event) -> None:
        subject, changes = event["subject"], effective_changes(event["data"]["changes"])
        record = self.current(event)
        if record is None:
            return
        shape, stamp = SHAPES[record.kind], event["recorded_at"]
        old = self.data_of(subject, record)
        data = apply_changes(old, changes)
        if "status" in changes:
            if record.kind not in STATUSES:
                raise ValueError(f"{record.kind} without a status")
            self.settle(subject, shape.table)
            old["status"] = self.conn.execute(
                f"select status from {shape.table} where id = ?", (subject,)).fetchone()[0]
        self.update("records", "id", subject, {
            "title": data.get("title") or data.get("name"), "data": _json(data)})
        row = {**shape.row(data), "updated_at": stamp}
        if "status" in changes:
            row["status"] = changes["status"]
        self.update(shape.table, shape.key, subject, row)
        if any(key in changes for key in shape.child_keys):
            self.write_children(shape, subject, data, replace=True)
        if "source" in event["data"]:
            self.add_source(event, "amendment")
        reason = event["data"]["reason"]
        for name in sorted(changes):
            self.history(event, record.kind, name, old.get(name), changes[name], reason)
        self.correction(event, record.kind, data, "amended", ", ".join(sorted(changes)))
        if self.touched is not None:
            self.touched.ids.add(subject)
            self.touched.actors |= actors_of(old) | actors_of(data)
            if record.kind == "format":
                self.touched.formats.add(subject)

    def status_changed(self, event: Event) -> None:
        data, subject = event["data"], event["subject"]
        kind = event["type"].partition(".")[0]
        record = self.current(event)
        if record is None or record.kind != kind:
            return
        table = SHAPES[kind].table
        disbursed = "disbursed_amount_text" if kind == "pledge" else "null"
        self.settle(subject, table)
        previous = self.conn.execute(f"select status, {disbursed} from {table} where id = ?",
                                     (subject,)).fetchone()
        changes = {"status": data["status"], "updated_at": event["recorded_at"]}
        disbursed_amount = disbursed_by(data)
        if disbursed_amount is not None:
            changes.update(disbursed_amount=_number(disbursed_amount),
                           disbursed_amount_text=disbursed_amount)
        self.update(table, "id", subject, changes)
        when = span(data["date"]) if "date" in data else None
        self.insert("status_changes", {
            "subject": subject, "kind": kind, "status": data["status"],
            "previous_status": previous[0], "date": data.get("date", NULL),
            "date_start": when.start if when else NULL,
            "amount": _number(data.get("amount")), "amount_text": data.get("amount", NULL),
            "note": data.get("note", NULL), "rescheduled_to": data.get("to", NULL),
            "event_id": event["id"], "recorded_at": event["recorded_at"],
        }, subject)
        self.add_source(event, "update")
        if self.touched is not None:
            self.touched.ids.add(subject)
        self.history(event, kind, "status", previous[0], data["status"], data.get("note"))
        if disbursed_amount is not None:
            self.history(event, kind, "disbursed_amount", previous[1], disbursed_amount,
                         data.get("note"))
        if (kind == "meeting" and may_move(data)) or is_revision(data):
            self.changed_by_update(event, record)

    def changed_by_update(self, event: Event, record: Record) -> None:
        """A meeting's new date, or a pledge's new amount, if an update gives it one
        (`update_changes`): its data now holds it (as an amendment's would, so that a later
        amendment keeps it), and so do its rows; the history has it under the update (a
        development, not a correction)."""
        subject, shape = event["subject"], SHAPES[record.kind]
        old = self.data_of(subject, record)
        changes = update_changes(event["data"], old)
        if not changes:
            return
        data = apply_changes(old, changes)
        self.update("records", "id", subject, {"data": _json(data)})
        self.update(shape.table, shape.key, subject, shape.row(data))
        if any(key in changes for key in shape.child_keys):
            self.write_children(shape, subject, data, replace=True)
        for name in sorted(changes):
            self.history(event, record.kind, name, old.get(name), data[name],
                         event["data"].get("note"))
        if self.touched is not None:
            self.touched.actors |= actors_of(data)

    def source_added(self, event: Event) -> None:
        record = self.current(event)
        if record is None:
            return
        self.touch(record.kind, event["subject"], event["recorded_at"])
        self.add_source(event, "citation")

    def source_withdrawn(self, event: Event) -> None:
        """The source an event gave leaves `sources`; its history and the corrections
        keep it. A withdrawal of what is no source of the record changes nothing."""
        subject, withdrawn = event["subject"], event["data"]["event"]
        record = self.current(event)
        if record is None:
            return
        self.settle(subject, "sources")
        given = self.conn.execute("select coalesce(url, citation) from sources "
                                  "where event_id = ? and subject = ?",
                                  (withdrawn, subject)).fetchone()
        if given is None:
            return
        self.conn.execute("delete from sources where event_id = ?", (withdrawn,))
        self.touch(record.kind, subject, event["recorded_at"])
        reason = event["data"]["reason"]
        self.history(event, record.kind, "source", given[0], None, reason)
        self.correction(event, record.kind, self.data_of(subject, record),
                        "source withdrawn", "source")

    def retracted(self, event: Event) -> None:
        subject = event["subject"]
        record = self.current(event)
        if record is None:
            return
        shape, stamp = SHAPES[record.kind], event["recorded_at"]
        self.settle(subject, shape.table, "sources", "status_changes")
        self.settle_to_delete(subject, *(table for table, _column in shape.child_tables))
        reason = event["data"]["reason"]
        if record.kind == "meeting":
            self.conn.execute(KEEP_RETRACTED_MEETING, (stamp, reason, subject))
        self.conn.execute(f"delete from {shape.table} where {shape.key} = ?", (subject,))
        for table, column in shape.child_tables:
            self.conn.execute(f"delete from {table} where {column} = ?", (subject,))
        # Its sources and status updates go too: `history` keeps what it was.
        self.conn.execute("delete from sources where subject = ?", (subject,))
        self.conn.execute("delete from status_changes where subject = ?", (subject,))
        self.update("records", "id", subject, {"retracted": 1, "retracted_at": stamp,
                                                "retraction_reason": reason})
        self.history(event, record.kind, "record", "recorded", "retracted", reason)
        old = self.data_of(subject, record)
        self.correction(event, record.kind, old, "retracted", "record")
        if self.touched is not None:
            self.touched.ids.add(subject)
            self.touched.actors |= actors_of(old)
            if record.kind == "format":
                self.touched.formats.add(subject)


def fill_reference_tables(db: sqlite_utils.Database) -> None:
    db["actors"].insert_all(
        ({"code": actor.code, "name": actor.name, "kind": actor.kind,
          "official_name": actor.official_name, "alpha_2": actor.alpha_2}
         for actor in sorted(all_actors().values(), key=lambda actor: actor.code)),
    )
    names = {**all_currencies(), **{code: name for code, (name, _tenders)
                                    in retired_currencies().items()}}
    db["currencies"].insert_all(
        {"code": code, "name": name} for code, name in sorted(names.items())
    )


def project(events: Iterable[Event | PreparedRows], conn: sqlite3.Connection,
            deduplicated: bool = False) -> Projector:
    """Create the schema in an empty database and apply the events, in replay order.
    Events may come prepared (see `Prepared`); `deduplicated` events hold no id twice,
    and the caller keeps their last key."""
    conn.isolation_level = None
    conn.execute("pragma page_size = 8192")
    conn.execute("pragma journal_mode = off")
    conn.execute("pragma synchronous = off")
    conn.execute("pragma cache_size = -32768")  # 32 MB of pages for lookups by key
    import sqlite_utils  # only a full build creates the schema (its import is not free)

    db = sqlite_utils.Database(conn)
    conn.execute("begin")
    schema.create_tables(db)
    fill_reference_tables(db)
    projector = Projector(conn)
    apply = projector.apply_new if deduplicated else projector.apply
    for event in events:
        if type(event) is tuple:
            projector.add_prepared(event)
        else:
            apply(event)
    projector.finish()
    schema.create_indexes_views_fts(db, derived=False)
    refresh_derived(conn, None)
    schema.create_indexes_views_fts(db)
    conn.execute("commit")
    conn.execute("analyze")  # full statistics: sampled ones lead the planner astray
    return projector


# Where records refer to others: (kind, table, its record's column, option, column).
REFERENCES = (
    ("meeting", "meetings", "id", "format", "format"),
    ("pledge", "pledges", "id", "at", "meeting_id"),
    ("announcement", "announcement_about", "announcement_id", "about", "subject"),
)
# kind, id, option, what it refers to, and whether that was retracted (else: unknown)
Dangling = tuple[str, str, str, str, bool]


def dangling_references(conn: sqlite3.Connection, touched: bool = False) -> list[Dangling]:
    """The references to records that were retracted (or never recorded): `retract`
    refuses to leave one, but a merge of two clones can. With `touched`, only those from
    or to the records in `temp.touched_ids` (what an incremental build changed)."""
    selects = []
    for kind, table, key, option, column in REFERENCES:
        near = (f" and ({table}.{key} in (select value from temp.touched_ids) or "
                f"{table}.{column} in (select value from temp.touched_ids))" if touched else "")
        selects.append(
            f"select '{kind}', {table}.{key}, '{option}', {table}.{column}, "
            f"records.id is not null from {table} "
            f"left join records on records.id = {table}.{column} "
            f"where {table}.{column} is not null and coalesce(records.retracted, 1){near}")
    return conn.execute(" union all ".join(selects) + " order by 2, 4").fetchall()


def refresh_derived(conn: sqlite3.Connection, touched: Touched | None) -> None:
    """Fill the derived tables (`touched` None: all of them, from empty), or refresh the
    rows about the records, formats and actors an incremental build touched."""

    def clause(kind: str, column: str) -> str:
        if touched is None:
            return "1"
        return f"{column} in (select value from temp.touched_{kind})"

    def statement(template: str) -> str:
        return re.sub(r"\{(ids|actors):([\w.]+)\}",
                      lambda match: clause(match[1], match[2]), template)

    if touched is not None:
        for kind in ("ids", "formats", "actors"):
            conn.execute(f"create temp table if not exists touched_{kind} "
                         "(value text primary key)")
            conn.execute(f"delete from temp.touched_{kind}")
            conn.executemany(f"insert into temp.touched_{kind} values (?)",
                             ((value,) for value in getattr(touched, kind)))
        # A format's rows show its name: refresh its launch, meetings and their pledges.
        conn.execute("insert or ignore into temp.touched_ids "
                     "select value from temp.touched_formats")
        conn.execute("insert or ignore into temp.touched_ids select id from meetings "
                     "where format in (select value from temp.touched_formats)")
        # A pledge shows the format of its meeting: refresh the pledges of touched meetings.
        conn.execute("insert or ignore into temp.touched_ids select id from pledges "
                     "where meeting_id in (select value from temp.touched_ids)")
        for template in schema.DERIVED_CLEAR.values():
            conn.execute(statement(template))
    for templates in schema.DERIVED_FILL.values():
        for template in templates:
            conn.execute(statement(template))
