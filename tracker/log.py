"""The append-only log: per-writer segment files of JSON lines under `events/`.

Appends take an exclusive flock on `events/.lock`, write the whole line with one
`os.write` on an O_APPEND descriptor, fsync the file and the directories that lead to
it, and only then return. Readers skip what an interrupted write left at the end of a
segment (a Tail); the next append by that writer moves it to `events/.quarantine/`.

Every change to the log's files goes through the `os` calls below (open, write, fsync,
ftruncate, mkdir, link, unlink), never through buffered file objects, so that the
power-loss test can model exactly what reaches the disk.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from . import envelope
from .errors import TrackerError, shown

LOCAL_FILES = (".lock", ".writer", ".quarantine/", ".cache/")
GIT_ATTRIBUTES = (b"# The event log is append-only JSON Lines: a union merge keeps both sides'\n"
                  b"# lines; -text keeps every byte as written (no line ends converted, as\n"
                  b"# core.autocrlf does: each line's hash covers its bytes).\n"
                  b"*.jsonl merge=union -text\n")
# This clone's writers, each with the last event it appended here (seq and id): a working
# tree that lacks it (a branch, a stash, an older commit) is not appended to by that writer.
MARKS = Path(".cache") / "writers.json"
TAIL_CHUNK = 1 << 16
WRITE_CHUNK = 1 << 22  # bytes of whole lines per os.write in Appender.write_many


class Line(NamedTuple):
    """One complete line of a segment file, with where it was found."""

    path: Path
    number: int
    body: bytes  # without its newline


@dataclass(frozen=True)
class SegmentState:
    """How far a segment file was read: the end of its last complete line, and a hash of
    that line (to notice a file rewritten rather than appended to)."""

    size: int
    tail: str


@dataclass(frozen=True)
class Tail:
    """What an interrupted write left at the end of a segment, never acknowledged.

    Either the bytes after the last newline, or a last line holding NUL bytes (a file
    grown by a crash before its data reached the disk; a complete append never writes
    a NUL, since canonical JSON escapes it).
    """

    path: Path
    offset: int
    data: bytes
    moved_to: Path | None = None  # where the next append put it

    def describe(self) -> str:
        """What the tail is, for messages: NUL bytes, an event without newline, a torn line."""
        size = len(self.data)
        if not self.data.strip(b"\0"):
            return f"{size} NUL bytes"
        if b"\0" in self.data:
            return f"a line with NUL bytes ({size} bytes)"
        try:
            event = envelope.parse_line(self.data)
        except envelope.BadLine:
            return f"an incomplete line ({size} bytes, no newline)"
        return f"a complete event {event['id']} without its newline ({size} bytes)"

    def warning(self, root: Path) -> str:
        """What `tracker verify` says about a tail that is still in place."""
        return (f"{self.path.relative_to(root)} ends with {self.describe()} at byte "
                f"{self.offset}, left by an interrupted write and never acknowledged: the "
                f"next append by writer {self.path.parent.name} moves it to .quarantine/")

    def acknowledged(self, marks: dict[str, dict[str, Any]]) -> str | None:
        """The id of the event its writer last appended in this clone (`MARKS`), if the
        tail holds it: then it is that event's line, cut after it was acknowledged."""
        mark = marks.get(self.path.parent.name)
        if mark is None or f'"id":"{mark["id"]}"'.encode() not in self.data:
            return None
        return mark["id"]

    def lost(self, root: Path, event_id: str) -> str:
        """What `tracker verify` says about a tail that is an acknowledged event, cut."""
        return (f"{self.path.relative_to(root)} ends with {self.describe()} at byte "
                f"{self.offset}: the start of event {event_id}, which writer "
                f"{self.path.parent.name} appended in this clone, cut after it was written "
                "(a file truncated or copied in part?): restore the segment from git or a "
                "backup, or record the event again")

    def notice(self, root: Path) -> str:
        """What the append that moved a tail to the quarantine says."""
        moved = self.moved_to.relative_to(root) if self.moved_to else "?"
        return (f"moved {self.describe()} from the end of {self.path.relative_to(root)} to "
                f"{moved} (left by an interrupted write, never acknowledged)")


def lines_before(path: Path, offset: int) -> int:
    """The number of lines before byte `offset` of a segment."""
    count = 0
    with open(path, "rb") as file:
        while offset > 0 and (chunk := file.read(min(READ_BLOCK, offset))):
            count += chunk.count(b"\n")
            offset -= len(chunk)
    return count


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # os.write writes less only on a full disk or a signal
        view = view[os.write(fd, view):]


def _create_file(path: Path, data: bytes) -> None:
    """Create a new file (never an existing one) holding `data`, fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class EventLog:
    """The log folder: segment files `<writer>/<YYYY-MM>.jsonl` and local state."""

    def __init__(self, root: Path | str, writer: str | None = None):
        self.root = Path(root)
        self._writer = writer
        self._durable: set[Path] = set()  # paths whose directory entry this process fsynced
        self.quarantined: list[Tail] = []  # tails moved away by this object's appends
        # (writer, writer appended as instead) when this working tree lacked the first's
        # latest event (see `_writer_here`)
        self.switched: tuple[str, str] | None = None

    # -- layout -----------------------------------------------------------------

    def segments(self) -> list[Path]:
        """Every segment file, in a stable order."""
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("*/*.jsonl"))

    def writer(self) -> str:
        """This clone's writer id: `TRACKER_WRITER`, else `events/.writer` (created once)."""
        if self._writer is None:
            self._writer = os.environ.get("TRACKER_WRITER") or self._stored_writer()
        if not envelope.WRITER_PATTERN.fullmatch(self._writer):
            raise TrackerError(f"invalid writer id {shown(self._writer)}: use a-z, 0-9 and '-'")
        return self._writer

    def _stored_writer(self) -> str:
        """Read `events/.writer`, or create it whole: written aside, then linked into place
        (or put in place of an empty one, as an older version could leave after a crash)."""
        path = self.root / ".writer"
        try:
            stored: str | None = path.read_text().strip()
        except FileNotFoundError:
            stored = None
        if stored:
            return stored
        self._prepare()
        candidate = secrets.token_hex(4)
        staging = self._make_dirs(self.root / ".cache") / f"writer.{os.getpid()}.{candidate}"
        _create_file(staging, f"{candidate}\n".encode())
        try:
            if stored is None:
                os.link(staging, path)
            else:
                os.replace(staging, path)
        except FileExistsError:
            return path.read_text().strip()  # another process was first
        finally:
            with suppress(FileNotFoundError):
                os.unlink(staging)
        self._make_durable(path)
        return candidate

    def _prepare(self) -> None:
        """Create the folder, with a .gitignore that keeps local state out of git and a
        .gitattributes that merges segments line by line (a safety net: see `MARKS`)."""
        self._make_dirs(self.root)
        for name, content in ((".gitignore", "".join(f"{name}\n" for name in LOCAL_FILES)
                               .encode()), (".gitattributes", GIT_ATTRIBUTES)):
            if not (self.root / name).exists():
                with suppress(FileExistsError):
                    _create_file(self.root / name, content)

    def _make_dirs(self, folder: Path) -> Path:
        """Create a folder and its missing parents, each durably; return the folder."""
        missing = []
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            with suppress(FileExistsError):  # another process made it: sync it all the same
                os.mkdir(path)
            _fsync_dir(path.parent)
            self._durable.add(path)
        return missing[0] if missing else folder

    def _make_durable(self, path: Path) -> None:
        """Fsync the directories holding `path`, up to the log's parent, once per process.

        A crashed process may have created an entry without fsyncing its directory, so
        an entry seen on disk is not trusted to be durable until this process syncs it.
        """
        stop = self.root.parent
        while path != stop and path not in self._durable and path.parent != path:
            _fsync_dir(path.parent)
            self._durable.add(path)
            path = path.parent

    # -- reading ------------------------------------------------------------------

    def lines(self, paths: list[Path] | None = None) -> Iterator[Line | Tail]:
        """Every complete line, then a Tail for what an interrupted write left at the end."""
        for path in self.segments() if paths is None else paths:
            number = 0
            for block in line_blocks(path):
                if isinstance(block, Tail):
                    yield block
                    continue
                for body in block:
                    number += 1
                    yield Line(path, number, body)

    def snapshot(self) -> dict[str, SegmentState]:
        """The state of every segment now, by path relative to the log folder."""
        states = {}
        for path in self.segments():
            end = complete_end(path)
            line = line_ending_at(path, end)
            tail = hashlib.sha256(line).hexdigest() if line is not None else ""
            states[str(path.relative_to(self.root))] = SegmentState(end, tail)
        return states

    def appended_since(self, old: dict[str, SegmentState], now: dict[str, SegmentState]
                       ) -> dict[str, tuple[int, int]] | None:
        """The byte ranges appended between two snapshots (relative path -> start, stop),
        or None if a segment was rewritten, shortened or removed in between."""
        ranges = {}
        for name, before in old.items():
            after = now.get(name)
            if after is None or after.size < before.size:
                return None
            if after.size == before.size:
                if after.tail != before.tail:
                    return None
                continue
            line = line_ending_at(self.root / name, before.size)
            if before.size and (line is None
                                or hashlib.sha256(line).hexdigest() != before.tail):
                return None
            ranges[name] = (before.size, after.size)
        for name, after in now.items():
            if name not in old:
                ranges[name] = (0, after.size)
        return ranges

    def read_range(self, path: Path, start: int,
                   stop: int) -> Iterator[tuple[int, int, bytes]]:
        """(line number counted from `start`, offset, line without its newline) of the
        complete lines between two offsets."""
        with open(path, "rb", buffering=1 << 20) as file:
            file.seek(start)
            offset = start
            for number, raw in enumerate(file, start=1):
                if offset + len(raw) > stop or raw[-1:] != b"\n":
                    break
                yield number, offset, raw[:-1]
                offset += len(raw)

    def events(self) -> Iterator[dict[str, Any]]:
        """Every parsed event, in file order, skipping tails."""
        for item in self.lines():
            if isinstance(item, Line):
                yield envelope.parse_line(item.body)

    def tail(self, segment: Path) -> Tail | None:
        """What an interrupted write left at the end of a segment, if anything."""
        size = segment.stat().st_size
        start = _tail_start(segment, size)
        if start is None:
            return None
        with open(segment, "rb") as file:
            file.seek(start)
            return Tail(segment, start, file.read(size - start))

    # -- appending -----------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock of the log.

        flock, not fcntl record locks: a record lock is dropped when the process closes
        *any* descriptor of the file, a flock only when its own descriptor is closed.
        """
        self._prepare()
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def session(self) -> Iterator[Appender]:
        """Hold the lock and yield an Appender for this writer.

        Tails of the writer's segments are moved to the quarantine by the first write,
        so that a command refused before it writes leaves the log byte for byte as it was.
        """
        explicit = self._writer is not None or bool(os.environ.get("TRACKER_WRITER"))
        writer = self.writer()
        with self.locked():
            marks = self.marks()
            usual = writer
            writer, last = self._writer_here(writer, marks, explicit)
            tails = [tail for segment in sorted((self.root / writer).glob("*.jsonl"))
                     if (tail := self.tail(segment)) is not None]
            appender = Appender(self, writer, last, tails)
            try:
                yield appender
            finally:
                if appender.last_written is not None:
                    marks[writer] = appender.last_written
                    self._save_marks(marks)
                    if writer != usual:
                        self.switched = (usual, writer)

    def _writer_here(self, writer: str, marks: dict[str, dict[str, Any]],
                     explicit: bool) -> tuple[str, dict[str, Any] | None]:
        """The writer to append as, and its last event in this working tree.

        A writer whose last event here is not the last one it appended in this clone
        (`MARKS`) would give its next event a seq already used on another branch: this
        clone then appends as another of its writers whose events here are complete, or
        a new one. `TRACKER_WRITER` (or a writer given) is never replaced: refused.
        """
        last = self.last_event(writer)
        if _is_complete(last, marks.get(writer)):
            return writer, last
        mark = marks[writer]
        if explicit:
            here = f"ends at seq {last['seq']}" if last else "holds none of its events"
            raise TrackerError(
                f"writer {writer} appended seq {mark['seq']} (event {mark['id']}) in this "
                f"clone, but the log here {here}: a branch, a stash or an older commit? "
                "Appending would use a seq twice; check out the branch that has that event, "
                "or set TRACKER_WRITER to another writer id")
        for other in marks:
            if other != writer and _is_complete(last := self.last_event(other), marks[other]):
                return other, last
        new = secrets.token_hex(4)
        while (self.root / new).exists() or new in marks:
            new = secrets.token_hex(4)
        return new, None

    def marks(self) -> dict[str, dict[str, Any]]:
        """`MARKS`, or none if it is missing or unreadable (a cache: nothing is lost)."""
        try:
            marks = json.loads((self.root / MARKS).read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(marks, dict):
            return {}
        return {writer: mark for writer, mark in marks.items() if isinstance(mark, dict)
                and type(mark.get("seq")) is int and isinstance(mark.get("id"), str)}

    def _save_marks(self, marks: dict[str, dict[str, Any]]) -> None:
        """Write `MARKS` aside, then put it in place (the lock is held)."""
        path = self.root / MARKS
        staging = self._make_dirs(path.parent) / f"writers.{os.getpid()}.json"
        with suppress(FileNotFoundError):
            os.unlink(staging)
        _create_file(staging, json.dumps(marks, sort_keys=True).encode())
        os.replace(staging, path)

    def _append(self, path: Path, line: bytes) -> None:
        """Append one whole line and make it durable; on any failure, leave no trace of it."""
        self._make_dirs(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                _write_all(fd, line)
                os.fsync(fd)
                self._make_durable(path)
            except BaseException:
                with suppress(OSError):  # a torn line would otherwise be glued to the next one
                    os.ftruncate(fd, size)
                    os.fsync(fd)
                raise
        finally:
            os.close(fd)

    def last_event(self, writer: str) -> dict[str, Any] | None:
        """The writer's most recent complete event: the one with the highest seq of the
        writer's own lines in its newest segment that holds any (its events go forward in
        time). That is its last line when the line before is the writer's previous seq;
        else (a line copied in after it, or repeated by a merge) the segment is read."""
        for segment in sorted((self.root / writer).glob("*.jsonl"), reverse=True):
            found = _last_line(segment)
            if found is None:
                continue
            event = self._readable(segment, *found, writer)
            if event["writer"] == writer and _follows(segment, found[0], event):
                return event
            highest = _highest_seq(segment, writer)
            if highest is not None:
                return self._readable(segment, *highest, writer)
        return None

    def _readable(self, segment: Path, start: int, body: bytes, writer: str) -> dict[str, Any]:
        """The event of a line that the next event of `writer` would follow; refused if
        it is damaged."""
        try:
            event = envelope.parse_line(body)
            problem = None  # the next event follows its moment: it must name one
            if envelope.moment(event["recorded_at"]) is None:
                problem = f"bad recorded_at {shown(event['recorded_at'])}"
        except envelope.BadLine as error:
            problem = str(error)
        if problem:
            where = f"{segment.relative_to(self.root)}:{_line_number(segment, start)}"
            raise TrackerError(
                f"event {envelope.id_in(body)} ({where}): {problem}; the last event of "
                f"writer {writer} is damaged, so nothing can be appended after it: "
                "run tracker verify"
            ) from None
        return event

    def quarantine(self, tail: Tail) -> Tail:
        """Copy a tail to `.quarantine/<writer>/`, then cut it off its segment (lock held)."""
        folder = self._make_dirs(self.root / ".quarantine" / tail.path.parent.name)
        stamp = envelope.now().replace(":", "")
        target = folder / f"{tail.path.stem}.{stamp}.{tail.offset}.torn"
        _create_file(target, tail.data)
        self._make_durable(target)
        fd = os.open(tail.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, tail.offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        moved = replace(tail, moved_to=target)
        self.quarantined.append(moved)
        return moved


def _writer_and_seq(body: bytes) -> tuple[Any, Any]:
    """A line's writer and seq, as far as they can be read (None if not)."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    return (event.get("writer"), event.get("seq")) if isinstance(event, dict) else (None, None)


def _follows(segment: Path, start: int, event: dict[str, Any]) -> bool:
    """Whether the line before the one at `start` is its writer's previous seq."""
    before = _line_before(segment, start)
    return before is not None and \
        _writer_and_seq(before[1]) == (event["writer"], event["seq"] - 1)


def _highest_seq(segment: Path, writer: str) -> tuple[int, bytes] | None:
    """Where the line of `writer` with the highest seq in a segment starts, and the line."""
    highest: tuple[int, int, bytes] | None = None
    start = 0
    with open(segment, "rb") as file:
        for raw in file:
            if raw.endswith(b"\n"):  # (a tail is not an event)
                line_writer, seq = _writer_and_seq(raw)
                if line_writer == writer and type(seq) is int and \
                        (highest is None or seq > highest[0]):
                    highest = (seq, start, raw[:-1])
            start += len(raw)
    return None if highest is None else highest[1:]


def _is_complete(last: dict[str, Any] | None, mark: dict[str, Any] | None) -> bool:
    """Whether a writer's events here reach the last one it appended in this clone (or
    beyond: marks are written after the events)."""
    if mark is None:
        return True
    if last is None:
        return False
    return last["seq"] > mark["seq"] or (last["seq"] == mark["seq"] and last["id"] == mark["id"])


class Appender:
    """Writes events for one writer while the log's lock is held."""

    def __init__(self, log: EventLog, writer: str, last: dict[str, Any] | None,
                 tails: list[Tail] | None = None):
        self.log = log
        self.writer = writer
        self.seq = last["seq"] if last else 0
        self.last_recorded_at = last["recorded_at"] if last else None
        self._tails = list(tails or [])
        self.last_written: dict[str, Any] | None = None  # seq and id of the last appended

    def _forward(self, recorded_at: str, last: str | None) -> None:
        """Refuse a time before the writer's last (a writer's events go forward)."""
        if last and recorded_at < last:
            raise TrackerError(f"recorded_at {recorded_at} is before the last event of writer "
                               f"{self.writer} ({last}): a writer's events go forward in time")

    def write(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Seal and append one event (id, type, schema, subject, recorded_at, recorded_by, data).

        Sets `writer` and the next `seq`; returns the event as written, after fsync.
        """
        recorded_at = fields["recorded_at"]
        self._forward(recorded_at, self.last_recorded_at)
        event = {**fields, "writer": self.writer, "seq": self.seq + 1}
        line = envelope.seal(event)
        self._quarantine_tails()
        self.log._append(self.log.root / self.writer / (recorded_at[:7] + ".jsonl"), line)
        self.seq += 1
        self.last_recorded_at = recorded_at
        self.last_written = {"seq": self.seq, "id": fields["id"]}
        return envelope.parse_line(line[:-1])

    def _quarantine_tails(self) -> None:
        """Before the first write: move the tails of this writer's segments away."""
        while self._tails:
            self.log.quarantine(self._tails.pop(0))

    def write_many(
        self, events: Iterable[dict[str, Any]], progress: Callable[[int], None] | None = None
    ) -> int:
        """Seal and append many events in order, as `write` does one; return how many.

        Lines go out in chunks of whole lines, and each segment file is fsynced once, when
        the batch leaves it. A crash part-way leaves a prefix of the batch (and at most one
        torn line, which the next session quarantines); an error leaves the appender at the
        last line written. `progress` gets the count of each chunk written.
        """
        written, size = 0, 0
        pending: list[bytes] = []
        seq, last = self.seq, self.last_recorded_at
        last_id = ""
        segment: _OpenSegment | None = None

        def flush() -> None:
            nonlocal written, pending, size
            if pending and segment:
                self._quarantine_tails()
                segment.append(b"".join(pending))
                written += len(pending)
                self.seq, self.last_recorded_at = seq, last
                self.last_written = {"seq": seq, "id": last_id}
                if progress:
                    progress(len(pending))
            pending, size = [], 0

        try:
            for fields in events:
                recorded_at = fields["recorded_at"]
                self._forward(recorded_at, last)
                name = recorded_at[:7] + ".jsonl"
                if segment is None or segment.name != name:
                    if segment:
                        flush()
                        segment.close()
                    segment = _OpenSegment(self.log, self.log.root / self.writer, name)
                seq += 1
                line = envelope.seal({**fields, "writer": self.writer, "seq": seq})
                last, last_id = recorded_at, fields["id"]
                pending.append(line)
                size += len(line)
                if size >= WRITE_CHUNK:
                    flush()
            if segment:
                flush()
                segment.close()
                segment = None
        finally:
            if segment:
                segment.abandon()
        return written


class _OpenSegment:
    """A segment file open for appending by `Appender.write_many`: fsynced once, on close,
    with the folders that lead to it (as EventLog._append does for one line)."""

    def __init__(self, log: EventLog, folder: Path, name: str):
        log._make_dirs(folder)
        self.log = log
        self.name = name
        self.path = folder / name
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, data: bytes) -> None:
        """Write whole lines; on any failure cut off what part of them was written."""
        size = os.fstat(self.fd).st_size
        try:
            _write_all(self.fd, data)
        except BaseException:
            with suppress(OSError):
                os.ftruncate(self.fd, size)
            raise

    def close(self) -> None:
        try:
            os.fsync(self.fd)
            self.log._make_durable(self.path)
        finally:
            os.close(self.fd)

    def abandon(self) -> None:
        os.close(self.fd)


def _end_of_last_line(path: Path, size: int) -> int:
    """The offset just after the last newline before `size` (0 if there is none)."""
    with open(path, "rb") as file:
        position = size
        while position > 0:
            start = max(0, position - TAIL_CHUNK)
            file.seek(start)
            chunk = file.read(position - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            position = start
    return 0


def _tail_start(path: Path, size: int) -> int | None:
    """Where a segment's tail starts (see Tail), or None if it ends with a whole line."""
    if size == 0:
        return None
    end = _end_of_last_line(path, size)
    if end < size:
        return end
    start = _end_of_last_line(path, size - 1)
    with open(path, "rb") as file:
        file.seek(start)
        return start if b"\0" in file.read(size - start) else None


READ_BLOCK = 1 << 20  # bytes read at a time by `line_blocks`


def line_blocks(path: Path, start: int = 0,
                end: int | None = None) -> Iterator[list[bytes] | Tail]:
    """A segment's complete lines (without their newline) in lists, a block read at a
    time, then a Tail for what an interrupted write left at the end: the bytes after the
    last newline, or a last line holding NUL bytes.

    `start` and `end` read part of a segment, from where a line starts to just after a
    newline before the end (no tail then); by default, all of it."""
    with open(path, "rb") as file:
        file.seek(start)
        left = math.inf if end is None else end - start
        rest = b""
        last: bytes | None = None  # the last complete line so far, not yet given
        while left > 0 and (chunk := file.read(min(READ_BLOCK, left))):
            left -= len(chunk)
            lines = chunk.split(b"\n")
            lines[0] = rest + lines[0]  # the line the last read cut (no copy of the block)
            rest = lines.pop()
            if not lines:
                continue
            if last is not None:
                lines.insert(0, last)
            last = lines.pop()
            if lines:
                yield lines
        at = file.tell()
    if end is not None:
        if rest or left:  # not a newline at `end`: the file changed since it was measured
            raise TrackerError(f"{path} changed while it was read")
        if last is not None:
            yield [last]
    elif rest:
        if last is not None:
            yield [last]
        yield Tail(path, at - len(rest), rest)
    elif last is not None:
        if b"\0" in last:
            yield Tail(path, at - len(last) - 1, last + b"\n")
        else:
            yield [last]


def complete_end(path: Path) -> int:
    """The end of a segment's last complete line, before any tail."""
    size = path.stat().st_size
    start = _tail_start(path, size)
    return size if start is None else start


def _line_before(path: Path, end: int) -> tuple[int, bytes] | None:
    """Where the line whose newline is the byte before `end` starts, and the line without
    it; None if end is 0."""
    if end == 0:
        return None
    start = _end_of_last_line(path, end - 1)
    with open(path, "rb") as file:
        file.seek(start)
        return start, file.read(end - 1 - start)


def _last_line(path: Path) -> tuple[int, bytes] | None:
    """Where the last complete line before any tail starts, and the line."""
    return _line_before(path, complete_end(path))


def line_ending_at(path: Path, end: int) -> bytes | None:
    """The line whose newline is the byte before `end`, without it; None if end is 0."""
    found = _line_before(path, end)
    return None if found is None else found[1]


def _line_number(path: Path, offset: int) -> int:
    """The number of the line that starts at `offset` (for messages)."""
    newlines = 0
    with open(path, "rb") as file:
        while offset > 0:
            chunk = file.read(min(TAIL_CHUNK, offset))
            if not chunk:
                break
            offset -= len(chunk)
            newlines += chunk.count(b"\n")
    return newlines + 1
