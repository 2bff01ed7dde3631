"""Ids used by two events with other content (one `--id` given to two events, in two
clones): replay keeps the copy first in replay order, and a build names the others.
`tracker verify` reports them as problems, with their lines.

A build remembers only the copies it leaves out (rare), and compares each with the
copy it kept, which the database's `events` table holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from .envelope import payload_digest


class Repeat(NamedTuple):
    """A copy of an event that replay left out, as a build remembers it (in replay
    order, as replay meets them)."""

    id: str
    place: str  # see `place`
    digest: str  # `envelope.payload_digest`


class Conflict(NamedTuple):
    """An id whose copies say different things: where the kept one is, and the others."""

    id: str
    kept: str
    left_out: list[str]


def repeat_of(event: dict[str, Any]) -> Repeat:
    return Repeat(event["id"], place(event["writer"], event["seq"], event["recorded_at"]),
                  payload_digest(event))


def copies_noted(events: Iterable[dict[str, Any]], repeats: Iterable[Repeat]) -> list[str]:
    """A note for each of the `events` (as replay keeps them) of which the log holds
    more copies (`repeats`, left out): `tracker log` and `tracker show` show it once."""
    by_id: dict[str, list[Repeat]] = {}
    for repeat in repeats:
        by_id.setdefault(repeat.id, []).append(repeat)
    notes = []
    for event in events:
        copies = by_id.get(event["id"])
        if not copies:
            continue
        kept = place(event["writer"], event["seq"], event["recorded_at"])
        digest = payload_digest(event)
        others = list(dict.fromkeys(copy.place for copy in copies if copy.digest != digest))
        times = "twice" if len(copies) == 1 else f"{len(copies) + 1} times"
        other_content = f", with other content at {', '.join(others)}" if others else ""
        notes.append(f"event {event['id']} is in the log {times}{other_content}: shown once, "
                     f"as replay keeps it ({kept}, the first in replay order); run tracker "
                     "verify")
    return notes


def place(writer: str, seq: int, recorded_at: str) -> str:
    """Where an event is: its writer's segment of its month, and its seq."""
    return f"{writer}/{recorded_at[:7]}.jsonl seq {seq}"


def conflicts(conn: sqlite3.Connection, repeats: Iterable[Repeat]) -> list[Conflict]:
    """The ids of the copies left out whose content is not that of the copy kept in the
    `events` table, by id."""
    by_id: dict[str, list[Repeat]] = {}
    for repeat in repeats:
        by_id.setdefault(repeat.id, []).append(repeat)
    found = []
    for event_id in sorted(by_id):
        row = conn.execute("select type, schema, subject, data, writer, seq, recorded_at "
                           "from events where id = ?", (event_id,)).fetchone()
        if row is None:
            continue
        kept = payload_digest({"type": row[0], "schema": row[1], "subject": row[2],
                               "data": orjson.loads(row[3])})
        others = list(dict.fromkeys(  # in replay order, each place once
            repeat.place for repeat in by_id[event_id] if repeat.digest != kept))
        if others:
            found.append(Conflict(event_id, place(*row[4:]), others))
    return found
