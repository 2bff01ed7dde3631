"""A full build on two cores: a forked process reads the log (parsing, checking each
line's hash, merging the segments in replay order), drops repeated events and makes the
rows of new records, while this one writes them to SQLite and applies the rest.

The events come through a pipe in frames of marshal bytes, in replay order, so the
database is the same as when one process does it all; a problem the reading meets (a
damaged line, a segment out of order) is raised here, as without a feed.
"""

from __future__ import annotations

import marshal
import struct
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from . import forking
from .duplicates import Repeat
from .errors import TrackerError
from .forking import PIPE_BYTES
from .log import EventLog
from .progress import Advance
from .projection import Event, Prepared, PreparedRows
from .replay import FirstOfEach, OutOfOrder, ordered_events, recorded_until

FRAME_EVENTS = 1000  # events per frame
LENGTH = struct.Struct("<I")  # before each frame: its length in bytes

# The kinds of frame, each (kind, payload, bytes of the log read since the last frame).
EVENTS, END, ERROR, OUT_OF_ORDER, FAILED = "events", "end", "error", "out of order", "failed"


class Feed:
    """The events the feeding process sends, in replay order: as read, or prepared (runs
    of new records' events made into rows, see `projection.Prepared`); no id twice.
    Once they are all read, `count` is the number of events sent (each id once),
    `last_key` the largest sort key and `repeats` the copies left out."""

    def __init__(self, pipe: BinaryIO, pid: int, advance: Advance):
        self.pipe, self.pid, self.advance = pipe, pid, advance
        self.count = 0
        self.last_key: tuple | None = None
        self.repeats: list[Repeat] = []

    def __iter__(self) -> Iterator[Event | PreparedRows]:
        while True:
            kind, payload, read = self._frame()
            self.advance(read)
            if kind == EVENTS:
                yield from payload
            elif kind == END:
                self.count, last_key, repeats = payload
                self.last_key = tuple(last_key) if last_key is not None else None
                self.repeats = [Repeat(*repeat) for repeat in repeats]
                self.wait()  # it ends once its last frame is sent
                return
            elif kind == ERROR:
                raise TrackerError(payload)
            elif kind == OUT_OF_ORDER:
                raise OutOfOrder(payload)
            else:
                raise RuntimeError(f"the process reading the log failed:\n{payload}")

    def _frame(self) -> tuple[str, Any, int]:
        header = self.pipe.read(LENGTH.size)
        length = LENGTH.unpack(header)[0] if len(header) == LENGTH.size else 0
        body = self.pipe.read(length)
        if not length or len(body) < length:  # the pipe ended: the process did
            raise TrackerError("the process reading the log stopped before the end "
                               f"(exit status {self.wait()})")
        return marshal.loads(body)

    def wait(self, kill: bool = False) -> int:
        """Wait for the feeding process to end (killed first if `kill`); its exit status."""
        status = forking.reap(self.pid, kill)
        self.pid = 0
        return status


@contextmanager
def fed_events(log: EventLog, ranges: dict[str, tuple[int, int]], sort_in_memory: bool,
               as_of: str | None, advance: Advance) -> Iterator[Feed]:
    """The events of `ranges` recorded until `as_of` (all if None), from a forked
    process; it is stopped, if still running, when the block ends."""
    def feeding(write_end: int) -> None:
        with open(write_end, "wb", buffering=PIPE_BYTES) as pipe:
            _feed(pipe, log, ranges, sort_in_memory, as_of)

    pid, read_end = forking.fork(feeding)
    feed = Feed(open(read_end, "rb", buffering=PIPE_BYTES), pid, advance)  # noqa: SIM115
    try:
        yield feed
    finally:
        feed.pipe.close()  # a feeding process still writing stops (broken pipe)
        if feed.pid:  # not waited for: the build stopped before the end
            feed.wait(kill=True)  # whatever it was doing


class _Frames:
    """What the feeding process sends: events in frames (each event as read, or in a run
    of prepared ones), and with each frame the bytes of the log read since the last."""

    def __init__(self, pipe: BinaryIO):
        self.pipe = pipe
        self.read = 0
        self.events: list[Event | PreparedRows] = []
        self.count = 0  # events in this frame
        self.run = Prepared()

    def advance(self, count: int) -> None:
        self.read += count

    def add(self, event: Event) -> None:
        if not self.run.add(event):
            self._end_run()
            self.events.append(event)
        self.count += 1
        if self.count >= FRAME_EVENTS:
            self.flush()

    def _end_run(self) -> None:
        if self.run.count:
            self.events.append(self.run.rows())
            self.run = Prepared()

    def flush(self) -> None:
        self._end_run()
        self.send(EVENTS, self.events)
        self.events, self.count = [], 0

    def send(self, kind: str, payload: Any) -> None:
        frame = marshal.dumps((kind, payload, self.read))
        self.read = 0
        self.pipe.write(LENGTH.pack(len(frame)))
        self.pipe.write(frame)


def _feed(pipe: BinaryIO, log: EventLog, ranges: dict[str, tuple[int, int]],
          sort_in_memory: bool, as_of: str | None) -> None:
    """Send the events in frames, then the end (count, last key and the copies left
    out), or the problem."""
    frames = _Frames(pipe)
    events = FirstOfEach(recorded_until(
        ordered_events(log, sort_in_memory, ranges, frames.advance), as_of))
    try:
        for event in events:
            frames.add(event)
    except TrackerError as error:
        frames.send(ERROR, str(error))
        return
    except OutOfOrder as error:
        frames.send(OUT_OF_ORDER, str(error.args[0]))
        return
    except Exception:
        frames.send(FAILED, traceback.format_exc())
        return
    frames.flush()
    frames.send(END, (events.count, events.last_key,
                      [tuple(repeat) for repeat in events.repeats]))
