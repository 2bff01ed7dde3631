"""Check the whole log: hashes, ids, sequences, schema and references."""

from __future__ import annotations

import hashlib
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from . import envelope, model
from .errors import TrackerError, shown
from .log import EventLog, Line, Tail
from .upcast import can_upcast, upcast


@dataclass
class Report:
    events: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def merge(self, other: Report) -> None:
        self.problems += other.problems
        self.warnings += other.warnings


def _where(path: Path, number: int, root: Path) -> str:
    return f"{path.relative_to(root)}:{number}"


def _references(event: dict) -> list[tuple[str, str]]:
    """(wanted kind, subject) that an event needs to exist."""
    data, kind = event["data"], event["type"].partition(".")[0]
    if event["type"] in (model.SOURCE_ADDED, model.AMENDED, model.RETRACTED):
        return [("record", event["subject"])]
    if event["type"] in model.STATUS_CHANGED.values():
        return [(kind, event["subject"])]
    wanted = []
    for spec in model.FIELDS.get(kind, ()):
        if spec.refers and spec.key in data:
            values = data[spec.key] if spec.many else [data[spec.key]]
            wanted += [(spec.refers, value) for value in values]
    return wanted


def _payload_digest(event: dict) -> str:
    """A digest of what an event says, leaving out when, by whom and where it was written."""
    payload = {key: event[key] for key in ("type", "schema", "subject", "data")}
    return hashlib.sha256(envelope.canonical(payload)).hexdigest()


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
    hashes: dict[str, tuple[str, str, str]] = {}  # id -> (hash, digest of what it says, where)
    seqs: dict[str, list[tuple[int, str]]] = defaultdict(list)
    subjects: dict[str, str] = {}
    needed: list[tuple[str, str, str]] = []  # (event id, wanted kind, subject)
    amendments: list[tuple[str, dict]] = []  # checked once the kinds of subjects are known
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
        payload = _payload_digest(event)
        if previous is not None:
            first = previous[2]
            if previous[:2] == (event["hash"], payload):
                report.warnings.append(
                    f"event {event_id} ({where}) appears more than once (first at {first})")
            elif previous[1] == payload:
                report.warnings.append(
                    f"event {event_id} ({where}) was recorded again by writer "
                    f"{event['writer']} with the same content (a retry in another clone); "
                    f"the first one ({first}) stands")
                seqs[event["writer"]].append((event["seq"], event_id))
            else:
                seqs[event["writer"]].append((event["seq"], event_id))  # reported once
                report.problems.append(
                    f"event {event_id} ({where}): duplicate id with other content "
                    f"(first at {first})"
                )
            continue
        hashes[event_id] = (event["hash"], payload, where)
        problem = _check_event(event, item.path)
        if problem:
            report.problems.append(f"event {event_id} ({where}): {problem}")
            continue
        event = upcast(event)
        if event["type"] == model.AMENDED:
            amendments.append((f"event {event_id} ({where})", event))
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
    for label, event in amendments:
        kind = subjects.get(event["subject"])
        problem = model.check_data(event["type"], event["data"], kind) if kind else None
        if problem:
            report.problems.append(f"{label}: {problem}")
    return report


def _check_event(event: dict, path: Path) -> str | None:
    if event["type"] not in model.EVENT_TYPES:
        return f"unknown type {event['type']!r}"
    if not can_upcast(event["type"], event["schema"]):
        return f"unknown schema version {event['schema']} of {event['type']}"
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
    return model.check_data(event["type"], upcast(event)["data"])


def _git(folder: Path, *args: str) -> bytes:
    result = subprocess.run(["git", "-C", str(folder), *args], capture_output=True)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise TrackerError(f"git {' '.join(args[:2])} failed: "
                           f"{message[-1] if message else result.returncode}")
    return result.stdout


def verify_against(log: EventLog, revision: str) -> Report:
    """Prove the log only grew since a git revision: every event committed there is still
    present, byte for byte. Edits and deletions are named by event id."""
    report = Report()
    if not log.root.is_dir():
        raise TrackerError(f"no event log at {log.root}")
    try:
        top = Path(_git(log.root, "rev-parse", "--show-toplevel").decode().strip())
    except TrackerError:
        raise TrackerError(f"{log.root} is not in a git repository") from None
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except TrackerError:
        raise TrackerError(f"unknown git revision {shown(revision)}") from None
    prefix = log.root.resolve().relative_to(top.resolve()).as_posix()
    listed = _git(top, "ls-tree", "-r", "-z", "--name-only", revision, "--", prefix)
    committed = [name for name in listed.decode().split("\0")
                 if name.endswith(".jsonl") and name.count("/") == prefix.count("/") + 2]
    present: dict[str, set[str]] = defaultdict(set)
    lines_now: set[str] = set()
    for item in log.lines():
        if isinstance(item, Line):
            digest = hashlib.sha256(item.body).hexdigest()
            present[envelope.id_in(item.body)].add(digest)
            lines_now.add(digest)
    for name in committed:
        content = _git(top, "cat-file", "blob", f"{revision}:{name}")
        for number, body in enumerate(content.split(b"\n")[:-1], start=1):
            digest = hashlib.sha256(body).hexdigest()
            if digest in lines_now:
                continue
            event_id = envelope.id_in(body)
            where = f"{name}:{number} at {revision}"
            if present.get(event_id):
                report.problems.append(f"event {event_id} ({where}) was edited since {revision}")
            else:
                report.problems.append(f"event {event_id} ({where}) was deleted since {revision}")
    return report
