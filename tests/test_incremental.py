"""Incremental builds: only new events, and the same contents as a full rebuild."""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker import envelope, projection, schema
from tracker.log import EventLog
from tracker.model import RESCHEDULING, draft_record

from .conftest import SOURCE, ok, rows, run
from .inplace import interrupt_a_write
from .test_projection import dump

FTS_TABLES = ("formats_fts", "meetings_fts", "announcements_fts", "pledges_fts", "sources_fts")


# Derived tables, refreshed by key, and views, whose rows come in the order the query
# planner picks (an incremental build keeps the statistics of its first full build).
DERIVED = {table.name for table in schema.TABLES if table.derived} | set(schema.VIEWS)


def contents(db: Path) -> dict:
    """Every table and view, without the internals of the full-text indexes, which are
    checked for consistency with their tables instead. Tables replayed from events must
    match row for row, in order; derived tables and views, as sets of rows."""
    with closing(sqlite3.connect(db)) as conn:
        for table in FTS_TABLES:
            conn.execute(f"insert into {table}({table}) values ('integrity-check')")
    return {name: sorted(rows, key=repr) if name in DERIVED else rows
            for name, rows in dump(db).items() if "_fts" not in name}


def full_rebuild(events: Path, folder: Path) -> dict:
    target = folder / "full.db"
    ok("--events", events, "build", "--full", "--db", target)
    return contents(target)


def test_new_events_are_applied_incrementally(events: Path, db: Path, tmp_path: Path) -> None:
    meeting = ok("add", "meeting", "--title", "M", "--date", "2019", *SOURCE)
    assert ok("build") == f"Built {db} from 1 event"
    assert ok("build") == f"Updated {db} with 0 new events"
    ok("update", meeting, "--status", "cancelled", *SOURCE)
    ok("amend", meeting, "--set", "title=Meeting of ministers", "--reason", "typo")
    assert ok("build") == f"Updated {db} with 2 new events"
    assert rows(db, "select title, status from meetings") == [
        {"title": "Meeting of ministers", "status": "cancelled"}]
    assert contents(db) == full_rebuild(events, tmp_path)


def test_older_events_from_a_merge_force_a_full_rebuild(
    events: Path, db: Path, tmp_path: Path
) -> None:
    ok("add", "meeting", "--title", "Late", "--date", "2019", *SOURCE)
    ok("build")
    draft = draft_record("meeting", {"title": "Early", "date": "2018", "source": "s"})
    with EventLog(events, writer="other-clone").session() as appender:
        appender.write({"id": "01F00000000000000000000000", "type": draft.type,
                        "schema": envelope.SCHEMA, "subject": "01F00000000000000000000000",
                        "recorded_at": "2021-01-01T00:00:00.000000Z", "recorded_by": "b",
                        "data": draft.data})
    assert ok("build") == f"Built {db} from 2 events"
    assert [r["title"] for r in rows(db, "select title from meetings order by rowid")] == [
        "Early", "Late"]
    assert contents(db) == full_rebuild(events, tmp_path)


def test_a_rewritten_segment_forces_a_full_rebuild(events: Path, db: Path) -> None:
    for title in ("A", "B"):
        ok("add", "meeting", "--title", title, "--date", "2019", *SOURCE)
    ok("build")
    [segment] = events.glob("*/*.jsonl")
    first = segment.read_bytes().split(b"\n")[0] + b"\n"
    segment.write_bytes(first)  # the last event removed (tampering; verify names it)
    assert ok("build") == f"Built {db} from 1 event"


def test_an_as_of_database_is_rebuilt_in_full(events: Path, db: Path) -> None:
    ok("add", "meeting", "--title", "A", "--date", "2019", *SOURCE)
    ok("build", "--as-of", "2000-01-01")
    assert rows(db, "select count(*) as n from meetings") == [{"n": 0}]
    assert ok("build") == f"Built {db} from 1 event"


def test_a_torn_tail_waits_for_its_newline(events: Path, db: Path) -> None:
    ok("add", "meeting", "--title", "A", "--date", "2019", *SOURCE)
    ok("build")
    [segment] = events.glob("*/*.jsonl")
    with open(segment, "ab") as file:
        file.write(b'{"data":')
    assert ok("build") == f"Updated {db} with 0 new events"
    ok("add", "meeting", "--title", "B", "--date", "2019", *SOURCE)  # quarantines the tail
    assert ok("build") == f"Updated {db} with 1 new event"


def test_a_segment_edited_in_place_is_left_to_verify_and_a_full_build(events: Path,
                                                                       db: Path) -> None:
    """An edit that keeps a segment's size and the line where the build stopped is not
    looked for by an incremental build (as documented); `verify` names it, and a full
    build refuses it, leaving the database as it was."""
    ok("add", "meeting", "--title", "Talks A", "--date", "2019", *SOURCE)
    ok("add", "meeting", "--title", "Talks B", "--date", "2019", *SOURCE)
    ok("build")
    before = db.read_bytes()
    [segment] = events.glob("*/*.jsonl")
    segment.write_bytes(segment.read_bytes().replace(b"Talks A", b"Talks X", 1))
    assert ok("build") == f"Updated {db} with 0 new events"
    verify = run("verify")
    assert verify.exit_code == 1
    assert f"({segment.relative_to(events)}:1)" in verify.stderr
    full = run("build", "--full")
    assert (full.exit_code, full.stderr) == (1, (
        f"Error: {segment.relative_to(events)} line 1 is damaged (hash does not match "
        "content); run tracker verify\n"))
    assert db.read_bytes() == before


@pytest.mark.parametrize("builds", [(0, 1, 2, 3, 4), (1, 4), (4,)],
                         ids=["after-each", "in-two", "at-the-end"])
def test_rows_numbered_by_rowid_are_numbered_alike_however_the_builds_fall(
        events: Path, db: Path, tmp_path: Path, builds: tuple[int, ...]) -> None:
    """meeting_participants, announcement_about and history are keyed by their rowid,
    which SQLite gives after the largest left: a build writes such a table's buffered rows
    before it deletes from it, so a retraction between two records numbers their rows
    the same in every build (hypothesis found a meeting's participant numbered 3 by
    builds after each step, and 1 by a full build)."""
    def meeting(step: int) -> str:
        return ok("add", "meeting", "--title", f"Meeting {step}", "--date", "2004",
                  "--participant", "JPN", *SOURCE)

    def built_after(step: int) -> None:
        if step in builds:
            ok("build")

    first = meeting(0)
    built_after(0)
    second = meeting(1)
    built_after(1)
    ok("retract", first, "--reason", "r")
    built_after(2)
    meeting(3)
    built_after(3)
    ok("retract", second, "--reason", "r")
    built_after(4)
    assert rows(db, "select rowid, actor from meeting_participants") == [
        {"rowid": 3, "actor": "JPN"}]
    assert contents(db) == full_rebuild(events, tmp_path)


STATUSES = {"meeting": ["scheduled", "held", "postponed", "cancelled"],
            "pledge": ["pledged", "fulfilled", "withdrawn"]}
DATES = ["2004", "2017-05", "2019-05-20", "2020/2021", "2024-08"]
ACTORS = ["JPN", "KAZ", "KGZ", "TJK", "TKM", "UZB", "EU", "CHN"]


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_incremental_builds_equal_a_full_rebuild(data: st.DataObject) -> None:
    """Random valid command sequences, built after every step and once in full."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        events, db = folder / "events", folder / "tracker.db"
        live: dict[str, list[str]] = {"format": [], "meeting": [], "announcement": [],
                                      "pledge": []}
        status_of: dict[str, str] = {}  # an update must change it (or the amount disbursed)
        date_of: dict[str, str] = {}  # a meeting's; a new date (--to) must differ from it

        def cli(*args: str) -> str:
            return ok("--events", events, "--db", db, *args)

        for step in range(data.draw(st.integers(1, 7), label="steps")):
            records = [(kind, ident) for kind, idents in live.items() for ident in idents]
            choices = ["format", "meeting", "announcement"]
            if live["meeting"]:
                choices.append("pledge")
            if records:
                choices += ["cite", "amend", "retract"]
            if live["meeting"] or live["pledge"]:
                choices.append("update")
            action = data.draw(st.sampled_from(choices), label=f"action {step}")
            actors = ",".join(data.draw(st.lists(st.sampled_from(ACTORS), min_size=1,
                                                 max_size=3, unique=True)))
            date = data.draw(st.sampled_from(DATES))
            if action == "format":
                slug = f"format-{step}"
                live["format"].append(cli("add", "format", slug, "--name", f"Format {step}",
                                          "--member", actors, *SOURCE))
            elif action == "meeting":
                extra = (["--format", data.draw(st.sampled_from(live["format"]))]
                         if live["format"] and data.draw(st.booleans()) else [])
                live["meeting"].append(cli(
                    "add", "meeting", "--title", f"Meeting {step} of ministers", "--date", date,
                    "--status", "scheduled", "--participant", actors, *extra, *SOURCE))
                status_of[live["meeting"][-1]] = "scheduled"
                date_of[live["meeting"][-1]] = date
            elif action == "announcement":
                about = ([arg for _, ident in records[:1] for arg in ("--about", ident)]
                         if records else [])
                live["announcement"].append(cli(
                    "add", "announcement", "--title", f"Statement {step}", "--date", date,
                    "--by", actors.split(",")[0], *about, *SOURCE))
            elif action == "pledge":
                live["pledge"].append(cli(
                    "add", "pledge", "--title", f"Grant {step}", "--date", date, "--donor",
                    "USA", "--recipient", actors, "--amount", str(step + 1), "--currency",
                    "USD", "--at", data.draw(st.sampled_from(live["meeting"])), *SOURCE))
                status_of[live["pledge"][-1]] = "pledged"
            elif action == "update":
                kind = data.draw(st.sampled_from([k for k in ("meeting", "pledge") if live[k]]))
                ident = data.draw(st.sampled_from(live[kind]))
                status = data.draw(st.sampled_from([
                    status for status in STATUSES[kind] + (
                        ["disbursed"] if kind == "pledge" else [])
                    if status != status_of[ident] or status == "disbursed"]))
                amount = ["--amount", str(step + 1)] if status == "disbursed" else []
                if status in RESCHEDULING and date != date_of[ident] and \
                        data.draw(st.booleans(), label="rescheduled"):
                    amount = ["--to", date]  # a meeting's new date
                    date_of[ident] = date
                cli("update", ident, "--status", status, *amount, *SOURCE)
                status_of[ident] = status
            elif action == "cite":
                cli("cite", data.draw(st.sampled_from(records))[1], "--source", f"Report {step}")
            elif action == "amend":
                kind, ident = data.draw(st.sampled_from(records))
                field = {"format": "name", "meeting": "title", "announcement": "title",
                         "pledge": "title"}[kind]
                cli("amend", ident, "--set", f"{field}=Amended {step}", "--reason", "misread")
            else:  # refused while others refer to it (a merge can still do it: see
                # test_references.py, whose merges are built incrementally too)
                kind, ident = data.draw(st.sampled_from(records))
                result = run("--events", events, "--db", db, "retract", ident,
                             "--reason", "no such thing")
                if result.exit_code == 0:
                    live[kind].remove(ident)
                else:
                    assert result.stderr.startswith(f"Error: {ident} is still referred to "
                                                    "by "), result.output
            message = cli("build")
            assert message.startswith("Updated " if step else "Built "), message
        assert contents(db) == full_rebuild(events, folder)


def test_a_copied_database_keeps_building(events: Path, db: Path, tmp_path: Path) -> None:
    ok("add", "meeting", "--title", "A", "--date", "2019", *SOURCE)
    ok("build")
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    ok("add", "meeting", "--title", "B", "--date", "2019", *SOURCE)
    assert ok("build", "--db", copy) == f"Updated {copy} with 1 new event"


def test_a_big_build_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    from .benchmark import generate
    from .conftest import PROJECT
    from .terminal import stderr_on_terminal

    events = tmp_path / "events"
    generate(events, 16000)
    command = [sys.executable, "-m", "tracker", "--events", str(events), "build",
               "--db", str(tmp_path / "big.db")]
    shown = stderr_on_terminal(command, PROJECT)
    assert "Building" in shown and "100%" in shown
    piped = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=True)
    assert piped.stderr == ""
    again = subprocess.run([sys.executable, "-m", "tracker", "--events", str(events),
                            "build", "--full", "--db", str(tmp_path / "again.db")],
                           cwd=PROJECT, capture_output=True, text=True, check=True)
    assert again.stdout.startswith(f"Built {tmp_path / 'again.db'} from 16000 events")


def test_a_database_of_another_projection_version_is_rebuilt(events: Path, db: Path) -> None:
    ok("add", "meeting", "--title", "A", "--date", "2019", *SOURCE)
    ok("build")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("update build_info set value = 'older' where key = 'projection_version'")
    ok("add", "meeting", "--title", "B", "--date", "2019", *SOURCE)
    assert ok("build") == f"Built {db} from 2 events"
    assert rows(db, "select value from build_info where key = 'projection_version'") == [
        {"value": projection.PROJECTION_VERSION}]


def test_a_build_with_nothing_new_leaves_the_database_file_untouched(db: Path) -> None:
    """A watching server reloads the file when it changes: a no-op build must not."""
    ok("add", "meeting", "--title", "M", "--date", "2019", *SOURCE)
    ok("build")
    before = (db.stat().st_mtime_ns, db.read_bytes())
    assert ok("build") == f"Updated {db} with 0 new events"
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before


def add_meetings(titles: str) -> None:
    for title in titles:
        ok("add", "meeting", "--title", f"Meeting {title} with a title long enough to move "
           "the pages of the database", "--date", "2019", *SOURCE)


@pytest.mark.parametrize("full", [False, True], ids=["build", "build --full"])
def test_a_build_killed_while_writing_is_undone_by_the_next_build(
        events: Path, db: Path, tmp_path: Path, full: bool) -> None:
    """The next build plays the journal back before it reads or replaces the file: a
    new file renamed into place beside the old file's journal would be damaged by it."""
    add_meetings("ABC")
    ok("build")
    interrupt_a_write(db)
    add_meetings("DEFGHIJKLMNOPQRSTUVWXYZ")
    assert ok("build", *(["--full"] if full else [])) == (
        f"Built {db} from 26 events" if full else f"Updated {db} with 23 new events")
    assert not db.with_name(f"{db.name}-journal").exists()
    assert rows(db, "pragma integrity_check") == [{"integrity_check": "ok"}]
    assert contents(db) == full_rebuild(events, tmp_path)


def test_a_file_that_is_not_a_database_is_not_replaced_nor_its_journal(
        events: Path, db: Path) -> None:
    add_meetings("AB")
    db.write_bytes(b"not a database" * 1000)
    journal = db.with_name(f"{db.name}-journal")
    journal.write_bytes(b"not a journal" * 1000)
    result = run("build")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: {db} is not a SQLite database: not replaced (remove it, or give "
               "another --db)\n")
    assert db.read_bytes() == b"not a database" * 1000
    assert journal.read_bytes() == b"not a journal" * 1000


def test_a_build_replaces_only_a_database_it_built(events: Path, db: Path,
                                                   tmp_path: Path) -> None:
    """A full build renames its new file over --db: a log segment, a document or another
    program's database given by mistake is refused, byte for byte unchanged, with no
    lock file made beside it (in the log's folder, for a segment); so is a read of the
    log (export) that would build it first. An empty file is replaced."""
    add_meetings("AB")
    segment = next(events.glob("*/*.jsonl"))
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("create table mine (x)")
        conn.execute("insert into mine values (1)")
        conn.commit()
    refusals = {segment: "is not a SQLite database", notes: "is not a SQLite database",
                other: "is a database tracker did not build"}
    for path, reason in refusals.items():
        before = path.read_bytes()
        for command in (("build", "--db", path), ("--db", path, "export"),
                        ("--db", path, "build", "--full")):
            result = run(*command)
            assert (result.exit_code, result.stdout, result.stderr) == (
                1, "", f"Error: {path} {reason}: not replaced (remove it, or give "
                       "another --db)\n"), command
            assert path.read_bytes() == before
            assert not path.with_name(f".{path.name}.lock").exists()  # nothing left beside
    assert ok("verify") == "OK: 2 events in 1 file"
    empty = tmp_path / "empty.db"
    empty.touch()
    assert ok("build", "--db", empty) == f"Built {empty} from 2 events"
    assert ok("build", "--db", empty) == f"Updated {empty} with 0 new events"


def test_a_build_waits_for_the_build_running(events: Path, db: Path) -> None:
    add_meetings("AB")
    ok("build")
    add_meetings("CD")
    before = db.read_bytes()
    command = [sys.executable, "-m", "tracker", "--events", str(events), "--db", str(db),
               "build"]
    with open(db.with_name(f".{db.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running build holds it
        waiting = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=2)
        assert db.read_bytes() == before
    assert waiting.communicate(timeout=60)[0] == f"Updated {db} with 2 new events\n"


def test_two_builds_at_once_apply_the_new_events_once(events: Path, db: Path,
                                                      tmp_path: Path) -> None:
    add_meetings("AB")
    ok("build")
    add_meetings("CDEFGHIJKLMNOPQRSTUVWXYZ")
    command = [sys.executable, "-m", "tracker", "--events", str(events), "--db", str(db),
               "build"]
    builds = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in "12"]
    outputs = sorted(build.communicate(timeout=60)[0] for build in builds)
    assert outputs == [f"Updated {db} with 0 new events\n",
                       f"Updated {db} with 24 new events\n"]
    assert contents(db) == full_rebuild(events, tmp_path)
