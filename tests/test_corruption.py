"""Corruption classes: each has one outcome and one message, in `tracker verify` and at the
next append.

| class                               | tracker verify           | next append (same writer)   |
| ----------------------------------- | ------------------------ | --------------------------- |
| partial last line                   | warning, exit 0          | quarantined, reported       |
| trailing NUL bytes                  | warning, exit 0          | quarantined, reported       |
| valid last line without its newline | warning, exit 0          | quarantined, reported       |
| the last line, acknowledged, cut    | problem naming the event | appends as another writer   |
| mid-file line whose hash fails      | problem naming the event | appends (reads only the     |
|                                     |                          | writer's last event)        |
| last line whose hash fails          | problem naming the event | refused, naming the event   |
| duplicate id with other content     | problem naming the id    | appends                     |
| seq gap                             | problem naming the writer| appends                     |
| sealed line not shaped as an event  | problem naming the event | appends                     |

A tail (the first three) was never acknowledged: an append writes its whole line with
one write and fsyncs it before reporting success, so a line without its newline (or one
holding NUL bytes, which canonical JSON never contains) is what a crash left behind;
unless it holds the id of the event its writer last appended in this clone (the clone's
`writers.json`): then it is that event, acknowledged, and cut since.
Everything else is damage to acknowledged events: never repaired, always reported.
A line whose hash holds but that is not an event as this tracker writes it (made by hand,
by another tool, or by a later tracker) stops a build with one line naming it, and never
with a traceback; the index of records that appends read leaves it out, or, if it gave
a record a value tracker does not write, `amend` of that record says so.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from pathlib import Path

import orjson
import pytest

from tracker import build, envelope
from tracker.log import EventLog, Tail
from tracker.verify import verify

from . import test_verify
from .conftest import METADATA, SOURCE, log_bytes, ok, rows, run
from .test_log import segment

WRITER = "w1"
QUARANTINE_NAME = re.compile(
    r"\.quarantine/w1/(\d{4}-\d{2})\.\d{4}-\d{2}-\d{2}T\d{6}\.\d{6}Z\.(\d+)\.torn")


@pytest.fixture(autouse=True)
def fixed_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_WRITER", WRITER)


def three_meetings(events: Path) -> tuple[list[str], Path]:
    return test_verify.three_meetings(), segment(events)


def name(path: Path, events: Path) -> str:
    return str(path.relative_to(events))


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def verify_fails_with(problem: str, events_count: int) -> None:
    """`tracker verify`: exit 1, one Problem line (exactly this), and the summary line."""
    result = run("verify")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Problem: {problem}\n"
        f"Error: verify failed: 1 problem in {events_count} events; first: {problem}\n"
    )


# -- tails: never acknowledged, quarantined by the next append --------------------------------


def test_an_acknowledged_event_cut_is_a_problem_not_a_tail(events: Path) -> None:
    """The clone that appended it knows it was acknowledged: `verify` fails, naming it,
    and does not call it an interrupted write. Another clone, which cannot know, warns
    of a tail as before."""
    ids, path = three_meetings(events)
    whole = path.read_bytes()
    last = lines_of(path)[-1]
    path.write_bytes(whole[:-40])
    start = len(whole) - len(last) - 1
    verify_fails_with(
        f"{name(path, events)} ends with an incomplete line ({len(last) + 1 - 40} bytes, no "
        f"newline) at byte {start}: the start of event {ids[-1]}, which writer {WRITER} "
        "appended in this clone, cut after it was written (a file truncated or copied in "
        "part?): restore the segment from git or a backup, or record the event again", 2)
    (events / ".cache" / "writers.json").unlink()  # as in another clone
    result = run("verify")
    assert (result.exit_code, result.stdout) == (0, "OK: 2 events in 1 file\n")
    assert "never acknowledged" in result.stderr


def torn_json(line: bytes) -> bytes:
    return line[: len(line) // 2]


TAILS = [
    pytest.param(torn_json, "an incomplete line ({size} bytes, no newline)", id="partial-line"),
    pytest.param(lambda line: b"\0" * 4096, "4096 NUL bytes", id="trailing-nuls"),
    pytest.param(lambda line: b"\0" * 100 + line[100:], "a line with NUL bytes ({size} bytes)",
                 id="nul-filled-start-of-a-whole-line"),
    pytest.param(lambda line: line[:-1], "a complete event {id} without its newline ({size} bytes)",
                 id="valid-line-missing-newline"),
]


@pytest.mark.parametrize(("make_tail", "description"), TAILS)
def test_a_tail_is_a_warning_then_quarantined_and_reported(
        events: Path, db: Path, make_tail, description: str) -> None:
    ids, path = three_meetings(events)
    whole = path.read_bytes()
    unacknowledged = envelope.seal({
        "id": "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", "type": "meeting.recorded", "schema": 1,
        "subject": "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", "recorded_at": envelope.now(),
        "recorded_by": "tester", "writer": WRITER, "seq": 4,
        "data": {"title": "Delta", "date": "2020", "status": "held",
                 "source": {"citation": "s"}}})
    tail = make_tail(unacknowledged)
    with open(path, "ab") as file:
        file.write(tail)
    what = description.format(size=len(tail), id="01J3Z8Q6M0S7WQ4N6V7R2K9B1C")
    segment_name = name(path, events)

    # readers skip it: verify warns and passes, build projects the three events
    result = run("verify")
    assert (result.exit_code, result.stdout) == (0, "OK: 3 events in 1 file\n")
    assert result.stderr == (
        f"Warning: {segment_name} ends with {what} at byte {len(whole)}, left by an "
        f"interrupted write and never acknowledged: the next append by writer {WRITER} "
        "moves it to .quarantine/\n")
    assert ok("build") == f"Built {db} from 3 events"
    # a refused command does not touch it
    before = log_bytes(events)
    refused = run("add", "meeting", "--title", "E", "--date", "2020", "--format", "nope",
                  *SOURCE)
    assert refused.exit_code == 1
    assert log_bytes(events) == before

    # the next append moves it to the quarantine, under the lock, and says so
    result = run("add", "meeting", "--title", "Echo", "--date", "2020", *SOURCE)
    assert result.exit_code == 0, result.output
    [quarantined] = (events / ".quarantine" / WRITER).iterdir()
    moved = name(quarantined, events)
    match = QUARANTINE_NAME.fullmatch(moved)
    assert match and match[2] == str(len(whole)), moved
    assert result.stderr == (
        f"Warning: moved {what} from the end of {segment_name} to {moved} (left by an "
        "interrupted write, never acknowledged)\n")
    assert quarantined.read_bytes() == tail
    assert path.read_bytes().startswith(whole)
    events_now = [json.loads(line) for line in lines_of(path)]
    assert [event["seq"] for event in events_now] == [1, 2, 3, 4]
    assert [event["id"] for event in events_now[:3]] == ids
    assert result.stdout == f"{events_now[3]['id']}\n"
    assert ok("verify") == "OK: 4 events in 1 file"
    assert run("verify").stderr == ""


def test_an_import_moves_a_tail_and_says_so(events: Path, tmp_path: Path) -> None:
    _, path = three_meetings(events)
    whole = path.read_bytes()
    with open(path, "ab") as file:
        file.write(b"\0" * 10)
    rows = tmp_path / "rows.csv"
    rows.write_text("title,date,source\nImported,2021,https://example.org/i\n")
    result = run("import", rows, "--kind", "meeting")
    assert result.exit_code == 0, result.output
    [quarantined] = (events / ".quarantine" / WRITER).iterdir()
    assert result.stderr == (
        f"Warning: moved 10 NUL bytes from the end of {name(path, events)} to "
        f"{name(quarantined, events)} (left by an interrupted write, never acknowledged)\n")
    assert path.read_bytes().startswith(whole)
    assert ok("verify") == "OK: 4 events in 1 file"


def test_the_quarantine_happens_under_the_lock(events: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """While a tail is moved, another descriptor cannot take the log's lock."""
    _, path = three_meetings(events)
    with open(path, "ab") as file:
        file.write(b'{"data":{"ti')
    seen = []
    original = EventLog.quarantine

    def probing(self: EventLog, tail: Tail) -> Tail:
        fd = os.open(self.root / ".lock", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        seen.append(tail.data)
        return original(self, tail)

    monkeypatch.setattr(EventLog, "quarantine", probing)
    ok("add", "meeting", "--title", "Delta", "--date", "2020", *SOURCE)
    assert seen == [b'{"data":{"ti']


def test_a_retry_that_appends_nothing_leaves_the_tail_in_place(events: Path) -> None:
    event_id = ok("add", "meeting", "--title", "Alpha", "--date", "2020", "--id",
                  "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", *SOURCE)
    [path] = events.glob("*/*.jsonl")
    with open(path, "ab") as file:
        file.write(b"\0\0\0")
    before = log_bytes(events)
    result = run("add", "meeting", "--title", "Alpha", "--date", "2020", "--id", event_id,
                 *SOURCE)
    assert (result.exit_code, result.stderr) == (
        0, f"Already recorded: {event_id} (nothing appended)\n")
    assert log_bytes(events) == before


# -- damage to acknowledged events: reported, never repaired ----------------------------------


def test_a_mid_file_line_whose_hash_fails_is_fatal_and_named(events: Path) -> None:
    ids, path = three_meetings(events)
    path.write_bytes(path.read_bytes().replace(b'"title":"Bravo"', b'"title":"Brave"'))
    problem = f"event {ids[1]} ({name(path, events)}:2): hash does not match content"
    verify_fails_with(problem, 3)
    # build refuses to publish it
    built = run("build")
    assert (built.exit_code, built.stderr) == (
        1, f"Error: {name(path, events)} line 2 is damaged (hash does not match content); "
        "run tracker verify\n")
    # an append reads only the writer's last event, so it goes on; verify still names it
    ok("add", "meeting", "--title", "Delta", "--date", "2020", *SOURCE)
    assert [json.loads(line)["seq"] for line in lines_of(path)] == [1, 2, 3, 4]
    verify_fails_with(problem, 4)


def test_a_last_line_whose_hash_fails_blocks_appends_naming_the_event(events: Path) -> None:
    ids, path = three_meetings(events)
    path.write_bytes(path.read_bytes().replace(b'"title":"Charlie"', b'"title":"Charles"'))
    where = f"{name(path, events)}:3"
    verify_fails_with(f"event {ids[2]} ({where}): hash does not match content", 3)
    before = log_bytes(events)
    result = run("add", "meeting", "--title", "Delta", "--date", "2020", *SOURCE)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: event {ids[2]} ({where}): hash does not match content; the last event of "
        f"writer {WRITER} is damaged, so nothing can be appended after it: run tracker "
        "verify\n")
    assert log_bytes(events) == before


def test_a_duplicate_id_with_other_content_is_fatal_and_named(events: Path) -> None:
    ids, path = three_meetings(events)
    original = json.loads(lines_of(path)[0])
    forged = {**original, "seq": 4, "data": {**original["data"], "title": "Forged"}}
    forged.pop("hash")
    with open(path, "ab") as file:
        file.write(envelope.seal(forged))
    segment_name = name(path, events)
    problem = (f"event {ids[0]} ({segment_name}:4): duplicate id with other content "
               f"(first at {segment_name}:1)")
    verify_fails_with(problem, 3)  # its id's events, once: the build keeps the first
    ok("add", "meeting", "--title", "Delta", "--date", "2020", *SOURCE)
    verify_fails_with(problem, 4)


def test_an_identical_duplicate_line_is_only_a_warning(events: Path) -> None:
    ids, path = three_meetings(events)
    with open(path, "ab") as file:
        file.write(lines_of(path)[0] + b"\n")  # as a union merge of two clones can give
    result = run("verify")
    segment_name = name(path, events)
    assert (result.exit_code, result.stdout) == (0, "OK: 3 events in 1 file\n")
    assert result.stderr == (f"Warning: event {ids[0]} ({segment_name}:4) appears more than "
                             f"once (first at {segment_name}:1)\n")


@pytest.mark.parametrize("processes", [1, 2])
def test_a_repeated_line_is_one_event_in_every_count(
    events: Path, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    """A line repeated in its segment (a union merge) is one event, as replay applies it:
    `build` (in full, incrementally, `--as-of`), `serve` at start-up and `verify` count
    it once, as the events table holds it (they counted lines), whether a second process
    reads the log or not."""
    monkeypatch.setattr(build, "worth_forking", lambda total: processes == 2)
    _ids, path = three_meetings(events)
    with open(path, "ab") as file:
        file.write(lines_of(path)[0] + b"\n")
    assert ok("build") == f"Built {db} from 3 events"
    assert rows(db, "select count(*) as n from events") == [{"n": 3}]
    assert ok("build", "--as-of", "2099-01-01", "--db", tmp_path / "then.db") == (
        f"Built {tmp_path / 'then.db'} from 3 events recorded up to 2099-01-01T23:59:59.999999Z")
    ok("add", "meeting", "--title", "Delta", "--date", "2020", *SOURCE)
    with open(path, "ab") as file:
        file.write(lines_of(path)[-1] + b"\n")
    assert ok("build") == f"Updated {db} with 1 new event"
    assert rows(db, "select count(*) as n from events") == [{"n": 4}]
    assert ok("verify").startswith("OK: 4 events in 1 file")
    assert verify(EventLog(events), workers=processes).events == 4
    db.unlink()
    monkeypatch.setattr("tracker.serve.listen_on", lambda host, port: [])
    monkeypatch.setattr("tracker.serve.serve", lambda *args, **options: None)
    served = run("serve", "--metadata", METADATA)
    assert (served.exit_code, served.stderr.splitlines()[0]) == (
        0, f"Built {db} from 4 events")


def test_a_seq_gap_is_fatal_and_names_the_writer(events: Path) -> None:
    ids, path = three_meetings(events)
    lines = lines_of(path)
    path.write_bytes(lines[0] + b"\n" + lines[2] + b"\n")
    problem = f"writer {WRITER}: seq jumps from 1 to 3 at event {ids[2]}: 1 event of this " \
              "writer missing"
    verify_fails_with(problem, 2)
    ok("add", "meeting", "--title", "Delta", "--date", "2020", *SOURCE)
    assert [json.loads(line)["seq"] for line in lines_of(path)] == [1, 3, 4]
    verify_fails_with(problem, 3)


def test_a_reused_seq_names_the_writer_and_the_event(events: Path) -> None:
    ids, path = three_meetings(events)
    third = json.loads(lines_of(path)[2])
    third.pop("hash")
    other = {**third, "id": "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", "subject": "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"}
    with open(path, "ab") as file:
        file.write(envelope.seal(other))
    verify_fails_with(
        f"writer {WRITER}: seq 3 used by both event {other['id']} and event {ids[2]}", 4)


# -- sealed lines that are not events as this tracker writes them ------------------------------


def sealed_as_is(event: dict) -> bytes:
    """The line of an event with a hash that holds, whatever the event holds (`DEEP`
    becomes a list nested 1,000 levels deep: orjson reads 1,024 levels, writes 254)."""
    content = orjson.dumps(event, default=lambda _: "DEEP", option=orjson.OPT_SORT_KEYS)
    content = content.replace(b'"DEEP"', b"[" * 1000 + b"]" * 1000)
    at = content.index(b',"id":')  # the hash's place: after data, before id
    digest = hashlib.sha256(content).hexdigest().encode()
    return content[:at] + b',"hash":"' + digest + b'"' + content[at:] + b"\n"

DAMAGED = "{segment} line 1 is damaged ({why}); run tracker verify"
NOT_PROJECTED = "event {id} cannot be projected ({why}); run tracker verify"
DEEP = object()  # stands for a list 1,000 deep: read, not written (see `sealed_as_is`)
LIST_NOT_BOUND = """ProgrammingError("Error binding parameter 1: type 'list' is not supported")"""
TOO_LARGE = "OverflowError('Python int too large to convert to SQLite INTEGER')"
LIST_NOT_A_MAPPING = """TypeError("'list' object is not a mapping")"""
TEXT_HAS_NO_GET = """AttributeError("'str' object has no attribute 'get'")"""
MALFORMED = [  # (the event's fields as sealed, verify's problem, the build's error, log label)
    pytest.param({"data": {"reason": "fix"}}, "an amendment needs changes",
                 NOT_PROJECTED.format(id="{id}", why="KeyError('changes')"), "fix",
                 id="amendment-without-changes"),
    pytest.param({"data": {"reason": "fix", "changes": ["title"]}}, "an amendment needs changes",
                 NOT_PROJECTED.format(id="{id}", why=LIST_NOT_A_MAPPING), "fix",
                 id="amendment-with-a-list-of-changes"),
    pytest.param({"type": "source.added", "data": {"source": "a text"}},
                 "missing source", NOT_PROJECTED.format(id="{id}", why=TEXT_HAS_NO_GET), "",
                 id="source-that-is-a-text"),
    pytest.param({"data": 5}, "bad data 5", DAMAGED.format(segment="{segment}", why="bad data 5"),
                 None, id="data-that-is-a-number"),
    pytest.param({"seq": "1"}, "bad seq '1'",
                 DAMAGED.format(segment="{segment}", why="bad seq '1'"), None, id="seq-as-text"),
    pytest.param({"recorded_at": None}, "missing field 'recorded_at'",
                 DAMAGED.format(segment="{segment}", why="missing field 'recorded_at'"), None,
                 id="without-recorded-at"),
    pytest.param({"schema": 0}, "bad schema 0",
                 "event {id} has unknown schema version 0 of record.amended; run tracker verify",
                 "title: fix", id="schema-0"),
    pytest.param({"schema": 2}, "unknown schema version 2 of record.amended",
                 "event {id} has schema version 2, newer than this tracker reads (1): upgrade "
                 "tracker", "title: fix", id="newer-schema"),
    pytest.param({"data": {"reason": "fix", "changes": {"title": DEEP}}}, "nested too deeply",
                 NOT_PROJECTED.format(id="{id}", why="TypeError('Recursion limit reached')"),
                 "title: fix", id="nested-1000-levels-deep"),
    pytest.param({"seq": DEEP}, "bad seq [[[[...]]]]",
                 DAMAGED.format(segment="{segment}", why="bad seq [[[[...]]]]"), None,
                 id="seq-nested-1000-levels-deep"),
    pytest.param({"data": {"reason": "fix", "changes": {"title": ["Alpha"]}}},
                 "bad title ['Alpha']", NOT_PROJECTED.format(id="{id}", why=LIST_NOT_BOUND),
                 "title: fix", id="a-list-for-a-text"),
    pytest.param({"data": {"reason": "fix", "changes": {"date": "2024-99"}}},
                 "bad date '2024-99'", NOT_PROJECTED.format(
                     id="{id}", why="invalid date '2024-99': no month 99"),
                 "date: fix", id="a-date-that-is-none"),
    pytest.param({"data": {"reason": "fix", "changes": {"geonameid": 2**63}}},
                 "bad geonameid 9223372036854775808",
                 NOT_PROJECTED.format(id="{id}", why=TOO_LARGE),
                 "geonameid: fix", id="an-integer-sqlite-cannot-hold"),
]


@pytest.mark.parametrize(("fields", "problem", "error", "label"), MALFORMED)
def test_a_sealed_line_not_shaped_as_an_event_is_named_never_a_traceback(
        events: Path, fields: dict, problem: str, error: str, label: str | None) -> None:
    ids, ours = three_meetings(events)
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"
    recorded_at = envelope.now()
    event = {"data": {"reason": "fix", "changes": {"title": "Alpha 2"}}, "id": event_id,
             "recorded_at": recorded_at, "recorded_by": "hand", "schema": 1, "seq": 1,
             "subject": ids[0], "type": "record.amended", "writer": "hand", **fields}
    if event["recorded_at"] is None:
        del event["recorded_at"]
    path = events / "hand" / f"{recorded_at[:7]}.jsonl"
    path.parent.mkdir()
    path.write_bytes(sealed_as_is(event))
    where = f"event {event_id} ({name(path, events)}:1): "
    verify_fails_with(where + problem, 4)
    before = log_bytes(events)
    expected = "Error: " + error.format(id=event_id, segment=name(path, events))
    for command in (["build"], ["show", ids[0]], ["export"], ["log"]):
        result = run(*command)
        assert result.exception is None or isinstance(result.exception, SystemExit), command
        if command == ["log"] and label is not None:  # replay reads it: shown as it is
            assert (result.exit_code, result.stderr) == (0, "")
            assert result.stdout.splitlines()[-1] == "  ".join(
                (recorded_at, event_id, event["type"], ids[0], label))
            continue
        assert (result.exit_code, result.stdout) == (1, ""), command
        assert result.stderr == expected + "\n", command
    assert log_bytes(events) == before
    # The commands that read the index of records go on; the record the event is about is
    # amended as if it were not there, or refused in one line if it took a value.
    ok("amend", ids[1], "--set", "title=Bravo 2", "--reason", "renamed")
    ok("cite", ids[2], "--source", "https://example.org/b")
    ok("add", "meeting", "--title", "Delta", "--date", "2021", *SOURCE)
    amended = run("amend", ids[0], "--set", "title=Alpha 3", "--reason", "renamed")
    refused = f"Error: {ids[0]} holds what tracker does not write ({problem}): run tracker verify\n"
    assert (amended.exit_code, amended.stderr) in ((0, ""), (1, refused))
    assert len(lines_of(ours)) == 6 + (amended.exit_code == 0)
    # Its id stays used, whether the index reads the line as an event or not.
    before = log_bytes(events)
    reused = run("add", "meeting", "--title", "Echo", "--date", "2021", *SOURCE, "--id", event_id)
    assert (reused.exit_code, reused.stdout) == (1, "")
    assert reused.stderr in (f"Error: id {event_id} is already used by another event\n",
                             f"Error: id {event_id} is already used by a line tracker cannot "
                             "read: run tracker verify\n")
    assert log_bytes(events) == before


def test_show_replays_only_its_records_events_and_builds_nothing(events: Path, db: Path) -> None:
    """As the README says: `show` reads the log and replays the events of its record
    alone, building nothing; `export` builds first, so an event it cannot apply stops it."""
    ids, _ = three_meetings(events)
    event = hand_event(ids[0], type="record.amended",
                       data={"reason": "fix", "changes": {"date": "2024-99"}})
    write_by_hand(events, event)
    expected = "Error: " + NOT_PROJECTED.format(
        id=event["id"], why="invalid date '2024-99': no month 99") + "\n"
    assert ok("show", ids[1]).startswith(f"meeting {ids[1]}\n  title: Bravo\n")
    refused = run("show", ids[0])
    assert (refused.exit_code, refused.stdout, refused.stderr) == (1, "", expected)
    assert not db.exists()
    refused = run("export")
    assert (refused.exit_code, refused.stdout, refused.stderr) == (1, "", expected)


def test_an_id_that_a_line_not_read_as_an_event_holds_stays_used(
        events: Path, tmp_path: Path) -> None:
    """A line cut short by a bad merge is no event, but its id is used: a retry of the
    event with `--id`, or an import row with that id, is refused rather than making a
    second event of the same id."""
    ids, path = three_meetings(events)
    lines = lines_of(path)
    lines[1] = lines[1][:20] + lines[1][lines[1].index(b',"hash":'):]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    verified = run("verify")
    assert (verified.exit_code, verified.stderr.splitlines()[0]) == (
        1, f"Problem: event {ids[1]} ({name(path, events)}:2): not valid JSON (unexpected "
        "character, expected ',' or '}')")
    before = log_bytes(events)
    refused = f"Error: id {ids[1]} is already used by a line tracker cannot read: run " \
              "tracker verify\n"
    retry = run("add", "meeting", "--title", "Bravo", "--date", "2021", *SOURCE, "--id", ids[1])
    assert (retry.exit_code, retry.stdout, retry.stderr) == (1, "", refused)
    rows_file = tmp_path / "meetings.csv"
    rows_file.write_text(f"id,title,date,source\n{ids[1]},Bravo,2021,x\n", encoding="utf-8")
    imported = run("import", str(rows_file))
    assert (imported.exit_code, imported.stdout) == (1, "")
    assert imported.stderr == (
        f"Error: {rows_file}: 1 of 1 row is invalid; nothing imported\n"
        f"line 2: id {ids[1]!r}: {refused.removeprefix('Error: ')}")
    assert log_bytes(events) == before
    # The id of an event read as one is found as before; a new id is free.
    taken = run("add", "meeting", "--title", "Other", "--date", "2021", *SOURCE, "--id", ids[0])
    assert (taken.exit_code, taken.stderr) == (
        1, f"Error: id {ids[0]} is already used by another event\n")
    ok("add", "meeting", "--title", "Delta", "--date", "2021", *SOURCE,
       "--id", "01J3Z8Q6M0S7WQ4N6V7R2K9B1C")
    # A line appended since the index was last brought up to date: read as it arrives.
    event = hand_event(ids[0], id="01J3Z8Q6M0S7WQ4N6V7R2K9B1D", seq="1")
    write_by_hand(events, event)
    before = log_bytes(events)
    retry = run("add", "meeting", "--title", "Echo", "--date", "2021", *SOURCE,
                "--id", event["id"])
    assert (retry.exit_code, retry.stderr) == (1, refused.replace(ids[1], event["id"]))
    assert log_bytes(events) == before


def hand_event(subject: str, **fields: object) -> dict:
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"
    return {"data": {"source": {"citation": "by hand"}}, "id": event_id,
            "recorded_at": envelope.now(), "recorded_by": "hand", "schema": 1, "seq": 1,
            "subject": subject, "type": "source.added", "writer": "hand", **fields}


def write_by_hand(events: Path, event: dict, folder: str = "hand") -> Path:
    path = events / folder / f"{event['recorded_at'][:7]}.jsonl"
    path.parent.mkdir(exist_ok=True)
    with open(path, "ab") as file:
        file.write(sealed_as_is(event))
    return path


def test_log_as_json_names_an_event_nested_too_deeply(events: Path) -> None:
    ids, _ = three_meetings(events)
    event = hand_event(ids[0], data={"source": {"citation": "by hand", "quote": DEEP}})
    write_by_hand(events, event)
    result = run("log", "--json")
    assert (result.exit_code, result.exception.__class__) == (1, SystemExit)
    assert result.stderr == (f"Error: event {event['id']} is nested too deeply to write as "
                             "JSON: run tracker verify\n")
    assert run("log").exit_code == 0


def test_a_recorded_at_that_is_no_time_is_passed_over_or_refused_in_one_line(
        events: Path) -> None:
    """Another writer's event at '2026-11-31T99:99:99.000000Z' (its shape, not a time): an
    event that must follow it is recorded now; after a writer's own such event, nothing
    can be appended, and the error says why."""
    ids, ours = three_meetings(events)
    event = hand_event(ids[0], recorded_at="2026-11-31T99:99:99.000000Z")
    path = write_by_hand(events, event)
    before = envelope.now()
    cited = json.loads(ok("cite", ids[0], "--source", "https://example.org/c", "--json"))
    assert before <= cited["recorded_at"] <= envelope.now()
    with open(ours, "ab") as file:
        file.write(sealed_as_is({**event, "writer": WRITER, "seq": 5}))
    before = log_bytes(events)
    result = run("cite", ids[1], "--source", "https://example.org/d")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: event {event['id']} ({name(ours, events)}:5): bad recorded_at "
        f"'2026-11-31T99:99:99.000000Z'; the last event of writer {WRITER} is damaged, so "
        f"nothing can be appended after it: run tracker verify\n")
    assert log_bytes(events) == before
    assert path.exists()
    verified = run("verify")  # which names both
    assert (verified.exit_code, verified.stderr.splitlines()[:2]) == (1, [
        f"Problem: event {event['id']} ({name(path, events)}:1): bad recorded_at "
        "'2026-11-31T99:99:99.000000Z'",
        f"Problem: event {event['id']} ({name(ours, events)}:5): bad recorded_at "
        "'2026-11-31T99:99:99.000000Z'"])


def test_a_recipient_given_twice_by_hand_is_built_once(events: Path, db: Path) -> None:
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2024", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "5", "--currency", "JPY", *SOURCE)
    line = json.loads(lines_of(segment(events))[0])
    event = {**line, "id": "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", "subject": "01J3Z8Q6M0S7WQ4N6V7R2K9B1C",
             "writer": "hand", "seq": 1,
             "data": {**line["data"], "recipients": ["KAZ", "UZB", "KAZ"]}}
    del event["hash"]
    write_by_hand(events, event)
    ok("build")
    assert rows(db, "select pledge_id, actor from pledge_recipients order by pledge_id, actor") \
        == [{"pledge_id": "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", "actor": "KAZ"},
            {"pledge_id": "01J3Z8Q6M0S7WQ4N6V7R2K9B1C", "actor": "UZB"},
            {"pledge_id": pledge, "actor": "KAZ"}]


@pytest.mark.parametrize("field", [name for name in envelope.ENVELOPE_FIELDS if name != "hash"])
def test_every_envelope_field_is_typed_when_replay_reads_it(field: str) -> None:
    """`parse_hashed` checks each field's type written out, for speed: it agrees with
    `_SHAPE`, which names the field. (A hash that is not text fails as a hash.)"""
    event = hand_event("01J3Z8Q6M0S7WQ4N6V7R2K9B1C")
    wrong = [] if envelope._SHAPE[field] is not list else {}
    line = sealed_as_is({**event, field: wrong})
    with pytest.raises(envelope.BadLine, match=re.escape(f"bad {field} []")):
        envelope.parse_hashed(line[:-1])


def test_an_empty_line_is_named_at_the_same_line_by_build_verify_and_add(
        events: Path, db: Path) -> None:
    """No append writes an empty line (a hand edit does): an incremental build, a full
    one, `verify` and the next append all name its line of the file, and say what to do."""
    _ids, path = three_meetings(events)
    ok("build")
    with open(path, "ab") as file:
        file.write(b"\n")
    what = "an empty line, which no append writes: delete it"
    where = f"{name(path, events)} line 4 is damaged ({what}); run tracker verify"
    for args in (("build",), ("build", "--full")):
        result = run(*args)
        assert (result.exit_code, result.stderr) == (1, f"Error: {where}\n"), args
    verify_fails_with(f"event (unreadable id) ({name(path, events)}:4): {what}", 4)
    before = log_bytes(events)
    result = run("add", "meeting", "--title", "Echo", "--date", "2020", *SOURCE)
    assert (result.exit_code, result.stderr) == (1, (
        f"Error: event (unreadable id) ({name(path, events)}:4): {what}; the last event of "
        f"writer {WRITER} is damaged, so nothing can be appended after it: run tracker "
        "verify\n"))
    assert log_bytes(events) == before
    path.write_bytes(path.read_bytes()[:-1])  # deleted: all is well again
    assert ok("verify") == "OK: 3 events in 1 file"
