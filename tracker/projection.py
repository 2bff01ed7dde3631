"""Replay the log into SQLite: current state, history tables, views and search.

The result depends only on the set of events: they are replayed in the order of
(recorded_at, writer, seq, id, hash), whatever the order of files and lines.
"""

from __future__ import annotations

import heapq
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from . import envelope, schema
from .actors import all_actors, all_currencies
from .dates import Span, parse_date
from .errors import TrackerError
from .log import EventLog, Line

Event = dict[str, Any]


class OutOfOrder(Exception):
    """A segment file whose lines are not in replay order (after a manual edit or merge)."""


def sort_key(event: Event) -> tuple:
    return (event["recorded_at"], event["writer"], event["seq"], event["id"], event["hash"])


def _parsed(item: Line) -> Event:
    try:
        return envelope.parse_line(item.body)
    except envelope.BadLine as error:
        raise TrackerError(
            f"{item.path.name} line {item.number} is damaged ({error}); run tracker verify"
        ) from None


def _file_events(log: EventLog, path: Path) -> Iterator[Event]:
    previous = None
    for item in log.lines([path]):
        if isinstance(item, Line):
            event = _parsed(item)
            key = sort_key(event)
            if previous is not None and key < previous:
                raise OutOfOrder(path)
            previous = key
            yield event


def ordered_events(log: EventLog, sort_in_memory: bool = False) -> Iterator[Event]:
    """Every event in replay order: a streaming merge of segments, or a sort in memory."""
    if sort_in_memory:
        events = [_parsed(item) for item in log.lines() if isinstance(item, Line)]
        yield from sorted(events, key=sort_key)
    else:
        yield from heapq.merge(*(_file_events(log, path) for path in log.segments()), key=sort_key)


@lru_cache(maxsize=65536)
def span(text: str) -> Span:
    return parse_date(text)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _number(text: str | None) -> int | float | None:
    if text is None:
        return None
    return float(text) if "." in text else int(text)


class Projector:
    """Applies events, one at a time, to an open database of the shape of `schema`."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.handlers: dict[str, Callable[[Event], None]] = {
            "format.recorded": self.format_recorded,
            "meeting.recorded": self.meeting_recorded,
            "announcement.recorded": self.announcement_recorded,
            "pledge.recorded": self.pledge_recorded,
            "meeting.status_changed": self.status_changed,
            "pledge.status_changed": self.status_changed,
            "source.added": self.source_added,
        }

    def apply(self, event: Event) -> None:
        inserted = self.conn.execute(
            "insert or ignore into events (id, type, subject, recorded_at, recorded_by, writer,"
            " seq, schema, data, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event["id"], event["type"], event["subject"], event["recorded_at"],
             event["recorded_by"], event["writer"], event["seq"], event["schema"],
             orjson.dumps(event["data"], option=orjson.OPT_SORT_KEYS).decode(), event["hash"]),
        ).rowcount
        if not inserted:
            return  # the same event seen again (a duplicated line)
        handler = self.handlers.get(event["type"])
        if handler is None:
            raise TrackerError(f"event {event['id']} has unknown type {event['type']!r}")
        try:
            handler(event)
        except (KeyError, TypeError, ValueError, TrackerError) as error:
            raise TrackerError(
                f"event {event['id']} cannot be projected ({error!r}); run tracker verify"
            ) from None

    # -- helpers -------------------------------------------------------------------

    def insert(self, table: str, row: dict[str, Any], ignore: bool = False) -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        verb = "insert or ignore" if ignore else "insert"
        sql = f"{verb} into {table} ({columns}) values ({marks})"
        return self.conn.execute(sql, tuple(row.values())).rowcount

    def kind_of(self, subject: str) -> str | None:
        for kind, table, key in (("meeting", "meetings", "id"), ("pledge", "pledges", "id"),
                                 ("announcement", "announcements", "id"),
                                 ("format", "formats", "slug")):
            if self.conn.execute(f"select 1 from {table} where {key} = ?", (subject,)).fetchone():
                return kind
        return None

    def touch(self, kind: str, subject: str, recorded_at: str) -> None:
        table, key = TABLE_OF[kind]
        self.conn.execute(f"update {table} set updated_at = ? where {key} = ?",
                          (recorded_at, subject))

    def add_source(self, event: Event, kind: str) -> None:
        source = event["data"]["source"]
        self.insert("sources", {
            "subject": event["subject"], "event_id": event["id"], "kind": kind,
            "url": source.get("url"), "citation": source.get("citation"),
            "publisher": source.get("publisher"), "published": source.get("published"),
            "quote": source.get("quote"), "recorded_at": event["recorded_at"],
        })

    @staticmethod
    def dated(data: dict[str, Any], key: str = "date") -> dict[str, Any]:
        when = span(data[key])
        return {key: when.text, f"{key}_start": when.start, f"{key}_end": when.end,
                f"{key}_precision": when.precision}

    # -- handlers ------------------------------------------------------------------

    def format_recorded(self, event: Event) -> None:
        data, slug = event["data"], event["subject"]
        launched = self.dated(data, "launched") if "launched" in data else {}
        if not self.insert("formats", {
            "slug": slug, "name": data["name"], **launched, "members": _json(data.get("members")),
            "summary": data.get("summary"), "recorded_at": event["recorded_at"],
            "updated_at": event["recorded_at"],
        }, ignore=True):
            return  # the slug was recorded first by another event: verify warns
        for actor in data.get("members", []):
            self.insert("format_members", {"format": slug, "actor": actor})
        self.add_source(event, "record")

    def meeting_recorded(self, event: Event) -> None:
        data, meeting_id = event["data"], event["subject"]
        self.insert("meetings", {
            "id": meeting_id, "title": data["title"], **self.dated(data),
            "status": data["status"], "format": data.get("format"), "level": data.get("level"),
            "mode": data.get("mode"), "city": data.get("city"), "country": data.get("country"),
            "latitude": _number(data.get("latitude")), "longitude": _number(data.get("longitude")),
            "geonameid": data.get("geonameid"), "city_as_given": data.get("city_as_given"),
            "chair": data.get("chair"), "participants": _json(data.get("participants")),
            "topics": _json(data.get("topics")), "summary": data.get("summary"),
            "recorded_at": event["recorded_at"], "updated_at": event["recorded_at"],
        })
        officials = data.get("officials", [])
        for actor in data.get("participants", []):
            own = [official for official in officials if official["actor"] == actor] or [{}]
            for official in own:
                self.insert("meeting_participants", {
                    "meeting_id": meeting_id, "actor": actor, "official": official.get("name"),
                    "official_title": official.get("title"),
                })
        self.add_source(event, "record")

    def announcement_recorded(self, event: Event) -> None:
        data, announcement_id = event["data"], event["subject"]
        self.insert("announcements", {
            "id": announcement_id, "title": data["title"], **self.dated(data),
            "by_actor": data["by"], "about": _json(data.get("about")),
            "topics": _json(data.get("topics")), "summary": data.get("summary"),
            "recorded_at": event["recorded_at"], "updated_at": event["recorded_at"],
        })
        for subject in data.get("about", []):
            self.insert("announcement_about", {"announcement_id": announcement_id,
                                               "subject": subject})
        self.add_source(event, "record")

    def pledge_recorded(self, event: Event) -> None:
        data, pledge_id = event["data"], event["subject"]
        self.insert("pledges", {
            "id": pledge_id, "title": data["title"], **self.dated(data), "donor": data["donor"],
            "recipients": _json(data["recipients"]), "amount": _number(data["amount"]),
            "amount_text": data["amount"], "currency": data["currency"],
            "approximate": int(bool(data.get("approximate"))),
            "instrument": data.get("instrument"), "purpose": data.get("purpose"),
            "meeting_id": data.get("meeting_id"), "status": "pledged",
            "recorded_at": event["recorded_at"], "updated_at": event["recorded_at"],
        })
        for actor in data["recipients"]:
            self.insert("pledge_recipients", {"pledge_id": pledge_id, "actor": actor})
        self.add_source(event, "record")

    def status_changed(self, event: Event) -> None:
        data, subject = event["data"], event["subject"]
        kind = event["type"].partition(".")[0]
        table, _key = TABLE_OF[kind]
        row = self.conn.execute(f"select status from {table} where id = ?", (subject,)).fetchone()
        if row is None:
            return  # unknown subject: verify reports it
        changes = {"status": data["status"], "updated_at": event["recorded_at"]}
        if "amount" in data:
            changes.update(disbursed_amount=_number(data["amount"]),
                           disbursed_amount_text=data["amount"])
        assignments = ", ".join(f"{column} = ?" for column in changes)
        self.conn.execute(f"update {table} set {assignments} where id = ?",
                          (*changes.values(), subject))
        when = span(data["date"]) if "date" in data else None
        self.insert("status_changes", {
            "subject": subject, "kind": kind, "status": data["status"],
            "previous_status": row[0], "date": data.get("date"),
            "date_start": when.start if when else None,
            "amount": _number(data.get("amount")), "amount_text": data.get("amount"),
            "note": data.get("note"), "event_id": event["id"],
            "recorded_at": event["recorded_at"],
        })
        self.add_source(event, "update")

    def source_added(self, event: Event) -> None:
        kind = self.kind_of(event["subject"])
        if kind is None:
            return
        self.touch(kind, event["subject"], event["recorded_at"])
        self.add_source(event, "citation")


TABLE_OF = {"meeting": ("meetings", "id"), "pledge": ("pledges", "id"),
            "announcement": ("announcements", "id"), "format": ("formats", "slug")}


def fill_reference_tables(db: sqlite_utils.Database) -> None:
    db["actors"].insert_all(
        ({"code": actor.code, "name": actor.name, "kind": actor.kind,
          "official_name": actor.official_name, "alpha_2": actor.alpha_2}
         for actor in sorted(all_actors().values(), key=lambda actor: actor.code)),
    )
    db["currencies"].insert_all(
        {"code": code, "name": name} for code, name in sorted(all_currencies().items())
    )


def log_fingerprint(log: EventLog) -> str:
    """Which segment files the log has and their sizes: changes with every append."""
    parts = [f"{path.relative_to(log.root)}:{path.stat().st_size}" for path in log.segments()]
    return envelope.canonical(parts).decode()


def project(events: Iterable[Event], conn: sqlite3.Connection) -> int:
    """Create the schema in an empty database and apply the events; return how many."""
    conn.isolation_level = None
    conn.execute("pragma journal_mode = off")
    conn.execute("pragma synchronous = off")
    db = sqlite_utils.Database(conn)
    conn.execute("begin")
    schema.create_tables(db)
    fill_reference_tables(db)
    projector = Projector(conn)
    count = 0
    for event in events:
        projector.apply(event)
        count += 1
    schema.create_indexes_views_fts(db)
    conn.execute("commit")
    conn.execute("analyze")
    return count


def build(log: EventLog, db_path: Path | str) -> int:
    """Rebuild the database from the log into a temporary file, then rename it into place."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = db_path.with_name(f".{db_path.name}.building-{os.getpid()}")
    fingerprint = log_fingerprint(log)
    try:
        for sort_in_memory in (False, True):
            temporary.unlink(missing_ok=True)
            try:
                with closing(sqlite3.connect(str(temporary))) as conn:
                    count = project(ordered_events(log, sort_in_memory), conn)
                break
            except OutOfOrder:
                continue
        with closing(sqlite3.connect(str(temporary))) as conn, conn:
            conn.execute("insert into build_info (key, value) values ('log_fingerprint', ?)",
                         (fingerprint,))
        os.replace(temporary, db_path)
    finally:
        temporary.unlink(missing_ok=True)
    return count


def is_stale(log: EventLog, db_path: Path | str) -> bool:
    """Whether the database is missing or older than the log it was built from."""
    db_path = Path(db_path)
    if not db_path.exists():
        return True
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "select value from build_info where key = 'log_fingerprint'"
            ).fetchone()
    except sqlite3.DatabaseError:
        return True
    return row is None or row[0] != log_fingerprint(log)
