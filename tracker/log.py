"""The append-only log: per-writer segment files of JSON lines under `events/`.

Appends take an exclusive flock on `events/.lock`, write the whole line with one
`os.write` on an O_APPEND descriptor and fsync before returning. Readers skip an
incomplete last line; the next append moves it to `events/.quarantine/`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import envelope
from .errors import TrackerError, shown

LOCAL_FILES = (".lock", ".writer", ".quarantine/", ".cache/")
TAIL_CHUNK = 1 << 16
WRITE_CHUNK = 1 << 22  # bytes of whole lines per os.write in Appender.write_many


@dataclass(frozen=True)
class Line:
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
    """An incomplete last line of a segment file."""

    path: Path
    offset: int
    data: bytes


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EventLog:
    """The log folder: segment files `<writer>/<YYYY-MM>.jsonl` and local state."""

    def __init__(self, root: Path | str, writer: str | None = None):
        self.root = Path(root)
        self._writer = writer

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
        path = self.root / ".writer"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        self._prepare()
        candidate = secrets.token_hex(4)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as file:
            file.write(candidate + "\n")
            file.flush()
            os.fsync(file.fileno())
        return candidate

    def _prepare(self) -> None:
        """Create the folder, with a .gitignore that keeps local state out of git."""
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("".join(f"{name}\n" for name in LOCAL_FILES))

    # -- reading ------------------------------------------------------------------

    def lines(self, paths: list[Path] | None = None) -> Iterator[Line | Tail]:
        """Every complete line, then a Tail for any incomplete last line."""
        for path in self.segments() if paths is None else paths:
            with open(path, "rb") as file:
                offset = 0
                for number, raw in enumerate(file, start=1):
                    if raw.endswith(b"\n"):
                        yield Line(path, number, raw[:-1])
                        offset += len(raw)
                    else:
                        yield Tail(path, offset, raw)

    def snapshot(self) -> dict[str, SegmentState]:
        """The state of every segment now, by path relative to the log folder."""
        states = {}
        for path in self.segments():
            end = _end_of_last_line(path, path.stat().st_size)
            line = line_ending_at(path, end)
            tail = hashlib.sha256(line).hexdigest() if line is not None else ""
            states[str(path.relative_to(self.root))] = SegmentState(end, tail)
        return states

    def read_range(self, path: Path, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
        """(line number counted from `start`, line without its newline) of the complete
        lines between two offsets."""
        with open(path, "rb", buffering=1 << 20) as file:
            file.seek(start)
            remaining = stop - start
            for number, raw in enumerate(file, start=1):
                remaining -= len(raw)
                if remaining < 0 or raw[-1:] != b"\n":
                    break
                yield number, raw[:-1]

    def events(self) -> Iterator[dict[str, Any]]:
        """Every parsed event, in file order, skipping incomplete last lines."""
        for item in self.lines():
            if isinstance(item, Line):
                yield envelope.parse_line(item.body)

    # -- appending -----------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock of the log (flock, released when the descriptor closes)."""
        self._prepare()
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextmanager
    def session(self) -> Iterator[Appender]:
        """Hold the lock, repair this writer's torn tails, and yield an Appender."""
        writer = self.writer()
        with self.locked():
            for segment in sorted((self.root / writer).glob("*.jsonl")):
                self.quarantine_tail(segment)
            yield Appender(self, writer, self.last_event(writer))

    def _write(self, folder: Path, name: str, line: bytes) -> None:
        new_folder = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        if new_folder:
            _fsync_dir(self.root)
        path = folder / name
        new_file = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):  # only on a full disk or a signal
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        if new_file:
            _fsync_dir(folder)

    def last_event(self, writer: str) -> dict[str, Any] | None:
        """The writer's most recent complete event, read from the end of its segments."""
        for segment in sorted((self.root / writer).glob("*.jsonl"), reverse=True):
            body = _last_line(segment)
            if body is not None:
                try:
                    return envelope.parse_line(body)
                except envelope.BadLine as error:
                    raise TrackerError(
                        f"the last event in {segment} is damaged ({error}); run tracker verify"
                    ) from None
        return None

    def quarantine_tail(self, segment: Path) -> Tail | None:
        """Move an incomplete last line (a torn write, trailing NULs) to the quarantine.

        Call with the lock held. Returns what was moved, or None if the file was whole.
        """
        size = segment.stat().st_size
        if size == 0:
            return None
        with open(segment, "rb") as file:
            file.seek(size - 1)
            if file.read(1) == b"\n":
                return None
        keep = _end_of_last_line(segment, size)
        with open(segment, "rb") as file:
            file.seek(keep)
            data = file.read()
        quarantine = self.root / ".quarantine" / segment.parent.name
        quarantine.mkdir(parents=True, exist_ok=True)
        target = quarantine / f"{segment.stem}.{envelope.now().replace(':', '')}.{keep}.torn"
        with open(target, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        _fsync_dir(quarantine)
        with open(segment, "r+b") as file:
            file.truncate(keep)
            file.flush()
            os.fsync(file.fileno())
        return Tail(segment, keep, data)


class Appender:
    """Writes events for one writer while the log's lock is held."""

    def __init__(self, log: EventLog, writer: str, last: dict[str, Any] | None):
        self.log = log
        self.writer = writer
        self.seq = last["seq"] if last else 0
        self.last_recorded_at = last["recorded_at"] if last else None

    def write(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Seal and append one event (id, type, schema, subject, recorded_at, recorded_by, data).

        Sets `writer` and the next `seq`; returns the event as written, after fsync.
        """
        recorded_at = fields["recorded_at"]
        if self.last_recorded_at and recorded_at < self.last_recorded_at:
            raise ValueError("recorded_at must not go back in time within a writer")
        event = {**fields, "writer": self.writer, "seq": self.seq + 1}
        line = envelope.seal(event)
        self.log._write(self.log.root / self.writer, recorded_at[:7] + ".jsonl", line)
        self.seq += 1
        self.last_recorded_at = recorded_at
        return envelope.parse_line(line[:-1])

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
        segment: _OpenSegment | None = None

        def flush() -> None:
            nonlocal written, pending, size
            if pending and segment:
                segment.append(b"".join(pending))
                written += len(pending)
                self.seq, self.last_recorded_at = seq, last
                if progress:
                    progress(len(pending))
            pending, size = [], 0

        try:
            for fields in events:
                recorded_at = fields["recorded_at"]
                if last and recorded_at < last:
                    raise ValueError("recorded_at must not go back in time within a writer")
                name = recorded_at[:7] + ".jsonl"
                if segment is None or segment.name != name:
                    if segment:
                        flush()
                        segment.close()
                    segment = _OpenSegment(self.log, self.log.root / self.writer, name)
                seq += 1
                line = envelope.seal({**fields, "writer": self.writer, "seq": seq})
                last = recorded_at
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
    """A segment file open for appending by `Appender.write_many`: fsynced once, on close."""

    def __init__(self, log: EventLog, folder: Path, name: str):
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            _fsync_dir(log.root)
        self.folder = folder
        self.name = name
        path = folder / name
        self.new_file = not path.exists()
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # more than one call only for big chunks, a full disk or a signal
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)
        if self.new_file:
            _fsync_dir(self.folder)

    def abandon(self) -> None:
        os.close(self.fd)


def _end_of_last_line(path: Path, size: int) -> int:
    """The offset just after the last newline of a file (0 if it has none)."""
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


def _last_line(path: Path) -> bytes | None:
    """The last complete line of a file, without its newline; None if there is none."""
    return line_ending_at(path, _end_of_last_line(path, path.stat().st_size))


def line_ending_at(path: Path, end: int) -> bytes | None:
    """The line whose newline is the byte before `end`, without it; None if end is 0."""
    if end == 0:
        return None
    start = _end_of_last_line(path, end - 1)
    with open(path, "rb") as file:
        file.seek(start)
        return file.read(end - 1 - start)
