"""What killed processes leave beside the database is removed once they are gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker.orphans import remove_orphans

from .benchmark import generate
from .conftest import PROJECT, SOURCE, ok


def a_gone_pid() -> int:
    """The id of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def a_running_pid() -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_a_full_build_removes_what_killed_builds_left(events: Path, db: Path,
                                                      a_running_pid: int) -> None:
    ok("add", "meeting", "--title", "A", "--date", "2019", *SOURCE)
    gone = db.with_name(f".tracker.db.building-{a_gone_pid()}")
    running = db.with_name(f".tracker.db.building-{a_running_pid}")
    other = db.with_name(".tracker.db.building-notes")
    for path in (gone, running, other):
        path.write_bytes(b"partial")
    assert ok("build").startswith("Built ")
    assert not gone.exists()
    assert running.read_bytes() == other.read_bytes() == b"partial"  # not ours to remove


def test_a_build_killed_midway_leaves_a_file_the_next_build_removes(tmp_path: Path) -> None:
    events, db = tmp_path / "events", tmp_path / "tracker.db"
    generate(events, 20000)
    command = [sys.executable, "-m", "tracker", "--events", str(events), "--db", str(db),
               "build"]
    building = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".tracker.db.building-*")):
        assert building.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(building.pid, signal.SIGKILL)
    building.wait()
    [left] = tmp_path.glob(".tracker.db.building-*")
    assert left.name == f".tracker.db.building-{building.pid}" and not db.exists()
    rebuilt = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True)
    assert rebuilt.stdout == f"Built {db} from 20000 events\n"
    assert list(tmp_path.glob(".tracker.db.building-*")) == []


def test_snapshots_of_servers_that_are_gone(tmp_path: Path, a_running_pid: int) -> None:
    """A server killed while it copies the database for a download leaves the copy."""
    gone = a_gone_pid()
    names = [f".tracker.download-1-{gone}.db", f".tracker.download-12-{gone}.db",
             f".tracker.download-1-{a_running_pid}.db", ".tracker.download-x.db",
             "tracker.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    remove_orphans(tmp_path, ".tracker.download-*.db")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names[2:])
