"""Power loss (simulated): every acknowledged event survives a power failure at any moment.

How: a writer process runs real `tracker` commands with its file-changing `os` calls
traced (tests/powerloss.py). The trace is replayed on a model disk that keeps, for every
file, the bytes written and the bytes as of its last fsync, and for every directory, its
entries and its entries as of its last fsync. At every point of the trace (before each
call that changes a file), the test builds what the disk would hold if the power failed
there, in four ways: unsynced data all lost, all written back, and twice at random (a
prefix of it, or any set of 4 KiB pages with zeros in the others, as when a file's size
reaches the disk before its data). Then it checks that every event acknowledged before
that point is in the log, that `tracker verify` finds no problem (a tail left by the cut
is only a warning), and that the next append works and leaves a clean log.

The writers run `add`, `cite` and `import` (many events in one session, written in
chunks and fsynced once). Scenarios: a fresh log (creating events/, the writer id and
its first segment), a log
ending with a torn line (so that the quarantine runs), and a process killed at a random
call followed by another process (which must make durable what the dead one left
unsynced: a directory it created, a file it opened). The model is checked against the
real files after every process: what the shim recorded must be exactly what is on disk.
Two broken writers (no directory fsync, no file fsync) must be caught.

Modelled: lost and partially written-back data of unsynced files, lost directory entries
(file creation, mkdir, link, unlink) until their directory is fsynced, as POSIX allows
and as ext4 can do without journalled metadata ordering.
Not modelled: a disk or controller that acknowledges an fsync it did not perform;
corruption of data that was synced (bit rot, a torn sector inside a synced page); the
ordering of metadata-only changes between fsyncs beyond "not durable until the directory
fsync" (a rename is treated like link + unlink, each lost or kept with its directory);
several processes writing at the same moment (each scenario runs one process at a time,
which is what the lock guarantees for one writer's segment).
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tracker.log import EventLog
from tracker.verify import verify

from .conftest import PROJECT, SOURCE, ok, run
from .powerloss import CRASHED, Disk
from .workload import cli_arguments, meeting_data

VARIANTS = ("lost", "written", "random", "random")
CALLS = {"open", "write", "fsync", "ftruncate", "mkdir", "link", "unlink", "rename"}
LARGE = cli_arguments(meeting_data(random.Random(7), 40_000))
COMMANDS = [
    ["add", "format", "caj", "--name", "Central Asia + Japan", "--member", "JPN,KAZ", *SOURCE],
    ["add", "meeting", "--title", "Bad date", "--date", "2019-02-30", *SOURCE],  # refused
    ["add", "meeting", "--title", "Ministers", "--date", "2022-12", "--format", "caj", *SOURCE],
    LARGE,
    ["import", "{import}", "--kind", "meeting", "--json"],  # many events, one session
    ["cite", "caj", "--source", "https://example.org/b"],
]
IMPORTED = ("title,date,source\nImported one,2021,https://example.org/i\n"
            "Imported two,2021-05,https://example.org/j\n")
AFTER_A_CRASH = [
    ["add", "format", "cak", "--name", "Central Asia + Korea", *SOURCE],
    ["add", "meeting", "--title", "Summit", "--date", "2024", "--format", "cak", *SOURCE],
    ["cite", "cak", "--source", "https://example.org/c"],
]


def real_tree(base: Path) -> dict[str, bytes | None]:
    """The files under the base, but for the catalog's index (see Tracer.under)."""
    return {str(path.relative_to(base)): (None if path.is_dir() else path.read_bytes())
            for path in sorted(base.rglob("*")) if "/.cache/catalog" not in f"/{path}"}


def run_writer(base: Path, commands: list[list[str]], crash_at: int | None = None,
               drop: str = "") -> list[tuple]:
    trace = base.parent / "trace.pickle"
    rows = base.parent / "import.csv"
    rows.write_text(IMPORTED)
    commands = [[argument.replace("{import}", str(rows)) for argument in command]
                for command in commands]
    environment = {**os.environ, "TRACKER_EVENTS": str(base / "events"),
                   "TRACKER_DB": str(base.parent / "tracker.db"),
                   "POWERLOSS_TRACE": str(trace)}
    result = subprocess.run(
        [sys.executable, "-m", "tests.powerloss", str(base),
         "-" if crash_at is None else str(crash_at), drop, json.dumps(commands)],
        cwd=PROJECT, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, CRASHED), result.stderr
    with open(trace, "rb") as file:
        return pickle.load(file)


def check_survivor(target: Path, acknowledged: list[str], figures: Counter) -> None:
    """The disk after a power failure: every acknowledged event is there, verify passes,
    and the next append works and leaves a clean log."""
    events = target / "events"
    log = EventLog(events)
    present = set()
    for event in log.events():
        present |= {event["id"], event["subject"]}
    lost = [name for name in acknowledged if name not in present]
    assert lost == [], f"acknowledged events lost: {lost}"
    report = verify(log)
    assert report.problems == [], report.problems
    figures["power cuts that left a tail"] += bool(report.warnings)
    result = run("--events", events, "add", "meeting", "--title", "After the power cut",
                 "--date", "2020", "--source", "s")
    assert result.exit_code == 0, result.output
    report = verify(log)
    assert (report.problems, report.warnings) == ([], [])


def cut_everywhere(tmp_path: Path, runs: list[tuple[list[list[str]], int | None]],
                   figures: Counter, drop: str = "", first_cut_run: int = 0,
                   variants: tuple[str, ...] = VARIANTS) -> list[str]:
    """Run the writers one after the other; cut the power at every point of their traces
    (from run `first_cut_run` on). Returns what failed at each cut where a check failed
    (nothing for a correct writer)."""
    base = tmp_path / "disk"
    base.mkdir(exist_ok=True)
    disk = Disk(base)
    rng = random.Random(len(runs))
    acknowledged: list[str] = []
    failures: list[str] = []
    for number, (commands, crash_at) in enumerate(runs):
        for entry in run_writer(base, commands, crash_at, drop):
            if entry[0] in CALLS and number >= first_cut_run:
                for variant in variants:
                    target = tmp_path / "after"
                    shutil.rmtree(target, ignore_errors=True)
                    disk.after_power_loss(target, rng, variant)
                    try:
                        check_survivor(target, acknowledged, figures)
                    except AssertionError as error:
                        failures.append(f"cut before {entry[:2]} ({variant}): {error}")
                    figures["power cuts checked"] += 1
            disk.apply(entry)
            if entry[0] == "ack":
                acknowledged.append(entry[1])
                figures["acknowledged events"] += 1
        disk.end_of_process()
        assert disk.cached_tree() == real_tree(base), "the trace missed a change"
    return failures


@pytest.fixture(autouse=True)
def no_fsync_in_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks run on a folder that only stands for the disk after the power cut: their
    own appends need not reach the real disk (the writers, in their own processes, fsync)."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


@pytest.fixture
def figures(capsys: pytest.CaptureFixture):
    counted: Counter = Counter()
    yield counted
    with capsys.disabled():
        print("\npower loss:", dict(sorted(counted.items())))


@pytest.mark.stress
def test_a_fresh_log_survives_power_loss_anywhere(tmp_path: Path, figures: Counter) -> None:
    assert cut_everywhere(tmp_path, [(COMMANDS, None)], figures) == []
    assert figures["acknowledged events"] == 6


@pytest.mark.stress
def test_the_quarantine_survives_power_loss_anywhere(tmp_path: Path, figures: Counter,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    events = tmp_path / "disk" / "events"
    monkeypatch.setenv("TRACKER_EVENTS", str(events))
    ok("add", "format", "caj", "--name", "Central Asia + Japan", *SOURCE)
    [segment] = events.glob("*/*.jsonl")
    with open(segment, "ab") as file:
        file.write(b'{"data":{"title":"torn by a crash')
    assert cut_everywhere(tmp_path, [(COMMANDS[2:], None)], figures) == []
    assert len(list((events / ".quarantine").glob("*/*.torn"))) == 1


@pytest.mark.stress
def test_a_process_crash_then_power_loss(tmp_path: Path, figures: Counter) -> None:
    """The first writer dies at a call of its first append (what it wrote stays unsynced
    in the page cache: the log folder, the writer id, the segment and its first line);
    the next writer must make its own appends durable all the same. Every call of that
    first append is tried in turn."""
    reference = tmp_path / "reference"
    reference.mkdir()
    calls = sum(entry[0] in CALLS for entry in run_writer(reference, COMMANDS[:1]))
    for crash_at in range(calls):
        place = tmp_path / f"crash-{crash_at}"
        place.mkdir()
        runs = [(COMMANDS, crash_at), (AFTER_A_CRASH, None)]
        failures = cut_everywhere(place, runs, figures, first_cut_run=1,
                                  variants=("lost", "random"))
        assert failures == [], (crash_at, failures)
        figures["process crashes"] += 1
    assert calls >= 20  # the first append makes that many calls, each a crash tried


@pytest.mark.parametrize("drop", ["dir", "file"])
def test_a_writer_that_skips_fsyncs_is_caught(tmp_path: Path, figures: Counter,
                                              drop: str) -> None:
    failures = cut_everywhere(tmp_path, [(COMMANDS, None)], figures, drop)
    assert any("acknowledged events lost" in failure for failure in failures)
