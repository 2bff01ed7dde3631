"""One record's current state and history, replayed from its own events."""

from __future__ import annotations

import sqlite3
import unicodedata
from contextlib import closing
from typing import Any

import orjson

from .duplicates import copies_noted
from .errors import TrackerError, shown
from .log import EventLog
from .model import (
    AMENDED,
    FIELDS,
    RETRACTED,
    SOURCE_WITHDRAWN,
    effective_changes,
    is_revision,
    join_items,
    official_option,
    parse_flag,
)
from .projection import TABLE_OF, history_text, project
from .replay import events_in_order

Event = dict[str, Any]
LABEL_WIDTH = 80  # the most columns of a title or summary on a line of `tracker log`

PARTICIPANTS = ("select actor, official, official_title from meeting_participants "
                "where meeting_id = ? order by rowid")
JSON_COLUMNS = {"participants", "topics", "about", "recipients", "members"}


def _rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, args)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


def describe(log: EventLog, subject: str) -> tuple[dict[str, Any], list[str]]:
    """A record's current state and its history: every event about it, in order, each
    once as replay keeps it, with what it changed (old -> new), the reason, the source
    and whether it came after the record's retraction (and so changed nothing); and a
    note of each event the log holds more than once (`copies_noted`)."""
    events, repeats = events_in_order(log, lambda event: event["subject"] == subject)
    if not events:
        from .catalog import Catalog

        with Catalog.scan(log) as catalog:
            raise catalog.unknown(subject)
    with closing(sqlite3.connect(":memory:")) as conn:
        projector = project(events, conn)
        [record] = _rows(conn, "select * from records where id = ?", subject) or [None]
        if record is None:
            raise TrackerError(f"{shown(subject)} has events but no record")
        kind = record["kind"]
        changes = _rows(conn, "select event_id, field, old_value, new_value, reason "
                        "from history where subject = ? order by rowid", subject)
        state = _state(conn, kind, subject)
        retraction = next((number for number, event in enumerate(events)
                           if event["type"] == RETRACTED), None)
        if state is None and retraction is not None:  # its state, with its updates, just
            # before it was retracted
            with closing(sqlite3.connect(":memory:")) as standing:
                project(events[:retraction], standing)
                state = _state(standing, kind, subject)
        if state is None:  # not as tracker writes events (run tracker verify)
            state = {"title": record["title"],
                     **projector.data_of(subject, projector.record(subject))}
    again = _recorded_again(events, projector.after_retraction)
    history = []
    for event in events:
        own = [change for change in changes if change["event_id"] == event["id"]]
        history.append({
            "id": event["id"], "type": event["type"], "recorded_at": event["recorded_at"],
            "recorded_by": event["recorded_by"],
            "changes": [{"field": change["field"], "old": change["old_value"],
                         "new": change["new_value"]} for change in own],
            "reason": next((change["reason"] for change in own if change["reason"]),
                           event["data"].get("reason")),  # an amendment that changed nothing
            "source": event["data"].get("source"),
            "data": event["data"],
            **_update_fields(event),
            "after_retraction": event["id"] in projector.after_retraction,
            "recorded_again": event["id"] in again,
        })
    return {"kind": kind, "id": subject, "retracted": bool(record["retracted"]),
            "retraction_reason": record["retraction_reason"], "state": state,
            "history": history}, copies_noted(events, repeats)


def _recorded_again(events: list[Event], after_retraction: set[str]) -> set[str]:
    """The ids of the records of a subject after its first in replay order (a slug
    recorded in two clones): replay ignores them, as the first record stands. Those
    after its retraction are marked as such instead."""
    records = [event["id"] for event in events if event["type"].endswith(".recorded")]
    return set(records[1:]) - after_retraction


def _state(conn: sqlite3.Connection, kind: str, subject: str) -> dict[str, Any] | None:
    """A record's row in the table of its kind (lists decoded; a meeting's participants as
    `participant_rows`), or None if it has none."""
    table, key = TABLE_OF[kind]
    rows = _rows(conn, f"select * from {table} where {key} = ?", subject)
    if not rows:
        return None
    state = rows[0]
    for column in JSON_COLUMNS & set(state):
        if isinstance(state[column], str):
            state[column] = orjson.loads(state[column])
    if kind == "meeting":
        state["participant_rows"] = _rows(conn, PARTICIPANTS, subject)
    return state


def _update_fields(event: Event) -> dict[str, Any]:
    """What a status update says besides its status, as given to `tracker update`:
    `status_date` (its --date: when the change happened) and `status_note` (its --note).
    None if not given, for other events, or if not text (not as tracker writes it)."""
    fields: dict[str, Any] = {"status_date": None, "status_note": None}
    if event["type"].endswith(".status_changed"):
        for key in ("date", "note"):
            value = event["data"].get(key)
            if isinstance(value, str):
                fields[f"status_{key}"] = value
    return fields


def _source_line(source: Any) -> str:
    if type(source) is not dict:  # not as tracker writes a source: as it is
        return shown(source)
    parts = (source.get("url") or source.get("citation"), source.get("publisher"),
             source.get("published"))
    line = ", ".join(str(part) for part in parts if part)
    if source.get("quote"):
        line += f'\n      "{source["quote"]}"'
    return line


def _listed(value: Any) -> Any:
    """A history value as `amend --set` takes it: a list (kept as JSON in the history
    table) of texts, "KOR, JPN", or of officials, "JPN:Yoko Kamikawa:Minister, KAZ:..."
    (a comma within one written `\\,`);
    none as "(none)"; any other value as it is."""
    if value is None:
        return "(none)"
    if not (isinstance(value, str) and value.startswith("[")):
        return value
    try:
        items = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    if isinstance(items, list) and items and all(type(item) is dict for item in items):
        items = [official_option(item) for item in items]  # as it was, if not an official
    if not isinstance(items, list) or not items or not all(
            isinstance(item, str) for item in items):
        return value
    return join_items(items, ",")


# The columns of flag options (`--approximate`): 1 or 0 (or null).
FLAGS = frozenset(spec.key for specs in FIELDS.values() for spec in specs
                  if spec.parse is parse_flag)


def render(record: dict[str, Any]) -> str:
    """The text `tracker show` prints."""
    state = record["state"]
    lines = [f"{record['kind']} {record['id']}"]
    if record["retracted"]:
        lines.append(f"  RETRACTED: {record['retraction_reason']} (last state below)")
    skip = {"id", "slug", "participant_rows", "recorded_at", "updated_at", "amount_text",
            "disbursed_amount_text", "officials"}
    for column, value in state.items():
        if column in skip or value is None:
            continue
        if column in FLAGS:  # a flag, as given: there or not
            if not value:
                continue
            value = "yes"
        if isinstance(value, list):  # as `amend --set` takes it: a comma in an item is \,
            value = join_items(value, ",")
        lines.append(f"  {column}: {value}")
    for row in state.get("participant_rows", []):
        if row["official"]:  # as `--set official=` takes it: ACTOR:NAME[:TITLE], a comma \,
            official = official_option({"actor": row["actor"], "name": row["official"],
                                        "title": row["official_title"] or ""})
            lines.append(f"  official: {join_items([official], ',')}")
    lines.append("history:")
    for event in record["history"]:
        lines.append(f"  {event['recorded_at']}  {event['recorded_by']}  {event['type']}  "
                     f"{event['id']}")
        if event["after_retraction"] or event["recorded_again"]:
            lines.append("    (after the retraction: no effect)" if event["after_retraction"]
                         else "    (recorded again: no effect; the first record stands)")
            lines.extend(f"    {line}" for line in _asked(event))
        if event["type"].endswith(".recorded"):
            data = event["data"]
            lines.append(f"    recorded: {data.get('title') or data.get('name')}")
        for change in event["changes"]:
            if event["type"] == SOURCE_WITHDRAWN:
                lines.append(f"    withdrawn: the source {change['old']} "
                             f"(given by {event['data']['event']})")
            elif event["type"].endswith(".status_changed") and change["field"] == "date":
                moved = "held on" if event["data"].get("status") == "held" else "rescheduled"
                lines.append(f"    {moved}: {change['old']} -> {change['new']}")
            elif event["type"].endswith(".status_changed") and change["field"] == "amount":
                lines.append(f"    revised: amount {change['old']} -> {change['new']}")
            else:
                lines.append(f"    {change['field']}: {_listed(change['old'])} -> "
                             f"{_listed(change['new'])}")
        if event["type"].endswith(".status_changed"):
            if event["status_date"]:
                lines.append(f"    date: {event['status_date']}")
            if event["status_note"]:
                lines.append(f"    note: {event['status_note']}")
        elif event["reason"]:
            lines.append(f"    reason: {event['reason']}")
        if event["source"]:
            lines.append(f"    source: {_source_line(event['source'])}")
    return "\n".join(lines)


def _asked(event: dict[str, Any]) -> list[str]:
    """What an event that changed nothing asked for, as `field: value` lines: a status
    update's status, --amount and --to, an amendment's --set fields (its date and note,
    reason and source have their usual lines)."""
    data = event["data"]
    if event["type"].endswith(".status_changed"):
        asked = {key: data[key] for key in ("status", "amount", "to") if key in data}
    elif event["type"] == AMENDED and isinstance(data.get("changes"), dict):
        asked = dict(sorted(effective_changes(data["changes"]).items()))  # as replay does
    else:
        return []
    return [f"{field}: {_listed(history_text(value))}" for field, value in asked.items()]


def log_line(event: Event) -> str:
    """One line of `tracker log`. It shows any event replay reads, even one `tracker
    verify` refuses (a text it lacks, or that is not text, is left out). A label longer
    than LABEL_WIDTH is cut, and ends in `…`."""
    data = event["data"]
    label = _first_text(data, "title", "name", "status", "reason")
    if event["type"] == "source.added":
        source = data.get("source")
        label = _first_text(source, "url", "citation") if isinstance(source, dict) else ""
    elif event["type"].endswith(".status_changed"):
        label = _update_label(data)
    elif event["type"] == "record.amended":
        changes = data.get("changes")
        changed = ", ".join(effective_changes(changes)) if isinstance(changes, dict) else ""
        reason = _first_text(data, "reason")
        label = f"{changed}: {reason}" if changed and reason else changed or reason
    label = clipped(label, LABEL_WIDTH)
    return "  ".join((event["recorded_at"], event["id"], event["type"], event["subject"],
                      label))


def _columns(character: str) -> int:
    """The columns a terminal gives a character: 2 for a wide one (CJK), 0 for one that
    joins the one before it (a combining mark, a joiner, a variation selector)."""
    if unicodedata.category(character) in ("Mn", "Me") or character in JOINING:
        return 0
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1


JOINING = frozenset("\u200d\ufe0e\ufe0f")  # a zero-width joiner, text and emoji selectors
FLAGS_LETTERS = range(0x1F1E6, 0x1F200)  # regional indicators: a flag is two of them


def clipped(text: str, width: int) -> str:
    """The text, if it takes at most `width` columns; else its start and `…` in that
    many, never cut within a character as it shows (a letter and its accents, an emoji
    sequence, a flag)."""
    if sum(map(_columns, text)) <= width:
        return text
    used, end = 0, 0
    for index, character in enumerate(text):
        used += _columns(character)
        if used > width - 1:
            break
        end = index + 1
    while 0 < end < len(text) and (_columns(text[end]) == 0 or text[end - 1] in JOINING):
        end -= 1  # not between a character and what joins it
    flags = 0
    while flags < end and ord(text[end - 1 - flags]) in FLAGS_LETTERS:
        flags += 1
    end -= flags % 2  # not half a flag
    return text[:end].rstrip() + "…"


def _update_label(data: dict[str, Any]) -> str:
    """What a status update records: its status, with the amount it gives (a revision's
    or the cumulative amount disbursed) or the date it moves a meeting to."""
    status, amount, to = (_first_text(data, key) for key in ("status", "amount", "to"))
    if is_revision(data) and amount:
        return f"revised: amount {amount}"
    if amount:
        return f"{status}: {amount} so far"
    if to:
        return f"{status} on {to}" if status == "held" else f"{status} to {to}"
    return status


def _first_text(data: dict[str, Any], *keys: str) -> str:
    """The first of these values that is a text (not empty), else ""."""
    return next((value for key in keys if isinstance(value := data.get(key), str) and value),
                "")
