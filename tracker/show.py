"""One record's current state and history, replayed from its own events."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import orjson

from .errors import TrackerError, shown
from .log import EventLog
from .projection import TABLE_OF, ordered_events, project

Event = dict[str, Any]

PARTICIPANTS = ("select actor, official, official_title from meeting_participants "
                "where meeting_id = ? order by rowid")
JSON_COLUMNS = {"participants", "topics", "about", "recipients", "members"}


def _rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, args)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


def describe(log: EventLog, subject: str) -> dict[str, Any]:
    """{"kind", "id", "state", "sources", "status_changes", "history"} for one record."""
    events = [event for event in ordered_events(log) if event["subject"] == subject]
    if not events:
        raise TrackerError(f"unknown id {shown(subject)}")
    with closing(sqlite3.connect(":memory:")) as conn:
        project(events, conn)
        kind = next((k for k, (table, key) in TABLE_OF.items()
                     if conn.execute(f"select 1 from {table} where {key} = ?",
                                     (subject,)).fetchone()), None)
        if kind is None:
            raise TrackerError(f"{shown(subject)} has events but no record")
        table, key = TABLE_OF[kind]
        state = _rows(conn, f"select * from {table} where {key} = ?", subject)[0]
        for column in JSON_COLUMNS & set(state):
            if state[column] is not None:
                state[column] = orjson.loads(state[column])
        if kind == "meeting":
            state["participant_rows"] = _rows(conn, PARTICIPANTS, subject)
        sources = _rows(conn, "select * from sources where subject = ? order by recorded_at",
                        subject)
        changes = _rows(conn, "select * from status_changes where subject = ? "
                        "order by recorded_at", subject)
    history = [
        {key: event[key] for key in ("id", "type", "recorded_at", "recorded_by", "data")}
        for event in events
    ]
    return {"kind": kind, "id": subject, "state": state, "sources": sources,
            "status_changes": changes, "history": history}


def _source_line(source: dict[str, Any]) -> str:
    parts = [source.get("url") or source.get("citation")]
    if source.get("publisher"):
        parts.append(source["publisher"])
    if source.get("published"):
        parts.append(source["published"])
    line = ", ".join(parts)
    if source.get("quote"):
        line += f'\n      "{source["quote"]}"'
    return line


def render(record: dict[str, Any]) -> str:
    """The text `tracker show` prints."""
    state = record["state"]
    lines = [f"{record['kind']} {record['id']}"]
    skip = {"id", "slug", "participant_rows", "recorded_at", "updated_at", "amount_text",
            "disbursed_amount_text"}
    for column, value in state.items():
        if column in skip or value is None:
            continue
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        lines.append(f"  {column}: {value}")
    for row in state.get("participant_rows", []):
        if row["official"]:
            title = f", {row['official_title']}" if row["official_title"] else ""
            lines.append(f"  official: {row['actor']} {row['official']}{title}")
    lines.append("history:")
    sources = {source["event_id"]: source for source in record["sources"]}
    changes = {change["event_id"]: change for change in record["status_changes"]}
    for event in record["history"]:
        lines.append(f"  {event['recorded_at']}  {event['recorded_by']}  {event['type']}  "
                     f"{event['id']}")
        change = changes.get(event["id"])
        if change:
            detail = f"    status: {change['previous_status']} -> {change['status']}"
            if change["date"]:
                detail += f" on {change['date']}"
            if change["amount_text"]:
                detail += f", amount {change['amount_text']}"
            lines.append(detail)
            if change["note"]:
                lines.append(f"    note: {change['note']}")
        if event["id"] in sources:
            lines.append(f"    source: {_source_line(sources[event['id']])}")
    return "\n".join(lines)


def log_line(event: Event) -> str:
    """One line of `tracker log`."""
    data = event["data"]
    label = data.get("title") or data.get("name") or data.get("status") or ""
    if event["type"] == "source.added":
        label = data["source"].get("url") or data["source"].get("citation", "")
    return "  ".join((event["recorded_at"], event["id"], event["type"], event["subject"],
                      label[:80]))
