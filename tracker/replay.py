"""The log in replay order: (recorded_at, writer, seq, id, hash), whatever the order of
files and lines, read as a stream (a merge of the segments of each month in turn)."""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from . import envelope
from .duplicates import Repeat, repeat_of
from .errors import TrackerError
from .log import EventLog, lines_before
from .progress import Advance

Event = dict[str, Any]


class OutOfOrder(Exception):
    """A segment file whose lines are not in replay order (after a manual edit or merge)."""


def sort_key(event: Event) -> tuple:
    """Replay order: (recorded_at, writer, seq, id, hash)."""
    return SORT_KEY(event)


SORT_KEY = itemgetter("recorded_at", "writer", "seq", "id", "hash")
MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def recorded_until(events: Iterable[Event], as_of: str | None) -> Iterator[Event]:
    """The events recorded until `as_of` (a recorded_at timestamp); all if None."""
    for event in events:
        if as_of is None or event["recorded_at"] <= as_of:
            yield event


class FirstOfEach:
    """The events, each id once (its first in replay order, as the Projector applies
    it), counting them (the copies left out are not) and keeping the largest sort key:
    what a full build records of what it was made from; and the copies left out, which
    the build compares with the ones it kept (see `duplicates`)."""

    def __init__(self, events: Iterable[Event]):
        self.events = events
        self.count = 0
        self.last_key: tuple | None = None
        self.repeats: list[Repeat] = []

    def __iter__(self) -> Iterator[Event]:
        seen: set[str] = set()
        for event in self.events:
            if event["id"] in seen:
                # the same event again (a duplicated line, a retry in two clones), or
                # another under the same id
                self.repeats.append(repeat_of(event))
                continue
            seen.add(event["id"])
            self.count += 1
            key = SORT_KEY(event)
            if self.last_key is None or key > self.last_key:
                self.last_key = key
            yield event


REPORT_EVERY = 4096  # lines between two reports of progress


def _file_events(log: EventLog, path: Path, start: int, stop: int,
                 month: str | None, advance: Advance | None = None) -> Iterator[Event]:
    """The events of one segment between two offsets. With `month`, check that they are
    in replay order and of that month, else raise OutOfOrder (replay then sorts).
    `advance(bytes)` is told, now and then, how far reading got."""
    previous = None
    done = 0
    for number, _offset, body in log.read_range(path, start, stop):
        done += len(body) + 1
        if advance is not None and number % REPORT_EVERY == 0:
            advance(done)
            done = 0
        try:
            event = envelope.parse_hashed(body)
        except envelope.BadLine as error:
            number += lines_before(path, start) if start else 0  # of the whole file
            raise TrackerError(
                f"{path.parent.name}/{path.name} line {number} is damaged ({error}); "
                "run tracker verify") from None
        if month is not None:
            key = SORT_KEY(event)
            if (previous is not None and key < previous) or key[0][:7] != month:
                raise OutOfOrder(path)
            previous = key
        yield event
    if advance is not None:
        advance(done)


def ordered_events(
    log: EventLog,
    sort_in_memory: bool = False,
    ranges: dict[str, tuple[int, int]] | None = None,
    advance: Advance | None = None,
) -> Iterator[Event]:
    """Events in replay order, streaming: months in turn, each a merge of its segments.

    A segment whose lines are out of order or not of its month (after a hand edit or an
    odd merge) raises OutOfOrder: callers then ask for `sort_in_memory`. `ranges` limits
    reading to byte ranges of some segments (relative path -> start, stop); by default
    every segment is read whole.
    """
    if ranges is None:
        ranges = {name: (0, state.size) for name, state in log.snapshot().items()}
    wanted = sorted((name, start, stop) for name, (start, stop) in ranges.items() if stop > start)
    if sort_in_memory:
        streams = [_file_events(log, log.root / name, start, stop, None, advance)
                   for name, start, stop in wanted]
        yield from sorted((event for stream in streams for event in stream), key=SORT_KEY)
        return
    months: dict[str, list[tuple[str, int, int]]] = {}
    for name, start, stop in wanted:
        month = Path(name).stem
        if not MONTH.fullmatch(month):
            raise OutOfOrder(name)
        months.setdefault(month, []).append((name, start, stop))
    for month in sorted(months):
        streams = [_file_events(log, log.root / name, start, stop, month, advance)
                   for name, start, stop in months[month]]
        yield from streams[0] if len(streams) == 1 else heapq.merge(*streams, key=SORT_KEY)


class InOrder(NamedTuple):
    """Events in replay order, each id once, and the copies of them replay leaves out."""

    events: list[Event]
    repeats: list[Repeat]


def events_in_order(log: EventLog, keep: Callable[[Event], bool] = lambda event: True
                    ) -> InOrder:
    """The events `keep` takes, in replay order, each id once as replay keeps it (its
    first copy in replay order), and the copies of them left out: streamed, or sorted in
    memory if a segment turns out to be out of order."""
    try:
        return _first_of_each(ordered_events(log), keep)
    except OutOfOrder:
        return _first_of_each(ordered_events(log, sort_in_memory=True), keep)


def _first_of_each(events: Iterable[Event], keep: Callable[[Event], bool]) -> InOrder:
    first = FirstOfEach(events)
    taken = [event for event in first if keep(event)]
    ids = {event["id"] for event in taken}
    return InOrder(taken, [repeat for repeat in first.repeats if repeat.id in ids])
