"""Check the whole log: hashes, ids, sequences, schema and references."""

from __future__ import annotations

import hashlib
import marshal
import mmap
import os
import subprocess
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from . import envelope, model
from .collector import collection_paused
from .errors import TrackerError, shown
from .fastcheck import Checked, FastCheck
from .log import EventLog, Line, Tail, line_blocks
from .progress import Advance, Progress, no_progress
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
    body: bytes, folder: str, seqs: Seqs, subjects: dict[str, Recorded | str], segment: int,
    number: int,
) -> None:
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
    if action == "recorded" and isinstance(subject, str):
        subjects.setdefault(subject, (kind, envelope.id_in(body), segment, number, False))


# Where a subject was first recorded: (kind, event id, segment, line, whether the line can
# be read; a damaged one still counts, so that it is reported once, not as references).
# A record whose subject is its own event id keeps only its kind (one shared string, not a
# tuple per record): where it stands is its event's place in `Scan.firsts`.
Recorded = tuple[str, str, int, int, bool]


def _place(segment: int, number: int) -> int:
    """A line's place (segment, line number) as one int: a million of them stay small."""
    return segment << 32 | number


def _segment_and_line(place: int) -> tuple[int, int]:
    return place >> 32, place & 0xFFFFFFFF


def _kind(recorded: Recorded | str) -> str:
    return recorded if type(recorded) is str else recorded[0]


class Seqs:
    """Each writer's seqs and the ids of the events that used them, as two lists (a pair
    per event would be a million more objects)."""

    def __init__(self) -> None:
        self.numbers: dict[str, list[int]] = defaultdict(list)
        self.ids: dict[str, list[str]] = defaultdict(list)

    def add(self, writer: str, seq: int, event_id: str) -> None:
        self.numbers[writer].append(seq)
        self.ids[writer].append(event_id)


PARALLEL_BYTES = 4 << 20  # below this, one process checks the whole log
TAIL_LINE = 0xFFFFFFFF  # the line number of a segment's torn tail, after its lines

# The order of a report: what the lines say, in the order of segments and lines; then
# the writers' seq problems, by writer; then references and amendments, in the order of
# the events that make them. It does not depend on how the writers were split.
LINE, SEQ, REFERENCE, AMENDMENT = range(4)
Found = list[tuple[tuple, str]]  # (where in that order, message)


class ShippedPlaces(Mapping[str, int]):
    """A scan's `firsts` as sent from another process: its ids in one string, their
    places and their hashes in arrays (marshal sends them as they are, where a dict costs
    a Python object per entry at each end). The ids are split, and the dict made, only if
    a report or a shared hash needs them."""

    def __init__(self, ids: str, places: bytes, hashes: bytes):
        self.text = ids
        self.places = array("Q", places)
        self.hashes = array("q", hashes)
        self._ids: list[str] | None = None
        self._by_id: dict[str, int] | None = None

    @staticmethod
    def pack(firsts: dict[str, int]) -> tuple[str, bytes, bytes]:
        return ("\n".join(firsts),  # ids hold no "\n"
                array("Q", firsts.values()).tobytes(), array("q", map(hash, firsts)).tobytes())

    @property
    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = self.text.split("\n") if self.text else []
        return self._ids

    def __getitem__(self, event_id: str) -> int:
        if self._by_id is None:
            self._by_id = dict(zip(self.ids, self.places, strict=True))
        return self._by_id[event_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.places)


def _id_hashes(firsts: dict[str, int] | ShippedPlaces) -> Iterable[int]:
    return firsts.hashes if isinstance(firsts, ShippedPlaces) else map(hash, firsts)


def _an_id_in_two(scans: list[Scan]) -> bool:
    """Whether two scans found the same event id. Their ids' hashes are compared first
    (a string keeps its hash, and the workers, forked, hash as this process does); the
    ids themselves only if two hashes are the same."""
    seen = scans[0].id_hashes()
    for number, scan in enumerate(scans[1:], start=2):
        if not seen.isdisjoint(_id_hashes(scan.firsts)):
            return any(not set(one.firsts).isdisjoint(other.firsts)
                       for one, other in combinations(scans, 2))
        if number < len(scans):
            seen = seen | set(_id_hashes(scan.firsts))
    return False


@dataclass
class Scan:
    """What one pass over some writers' segments found: problems and warnings within
    them, in report order, and what the checks across the whole log need."""

    events: int = 0
    problems: Found = field(default_factory=list)
    warnings: Found = field(default_factory=list)
    # event id -> place first seen
    firsts: dict[str, int] | ShippedPlaces = field(default_factory=dict)
    subjects: dict[str, Recorded | str] = field(default_factory=dict)  # where recorded
    needed: list[tuple[str, str, str]] = field(default_factory=list)  # id, wanted, subject
    # (place, event id, subject, changes): checked once the kinds of all records are known
    amendments: list[tuple[int, str, str, dict]] = field(default_factory=list)

    hashes: set[int] | None = field(default=None, repr=False)  # of the ids, when asked

    def id_hashes(self) -> set[int]:
        if self.hashes is None:
            self.hashes = set(_id_hashes(self.firsts))
        return self.hashes

    def pack(self) -> bytes:
        """The scan as marshal bytes: sent between processes about twice as fast as a
        pickle of the same dicts."""
        assert isinstance(self.firsts, dict)
        return marshal.dumps((self.events, self.problems, self.warnings,
                              ShippedPlaces.pack(self.firsts), self.subjects, self.needed,
                              self.amendments))

    @classmethod
    def unpack(cls, packed: bytes | memoryview) -> Scan:
        events, problems, warnings, firsts, subjects, needed, amendments = marshal.loads(packed)
        return cls(events, problems, warnings, ShippedPlaces(*firsts), subjects, needed,
                   amendments)


def verify(log: EventLog, workers: int | None = None,
           progress: Progress = no_progress) -> Report:
    """Read every segment and report every problem, naming the event (or file and line).

    A log of several writers (from 4 MB) is checked by two processes, one per group of
    writers (a writer's seq can only be checked with all its segments in one process).
    Each reads its segments in order, and what comes first in that order is "first"; each
    finding keeps its place in the report order (see LINE ... AMENDMENT), so the report
    is the same, in the same order. An event id found in two groups (a line copied into another
    writer's folder, a retry in another clone) sends the log to one process, where a
    repeated line is reported once as such.
    `progress(label, total bytes)` gives the `advance` function the reading reports to.
    """
    segments = log.segments()
    sizes = [path.stat().st_size for path in segments]
    writers: dict[str, list[int]] = defaultdict(list)
    for number, path in enumerate(segments):
        writers[path.parent.name].append(number)
    if workers is None:
        workers = 2 if (sum(sizes) >= PARALLEL_BYTES and len(writers) > 1
                        and (os.cpu_count() or 1) > 1) else 1
    bins: list[list[int]] = [[] for _ in range(min(workers, len(writers)) or 1)]
    weights = [0] * len(bins)
    for group in sorted(writers.values(), key=lambda group: -sum(sizes[n] for n in group)):
        lightest = weights.index(min(weights))
        bins[lightest] += group
        weights[lightest] += sum(sizes[number] for number in group)
    bins = [sorted(numbers) for numbers in bins]
    with collection_paused():  # forked workers inherit the pause
        with progress("Verifying", sum(sizes)) as advance:
            if len(bins) == 1:
                scans = [_scan(log.root, segments, bins[0], advance)]
            else:
                scans = _scan_in_processes(log.root, segments, bins, advance)
        if len(scans) > 1 and _an_id_in_two(scans):
            with progress("Verifying in one process", sum(sizes)) as advance:
                scans = [_scan(log.root, segments, list(range(len(segments))), advance)]
        report = _combine(log, segments, scans)
        del scans  # freed while paused: else the collector's next pass walks them all once
    return report


_DONE: Any = None  # bytes checked so far, shared with the worker processes
_SHARED: list[mmap.mmap] = []  # where each worker leaves its scan, shared with it


def _scan_in_processes(root: Path, segments: list[Path], bins: list[list[int]],
                       advance: Advance) -> list[Scan]:
    """Scan the first group of writers here and the others in forked processes; the bar
    counts the bytes of all of them. Each worker leaves its scan in shared memory (no
    copies through a pipe), sized by its segments: the scan of a line is smaller than
    the line (else it comes through the pipe)."""
    import multiprocessing

    global _DONE
    context = multiprocessing.get_context("fork")
    _DONE = context.Value("q", 0)  # inherited by the workers, which fork from here
    # Anonymous shared memory: pages are only taken as they are written.
    _SHARED[:] = [mmap.mmap(-1, _shared_size(sum(segments[n].stat().st_size for n in numbers)))
                  for numbers in bins[1:]]
    reported = 0

    def with_workers(count: int) -> None:
        nonlocal reported
        done = _DONE.value
        advance(count + done - reported)
        reported = done

    try:
        with context.Pool(len(bins) - 1) as pool:
            pending = pool.starmap_async(
                _scan_packed, [(root, segments, numbers, index)
                               for index, numbers in enumerate(bins[1:])])
            here = _scan(root, segments, bins[0], with_workers)
            _drop_settled(here)  # both while the workers finish
            here.id_hashes()
            while not pending.ready():
                pending.wait(0.05)
                with_workers(0)
            return [here, *(_unpack_shipped(shipped, area)
                            for shipped, area in zip(pending.get(), _SHARED, strict=True))]
    finally:
        _DONE = None
        for area in _SHARED:
            area.close()
        _SHARED.clear()


def _shared_size(segment_bytes: int) -> int:
    """The room a worker has for its scan, with its segments' size in bytes: at most
    256 MB (the scan of about 3 million events), a size that any machine can map."""
    return min(segment_bytes + (1 << 20), 256 << 20)


def _unpack_shipped(shipped: int | bytes, area: mmap.mmap) -> Scan:
    """A worker's scan: its size in the shared area, or the scan itself."""
    if isinstance(shipped, bytes):
        return Scan.unpack(shipped)
    with memoryview(area) as view, view[:shipped] as packed:
        return Scan.unpack(packed)


def _drop_settled(scan: Scan) -> None:
    """Drop the references and amendments that the records of a scan settle, leaving
    the others, in order, to `_combine`. A subject recorded in another scan too is a
    format's slug (a record's subject is its event id, which sends the log to one
    process), of the same kind there: so the report is the same."""
    subjects = scan.subjects
    scan.needed = [(event_id, wanted, subject) for event_id, wanted, subject in scan.needed
                   if not _answers(subjects.get(subject), wanted)]
    scan.amendments = [
        amendment for amendment in scan.amendments
        if (recorded := subjects.get(amendment[2])) is None
        or model.check_changes(_kind(recorded), amendment[3])]


def _answers(recorded: Recorded | str | None, wanted: str) -> bool:
    """Whether a record is what a reference wants (in `_scan`, written out)."""
    return recorded is not None and (wanted == "record" or wanted == _kind(recorded))


def _add_to_shared_count(count: int) -> None:
    with _DONE.get_lock():
        _DONE.value += count


def _scan_packed(root: Path, segments: list[Path], numbers: list[int],
                 index: int) -> int | bytes:
    """A worker's scan, less what it settles itself, in its shared area (its size is
    returned) or, if larger, returned. Its progress goes to the count shared with the
    main process."""
    scan = _scan(root, segments, numbers, _add_to_shared_count)
    _drop_settled(scan)
    packed = scan.pack()
    area = _SHARED[index]
    if len(packed) > len(area):
        return packed
    area[: len(packed)] = packed
    return len(packed)


def _scan(root: Path, segments: list[Path], numbers: list[int], advance: Advance) -> Scan:
    """Check the lines of some segments (all the segments of their writers)."""
    fast = FastCheck()
    log = EventLog(root)
    scan = Scan()
    problems, warnings, amendments = scan.problems, scan.warnings, scan.amendments
    firsts, subjects, needed = scan.firsts, scan.subjects, scan.needed
    events = 0
    seqs = Seqs()
    lines = _Lines(segments)
    for segment in numbers:
        path = segments[segment]
        folder, stem = path.parent.name, path.stem
        name = str(path.relative_to(root))  # in messages: name:line
        # An event that passes has its folder's writer: its seq goes to that writer.
        writer_seqs, writer_ids = seqs.numbers[folder], seqs.ids[folder]
        number = 0
        at = _place(segment, 0)
        for block in line_blocks(path):
            if isinstance(block, Tail):
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
                        _keep_what_can_be_read(body, folder, seqs, subjects, segment, number)
                        continue
                    event_id = event["id"]
                else:
                    event_id = checked[0]
                first = firsts.setdefault(event_id, place)
                if first != place:
                    _report_duplicate(scan, lines, log.root, first, place, seqs, body)
                    continue
                if checked is None:
                    problem = _check_event(event, path)
                    if problem:
                        problems.append(((LINE, place),
                                         f"event {event_id} ({name}:{number}): {problem}"))
                        continue
                    checked = _checked(upcast(event))
                _, seq, kind, subject, references, changes = checked
                if changes is not None:  # checked once the kinds of all records are known
                    amendments.append((place, event_id, subject, changes))
                writer_seqs.append(seq)
                writer_ids.append(event_id)
                if kind:
                    earlier = subjects.get(subject)
                    if earlier is not None and (type(earlier) is str or earlier[4]):
                        warnings.append(((LINE, place), _recorded_again(
                            event_id, subject, f"{name}:{number}")))
                    elif subject == event_id:
                        subjects[event_id] = kind  # the id's string, not a copy
                    else:
                        subjects[subject] = (kind, event_id, segment, number, True)
                for wanted, referred in references:
                    # Settled here if the subject is a readable record (which stays)
                    # that `_answers` it; else by `_drop_settled` or `_combine`.
                    recorded = subjects.get(referred)
                    if recorded is not None:
                        if type(recorded) is str:
                            if wanted == "record" or wanted == recorded:
                                continue
                        elif recorded[4] and (wanted == "record" or wanted == recorded[0]):
                            continue
                    needed.append((event_id, wanted, referred))
    scan.events = events
    _check_seqs(problems, seqs)
    return scan


def _checked(event: dict) -> Checked:
    """What the fast check gives of an event, of one that passed the full checks."""
    kind, _, action = event["type"].partition(".")
    return (event["id"], event["seq"], kind if action == "recorded" else "",
            event["subject"], _references(event),
            event["data"]["changes"] if event["type"] == model.AMENDED else None)


def _recorded_again(event_id: str, subject: str, where: str) -> str:
    return (f"event {event_id} ({where}): {subject} was already recorded; the earlier record "
            "stands")


def _check_seqs(problems: Found, seqs: Seqs) -> None:
    for writer, numbers in sorted(seqs.numbers.items()):
        if numbers == list(range(1, len(numbers) + 1)):
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


def _combine(log: EventLog, segments: list[Path], scans: list[Scan]) -> Report:
    """One report from the scans, with the checks that need the whole log."""
    problems: Found = [found for scan in scans for found in scan.problems]
    warnings: Found = [found for scan in scans for found in scan.warnings]
    subjects: dict[str, Recorded | str] = scans[0].subjects

    def where_recorded(subject: str, recorded: Recorded | str) -> Recorded:
        if type(recorded) is not str:
            return recorded
        place = next(scan.firsts[subject] for scan in scans if subject in scan.firsts)
        return (recorded, subject, *_segment_and_line(place), True)

    for scan in scans[1:]:
        # A format's slug, or a damaged line's subject, recorded in both.
        for subject in sorted(scan.subjects.keys() & subjects.keys()):
            first, later = sorted((where_recorded(subject, subjects[subject]),
                                   where_recorded(subject, scan.subjects.pop(subject))),
                                  key=lambda recorded: recorded[2:4])
            subjects[subject] = first if first[4] or not later[4] else later
            if first[4] and later[4]:  # a damaged line is reported as such
                warnings.append(((LINE, _place(later[2], later[3])), _recorded_again(
                    later[1], subject, _where(segments[later[2]], later[3], log.root))))
        subjects.update(scan.subjects)
    for scan in scans:
        for event_id, wanted, subject in scan.needed:
            recorded = subjects.get(subject)
            if recorded is None:
                problems.append(((REFERENCE, scan.firsts[event_id]),
                                 f"event {event_id}: refers to unknown subject {subject}"))
            elif not _answers(recorded, wanted):
                problems.append(((REFERENCE, scan.firsts[event_id]),
                                 f"event {event_id}: {subject} is a {_kind(recorded)}, "
                                 f"not a {wanted}"))
        for place, event_id, subject, changes in scan.amendments:
            recorded = subjects.get(subject)
            problem = model.check_changes(_kind(recorded), changes) if recorded else None
            if problem:
                segment, number = _segment_and_line(place)
                where = _where(segments[segment], number, log.root)
                problems.append(((AMENDMENT, place), f"event {event_id} ({where}): {problem}"))
    return Report(sum(scan.events for scan in scans), len(segments), _in_order(problems),
                  _in_order(warnings))


def _in_order(found: Found) -> list[str]:
    """The messages in report order (a stable sort: one line's stay in their order)."""
    return [message for _, message in sorted(found, key=itemgetter(0))]


def _report_duplicate(scan: Scan, lines: _Lines, root: Path, first: int, here: int,
                      seqs: Seqs, body: bytes) -> None:
    """An id seen before: the same event again, a retry in another clone, or a forgery."""
    earlier_body = lines.at(first)
    there, where = lines.where(first, root), lines.where(here, root)
    event = envelope.parse_line(body)
    event_id = event["id"]
    if earlier_body == body:
        scan.warnings.append(((LINE, here), f"event {event_id} ({where}) appears more than "
                                            f"once (first at {there})"))
        return
    seqs.add(event["writer"], event["seq"], event_id)  # its seq is used either way
    earlier = envelope.parse_line(earlier_body)
    if _payload_digest(earlier) == _payload_digest(event):
        scan.warnings.append(((LINE, here), (
            f"event {event_id} ({where}) was recorded again by writer {event['writer']} with "
            f"the same content (a retry in another clone); the first one ({there}) stands")))
    else:
        scan.problems.append(((LINE, here), (
            f"event {event_id} ({where}): duplicate id with other content (first at {there})")))


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
        segment, number = _segment_and_line(place)
        return _where(self.segments[segment], number, root)


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
