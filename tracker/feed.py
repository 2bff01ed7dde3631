"""A full build on two cores: a forked process reads the log (parsing, checking each
line's hash, merging the segments in replay order), drops repeated events and makes the
rows of new records, while this one writes them to SQLite and applies the rest.

The events come through a pipe in frames of marshal bytes, in replay order, so the
database is the same as when one process does it all; a problem the reading meets (a
damaged line, a segment out of order) is raised here, as without a feed.
"""

from __future__ import annotations

import fcntl
import marshal
import os
import signal
import struct
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO

from .errors import TrackerError
from .log import EventLog
from .progress import Advance
from .projection import Event, Prepared, prepare
from .replay import SORT_KEY, OutOfOrder, ordered_events, recorded_until

FEED_BYTES = 4 << 20  # below this, a build reads the log itself
FRAME_EVENTS = 1000  # events per frame
PIPE_BYTES = 1 << 20  # asked of the pipe (Linux's default most a process may ask)
LENGTH = struct.Struct("<I")  # before each frame: its length in bytes

# The kinds of frame, each (kind, payload, bytes of the log read since the last frame).
EVENTS, END, ERROR, OUT_OF_ORDER, FAILED = "events", "end", "error", "out of order", "failed"


def worth_feeding(total_bytes: int) -> bool:
    """Whether a full build of a log this large is faster with a second process."""
    return total_bytes >= FEED_BYTES and (os.cpu_count() or 1) > 1


class Feed:
    """The events the feeding process sends, in replay order: prepared (a new record's
    rows, see `projection.prepare`) or as read; no id twice. Once they are all read,
    `count` is the number of events read (repeats included) and `last_key` the largest
    sort key."""

    def __init__(self, pipe: BinaryIO, pid: int, advance: Advance):
        self.pipe, self.pid, self.advance = pipe, pid, advance
        self.count = 0
        self.last_key: tuple | None = None
        self.finished = False

    def __iter__(self) -> Iterator[Event | Prepared]:
        while True:
            kind, payload, read = self._frame()
            self.advance(read)
            if kind == EVENTS:
                yield from payload
            elif kind == END:
                self.count, last_key = payload
                self.last_key = tuple(last_key) if last_key is not None else None
                self.finished = True
                os.waitpid(self.pid, 0)  # it ends once its last frame is sent
                self.pid = 0
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
            _, status = os.waitpid(self.pid, 0)
            self.pid = 0
            raise TrackerError("the process reading the log stopped before the end "
                               f"(exit status {os.waitstatus_to_exitcode(status)})")
        return marshal.loads(body)


@contextmanager
def fed_events(log: EventLog, ranges: dict[str, tuple[int, int]], sort_in_memory: bool,
               as_of: str | None, advance: Advance) -> Iterator[Feed]:
    """The events of `ranges` recorded until `as_of` (all if None), from a forked
    process; it is stopped, if still running, when the block ends."""
    read_end, write_end = os.pipe()
    with suppress(OSError):  # a smaller pipe only means more, smaller writes
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    pid = os.fork()
    if pid == 0:  # the feeding process: it never returns
        os.close(read_end)
        code = 1
        try:
            with open(write_end, "wb", buffering=PIPE_BYTES) as pipe:
                _feed(pipe, log, ranges, sort_in_memory, as_of)
            code = 0
        except BaseException:  # the build stopped reading (its error) or was interrupted
            pass
        finally:
            os._exit(code)  # no cleanup of what this process shares with the build
    os.close(write_end)
    feed = Feed(open(read_end, "rb", buffering=PIPE_BYTES), pid, advance)  # noqa: SIM115
    try:
        yield feed
    finally:
        feed.pipe.close()  # a feeding process still writing stops (broken pipe)
        if feed.pid:
            if not feed.finished:
                os.kill(feed.pid, signal.SIGKILL)  # whatever it was doing
            os.waitpid(feed.pid, 0)


def _feed(pipe: BinaryIO, log: EventLog, ranges: dict[str, tuple[int, int]],
          sort_in_memory: bool, as_of: str | None) -> None:
    """Send the events in frames, then the end (count and last key), or the problem."""
    read = 0

    def advance(count: int) -> None:
        nonlocal read
        read += count

    def send(kind: str, payload: Any) -> None:
        nonlocal read
        frame = marshal.dumps((kind, payload, read))
        read = 0
        pipe.write(LENGTH.pack(len(frame)))
        pipe.write(frame)

    seen: set[str] = set()
    count, last_key = 0, None
    frame: list[Event | Prepared] = []
    try:
        for event in recorded_until(ordered_events(log, sort_in_memory, ranges, advance),
                                    as_of):
            count += 1
            if event["id"] in seen:
                continue  # the same event again: the Projector would skip it
            seen.add(event["id"])
            key = SORT_KEY(event)
            if last_key is None or key > last_key:
                last_key = key
            prepared = prepare(event)
            frame.append(event if prepared is None else prepared)
            if len(frame) >= FRAME_EVENTS:
                send(EVENTS, frame)
                frame = []
    except TrackerError as error:
        send(EVENTS, frame)
        send(ERROR, str(error))
        return
    except OutOfOrder as error:
        send(OUT_OF_ORDER, str(error.args[0]))
        return
    except Exception:
        send(FAILED, traceback.format_exc())
        return
    send(EVENTS, frame)
    send(END, (count, last_key))
