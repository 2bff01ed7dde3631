"""Check the whole log: hashes, ids, sequences, schema and references."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from . import envelope, model
from .log import EventLog, Tail


@dataclass
class Report:
    events: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _where(path: Path, number: int, root: Path) -> str:
    return f"{path.relative_to(root)}:{number}"


def _references(event: dict) -> list[tuple[str, str]]:
    """(wanted kind, subject) that an event needs to exist."""
    data, kind = event["data"], event["type"].partition(".")[0]
    if event["type"] == model.SOURCE_ADDED:
        return [("record", event["subject"])]
    if event["type"] in model.STATUS_CHANGED.values():
        return [(kind, event["subject"])]
    wanted = []
    for spec in model.FIELDS.get(kind, ()):
        if spec.refers and spec.key in data:
            values = data[spec.key] if spec.many else [data[spec.key]]
            wanted += [(spec.refers, value) for value in values]
    return wanted


def _keep_what_can_be_read(
    body: bytes, seqs: dict[str, list[tuple[int, str]]], subjects: dict[str, str]
) -> None:
    """Count a damaged event's seq and subject, if they can be read, so that one damaged
    line is reported once, not again as a seq gap and as unknown references."""
    try:
        event = orjson.loads(body)
        writer, seq = event["writer"], event["seq"]
        kind, _, action = event["type"].partition(".")
        subject = event["subject"]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return
    if isinstance(writer, str) and type(seq) is int:
        seqs[writer].append((seq, envelope.id_in(body)))
    if action == "recorded" and isinstance(subject, str):
        subjects.setdefault(subject, kind)


def verify(log: EventLog) -> Report:
    """Read every segment and report every problem, naming the event (or file and line)."""
    report = Report()
    hashes: dict[str, tuple[str, str]] = {}  # id -> (hash, where first seen)
    seqs: dict[str, list[tuple[int, str]]] = defaultdict(list)
    subjects: dict[str, str] = {}
    needed: list[tuple[str, str, str]] = []  # (event id, wanted kind, subject)
    segments = log.segments()
    report.files = len(segments)
    for item in log.lines(segments):
        if isinstance(item, Tail):
            report.warnings.append(item.warning(log.root))
            continue
        where = _where(item.path, item.number, log.root)
        report.events += 1
        try:
            event = envelope.parse_line(item.body)
        except envelope.BadLine as error:
            report.problems.append(f"event {envelope.id_in(item.body)} ({where}): {error}")
            _keep_what_can_be_read(item.body, seqs, subjects)
            continue
        event_id = event["id"]
        previous = hashes.get(event_id)
        if previous is not None:
            if previous[0] != event["hash"]:
                seqs[event["writer"]].append((event["seq"], event_id))  # reported once
                report.problems.append(
                    f"event {event_id} ({where}): duplicate id with other content "
                    f"(first at {previous[1]})"
                )
            else:
                report.warnings.append(
                    f"event {event_id} ({where}) appears more than once (first at {previous[1]})"
                )
            continue
        hashes[event_id] = (event["hash"], where)
        problem = _check_event(event, item.path)
        if problem:
            report.problems.append(f"event {event_id} ({where}): {problem}")
            continue
        seqs[event["writer"]].append((event["seq"], event_id))
        kind, _, action = event["type"].partition(".")
        if action == "recorded":
            if event["subject"] in subjects:
                report.warnings.append(
                    f"event {event_id} ({where}): {event['subject']} was already recorded; "
                    "the earlier record stands"
                )
            else:
                subjects[event["subject"]] = kind
        needed += [(event_id, wanted, subject) for wanted, subject in _references(event)]
    for writer, numbers in sorted(seqs.items()):
        numbers.sort()
        expected, previous_id = 1, ""
        for seq, event_id in numbers:
            if seq > expected:
                missing = seq - expected
                report.problems.append(
                    f"writer {writer}: seq jumps from {expected - 1} to {seq} at event "
                    f"{event_id}: {missing} event{'s' if missing > 1 else ''} of this writer "
                    "missing"
                )
            elif seq < expected:
                report.problems.append(
                    f"writer {writer}: seq {seq} used by both event {previous_id} and event "
                    f"{event_id}"
                )
            expected, previous_id = seq + 1, event_id
    for event_id, wanted, subject in needed:
        kind = subjects.get(subject)
        if kind is None:
            report.problems.append(f"event {event_id}: refers to unknown subject {subject}")
        elif wanted not in ("record", kind):
            report.problems.append(f"event {event_id}: {subject} is a {kind}, not a {wanted}")
    return report


def _check_event(event: dict, path: Path) -> str | None:
    if event["type"] not in model.EVENT_TYPES:
        return f"unknown type {event['type']!r}"
    if event["schema"] != envelope.SCHEMA:
        return f"unknown schema version {event['schema']}"
    if path.parent.name != event["writer"]:
        return f"writer {event['writer']!r} in the folder of {path.parent.name!r}"
    if path.stem != event["recorded_at"][:7]:
        return f"recorded {event['recorded_at']} in segment {path.name}"
    kind, _, action = event["type"].partition(".")
    if action == "recorded":
        expected = event["id"] if kind != "format" else event["subject"]
        if event["subject"] != expected or (
            kind == "format" and not model.is_valid(model.parse_slug, event["subject"])
        ):
            return f"bad subject {event['subject']!r} for a {kind}"
    return model.check_data(event["type"], event["data"])
