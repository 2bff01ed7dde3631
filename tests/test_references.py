"""Records that refer to others (a meeting's format, a pledge's meeting, what an
announcement is about): no retraction leaves them pointing at nothing, no amendment makes
them refer to each other in a loop, and what a merge brings anyway is exported without."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import SOURCE, log_bytes, ok, rows, run
from .test_incremental import contents


def refused(events: Path, *args: str) -> str:
    """The error of a command that must be refused, leaving the log as it was."""
    before = log_bytes(events)
    result = run(*args)
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    assert log_bytes(events) == before
    return result.stderr


def meeting_of(format_slug: str, title: str = "Meeting") -> str:
    return ok("add", "meeting", "--title", title, "--date", "2022-12",
              "--format", format_slug, *SOURCE)


def announcement(title: str, *about: str) -> str:
    return ok("add", "announcement", "--title", title, "--date", "2022", "--by", "JPN",
              *(option for reference in about for option in ("--about", reference)), *SOURCE)


def test_a_record_still_referred_to_cannot_be_retracted(events: Path, japan_format: str) -> None:
    meeting = meeting_of(japan_format)
    assert refused(events, "retract", japan_format, "--reason", "recorded twice") == (
        f"Error: central-asia-japan is still referred to by meeting {meeting}: "
        "amend or retract it first\n")
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2022-12", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "10", "--currency", "USD", "--at", meeting,
                *SOURCE)
    about = announcement("Welcome", meeting)
    assert refused(events, "retract", meeting, "--reason", "never happened") == (
        f"Error: {meeting} is still referred to by pledge {pledge}, announcement {about}: "
        "amend or retract them first\n")
    ok("amend", pledge, "--set", "at=", "--reason", "not at that meeting")
    ok("retract", about, "--reason", "misread")
    ok("retract", meeting, "--reason", "never happened")
    ok("retract", japan_format, "--reason", "recorded twice")
    ok("build")
    assert [row["id"] for row in rows(events.parent / "tracker.db", "select id from records "
                                      "where retracted order by retracted_at")] == [
        about, meeting, japan_format]


def test_a_refused_retraction_names_three_records_and_counts_the_rest(
    events: Path, japan_format: str
) -> None:
    meetings = [meeting_of(japan_format, f"Meeting {number}") for number in range(5)]
    assert refused(events, "retract", japan_format, "--reason", "duplicate") == (
        f"Error: central-asia-japan is still referred to by meeting {meetings[0]}, "
        f"meeting {meetings[1]}, meeting {meetings[2]} and 2 more: "
        "amend or retract them first\n")


def test_references_follow_amendments_and_survive_a_new_catalog(
    events: Path, japan_format: str
) -> None:
    ok("add", "format", "central-asia-korea", "--name", "Central Asia + Korea", *SOURCE)
    meeting = meeting_of(japan_format)
    ok("amend", meeting, "--set", "format=central-asia-korea", "--reason", "misread")
    for _fresh_catalog in (False, True):
        assert refused(events, "retract", "central-asia-korea", "--reason", "x") == (
            f"Error: central-asia-korea is still referred to by meeting {meeting}: "
            "amend or retract it first\n")
        shutil.rmtree(events / ".cache")
    ok("retract", japan_format, "--reason", "no meeting of it is recorded")


def test_an_amendment_cannot_close_a_loop(events: Path) -> None:
    first = announcement("First")
    second = announcement("Second", first)
    third = announcement("Third", second)
    assert refused(events, "amend", first, "--set", f"about={second}", "--reason", "x") == (
        f"Error: {first} cannot refer to {second}: {second} refers to {first}\n")
    assert refused(events, "amend", first, "--set", f"about={third}", "--reason", "x") == (
        f"Error: {first} cannot refer to {third}: {third} refers to {first} "
        "through other records\n")
    ok("retract", third, "--reason", "misread")
    ok("amend", second, "--set", "about=", "--reason", "about nothing recorded")
    ok("amend", first, "--set", f"about={second}", "--reason", "the loop is gone")


def diverge(events: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A second analyst's clone of the log, to write in as `bob` and merge back."""
    ok("build")
    clone = events.parent / "bob"
    shutil.copytree(events, clone, ignore=shutil.ignore_patterns(".cache", ".lock", ".writer"))
    monkeypatch.setenv("TRACKER_WRITER", "alice")
    return clone


def as_bob(clone: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    with monkeypatch.context() as bob:
        bob.setenv("TRACKER_WRITER", "bob")
        return ok("--events", str(clone), "--db", str(clone.parent / "bob.db"), *args)


def merge(clone: Path, events: Path) -> str:
    """What `git merge` does with the log (each writer's files side by side), then an
    incremental build, which must equal a full one and warn as it does: the warnings."""
    shutil.copytree(clone / "bob", events / "bob")
    incremental = run("build")
    assert incremental.stdout.startswith("Updated "), incremental.output
    full = run("--db", events.parent / "full.db", "build", "--full")
    assert full.stdout.startswith("Built "), full.output
    assert contents(events.parent / "tracker.db") == contents(events.parent / "full.db")
    assert incremental.stderr == full.stderr
    return incremental.stderr


def exported_and_reimported(tmp_path: Path) -> tuple[list[dict], str, dict]:
    """The export's rows and warnings, and the records of its import into an empty log."""
    result = run("export")
    assert result.exit_code == 0, result.output
    path = tmp_path / "export.jsonl"
    path.write_text(result.stdout)
    ok("--events", str(tmp_path / "copy"), "--db", str(tmp_path / "copy.db"), "import", path)
    ok("--events", str(tmp_path / "copy"), "--db", str(tmp_path / "copy.db"), "build")
    imported = {row["id"]: row for row in rows(tmp_path / "copy.db", "select * from records")}
    return list(map(json.loads, result.stdout.splitlines())), result.stderr, imported


def test_show_gives_a_retracted_records_state_before_its_retraction_even_after_a_merge(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update made in another clone, merged in after the retraction, is in the history
    but not in the state the record had when it was retracted."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2024", *SOURCE)
    clone = diverge(events, monkeypatch)
    ok("retract", meeting, "--reason", "a duplicate")
    as_bob(clone, monkeypatch, "update", meeting, "--status", "cancelled", *SOURCE)
    merge(clone, events)
    record = json.loads(ok("show", meeting, "--json"))
    assert [event["type"] for event in record["history"]] == [
        "meeting.recorded", "record.retracted", "meeting.status_changed"]
    assert (record["retracted"], record["state"]["status"]) == (True, "held")


def test_a_reference_to_a_record_not_in_the_log_is_not_called_retracted(
    events: Path, japan_format: str
) -> None:
    """A line deleted by hand (the format's): the build warns of references to a record
    not in the log, and sends to `tracker verify`, which names the gap."""
    meeting = ok("add", "meeting", "--title", "Tokyo", "--date", "2022-12", "--format",
                 japan_format, *SOURCE)
    [segment] = events.glob("*/*.jsonl")
    segment.write_bytes(segment.read_bytes().split(b"\n", 1)[1])
    result = run("build")
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: 1 reference to records not in the log (a line lost or deleted): "
        f"meeting {meeting} --format central-asia-japan; run tracker verify\n"))
    assert run("verify").exit_code == 1


def test_a_merge_that_retracted_a_referred_record_exports_without_the_reference(
    events: Path, tmp_path: Path, japan_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = diverge(events, monkeypatch)
    ok("retract", japan_format, "--reason", "recorded twice")
    meeting = as_bob(clone, monkeypatch, "add", "meeting", "--title", "Tokyo", "--date", "2022-12",
                     "--format", japan_format, *SOURCE)
    assert merge(clone, events) == (
        "Warning: 1 reference to retracted records (a merge can leave them): "
        f"meeting {meeting} --format central-asia-japan; amend it\n")
    assert ok("verify").startswith("OK: ")
    exported, warnings, imported = exported_and_reimported(tmp_path)
    assert warnings == (f"Warning: meeting {meeting}: --format central-asia-japan left out "
                        "(it was retracted)\n")
    assert [(row["kind"], row.get("format")) for row in exported] == [("meeting", None)]
    assert list(imported) == [meeting]
    assert rows(events.parent / "tracker.db", "select format from meetings") == [
        {"format": "central-asia-japan"}]  # the site shows what the log says


def test_a_merge_that_made_a_loop_exports_without_closing_it(
    events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = announcement("First"), announcement("Second")
    clone = diverge(events, monkeypatch)
    ok("amend", first, "--set", f"about={second}", "--reason", "it answers the second")
    as_bob(clone, monkeypatch, "amend", second, "--set", f"about={first}", "--reason",
           "it answers the first")
    assert merge(clone, events) == (
        "Warning: 2 references of announcements about each other in a loop (a merge can "
        f"leave them): announcement {first} --about {second}, announcement {second} --about "
        f"{first}; amend one in each loop\n")
    exported, warnings, imported = exported_and_reimported(tmp_path)
    assert warnings == (f"Warning: announcement {second}: --about {first} left out "
                        f"(a loop: {first} is about it, directly or through others)\n")
    assert [(row["id"], row.get("about")) for row in exported] == [
        (second, None), (first, [second])]
    assert sorted(imported) == sorted([first, second])


def test_an_event_written_in_two_clones_counts_as_replay_keeps_it(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same amendment (same --id) in two clones: the earlier copy stands, in the
    catalog as in the build, however the catalog reads the writers' folders."""
    about = announcement("Welcome")
    first, second = (ok("add", "meeting", "--title", title, "--date", "2022", *SOURCE)
                     for title in ("First", "Second"))
    clone = diverge(events, monkeypatch)
    monkeypatch.setenv("TRACKER_WRITER", "zoe")  # read after bob's folder
    retry = ("amend", about, "--set", f"about={first}", "--reason", "misread",
             "--id", "01M83J00000000000000000000")
    ok(*retry)
    ok("amend", about, "--set", f"about={second}", "--reason", "misread again")
    as_bob(clone, monkeypatch, *retry)
    merge(clone, events)
    shutil.rmtree(events / ".cache")
    assert refused(events, "retract", second, "--reason", "x") == (
        f"Error: {second} is still referred to by announcement {about}: "
        "amend or retract it first\n")
    ok("retract", first, "--reason", "nothing refers to it now")


def test_an_announcement_about_itself_in_an_older_log_is_exported_once(
    events: Path, tmp_path: Path
) -> None:
    """Amendments could make an announcement about itself before they were refused."""
    from tracker.log import EventLog
    from tracker.model import AMENDED, Draft
    from tracker.recorder import record

    itself = announcement("Self")
    record(EventLog(events), Draft(AMENDED, {"changes": {"about": [itself]}, "reason": "x"},
                                   itself))
    exported, warnings, imported = exported_and_reimported(tmp_path)
    assert warnings == (  # the build's warning first, as `tracker build` prints it
        "Warning: 1 reference of announcements about each other in a loop (a merge can leave "
        f"them): announcement {itself} --about {itself}; amend one in each loop\n"
        f"Warning: announcement {itself}: --about {itself} left out (itself)\n")
    assert [(row["id"], row.get("about")) for row in exported] == [(itself, None)]
    assert list(imported) == [itself]


def test_a_build_names_references_a_merge_left_to_retracted_records(
    events: Path, japan_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob retracts the format and a pledge's meeting in his clone; Alice, in hers, still
    has a meeting of the format, a pledge at that meeting and announcements about them.
    The build after the merge (incremental: Bob's events are the later) names them."""
    meeting = meeting_of(japan_format)
    ok("add", "format", "central-asia-korea", "--name", "Central Asia + Korea", *SOURCE)
    clone = diverge(events, monkeypatch)
    mine = [meeting_of(japan_format, f"Meeting {number}") for number in range(3)]
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2022", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "10", "--currency", "USD", "--at", meeting,
                *SOURCE)
    about = announcement("Welcome", meeting, "central-asia-korea")
    as_bob(clone, monkeypatch, "retract", meeting, "--reason", "never happened")
    as_bob(clone, monkeypatch, "retract", japan_format, "--reason", "recorded twice")
    as_bob(clone, monkeypatch, "retract", "central-asia-korea", "--reason", "recorded twice")
    dangling = sorted([("meeting", record, "format", japan_format) for record in mine]
                      + [("pledge", pledge, "at", meeting),
                         ("announcement", about, "about", meeting),
                         ("announcement", about, "about", "central-asia-korea")],
                      key=lambda found: (found[1], found[3]))
    named = ", ".join(f"{kind} {record} --{option} {referenced}"
                      for kind, record, option, referenced in dangling[:3])
    assert merge(clone, events) == (
        f"Warning: 6 references to retracted records (a merge can leave them): {named} "
        "and 3 more; amend them\n")


def test_a_build_names_a_loop_a_merge_made_through_others_once(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice makes the second announcement about the third, Bob the third about the
    first (which is about the second), and each one side of another pair: neither clone
    holds a loop, the merge holds two. The build names them, later incremental builds
    do not again unless they change a record on one, and a full build does."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2022", *SOURCE)
    third, second = announcement("Third", meeting), announcement("Second")
    first = announcement("First", second)
    other, another = announcement("Other"), announcement("Another")
    clone = diverge(events, monkeypatch)
    ok("amend", second, "--set", f"about={third}", "--reason", "it follows the third")
    ok("amend", other, "--set", f"about={another}", "--reason", "it answers it")
    as_bob(clone, monkeypatch, "amend", third, "--set", f"about={meeting},{first}",
           "--reason", "it follows the first")
    as_bob(clone, monkeypatch, "amend", another, "--set", f"about={other}",
           "--reason", "it answers it")
    loops = sorted([(first, second), (second, third), (third, first), (other, another),
                    (another, other)])
    named = ", ".join(f"announcement {one} --about {about}" for one, about in loops[:3])
    assert merge(clone, events) == (
        "Warning: 5 references of announcements about each other in a loop (a merge can "
        f"leave them): {named} and 2 more; amend one in each loop\n")
    ok("add", "meeting", "--title", "Later", "--date", "2023", *SOURCE)
    assert run("build").stderr == ""  # nothing it changed is on a loop
    ok("amend", third, "--set", f"about={meeting}", "--reason", "misread")
    assert run("build").stderr == ""  # its loop is broken; the other one is not through it
    announcement("Reply", other)
    assert run("build").stderr == ""  # it leads to a loop but is not on it
    assert run("build", "--full").stderr == (
        "Warning: 2 references of announcements about each other in a loop (a merge can "
        f"leave them): announcement {min(other, another)} --about {max(other, another)}, "
        f"announcement {max(other, another)} --about {min(other, another)}; amend one in "
        "each loop\n")
