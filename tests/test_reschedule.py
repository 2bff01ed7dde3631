"""`tracker update MEETING --status scheduled|postponed --to DATE`: a meeting rescheduled,
a development in the world (not a correction), which moves the meeting to its new date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from tracker.fastcheck import FastCheck

from .conftest import SOURCE, log_bytes, ok, rows, run
from .test_fastcheck import agree_or_refuse, lines_of


def summit(date: str = "2030-12") -> str:
    return ok("add", "meeting", "--title", "Summit", "--date", date, "--country", "KAZ",
              "--participant", "KAZ,JPN", *SOURCE)


def test_a_rescheduled_meeting_takes_its_new_date_everywhere(db: Path) -> None:
    meeting = summit()
    postponed = ok("update", meeting, "--status", "postponed", "--date", "2026-11-20",
                   "--to", "2031-03", "--note", "delayed", *SOURCE)
    ok("update", meeting, "--status", "scheduled", "--to", "2031-04-10", *SOURCE)
    ok("build")
    assert rows(db, "select date, date_start, date_end, date_precision, year, status "
                    "from meetings") == [{
        "date": "2031-04-10", "date_start": "2031-04-10", "date_end": "2031-04-10",
        "date_precision": "day", "year": "2031", "status": "scheduled"}]
    assert rows(db, "select status, previous_status, date, note, rescheduled_to "
                    "from status_changes order by recorded_at") == [
        {"status": "postponed", "previous_status": "scheduled", "date": "2026-11-20",
         "note": "delayed", "rescheduled_to": "2031-03"},
        {"status": "scheduled", "previous_status": "postponed", "date": None, "note": None,
         "rescheduled_to": "2031-04-10"}]
    assert rows(db, "select old_value, new_value, event_type, reason from history "
                    "where field = 'date' order by recorded_at") == [
        {"old_value": "2030-12", "new_value": "2031-03", "event_type": "meeting.status_changed",
         "reason": "delayed"},
        {"old_value": "2031-03", "new_value": "2031-04-10",
         "event_type": "meeting.status_changed", "reason": None}]
    assert rows(db, "select actor, date_start from meeting_participants order by actor") == [
        {"actor": "JPN", "date_start": "2031-04-10"}, {"actor": "KAZ", "date_start": "2031-04-10"}]
    assert rows(db, "select date from timeline") == [{"date": "2031-04-10"}]
    assert rows(db, "select date from upcoming_meetings") == [{"date": "2031-04-10"}]
    assert rows(db, "select correction from corrections") == []  # not a correction
    shown = ok("show", meeting)
    assert "\n  date: 2031-04-10\n" in shown
    assert (f"meeting.status_changed  {postponed}\n    status: scheduled -> postponed\n"
            "    rescheduled: 2030-12 -> 2031-03\n    date: 2026-11-20\n"
            "    note: delayed\n") in shown
    assert ok("verify") == "OK: 3 events in 1 file"


def test_an_amendment_after_a_reschedule_keeps_the_new_date(db: Path) -> None:
    """An amendment rewrites a meeting's row from its data: the data holds the new date,
    so the reschedule stands; an amendment of the date itself moves it again."""
    meeting = summit()
    ok("update", meeting, "--status", "scheduled", "--to", "2031-05", *SOURCE)
    ok("amend", meeting, "--set", "title=Leaders' summit", "--reason", "the full name")
    ok("build")
    assert rows(db, "select title, date from meetings") == [
        {"title": "Leaders' summit", "date": "2031-05"}]
    result = run("amend", meeting, "--set", "date=2031-05", "--reason", "misread")
    assert (result.exit_code, result.stderr) == (
        1, "Error: nothing to amend: date already as given\n")
    ok("amend", meeting, "--set", "date=2031-06", "--reason", "misread")
    ok("build")
    assert rows(db, "select title, date from meetings") == [
        {"title": "Leaders' summit", "date": "2031-06"}]
    full = db.with_name("full.db")
    ok("build", "--full", "--db", full)
    assert rows(full, "select * from meetings") == rows(db, "select * from meetings")


def test_the_new_date_is_the_meetings_date_for_what_follows(db: Path) -> None:
    """A meeting rescheduled to a past date can be held then (its recorded date, in the
    future, would refuse it), with no warning of a date before the meeting's; held on a
    day of its new month, it is dated that day."""
    meeting = summit("2030-12")
    refused = run("update", meeting, "--status", "held", "--date", "2026-10-05", *SOURCE)
    assert refused.stderr == ("Error: --status held for a meeting dated 2030-12, after "
                              "today\n")
    ok("update", meeting, "--status", "scheduled", "--to", "2026-10", *SOURCE)
    held = run("update", meeting, "--status", "held", "--date", "2026-10-05", *SOURCE)
    assert (held.exit_code, held.stderr) == (0, "")
    ok("build")
    assert rows(db, "select date, status from meetings") == [
        {"date": "2026-10-05", "status": "held"}]


@pytest.mark.parametrize("args, message", [
    (["--status", "cancelled", "--to", "2031"],
     "--to '2031' (a new date) goes with a meeting's --status scheduled, postponed or held"),
    (["--status", "postponed", "--to", "2031-13"], "invalid --to '2031-13': no month 13"),
])
def test_a_new_date_that_means_nothing_is_refused(events: Path, args: list[str],
                                                  message: str) -> None:
    meeting = summit()
    before = log_bytes(events)
    result = run("update", meeting, *args, *SOURCE)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")
    assert log_bytes(events) == before


def test_a_pledge_is_not_rescheduled(events: Path) -> None:
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2024", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "5", "--currency", "USD", *SOURCE)
    before = log_bytes(events)
    result = run("update", pledge, "--status", "disbursed", "--amount", "1", "--to", "2025",
                 *SOURCE)
    assert (result.exit_code, result.stderr) == (1, (
        "Error: --to '2025' (a new date) goes with a meeting's --status scheduled, "
        "postponed or held\n"))
    assert log_bytes(events) == before


def test_the_same_status_with_a_new_date_is_news(db: Path) -> None:
    meeting = summit()
    again = run("update", meeting, "--status", "scheduled", *SOURCE)
    assert again.stderr == f"Error: meeting {meeting} is already scheduled\n"
    ok("update", meeting, "--status", "scheduled", "--to", "2031-02", *SOURCE)
    ok("build")
    assert rows(db, "select date, status from meetings") == [
        {"date": "2031-02", "status": "scheduled"}]


def test_a_new_date_that_is_the_meetings_date_already_is_refused(events: Path,
                                                                   tmp_path: Path) -> None:
    """`--to` the date the meeting has (as recorded, or as rescheduled) records no new
    date, whatever the status and note; a retry with the same `--id` still succeeds, and
    `tracker import` takes such a row (an export's meeting row carries the date the
    meeting has now, which its update repeats)."""
    meeting = summit("2030-12")
    before = log_bytes(events)
    for args in (["--status", "scheduled", "--to", "2030-12"],
                 ["--status", "postponed", "--to", "2030-12", "--note", "put off"]):
        result = run("update", meeting, *args, *SOURCE)
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", (
            "Error: --to '2030-12' is the meeting's date already: give its new date, or "
            "leave --to out\n"))
    assert log_bytes(events) == before
    moved = ["update", meeting, "--status", "postponed", "--to", "2031-03", *SOURCE]
    event_id = ok(*moved)
    again = run(*moved, "--id", event_id)
    assert (again.exit_code, again.stdout, again.stderr) == (
        0, f"{event_id}\n", f"Already recorded: {event_id} (nothing appended)\n")
    before = log_bytes(events)
    result = run("update", meeting, "--status", "scheduled", "--to", "2031-03", *SOURCE)
    assert (result.exit_code, result.stderr) == (1, (
        "Error: --to '2031-03' is the meeting's date already: give its new date, or "
        "leave --to out\n"))
    assert log_bytes(events) == before
    ok("update", meeting, "--status", "scheduled", *SOURCE)  # set again on that date
    ok("update", meeting, "--status", "scheduled", "--to", "2031-03-12", *SOURCE)  # a day
    path = tmp_path / "again.csv"
    path.write_text(f"kind,subject,status,to,source\nupdate,{meeting},scheduled,2031-03-12,"
                    f"{SOURCE[1]}\n")
    assert ok("import", str(path)) == f"Imported {path}: appended 1 event (1 update)"


def test_a_reschedule_is_exported_imported_and_built_as_of(events: Path, db: Path,
                                                           tmp_path: Path) -> None:
    meeting = summit()
    update = json.loads(ok("update", meeting, "--status", "postponed", "--to", "2031-03",
                           "--json", *SOURCE))
    exported = ok("export")
    assert json.loads(exported.splitlines()[-1]) == {
        "kind": "update", "id": update["id"], "subject": meeting, "status": "postponed",
        "to": "2031-03", "source": SOURCE[1], "quote": SOURCE[3]}
    path = tmp_path / "export.jsonl"
    path.write_text(exported + "\n")
    copy = tmp_path / "copy"
    ok("--events", copy / "events", "--db", copy / "tracker.db", "import", path)
    ok("--events", copy / "events", "--db", copy / "tracker.db", "build")
    wanted = "select id, date, status from meetings"
    assert rows(copy / "tracker.db", wanted) == rows(db, wanted) == [
        {"id": meeting, "date": "2031-03", "status": "postponed"}]
    then = tmp_path / "then.db"
    recorded_at = rows(db, "select recorded_at from events where id = ?", meeting)[0]
    ok("build", "--as-of", recorded_at["recorded_at"], "--db", then)
    assert rows(then, wanted) == [{"id": meeting, "date": "2030-12", "status": "scheduled"}]


def test_the_fast_check_of_verify_agrees_on_a_reschedule(events: Path) -> None:
    meeting = summit()
    ok("update", meeting, "--status", "postponed", "--to", "2031-03", "--note", "later",
       *SOURCE)
    [*_, (line, folder, segment)] = lines_of(events)
    assert agree_or_refuse(FastCheck(), line, folder, segment)
    assert b'"to":"2031-03"' in line


def import_updates(tmp_path: Path, date: str, *updates: dict[str, str]) -> Result:
    """`tracker import` of a meeting `m1` of a date, then update rows of it."""
    lines = [{"kind": "meeting", "id": "m1", "title": "Summit", "date": date},
             *({"kind": "update", "subject": "m1", **update} for update in updates)]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({**line, "source": "Report"}) + "\n"
                            for line in lines))
    return run("import", path)


def test_an_import_takes_a_reschedule_as_the_meetings_date_for_its_later_rows(
        db: Path, tmp_path: Path) -> None:
    """As the CLI does: a meeting of a future date, moved to a past one, is then held (on a
    day of that month: its date)."""
    result = import_updates(tmp_path, "2030-12", {"status": "scheduled", "to": "2026-10"},
                            {"status": "held", "date": "2026-10-05"})
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    ok("build")
    assert rows(db, "select date, status from meetings") == [
        {"date": "2026-10-05", "status": "held"}]


def test_an_amendment_checks_the_meeting_as_its_updates_left_it(events: Path, db: Path) -> None:
    """An amendment validates the whole record with the status it has now: a meeting held,
    then postponed to a date to come, can be amended; one scheduled, then held, cannot be
    moved to a date to come."""
    moved = ok("add", "meeting", "--title", "Talks", "--date", "2022-12", "--status", "held",
               *SOURCE)
    ok("update", moved, "--status", "postponed", "--to", "2031-03", *SOURCE)
    ok("amend", moved, "--set", "title=Talks moved", "--reason", "the report's title")
    held = ok("add", "meeting", "--title", "Held", "--date", "2026-01", "--status",
              "scheduled", *SOURCE)
    ok("update", held, "--status", "held", *SOURCE)
    before = log_bytes(events)
    result = run("amend", held, "--set", "date=2031", "--reason", "misread")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", "Error: --set date=2031 is after today, and the meeting is held: a meeting to "
        "come is scheduled (add --set status=scheduled)\n")
    assert log_bytes(events) == before
    ok("build")
    assert rows(db, "select title, date, status from meetings order by title") == [
        {"title": "Held", "date": "2026-01", "status": "held"},
        {"title": "Talks moved", "date": "2031-03", "status": "postponed"}]
