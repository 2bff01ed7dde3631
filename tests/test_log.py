"""The append-only log: segments, seq, torn tails, locking and recovery."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tracker import envelope
from tracker.errors import TrackerError
from tracker.log import EventLog
from tracker.model import draft_record
from tracker.recorder import record

from .conftest import SOURCE, ok, run


def fields(title: str, recorded_at: str | None = None) -> dict:
    draft = draft_record("meeting", {"title": title, "date": "2020", "source": "s"})
    event_id = envelope.new_id()
    return {"id": event_id, "type": draft.type, "schema": envelope.SCHEMA, "subject": event_id,
            "recorded_at": recorded_at or envelope.now(), "recorded_by": "t",
            "data": draft.data}


def segment(events: Path) -> Path:
    [path] = events.glob("*/*.jsonl")
    return path


def test_lines_are_canonical_hashed_and_gapless(events: Path) -> None:
    for title in "ABC":
        ok("add", "meeting", "--title", title, "--date", "2020", *SOURCE)
    lines = segment(events).read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = [json.loads(line) for line in lines[:-1]]
    assert [event["seq"] for event in parsed] == [1, 2, 3]
    assert [event["recorded_at"] for event in parsed] == sorted(
        event["recorded_at"] for event in parsed)
    for line, event in zip(lines[:-1], parsed, strict=True):
        assert line == envelope.canonical(event)
        assert event["hash"] == envelope.content_hash(event)
        assert envelope.line_hash_ok(line)


def test_segments_are_per_writer_and_month(events: Path) -> None:
    log = EventLog(events, writer="alice")
    with log.session() as appender:
        appender.write(fields("A", "2026-10-31T23:59:59.999999Z"))
        appender.write(fields("B", "2026-11-01T00:00:00.000000Z"))
    with EventLog(events, writer="bob").session() as appender:
        appender.write(fields("C", "2026-11-02T00:00:00.000000Z"))
    assert sorted(str(path.relative_to(events)) for path in events.glob("*/*.jsonl")) == [
        "alice/2026-10.jsonl", "alice/2026-11.jsonl", "bob/2026-11.jsonl"]
    with log.session() as appender:
        assert appender.seq == 2  # continues across segment files
        with pytest.raises(TrackerError, match=re.escape(
                "recorded_at 2026-10-01T00:00:00.000000Z is before the last event of writer "
                "alice (2026-11-01T00:00:00.000000Z): a writer's events go forward in time")):
            appender.write(fields("D", "2026-10-01T00:00:00.000000Z"))
    assert ok("verify") == "OK: 3 events in 3 files"


def test_writer_from_environment(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_WRITER", "carol")
    ok("add", "meeting", "--title", "T", "--date", "2020", *SOURCE)
    assert segment(events).parent.name == "carol"
    monkeypatch.setenv("TRACKER_WRITER", "Not Valid")
    result = run("add", "meeting", "--title", "T", "--date", "2020", *SOURCE)
    assert (result.exit_code, result.stderr) == (
        1, "Error: invalid writer id 'Not Valid': use a-z, 0-9 and '-'\n")


def test_lock_is_an_flock_held_across_the_append(events: Path) -> None:
    """While another process holds the flock, an append waits for it."""
    ok("add", "meeting", "--title", "A", "--date", "2020", *SOURCE)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(events / '.lock')!r}, os.O_RDWR)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\n"
         "time.sleep(1.5)\n"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    env = {**os.environ}
    writer = subprocess.run(
        [sys.executable, "-m", "tracker", "add", "meeting", "--title", "B", "--date", "2020",
         *SOURCE], env=env, capture_output=True, text=True, timeout=60)
    assert holder.poll() == 0, "the append finished while the other process held the lock"
    assert writer.returncode == 0, writer.stderr
    holder.wait()


def test_concurrent_cli_writers_keep_seq_gapless(events: Path) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c",
             "import sys\nfrom tracker.cli import cli\n"
             f"for i in range(10):\n"
             f"    try:\n"
             f"        cli(['add', 'meeting', '--title', 'P{n}-%d' % i, '--date', '2020',"
             f"             '--source', 's'], standalone_mode=False)\n"
             f"    except SystemExit:\n"
             f"        pass\n"],
            stdout=subprocess.DEVNULL)
        for n in range(4)
    ]
    for process in processes:
        assert process.wait(timeout=120) == 0
    events_read = list(EventLog(events).events())
    assert len(events_read) == 40
    assert sorted(event["seq"] for event in events_read) == list(range(1, 41))
    assert len({event["id"] for event in events_read}) == 40
    assert ok("verify") == "OK: 40 events in 1 file"


def test_record_refuses_reference_to_unknown_format(events: Path) -> None:
    draft = draft_record("meeting", {"title": "T", "date": "2020", "format": "nope",
                                     "source": "s"})
    with pytest.raises(TrackerError, match="unknown format 'nope'"):
        record(EventLog(events), draft)
    assert list(events.glob("*/*.jsonl")) == []


def test_new_ids_are_ulids_that_sort_by_time() -> None:
    from datetime import datetime, timezone

    ids = [envelope.new_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(envelope.ULID_PATTERN.fullmatch(event_id) for event_id in ids)
    earlier = envelope.new_id(int(datetime(2004, 8, 1, tzinfo=timezone.utc).timestamp() * 1000))
    later = envelope.new_id(int(datetime(2024, 8, 1, tzinfo=timezone.utc).timestamp() * 1000))
    assert earlier < later < ids[0]
    assert earlier[:10] == "00ZRBTAH00"  # 48 bits of milliseconds, Crockford base32
    assert envelope.id_milliseconds(earlier) == 1091318400000


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize(("content", "lines", "tail"), [
    (b"", [], None),
    (b"a\nbb\nccc\n", [b"a", b"bb", b"ccc"], None),
    (b"a\n\nccc\n", [b"a", b"", b"ccc"], None),
    (b"a\nbb\ncc", [b"a", b"bb"], (5, b"cc")),
    (b"torn", [], (0, b"torn")),
    (b"a\nb\0b\n", [b"a"], (2, b"b\0b\n")),
    (b"a\0\nb\n", [b"a\0", b"b"], None),  # only the last line can be torn
    (b"a\n\0\0\0", [b"a"], (2, b"\0\0\0")),
    (b"x" * 100 + b"\n" + b"y" * 50 + b"\n", [b"x" * 100, b"y" * 50], None),
])
def test_line_blocks_cut_lines_and_tail_whatever_the_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, content: bytes,
    lines: list[bytes], tail: tuple[int, bytes] | None,
) -> None:
    from tracker import log
    from tracker.log import Tail, line_blocks

    monkeypatch.setattr(log, "READ_BLOCK", block)
    path = tmp_path / "2020-01.jsonl"
    path.write_bytes(content)
    blocks = list(line_blocks(path))
    tails = [item for item in blocks if isinstance(item, Tail)]
    assert [line for item in blocks if not isinstance(item, Tail) for line in item] == lines
    assert all(item for item in blocks if not isinstance(item, Tail))  # no empty block
    assert [(item.offset, item.data) for item in tails] == ([tail] if tail else [])
    assert not tails or blocks[-1] is tails[0]
    if block == 1 << 20 and len(lines) > 1:
        assert len(blocks) <= 3  # a block at a time, not a line at a time


@pytest.mark.parametrize("block", [1, 3, 1 << 20])
@pytest.mark.parametrize("content", [b"a\nbb\n\nccc\nd\n", b"a\nbb\n\nccc\nd\ntorn",
                                     b"a\nbb\n\nccc\nd\0\n"])
def test_line_blocks_of_part_of_a_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          block: int, content: bytes) -> None:
    """From any line's start to just after any later newline: the lines between, no tail;
    to the end: the rest, with the tail that the whole segment has."""
    from tracker import log
    from tracker.errors import TrackerError
    from tracker.log import Tail, line_blocks

    monkeypatch.setattr(log, "READ_BLOCK", block)
    path = tmp_path / "2020-01.jsonl"
    path.write_bytes(content)
    whole = list(line_blocks(path))
    tail = [item for item in whole if isinstance(item, Tail)]
    lines = [line for item in whole if not isinstance(item, Tail) for line in item]
    starts = [0] + [at + 1 for at, byte in enumerate(content) if byte == ord("\n")]
    for first, start in enumerate(starts):
        for end in starts[first + 1:]:
            assert [line for item in line_blocks(path, start, end) for line in item] == (
                content[start:end].split(b"\n")[:-1])
        if start == len(content):
            continue  # nothing after: no part starts there
        rest = list(line_blocks(path, start))
        assert [line for item in rest if not isinstance(item, Tail) for line in item] == (
            lines[first:])
        assert [(item.offset, item.data) for item in rest if isinstance(item, Tail)] == [
            (item.offset, item.data) for item in tail]
    with pytest.raises(TrackerError, match=r"2020-01\.jsonl changed while it was read"):
        list(line_blocks(path, 0, 3))  # not just after a newline
    with pytest.raises(TrackerError, match="changed while it was read"):
        list(line_blocks(path, 0, len(content) + 5))  # beyond the end
