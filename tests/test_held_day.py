"""`tracker update MEETING --status held`: a meeting held on a day of its date (a day of
its month) is dated that day; held on another day than set, `--to` gives that day."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tracker.fastcheck import FastCheck
from tracker.serve import load_metadata, make_datasette

from .conftest import METADATA, SOURCE, log_bytes, ok, rows, run
from .test_export import contents, export, round_trip
from .test_fastcheck import agree_or_refuse, lines_of
from .test_publication import ATOM, get
from .test_reschedule import import_updates

DATES = "select date, date_start, date_end, date_precision, year, status from meetings"


def talks(date: str = "2024-05") -> str:
    return ok("add", "meeting", "--title", "Talks", "--date", date, "--status", "scheduled",
              "--country", "KAZ", "--participant", "KAZ,JPN", *SOURCE)


def test_a_meeting_held_on_a_day_of_its_month_takes_that_day_everywhere(
        db: Path, tmp_path: Path) -> None:
    """Its row, participants and the timeline take the day, as a reschedule's new date;
    the history keeps the month, and a build as of before the update gives it."""
    meeting = talks()
    held = run("update", meeting, "--status", "held", "--date", "2024-05-14", "--note",
               "opened in Astana", *SOURCE)
    assert (held.exit_code, held.stderr) == (0, "")
    ok("build")
    assert rows(db, DATES) == [{
        "date": "2024-05-14", "date_start": "2024-05-14", "date_end": "2024-05-14",
        "date_precision": "day", "year": "2024", "status": "held"}]
    assert rows(db, "select actor, date_start from meeting_participants order by actor") == [
        {"actor": "JPN", "date_start": "2024-05-14"}, {"actor": "KAZ", "date_start": "2024-05-14"}]
    assert rows(db, "select date, date_start, date_precision, status from timeline") == [
        {"date": "2024-05-14", "date_start": "2024-05-14", "date_precision": "day",
         "status": "held"}]
    assert rows(db, "select status, date, rescheduled_to from status_changes") == [
        {"status": "held", "date": "2024-05-14", "rescheduled_to": None}]
    assert rows(db, "select old_value, new_value, event_type, reason from history "
                    "where field = 'date'") == [
        {"old_value": "2024-05", "new_value": "2024-05-14",
         "event_type": "meeting.status_changed", "reason": "opened in Astana"}]
    assert rows(db, "select correction from corrections") == []  # not a correction
    shown = ok("show", meeting)
    assert "\n  date: 2024-05-14\n" in shown
    assert (f"meeting.status_changed  {held.stdout.strip()}\n    status: scheduled -> held\n"
            "    held on: 2024-05 -> 2024-05-14\n    date: 2024-05-14\n") in shown
    full = tmp_path / "full.db"
    ok("build", "--full", "--db", full)
    assert rows(full, DATES) == rows(db, DATES)
    then = tmp_path / "then.db"
    [recorded] = rows(db, "select recorded_at from events where id = ?", meeting)
    ok("build", "--as-of", recorded["recorded_at"], "--db", then)
    assert rows(then, DATES) == [{
        "date": "2024-05", "date_start": "2024-05-01", "date_end": "2024-05-31",
        "date_precision": "month", "year": "2024", "status": "scheduled"}]


# (the meeting's date, the --date it is held on, the meeting's date then, how the warning
# that it keeps its date places the --date, if any)
DAYS_HELD = [
    ("2024", "2024-05", "2024-05", ""),  # a month of its year
    ("2024-05", "2024-05-13/2024-05-15", "2024-05-13/2024-05-15", ""),  # days of its month
    ("2024-05", "2024-05", "2024-05", ""),  # the same date
    ("2024-05-14", "2024-05", "2024-05-14", ""),  # a less precise date holding it
    ("2024-05-13/2024-05-15", "2024-05-14", "2024-05-13/2024-05-15",
     "within, but no more precise than,"),  # a day of its days
    ("2024-05", "2024-05-30/2024-06-02", "2024-05", "not within"),  # across its end
    ("2024-05", "2024-04-30/2024-05-02", "2024-05", "not within"),  # across its start
]


def test_only_a_more_precise_date_within_the_meetings_dates_it(db: Path) -> None:
    """A --date that does not date the meeting (and is not before it, or after it) keeps
    its date with a warning, not silently."""
    meetings = []
    for recorded, held, _dated, where in DAYS_HELD:
        meetings.append(talks(recorded))
        result = run("update", meetings[-1], "--status", "held", "--date", held, *SOURCE)
        warning = (f"Warning: --status held --date {held} is {where} the meeting's date "
                   f"{recorded}, which stays as set; if it was held on another day than set, "
                   "record that day as --to\n") if where else ""
        assert (result.exit_code, result.stderr) == (0, warning)
    ok("build")
    dates = {row["id"]: row["date"] for row in rows(db, "select id, date from meetings")}
    assert [dates[meeting] for meeting in meetings] == [dated for _, _, dated, _ in DAYS_HELD]


def test_an_update_after_it_finds_the_meeting_on_that_day(events: Path,
                                                        tmp_path: Path) -> None:
    """What follows takes the day as the meeting's date: in `tracker update` (the log's
    catalog), and in `tracker import` (the rows before)."""
    meeting = talks()
    ok("update", meeting, "--status", "held", "--date", "2024-05-14", *SOURCE)
    later = run("update", meeting, "--status", "held", "--date", "2024-05-20", *SOURCE)
    assert (later.exit_code, later.stderr) == (0, (
        "Warning: --status held --date 2024-05-20 is after the meeting's date 2024-05-14, "
        "which stays as set; if it was held on another day than set, record that day as "
        "--to\n"))
    result = import_updates(tmp_path, "2024-05", {"status": "held", "date": "2024-05-14"},
                            {"status": "held", "date": "2024-05-20"})
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: line 3: status held date 2024-05-20 is after the meeting's date "
        "2024-05-14, which stays as set; if it was held on another day than set, record "
        "that day as to\n"))


def test_a_meeting_held_on_another_day_than_set_is_dated_by_to(db: Path, events: Path,
                                                              tmp_path: Path) -> None:
    """`--status held --to DAY`: the meeting was held on that day, which is its date now;
    `--date` still says when the change happened (reported). A meeting set for a date to
    come can be held on a past day so."""
    meeting = talks()
    held = run("update", meeting, "--status", "held", "--to", "2024-06-02", "--date",
               "2024-06-05", *SOURCE)
    assert (held.exit_code, held.stderr) == (0, "")
    later = talks("2030-12")
    early = run("update", later, "--status", "held", "--to", "2026-11-02", *SOURCE)
    assert (early.exit_code, early.stderr) == (0, "")
    ok("build")
    assert rows(db, "select id, date, date_precision, status from meetings order by date") == [
        {"id": meeting, "date": "2024-06-02", "date_precision": "day", "status": "held"},
        {"id": later, "date": "2026-11-02", "date_precision": "day", "status": "held"}]
    assert rows(db, "select subject, date, rescheduled_to from status_changes "
                    "order by rescheduled_to") == [
        {"subject": meeting, "date": "2024-06-05", "rescheduled_to": "2024-06-02"},
        {"subject": later, "date": None, "rescheduled_to": "2026-11-02"}]
    assert "    held on: 2024-05 -> 2024-06-02\n    date: 2024-06-05\n" in ok("show", meeting)
    then = tmp_path / "then.db"
    [recorded] = rows(db, "select recorded_at from events where id = ?", later)
    ok("build", "--as-of", recorded["recorded_at"], "--db", then)
    assert rows(then, "select id, date, status from meetings order by id") == sorted([
        {"id": meeting, "date": "2024-06-02", "status": "held"},
        {"id": later, "date": "2030-12", "status": "scheduled"}], key=lambda row: row["id"])


async def test_the_atom_feed_says_the_day_held(db: Path) -> None:
    """A held update's `to` is the day it was held on, not a new date it is set for."""
    moved = ok("update", talks(), "--status", "held", "--to", "2024-06-02", *SOURCE)
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    feed = ElementTree.fromstring((await get(site, "/tracker/recent_developments.atom")).content)
    assert [entry.findtext(f"{ATOM}content") for entry in feed.findall(f"{ATOM}entry")
            if entry.findtext(f"{ATOM}id") == f"urn:tracker:{moved}"] == [
        "Held on: 2024-06-02. Source: https://example.org/report: \u201ca quote\u201d"]


@pytest.mark.parametrize("args, message", [
    (["--to", "2031-01"], "--status held with --to 2031-01, after today"),
    (["--to", "2024-13"], "invalid --to '2024-13': no month 13"),
])
def test_a_day_held_after_today_is_refused(events: Path, args: list[str],
                                           message: str) -> None:
    """As `tracker add meeting --status held --date 2031-01` is refused."""
    meeting = talks()
    before = log_bytes(events)
    result = run("update", meeting, "--status", "held", *args, *SOURCE)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")
    assert log_bytes(events) == before


def test_held_outside_the_meetings_date_it_keeps_its_date_with_a_warning(db: Path) -> None:
    """Not moved silently: the warning names both dates and tells of --to; with --to, no
    warning."""
    after, before, moved = talks(), talks(), talks()
    result = run("update", after, "--status", "held", "--date", "2024-06-02", *SOURCE)
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: --status held --date 2024-06-02 is after the meeting's date 2024-05, "
        "which stays as set; if it was held on another day than set, record that day as "
        "--to\n"))
    result = run("update", before, "--status", "held", "--date", "2024-04-30", *SOURCE)
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: --status held --date 2024-04-30 is before the meeting's date 2024-05: if "
        "the meeting's date is wrong, amend it; if it was held on another day than set, "
        "record that day as --to\n"))
    result = run("update", moved, "--status", "held", "--date", "2024-06-03", "--to",
                 "2024-06-02", *SOURCE)
    assert (result.exit_code, result.stderr) == (0, "")
    ok("build")
    assert rows(db, "select id, date from meetings order by id") == sorted([
        {"id": after, "date": "2024-05"}, {"id": before, "date": "2024-05"},
        {"id": moved, "date": "2024-06-02"}], key=lambda row: row["id"])


def test_a_day_held_is_exported_and_imported_again(events: Path, db: Path,
                                                   tmp_path: Path) -> None:
    """The meeting's row has the date it was set for; its update gives the day (`date`,
    or `to`): imported into an empty log, the same tables; into its own, nothing new; the
    CSV alike."""
    by_date, by_to = talks(), talks()
    dated = ok("update", by_date, "--status", "held", "--date", "2024-05-14", *SOURCE)
    moved = ok("update", by_to, "--status", "held", "--to", "2024-06-02", "--note",
               "a day late", *SOURCE)
    lines, copy_db = round_trip(events, tmp_path)
    assert [line for line in lines if line["kind"] == "update"] == [
        {"kind": "update", "id": dated, "subject": by_date, "status": "held",
         "date": "2024-05-14", "source": SOURCE[1], "quote": SOURCE[3]},
        {"kind": "update", "id": moved, "subject": by_to, "status": "held",
         "note": "a day late", "to": "2024-06-02", "source": SOURCE[1], "quote": SOURCE[3]}]
    assert [line["date"] for line in lines if line["kind"] == "meeting"] == ["2024-05"] * 2
    assert contents(copy_db) == contents(db)
    assert rows(copy_db, "select date from meetings order by date") == [
        {"date": "2024-05-14"}, {"date": "2024-06-02"}]
    path = tmp_path / "export.csv"
    path.write_text(export("--format", "csv"))
    other = ("--events", tmp_path / "other", "--db", tmp_path / "other.db")
    result = run(*other, "import", path)
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    ok(*other, "build")
    assert contents(tmp_path / "other.db") == contents(db)


def test_a_day_held_keeps_its_effect_when_the_date_it_found_is_amended(
        events: Path, db: Path, tmp_path: Path) -> None:
    """Whether a held `--date` moves a meeting depends on the date it found: held on a
    day outside it (not moved), then amended to a date that day falls within, the row has
    the date it had then and the amendment comes after the held update (with `to`);
    amended between a reschedule and a day held within the amended date, the amendment
    comes right after the reschedule. Imported into an empty log, the same meetings."""
    outside = talks()
    held = ok("update", outside, "--status", "held", "--date", "2024-06-02", *SOURCE)
    widened = ok("amend", outside, "--set", "date=2024", "--reason", "only the year")
    within = talks()
    postponed = ok("update", within, "--status", "postponed", "--to", "2024-09", "--date",
                   "2024-04", *SOURCE)
    june = ok("amend", within, "--set", "date=2024-06", "--reason", "June, not September")
    day = ok("update", within, "--status", "held", "--date", "2024-06-12", *SOURCE)
    lines, copy_db = round_trip(events, tmp_path, (
        "Warning: line 2: status held date 2024-06-02 is after the meeting's date 2024-05, "
        "which stays as set; if it was held on another day than set, record that day as "
        "to\n"))
    assert [{key: line.get(key) for key in ("id", "date", "status", "to")}
            for line in lines] == [
        {"id": outside, "date": "2024-05", "status": "scheduled", "to": None},
        {"id": held, "date": "2024-06-02", "status": "held", "to": None},
        {"id": widened, "date": None, "status": "held", "to": "2024"},
        {"id": within, "date": "2024-05", "status": "scheduled", "to": None},
        {"id": postponed, "date": "2024-04", "status": "postponed", "to": "2024-09"},
        {"id": june, "date": None, "status": "postponed", "to": "2024-06"},
        {"id": day, "date": "2024-06-12", "status": "held", "to": None}]
    assert contents(copy_db)["meetings"] == contents(db)["meetings"]
    assert rows(copy_db, "select id, date from meetings order by id") == sorted([
        {"id": outside, "date": "2024"}, {"id": within, "date": "2024-06-12"}],
        key=lambda row: row["id"])


def test_a_date_and_status_amended_after_a_day_held_are_exported(
        events: Path, db: Path, tmp_path: Path) -> None:
    """After the day it was held on, an amendment of the date and of the status to held
    (a postponement was misread): as after a reschedule, one update row at the end gives
    both, held on another day (`to`), as after a reschedule. Imported into an empty log,
    the same meetings; into its own, nothing new."""
    meeting = talks()
    ok("update", meeting, "--status", "held", "--date", "2024-05-14", *SOURCE)
    ok("update", meeting, "--status", "postponed", *SOURCE)
    amendment = ok("amend", meeting, "--set", "date=2024-05-15", "--set", "status=held",
                   "--reason", "misread")
    rescheduled = talks()
    ok("update", rescheduled, "--status", "postponed", "--to", "2024-09", "--date",
       "2024-04", *SOURCE)
    held = ok("amend", rescheduled, "--set", "date=2024-10-02", "--set", "status=held",
              "--reason", "held on 2 October")
    result = run("export")
    assert (result.exit_code, result.stderr) == (0, "")
    lines, copy_db = round_trip(events, tmp_path)
    assert [line for line in lines if line["id"] in (amendment, held)] == [
        {"kind": "update", "id": amendment, "subject": meeting, "status": "held",
         "to": "2024-05-15", "source": SOURCE[1], "quote": SOURCE[3]},
        {"kind": "update", "id": held, "subject": rescheduled, "status": "held",
         "to": "2024-10-02", "source": SOURCE[1], "quote": SOURCE[3]}]
    assert contents(copy_db)["meetings"] == contents(db)["meetings"]
    assert rows(copy_db, "select id, date, status from meetings order by id") == sorted([
        {"id": meeting, "date": "2024-05-15", "status": "held"},
        {"id": rescheduled, "date": "2024-10-02", "status": "held"}],
        key=lambda row: row["id"])


def test_verify_takes_a_day_held(events: Path) -> None:
    """The full checks and the fast path of `tracker verify` alike."""
    meeting = talks()
    ok("update", meeting, "--status", "held", "--to", "2024-06-02", "--date", "2024-06-05",
       *SOURCE)
    ok("update", talks(), "--status", "held", "--date", "2024-05-14", *SOURCE)
    assert ok("verify") == "OK: 4 events in 1 file"
    [_, (moved, folder, segment), _, (held, _, _)] = lines_of(events)
    assert b'"status":"held","to":"2024-06-02"' in moved
    for line in (moved, held):
        assert agree_or_refuse(FastCheck(), line, folder, segment)
