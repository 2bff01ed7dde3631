"""A full build fed by a second process (tracker.feed): the same database, counts and
errors as a build that reads the log itself, and no process left behind."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from tracker import build, envelope, feed, projection
from tracker.forking import FORK_BYTES, PIPE_BYTES, worth_forking
from tracker.replay import SORT_KEY

from .benchmark import generate
from .conftest import rows, run
from .test_projection import dump


def children() -> set[int]:
    """The processes this one started that have not been waited for."""
    return {int(pid) for task in Path(f"/proc/{os.getpid()}/task").iterdir()
            for pid in (task / "children").read_text().split()}


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], list[int]]:
    """`fed(True)`: full builds from now on read the log in a second process, whatever
    its size; `fed(False)`: in this one. Returns the list of feeds started."""
    started: list[int] = []
    real = build.fed_events

    def counted(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        started.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "fed_events", counted)

    def choose(feeding: bool) -> list[int]:
        monkeypatch.setattr(build, "worth_forking", lambda total: feeding)
        return started

    return choose


def built(events: Path, db: Path, *args: str) -> tuple[int, str, str]:
    result = run("--events", events, "build", "--full", "--db", db, *args)
    return result.exit_code, result.stdout.replace(str(db), "DB"), result.stderr


def both_ways(fed: Callable[[bool], list[int]], events: Path, folder: Path,
              *args: str, feeds: int = 1) -> tuple[tuple, tuple]:
    """Build in full with a feed (`feeds` started: a second one sorts in memory) and
    without; the outputs and databases of each."""
    before = children()
    started = fed(True)
    with_feed = built(events, folder / "fed.db", *args)
    assert len(started) == feeds
    fed(False)
    without = built(events, folder / "here.db", *args)
    assert len(started) == feeds
    assert children() == before
    return ((with_feed, contents(folder / "fed.db") if with_feed[0] == 0 else None),
            (without, contents(folder / "here.db") if without[0] == 0 else None))


def contents(db: Path) -> dict:
    """Every table, row for row, and what the build was made of (for the next one)."""
    return {**dump(db), "build_info": rows(db, "select * from build_info order by key")}


@pytest.fixture
def big_log(tmp_path: Path) -> Path:
    """A realistic log (every kind of event, amendments, retractions, updates) and the
    same events twice: a line copied into another folder, as a merge can give."""
    events = tmp_path / "big"
    generate(events, 3000)
    segment = sorted(events.glob("*/*.jsonl"))[0]
    copy = events / "zz-copied" / segment.name
    copy.parent.mkdir()
    copy.write_bytes(segment.read_bytes().split(b"\n")[0] + b"\n")
    return events


def test_a_fed_build_makes_the_database_a_build_here_makes(
        fed: Callable[[bool], list[int]], big_log: Path, tmp_path: Path) -> None:
    with_feed, without = both_ways(fed, big_log, tmp_path)
    assert with_feed[0] == without[0] == (0, "Built DB from 3000 events\n", "")  # copy: once
    assert with_feed[1] == without[1]  # every table, row for row, full-text indexes too
    last = max(SORT_KEY(json.loads(line)) for path in big_log.glob("*/*.jsonl")
               for line in path.open())
    info = {row["key"]: row["value"] for row in with_feed[1]["build_info"]}
    assert json.loads(info["last_key"]) == list(last)  # where the next build goes on


def test_a_fed_build_of_the_past_keeps_only_its_events(
        fed: Callable[[bool], list[int]], big_log: Path, tmp_path: Path) -> None:
    moments = sorted(json.loads(line)["recorded_at"]
                     for path in big_log.glob("*/*.jsonl") for line in path.open())
    with_feed, without = both_ways(fed, big_log, tmp_path, "--as-of", moments[1500])
    assert with_feed[0] == without[0]
    assert with_feed[0][0] == 0 and with_feed[0][1].startswith("Built DB from 150")
    assert with_feed[1] == without[1]


def test_a_segment_out_of_order_is_sorted_when_fed_too(
        fed: Callable[[bool], list[int]], big_log: Path, tmp_path: Path) -> None:
    segment = max(big_log.glob("*/*.jsonl"), key=lambda path: path.stat().st_size)
    lines = segment.read_bytes().split(b"\n")
    lines[0], lines[1] = lines[1], lines[0]  # as a hand edit can leave it
    segment.write_bytes(b"\n".join(lines))
    with_feed, without = both_ways(fed, big_log, tmp_path, feeds=2)
    assert with_feed[0] == without[0] == (0, "Built DB from 3000 events\n", "")
    assert with_feed[1] == without[1]


def test_a_damaged_line_fails_a_fed_build_as_any_build(
        fed: Callable[[bool], list[int]], big_log: Path, tmp_path: Path) -> None:
    segment = max(big_log.glob("*/*.jsonl"), key=lambda path: path.stat().st_size)
    lines = segment.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b'"title":"', b'"title":"X', 1)  # its hash fails
    segment.write_bytes(b"\n".join(lines))
    with_feed, without = both_ways(fed, big_log, tmp_path)
    name = f"{segment.parent.name}/{segment.name}"
    assert with_feed[0] == without[0] == (
        1, "", f"Error: {name} line 6 is damaged (hash does not match content); run "
        "tracker verify\n")
    assert not list(tmp_path.glob(".*.building-*"))


def test_a_build_failing_here_stops_the_feeding_process(
        fed: Callable[[bool], list[int]], tmp_path: Path) -> None:
    """An event that cannot be projected, first in replay order: the build fails while
    the feeding process still has megabytes to send, and is not left waiting."""
    events = tmp_path / "events"
    generate(events, 10000)
    first = min(json.loads(line)["recorded_at"]
                for path in events.glob("*/*.jsonl") for line in path.open())
    event_id = "01A00000000000000000000000"
    untitled = envelope.seal({
        "id": event_id, "type": "meeting.recorded", "schema": envelope.SCHEMA,
        "subject": event_id, "recorded_at": first.replace(first[-8:], "000000Z"),
        "recorded_by": "t", "writer": "aaa-early", "seq": 1,
        "data": {"date": "2020", "status": "held", "source": {"citation": "c"}}})
    segment = events / "aaa-early" / f"{first[:7]}.jsonl"
    segment.parent.mkdir()
    segment.write_bytes(untitled)
    assert sum(path.stat().st_size for path in events.glob("*/*.jsonl")) > 4 * PIPE_BYTES
    with_feed, without = both_ways(fed, events, tmp_path)
    assert with_feed[0] == without[0] == (
        1, "", f"Error: event {event_id} cannot be projected (KeyError('title')); run "
        "tracker verify\n")


def half_a_frame(pipe: BinaryIO, *args: object) -> None:
    pipe.write(feed.LENGTH.pack(100) + bytes(10))
    pipe.flush()
    os._exit(3)


@pytest.mark.parametrize("dying", [lambda *args: os._exit(3), half_a_frame],
                         ids=["before a frame", "in a frame"])
def test_a_feeding_process_that_dies_is_reported(
        fed: Callable[[bool], list[int]], big_log: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, dying: Callable) -> None:
    monkeypatch.setattr(feed, "_feed", dying)
    fed(True)
    before = children()
    assert built(big_log, tmp_path / "fed.db") == (
        1, "", "Error: the process reading the log stopped before the end (exit status 3)\n")
    assert children() == before
    assert not (tmp_path / "fed.db").exists()


def test_a_failure_in_the_feeding_process_comes_with_its_traceback(
        fed: Callable[[bool], list[int]], big_log: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(event: dict) -> None:
        raise ZeroDivisionError("in the feed")

    monkeypatch.setattr(projection, "prepare", failing)
    fed(True)
    result = run("--events", big_log, "build", "--full", "--db", tmp_path / "fed.db")
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    message = str(result.exception)
    assert message.startswith("the process reading the log failed:\nTraceback")
    assert message.endswith("ZeroDivisionError: in the feed\n")


def test_only_a_large_log_on_several_cores_in_one_thread_is_fed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert worth_forking(FORK_BYTES)
    assert not worth_forking(FORK_BYTES - 1)
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert not worth_forking(FORK_BYTES)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not worth_forking(FORK_BYTES)


def test_new_records_in_a_row_are_prepared_together_by_table(big_log: Path) -> None:
    """A run of new records' events: each table's rows in order, and each record named
    once per table; an event whose rows need the database is left to the Projector."""
    events = [json.loads(line) for path in sorted(big_log.glob("*/*.jsonl"))
              for line in path.open()]
    meetings = [event for event in events if event["type"] == "meeting.recorded"][:2]
    run = projection.Prepared()
    assert [run.add(event) for event in meetings] == [True, True]
    fmt = next(event for event in events if event["type"] == "format.recorded")
    update = next(event for event in events if event["type"] == "meeting.status_changed")
    broken = {**meetings[0], "data": {**meetings[0]["data"], "date": "not a date"}}
    assert [run.add(event) for event in (fmt, update, broken)] == [False, False, False]
    count, tables = run.rows()
    assert count == 2
    expected: dict[str, tuple[list, list]] = {}
    for event in meetings:
        for table, values in projection.prepare(event) or []:
            rows, subjects = expected.setdefault(table, ([], []))
            rows.append(values)
            if event["subject"] not in subjects:
                subjects.append(event["subject"])
    assert tables == expected
    assert tables["events"][1] == [event["id"] for event in meetings]
    assert len(tables["meeting_participants"][0]) > len(tables["meeting_participants"][1])
