"""What records the log holds: the lookups commands need before appending.

An index in `events/.cache/catalog/` (git-ignored, local, rebuildable) of every record
and every event id, with where to find each in the log (and the ids of lines that are
not read as events, which stay used). Opening it reads only what was
appended since the last time, so commands that check a reference (`add meeting
--format`, `update`, `cite`, `amend`, `retract`, a retry with `--id`) do no work in
proportion to the size of the log. After a merge brought older events, or if anything
was rewritten, it is rebuilt from the whole log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from . import envelope
from .collector import collection_paused
from .errors import TrackerError, a_or_an, shown
from .log import EventLog, SegmentState
from .model import (
    AMENDED,
    EVENT_TYPES,
    RETRACTED,
    SOURCE_WITHDRAWN,
    STATUS_CHANGED,
    Standing,
    apply_changes,
    disbursed_by,
    effective_changes,
    is_revision,
    recorded_status,
    referred_ids,
    update_changes,
    without_source,
)

VERSION = "7"
SCHEMA = """
create table if not exists meta (key text primary key, value text);
create table if not exists segments (name text primary key, size integer, tail text);
create table if not exists subjects (
  id text primary key, kind text,
  recorded_key text,  -- replay key of the recording event: the earliest one stands
  latest text, date text, retracted integer,
  data text,          -- the current data, once amended (else: the recording event's data)
  segment text, offset integer,  -- where the recording event is
  refs text           -- what the current data refers to: a JSON list, or null
);
create table if not exists events (
  id text primary key, subject text, type text, key text, segment text, offset integer);
create table if not exists unread (  -- ids of lines not read as events (tracker verify
  id text primary key);              -- names them): used, all the same
"""
EVENTS_BY_SUBJECT = ("create index if not exists events_by_subject "
                     "on events (subject, type, key)")


@dataclass
class Subject:
    kind: str  # format, meeting, announcement or pledge
    latest: str  # recorded_at of the latest event about it
    date: str | None = None  # the record's date, for the checks of `update`
    retracted: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # filled by `Catalog.data_of`
    status: str | None = None  # a meeting's or pledge's, filled by `Catalog.status_of`
    disbursed: str | None = None  # a pledge's amount disbursed, filled with its status
    updates: list[dict[str, Any]] = field(default_factory=list)  # their data, filled with it


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


# Errors of an index that is fine but cannot be used now (busy for a minute, the disk):
# not a reason to delete it.
UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL",
               "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_NOMEM")


class Catalog:
    """The index, open and up to date with the log."""

    def __init__(self, log: EventLog, conn: sqlite3.Connection):
        self.log = log
        self.conn = conn
        self.subjects = Subjects(conn)
        self.segments = _OpenSegments(log)

    @classmethod
    def scan(cls, log: EventLog, read_only: bool = False) -> Catalog:
        """Open the index, first reading into it whatever was appended since.

        With `read_only` (a dry run, which writes nothing), an index that cannot be
        written (a read-only log, or cache) is not needed: the log is read into memory.
        """
        if not log.root.is_dir():
            return cls._open(log, Path(":memory:"))  # no log yet: nothing to remember
        try:
            return cls._open_cache(log)
        except (OSError, sqlite3.DatabaseError, TrackerError):
            if not read_only:
                raise
            return cls._open(log, Path(":memory:"))

    @classmethod
    def _open_cache(cls, log: EventLog) -> Catalog:
        folder = log.root / ".cache" / "catalog"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "index.db"
        try:
            return cls._open(log, path)
        except sqlite3.DatabaseError as error:
            if getattr(error, "sqlite_errorname", "").startswith(UNAVAILABLE):
                raise TrackerError(f"cannot use the index {path}: {error}") from None
            for suffix in ("", "-wal", "-shm"):  # a damaged or outdated index: a cache
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return cls._open(log, path)

    @classmethod
    def _open(cls, log: EventLog, path: Path) -> Catalog:
        conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
        try:
            conn.execute("pragma journal_mode = wal")
            conn.executescript(SCHEMA)
            conn.execute(EVENTS_BY_SUBJECT)
            with collection_paused():  # the chunks of events form no cycles
                _refresh(log, conn)
        except BaseException:
            conn.close()
            raise
        return cls(log, conn)

    def close(self) -> None:
        self.segments.close()
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def event(self, event_id: str) -> dict[str, Any] | None:
        row = self.conn.execute("select segment, offset from events where id = ?",
                                (event_id,)).fetchone()
        return self._read(*row) if row else None

    def held_unread(self, event_id: str) -> bool:
        """Whether a line that is not read as an event (damaged, or not shaped as tracker
        writes events) holds the id, so that it is used all the same."""
        return self.conn.execute("select 1 from unread where id = ?",
                                 (event_id,)).fetchone() is not None

    def data_of(self, subject: str, before: str | None = None) -> dict[str, Any]:
        """A record's current data: as recorded, then amended (with `before`, an event's
        id: by the amendments replayed before that event only)."""
        row = self.conn.execute("select data, segment, offset from subjects where id = ?",
                                (subject,)).fetchone()
        if row is None:
            raise KeyError(subject)
        if before is not None:
            return _folded(self._read, self.conn, subject, row[1], row[2], before)
        if row[0] is not None:
            return orjson.loads(row[0])
        return without_source(self._read(row[1], row[2])["data"])

    def status_of(self, subject: str, kind: str,
                  before: str | None = None) -> tuple[str | None, str | None]:
        """A meeting's or pledge's current status as a build gives it: that of its latest
        status change or amendment of its status, in replay order, else the one it was
        recorded with; and the amount disbursed as a build gives it: that of its latest
        status change that gave one, whatever its status since (else None). Reads only
        the events about it, latest first. With `before` (an event's id), both as they
        stood before that event."""
        status: str | None = None
        amount: str | None = None
        found = False
        for event_type, segment, offset in self.conn.execute(
                "select type, segment, offset from events where subject = ? and type in "
                f"(?, ?) {BEFORE if before else ''} order by key desc",
                (subject, STATUS_CHANGED[kind], AMENDED, *([before] if before else []))):
            data = self._read(segment, offset)["data"]
            changes = data.get("changes") if event_type == AMENDED else data
            if isinstance(changes, dict) and event_type == AMENDED:
                changes = effective_changes(changes)
            if not found and isinstance(changes, dict) and "status" in changes:
                status, found = changes["status"], True
            if amount is None and event_type != AMENDED:
                amount = disbursed_by(data)
            if found and (kind != "pledge" or amount is not None):
                break
        if not found:
            status = recorded_status(kind, self.data_of(subject, before))
        return status, amount

    def standing(self, subject: str, kind: str) -> Standing:
        """A meeting or pledge as it stands, for the warnings of an update."""
        status, disbursed = self.status_of(subject, kind)
        return Standing(kind, self.data_of(subject), status, disbursed)

    def updates(self, subject: str, kind: str, before: str | None = None
                ) -> list[tuple[str, dict[str, Any]]]:
        """A meeting's or pledge's updates (status changes), as (event id, data), in
        replay order; with `before` (an event's id), those replayed before that event."""
        return [(event_id, self._read(segment, offset)["data"])
                for event_id, segment, offset in self.conn.execute(
                    "select id, segment, offset from events where subject = ? and type = ? "
                    f"{BEFORE if before else ''} order by key",
                    (subject, STATUS_CHANGED[kind], *([before] if before else [])))]

    def date_events(self, subject: str
                    ) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
        """A record's data as recorded, and the events that may change it (amendments and
        updates) as (id, type, data), in replay order: what `rowformat.date_steps` takes."""
        segment, offset = self.conn.execute("select segment, offset from subjects where id = ?",
                                            (subject,)).fetchone()
        recorded = without_source(self._read(segment, offset)["data"])
        return recorded, [(event["id"], event["type"], event["data"]) for event, _
                          in _changing(self._read, self.conn, subject, recorded)]

    def revisions(self, subject: str) -> list[tuple[str, dict[str, Any]]]:
        """A pledge's updates that revised its amount, as `updates` gives them."""
        return [(event_id, data) for event_id, data in self.updates(subject, "pledge")
                if is_revision(data)]

    def _read(self, segment: str, offset: int) -> dict[str, Any]:
        return self.segments.read(segment, offset)

    def unknown(self, reference: str, label: str = "id", given: str | None = None
                ) -> TrackerError:
        """The error for a reference to no record; for the id of an event (as `update`,
        `cite`, `amend` and `retract` print), it names the record that event is about.
        `given` names the option that gave the reference, if one did ("--at")."""
        event = self.event(reference) if label == "id" else None
        where = f" in {given}" if given else ""
        if event is None:
            return TrackerError(f"unknown {label} {shown(reference)}{where}")
        return TrackerError(f"{reference}{where} is the id of an event ({event['type']}) "
                            f"about {event['subject']}, not of a record: use "
                            f"{event['subject']}")

    def require(self, wanted: str, reference: str, given: str | None = None) -> Subject:
        """The subject `reference` names, which must be a `wanted` (or any "record")
        and must not have been retracted; `given`: the option that named it, for
        messages."""
        subject = self.subjects.get(reference)
        if subject is None:
            raise self.unknown(reference, "format" if wanted == "format" else "id", given)
        where = f" in {given}" if given else ""
        if wanted not in ("record", subject.kind):
            raise TrackerError(f"{reference}{where} is {a_or_an(subject.kind)}, not "
                               f"{a_or_an(wanted)}")
        if subject.retracted:
            raise TrackerError(f"{reference}{where} was retracted")
        return subject

    def withdrawn_sources(self, subject: str) -> set[Any]:
        """The ids of the events whose sources of a record were withdrawn."""
        return {self._read(segment, offset)["data"].get("event")
                for segment, offset in self.conn.execute(
                    "select segment, offset from events where subject = ? and type = ?",
                    (subject, SOURCE_WITHDRAWN)).fetchall()}

    def citing(self, subject: str, source: dict[str, Any]) -> str | None:
        """The id of an event that gave a record this very source (the same URL,
        publisher, date and quote), not withdrawn since; else None."""
        withdrawn = self.withdrawn_sources(subject)
        for event_id, segment, offset in self.conn.execute(
                "select id, segment, offset from events where subject = ? and type != ? "
                "order by key", (subject, SOURCE_WITHDRAWN)):
            if event_id not in withdrawn and self._read(segment, offset)["data"].get(
                    "source") == source:
                return event_id
        return None

    def referrers(self, subject: str) -> list[tuple[str, str]]:
        """(kind, id) of the records, not retracted, whose data refers to `subject`.

        A scan of the records that refer to any (a tenth of a second for a million):
        retractions are rare, and an index of references would slow every rebuild."""
        return [(kind, referrer) for kind, referrer, refs in self.conn.execute(
                    "select kind, id, refs from subjects where retracted = 0 "
                    "and instr(refs, ?) order by recorded_key", (_json(subject),))
                if subject in orjson.loads(refs)]

    def refs_of(self, subject: str) -> list[str]:
        """What a record's current data refers to (nothing, once retracted)."""
        row = self.conn.execute("select refs from subjects where id = ? and retracted = 0 "
                                "and refs is not null", (subject,)).fetchone()
        return orjson.loads(row[0]) if row else []

    def leads_to(self, start: str, target: str) -> bool:
        """Whether `start` is `target` or refers to it, directly or through records
        it refers to (retracted records lead nowhere)."""
        seen, waiting = {start}, [start]
        while waiting:
            if (subject := waiting.pop()) == target:
                return True
            for referenced in self.refs_of(subject):
                if referenced not in seen:
                    seen.add(referenced)
                    waiting.append(referenced)
        return False


def _refresh(log: EventLog, conn: sqlite3.Connection) -> None:
    """Bring the index up to date, in one transaction (other processes wait).

    Nothing in it depends on the order events arrive in (a merge may bring older ones):
    the latest time is a maximum, a retraction is final, and a record's amended data is
    folded again, in replay order, whenever one of its amendments arrives.
    """
    conn.execute("begin immediate")
    try:
        meta = dict(conn.execute("select key, value from meta"))
        known = {name: SegmentState(size, tail)
                 for name, size, tail in conn.execute("select name, size, tail from segments")}
        now = log.snapshot()
        ranges = log.appended_since(known, now) if meta.get("version") == VERSION else None
        # The records to settle after a chunk; with them, any whose event an event of the
        # same id (written in two clones) replaced, as replay keeps the earlier of the two.
        # Not `insert or ignore`: in a trigger, the conflict policy of the statement that
        # fires it (the upsert of `_add`, which aborts) overrides the trigger's own, and a
        # record with several such events would be refused.
        conn.execute("create temp table if not exists touched (id text primary key)")
        conn.execute("create temp trigger if not exists replaced after update of subject "
                     "on events begin insert into touched select old.subject where not "
                     "exists (select 1 from touched where id = old.subject); end")
        if ranges is None:  # a segment was rewritten (or a new index): read everything,
            # the events' index made after them (made in one sort, not row by row)
            for table in ("meta", "segments", "subjects", "events", "unread"):
                conn.execute(f"delete from {table}")
            conn.execute("drop index if exists events_by_subject")
            for chunk in _read_ranges(log, {name: (0, state.size)
                                            for name, state in now.items()}):
                _add(conn, chunk)
            conn.execute(EVENTS_BY_SUBJECT)
            _settle(log, conn, "select id from subjects")
        else:
            for chunk in _read_ranges(log, ranges):
                conn.execute("delete from temp.touched")
                _add(conn, chunk)
                conn.executemany("insert or ignore into temp.touched values (?)",
                                 ((event["subject"],) for _key, event, _seg, _at in chunk.found))
                _settle(log, conn, "select id from temp.touched")
        conn.executemany("insert or replace into segments values (?, ?, ?)",
                         ((name, state.size, state.tail) for name, state in now.items()))
        conn.execute("insert or replace into meta values ('version', ?)", (VERSION,))
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


USED_UNREAD = "id {} is already used by a line tracker cannot read: run tracker verify"
CHUNK = 20000  # events indexed at a time (the index does not depend on their order)
KNOWN_TYPES = frozenset(EVENT_TYPES)


@dataclass
class Chunk:
    found: list[tuple[str, dict[str, Any], str, int]]  # (replay key, event, segment, offset)
    unread: list[str]  # ids held by lines not read as events


def _read_ranges(log: EventLog, ranges: dict[str, tuple[int, int]]) -> Iterator[Chunk]:
    """Chunks of the lines in the ranges: (replay key, event, segment, offset) of the
    events, and the ids that other lines hold (damaged lines, and events not shaped as
    tracker writes them, which `tracker verify` reports)."""
    chunk = Chunk([], [])
    for segment, (start, stop) in ranges.items():
        for _number, offset, body in log.read_range(log.root / segment, start, stop):
            try:
                event = orjson.loads(body)
            except orjson.JSONDecodeError:
                event = None
            if _indexable(event):
                key = (f"{event['recorded_at']} {event['writer']} {event['seq']:012d} "
                       f"{event['id']}")
                chunk.found.append((key, event, segment, offset))
                if len(chunk.found) >= CHUNK:
                    yield chunk
                    chunk = Chunk([], [])
            else:
                held = event.get("id") if type(event) is dict else envelope.id_in(body)
                if type(held) is str:
                    chunk.unread.append(held)
    yield chunk


def _indexable(event: Any) -> bool:
    """Whether an event is shaped as tracker writes events, as far as the index reads
    it; else it is left out, as a damaged line is."""
    return (envelope.shaped(event) and event["type"] in KNOWN_TYPES
            and (event["type"] != AMENDED or type(event["data"].get("changes")) is dict))


def _add(conn: sqlite3.Connection, chunk: Chunk) -> None:
    """Add new events to the index, and the records they make (see `_settle`)."""
    conn.executemany("insert or ignore into unread values (?)",
                     ((held,) for held in chunk.unread))
    found = chunk.found
    conn.executemany(
        "insert into events values (?, ?, ?, ?, ?, ?) on conflict (id) do update set "
        "subject = excluded.subject, type = excluded.type, key = excluded.key, "
        "segment = excluded.segment, offset = excluded.offset "
        "where excluded.key < events.key",  # an id written in two clones: as replay keeps it
        ((event["id"], event["subject"], event["type"], key, segment, offset)
         for key, event, segment, offset in found))
    conn.executemany(
        "insert into subjects values (?, ?, ?, ?, ?, 0, ?, ?, ?, ?) on conflict (id) do update "
        "set kind = excluded.kind, recorded_key = excluded.recorded_key, "
        "date = excluded.date, data = excluded.data, segment = excluded.segment, "
        "offset = excluded.offset, refs = excluded.refs "
        "where excluded.recorded_key < subjects.recorded_key",
        ((event["subject"], kind, key, event["recorded_at"], _date(event["data"]),
          None if event["subject"] == event["id"] else _json(without_source(event["data"])),
          segment, offset, _references(kind, event["data"]))
         for key, event, segment, offset in found if event["type"].endswith(".recorded")
         for kind in [event["type"].partition(".")[0]]))


def _settle(log: EventLog, conn: sqlite3.Connection, touched: str) -> None:
    """Bring the records that the query `touched` selects up to date with their events:
    the time of the latest, whether retracted, their data as amended."""
    conn.execute(
        "update subjects set latest = (select substr(max(key), 1, 27) from events "
        "where events.subject = subjects.id), retracted = exists (select 1 from events "
        f"where events.subject = subjects.id and events.type = '{RETRACTED}') "
        f"where id in ({touched})")
    changed = [row[0] for row in conn.execute(
        f"select distinct subject from events where type in {CHANGING} "
        f"and subject in ({touched}) and subject in (select id from subjects)")]
    with closing(_OpenSegments(log)) as segments:
        for subject in changed:
            _fold(segments.read, conn, subject)


# Of the events about a subject, those replayed before the event of an id.
BEFORE = "and key < (select key from events where id = ?)"


# The events that change a record's data: amendments, and updates (which may reschedule a
# meeting, date it to the day it was held on, or revise a pledge: `update_changes`).
CHANGING = f"('{AMENDED}', '{STATUS_CHANGED['meeting']}', '{STATUS_CHANGED['pledge']}')"


def _folded(read: Callable[[str, int], dict[str, Any]], conn: sqlite3.Connection,
            subject: str, segment: str, offset: int, before: str | None = None
            ) -> dict[str, Any]:
    """A record's data as recorded (at `segment`, `offset`), then amended and rescheduled
    in replay order (only by the events before the event `before`, if given)."""
    data = without_source(read(segment, offset)["data"])
    for _event, changes in _changing(read, conn, subject, data, before):
        data = apply_changes(data, changes)
    return data


def _changing(read: Callable[[str, int], dict[str, Any]], conn: sqlite3.Connection,
              subject: str, data: dict[str, Any], before: str | None = None
              ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The events that may change a record's data (as recorded: `data`), in replay order
    (those before the event `before`, if given), each with what it changes in the data
    as the events before it left it."""
    for segment, offset in conn.execute(
            f"select segment, offset from events where subject = ? and type in {CHANGING} "
            f"{BEFORE if before else ''} order by key",
            (subject, *([before] if before else []))).fetchall():
        event = read(segment, offset)
        changes = _changes(event, data)
        yield event, changes
        data = apply_changes(data, changes)


def _changes(event: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """What an amendment, or an update, changes in its record's data (`data`, as the
    events before it left it)."""
    if event["type"] == AMENDED:
        return event["data"]["changes"]
    return update_changes(event["data"], data)


def _fold(read: Callable[[str, int], dict[str, Any]], conn: sqlite3.Connection,
          subject: str) -> None:
    """A record's data, date and references: as recorded, then amended and rescheduled,
    in replay order."""
    kind, segment, offset = conn.execute(
        "select kind, segment, offset from subjects where id = ?", (subject,)).fetchone()
    data = _folded(read, conn, subject, segment, offset)
    conn.execute("update subjects set data = ?, date = ?, refs = ? where id = ?",
                 (_json(data), _date(data), _references(kind, data), subject))


def _references(kind: str, data: dict[str, Any]) -> str | None:
    """What a record's data refers to, as stored in `subjects.refs`."""
    referred = referred_ids(kind, data)
    return _json(referred) if referred else None


class _OpenSegments:
    """Reads events at their places, keeping the segments open (up to `KEPT` at once)."""

    KEPT = 64

    def __init__(self, log: EventLog) -> None:
        self.root = log.root
        self.files: dict[str, BinaryIO] = {}

    def read(self, segment: str, offset: int) -> dict[str, Any]:
        file = self.files.get(segment)
        if file is None:
            if len(self.files) >= self.KEPT:
                self.close()
            file = self.files[segment] = open(self.root / segment, "rb")  # noqa: SIM115
        file.seek(offset)
        return orjson.loads(file.readline())

    def close(self) -> None:
        for file in self.files.values():
            file.close()
        self.files.clear()


def _date(data: dict[str, Any]) -> str | None:
    date = data.get("date")
    return date if type(date) is str else None  # else a line `tracker verify` refuses


def _json(value: Any) -> str | None:
    """The data as stored; None (the event is read instead) for data nested deeper than
    JSON is written (a line `tracker verify` refuses)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return None
