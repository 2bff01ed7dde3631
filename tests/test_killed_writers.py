"""Killed writers: SIGKILL at random moments, including in the middle of the largest events.

Each iteration starts a writer process on a log and kills it with SIGKILL:
- `random`: a library writer appending a mix of sizes, killed after a random delay;
- `large`: a library writer whose every other event is the largest the model allows
  (1.1 MB), killed 0-0.8 ms after it announces the write of one, so during its write or fsync;
- `cli`: a real `tracker add` process with a large event, killed at a random moment of
  its run (start-up, validation, lock, write, fsync, exit).

After every kill: every acknowledged event (printed after its append returned, or exit 0
of `tracker add`) is in the log with its content; of the unacknowledged ones, only the one
in flight may be there, whole (its write completed just before the kill), or left as a
tail that is a prefix of its line; `tracker verify` passes (a tail is a warning). The
next iteration's writer is the next append: it moves any tail to the quarantine. Ten
iterations share a log; at the end of each group one more append per writer must work,
leave no tail, and every quarantined file must hold a prefix of an event in flight.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tracker import envelope
from tracker.log import EventLog, Line, Tail
from tracker.verify import verify

from .conftest import PROJECT, SOURCE, ok
from .test_concurrency import tracker_command
from .workload import cli_arguments, digest, expected_line, meeting_data

ITERATIONS = 200
PER_LOG = 10
WRITERS = ("k0", "k1")


def kill_library_writer(events: Path, writer: str, rng: random.Random, mode: str,
                        figures: Counter) -> tuple[dict[str, bytes], list[str], dict[str, str]]:
    """Run and kill a kill target; return (lines of events begun, ids acknowledged, digests)."""
    seed, big_every = rng.randrange(2**32), (2 if mode == "large" else 0)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.workload", "kill-target", str(events), writer, str(seed),
         str(big_every)], cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    seen = []
    if mode == "random":
        time.sleep(rng.uniform(0, 0.25))
    else:
        while True:
            line = process.stdout.readline()
            seen.append(line)
            parts = line.split()
            if parts and parts[0] == "begin" and int(parts[4]) % big_every == big_every - 1:
                break
        time.sleep(rng.uniform(0, 0.0008))
    process.send_signal(signal.SIGKILL)
    seen += process.stdout.read().splitlines(keepends=True)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    begun: dict[str, bytes] = {}
    acknowledged: list[str] = []
    digests: dict[str, str] = {}
    for line in seen:
        parts = line.split()
        if not line.endswith("\n"):
            continue  # a line cut by the kill: not acknowledged
        if parts[0] == "begin":
            event_id, seq, recorded_at, index = parts[1], int(parts[2]), parts[3], int(parts[4])
            begun[event_id] = expected_line(seed, index, big_every, event_id, seq,
                                            recorded_at, writer)
            if len(begun[event_id]) > 700_000:
                figures["largest events begun"] += 1
        elif parts[0] == "ok":
            acknowledged.append(parts[1])
            digests[parts[1]] = digest(envelope.parse_line(begun[parts[1]][:-1])["data"])
    return begun, acknowledged, digests


def kill_cli_writer(events: Path, writer: str, rng: random.Random,
                    figures: Counter) -> tuple[dict[str, bytes], list[str], dict[str, str]]:
    """Run `tracker add` with a large event and `--id`, killed at a random moment."""
    event_id = envelope.new_id()
    data = meeting_data(rng, rng.choice((10**7, rng.randrange(100_000, 700_000))))
    process = subprocess.Popen(
        [*tracker_command(), "--events", str(events), *cli_arguments(data), "--id", event_id],
        env={**os.environ, "TRACKER_WRITER": writer}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    time.sleep(rng.uniform(0, 0.35))  # such a run takes 0.1-0.35 s
    process.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=60)
    prefix = b'{"data":' + envelope.canonical(data) + b',"hash":"'
    if process.returncode == 0:
        figures["cli runs that finished first"] += 1
        assert out == f"{event_id}\n", err
        return {event_id: prefix}, [event_id], {event_id: digest(data)}
    assert process.returncode == -signal.SIGKILL
    return {event_id: prefix}, [], {}


def is_part_of(data: bytes, lines: list[bytes]) -> bool:
    """Whether a tail is the start of a line in flight: of its exact bytes (library
    writers), or agreeing with its known beginning (`tracker add`); never a whole line."""
    return b"\n" not in data and any(
        line.startswith(data) or data.startswith(line) for line in lines)


def check_after_kill(events: Path, begun: dict[str, bytes], acknowledged: list[str],
                     digests: dict[str, str], in_flight: dict[str, list[bytes]],
                     writer: str, figures: Counter) -> None:
    log = EventLog(events)
    items = list(log.lines())
    present = {}
    for item in items:
        if isinstance(item, Line):
            event = envelope.parse_line(item.body)
            present[event["id"]] = event
    for event_id in acknowledged:
        assert event_id in present, f"acknowledged event {event_id} lost"
        assert digest(present[event_id]["data"]) == digests[event_id]
    unacknowledged = [event_id for event_id in begun if event_id not in acknowledged]
    assert len(unacknowledged) <= 1, unacknowledged
    for event_id in unacknowledged:
        if event_id in present:
            figures["in flight, present whole"] += 1
        else:
            in_flight[writer].append(begun[event_id])
    tails = [item for item in items if isinstance(item, Tail)]
    for tail in tails:
        assert is_part_of(tail.data, in_flight[tail.path.parent.name]), tail.data[:200]
    if any(tail.path.parent.name == writer for tail in tails):
        figures["kills that left a torn line"] += 1
        if len(next(t for t in tails if t.path.parent.name == writer).data) > 65_536:
            figures["torn lines over 64 KB"] += 1
    report = verify(log)
    assert report.problems == []
    assert len(report.warnings) == len(tails)


@pytest.mark.stress
def test_writers_killed_at_random_moments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    rng = random.Random(20261122)
    figures: Counter = Counter()
    for group in range(ITERATIONS // PER_LOG):
        events = tmp_path / f"log{group}"
        in_flight: dict[str, list[bytes]] = {writer: [] for writer in WRITERS}
        for iteration in range(PER_LOG):
            writer = WRITERS[iteration % 2]
            mode = ("random", "large", "random", "large", "cli")[rng.randrange(5)]
            figures[f"iterations: {mode}"] += 1
            if mode == "cli":
                begun, acknowledged, digests = kill_cli_writer(events, writer, rng, figures)
            else:
                begun, acknowledged, digests = kill_library_writer(events, writer, rng, mode,
                                                                   figures)
            figures["acknowledged events"] += len(acknowledged)
            check_after_kill(events, begun, acknowledged, digests, in_flight, writer, figures)
        # the next append works for every writer, and leaves the log whole
        for writer in WRITERS:
            monkeypatch.setenv("TRACKER_WRITER", writer)
            ok("--events", events, "add", "meeting", "--title", "After", "--date", "2020",
               *SOURCE)
        report = verify(EventLog(events))
        assert (report.problems, report.warnings) == ([], [])
        for writer in WRITERS:
            for moved in (events / ".quarantine" / writer).glob("*.torn"):
                assert is_part_of(moved.read_bytes(), in_flight[writer])
                figures["quarantined files"] += 1
    with capsys.disabled():
        print("\nkilled writers:", dict(sorted(figures.items())))
    # every way of writing was killed often enough (the seeded draw gives each its share)
    assert all(figures[f"iterations: {mode}"] >= ITERATIONS // 10
               for mode in ("random", "large", "cli")), figures
    assert figures["kills that left a torn line"] >= 3
    assert figures["largest events begun"] >= 50
