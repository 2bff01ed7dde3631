"""`tracker verify`: hashes, duplicate ids, seq gaps, schema, references."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker import envelope
from tracker.log import EventLog
from tracker.model import draft_record
from tracker.recorder import record

from .conftest import SOURCE, ok, rows, run
from .test_log import fields, segment


def three_meetings() -> list[str]:
    return [ok("add", "meeting", "--title", title, "--date", "2020", *SOURCE)
            for title in ("Alpha", "Bravo", "Charlie")]


def failure(expected_in_stderr: str) -> str:
    result = run("verify")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert expected_in_stderr in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: verify failed: ")
    return result.stderr


def test_verify_passes_on_the_bundled_log(bundled: Path) -> None:
    events = len(list(EventLog(bundled.parent / "events").events()))
    assert ok("verify") == f"OK: {events} events in 1 file"
    assert json.loads(ok("verify", "--json")) == {
        "ok": True, "events": events, "files": 1, "against": None, "problems": [],
        "warnings": []}


def test_a_file_of_events_out_of_place_is_named(events: Path) -> None:
    """A segment copied to the top of the folder, moved one level too deep, or left by a
    merge as a `.orig`: no command reads it, so `verify` names it (a warning); the local
    state (names starting with a dot) is not named."""
    three_meetings()
    path = segment(events)
    (events / "archive" / path.parent.name).mkdir(parents=True)
    for copy in (events / path.name, events / "archive" / path.parent.name / path.name,
                 path.with_name(path.name + ".orig")):
        copy.write_bytes(path.read_bytes())
    (events / ".cache" / "x").mkdir(parents=True, exist_ok=True)
    (events / ".cache" / "x" / "stale.jsonl").write_bytes(path.read_bytes())
    result = run("verify")
    unread = [f"{name} is not read: the log's events are in <writer>/<YYYY-MM>.jsonl (move "
              "it there, or delete a copy)" for name in sorted((
                  path.name, f"archive/{path.parent.name}/{path.name}",
                  f"{path.parent.name}/{path.name}.orig"))]
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "OK: 3 events in 1 file\n", "".join(f"Warning: {line}\n" for line in unread))
    assert json.loads(ok("verify", "--json"))["warnings"] == unread


def test_a_format_slug_earlier_versions_took_still_verifies(events: Path) -> None:
    """A slug that reads as a ULID in lower case is refused for a new format, but a log
    whose earlier version took one is valid: verify and build take it."""
    slug = "01m85vc0000000000000000000"
    refused = run("add", "format", slug, "--name", "X", *SOURCE)
    assert (refused.exit_code, refused.stderr) == (1, (
        f"Error: invalid format slug '{slug}': it reads as a record id (a ULID)\n"))
    draft = draft_record("format", {"slug": "placeholder", "name": "X", "source": SOURCE[1]})
    record(EventLog(events), replace(draft, subject=slug))  # as an earlier version wrote
    assert ok("verify") == "OK: 1 event in 1 file"
    assert ok("build").startswith("Built ")


def test_currencies_that_are_not_money_are_refused_for_new_amounts(events: Path,
                                                                   db: Path) -> None:
    """XXX (no currency) and XTS (testing) are refused for a new pledge, an imported one and
    an amended currency; the units amounts are given in (gold, the SDR, ...) are taken. A
    pledge an earlier version took with XXX stays valid, and can be amended."""
    for code, meaning in (("xxx", "for transactions where no currency is involved"),
                          ("XTS", "reserved for testing")):
        refused = run("add", "pledge", "--title", "Aid", "--date", "2020", "--donor", "JPN",
                      "--recipient", "KAZ", "--amount", "5", "--currency", code, *SOURCE)
        assert (refused.exit_code, refused.stderr) == (1, (
            f"Error: invalid --currency '{code.upper()}': {code.upper()} is the ISO 4217 code "
            f"{meaning}, not a currency: give the currency of the amount\n"))
    assert not events.exists()
    for code in ("XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XBD", "XSU", "XUA"):
        ok("add", "pledge", "--title", code, "--date", "2020", "--donor", "JPN",
           "--recipient", "KAZ", "--amount", "5", "--currency", code, *SOURCE)
    draft = draft_record("pledge", {"title": "Aid", "date": "2020", "donor": "JPN",
                                    "recipient": ("KAZ",), "amount": "5", "currency": "USD",
                                    "source": SOURCE[1]})
    event, _ = record(EventLog(events), replace(draft, data={  # as an earlier version wrote
        **draft.data, "currency": "XXX"}))
    pledge = event["id"]
    assert ok("verify") == "OK: 10 events in 1 file"
    ok("amend", pledge, "--set", "title=Grant aid", "--reason", "the title")
    amended = run("amend", pledge, "--set", "currency=xts", "--reason", "r")
    assert (amended.exit_code, amended.stderr) == (1, (
        "Error: invalid --set currency='XTS': XTS is the ISO 4217 code reserved for testing, not "
        "a currency: give the currency of the amount\n"))
    ok("amend", pledge, "--set", "currency=JPY", "--reason", "the currency")
    imported = run("import", "--kind", "pledge", str(write_text(
        db.parent / "pledges.csv", "title,date,donor,recipient,amount,currency,source\n"
        "Aid,2020,JPN,KAZ,5,XXX,x\n")))
    assert (imported.exit_code, imported.stderr.splitlines()[1:]) == (1, [
        "line 2: currency: invalid currency 'XXX': XXX is the ISO 4217 code for transactions "
        "where no currency is involved, not a currency: give the currency of the amount"])
    ok("build")
    assert rows(db, "select title, currency from pledges where title in ('Grant aid', 'XDR') "
                "order by title") == [{"title": "Grant aid", "currency": "JPY"},
                                      {"title": "XDR", "currency": "XDR"}]


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_noncharacter_earlier_versions_took_still_verifies(events: Path, db: Path) -> None:
    """U+FFFE and U+FFFF (which XML forbids) are refused in new text, but a log whose
    earlier version took them is valid: verify and build take it. An amendment of such a
    record names the text to correct, as it checks the record whole."""
    title = "Summit \ufffe of \uffff"
    refused = run("add", "meeting", "--title", title, "--date", "2020", *SOURCE)
    assert (refused.exit_code, refused.stderr) == (1, (
        "Error: invalid --title 'Summit \\ufffe of \\uffff': noncharacter U+FFFE (XML "
        "forbids it)\n"))
    draft = draft_record("meeting", {"title": "placeholder", "date": "2020",
                                     "source": SOURCE[1], "quote": "said"})
    event, _ = record(EventLog(events), replace(draft, data={  # as an earlier version wrote
        **draft.data, "title": title, "source": {**draft.data["source"], "quote": "said \uffff"}}))
    meeting = event["id"]
    assert ok("verify") == "OK: 1 event in 1 file"
    assert ok("build").startswith("Built ")
    assert rows(db, "select title from meetings") == [{"title": title}]
    amended = run("amend", meeting, "--set", "level=summit", "--reason", "it was a summit")
    assert (amended.exit_code, amended.stderr) == (1, (
        "Error: invalid --title 'Summit \\ufffe of \\uffff': noncharacter U+FFFE (XML "
        "forbids it)\n"))
    ok("amend", meeting, "--set", "level=summit", "--set", "title=Summit of leaders",
       "--reason", "it was a summit")
    assert ok("verify") == "OK: 2 events in 1 file"


def test_flipped_byte_in_the_hash_names_the_event(events: Path) -> None:
    ids = three_meetings()
    path = segment(events)
    lines = path.read_bytes().split(b"\n")
    event = json.loads(lines[2])
    flipped = event["hash"][:-1] + ("0" if event["hash"][-1] != "0" else "1")
    lines[2] = lines[2].replace(event["hash"].encode(), flipped.encode())
    path.write_bytes(b"\n".join(lines))
    stderr = failure(f"Problem: event {ids[2]} (")
    result = run("verify", "--json")
    [problem] = [line.removeprefix("Problem: ") for line in stderr.splitlines()
                 if line.startswith("Problem: ")]
    assert problem.startswith(f"event {ids[2]} (")
    assert (result.exit_code, json.loads(result.stdout), result.stderr) == (1, {
        "ok": False, "events": 3, "files": 1, "against": None, "problems": [problem],
        "warnings": []}, stderr)


def test_a_byte_that_breaks_the_json_still_names_the_event(events: Path) -> None:
    ids = three_meetings()
    path = segment(events)
    path.write_bytes(path.read_bytes().replace(b'"title":"Alpha"', b'"title":"Alpha'))
    stderr = failure(f"Problem: event {ids[0]} (")
    assert "not valid JSON" in stderr


def test_reference_to_unknown_subject_names_the_event(events: Path) -> None:
    three_meetings()
    log = EventLog(events)
    orphan = fields("Orphan")
    orphan["data"]["format"] = "no-such-format"
    with log.session() as appender:
        written = appender.write(orphan)
    failure(f"event {written['id']}: refers to unknown subject no-such-format")


def test_what_an_amendment_changes_a_reference_to_must_exist_as_its_kind(
        events: Path) -> None:
    """An amendment written by hand (the CLI refuses these): a meeting's format set to
    none, and a pledge's meeting set to an announcement, are named as references are."""
    meeting = ok("add", "meeting", "--title", "Alpha", "--date", "2020", *SOURCE)
    note = ok("add", "announcement", "--title", "Note", "--date", "2020", "--by", "JPN",
              *SOURCE)
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2020", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "5", "--currency", "JPY", "--at", meeting,
                *SOURCE)
    with EventLog(events).session() as appender:
        bad_format = appender.write(amendment(meeting, {"format": "no-such-format"}))
        bad_meeting = appender.write(amendment(pledge, {"meeting_id": note}))
        cleared = appender.write(amendment(pledge, {"meeting_id": None}))
    stderr = failure(f"event {bad_format['id']}: refers to unknown subject no-such-format")
    assert f"Problem: event {bad_meeting['id']}: {note} is an announcement, not a meeting" \
        in stderr
    assert cleared["id"] not in stderr


def test_a_meeting_recorded_without_a_status_is_named(events: Path) -> None:
    """`tracker add` always gives a meeting its status (the build needs one): a meeting
    recorded without one, by hand, is a problem of that event."""
    three_meetings()
    bare = fields("Bare")
    assert bare["data"].pop("status") == "held"
    with EventLog(events).session() as appender:
        written = appender.write(bare)
    failure(f"Problem: event {written['id']} ({segment(events).parent.name}/"
            f"{segment(events).name}:4): missing status\n")


def amendment(subject: str, changes: dict) -> dict:
    return {"id": envelope.new_id(), "type": "record.amended", "schema": envelope.SCHEMA,
            "subject": subject, "recorded_at": envelope.now(), "recorded_by": "hand",
            "data": {"changes": changes, "reason": "by hand"}}


def test_schema_problems_name_the_event(events: Path) -> None:
    three_meetings()
    bad = fields("Bad")
    bad["data"]["level"] = "emperor"
    with EventLog(events).session() as appender:
        written = appender.write(bad)
    failure(f"event {written['id']} (")
    assert "bad level 'emperor'" in run("verify").stderr


def test_unknown_event_type_names_the_event(events: Path) -> None:
    bad = fields("Bad")
    bad["type"] = "meeting.teleported"
    with EventLog(events).session() as appender:
        written = appender.write(bad)
    failure(f"event {written['id']} (")
    assert "unknown type 'meeting.teleported'" in run("verify").stderr


def test_verify_on_an_empty_log(events: Path) -> None:
    """An events folder that does not exist (a typo in --events) is refused, and not
    made; an empty one is an empty log."""
    result = run("verify")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: no event log at {events}\n")
    assert not events.exists()
    events.mkdir()
    assert ok("verify") == "OK: 0 events in 0 files"


def test_two_processes_report_what_one_does(events: Path) -> None:
    """A log checked in two processes (each reads about half of its bytes, here cutting
    bob's lines in two): the same problems and warnings as in one."""
    from tracker.verify import verify

    for writer in ("alice", "bob", "carol"):
        log = EventLog(events, writer=writer)
        with log.session() as appender:
            for title in ("One", "Two", "Three"):
                appender.write(fields(f"{writer} {title}"))
    retried = fields("Retried in two clones")
    forged = fields("Forged")
    orphan = fields("Orphan")
    orphan["data"]["format"] = "no-such-format"
    with EventLog(events, writer="alice").session() as appender:
        appender.write(retried)
        appender.write(forged)
        appender.write(orphan)
    with EventLog(events, writer="bob").session() as appender:
        appender.write({**retried, "recorded_at": envelope.now()})
        appender.write({**forged, "data": {**forged["data"], "title": "Other"},
                        "recorded_at": envelope.now()})
    for writer in ("alice", "carol"):
        with EventLog(events, writer=writer).session() as appender:
            appender.write(format_recorded(f"Format of {writer}"))
    for writer in ("alice", "bob"):  # references and amendments settled in each half
        with EventLog(events, writer=writer).session() as appender:
            meeting = appender.write(fields(f"{writer} meets"))
            for changes in ({"title": "Renamed"}, {"donor": "JPN"}):  # the second is bad
                appender.write({**fields("x"), "type": "record.amended",
                                "subject": meeting["id"],
                                "data": {"changes": changes, "reason": "r"}})
            pledge = draft_record("pledge", {"title": "Grant", "date": "2020", "donor": "JPN",
                                             "recipient": ("KAZ",), "amount": "5",
                                             "currency": "JPY", "at": meeting["id"],
                                             "source": "s"})
            first = appender.write({**fields("x"), "type": pledge.type, "data": pledge.data})
            appender.write({**fields("x"), "type": pledge.type,  # "at" another pledge: bad
                            "data": {**pledge.data, "meeting_id": first["id"]}})
    segment = next((events / "carol").glob("*.jsonl"))
    lines = segment.read_bytes().split(b"\n")
    segment.write_bytes(b"\n".join([lines[0], *lines[2:]]))  # a seq gap
    one = verify(EventLog(events), workers=1)
    two = verify(EventLog(events), workers=2)
    assert (two.events, two.files) == (one.events, one.files) == (23, 3)  # ids, once
    assert (two.problems, two.warnings) == (one.problems, one.warnings)  # in the same order
    # the forgery, the unknown format, the seq gap; of alice and bob, a bad amendment and a
    # pledge at a pledge
    assert len(one.problems) == 7
    bad_amendments = [problem for problem in one.problems if "unknown field 'donor'" in problem]
    assert [re.sub(r"[0-9A-Z]{26}|\d{4}-\d{2}", "X", problem) for problem in bad_amendments] == [
        f"event X ({writer}/X.jsonl:{line}): unknown field 'donor'"
        for writer, line in (("alice", 10), ("bob", 8))]
    assert sum("is a pledge, not a meeting" in problem for problem in one.problems) == 2
    assert len(one.warnings) == 2  # the retry in another clone, the slug recorded twice


def test_an_event_recorded_a_day_or_more_after_now_is_a_warning(events: Path) -> None:
    """A writer's clock ahead: each such event is named, in one process or two; an hour
    ahead is within what clocks differ by."""
    from datetime import datetime, timedelta, timezone

    def later(delta: timedelta) -> str:
        return envelope.format_timestamp(datetime.now(timezone.utc) + delta)

    times = [later(timedelta(hours=1)), later(timedelta(days=2)), "2999-01-01T00:00:00.000000Z"]
    with EventLog(events, writer="skewed").session() as appender:
        written = [appender.write(fields(f"Ahead {number}", recorded_at))
                   for number, recorded_at in enumerate(times)]
    with EventLog(events, writer="other").session() as appender:
        for title in ("One", "Two"):
            appender.write(fields(title))
    problems, warnings = one_and_two_processes(events)
    assert problems == []
    second_line = 2 if times[1][:7] == times[0][:7] else 1  # (near a month's end: its first)
    assert warnings == [
        f"event {event['id']} (skewed/{event['recorded_at'][:7]}.jsonl:{line}) is recorded at "
        f"{event['recorded_at']}, later than now: the clock of writer skewed was ahead, and "
        "the events that must follow this one are recorded after it"
        for event, line in ((written[1], second_line), (written[2], 1))]
    files = 1 + len({recorded_at[:7] for recorded_at in times})
    result = run("verify")
    assert (result.exit_code, result.stdout) == (0, f"OK: 5 events in {files} files\n")
    assert result.stderr == "".join(f"Warning: {warning}\n" for warning in warnings)
    as_json = run("verify", "--json")
    assert (as_json.exit_code, json.loads(as_json.stdout), as_json.stderr) == (0, {
        "ok": True, "events": 5, "files": files, "against": None, "problems": [],
        "warnings": warnings}, result.stderr)


class RecordedProgress:
    """A progress function that keeps what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, int]] = []
        self.advanced: list[int] = []

    def __call__(self, label: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
        self.told.append((label, total))
        return nullcontext(self.advanced.append)


def test_verify_reports_every_byte_it_checks_in_one_or_two_processes(tmp_path: Path) -> None:
    from tracker.log import READ_BLOCK
    from tracker.verify import verify

    from .benchmark import generate

    events = tmp_path / "events"
    generate(events, 9000)
    segments = EventLog(events).segments()
    size = sum(path.stat().st_size for path in segments)
    longest = max(len(line) for path in segments for line in path.read_bytes().splitlines())
    for workers in (1, 2):
        progress = RecordedProgress()
        report = verify(EventLog(events), workers=workers, progress=progress)
        assert (report.events, report.problems) == (9000, [])
        assert progress.told == [("Verifying", size)]
        assert sum(progress.advanced) == size
        if workers == 1:  # reported as it reads, a block at a time
            assert len(progress.advanced) >= len(segments)
            assert max(progress.advanced) <= READ_BLOCK + longest + 1


def test_a_big_verify_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .benchmark import generate
    from .conftest import PROJECT
    from .terminal import stderr_on_terminal

    events = tmp_path / "events"
    generate(events, 16000)
    command = [sys.executable, "-m", "tracker", "--events", str(events), "verify"]
    shown = stderr_on_terminal(command, PROJECT)
    assert "Verifying" in shown and "100%" in shown
    piped = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=True)
    assert piped.stderr == ""
    assert piped.stdout.startswith("OK: 16000 events")


def test_a_damaged_record_in_the_other_process_is_reported_once(events: Path) -> None:
    """A damaged line recording a subject that the other half of the log records too."""
    from tracker.verify import verify

    with EventLog(events, writer="alice").session() as appender:  # read first
        appender.write(format_recorded("Format of alice"))
        for title in ("One", "Two", "Three"):
            appender.write(fields(title))
    with EventLog(events, writer="bob").session() as appender:
        appender.write(format_recorded("Format of bob"))
    damaged = next((events / "bob").glob("*.jsonl"))
    damaged.write_bytes(damaged.read_bytes().replace(b"Format of bob", b"Format of eve"))
    one = verify(EventLog(events), workers=1)
    two = verify(EventLog(events), workers=2)
    assert (two.problems, two.warnings) == (one.problems, one.warnings)
    [problem] = one.problems
    assert problem.endswith("hash does not match content")
    assert one.warnings == []


def format_recorded(name: str) -> dict:
    return {**fields("x"), "type": "format.recorded", "subject": "same-slug",
            "data": {"name": name, "source": {"citation": "s"}}}


def one_and_two_processes(events: Path) -> tuple:
    """The reports of one and of two processes, which must be the same."""
    from tracker.verify import verify

    one = verify(EventLog(events), workers=1)
    two = verify(EventLog(events), workers=2)
    assert (two.events, two.problems, two.warnings) == (one.events, one.problems, one.warnings)
    return one.problems, one.warnings


def test_the_first_record_of_a_slug_is_the_same_in_one_or_two_processes(events: Path) -> None:
    """Writers a(10), b(8), c(5), d(4), cut in two within b's lines: the slug recorded
    first in segment order is b's, in the first half; d records it again in the other."""
    for writer, count in (("a", 10), ("b", 8), ("c", 5), ("d", 4)):
        with EventLog(events, writer=writer).session() as appender:
            if writer in "bd":
                appender.write(format_recorded(f"Format of {writer}"))
            for title in range(count - (writer in "bd")):
                appender.write(fields(f"{writer} {title}"))
    problems, [warning] = one_and_two_processes(events)
    assert problems == []
    assert "(d/" in warning and warning.endswith("same-slug was already recorded; the earlier "
                                                 "record stands")


def test_a_line_copied_into_another_writers_folder_in_one_or_two_processes(
        events: Path) -> None:
    for writer, count in (("a", 6), ("b", 5)):
        with EventLog(events, writer=writer).session() as appender:
            for title in range(count):
                appender.write(fields(f"{writer} {title}"))
    source, target = (next((events / writer).glob("*.jsonl")) for writer in "ab")
    target.write_bytes(target.read_bytes() + source.read_bytes().splitlines(keepends=True)[2])
    problems, [warning] = one_and_two_processes(events)
    assert problems == []
    assert "appears more than once (first at a/" in warning


def format_and_meeting_of_bbbb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writer bbbb records the format fmt, then a meeting of that format."""
    monkeypatch.setenv("TRACKER_WRITER", "bbbb")
    ok("add", "format", "fmt", "--name", "F", *SOURCE)
    ok("add", "meeting", "--title", "M", "--date", "2020", "--format", "fmt", *SOURCE)


@pytest.mark.parametrize("other", ["aaaa", "zzzz"])
def test_a_line_copied_into_another_folder_is_the_repeat_whichever_folder_sorts_first(
        events: Path, monkeypatch: pytest.MonkeyPatch, other: str) -> None:
    """bbbb's first line copied to the end of another writer's segment: the copy is the
    repeat, named beside bbbb's line (the event), and nothing is missing, whether the
    other folder is read before bbbb's or after (before, the copy was checked as the
    event: bbbb's seq 1 was missing, and its meeting's format unknown)."""
    format_and_meeting_of_bbbb(monkeypatch)
    monkeypatch.setenv("TRACKER_WRITER", other)
    ok("add", "format", "fmt2", "--name", "F2", *SOURCE)
    [source], [target] = ((events / writer).glob("*.jsonl") for writer in ("bbbb", other))
    line = source.read_bytes().splitlines(keepends=True)[0]
    target.write_bytes(target.read_bytes() + line)
    warning = (f"event {json.loads(line)['id']} ({other}/{target.name}:2) appears more than "
               f"once (first at bbbb/{source.name}:1)")
    result = run("verify")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "OK: 3 events in 2 files\n", f"Warning: {warning}\n")
    assert one_and_two_processes(events) == ([], [warning])


@pytest.mark.parametrize("other", ["aaaa", "zzzz"])
def test_a_segment_copied_into_another_folder_is_repeats_whichever_folder_sorts_first(
        events: Path, monkeypatch: pytest.MonkeyPatch, other: str) -> None:
    """bbbb's segment copied into a new folder: each copied line is a repeat of bbbb's,
    whether that folder is read before bbbb's or after."""
    format_and_meeting_of_bbbb(monkeypatch)
    [source] = (events / "bbbb").glob("*.jsonl")
    (events / other).mkdir()
    shutil.copy(source, events / other / source.name)
    warnings = [f"event {json.loads(line)['id']} ({other}/{source.name}:{number}) appears "
                f"more than once (first at bbbb/{source.name}:{number})"
                for number, line in enumerate(source.read_bytes().splitlines(), start=1)]
    result = run("verify")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "OK: 2 events in 2 files\n", "".join(f"Warning: {line}\n" for line in warnings))
    assert one_and_two_processes(events) == ([], warnings)


@pytest.mark.parametrize("other", ["aaaa", "zzzz"])
def test_a_line_moved_into_another_folder_is_one_problem_whichever_folder_sorts_first(
        events: Path, monkeypatch: pytest.MonkeyPatch, other: str) -> None:
    """bbbb's first line moved into another folder: that line is the problem, reported
    once, and not again as bbbb's seq 1 missing or as the meeting's format unknown."""
    format_and_meeting_of_bbbb(monkeypatch)
    [source] = (events / "bbbb").glob("*.jsonl")
    line, rest = source.read_bytes().split(b"\n", 1)
    source.write_bytes(rest)
    (events / other).mkdir()
    (events / other / source.name).write_bytes(line + b"\n")
    problem = (f"event {json.loads(line)['id']} ({other}/{source.name}:1): writer 'bbbb' in "
               f"the folder of '{other}'")
    result = run("verify")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", (
        f"Problem: {problem}\nError: verify failed: 1 problem in 2 events; first: {problem}\n"))
    assert one_and_two_processes(events) == ([problem], [])


@pytest.mark.parametrize("later", ["aaaa", "zzzz"])
def test_a_slug_recorded_twice_is_named_on_the_record_replay_ignores(
        events: Path, db: Path, monkeypatch: pytest.MonkeyPatch, later: str) -> None:
    """bbbb records a slug, then another clone records it again: the warning names the
    later record in replay order, which the build ignores, whether its folder is read
    before bbbb's or after (before, it named bbbb's, the record that stands)."""
    monkeypatch.setenv("TRACKER_WRITER", "bbbb")
    ok("add", "format", "dupf", "--name", "First", *SOURCE)
    monkeypatch.setenv("TRACKER_WRITER", later)
    clone = events.parent / "other"
    second = json.loads(ok("--events", clone, "add", "format", "dupf", "--name", "Second",
                           *SOURCE, "--json"))
    shutil.copytree(clone / later, events / later)
    warning = (f"event {second['id']} ({later}/{second['recorded_at'][:7]}.jsonl:1): dupf "
               "was already recorded; the earlier record stands")
    result = run("verify")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "OK: 2 events in 2 files\n", f"Warning: {warning}\n")
    assert one_and_two_processes(events) == ([], [warning])
    ok("build")
    assert rows(db, "select name from formats") == [{"name": "First"}]


@pytest.mark.parametrize("damaged_first", [False, True])
def test_a_damaged_copy_of_a_record_in_another_folder_in_one_or_two_processes(
        events: Path, damaged_first: bool) -> None:
    """A record, and a damaged copy of its line in another writer's folder: the copy is
    reported once, as damaged, and the record stands, whichever comes first."""
    for writer, count in (("a", 6), ("b", 5)):
        with EventLog(events, writer=writer).session() as appender:
            for title in range(count):
                appender.write(fields(f"{writer} {title}"))
    source, target = (next((events / writer).glob("*.jsonl")) for writer in "ab")
    if damaged_first:
        source, target = target, source
    line = source.read_bytes().splitlines(keepends=True)[2]
    damaged = line.replace(b'"title":"', b'"title":"X')  # the hash no longer matches
    kept = target.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join(kept) + damaged)
    problems, warnings = one_and_two_processes(events)
    assert problems == [f"event {json.loads(line)['id']} ({target.relative_to(events)}:"
                        f"{len(kept) + 1}): hash does not match content"]
    assert warnings == []


DAMAGE = ("copy elsewhere", "repeat at the end", "drop", "break the hash", "break the JSON",
          "copy broken elsewhere")


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**16), changes=st.lists(
    st.tuples(st.sampled_from(DAMAGE), st.integers(0, 10**6), st.integers(0, 10**6)),
    min_size=1, max_size=5))
def test_one_and_two_processes_agree_on_a_damaged_log(
        seed: int, changes: list[tuple[str, int, int]]) -> None:
    """Lines copied, repeated, dropped or damaged anywhere in a log of four writers: two
    processes report exactly what one does, in the same order."""
    from .benchmark import generate

    with tempfile.TemporaryDirectory() as scratch:
        events = Path(scratch) / "events"
        generate(events, 240, seed=seed)
        segments = sorted(events.glob("*/*.jsonl"))
        for change, which, where in changes:
            source = segments[which % len(segments)]
            other = segments[(which + 1 + where) % len(segments)]
            lines = source.read_bytes().splitlines(keepends=True)
            at = where % len(lines)
            line = lines[at]
            broken = (line.replace(b'"recorded_by":"', b'"recorded_by":"X', 1)
                      if change != "break the JSON" else line.replace(b"}", b"", 1))
            if change in ("break the hash", "break the JSON"):
                lines[at] = broken
            elif change == "drop":
                del lines[at]
            elif change == "repeat at the end":
                lines.append(line)
            source.write_bytes(b"".join(lines))
            if change in ("copy elsewhere", "copy broken elsewhere"):
                copied = line if change == "copy elsewhere" else broken
                other.write_bytes(other.read_bytes() + copied)
        from tracker.verify import verify

        one = verify(EventLog(events), workers=1)
        two = verify(EventLog(events), workers=2)
        assert (two.events, two.problems, two.warnings) == (
            one.events, one.problems, one.warnings)


def test_a_reference_is_settled_by_the_record_that_stands_not_by_a_damaged_line(
        events: Path) -> None:
    """A damaged line recording S as a meeting, an update of the meeting S, then the
    valid record of S, a pledge: the update refers to a pledge, not a meeting."""
    from tracker.model import draft_update
    from tracker.verify import verify

    damaged = fields("Damaged")
    subject = damaged["id"]
    update = draft_update("meeting", subject, {"status": "held", "source": "s"})
    updating = {**fields("x"), "type": update.type, "subject": subject, "data": update.data}
    pledge = draft_record("pledge", {"title": "P", "donor": "JPN", "recipient": ("KAZ",),
                                     "amount": "5", "currency": "USD", "date": "2020",
                                     "source": "s"})
    with EventLog(events, writer="a").session() as appender:
        appender.write(damaged)
        appender.write(updating)
        appender.write({**fields("y"), "id": subject, "subject": subject,
                        "type": pledge.type, "data": pledge.data})
    path = segment(events)
    path.write_bytes(path.read_bytes().replace(b'"title":"Damaged"', b'"title":"Damaged!"'))
    report = verify(EventLog(events))
    assert report.problems == [
        f"event {subject} (a/{path.name}:1): hash does not match content",
        f"event {updating['id']}: {subject} is a pledge, not a meeting"]


def two_writers(events: Path) -> dict[str, dict]:
    """Writers a (checked in this process, see `labels_and_reports`) and b (in the
    worker), and a meeting of each."""
    meetings = {}
    for writer, count in (("a", 8), ("b", 4)):
        with EventLog(events, writer=writer).session() as appender:
            meetings[writer] = appender.write(fields(f"{writer} meets"))
            for title in range(count):
                appender.write(fields(f"{writer} {title}"))
    return meetings


def cut_before_b(events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make two processes cut the log of `two_writers` between a and b."""
    from tracker import verify as module

    sizes = {path.parent.name: path.stat().st_size for path in EventLog(events).segments()}
    monkeypatch.setattr(module, "WORKER_SHARE", sizes["b"] / (sizes["a"] + sizes["b"]))


def labels_and_reports(events: Path) -> tuple[list[str], list[str], list[str]]:
    """The bars two processes show, and their problems and warnings, which must be what
    one process reports."""
    from tracker.verify import verify

    progress = RecordedProgress()
    two = verify(EventLog(events), workers=2, progress=progress)
    one = verify(EventLog(events), workers=1)
    assert (two.events, two.problems, two.warnings) == (one.events, one.problems, one.warnings)
    return [label for label, _ in progress.told], one.problems, one.warnings


@pytest.mark.parametrize("writer", ["a", "b"])
def test_a_reference_the_other_process_does_not_answer(
        events: Path, writer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reported by this process if one of its events makes it; if one of the worker's
    does, the log is checked again in one process."""
    two_writers(events)
    orphan = fields("Orphan")
    orphan["data"]["format"] = "no-such-format"
    with EventLog(events, writer=writer).session() as appender:
        appender.write(orphan)
    cut_before_b(events, monkeypatch)
    labels, problems, warnings = labels_and_reports(events)
    assert problems == [f"event {orphan['id']}: refers to unknown subject no-such-format"]
    assert warnings == []
    assert labels == (["Verifying"] if writer == "a" else
                      ["Verifying", "Verifying in one process"])


def test_amendments_and_updates_across_the_processes_take_one_pass(
        events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each writer amends and updates the other's meeting: answered, and checked against
    its kind, across the two processes."""
    meetings = two_writers(events)
    amendments = []
    for writer, other in (("a", "b"), ("b", "a")):
        with EventLog(events, writer=writer).session() as appender:
            for changes in ({"title": "Renamed"}, {"donor": "JPN"}):  # the second is bad
                amendments.append(appender.write({
                    **fields("x"), "type": "record.amended", "subject": meetings[other]["id"],
                    "data": {"changes": changes, "reason": "r"}}))
            appender.write({**fields("x"), "type": "meeting.status_changed",
                            "subject": meetings[other]["id"],
                            "data": {"status": "held", "source": {"citation": "s"}}})
    cut_before_b(events, monkeypatch)
    labels, problems, warnings = labels_and_reports(events)
    assert labels == ["Verifying"]
    assert [problem.split(" ", 2)[1] for problem in problems] == [
        amendments[1]["id"], amendments[3]["id"]]
    assert all(problem.endswith("): unknown field 'donor'") for problem in problems)
    assert warnings == []


def children() -> set[int]:
    return {int(pid) for task in Path("/proc/self/task").iterdir()
            for pid in (task / "children").read_text().split()}


def test_a_worker_that_fails_or_dies_is_reported(events: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from tracker import verify as module
    from tracker.errors import TrackerError

    two_writers(events)
    parent, scan = os.getpid(), module._scan

    def failing(*args: object) -> module.Scan:
        if os.getpid() != parent:
            raise ValueError("a bug")
        return scan(*args)  # type: ignore[arg-type]

    def dying(*args: object) -> module.Scan:
        if os.getpid() != parent:
            os._exit(3)
        return scan(*args)  # type: ignore[arg-type]

    before = children()
    monkeypatch.setattr(module, "_scan", failing)
    with pytest.raises(RuntimeError, match=r"(?s)\Athe process checking the log failed:\n"
                                           r"Traceback.*ValueError: a bug\n\Z"):
        module.verify(EventLog(events), workers=2)
    monkeypatch.setattr(module, "_scan", dying)
    with pytest.raises(TrackerError, match=r"\Athe process checking the log stopped before "
                                           r"the end \(exit status 3\)\Z"):
        module.verify(EventLog(events), workers=2)
    assert children() == before


@pytest.mark.parametrize("writer", ["a", "b"])
def test_a_damaged_line_recording_the_other_process_s_subject(
        events: Path, writer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged copy of the other writer's meeting, as a pledge, and an update of the
    meeting next to it: the meeting stands, whichever process reads the copy."""
    meetings = two_writers(events)
    other = meetings["b" if writer == "a" else "a"]
    with EventLog(events, writer=writer).session() as appender:
        appender.write({**fields("x"), "type": "meeting.status_changed",
                        "subject": other["id"],
                        "data": {"status": "held", "source": {"citation": "s"}}})
    [path] = (events / writer).glob("*.jsonl")
    [source] = (events / ("b" if writer == "a" else "a")).glob("*.jsonl")
    copied = source.read_bytes().splitlines()[0]
    path.write_bytes(path.read_bytes() + copied.replace(b'"type":"meeting.recorded"',
                                                        b'"type":"pledge.recorded"') + b"\n")
    cut_before_b(events, monkeypatch)
    labels, problems, warnings = labels_and_reports(events)
    assert labels == ["Verifying", "Verifying in one process"]
    assert [problem.rsplit(": ", 1)[1] for problem in problems] == [
        "hash does not match content"]
    assert warnings == []


def test_the_log_is_cut_in_two_where_a_line_starts(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker reads the last WORKER_SHARE of the bytes, from the first line that
    starts at or after the cut; a segment with no line starting after it stays whole."""
    from tracker import verify as module
    from tracker.verify import Part, _split

    first, second = tmp_path / "a" / "2020-01.jsonl", tmp_path / "b" / "2020-01.jsonl"
    for path in (first, second):
        path.parent.mkdir()
    first.write_bytes(b"0123456789\n" * 4)  # lines start at 0, 11, 22, 33; 44 bytes
    segments = [first, second]

    def split(second_content: bytes, share: float) -> list[list[Part]]:
        second.write_bytes(second_content)
        monkeypatch.setattr(module, "WORKER_SHARE", share)
        return _split(segments, [path.stat().st_size for path in segments])

    ten = b"0123456789\n" * 10  # 110 bytes
    # 154 bytes; the cut at 77 is in the second segment, at byte 33: a line starts there
    assert split(ten, 0.5) == [[Part(0), Part(1, 0, 33)], [Part(1, 33)]]
    # at byte 34 of the second: the next line starts at 44
    assert split(ten, (154 - 78) / 154) == [[Part(0), Part(1, 0, 44)], [Part(1, 44)]]
    # at byte 20 of the first: the next line starts at 22
    assert split(ten, (154 - 20) / 154) == [[Part(0, 0, 22)], [Part(0, 22), Part(1)]]
    # at the end of the first: the second segment goes to the worker whole
    assert split(ten, 110 / 154) == [[Part(0)], [Part(1)]]
    # in the last line of the second: it stays whole, and there is one part only
    assert split(ten, 5 / 154) == [[Part(0), Part(1)]]
    # in a torn tail: the same
    assert split(ten + b"torn", 2 / 158) == [[Part(0), Part(1)]]
    # the torn tail after the cut goes with the worker's lines: the cut at 99, a line's start
    assert split(ten + b"torn", 15 / 158) == [[Part(0), Part(1, 0, 99)], [Part(1, 99)]]


def test_one_writer_is_checked_by_two_processes(events: Path) -> None:
    """A log of one writer is cut in two: its lines keep their numbers in the worker's
    half, and its seqs are checked across the two (a gap: again, in one process)."""
    from tracker.verify import _split

    with EventLog(events, writer="solo").session() as appender:
        written = [appender.write(fields(f"Meeting {number}")) for number in range(40)]
    path = segment(events)
    [[head], [tail]] = _split([path], [path.stat().st_size])
    assert head.end == tail.start and 15 < path.read_bytes()[: tail.start].count(b"\n") < 25
    lines = path.read_bytes().splitlines(keepends=True)
    lines[29] = lines[29].replace(b"Meeting 29", b"Meeting 2X")
    path.write_bytes(b"".join(lines))
    labels, problems, warnings = labels_and_reports(events)
    assert labels == ["Verifying"]
    assert problems == [f"event {written[29]['id']} (solo/{path.name}:30): hash does not "
                        "match content"]
    del lines[35]  # a seq gap
    path.write_bytes(b"".join(lines))
    labels, problems, warnings = labels_and_reports(events)
    assert labels == ["Verifying", "Verifying in one process"]
    assert problems == [
        f"event {written[29]['id']} (solo/{path.name}:30): hash does not match content",
        f"writer solo: seq jumps from 35 to 37 at event {written[36]['id']}: 1 event of this "
        "writer missing"]
    assert warnings == []


def test_a_writer_s_event_recorded_twice_in_a_folder_of_the_other_half(
        events: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An event of writer a moved into b's folder, then recorded again there (a retry):
    one process counts the retry's seq for a, so a's seqs have no gap. The worker reads
    both: a seq of a writer it does not check, so the log is checked again in one process."""
    two_writers(events)
    source, target = (next((events / writer).glob("*.jsonl")) for writer in "ab")
    lines = source.read_bytes().splitlines(keepends=True)
    moved = lines.pop(2)
    source.write_bytes(b"".join(lines))
    event = json.loads(moved)
    del event["hash"]
    retried = envelope.seal({**event, "recorded_by": "someone else"})
    target.write_bytes(target.read_bytes() + moved + retried)
    cut_before_b(events, monkeypatch)
    labels, problems, warnings = labels_and_reports(events)
    assert labels == ["Verifying", "Verifying in one process"]
    where = f"b/{target.name}"
    assert problems == [f"event {event['id']} ({where}:6): writer 'a' in the folder of 'b'"]
    # The same recorded_at, writer, seq and id: replay keeps the copy of the lower hash.
    kept, again = (6, 7) if json.loads(moved)["hash"] < json.loads(retried)["hash"] else (7, 6)
    assert warnings == [f"event {event['id']} ({where}:{again}) was recorded again by writer "
                        "a with the same content (a retry in another clone); the one first "
                        f"in replay order ({where}:{kept}) stands"]


@pytest.mark.parametrize("across", [False, True], ids=["in one half", "across the halves"])
def test_a_retry_in_another_clone_names_the_copy_replay_keeps(
        events: Path, monkeypatch: pytest.MonkeyPatch, across: bool) -> None:
    """Two events recorded in bob's clone, then again in alice's (a retry): replay keeps
    bob's, the earlier, though verify reads alice's folder first. Both copies in the
    worker's half are named by the worker; one in each half, by one process."""
    from tracker import verify as module

    with EventLog(events, writer="a").session() as appender:
        for title in range(6):
            appender.write(fields(f"a {title}"))
    retried = [fields("Talks", "2025-01-05T10:00:00.000000Z"),
               fields("Summit", "2025-01-05T10:00:01.000000Z")]
    for writer, day in (("bob", "05"), ("alice", "06")):
        with EventLog(events, writer=writer).session() as appender:
            for event in retried:
                appender.write({**event, "recorded_at": event["recorded_at"].replace(
                    "-05T", f"-{day}T")})
    sizes = {path.parent.name: path.stat().st_size for path in EventLog(events).segments()}
    worker = sizes["bob"] + (0 if across else sizes["alice"])
    monkeypatch.setattr(module, "WORKER_SHARE", worker / sum(sizes.values()))
    labels, problems, warnings = labels_and_reports(events)
    assert labels == (["Verifying", "Verifying in one process"] if across else ["Verifying"])
    assert problems == []
    assert warnings == [
        f"event {event['id']} (alice/2025-01.jsonl:{number}) was recorded again by writer "
        "alice with the same content (a retry in another clone); the one first in replay "
        f"order (bob/2025-01.jsonl:{number}) stands"
        for number, event in enumerate(retried, start=1)]
    result = run("build")
    assert (result.exit_code, result.stderr) == (0, "")
    db = events.parent / "tracker.db"
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("select writer from events where id in (?, ?)",
                            [event["id"] for event in retried]).fetchall() == [("bob",)] * 2


def test_a_retried_event_whose_line_a_merge_repeated_is_named_once_with_its_seq(
        events: Path) -> None:
    """Bob's event, recorded again by alice, and bob's line repeated by a union merge:
    three copies. Replay keeps bob's first line; his seq is used once."""
    event = fields("Talks", "2025-01-05T10:00:00.000000Z")
    for writer, day in (("bob", "05"), ("alice", "06")):
        with EventLog(events, writer=writer).session() as appender:
            appender.write({**event, "recorded_at": f"2025-01-{day}T10:00:00.000000Z"})
    bob = events / "bob" / "2025-01.jsonl"
    bob.write_bytes(bob.read_bytes() * 2)
    result = run("verify")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "OK: 1 event in 2 files\n", (
        f"Warning: event {event['id']} (alice/2025-01.jsonl:1) was recorded again by writer "
        "alice with the same content (a retry in another clone); the one first in replay "
        "order (bob/2025-01.jsonl:1) stands\n"
        f"Warning: event {event['id']} (bob/2025-01.jsonl:2) appears more than once (first "
        "at bob/2025-01.jsonl:1)\n"))
