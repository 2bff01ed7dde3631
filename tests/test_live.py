"""Live refresh: what the CLI records shows in a running `tracker serve`, without a restart."""

from __future__ import annotations

import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from tracker.log import EventLog
from tracker.model import AMENDED, Draft
from tracker.recorder import record

from .conftest import METADATA, SOURCE, ok
from .inplace import interrupt_a_write
from .serving import Server, copy_bundled_project, tracker, tracker_serve
from .test_references import announcement, as_bob, diverge


def wait_until(check, seconds: float = 30) -> float:
    """Poll `check` until it is true; return how long that took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not true after {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - start


def meetings_counted(server: Server) -> int:
    tables = {table["name"]: table["count"] for table in server.json("/tracker.json")["tables"]}
    return tables["meetings"]


def meeting_titles(server: Server) -> list[str]:
    return [row["title"] for row in server.json("/tracker/meetings.json?_shape=array")]


def test_a_recorded_meeting_appears_without_a_restart(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    """How soon is measured by tests/benchmark.py (target 5 s): here, that it does."""
    project = copy_bundled_project(tmp_path / "project")
    when = (date.today() + timedelta(days=200)).isoformat()
    with tracker_serve(project) as server:
        assert len(meeting_titles(server)) == 9
        started = time.monotonic()
        added = tracker(project, "add", "meeting", "--title", "Live summit", "--date", when,
                        "--format", "central-asia-japan", "--city", "Ashgabat",
                        "--country", "TKM", "--source", "https://example.org/live")
        recorded = time.monotonic()
        assert added.returncode == 0, added.stderr
        meeting_id = added.stdout.strip()
        seconds = wait_until(lambda: "Live summit" in meeting_titles(server))
        record_property("seconds_to_appear", round(seconds, 3))
        print(f"appeared {seconds:.2f} s after the CLI returned "
              f"({recorded - started:.2f} s in the CLI)")
        # Everything else follows: the feeds, the counts, the views.
        feed = server.json("/tracker/recent_developments.json?_shape=array")
        assert feed[0]["atom_title"] == "Meeting: Live summit"
        calendar = server.get("/tracker/scheduled_meetings.ics").decode()
        assert f"UID:{meeting_id}@tracker" in calendar
        wait_until(lambda: meetings_counted(server) == 10)  # once the counts are swapped in
        upcoming = server.json("/tracker/upcoming_meetings.json?_shape=array")
        assert "Live summit" in [row["title"] for row in upcoming]
    assert "Reloaded tracker.db" in server.stderr()


def test_a_log_that_cannot_be_built_leaves_the_site_serving(tmp_path: Path) -> None:
    project = copy_bundled_project(tmp_path / "project")
    with tracker_serve(project) as server:
        segment = next((project / "events" / "bundled").glob("*.jsonl"))
        with open(segment, "ab") as damaged:
            damaged.write(b'{"not": "an event"}\n')
        wait_until(lambda: "could not be rebuilt" in server.stderr())
        assert len(meeting_titles(server)) == 9
        warning = server.stderr().splitlines()[-1]
        assert warning.startswith("Warning: the log changed but tracker.db could not be "
                                  "rebuilt (Error: ")
        assert warning.endswith("still serving the previous build")


def test_no_watch_serves_what_was_built(tmp_path: Path) -> None:
    project = copy_bundled_project(tmp_path / "project")
    with tracker_serve(project, "--no-watch") as server:
        added = tracker(project, "add", "announcement", "--title", "Quiet", "--date", "2024",
                        "--by", "JPN", "--source", "https://example.org/q")
        assert added.returncode == 0, added.stderr
        time.sleep(2)
        tables = {table["name"]: table["count"]
                  for table in server.json("/tracker.json")["tables"]}
        assert tables["announcements"] == 4
    assert "Reloaded" not in server.stderr()


def test_a_build_killed_while_writing_is_played_back_while_serving(tmp_path: Path) -> None:
    """Its journal makes the file unreadable read-only: the watcher runs a build, which
    plays the journal back, though the log did not change."""
    project = copy_bundled_project(tmp_path / "project")
    with tracker_serve(project) as server:
        added = tracker(project, "add", "announcement", "--title", "Seen", "--date", "2024",
                        "--by", "JPN", "--source", "https://example.org/s")
        assert added.returncode == 0, added.stderr
        wait_until(lambda: "Reloaded" in server.stderr())  # the watcher has seen the log
        titles = meeting_titles(server)
        interrupt_a_write(project / "tracker.db")
        wait_until(lambda: not (project / "tracker.db-journal").exists())
        assert meeting_titles(server) == titles


def test_a_full_rebuild_while_serving_warns_only_of_what_is_new(
    events: Path, japan_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob's meeting of the format, recorded before Alice retracted it, merged while
    serving: the watcher rebuilds in full (an older event), which finds again the loop
    start-up warned of. It warns of the new reference only (it repeated the loop)."""
    itself = announcement("Itself")
    clone = diverge(events, monkeypatch)
    meeting = as_bob(clone, monkeypatch, "add", "meeting", "--title", "Tokyo", "--date",
                     "2022-12", "--format", japan_format, *SOURCE)
    ok("retract", japan_format, "--reason", "recorded twice")
    record(EventLog(events), Draft(AMENDED, {"changes": {"about": [itself]}, "reason": "x"},
                                   itself))  # a loop, as older versions could record
    shutil.copy(METADATA, events.parent / "datasette-metadata.json")
    (events.parent / "tracker.db").unlink()  # start-up builds in full
    loop = ("Warning: 1 reference of announcements about each other in a loop (a merge can "
            f"leave them): announcement {itself} --about {itself}; amend one in each loop\n")
    with tracker_serve(events.parent) as server:
        assert server.stderr() == "Built tracker.db from 4 events\n" + loop
        shutil.copytree(clone / "bob", events.parent / "merged")
        (events.parent / "merged").rename(events / "bob")  # at once, as a merge
        wait_until(lambda: "Reloaded" in server.stderr())
        assert server.stderr() == (
            "Built tracker.db from 4 events\n" + loop
            + "Warning: 1 reference to retracted records (a merge can leave them): "
            f"meeting {meeting} --format central-asia-japan; amend it\n"
            "Reloaded tracker.db\n")


def test_serve_says_it_updated_the_database_with_the_new_events(tmp_path: Path) -> None:
    """Start-up brings a stale database up to date as `tracker build` does, and says so
    in its words: 'Built ... from 1 event' read as a database of one event."""
    project = copy_bundled_project(tmp_path / "project")
    assert tracker(project, "build").returncode == 0
    added = tracker(project, "add", "announcement", "--title", "Seen", "--date", "2024",
                    "--by", "JPN", "--source", "https://example.org/s")
    assert added.returncode == 0, added.stderr
    with tracker_serve(project) as server:
        assert server.stderr() == "Updated tracker.db with 1 new event\n"
