"""Corrections and history: amend, retract, show, the history table, as-of builds."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from tracker import site

from .conftest import METADATA, SOURCE, log_bytes, ok, rows, run
from .test_references import as_bob, diverge, merge


def test_amend_scenario_show_and_as_of(db: Path, tracker_env: Path) -> None:
    """The issue's scenario: 2019 amended to 2019-05-20, seen by show and by as-of builds."""
    meeting = ok("add", "meeting", "--title", "Ministers meet", "--date", "2019", *SOURCE)
    time.sleep(0.01)
    [recorded] = json.loads(ok("log", "--json"))
    before = recorded["recorded_at"]
    amendment = ok("amend", meeting, "--set", "date=2019-05-20",
                   "--reason", "the year was read from the headline; the text gives the day",
                   "--source", "https://example.org/communique", "--quote", "on 20 May 2019")
    text = ok("show", meeting)
    assert "    date: 2019 -> 2019-05-20" in text.splitlines()
    assert ("    reason: the year was read from the headline; the text gives the day"
            in text.splitlines())
    assert "    source: https://example.org/communique" in text.splitlines()
    assert "  date: 2019-05-20" in text.splitlines()
    assert f"amend  {amendment}" not in text  # event type is printed, not the command
    assert f"record.amended  {amendment}" in text

    early, late = tracker_env / "early.db", tracker_env / "late.db"
    assert ok("build", "--as-of", before, "--db", early) == (
        f"Built {early} from 1 event recorded up to {before}")
    ok("build", "--as-of", "2999-01-01", "--db", late)
    assert rows(early, "select date, date_start, date_end, date_precision from meetings") == [
        {"date": "2019", "date_start": "2019-01-01", "date_end": "2019-12-31",
         "date_precision": "year"}]
    assert rows(late, "select date, date_start, date_end, date_precision from meetings") == [
        {"date": "2019-05-20", "date_start": "2019-05-20", "date_end": "2019-05-20",
         "date_precision": "day"}]
    ok("build")
    assert rows(db, "select field, old_value, new_value, reason, event_id from history "
                "where event_type = 'record.amended'") == [
        {"field": "date", "old_value": "2019", "new_value": "2019-05-20",
         "reason": "the year was read from the headline; the text gives the day",
         "event_id": amendment}]
    assert rows(db, "select kind, quote from sources where event_id = ?", amendment) == [
        {"kind": "amendment", "quote": "on 20 May 2019"}]
    assert rows(db, "select correction, fields, title from corrections") == [
        {"correction": "amended", "fields": "date", "title": "Ministers meet"}]


def test_as_of_a_day_means_the_end_of_that_day(db: Path, tracker_env: Path) -> None:
    ok("add", "meeting", "--title", "Today", "--date", "2020", *SOURCE)
    snapshot = tracker_env / "day.db"
    [event] = json.loads(ok("log", "--json"))
    day = event["recorded_at"][:10]
    ok("build", "--as-of", day, "--db", snapshot)
    assert rows(snapshot, "select title from meetings") == [{"title": "Today"}]
    ok("build", "--as-of", "2000-01-01", "--db", snapshot)
    assert rows(snapshot, "select count(*) as n from meetings") == [{"n": 0}]
    result = run("build", "--as-of", "last tuesday")
    assert (result.exit_code, result.stderr) == (
        1, "Error: invalid --as-of 'last tuesday': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ\n")


def test_amend_replaces_lists_whole_and_resolves_places(db: Path, japan_format: str) -> None:
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2024-08", "--status",
                 "scheduled", "--format", japan_format, "--city", "Almaty", "--country", "KAZ",
                 "--participant", "JPN,KAZ", "--topic", "trade", *SOURCE)
    ok("amend", meeting, "--set", "city=Nur-Sultan", "--set", "participant=JPN,KAZ,KGZ,TJK",
       "--set", "topic=", "--reason", "the place and the guests were misread")
    ok("build")
    [row] = rows(db, "select city, city_as_given, latitude, country, participants, topics "
                 "from meetings")
    assert row == {"city": "Astana", "city_as_given": "Nur-Sultan", "latitude": 51.1801,
                   "country": "KAZ", "participants": '["JPN","KAZ","KGZ","TJK"]',
                   "topics": None}
    assert [r["actor"] for r in rows(db, "select actor from meeting_participants "
                                     "order by rowid")] == ["JPN", "KAZ", "KGZ", "TJK"]
    changes = {r["field"]: (r["old_value"], r["new_value"]) for r in rows(
        db, "select field, old_value, new_value from history "
        "where event_type = 'record.amended'")}
    assert changes == {
        "city": ("Almaty", "Astana"), "city_as_given": (None, "Nur-Sultan"),
        "geonameid": ("1526384", "1526273"), "latitude": ("43.25249", "51.1801"),
        "longitude": ("76.9115", "71.44598"),
        "participants": ('["JPN","KAZ"]', '["JPN","KAZ","KGZ","TJK"]'),
        "topics": ('["trade"]', None),
    }
    assert rows(db, "select count(*) as n from meetings_fts where meetings_fts match 'almaty'"
                ) == [{"n": 0}]
    assert rows(db, "select count(*) as n from meetings_fts where meetings_fts match 'astana'"
                ) == [{"n": 1}]


def test_amend_status_and_pledge_fields(db: Path) -> None:
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2021", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "100", "--currency", "USD", *SOURCE)
    ok("amend", pledge, "--set", "amount=150", "--set", "approximate=yes",
       "--set", "instrument=loan", "--set", "status=fulfilled", "--reason", "misread")
    ok("build")
    assert rows(db, "select amount, approximate, instrument, status from pledges") == [
        {"amount": 150, "approximate": 1, "instrument": "loan", "status": "fulfilled"}]
    assert {r["field"]: r["old_value"] for r in rows(
        db, "select field, old_value from history where event_type = 'record.amended'")} == {
        "amount": "100", "approximate": None, "instrument": None, "status": "pledged"}

def test_a_status_amended_stays_through_later_amendments(db: Path, events: Path) -> None:
    """An amendment changes the status only when it sets one, and compares it with the
    status as it stands after the record's updates."""
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2021", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "100", "--currency", "USD", *SOURCE)
    ok("amend", pledge, "--set", "status=withdrawn", "--reason", "it was withdrawn")
    later = json.loads(ok("amend", pledge, "--set", "title=Road loan", "--reason", "the title",
                          "--json"))
    assert later["data"]["changes"] == {"title": "Road loan"}
    meeting = ok("add", "meeting", "--title", "Ministers meet", "--date", "2019", *SOURCE)
    ok("update", meeting, "--status", "postponed", *SOURCE)
    ok("amend", meeting, "--set", "status=held", "--reason", "it was held after all")
    result = run("amend", meeting, "--set", "status=held", "--reason", "again")
    assert (result.exit_code, result.stderr) == (
        1, "Error: nothing to amend: status already as given\n")
    ok("build")
    assert rows(db, "select title, status from pledges") == [
        {"title": "Road loan", "status": "withdrawn"}]
    assert rows(db, "select status from meetings") == [{"status": "held"}]
    assert ok("verify") == "OK: 6 events in 1 file"


def test_a_status_cleared_by_an_older_version_is_left_as_it_was(
    db: Path, events: Path, tmp_path: Path
) -> None:
    """Versions before 2026-11-23 wrote `"status": null` in any later amendment of a
    pledge amended to a status. It meant no change: the status stays, for the build (full
    and incremental), history, verify, update, amend and export."""
    from tracker.log import EventLog
    from tracker.model import AMENDED, Draft
    from tracker.recorder import record

    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2021", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "100", "--currency", "USD", *SOURCE)
    ok("amend", pledge, "--set", "status=withdrawn", "--reason", "it was withdrawn")
    ok("build")
    for changes in ({"status": None, "title": "Road loan"}, {"status": None}):
        record(EventLog(events), Draft(AMENDED, {"changes": changes, "reason": "old"}, pledge))
    ok("build")
    incremental = rows(db, "select * from pledges")
    ok("build", "--full")
    assert rows(db, "select * from pledges") == incremental
    assert rows(db, "select title, status from pledges") == [
        {"title": "Road loan", "status": "withdrawn"}]
    assert rows(db, "select field, old_value, new_value from history where reason = 'old'") == [
        {"field": "title", "old_value": "Loan", "new_value": "Road loan"}]
    assert rows(db, "select fields from correction_rows where reason = 'old'") == [
        {"fields": "title"}, {"fields": ""}]
    assert ok("verify") == "OK: 4 events in 1 file"
    assert [line.split("  ")[-1] for line in ok("log").splitlines()[2:]] == ["title: old", "old"]
    history = ok("show", pledge).split("record.amended")
    assert [part.count("\n    reason: old") for part in history[2:]] == [1, 1]
    assert "status: withdrawn -> None" not in history[2]
    feed = json.loads(METADATA.read_text())["databases"]["tracker"]["queries"][
        "recent_developments"]["sql"]
    assert [row["atom_content"].partition(". Reason")[0] for row in rows(db, feed)[:2]] == [
        "Pledge date (current): 2021", "Pledge date (current): 2021. Changed: title to Road loan"]
    result = run("update", pledge, "--status", "withdrawn", *SOURCE)
    assert (result.exit_code, result.stderr) == (
        1, f"Error: pledge {pledge} is already withdrawn\n")
    result = run("amend", pledge, "--set", "status=withdrawn", "--reason", "again")
    assert (result.exit_code, result.stderr) == (
        1, "Error: nothing to amend: status already as given\n")
    export = tmp_path / "export.jsonl"
    export.write_text(ok("export"))
    copy = ("--events", str(tmp_path / "copy"), "--db", str(tmp_path / "copy.db"))
    ok(*copy, "import", str(export))
    ok(*copy, "build")
    assert rows(tmp_path / "copy.db", "select title, status from pledges") == [
        {"title": "Road loan", "status": "withdrawn"}]


def test_a_repeated_set_of_a_list_clears_then_adds(db: Path) -> None:
    """`--set about= --set about=X`: cleared, then X (a traceback before); repeats add."""
    meeting = ok("add", "meeting", "--title", "Ministers meet", "--date", "2019", *SOURCE)
    other = ok("add", "meeting", "--title", "Ministers meet again", "--date", "2020", *SOURCE)
    said = ok("add", "announcement", "--title", "Welcome", "--date", "2020", "--by", "JPN",
              "--about", meeting, *SOURCE)
    ok("amend", said, "--set", "about=", "--set", f"about={other}", "--reason", "the other")
    ok("amend", meeting, "--set", "participant=", "--set", "participant=JPN",
       "--set", "participant=KAZ,UZB", "--reason", "who met")
    ok("build")
    assert rows(db, "select subject from announcement_about") == [{"subject": other}]
    assert rows(db, "select participants from meetings where id = ?", meeting) == [
        {"participants": '["JPN","KAZ","UZB"]'}]


def test_a_field_set_twice_is_refused_as_an_option_given_twice(events: Path) -> None:
    """As the CLI refuses `--by KOR --by KAZ` and takes `--by KOR --by KOR`."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2019", *SOURCE)
    before = log_bytes(events)
    result = run("amend", meeting, "--set", "date=2019", "--set", "date= 2020",
                 "--reason", "r")
    assert (result.exit_code, result.stderr) == (
        1, "Error: --set date= given twice, as '2019', then '2020': give date one value\n")
    assert log_bytes(events) == before
    ok("amend", meeting, "--set", "date=2020", "--set", "date=2020", "--reason", "r")
    assert json.loads(ok("show", meeting, "--json"))["state"]["date"] == "2020"


@pytest.mark.parametrize(("assignment", "message"), [
    ("colour=red", "unknown field 'colour' for a meeting: use one of title, date, status, "
     "format, level, mode, city, country, geonameid, participant, chair, official, topic, "
     "summary"),
    ("title=", "--set title= cannot clear the required field title"),
    ("date=2019-02-30", "invalid --set date='2019-02-30': 2019-02 has 28 days"),
    ("format=nope", "unknown format 'nope'"),
    ("title", "invalid --set 'title': use FIELD=VALUE"),
    ("title=Ministers meet", "nothing to amend: title already as given"),
    ("status=disbursed", "invalid --set status='disbursed': use one of scheduled, held, "
     "postponed, cancelled"),
    ("participant=Atlantis", "unknown actor 'Atlantis'"),
])
def test_bad_amendments_are_refused(events: Path, assignment: str, message: str) -> None:
    meeting = ok("add", "meeting", "--title", "Ministers meet", "--date", "2019", *SOURCE)
    before = log_bytes(events)
    result = run("amend", meeting, "--set", assignment, "--reason", "why")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1
    assert log_bytes(events) == before


def test_a_retracted_formats_slug_is_not_used_again(events: Path, tmp_path: Path) -> None:
    ok("add", "format", "talks", "--name", "Talks", *SOURCE)
    ok("retract", "talks", "--reason", "a duplicate")
    before = log_bytes(events)
    again = run("add", "format", "talks", "--name", "Talks", *SOURCE)
    assert (again.exit_code, again.stderr) == (
        1, "Error: 'talks' already exists (retracted: its slug is not used again)\n")
    path = tmp_path / "formats.csv"
    path.write_text(f"slug,name,source\ntalks,Talks,{SOURCE[1]}\n")
    imported = run("import", str(path))
    assert (imported.exit_code, imported.stderr) == (1, (
        f"Error: {path}: 1 of 1 row is invalid; nothing imported\n"
        "line 2: slug: format 'talks' already exists (retracted: its slug is not used "
        "again)\n"))
    assert log_bytes(events) == before


def test_amend_splits_a_set_at_commas_as_add_takes_it(db: Path, events: Path) -> None:
    """A name with a comma stays whole; an official is one per --set, commas and all
    (unless what follows one reads as another ACTOR:, refused as ambiguous); a topic
    keeps a comma written `\\,`; `show` writes lists in that form, and repeating `--set`
    adds to the set."""
    meeting = ok("add", "meeting", "--title", "Ministers meet", "--date", "2020",
                 "--participant", "JPN", "--topic", "trade, customs", *SOURCE)
    assert "  topics: trade\\, customs" in ok("show", meeting).splitlines()
    ok("amend", meeting, "--set", "participant=Korea, Republic of", "--set",
       "participant=JPN,KAZ", "--set", "topic=trade\\, customs, energy\\\\, water",
       "--set", "official=JPN:Yoko Kamikawa:Minister for Foreign Affairs, Japan",
       "--set", "official=KAZ:Murat Nurtleu:Deputy Prime Minister\\, Minister",
       "--reason", "misread")
    ok("build")
    assert rows(db, "select participants, topics from meetings") == [{
        "participants": '["KOR","JPN","KAZ"]',
        "topics": '["trade, customs","energy\\\\","water"]'}]
    assert rows(db, "select actor, official, official_title from meeting_participants "
                    "where official is not null order by actor") == [
        {"actor": "JPN", "official": "Yoko Kamikawa",
         "official_title": "Minister for Foreign Affairs, Japan"},
        {"actor": "KAZ", "official": "Murat Nurtleu",
         "official_title": "Deputy Prime Minister, Minister"}]
    shown = ok("show", meeting).splitlines()
    assert "  topics: trade\\, customs, energy\\\\, water" in shown
    # its history too writes lists as --set takes them
    assert "    participants: JPN -> KOR, JPN, KAZ" in shown
    assert "    topics: trade\\, customs -> trade\\, customs, energy\\\\, water" in shown
    assert ("    officials: (none) -> JPN:Yoko Kamikawa:Minister for Foreign Affairs\\, "
            "Japan, KAZ:Murat Nurtleu:Deputy Prime Minister\\, Minister") in shown
    before = log_bytes(events)
    for official, part in (("USA:Smith, Jo:Envoy", "Jo:Envoy"),
                           ("JPN:Yoko Kamikawa,KAZ:Murat Nurtleu", "KAZ:Murat Nurtleu")):
        refused = run("amend", meeting, "--set", f"official={official}", "--reason", "r")
        assert (refused.exit_code, refused.stderr) == (1, (
            f"Error: invalid --set official={official}: is '{part}' another official? Give "
            "each official in its own --set official=, and write \\, for a comma in a name "
            "or title\n"))
    assert log_bytes(events) == before
    ok("amend", meeting, "--set", "official=USA:Smith\\, Jo:Envoy", "--reason", "one")
    ok("build")
    assert rows(db, "select actor, official, official_title from meeting_participants "
                    "where official is not null") == [
        {"actor": "USA", "official": "Smith, Jo", "official_title": "Envoy"}]
    again = run("amend", meeting, "--set", "topic=trade\\, customs, energy\\\\, water",
                "--reason", "as shown")  # what show writes is what the record holds
    assert (again.exit_code, again.stderr) == (1, "Error: nothing to amend: topic already "
                                                  "as given\n")


def test_an_amendment_that_only_reorders_a_set_is_refused(events: Path) -> None:
    """Participants, recipients, members, about, topics and officials are sets: a new
    order is nothing to amend (it appended an amendment before), and it is left out of
    an amendment that changes something else."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2020", "--participant",
                 "JPN,KAZ", "--topic", "trade", "--topic", "energy", *SOURCE)
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2020", "--donor", "JPN",
                "--recipient", "KAZ,UZB", "--amount", "5", "--currency", "JPY", *SOURCE)
    slug = ok("add", "format", "c5-japan", "--name", "C5 + Japan", "--member", "JPN,KAZ",
              *SOURCE)
    said = ok("add", "announcement", "--title", "Welcome", "--date", "2020", "--by", "JPN",
              "--about", meeting, "--about", pledge, *SOURCE)
    before = log_bytes(events)
    for subject, assignments, message in [
        (meeting, ["participant=Kazakhstan,Japan"],
         "participant=KAZ,JPN only reorders JPN,KAZ (the order of participants is not a "
         "change)"),
        (pledge, ["recipient=UZB,KAZ"],
         "recipient=UZB,KAZ only reorders KAZ,UZB (the order of recipients is not a change)"),
        (slug, ["member=KAZ,JPN"],
         "member=KAZ,JPN only reorders JPN,KAZ (the order of members is not a change)"),
        (said, [f"about={pledge},{meeting}"],
         f"about={pledge},{meeting} only reorders {meeting},{pledge} (the order of about is "
         "not a change)"),
        (meeting, ["topic=energy,trade", "title=Talks"],
         "title already as given; topic=energy,trade only reorders trade,energy (the order "
         "of topics is not a change)"),
    ]:
        sets = [part for assignment in assignments for part in ("--set", assignment)]
        result = run("amend", subject, *sets, "--reason", "the order")
        assert (result.exit_code, result.stderr) == (1, f"Error: nothing to amend: {message}\n")
    assert log_bytes(events) == before
    amended = json.loads(ok("amend", meeting, "--set", "participant=KAZ,JPN",
                            "--set", "title=Talks in Tokyo", "--reason", "the title", "--json"))
    assert amended["data"]["changes"] == {"title": "Talks in Tokyo"}
    assert json.loads(ok("show", meeting, "--json"))["state"]["participants"] == ["JPN", "KAZ"]


def test_an_amendment_cannot_drop_the_chair_or_an_official_from_participants(
    events: Path,
) -> None:
    """The actors of the chair and the officials stay participants: an amendment that
    leaves them out of --set participant= says so, refused if that is all it would do."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2020", "--participant",
                 "JPN,KAZ", "--official", "JPN:Yoko Kamikawa", "--chair", "UZB", *SOURCE)
    before = log_bytes(events)
    result = run("amend", meeting, "--set", "participant=KAZ", "--reason", "who met")
    assert (result.exit_code, result.stderr) == (
        1, "Error: nothing to amend: participant=KAZ leaves the participants as they were: "
        "JPN stays as the actor of --official 'JPN:Yoko Kamikawa', UZB stays as the "
        "--chair\n")
    assert log_bytes(events) == before
    result = run("amend", meeting, "--set", "participant=KAZ,TJK", "--reason", "who met",
                 "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ("Warning: participant=KAZ,TJK does not drop JPN or UZB: JPN "
                             "stays as the actor of --official 'JPN:Yoko Kamikawa', UZB "
                             "stays as the --chair\n")
    assert json.loads(result.stdout)["data"]["changes"] == {
        "participants": ["KAZ", "TJK", "UZB", "JPN"]}
    result = run("amend", meeting, "--set", "participant=TJK", "--set", "chair=JPN",
                 "--reason", "the chair")
    assert result.exit_code == 0, result.output
    assert result.stderr == ("Warning: participant=TJK does not drop JPN: JPN stays as the "
                             "--chair and the actor of --official 'JPN:Yoko Kamikawa'\n")
    state = json.loads(ok("show", meeting, "--json"))["state"]
    assert (state["chair"], state["participants"]) == ("JPN", ["TJK", "JPN"])
    assert run("amend", meeting, "--set", "participant=TJK,JPN", "--reason", "r").stderr == (
        "Error: nothing to amend: participant already as given\n")


def test_the_place_is_warned_about_only_when_an_amendment_changes_it(events: Path) -> None:
    """An amendment looks the city up again; what it finds is said when the city or the
    country changes, not on every amendment of the meeting."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2004-08", "--city",
                 "Nur-Sultan", "--country", "KAZ", *SOURCE)
    result = run("amend", meeting, "--set", "title=Dialogue launched", "--reason", "title")
    assert (result.exit_code, result.stderr) == (0, "")
    result = run("amend", meeting, "--set", "city=Alma-Ata", "--reason", "the place")
    assert (result.exit_code, result.stderr) == (
        0, "Warning: city 'Alma-Ata' recorded as Almaty (GeoNames 1526384); the name given "
        "is kept in city_as_given\n")


def test_amend_needs_a_reason(events: Path) -> None:
    meeting = ok("add", "meeting", "--title", "Ministers meet", "--date", "2019", *SOURCE)
    before = log_bytes(events)
    missing = run("amend", meeting, "--set", "date=2020")
    assert (missing.exit_code, missing.stderr) == (1, "Error: Missing option '--reason'.\n")
    empty = run("amend", meeting, "--set", "date=2020", "--reason", "  ")
    assert (empty.exit_code, empty.stderr) == (1, "Error: empty --reason '  ': give it a value\n")
    assert log_bytes(events) == before


def test_retract_leaves_current_state_but_not_history(db: Path, japan_format: str) -> None:
    meeting = ok("add", "meeting", "--title", "Phantom meeting in Ashgabat", "--date", "2018",
                 "--format", japan_format, "--city", "Ashgabat", "--country", "TKM",
                 "--participant", "JPN,TKM", *SOURCE)
    pledge = ok("add", "pledge", "--title", "Aid", "--date", "2018", "--donor", "JPN",
                "--recipient", "TKM", "--amount", "5", "--currency", "JPY", "--at", meeting,
                *SOURCE)
    ok("amend", pledge, "--set", "at=", "--reason", "not at that meeting")
    retraction = ok("retract", meeting, "--reason", "no such meeting: a misread report")
    ok("build")
    assert rows(db, "select count(*) as n from meetings") == [{"n": 0}]
    assert rows(db, "select count(*) as n from meeting_participants") == [{"n": 0}]
    assert rows(db, "select id from timeline where kind = 'meeting'") == []
    assert rows(db, "select count(*) as n from meetings_fts where meetings_fts match 'phantom'"
                ) == [{"n": 0}]
    assert rows(db, "select count(*) as n from sources_fts where sources_fts match 'quote'"
                ) == [{"n": 2}]  # the format's and the pledge's, not the meeting's
    assert rows(db, "select count(*) as n from sources where subject = ?", meeting) == [
        {"n": 0}]
    assert [r["type"] for r in rows(db, "select type from events where subject = ? "
                                    "order by rowid", meeting)] == [
        "meeting.recorded", "record.retracted"]
    assert rows(db, "select field, old_value, new_value, reason from history "
                "where event_id = ?", retraction) == [
        {"field": "record", "old_value": "recorded", "new_value": "retracted",
         "reason": "no such meeting: a misread report"}]
    assert rows(db, "select retracted, retraction_reason from records where id = ?",
                meeting) == [{"retracted": 1,
                              "retraction_reason": "no such meeting: a misread report"}]
    assert rows(db, "select correction from corrections order by recorded_at") == [
        {"correction": "amended"}, {"correction": "retracted"}]
    assert rows(db, "select id from pledges") == [{"id": pledge}]  # the pledge stands
    shown = ok("show", meeting).splitlines()
    assert shown[1] == "  RETRACTED: no such meeting: a misread report (last state below)"
    assert "    record: recorded -> retracted" in shown
    assert json.loads(ok("show", meeting, "--json"))["retracted"] is True


def test_a_retracted_records_status_changes_leave_with_it(db: Path, tmp_path: Path) -> None:
    """As its sources do, in incremental, full and as-of builds; `history` keeps them."""
    pledge = ok("add", "pledge", "--title", "Aid", "--date", "2020", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "100", "--currency", "JPY", *SOURCE)
    update = json.loads(ok("update", pledge, "--status", "disbursed", "--amount", "7",
                           "--json", *SOURCE))
    kept = ok("add", "meeting", "--title", "Talks", "--date", "2020", *SOURCE)
    cancelled = ok("update", kept, "--status", "cancelled", *SOURCE)
    ok("build")
    changes = "select event_id from status_changes order by event_id"
    assert rows(db, changes) == sorted([{"event_id": update["id"]}, {"event_id": cancelled}],
                                       key=lambda row: row["event_id"])
    ok("retract", pledge, "--reason", "recorded twice")
    full, then = tmp_path / "full.db", tmp_path / "then.db"
    assert ok("build") == f"Updated {db} with 1 new event"
    ok("build", "--full", "--db", full)
    ok("build", "--as-of", "2999-01-01", "--db", then)
    for built in (db, full, then):
        assert rows(built, changes) == [{"event_id": cancelled}], built
        assert rows(built, "select field, new_value from history where event_id = ?",
                    update["id"]) == [{"field": "status", "new_value": "disbursed"},
                                      {"field": "disbursed_amount", "new_value": "7"}]
    ok("build", "--as-of", update["recorded_at"], "--db", then)
    assert rows(then, "select event_id from status_changes") == [{"event_id": update["id"]}]


def test_show_gives_a_retracted_records_last_state_with_its_updates() -> None:
    """The state `show` gives once a record is retracted is the one it gave just before:
    with its status updates (a meeting cancelled, a pledge disbursed), amendments and
    reschedules, and a meeting's participants."""
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2030", "--participant",
                 "JPN,KAZ", "--official", "JPN:Yoko Kamikawa:Minister, Japan", *SOURCE)
    ok("update", meeting, "--status", "postponed", "--to", "2031", *SOURCE)
    ok("amend", meeting, "--set", "title=Summit of leaders", "--reason", "misread")
    ok("update", meeting, "--status", "cancelled", *SOURCE)
    pledge = ok("add", "pledge", "--title", "Aid", "--date", "2020", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "100", "--currency", "JPY", *SOURCE)
    ok("update", pledge, "--status", "disbursed", "--amount", "50", *SOURCE)
    for record, status in ((meeting, "cancelled"), (pledge, "disbursed")):
        before = json.loads(ok("show", record, "--json"))["state"]
        assert before["status"] == status
        ok("retract", record, "--reason", "a duplicate")
        after = json.loads(ok("show", record, "--json"))
        assert (after["retracted"], after["state"]) == (True, before)
    shown = ok("show", meeting).splitlines()
    assert shown[:3] == [f"meeting {meeting}", "  RETRACTED: a duplicate (last state below)",
                         "  title: Summit of leaders"]
    named = ("  date:", "  status:", "  participants:", "  official:")
    assert [line for line in shown if line.startswith(named)] == [
        "  date: 2031", "  status: cancelled", "  participants: JPN, KAZ",
        "  official: JPN:Yoko Kamikawa:Minister\\, Japan"]
    assert "  disbursed_amount: 50" in ok("show", pledge).splitlines()


SOURCE_LINES = ("source: https://example.org/report", '  "a quote"')  # what SOURCE shows


def no_effect(event: dict, *lines: str) -> list[str]:
    """How `show` prints an event of its history that came after the retraction."""
    return [f"  {event['recorded_at']}  tester  {event['type']}  {event['id']}",
            "    (after the retraction: no effect)", *(f"    {line}" for line in lines)]


def test_show_marks_what_another_clone_recorded_after_the_retraction(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events merged from another clone that come after the retraction (an update, a
    citation, an amendment, a second retraction) are in the history with their usual lines
    (an update's status too), each marked as changing nothing, as the build has it."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2024", *SOURCE)
    pledge = ok("add", "pledge", "--title", "Aid", "--date", "2020", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "100", "--currency", "JPY", *SOURCE)
    clone = diverge(events, monkeypatch)
    ok("retract", meeting, "--reason", "a duplicate")
    ok("retract", pledge, "--reason", "a duplicate")
    as_bob(clone, monkeypatch, "update", meeting, "--status", "postponed", "--date",
           "2024-05", "--note", "no date yet", *SOURCE)
    as_bob(clone, monkeypatch, "cite", meeting, "--source", "Another report")
    as_bob(clone, monkeypatch, "amend", meeting, "--set", "title=Talks in Astana",
           "--set", "participant=JPN,KAZ", "--reason", "misread")
    as_bob(clone, monkeypatch, "update", pledge, "--status", "disbursed", "--amount", "7",
           *SOURCE)
    as_bob(clone, monkeypatch, "retract", pledge, "--reason", "recorded twice")
    assert merge(clone, events) == ""
    history = json.loads(ok("show", meeting, "--json"))["history"]
    assert [(event["type"], event["changes"], event["after_retraction"])
            for event in history] == [
        ("meeting.recorded", [], False),
        ("record.retracted", [{"field": "record", "old": "recorded", "new": "retracted"}],
         False),
        ("meeting.status_changed", [], True), ("source.added", [], True),
        ("record.amended", [], True)]
    shown = ok("show", meeting).splitlines()
    assert shown[shown.index("history:") + 8:] == [
        *no_effect(history[2], "status: postponed", "date: 2024-05", "note: no date yet",
                   *SOURCE_LINES),
        *no_effect(history[3], "source: Another report"),
        *no_effect(history[4], "participants: JPN, KAZ", "title: Talks in Astana",
                   "reason: misread")]
    history = json.loads(ok("show", pledge, "--json"))["history"]
    assert [(event["type"], event["after_retraction"]) for event in history] == [
        ("pledge.recorded", False), ("record.retracted", False),
        ("pledge.status_changed", True), ("record.retracted", True)]
    shown = ok("show", pledge).splitlines()
    assert shown[shown.index("history:") + 8:] == [
        *no_effect(history[2], "status: disbursed", "amount: 7", *SOURCE_LINES),
        *no_effect(history[3], "reason: recorded twice")]
    assert shown[1] == "  RETRACTED: a duplicate (last state below)"


def test_show_marks_a_slug_recorded_in_another_clone_after_its_retraction(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A format recorded in two clones under one slug: the second, after the first was
    retracted, changes nothing, and `show` says so."""
    ok("add", "meeting", "--title", "Talks", "--date", "2024", *SOURCE)
    clone = diverge(events, monkeypatch)
    ok("add", "format", "c5", "--name", "C5", *SOURCE)
    ok("retract", "c5", "--reason", "a test")
    as_bob(clone, monkeypatch, "add", "format", "c5", "--name", "C5+1", *SOURCE)
    merge(clone, events)
    history = json.loads(ok("show", "c5", "--json"))["history"]
    assert [(event["type"], event["after_retraction"]) for event in history] == [
        ("format.recorded", False), ("record.retracted", False), ("format.recorded", True)]
    assert [event["recorded_again"] for event in history] == [False, False, False]
    shown = ok("show", "c5").splitlines()
    assert shown[-5:] == no_effect(history[2], "recorded: C5+1", *SOURCE_LINES)


def test_show_marks_a_slug_recorded_again_in_another_clone(
    events: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A format recorded in two clones under one slug, not retracted: the second, later
    in replay order, changes nothing (the first record stands, and its source is not the
    format's), and `show` says so (it listed it as a record like the first)."""
    ok("add", "meeting", "--title", "Talks", "--date", "2024", *SOURCE)
    clone = diverge(events, monkeypatch)
    ok("add", "format", "c5", "--name", "C5", *SOURCE)
    as_bob(clone, monkeypatch, "add", "format", "c5", "--name", "C5+1", "--source",
           "Another report")
    assert merge(clone, events) == ""
    shown = json.loads(ok("show", "c5", "--json"))
    history = shown["history"]
    assert (shown["state"]["name"], [
        (event["type"], event["recorded_by"], event["after_retraction"],
         event["recorded_again"]) for event in history]) == ("C5", [
            ("format.recorded", "tester", False, False),
            ("format.recorded", "tester", False, True)])
    assert rows(db, "select url, citation from sources where subject = 'c5'") == [
        {"url": "https://example.org/report", "citation": None}]
    assert ok("show", "c5").splitlines()[-4:] == [
        f"  {history[1]['recorded_at']}  tester  format.recorded  {history[1]['id']}",
        "    (recorded again: no effect; the first record stands)", "    recorded: C5+1",
        "    source: Another report"]


@pytest.mark.parametrize("command", [
    ("format", "c5", "--name", "C5"),
    ("meeting", "--title", "Talks", "--date", "2024"),
    ("announcement", "--title", "Plan", "--date", "2024", "--by", "JPN"),
    ("pledge", "--title", "Aid", "--date", "2020", "--donor", "JPN", "--recipient", "KAZ",
     "--amount", "100", "--currency", "JPY"),
])
def test_a_retry_of_add_says_that_the_record_was_retracted_since(
    events: Path, command: tuple[str, ...]
) -> None:
    """The retry appends nothing and exits 0 with the same stdout, as any retry, and
    says that the record it made was retracted since."""
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"
    args = ("add", *command, *SOURCE, "--id", event_id)
    made = ok(*args)
    assert made == (command[1] if command[0] == "format" else event_id)
    ok("retract", made, "--reason", "a duplicate")
    assert_a_retry(events, args, made, "nothing appended; it was retracted since")


def assert_a_retry(events: Path, args: tuple[str, ...], stdout: str, said: str) -> None:
    """Retried, the command appends nothing, exits 0, prints what it printed, and says
    on stderr what the retry found."""
    before = log_bytes(events)
    result = run(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, f"{stdout}\n", f"Already recorded: {args[-1]} ({said})\n")
    assert log_bytes(events) == before


@pytest.mark.parametrize("command", [
    ("update", "{id}", "--status", "cancelled", *SOURCE),
    ("cite", "{id}", "--source", "https://example.org/more"),
    ("amend", "{id}", "--set", "title=New", "--reason", "a typo"),
    ("uncite", "{citation}", "--reason", "a bad link"),
])
def test_a_retry_of_a_change_names_its_record_retracted_since(
    events: Path, command: tuple[str, ...]
) -> None:
    """The retry of an event about a record retracted since appends nothing, exits 0 with
    the same stdout, and says that the record is retracted."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2019", *SOURCE)
    citation = ok("cite", meeting, "--source", "https://example.org/other")
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"
    args = (*(part.format(id=meeting, citation=citation) for part in command),
            "--id", event_id)
    assert ok(*args) == event_id
    ok("retract", meeting, "--reason", "a duplicate")
    assert_a_retry(events, args, event_id, f"nothing appended; {meeting} is retracted")


def test_a_retry_of_a_retraction_says_only_that_nothing_was_appended(events: Path) -> None:
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2019", *SOURCE)
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"
    args = ("retract", meeting, "--reason", "a duplicate", "--id", event_id)
    assert ok(*args) == event_id
    assert_a_retry(events, args, event_id, "nothing appended")


@pytest.mark.parametrize(("command", "given"), [
    (("amend", "{id}", "--set", "title=New", "--reason", "r"), ""),
    (("update", "{id}", "--status", "held", *SOURCE), ""),
    (("cite", "{id}", *SOURCE), ""),
    (("retract", "{id}", "--reason", "again"), ""),
    (("add", "pledge", "--title", "P", "--date", "2020", "--donor", "JPN", "--recipient",
      "KAZ", "--amount", "1", "--currency", "JPY", "--at", "{id}", *SOURCE), " in --at"),
])
def test_a_retracted_record_refuses_changes(events: Path, command: tuple[str, ...],
                                            given: str) -> None:
    meeting = ok("add", "meeting", "--title", "M", "--date", "2019", *SOURCE)
    ok("retract", meeting, "--reason", "duplicate")
    before = log_bytes(events)
    result = run(*(part.format(id=meeting) for part in command))
    assert (result.exit_code, result.stderr) == (1, f"Error: {meeting}{given} was retracted\n")
    assert log_bytes(events) == before


def test_history_records_every_change(db: Path) -> None:
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2020", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "1000", "--currency", "JPY", *SOURCE)
    ok("update", pledge, "--status", "disbursed", "--amount", "400", "--note", "tranche 1",
       *SOURCE)
    ok("cite", pledge, "--source", "Budget report")
    ok("build")
    assert rows(db, "select event_type, recorded_by, field, old_value, new_value, reason "
                "from history order by rowid") == [
        {"event_type": "pledge.status_changed", "recorded_by": "tester", "field": "status",
         "old_value": "pledged", "new_value": "disbursed", "reason": "tranche 1"},
        {"event_type": "pledge.status_changed", "recorded_by": "tester",
         "field": "disbursed_amount", "old_value": None, "new_value": "400",
         "reason": "tranche 1"},
    ]
    with closing(sqlite3.connect(db)) as conn:
        site.prepare_connection(conn)  # the site's functions (tracker_since)
        conn.row_factory = sqlite3.Row
        changed = [dict(row) for row in conn.execute(json.loads(METADATA.read_text())[
            "databases"]["tracker"]["queries"]["changed_since"]["sql"], {"date": "2000-01-01"})]
    assert changed[0]["event_type"] == "source.added"  # the newest first
    assert sorted((row["event_type"], row["field"], row["new_value"]) for row in changed) == [
        ("pledge.recorded", "record", "Grant"),
        ("pledge.status_changed", "disbursed_amount", "400"),
        ("pledge.status_changed", "status", "disbursed"),
        ("source.added", "source", "Budget report"),
    ]


def test_serve_as_of_publishes_the_past(events: Path, tmp_path: Path) -> None:
    """A real server on 127.0.0.1 showing the state before an amendment."""
    import os
    import subprocess
    import sys

    from .serving import first_answer, free_port

    meeting = ok("add", "meeting", "--title", "Ministers meet", "--date", "2019", *SOURCE)
    [recorded] = json.loads(ok("log", "--json"))
    time.sleep(0.01)
    ok("amend", meeting, "--set", "date=2019-05-20", "--reason", "misread")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "serve", "--port", str(port), "--as-of",
         recorded["recorded_at"], "--metadata", str(METADATA)], env=os.environ,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        served = json.loads(first_answer(
            f"http://127.0.0.1:{port}/tracker/meetings.json?_shape=array", process,
            output=process.stderr.read))
        # Every page says it shows the past: the title, each page's footer, the dashboard.
        as_of = f"as of {recorded['recorded_at']}"
        # A row page first: Datasette 0.65 gave it its table's own metadata only
        for page in (f"/tracker/meetings/{meeting}", "/tracker/actors/JPN", "/",
                     "/tracker/meetings", "/tracker/timeline", "/-/dashboards/overview",
                     "/tracker/changed_since", "/tracker/recent_developments.atom"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{page}") as response:
                assert as_of in response.read().decode(), page
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert [(row["date"], row["date_precision"]) for row in served] == [("2019", "year")]
    assert (f"Built the state as of {recorded['recorded_at']} from 1 event\n"
            in process.stderr.read())
    assert not (tmp_path / "tracker.db").exists()  # the present database is not touched


def test_an_update_dated_before_its_record_is_recorded_with_a_warning() -> None:
    """A meeting held, or a pledge disbursed, before its date: recorded (the record's date
    may be the wrong one), with a warning; postponed or cancelled before it is news."""
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2024-08", "--status",
                 "scheduled", *SOURCE)
    for status, date in (("postponed", "2024-07-20"), ("held", "2024-08")):
        result = run("update", meeting, "--status", status, "--date", date, *SOURCE)
        assert (result.exit_code, result.stderr) == (0, ""), status
    early = run("update", meeting, "--status", "held", "--date", "2024-07-31", "--note",
                "the first day", *SOURCE)
    assert (early.exit_code, early.stderr) == (0, (
        "Warning: --status held --date 2024-07-31 is before the meeting's date 2024-08: "
        "if the meeting's date is wrong, amend it; if it was held on another day than set, "
        "record that day as --to\n"))
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2021/2022", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "1000", "--currency", "USD", *SOURCE)
    result = run("update", pledge, "--status", "fulfilled", "--date", "2020-12", *SOURCE)
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: --status fulfilled --date 2020-12 is before the pledge's date 2021/2022: "
        "if the pledge's date is wrong, amend it\n"))
    assert ok("update", pledge, "--status", "withdrawn", "--date", "2022-12", *SOURCE)
    assert [(event["type"], event["data"].get("status")) for event in json.loads(
        ok("log", "--json"))] == [
        ("meeting.recorded", "scheduled"), ("meeting.status_changed", "postponed"),
        ("meeting.status_changed", "held"), ("meeting.status_changed", "held"),
        ("pledge.recorded", None), ("pledge.status_changed", "fulfilled"),
        ("pledge.status_changed", "withdrawn")]


def test_a_date_amended_after_an_update_is_recorded_with_a_warning() -> None:
    """As `update` warns of an update dated before its record: the first update so dated
    is named; a postponement before the meeting's date is news, no warning."""
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2024", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "1000", "--currency", "USD", *SOURCE)
    ok("update", pledge, "--status", "disbursed", "--amount", "10", "--date", "2024-05",
       *SOURCE)
    ok("update", pledge, "--status", "disbursed", "--amount", "20", "--date", "2024-06",
       *SOURCE)
    result = run("amend", pledge, "--set", "date=2025", "--reason", "misread")
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: --set date=2025 is after the pledge's update --status disbursed --date "
        "2024-05: if that is its date, the pledge's date is wrong\n"))
    result = run("amend", pledge, "--set", "date=2024-05", "--set", "title=Loan 2",
                 "--reason", "misread")
    assert (result.exit_code, result.stderr) == (0, "")
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2024-08", "--status",
                 "scheduled", *SOURCE)
    ok("update", meeting, "--status", "postponed", "--date", "2024-07-20", *SOURCE)
    result = run("amend", meeting, "--set", "date=2024-09", "--reason", "misread")
    assert (result.exit_code, result.stderr) == (0, "")
    ok("update", meeting, "--status", "held", "--date", "2024-08-01", *SOURCE)
    result = run("amend", meeting, "--set", "date=2024-08-02", "--reason", "misread")
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: --set date=2024-08-02 is after the meeting's update --status held --date "
        "2024-08-01: if that is its date, the meeting's date is wrong\n"))


def test_a_disbursement_larger_than_the_pledge_is_recorded_with_a_warning(db: Path) -> None:
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2021", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "1,000", "--currency", "USD", *SOURCE)
    within = run("update", pledge, "--status", "disbursed", "--amount", "1000", *SOURCE)
    assert (within.exit_code, within.stderr) == (0, "")
    beyond = run("update", pledge, "--status", "disbursed", "--amount", "1000.5", *SOURCE)
    assert (beyond.exit_code, beyond.stderr) == (
        0, "Warning: --amount 1000.5 is more than the 1000 USD pledged\n")
    again = run("update", pledge, "--status", "disbursed", "--amount", "1000.5", *SOURCE)
    assert (again.exit_code, again.stderr) == (  # refused: no warning about it
        1, f"Error: pledge {pledge} is already disbursed with --amount 1000.5\n")
    ok("build")
    assert rows(db, "select disbursed_amount from pledges") == [{"disbursed_amount": 1000.5}]


def test_an_amended_amount_or_currency_is_checked_with_what_was_disbursed(db: Path) -> None:
    """The amount disbursed is an amount in the pledge's currency: an amendment of the
    currency changes what it reads as, and one of the amount can leave less pledged than
    was disbursed (warned as `update` warns of an amount disbursed above the pledge)."""
    pledge = ok("add", "pledge", "--title", "GG", "--date", "2025-04-04", "--donor", "EU",
                "--recipient", "KAZ", "--amount", "12000000000", "--currency", "EUR", *SOURCE)
    before = run("amend", pledge, "--set", "amount=11000000000", "--reason", "misread")
    assert (before.exit_code, before.stderr) == (0, "")  # nothing disbursed yet
    ok("update", pledge, "--status", "disbursed", "--amount", "5500000000", "--date",
       "2026-03", *SOURCE)
    currency = run("amend", pledge, "--set", "currency=USD", "--reason", "r1")
    assert (currency.exit_code, currency.stderr) == (0, (
        "Warning: --set currency=USD: the 5500000000 disbursed is now read in USD, not EUR: an "
        "amount disbursed is in its pledge's currency\n"))
    amount = run("amend", pledge, "--set", "amount=1000000000", "--reason", "r2")
    assert (amount.exit_code, amount.stderr) == (
        0, "Warning: the 5500000000 disbursed is more than the 1000000000 USD pledged\n")
    ok("update", pledge, "--status", "fulfilled", *SOURCE)  # still disbursed, fulfilled
    both = run("amend", pledge, "--set", "amount=5000000000", "--set", "currency=JPY",
               "--reason", "r3")
    assert (both.exit_code, both.stderr) == (0, (
        "Warning: --set currency=JPY: the 5500000000 disbursed is now read in JPY, not USD: an "
        "amount disbursed is in its pledge's currency\n"
        "Warning: the 5500000000 disbursed is more than the 5000000000 JPY pledged\n"))
    within = run("amend", pledge, "--set", "amount=5500000000", "--set", "title=G",
                 "--reason", "r4")
    assert (within.exit_code, within.stderr) == (0, "")
    ok("build")
    assert rows(db, "select amount, currency, status, disbursed_amount from pledges") == [
        {"amount": 5500000000, "currency": "JPY", "status": "fulfilled",
         "disbursed_amount": 5500000000}]


def test_rare_sequences_of_statuses_are_recorded_with_a_warning(db: Path) -> None:
    """A pledge withdrawn then disbursed, one fulfilled with part of it disbursed, a
    meeting cancelled then held: they happen, rarely, and the analyst is told."""
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2021", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "100", "--currency", "USD", *SOURCE)
    ok("update", pledge, "--status", "withdrawn", "--date", "2022", *SOURCE)
    paid = run("update", pledge, "--status", "disbursed", "--amount", "10", *SOURCE)
    assert (paid.exit_code, paid.stderr) == (0, (
        "Warning: --status disbursed after the pledge was withdrawn: a pledge withdrawn is "
        "rarely paid after all; check that it was withdrawn\n"))
    fulfilled = run("update", pledge, "--status", "fulfilled", "--date", "2023", *SOURCE)
    assert (fulfilled.exit_code, fulfilled.stderr) == (0, (
        "Warning: --status fulfilled with 10 of the 100 USD pledged disbursed: if more was "
        "disbursed, record the cumulative amount with --status disbursed\n"))
    ok("update", pledge, "--status", "withdrawn", "--date", "2024", *SOURCE)
    again = run("update", pledge, "--status", "fulfilled", "--date", "2025", *SOURCE)
    assert (again.exit_code, again.stderr.splitlines()) == (0, [  # what was disbursed stays
        "Warning: --status fulfilled after the pledge was withdrawn: a pledge withdrawn is "
        "rarely paid after all; check that it was withdrawn",
        "Warning: --status fulfilled with 10 of the 100 USD pledged disbursed: if more was "
        "disbursed, record the cumulative amount with --status disbursed"])
    whole = ok("add", "pledge", "--title", "Grant", "--date", "2021", "--donor", "JPN",
               "--recipient", "UZB", "--amount", "100", "--currency", "USD", *SOURCE)
    for status, amount in (("disbursed", ("--amount", "100")), ("fulfilled", ())):
        result = run("update", whole, "--status", status, *amount, *SOURCE)
        assert (result.exit_code, result.stderr) == (0, ""), status
    unpaid = ok("add", "pledge", "--title", "Aid", "--date", "2021", "--donor", "JPN",
                "--recipient", "UZB", "--amount", "100", "--currency", "USD", *SOURCE)
    result = run("update", unpaid, "--status", "fulfilled", *SOURCE)  # no amount known
    assert (result.exit_code, result.stderr) == (0, "")
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2026-05-14", "--status",
                 "scheduled", *SOURCE)
    ok("update", meeting, "--status", "cancelled", "--date", "2026-05-01", *SOURCE)
    held = run("update", meeting, "--status", "held", "--date", "2026-05-14", *SOURCE)
    assert (held.exit_code, held.stderr) == (0, (
        "Warning: --status held after the meeting was cancelled: a meeting cancelled is "
        "rarely held after all; check that it was cancelled\n"))
    ok("build")
    assert rows(db, "select status, disbursed_amount from pledges order by title") == [
        {"status": "fulfilled", "disbursed_amount": None},
        {"status": "fulfilled", "disbursed_amount": 100},
        {"status": "fulfilled", "disbursed_amount": 10}]
    assert rows(db, "select status from meetings") == [{"status": "held"}]


def test_show_and_amend_write_a_comma_in_an_item_as_set_takes_it(events: Path) -> None:
    """An official whose name holds a comma, and a topic that does, are written with `\\,`
    as `--set` takes them: in `show` and in a refusal of `amend`."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2020", *SOURCE)
    ok("amend", meeting, "--set", "official=USA:Lee", "--set", "official=USA:Smith\\, Jo:Envoy",
       "--set", "topic=trade\\, customs,energy", "--reason", "misread")
    shown = ok("show", meeting).splitlines()
    assert [line for line in shown if line.startswith(("  topics:", "  official:"))] == [
        "  topics: trade\\, customs, energy", "  official: USA:Lee",
        "  official: USA:Smith\\, Jo:Envoy"]
    before = log_bytes(events)
    for sets, message in [
        (["topic=energy,trade\\, customs"], "topic=energy,trade\\, customs only reorders "
         "trade\\, customs,energy (the order of topics is not a change)"),
        (["official=USA:Smith\\, Jo:Envoy", "official=USA:Lee"], "official=USA:Smith\\, "
         "Jo:Envoy,USA:Lee only reorders USA:Lee,USA:Smith\\, Jo:Envoy (the order of "
         "officials is not a change)"),
    ]:
        result = run("amend", meeting, *[part for one in sets for part in ("--set", one)],
                     "--reason", "the order")
        assert (result.exit_code, result.stderr) == (1, f"Error: nothing to amend: {message}\n")
    assert log_bytes(events) == before


def test_add_official_reads_an_escaped_comma_as_amend_does(db: Path, events: Path) -> None:
    """`--official` takes a comma in a name written `\\,` (and a backslash `\\\\`), as
    `--set official=` and `show` write them: what `show` prints, given back, is nothing to
    amend (`--official` kept the backslash before)."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2020", "--participant",
                 "USA", "--official", "USA:Smith\\, Jo:Envoy", "--official",
                 "USA:A\\\\B, C:Special\\, Envoy", *SOURCE)
    plain = ok("add", "meeting", "--title", "Talks", "--date", "2020", "--participant",
               "USA", "--official", "USA:Smith, Jo:Envoy", *SOURCE)  # one official each
    ok("build")
    assert rows(db, "select meeting_id, official, official_title from meeting_participants "
                    "order by official") == [
        {"meeting_id": meeting, "official": "A\\B, C", "official_title": "Special, Envoy"},
        {"meeting_id": meeting, "official": "Smith, Jo", "official_title": "Envoy"},
        {"meeting_id": plain, "official": "Smith, Jo", "official_title": "Envoy"}]
    shown = [line.removeprefix("  official: ") for line in ok("show", meeting).splitlines()
             if line.startswith("  official: ")]
    assert shown == ["USA:Smith\\, Jo:Envoy", "USA:A\\\\B\\, C:Special\\, Envoy"]
    before = log_bytes(events)
    again = run("amend", meeting, *[part for official in shown
                                    for part in ("--set", f"official={official}")],
                "--reason", "as shown")
    assert (again.exit_code, again.stderr) == (
        1, "Error: nothing to amend: official already as given\n")
    assert log_bytes(events) == before


@pytest.mark.parametrize(("date", "sets", "message"), [
    ("2020", ["date=2099"], "--set date=2099 is after today, and the meeting is held: a "
     "meeting to come is scheduled (add --set status=scheduled)"),
    ("2099", ["status=held"], "--set status=held for a meeting dated 2099, after today"),
    ("2099", ["status=held", "date=2098"], "--set status=held with --set date=2098, after "
     "today"),
])
def test_amend_of_a_meeting_held_to_a_date_to_come_names_the_set(
        events: Path, date: str, sets: list[str], message: str) -> None:
    """Refused as the amendment asked for it: not `--status held`, an option not given."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", date, *SOURCE)
    before = log_bytes(events)
    result = run("amend", meeting, *[part for one in sets for part in ("--set", one)],
                 "--reason", "misread")
    assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n")
    assert log_bytes(events) == before
