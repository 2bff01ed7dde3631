"""Locking: the log's lock survives other descriptors being closed, and `--id` makes retries
idempotent even when they race.

POSIX record locks (fcntl/lockf) belong to the process and are all dropped when it closes
*any* descriptor of the file, for example when a library reads the lock file or a
segment in the middle of an append. A flock belongs to its own open file description and
is released only when that is closed. The first test runs the same scenario with both
kinds and shows that only flock keeps the lock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracker.log import EventLog

from .conftest import PROJECT, log_bytes
from .test_concurrency import tracker_command

HOLDER = """
import fcntl, os, sys
if sys.argv[2] == "posix":
    fcntl.flock = fcntl.lockf  # what the log would do with POSIX record locks
from tests.test_log import fields
from tracker.log import EventLog

log = EventLog(sys.argv[1], writer="w1")
with log.session() as appender:
    appender.write(fields("first"))
    for path in (log.root / ".lock", log.root / "w1" / os.listdir(log.root / "w1")[0]):
        os.close(os.open(path, os.O_RDONLY))  # another descriptor, opened and closed
    print("closed", flush=True)
    sys.stdin.readline()  # until the test has probed the lock
    appender.write(fields("second"))
print("done", flush=True)
"""

PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
lock = fcntl.lockf if sys.argv[2] == "posix" else fcntl.flock
try:
    lock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("held")
else:
    print("free")
"""


@pytest.mark.parametrize(("kind", "expected"), [("flock", "held"), ("posix", "free")])
def test_closing_other_descriptors_during_an_append_keeps_only_a_flock(
        events: Path, kind: str, expected: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(events), kind], cwd=PROJECT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "closed\n"
        probe = subprocess.run([sys.executable, "-c", PROBE, str(events / ".lock"), kind],
                               capture_output=True, text=True, timeout=60)
        assert probe.stdout == f"{expected}\n", probe.stderr
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.stdout.read() == "done\n"
        assert holder.wait(timeout=60) == 0


def test_an_append_waits_while_another_append_has_closed_other_descriptors(
        events: Path) -> None:
    """The real CLI, started in the middle of an append, waits for it to end."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(events), "flock"],
                              cwd=PROJECT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline() == "closed\n"
    waiting = subprocess.Popen(
        [*tracker_command(), "--events", str(events), "add", "meeting", "--title", "third",
         "--date", "2020", "--source", "s"],
        env={**os.environ, "TRACKER_WRITER": "w1"}, stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert waiting.poll() is None, "tracker add ran during another process's append"
    holder.stdin.write("\n")
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert waiting.wait(timeout=60) == 0
    logged = [json.loads(line) for line in (events / "w1").glob("*.jsonl").__next__()
              .read_text().splitlines()]
    assert [(event["seq"], event["data"]["title"]) for event in logged] == [
        (1, "first"), (2, "second"), (3, "third")]


def race(events: Path, titles: list[str], event_id: str) -> list[subprocess.CompletedProcess]:
    """Start one `tracker add meeting --id` per title at once; wait for all."""
    processes = [
        subprocess.Popen(
            [*tracker_command(), "--events", str(events), "add", "meeting", "--title", title,
             "--date", "2020", "--source", "s", "--id", event_id],
            env={**os.environ, "TRACKER_WRITER": f"r{number % 3}"}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        for number, title in enumerate(titles)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def test_racing_retries_with_the_same_id_and_content_append_one_event(events: Path) -> None:
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"
    results = race(events, ["Same"] * 8, event_id)
    assert [result.returncode for result in results] == [0] * 8
    assert {result.stdout for result in results} == {f"{event_id}\n"}
    assert sorted(result.stderr for result in results) == [""] + [
        f"Already recorded: {event_id} (nothing appended)\n"] * 7
    assert [event["id"] for event in EventLog(events).events()] == [event_id]


def test_racing_appends_with_the_same_id_and_other_content_append_one(events: Path) -> None:
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1D"
    results = race(events, [f"Title {number}" for number in range(8)], event_id)
    [winner] = [result for result in results if result.returncode == 0]
    losers = [result for result in results if result.returncode != 0]
    assert [(result.returncode, result.stdout, result.stderr) for result in losers] == [
        (1, "", f"Error: id {event_id} is already used by another event\n")] * 7
    [event] = EventLog(events).events()
    assert event["id"] == event_id
    assert ["--title", event["data"]["title"]] == winner.args[-8:-6]
    before = log_bytes(events)
    again = race(events, [event["data"]["title"], "Other"], event_id)
    assert [result.returncode for result in again] == [0, 1]
    assert log_bytes(events) == before
