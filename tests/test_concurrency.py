"""Concurrent writers: 8 processes x 250 `tracker add` through the CLI, and 8 processes x 2000
appends through the library, all at once on one log, with events from the smallest valid
one (about 350 bytes) to the largest the model allows (1.1 MB).

Two processes share each writer id, so appends to the same segment contend for the lock.
Nothing may be lost or doubled: exactly that many new events, each with the content that
was sent, unique ids, a gapless seq per writer, `tracker verify` clean, and the projection
counting every one.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tracker.log import EventLog

from .conftest import PROJECT, SOURCE, ok, rows, run
from .workload import cli_arguments, digest, draw_size, meeting_data

PROCESSES = 8
CLI_APPENDS = 250
LIBRARY_APPENDS = 2000


def tracker_command() -> list[str]:
    """The console script next to this Python, else `python -m tracker`."""
    script = Path(sys.executable).with_name("tracker")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker"]


def check_log(events: Path, db: Path, sent: dict[str, str], before: int) -> dict[str, int]:
    """Every sent event is in the log once with its content; seq is gapless per writer;
    verify passes; the projection counts them all. Returns the event count per writer."""
    logged = list(EventLog(events).events())
    assert len(logged) == before + len(sent)
    ids = [event["id"] for event in logged]
    assert len(set(ids)) == len(ids)
    by_id = {event["id"]: event for event in logged}
    assert {event_id: digest(by_id[event_id]["data"]) for event_id in sent} == sent
    seqs: dict[str, list[int]] = defaultdict(list)
    for event in logged:
        seqs[event["writer"]].append(event["seq"])
    for numbers in seqs.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    sizes = [len(line) for path in EventLog(events).segments()
             for line in path.read_bytes().splitlines()]
    assert min(sizes) < 400 and max(sizes) > 1_000_000  # from 100 B of data to over 1 MB
    result = run("verify")
    assert (result.exit_code, result.stderr) == (0, "")
    assert re.fullmatch(rf"OK: {before + len(sent)} events in \d+ files?\n", result.stdout)
    ok("build")
    assert rows(db, "select count(*) as n from events") == [{"n": before + len(sent)}]
    assert rows(db, "select count(*) as n from meetings") == [{"n": len(sent)}]
    return {writer: len(numbers) for writer, numbers in seqs.items()}


@pytest.mark.stress
def test_eight_cli_processes_times_250_adds(events: Path, db: Path) -> None:
    ok("add", "format", "central-asia-japan", "--name", "Central Asia + Japan", *SOURCE)
    command = tracker_command()

    def writer(number: int) -> dict[str, str]:
        rng = random.Random(number)
        environment = {**os.environ, "TRACKER_WRITER": f"cli{number % 4}"}
        sent = {}
        for index in range(CLI_APPENDS):
            data = meeting_data(rng, draw_size(rng, index, large=3, small_max=8_000))
            result = subprocess.run([*command, *cli_arguments(data)], env=environment,
                                    capture_output=True, text=True, timeout=120)
            assert (result.returncode, result.stderr) == (0, ""), result.stderr
            sent[result.stdout.strip()] = digest(data)
        return sent

    with ThreadPoolExecutor(PROCESSES) as pool:
        results = list(pool.map(writer, range(PROCESSES)))
    sent = {event_id: value for result in results for event_id, value in result.items()}
    assert len(sent) == PROCESSES * CLI_APPENDS
    per_writer = check_log(events, db, sent, before=1)
    assert {writer: count for writer, count in per_writer.items() if writer.startswith("cli")} \
        == {f"cli{n}": 2 * CLI_APPENDS for n in range(4)}


@pytest.mark.stress
def test_eight_library_processes_times_2000_appends(events: Path, db: Path) -> None:
    """Half the appends go through recorder.record, half through session/Appender.write."""
    ok("add", "format", "central-asia-japan", "--name", "Central Asia + Japan", *SOURCE)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.workload", "append", str(events), f"lib{number % 4}",
             str(LIBRARY_APPENDS), str(number)],
            cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for number in range(PROCESSES)
    ]
    sent = {}
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert (process.returncode, err) == (0, "")
        for line in out.splitlines():
            event_id, value = line.split()
            sent[event_id] = value
    assert len(sent) == PROCESSES * LIBRARY_APPENDS
    per_writer = check_log(events, db, sent, before=1)
    assert {writer: count for writer, count in per_writer.items() if writer.startswith("lib")} \
        == {f"lib{n}": 2 * LIBRARY_APPENDS for n in range(4)}
    sizes = sorted(path.stat().st_size for path in events.glob("lib*/*.jsonl"))
    assert sum(sizes) > 50_000_000
