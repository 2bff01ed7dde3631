"""What records the log holds: the lookups that commands need before appending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .errors import TrackerError, shown
from .log import EventLog, Line


@dataclass
class Subject:
    kind: str  # format, meeting, announcement or pledge
    latest: str  # recorded_at of the latest event about it
    date: str | None = None  # the record's date, for the checks of `update`


class Catalog:
    """Subjects of the log by id, read in one pass over every segment."""

    def __init__(self, subjects: dict[str, Subject], events: dict[str, bytes]):
        self.subjects = subjects
        self._events = events

    @classmethod
    def scan(cls, log: EventLog) -> Catalog:
        subjects: dict[str, Subject] = {}
        events: dict[str, bytes] = {}
        for item in log.lines():
            if not isinstance(item, Line):
                continue
            try:
                event = orjson.loads(item.body)
                kind, _, action = event["type"].partition(".")
                subject, recorded_at = event["subject"], event["recorded_at"]
                date = event["data"].get("date")
                events[event["id"]] = item.body
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
                continue  # tracker verify reports damaged lines
            if action == "recorded":
                subjects.setdefault(subject, Subject(kind, recorded_at, date))
            known = subjects.get(subject)
            if known and recorded_at > known.latest:
                known.latest = recorded_at
        return cls(subjects, events)

    def event(self, event_id: str) -> dict[str, Any] | None:
        body = self._events.get(event_id)
        return orjson.loads(body) if body is not None else None

    def require(self, wanted: str, reference: str) -> Subject:
        """The subject `reference` names, which must be a `wanted` (or any "record")."""
        subject = self.subjects.get(reference)
        if subject is None:
            label = "format" if wanted == "format" else "id"
            raise TrackerError(f"unknown {label} {shown(reference)}")
        if wanted not in ("record", subject.kind):
            raise TrackerError(f"{reference} is a {subject.kind}, not a {wanted}")
        return subject
