"""What records the log holds: the lookups that commands need before appending."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .errors import TrackerError, shown
from .log import EventLog, Line
from .model import AMENDED, RETRACTED, apply_changes


@dataclass
class Subject:
    kind: str  # format, meeting, announcement or pledge
    latest: str  # recorded_at of the latest event about it
    date: str | None = None  # the record's date, for the checks of `update`
    retracted: bool = False
    data: dict[str, Any] = field(default_factory=dict)  # kept for one subject only


class Catalog:
    """Subjects of the log by id, read in one pass over every segment."""

    def __init__(self, subjects: dict[str, Subject], events: dict[str, bytes]):
        self.subjects = subjects
        self._events = events

    @classmethod
    def scan(cls, log: EventLog, keep_data_of: str | None = None) -> Catalog:
        """Read the log; keep the current data of the record `keep_data_of`, if given."""
        subjects: dict[str, Subject] = {}
        events: dict[str, bytes] = {}
        parsed = []
        for item in log.lines():
            if not isinstance(item, Line):
                continue
            try:
                event = orjson.loads(item.body)
                key = (event["recorded_at"], event["writer"], event["seq"], event["id"])
                events[event["id"]] = item.body
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # tracker verify reports damaged lines
            parsed.append((key, event) if keep_data_of == event.get("subject") else (key, None))
            cls._note(subjects, event)
        if keep_data_of in subjects:
            # Replay the subject's own events in order: its data is the fold of them.
            subject = subjects[keep_data_of]
            for _key, event in sorted(item for item in parsed if item[1] is not None):
                if event["type"].endswith(".recorded") and not subject.data:
                    subject.data = {k: v for k, v in event["data"].items() if k != "source"}
                elif event["type"] == AMENDED:
                    subject.data = apply_changes(subject.data, event["data"]["changes"])
        return cls(subjects, events)

    @staticmethod
    def _note(subjects: dict[str, Subject], event: dict[str, Any]) -> None:
        try:
            kind, _, action = event["type"].partition(".")
            subject, recorded_at, data = event["subject"], event["recorded_at"], event["data"]
            if action == "recorded":
                subjects.setdefault(subject, Subject(kind, recorded_at, data.get("date")))
            known = subjects.get(subject)
            if known is None:
                return
            known.latest = max(known.latest, recorded_at)
            if event["type"] == RETRACTED:
                known.retracted = True
            elif event["type"] == AMENDED and "date" in data["changes"]:
                known.date = data["changes"]["date"]
        except (KeyError, TypeError, AttributeError):
            return

    def event(self, event_id: str) -> dict[str, Any] | None:
        body = self._events.get(event_id)
        return orjson.loads(body) if body is not None else None

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
