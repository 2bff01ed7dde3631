"""Check the whole log: hashes, ids, sequences, schema and references."""

from __future__ import annotations

import hashlib
import marshal
import mmap
import os
import select
import struct
import subprocess
import traceback
from array import array
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import orjson

from . import envelope, forking, model
from .collector import collection_paused
from .errors import TrackerError, a_or_an, shown
from .fastcheck import Checked, FastCheck
from .forking import PIPE_BYTES, worth_forking
from .log import READ_BLOCK, EventLog, Line, Tail, line_blocks, lines_before
from .progress import Advance, Progress, no_progress
from .replay import SORT_KEY
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
    if event["type"] == model.AMENDED:
        return [("record", event["subject"]), *model.changed_references(data["changes"])]
    if event["type"] in (model.SOURCE_ADDED, model.SOURCE_WITHDRAWN, model.RETRACTED):
        return [("record", event["subject"])]
    if event["type"] in model.STATUS_CHANGED.values():
        return [(kind, event["subject"])]
    wanted = []
    for spec in model.FIELDS.get(kind, ()):
        if spec.refers and spec.key in data:
            values = data[spec.key] if spec.many else [data[spec.key]]
            wanted += [(spec.refers, value) for value in values]
    return wanted


def _keep_what_can_be_read(body: bytes, folder: str, seqs: Seqs, scan: Scan) -> None:
    """Count a damaged event's seq (if it is its folder's writer's) and subject, if they
    can be read, so that one damaged line is reported once, not again as a seq gap and as
    unknown references. A readable record of the subject, before or after, stands."""
    try:
        event = orjson.loads(body)
        writer, seq = event["writer"], event["seq"]
        kind, _, action = event["type"].partition(".")
        subject = event["subject"]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return
    if writer == folder and type(seq) is int:
        seqs.add(writer, seq, envelope.id_in(body))
    if action == "recorded" and isinstance(subject, str) and subject not in scan.subjects:
        scan.subjects[subject] = kind
        scan.damaged.add(subject)


def _place(segment: int, number: int) -> int:
    """A line's place (segment, line number) as one int: a million of them stay small."""
    return segment << 32 | number


def _segment_and_line(place: int) -> tuple[int, int]:
    return place >> 32, place & 0xFFFFFFFF


def _where_placed(segments: list[Path], place: int, root: Path) -> str:
    segment, number = _segment_and_line(place)
    return _where(segments[segment], number, root)


class Seqs:
    """Each writer's seqs and the ids of the events that used them, as two lists (a pair
    per event would be a million more objects)."""

    def __init__(self) -> None:
        self.numbers: dict[str, list[int]] = defaultdict(list)
        self.ids: dict[str, list[str]] = defaultdict(list)

    def add(self, writer: str, seq: int, event_id: str) -> None:
        self.numbers[writer].append(seq)
        self.ids[writer].append(event_id)


TAIL_LINE = 0xFFFFFFFF  # the line number of a segment's torn tail, after its lines

# The order of a report: what the lines say, in the order of segments and lines; then
# the writers' seq problems, by writer; then references and amendments, in the order of
# the events that make them. It does not depend on how the log was cut in two.
LINE, SEQ, REFERENCE, AMENDMENT = range(4)
Found = list[tuple[tuple, str]]  # (where in that order, message)
Amendment = tuple[int, str, str, dict]  # place, event id, subject, changes
COUNTER = struct.Struct("q")  # the bytes a worker has checked, in memory shared with it


@dataclass
class Scan:
    """What one pass over some parts of the log found: problems and warnings within
    them, in report order, and what the checks across the whole log need."""

    events: int = 0
    problems: Found = field(default_factory=list)
    warnings: Found = field(default_factory=list)
    firsts: dict[str, int] = field(default_factory=dict)  # event id -> place first seen
    subjects: dict[str, str] = field(default_factory=dict)  # -> the kind of its record
    damaged: set[str] = field(default_factory=set)  # subjects only a damaged line records
    slugs: set[str] = field(default_factory=set)  # subjects not their record's id: formats'
    # wanted kind -> (event id, subject) of each reference not settled as it was read
    needed: defaultdict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list))
    # Checked once the kinds of all records are known; after `_settle`, only those of
    # subjects that no line here records.
    amendments: list[Amendment] = field(default_factory=list)
    # After `_settle`, by wanted kind: the subjects referred to that no line here records,
    # and those recorded here as another kind.
    away: dict[str, set[str]] = field(default_factory=dict)
    wrong: dict[str, set[str]] = field(default_factory=dict)

    # The seqs of writers whose lines the other process reads too, checked across the two.
    open_seqs: dict[str, list[int]] = field(default_factory=dict)
    hashes: set[int] | None = field(default=None, repr=False)  # of the ids, when asked

    def id_hashes(self) -> set[int]:
        if self.hashes is None:
            self.hashes = set(map(hash, self.firsts))
        return self.hashes


class Shipped(NamedTuple):
    """What a worker sends of its settled scan, as marshal bytes (about twice as fast as
    a pickle): its findings, its ids' hashes (a string keeps its hash, and the worker,
    forked, hashes as this process does), the kinds of its records, and what refers to
    subjects it does not record."""

    events: int
    problems: Found
    warnings: Found
    hashes: bytes  # array "q"
    # The subjects of its records joined by newlines (a third of the time of a list, both
    # ways), then their kinds, in that order; a subject holding a newline (a damaged
    # line's) is only in `named`.
    subjects: str
    kinds: list[str]
    # Its subjects that are not their records' ids (formats' slugs, damaged lines), with
    # their kinds: any subject both scans record is one of them, or of this process's
    # (else it is an event id in both).
    named: dict[str, str]
    away: dict[str, list[str]]  # a list marshals several times faster than a set
    amendments: list[Amendment]
    open_seqs: dict[str, list[int]]

    @classmethod
    def of(cls, scan: Scan) -> Shipped:
        named = {subject: scan.subjects[subject] for subject in (*scan.slugs, *scan.damaged)}
        subjects = scan.subjects
        if any("\n" in subject for subject in scan.damaged):
            subjects = {subject: kind for subject, kind in subjects.items()
                        if "\n" not in subject}
        return cls(scan.events, scan.problems, scan.warnings,
                   array("q", map(hash, scan.firsts)).tobytes(), "\n".join(subjects),
                   list(subjects.values()), named,
                   {wanted: list(referred) for wanted, referred in scan.away.items()},
                   scan.amendments, scan.open_seqs)

    def recorded(self) -> dict[str, str]:
        """The kind of each subject the worker records."""
        kinds = dict(zip(self.subjects.split("\n") if self.subjects else (), self.kinds,
                         strict=True))
        kinds.update(self.named)
        return kinds


def verify(log: EventLog, workers: int | None = None,
           progress: Progress = no_progress) -> Report:
    """Read every segment and report every problem, naming the event (or file and line).

    A log from 4 MB is checked by two processes: this one reads the first half of its
    bytes (in segment order), a forked worker the rest. Each checks its lines, the seqs of
    the writers whose lines it reads all of, and the references and amendments whose
    subjects it records; the rest is checked across the two. What only one pass over the
    whole log can put in order sends the log to one process: an event id, or a subject,
    in both halves (a line copied into another writer's folder, a retry in another clone,
    a format recorded twice), a reference the other half's records do not answer, or a
    seq missing or used twice by a writer that both halves read.
    `progress(label, total bytes)` gives the `advance` function the reading reports to.
    """
    segments = log.segments()
    sizes = [path.stat().st_size for path in segments]
    if workers is None:
        workers = 2 if worth_forking(sum(sizes)) else 1
    parts = _split(segments, sizes) if workers > 1 else [_whole(segments)]
    with collection_paused():  # forked workers inherit the pause
        # Freed while paused: else the collector's next pass walks all the scans once.
        report = _checked_log(log.root, segments, parts, sum(sizes), progress)
    report.warnings += [f"{path.relative_to(log.root)} is not read: the log's events are "
                        "in <writer>/<YYYY-MM>.jsonl (move it there, or delete a copy)"
                        for path in unread_files(log.root, segments)]
    return report


def unread_files(root: Path, segments: list[Path]) -> list[Path]:
    """The files in the log's folder that no command reads: not a segment, nor local
    state (the files and folders whose names start with a dot)."""
    read = set(segments)
    found = []
    for folder, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(folder, name) for name in files
                  if not name.startswith(".") and Path(folder, name) not in read]
    return sorted(found)


class Part(NamedTuple):
    """The lines of a segment that one process checks: from byte `start` (where a line
    starts) to byte `end` (just after a newline; None: to the end, tail included)."""

    segment: int
    start: int = 0
    end: int | None = None


def _whole(segments: list[Path]) -> list[Part]:
    return [Part(number) for number in range(len(segments))]


# The worker's share of the log's bytes: a little less than half, as it then packs and
# sends what it found (about 0.2 s at a million events) while this process settles its own.
WORKER_SHARE = 0.49


def _split(segments: list[Path], sizes: list[int]) -> list[list[Part]]:
    """The log's bytes, in segment order, cut in two where a line starts: the first
    part for this process, the rest for the worker (one part if either would be empty)."""
    cut = round(sum(sizes) * (1 - WORKER_SHARE))
    number = 0
    while number < len(sizes) and cut >= sizes[number]:
        cut -= sizes[number]
        number += 1
    if number == len(sizes):
        return [_whole(segments)]
    first = [Part(before) for before in range(number)]
    rest = [Part(after) for after in range(number + 1, len(segments))]
    start = _line_start_from(segments[number], cut)
    if start == 0:
        rest.insert(0, Part(number))
    elif start >= sizes[number]:  # no line starts after the cut: the segment goes whole
        first.append(Part(number))
    else:
        first.append(Part(number, 0, start))
        rest.insert(0, Part(number, start))
    return [first, rest] if first and rest else [first + rest]


def _line_start_from(path: Path, offset: int) -> int:
    """Where the first line at or after `offset` starts; the end if none does."""
    if offset == 0:
        return 0
    with open(path, "rb") as file:
        file.seek(offset - 1)
        at = offset - 1
        while chunk := file.read(READ_BLOCK):
            newline = chunk.find(b"\n")
            if newline >= 0:
                return at + newline + 1
            at += len(chunk)
    return at


def _checked_log(root: Path, segments: list[Path], parts: list[list[Part]], size: int,
                 progress: Progress) -> Report:
    if len(parts) == 2:
        folders = [{segments[part.segment].parent.name for part in group} for group in parts]
        shared = folders[0] & folders[1]  # writers whose seqs are checked across the two
        with _scans_in_processes(root, segments, parts, folders[0] - shared,
                                 folders[1] - shared, progress, size) as (here, there):
            report = _across(root, segments, here, there, shared)
            if report is not None:
                return report
        label = "Verifying in one process"
    else:
        label = "Verifying"
    with progress(label, size) as advance:
        scan = _scan(root, segments, _whole(segments), None, advance)
    _settle(root, segments, scan)
    _report_references(scan, _joined(scan.wrong, scan.away), scan.subjects)
    return Report(scan.events, len(segments), _in_order(scan.problems),
                  _in_order(scan.warnings))


def _joined(*by_kind: dict[str, set[str]]) -> dict[str, set[str]]:
    joined: dict[str, set[str]] = defaultdict(set)
    for subjects in by_kind:
        for wanted, referred in subjects.items():
            joined[wanted] |= referred
    return joined


def _across(root: Path, segments: list[Path], here: Scan, there: Shipped,
            shared: set[str]) -> Report | None:
    """The report of two settled scans (this process's, and the worker's); None if the
    log must be checked in one process."""
    if not _seqs_follow(here.open_seqs, there.open_seqs, shared):
        return None  # which seq is missing or used twice takes one pass
    if not here.id_hashes().isdisjoint(array("q", there.hashes)):
        return None  # an id in both (or two ids with one hash)
    kinds = there.recorded()
    if (any(subject in here.subjects for subject in there.named)
            or any(subject in kinds for subject in (*here.slugs, *here.damaged))):
        return None  # which record stands, and which is recorded again, takes one pass
    if any(_unanswered(set(referred), wanted, here.subjects)
           for wanted, referred in there.away.items()):
        return None  # the worker's references are reported by one process
    unanswered = {wanted: _unanswered(referred, wanted, kinds)
                  for wanted, referred in here.away.items()}
    _report_references(here, _joined(here.wrong, unanswered), here.subjects, kinds)
    _check_amendments(root, segments, here.problems, here.amendments, kinds)
    _check_amendments(root, segments, here.problems, there.amendments, here.subjects)
    return Report(here.events + there.events, len(segments),
                  _in_order(here.problems + there.problems),
                  _in_order(here.warnings + there.warnings))


def _seqs_follow(here: dict[str, list[int]], there: dict[str, list[int]],
                 shared: set[str]) -> bool:
    """Whether the seqs of the writers both processes read follow 1, 2, 3, ... (this
    process read the first ones), and no other seq was read outside its writer's folder."""
    if not here.keys() | there.keys() <= shared:
        return False
    for writer in shared:
        numbers = here.get(writer, []) + there.get(writer, [])
        if numbers != list(range(1, len(numbers) + 1)):
            return False
    return True


def _unanswered(referred: set[str], wanted: str, kinds: dict[str, str]) -> set[str]:
    """The subjects that no record of the wanted kind ("record": any) answers."""
    if wanted == "record":
        return referred.difference(kinds)
    if list(map(kinds.get, referred)).count(wanted) == len(referred):
        return set()
    return {subject for subject in referred if kinds.get(subject) != wanted}


def _report_references(scan: Scan, bad: dict[str, set[str]],
                       *kinds: dict[str, str]) -> None:
    """A problem for each reference of a scan to a subject in `bad` (by wanted kind):
    a subject that the `kinds` record as another kind, or unknown."""
    for wanted, subjects in bad.items():
        if not subjects:
            continue
        for event_id, subject in scan.needed[wanted]:
            if subject in subjects:
                kind = next((known[subject] for known in kinds if subject in known), None)
                scan.problems.append(((REFERENCE, scan.firsts[event_id]), (
                    f"event {event_id}: refers to unknown subject {subject}" if kind is None
                    else f"event {event_id}: {subject} is {a_or_an(kind)}, not {a_or_an(wanted)}")))


def _check_amendments(root: Path, segments: list[Path], problems: Found,
                      amendments: list[Amendment], kinds: dict[str, str]) -> list[Amendment]:
    """Check the amendments of subjects that `kinds` records; the others, returned."""
    others = []
    for amendment in amendments:
        place, event_id, subject, changes = amendment
        kind = kinds.get(subject)
        if kind is None:
            others.append(amendment)
        elif problem := model.check_changes(kind, changes):
            problems.append(((AMENDMENT, place), f"event {event_id} "
                             f"({_where_placed(segments, place, root)}): {problem}"))
    return others


def _settle(root: Path, segments: list[Path], scan: Scan) -> None:
    """Check the references and amendments of subjects the scan records, with the kinds
    of its records as they stand at its end: `wrong` gets the subjects of another kind,
    and `away` and `amendments` keep what refers to the others."""
    for wanted, references in scan.needed.items():
        referred = set(map(itemgetter(1), references))
        away = referred.difference(scan.subjects)
        if away:
            scan.away[wanted] = away
        if wanted != "record" and len(away) < len(referred):
            wrong = _unanswered(referred - away, wanted, scan.subjects)
            if wrong:
                scan.wrong[wanted] = wrong
    scan.amendments = _check_amendments(root, segments, scan.problems, scan.amendments,
                                        scan.subjects)


@contextmanager
def _scans_in_processes(root: Path, segments: list[Path], parts: list[list[Part]],
                        own: set[str], worker_own: set[str], progress: Progress,
                        size: int) -> Iterator[tuple[Scan, Shipped]]:
    """Scan the first part here and the other in a forked process, which sends its
    settled scan through a pipe when done; the bar counts the bytes of both. The worker
    is waited for on leaving: its exit (freeing its memory) overlaps the checks across."""
    checked = mmap.mmap(-1, COUNTER.size)  # anonymous: shared with the fork
    pid, read_end = forking.fork(partial(_work, checked=checked, root=root,
                                         segments=segments, parts=parts[1], own=worker_own))
    os.set_blocking(read_end, False)
    reported = 0
    chunks: list[bytes] = []
    try:
        with progress("Verifying", size) as advance:

            def with_worker(count: int) -> bool:
                """Advance the bar, and take what the worker has sent so far (if it
                ends first, it sends while this process reads): whether it sent all."""
                nonlocal reported
                done = COUNTER.unpack_from(checked)[0]
                advance(count + done - reported)
                reported = done
                while True:
                    try:
                        chunk = os.read(read_end, PIPE_BYTES)
                    except BlockingIOError:
                        return False
                    if not chunk:
                        return True
                    chunks.append(chunk)

            here = _scan(root, segments, parts[0], own, with_worker)
            _settle(root, segments, here)  # both while the worker finishes
            here.id_hashes()
            while not with_worker(0):
                select.select([read_end], [], [], 0.05)
        message = b"".join(chunks)
        there = _shipped(message)
        if there is None:
            status = forking.reap(pid)
            pid = 0
            raise _failure(message, status)
        yield here, there
    finally:
        os.close(read_end)  # a worker still writing stops (broken pipe)
        if pid:  # stopped early, or ending after sending all: either way, gone
            forking.reap(pid, kill=True)
        checked.close()


def _shipped(message: bytes) -> Shipped | None:
    """The worker's scan, if it sent all of it."""
    with suppress(ValueError, EOFError, TypeError):
        scanned, sent = marshal.loads(message)
        if scanned is True:
            return Shipped(*sent)
    return None


def _failure(message: bytes, status: int) -> Exception:
    """Why the worker sent no scan: its traceback, or how it ended."""
    with suppress(ValueError, EOFError, TypeError):
        scanned, failure = marshal.loads(message)
        if scanned is False:
            return RuntimeError(f"the process checking the log failed:\n{failure}")
    return TrackerError("the process checking the log stopped before the end "
                        f"(exit status {status})")


def _work(pipe: int, checked: mmap.mmap, root: Path, segments: list[Path],
          parts: list[Part], own: set[str]) -> None:
    """A worker: send its settled scan, or why it failed. Its references to subjects of
    another kind are reported here: if any other of its references is not answered, the
    log is checked again in one process."""
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        COUNTER.pack_into(checked, 0, done)

    try:
        scan = _scan(root, segments, parts, own, advance)
        _settle(root, segments, scan)
        _report_references(scan, scan.wrong, scan.subjects)
        message = marshal.dumps((True, tuple(Shipped.of(scan))))
    except Exception:
        message = marshal.dumps((False, traceback.format_exc()))
    with open(pipe, "wb") as out:
        out.write(message)


def _scan(root: Path, segments: list[Path], parts: list[Part], own: set[str] | None,
          advance: Advance) -> Scan:
    """Check the lines of some parts of segments, and the seqs of the writers they hold
    all the lines of (`own`; None: all); other writers' seqs are left in `open_seqs`."""
    fast = FastCheck()
    log = EventLog(root)
    scan = Scan()
    problems, warnings, amendments = scan.problems, scan.warnings, scan.amendments
    firsts, subjects, damaged, needed = scan.firsts, scan.subjects, scan.damaged, scan.needed
    slugs = scan.slugs
    events = 0
    seqs = Seqs()
    lines = _Lines(segments)
    copies: dict[str, list[int]] = {}  # an id seen more than once -> its places (rare)
    # An id whose first line fails only by its place -> that problem, dropped if a copy
    # in its place comes (rare); the place of the record of each slug that stands so far.
    misplaced: dict[str, tuple[tuple, str]] = {}
    standing: dict[str, int] = {}
    for segment, start, end in parts:
        path = segments[segment]
        folder, stem = path.parent.name, path.stem
        name = str(path.relative_to(root))  # in messages: name:line
        # An event that passes has its folder's writer: its seq goes to that writer.
        writer_seqs, writer_ids = seqs.numbers[folder], seqs.ids[folder]
        number = lines_before(path, start) if start else 0
        at = _place(segment, 0)
        for block in line_blocks(path, start, end):
            if isinstance(block, Tail):
                if (lost := block.acknowledged(log.marks())) is not None:
                    problems.append(((LINE, _place(segment, TAIL_LINE)),
                                     block.lost(root, lost)))
                else:
                    warnings.append(((LINE, _place(segment, TAIL_LINE)), block.warning(root)))
                continue
            events += len(block)
            advance(sum(map(len, block)) + len(block))
            for body, checked in zip(block, fast.check_block(block, folder, stem),
                                     strict=True):
                number += 1
                place = at + number
                if checked is None:  # not surely valid: the full checks, which say why
                    try:
                        event = envelope.parse_line(body)
                    except envelope.BadLine as error:
                        problems.append(((LINE, place),
                                         f"event {envelope.id_in(body)} ({name}:{number}): "
                                         f"{error}"))
                        _keep_what_can_be_read(body, folder, seqs, scan)
                        continue
                    event_id = event["id"]
                else:
                    event_id = checked[0]
                first = firsts.setdefault(event_id, place)
                if first != place:  # reported once every copy is known
                    if event_id not in misplaced or (
                            checked is None and _misplaced(event, path)):
                        copies.setdefault(event_id, [first]).append(place)
                        continue
                    # The first copy was in another folder (or month): this one, in its
                    # place, is the event, whichever folder name sorts first.
                    problems.remove(misplaced.pop(event_id))
                    firsts[event_id] = place
                    copies[event_id] = [place, *copies.get(event_id, [first])]
                if checked is None:
                    problem = _check_event(event, path)
                    if problem:
                        found = ((LINE, place), f"event {event_id} ({name}:{number}): {problem}")
                        problems.append(found)
                        if _only_misplaced(event, path):
                            misplaced[event_id] = found
                        continue
                    checked = _checked(upcast(event))
                    if event["recorded_at"] > fast.latest:
                        warnings.append(((LINE, place), _ahead(event, f"{name}:{number}")))
                _, seq, kind, subject, references, changes = checked
                if changes is not None:  # checked once the kinds of all records are known
                    amendments.append((place, event_id, subject, changes))
                writer_seqs.append(seq)
                writer_ids.append(event_id)
                if kind:
                    if subject not in subjects or subject in damaged:  # a readable record
                        # stands over a damaged line's
                        if subject == event_id:
                            subjects[event_id] = kind  # the id's string, not a copy
                        else:
                            subjects[subject] = kind
                            slugs.add(subject)
                            standing[subject] = place
                        if damaged:
                            damaged.discard(subject)
                    else:
                        _warn_recorded_again(warnings, lines, root, standing, subject,
                                             place, body)
                for wanted, referred in references:
                    # Settled here if a readable record (which stays) answers it; else
                    # by `_settle` or across the scans.
                    recorded = subjects.get(referred)
                    if (recorded is not None and (wanted == "record" or wanted == recorded)
                            and not (damaged and referred in damaged)):
                        continue
                    needed[wanted].append((event_id, referred))
    # Each id once, as replay keeps it (and the events table holds it): not its copies.
    scan.events = events - sum(len(places) - 1 for places in copies.values())
    for event_id, found in misplaced.items():  # a line alone, out of its place: reported
        # once, as a damaged line is, not again as its writer's seq missing or its subject
        # unknown (the seqs of its copies, if any, are counted as any copy's)
        if event_id not in copies:
            body = lines.at(found[0][1])
            _keep_what_can_be_read(body, orjson.loads(body)["writer"], seqs, scan)
    for event_id, places in copies.items():
        _report_copies(scan, lines, log.root, event_id, places, seqs)
    _check_seqs(problems, seqs, own)
    if own is not None:
        scan.open_seqs = {writer: numbers for writer, numbers in seqs.numbers.items()
                          if writer not in own}
    return scan


def _checked(event: dict) -> Checked:
    """What the fast check gives of an event, of one that passed the full checks."""
    kind, _, action = event["type"].partition(".")
    return (event["id"], event["seq"], kind if action == "recorded" else "",
            event["subject"], _references(event),
            event["data"]["changes"] if event["type"] == model.AMENDED else None)


def _ahead(event: dict, where: str) -> str:
    return (f"event {event['id']} ({where}) is recorded at {event['recorded_at']}, later "
            f"than now: the clock of writer {event['writer']} was ahead, and the events "
            "that must follow this one are recorded after it")


def _recorded_again(event_id: str, subject: str, where: str) -> str:
    return (f"event {event_id} ({where}): {subject} was already recorded; the earlier record "
            "stands")


def _warn_recorded_again(warnings: Found, lines: _Lines, root: Path, standing: dict[str, int],
                         subject: str, place: int, body: bytes) -> None:
    """Warn of a second record of a subject: of the later of it and the record that
    stands so far (`standing`, a slug's) in replay order, as replay ignores that one."""
    earlier = standing.get(subject)
    if earlier is not None:
        before = lines.at(earlier)
        if SORT_KEY(orjson.loads(body)) < SORT_KEY(orjson.loads(before)):
            standing[subject] = place
            place, body = earlier, before
    warnings.append(((LINE, place), _recorded_again(
        envelope.id_in(body), subject, lines.where(place, root))))


def _check_seqs(problems: Found, seqs: Seqs, own: set[str] | None) -> None:
    for writer, numbers in sorted(seqs.numbers.items()):
        if ((own is not None and writer not in own)
                or numbers == list(range(1, len(numbers) + 1))):
            continue  # 1, 2, 3, ...: nothing to report
        expected, previous_id = 1, ""
        for seq, event_id in sorted(zip(numbers, seqs.ids[writer], strict=True)):
            if seq > expected:
                missing = seq - expected
                problems.append(((SEQ, writer), (
                    f"writer {writer}: seq jumps from {expected - 1} to {seq} at event "
                    f"{event_id}: {missing} event{'s' if missing > 1 else ''} of this writer "
                    "missing")))
            elif seq < expected:
                problems.append(((SEQ, writer), (
                    f"writer {writer}: seq {seq} used by both event {previous_id} and event "
                    f"{event_id}")))
            expected, previous_id = seq + 1, event_id


def _in_order(found: Found) -> list[str]:
    """The messages in report order (a stable sort: one line's stay in their order)."""
    return [message for _, message in sorted(found, key=itemgetter(0))]


def _report_copies(scan: Scan, lines: _Lines, root: Path, event_id: str,
                   places: list[int], seqs: Seqs) -> None:
    """The lines of an id seen more than once (`places`, the first one checked as an
    event): the same line again, a retry in another clone, or a forgery. Each is named
    beside the copy that replay keeps, the first in replay order (by `recorded_at`,
    writer, seq, id, hash; the first line of those): a scan holds every copy of its ids
    (an id in both halves of the log is checked in one process)."""
    bodies = [lines.at(place) for place in places]
    copies = [envelope.parse_line(body) for body in bodies]
    counted = {bodies[0]}  # the first copy's seq is its writer's, as any event's
    for body, event in zip(bodies[1:], copies[1:], strict=True):
        if body not in counted:  # another line's seq is used too (a line again is not)
            counted.add(body)
            seqs.add(event["writer"], event["seq"], event_id)
    kept = min(range(len(places)), key=lambda index: (SORT_KEY(copies[index]), index))
    there, digest = lines.where(places[kept], root), envelope.payload_digest(copies[kept])
    for index, place in enumerate(places):
        if index == kept:
            continue
        where, event = lines.where(place, root), copies[index]
        if bodies[index] == bodies[kept]:
            scan.warnings.append(((LINE, place), f"event {event_id} ({where}) appears more "
                                                 f"than once (first at {there})"))
        elif envelope.payload_digest(event) == digest:
            scan.warnings.append(((LINE, place), (
                f"event {event_id} ({where}) was recorded again by writer {event['writer']} "
                "with the same content (a retry in another clone); the one first in replay "
                f"order ({there}) stands")))
        else:
            scan.problems.append(((LINE, place), (
                f"event {event_id} ({where}): duplicate id with other content (first at "
                f"{there})")))


class _Lines:
    """Lines of the segments by place, for reports that compare a line with an earlier one
    (rare): the offsets of a segment's lines are read once, when first asked for."""

    def __init__(self, segments: list[Path]):
        self.segments = segments
        self.offsets: dict[int, list[int]] = {}

    def at(self, place: int) -> bytes:
        segment, number = _segment_and_line(place)
        offsets = self.offsets.get(segment)
        with open(self.segments[segment], "rb") as file:
            if offsets is None:
                offsets = self.offsets[segment] = [0]
                for raw in file:
                    offsets.append(offsets[-1] + len(raw))
            file.seek(offsets[number - 1])
            return file.readline().rstrip(b"\n")

    def where(self, place: int, root: Path) -> str:
        return _where_placed(self.segments, place, root)


def _check_event(event: dict, path: Path) -> str | None:
    return _check_type(event) or _misplaced(event, path) or _check_content(event)


def _check_type(event: dict) -> str | None:
    """Whether its type is known, and its schema version one it can be upcast from."""
    if event["type"] not in model.EVENT_TYPES:
        return f"unknown type {event['type']!r}"
    if not can_upcast(event["type"], event["schema"]):
        return f"unknown schema version {event['schema']} of {event['type']}"
    return None


def _misplaced(event: dict, path: Path) -> str | None:
    """Whether a line is out of its place: another writer's folder, another month's
    segment."""
    if path.parent.name != event["writer"]:
        return f"writer {event['writer']!r} in the folder of {path.parent.name!r}"
    if path.stem != event["recorded_at"][:7]:
        return f"recorded {event['recorded_at']} in segment {path.name}"
    return None


def _only_misplaced(event: dict, path: Path) -> bool:
    """Whether an event fails only by its place (a copy in its place would pass)."""
    return (_check_type(event) is None and _misplaced(event, path) is not None
            and _check_content(event) is None)


def _check_content(event: dict) -> str | None:
    """Its subject, and its data, valid for its type."""
    kind, _, action = event["type"].partition(".")
    if action == "recorded":
        expected = event["id"] if kind != "format" else event["subject"]
        if event["subject"] != expected or (
            kind == "format" and not model.is_valid(model.parse_slug, event["subject"])
        ):
            return f"bad subject {event['subject']!r} for {a_or_an(kind)}"
    return model.check_data(event["type"], upcast(event)["data"])


def _lines_of(log: EventLog, prefix: Path, ids: set[str]) -> dict[str, list[tuple[str, bytes]]]:
    """The lines of the log now that hold these ids: (segment as git names it:line, body)."""
    found: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    if not ids:
        return found
    for item in log.lines():
        if isinstance(item, Line) and (event_id := envelope.id_in(item.body)) in ids:
            name = (prefix / item.path.relative_to(log.root)).as_posix()
            found[event_id].append((f"{name}:{item.number}", item.body))
    return found


def _gone(name: str, body: bytes, now: list[tuple[str, bytes]], revision: str) -> str:
    """What became of a committed line that is not in the log now, given the lines that
    hold its id now: deleted, or edited (its id is in its segment, or only with other
    content); a line deleted while the same event, recorded again by another writer (a
    retry in another clone), stands elsewhere says where."""
    if not now:
        return f"deleted since {revision}"
    if not any(place.rpartition(":")[0] == name for place, _ in now):
        digest = _digest_of(body)
        for place, other in now:
            if digest is not None and _digest_of(other) == digest:
                return (f"deleted since {revision}; another copy of the same event is at "
                        f"{place}")
    return f"edited since {revision}"


def _digest_of(body: bytes) -> str | None:
    """`envelope.payload_digest` of a line, if it is an event."""
    try:
        return envelope.payload_digest(envelope.parse_line(body))
    except envelope.BadLine:
        return None


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
    prefix = Path(log.root.resolve().relative_to(top.resolve()).as_posix())  # "." at the top
    listed = _git(top, "ls-tree", "-r", "-z", "--name-only", revision, "--", str(prefix))
    committed = [name for name in listed.decode().split("\0")  # <writer>/<YYYY-MM>.jsonl
                 if name.endswith(".jsonl") and name.count("/") == len(prefix.parts) + 1]
    lines_now = {hashlib.sha256(item.body).hexdigest() for item in log.lines()
                 if isinstance(item, Line)}
    missing = []  # (segment, line number, body) of each committed line not present now
    for name in committed:
        content = _git(top, "cat-file", "blob", f"{revision}:{name}")
        for number, body in enumerate(content.split(b"\n")[:-1], start=1):
            if hashlib.sha256(body).hexdigest() not in lines_now:
                missing.append((name, number, body))
    copies = _lines_of(log, prefix, {envelope.id_in(body) for _, _, body in missing})
    for name, number, body in missing:
        event_id = envelope.id_in(body)
        report.problems.append(f"event {event_id} ({name}:{number} at {revision}) was "
                               f"{_gone(name, body, copies.get(event_id, []), revision)}")
    return report
