"""The catalog: an index of records and event ids that reads only what was appended."""

from __future__ import annotations

import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from click.testing import Result

from tracker import envelope
from tracker.catalog import Catalog
from tracker.log import EventLog
from tracker.recorder import after

from .conftest import SOURCE, ok, run
from .test_log import fields

INDEX = Path(".cache") / "catalog" / "index.db"


def indexed_segments(events: Path) -> dict[str, int]:
    with closing(sqlite3.connect(events / INDEX)) as conn:
        return dict(conn.execute("select name, size from segments"))


def test_the_index_follows_appends(events: Path, japan_format: str) -> None:
    meeting = ok("add", "meeting", "--title", "M", "--date", "2020", "--format", japan_format,
                 *SOURCE)
    [segment] = events.glob("*/*.jsonl")
    assert indexed_segments(events) == {str(segment.relative_to(events)):
                                        segment.stat().st_size - len(segment.read_bytes()
                                                                     .splitlines()[-1]) - 1}
    ok("update", meeting, "--status", "cancelled", *SOURCE)
    with Catalog.scan(EventLog(events)) as catalog:
        assert indexed_segments(events) == {str(segment.relative_to(events)):
                                            segment.stat().st_size}
        assert catalog.subjects[meeting].kind == "meeting"
        assert japan_format in catalog.subjects
        assert sorted(catalog.subjects) == sorted([meeting, japan_format])


def test_amended_data_and_retractions(events: Path) -> None:
    meeting = ok("add", "meeting", "--title", "M", "--date", "2019", "--participant", "JPN",
                 *SOURCE)
    ok("amend", meeting, "--set", "date=2019-05", "--set", "participant=JPN,KAZ",
       "--reason", "misread")
    with Catalog.scan(EventLog(events)) as catalog:
        data = catalog.data_of(meeting)
        assert (data["date"], data["participants"]) == ("2019-05", ["JPN", "KAZ"])
        assert "source" not in data
        assert catalog.subjects[meeting].date == "2019-05"
    ok("retract", meeting, "--reason", "duplicate")
    with Catalog.scan(EventLog(events)) as catalog:
        assert catalog.subjects[meeting].retracted
        with pytest.raises(Exception, match="was retracted"):
            catalog.require("record", meeting)


def test_older_events_from_a_merge_are_indexed(events: Path) -> None:
    ok("add", "meeting", "--title", "Late", "--date", "2020", *SOURCE)
    older = fields("Early")
    older["recorded_at"] = "2021-01-01T00:00:00.000000Z"
    with EventLog(events, writer="other-clone").session() as appender:
        appender.write(older)
    assert ok("update", older["id"], "--status", "cancelled", *SOURCE)
    with Catalog.scan(EventLog(events)) as catalog:
        assert catalog.subjects[older["id"]].kind == "meeting"


def test_a_rewritten_log_rebuilds_the_index(events: Path) -> None:
    first = ok("add", "meeting", "--title", "A", "--date", "2020", *SOURCE)
    second = ok("add", "meeting", "--title", "B", "--date", "2020", *SOURCE)
    [segment] = events.glob("*/*.jsonl")
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(lines[0])  # the second event removed (verify names it)
    result = run("cite", second, *SOURCE)
    assert (result.exit_code, result.stderr) == (1, f"Error: unknown id '{second}'\n")
    ok("cite", first, "--source", "https://example.org/cited-1")


def test_an_index_read_a_little_at_a_time_equals_one_rebuilt_whole(
    events: Path, japan_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refreshed after each command, in chunks of two events, the index holds what one
    rebuild from the whole log makes (which makes the events' index after them)."""
    monkeypatch.setattr("tracker.catalog.CHUNK", 2)
    meeting = ok("add", "meeting", "--title", "M", "--date", "2020", "--format", japan_format,
                 *SOURCE)
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2021", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "100", "--currency", "USD", "--at", meeting,
                *SOURCE)
    ok("amend", meeting, "--set", "date=2020-05", "--reason", "the month")
    ok("update", pledge, "--status", "disbursed", "--amount", "50", *SOURCE)
    ok("amend", pledge, "--set", "at=", "--reason", "not at the meeting")
    ok("amend", meeting, "--set", "title=Ministers meet", "--reason", "the title")
    ok("retract", meeting, "--reason", "recorded twice")
    ok("add", "format", "central-asia-korea", "--name", "Central Asia + Korea", *SOURCE)

    def contents() -> dict[str, list[tuple]]:
        with Catalog.scan(EventLog(events)), closing(sqlite3.connect(events / INDEX)) as conn:
            return {table: conn.execute(f"select * from {table} order by 1").fetchall()
                    for table in ("subjects", "events", "segments", "meta")}

    followed = contents()
    (events / INDEX).unlink()
    assert contents() == followed
    assert [row[0] for row in followed["subjects"] if row[5]] == [meeting]  # retracted
    with closing(sqlite3.connect(events / INDEX)) as conn:
        assert conn.execute("select count(*) from sqlite_master where name = "
                            "'events_by_subject'").fetchone() == (1,)


def test_an_id_given_to_two_events_in_two_clones_is_indexed_as_replay_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--id` reused for two different events in two clones: after the merge, each
    clone's index, refreshed or rebuilt, keeps the earlier one, as the build does."""
    clones = {"alice": tmp_path / "alice", "bob": tmp_path / "bob"}

    def as_(writer: str, *args: str) -> Result:
        monkeypatch.setenv("TRACKER_WRITER", writer)
        return run("--events", clones[writer], "--db", tmp_path / f"{writer}.db", *args)

    first = as_("alice", "add", "meeting", "--title", "N", "--date", "2020", *SOURCE).stdout
    other = as_("alice", "add", "meeting", "--title", "M", "--date", "2020", *SOURCE).stdout
    first, other = first.strip(), other.strip()
    shutil.copytree(clones["alice"], clones["bob"],
                    ignore=shutil.ignore_patterns(".cache", ".lock", ".writer"))
    same = "01KAAAAAAAAAAAAAAAAAAAAAAA"
    assert as_("bob", "retract", first, "--reason", "twice", "--id", same).exit_code == 0
    refused = (1, f"Error: {first} was retracted\n")
    result = as_("bob", "cite", first, "--source", "https://example.org/z")
    assert (result.exit_code, result.stderr) == refused
    assert as_("alice", "cite", other, "--source", "https://example.org/y",
               "--id", same).exit_code == 0  # later: replay keeps the retraction
    unknown = as_("alice", "cite", "01KAAAAAAAAAAAAAAAAAAAAAAB", "--source", "x")  # indexes it
    assert unknown.stderr == "Error: unknown id '01KAAAAAAAAAAAAAAAAAAAAAAB'\n"
    for writer, segment in (("alice", "bob"), ("bob", "alice")):  # the merge, both ways
        [path] = (clones[segment] / segment).glob("*.jsonl")
        (clones[writer] / segment).mkdir(exist_ok=True)
        shutil.copyfile(path, clones[writer] / segment / path.name)
    for writer in clones:
        for rebuilt in (False, True):
            if rebuilt:
                (clones[writer] / INDEX).unlink()
            result = as_(writer, "cite", first, "--source", "https://example.org/z")
            assert (writer, rebuilt, result.exit_code, result.stderr) == (
                writer, rebuilt, *refused)
            with closing(sqlite3.connect(clones[writer] / INDEX)) as conn:
                assert conn.execute("select subject, type from events where id = ?",
                                    (same,)).fetchall() == [(first, "record.retracted")]
                assert conn.execute("select latest from subjects where id = ?",
                                    (other,)).fetchone() == conn.execute(
                    "select substr(max(key), 1, 27) from events where subject = ?",
                    (other,)).fetchone()


def test_a_damaged_index_is_rebuilt(events: Path) -> None:
    meeting = ok("add", "meeting", "--title", "A", "--date", "2020", *SOURCE)
    ok("cite", meeting, "--source", "https://example.org/cited-2")
    (events / INDEX).write_bytes(b"not a database at all" * 100)
    for extra in (events / INDEX).parent.glob("index.db-*"):
        extra.unlink()
    ok("cite", meeting, "--source", "https://example.org/cited-3")
    assert indexed_segments(events)


def test_an_index_from_another_schema_is_rebuilt(events: Path) -> None:
    meeting = ok("add", "meeting", "--title", "A", "--date", "2020", *SOURCE)
    ok("cite", meeting, "--source", "https://example.org/cited-4")
    with closing(sqlite3.connect(events / INDEX)) as conn:
        conn.execute("drop table subjects")
        conn.execute("create table subjects (id text primary key)")  # no other column
    ok("cite", meeting, "--source", "https://example.org/cited-5")
    assert indexed_segments(events)


def test_a_busy_index_is_an_error_and_is_kept(events: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    meeting = ok("add", "meeting", "--title", "A", "--date", "2020", *SOURCE)
    ok("cite", meeting, "--source", "https://example.org/cited-6")
    before = (events / INDEX).read_bytes()

    def busy(log: EventLog, conn: sqlite3.Connection) -> None:
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorname = "SQLITE_BUSY"
        raise error

    monkeypatch.setattr("tracker.catalog._refresh", busy)
    result = run("cite", meeting, "--source", "https://example.org/cited-7")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: cannot use the index ")
    assert result.stderr.endswith(": database is locked\n")
    assert (events / INDEX).read_bytes() == before


def test_retries_find_the_event_by_id(events: Path) -> None:
    event_id = envelope.new_id()
    args = ("add", "meeting", "--title", "T", "--date", "2020", "--id", event_id, *SOURCE)
    ok(*args)
    for title in "BCD":
        ok("add", "meeting", "--title", title, "--date", "2020", *SOURCE)
    assert run(*args).stderr == f"Already recorded: {event_id} (nothing appended)\n"
    with Catalog.scan(EventLog(events)) as catalog:
        assert catalog.event(event_id)["data"]["title"] == "T"
        assert catalog.event(envelope.new_id()) is None


def test_no_log_yet(tmp_path: Path) -> None:
    with Catalog.scan(EventLog(tmp_path / "nothing")) as catalog:
        assert catalog.subjects.get("x") is None
        assert list(catalog.subjects) == []
    assert not (tmp_path / "nothing").exists()


def test_an_older_amendment_that_arrives_later_is_folded_in_order(events: Path) -> None:
    """Amendments apply in replay order, whatever order a merge brings them in."""
    meeting = ok("add", "meeting", "--title", "Recorded", "--date", "2019", *SOURCE)
    [recorded] = list(EventLog(events).events())
    ok("amend", meeting, "--set", "title=Second", "--reason", "later fix")
    with Catalog.scan(EventLog(events)) as catalog:
        assert catalog.data_of(meeting)["title"] == "Second"
    earlier = {**fields("unused"), "type": "record.amended", "subject": meeting,
               "recorded_at": after(recorded["recorded_at"]),
               "data": {"changes": {"title": "First"}, "reason": "earlier fix"}}
    with EventLog(events, writer="other-clone").session() as appender:
        appender.write(earlier)
    with Catalog.scan(EventLog(events)) as catalog:
        assert catalog.data_of(meeting)["title"] == "Second"
        assert catalog.subjects[meeting].latest > earlier["recorded_at"]



# One file imported in two clones (the documented retry in another clone): the same
# events, with the same ids, written by two writers.
RETRIED_ROWS = ("kind,id,slug,name,title,date,format,subject,source\n"
                "format,,dialogue,Dialogue,,,,,https://example.org/f\n"
                "meeting,m1,,,Some meeting,2023,dialogue,,https://example.org/a\n"
                "citation,,,,,,,m1,https://example.org/b\n")
UNKNOWN = "01KAAAAAAAAAAAAAAAAAAAAAAA"


def imported_in_two_clones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The events folder of alice's clone, with its index, after a merge of bob's, who
    imported the same file first: replay keeps bob's copies (recorded earlier), which
    the index reads after alice's (in the order of the folders), for the same records."""
    rows = tmp_path / "rows.csv"
    rows.write_text(RETRIED_ROWS)
    for writer in ("bob", "alice"):
        monkeypatch.setenv("TRACKER_WRITER", writer)
        ok("--events", tmp_path / writer, "import", rows)
    monkeypatch.delenv("TRACKER_WRITER")
    assert run("--events", tmp_path / "alice", "cite", UNKNOWN, *SOURCE).exit_code == 1
    assert (tmp_path / "alice" / INDEX).exists()  # alice's log indexed before the merge
    shutil.copytree(tmp_path / "bob" / "bob", tmp_path / "alice" / "bob")
    return tmp_path / "alice"


@pytest.mark.parametrize("rebuilt", [False, True], ids=["refreshed", "rebuilt"])
@pytest.mark.parametrize("command", [
    ("cite", "M", "--source", "https://example.org/c"),
    ("amend", "M", "--set", "title=Another meeting", "--reason", "misread"),
    ("update", "M", "--status", "cancelled", *SOURCE),
    ("retract", "M", "--reason", "recorded twice"),
    ("add", "meeting", "--title", "N", "--date", "2024", "--format", "dialogue", *SOURCE),
    ("add", "pledge", "--title", "P", "--date", "2023", "--donor", "JPN", "--recipient", "UZB",
     "--amount", "100", "--currency", "USD", "--at", "M", *SOURCE),
    ("add", "format", "dialogue", "--name", "Again", *SOURCE),
    ("show", UNKNOWN),
], ids=lambda command: "-".join(command[:2]))
def test_events_recorded_again_in_another_clone_are_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...], rebuilt: bool
) -> None:
    """Several events about one record, each replaced in the index by the copy that
    replay keeps (refreshed after the merge, or rebuilt): the commands that open the
    index work as on any log."""
    events = imported_in_two_clones(tmp_path, monkeypatch)
    if rebuilt:
        (events / INDEX).unlink()
    [meeting] = [event["subject"] for event in orjson.loads(ok("--events", events, "log",
                                                                 "--json"))
                 if event["type"] == "meeting.recorded" and event["writer"] == "bob"]
    result = run("--events", events, *(meeting if arg == "M" else arg for arg in command))
    if command[0] == "show":
        assert (result.exit_code, result.stdout, result.stderr) == (
            1, "", f"Error: unknown id '{UNKNOWN}'\n")
    elif command[:3] == ("add", "format", "dialogue"):
        assert (result.exit_code, result.stdout, result.stderr) == (
            1, "", "Error: 'dialogue' already exists\n")
    else:
        assert (result.exit_code, result.stderr) == (0, "")
        assert re.fullmatch(r"[0-9A-Z]{26}\n", result.stdout)
    [segment] = (events / "bob").glob("*.jsonl")
    with closing(sqlite3.connect(events / INDEX)) as conn:  # bob's copy, as replay keeps it
        assert conn.execute("select segment from subjects where id = ?",
                            (meeting,)).fetchone() == (f"bob/{segment.name}",)
