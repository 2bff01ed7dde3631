"""The commands of the public contract, end to end through the CLI."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.envelope import ULID_PATTERN
from tracker.model import EVENT_KINDS, EVENT_TYPES

from .conftest import PROJECT, SOURCE, log_bytes, ok, rows, run

# Every command of issue 2, with every option DESIGN.md lists for it.
CONTRACT = {
    ("add", "format"): ["--name", "--member", "--launched", "--source", "--publisher",
                        "--published", "--quote"],
    ("add", "meeting"): ["--title", "--date", "--status", "--format", "--level", "--mode",
                         "--city", "--country", "--participant", "--chair", "--official",
                         "--topic", "--summary", "--source", "--publisher", "--published",
                         "--quote"],
    ("add", "announcement"): ["--title", "--date", "--by", "--about", "--topic", "--summary",
                              "--source", "--publisher", "--published", "--quote"],
    ("add", "pledge"): ["--title", "--date", "--donor", "--recipient", "--amount", "--currency",
                        "--approximate", "--instrument", "--purpose", "--at", "--source",
                        "--publisher", "--published", "--quote"],
    ("update",): ["--status", "--date", "--amount", "--note", "--to", "--source",
                  "--publisher", "--published", "--quote"],
    ("cite",): ["--source", "--publisher", "--published", "--quote"],
    ("show",): ["--json"],
    ("log",): ["--type", "--subject", "--since", "--json"],
    ("amend",): ["--set", "--reason", "--source", "--publisher", "--published", "--quote"],
    ("retract",): ["--reason", "--source"],
    ("build",): ["--full", "--as-of", "--db"],
    ("serve",): ["--host", "--port", "--as-of"],
    ("verify",): ["--against", "--json"],
    ("import",): ["--dry-run"],
    ("export",): ["--format", "--type", "--as-of"],
    (): ["--events", "--db"],
    ("add",): [],
}

UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # a ULID no test records


@pytest.mark.parametrize("command", list(CONTRACT), ids=lambda c: " ".join(c) or "tracker")
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    help_text = ok(*command, "--help")
    assert "Example:" in help_text
    example = help_text.split("Example:", 1)[1].strip().splitlines()[0].strip()
    assert example.startswith("tracker " + " ".join(command[:2]).strip())
    for option in CONTRACT[command]:
        assert f"  {option} " in help_text or f"  {option}\n" in help_text, option
    options = [line.split()[0].rstrip(",") for line in help_text.splitlines()
               if line.startswith("  --")]
    for option in options:
        if option not in ("--help", "--version"):
            line = next(line for line in help_text.splitlines() if line.startswith(f"  {option}"))
            assert len(line.split(None, 2)) >= 2, f"{option} has no help text"


def test_the_help_names_values_as_the_readme_and_design_do() -> None:
    """`--events DIR` and `--city NAME` as README.md and DESIGN.md write them; `--about`
    takes an announcement too, as the README says."""
    assert re.search(r"^  --events DIR  Folder of the event log", ok("--help"), re.M)
    assert re.search(r"^  --city NAME  +Where", ok("add", "meeting", "--help"), re.M)
    about = re.search(r"^  --about ID +(.+?)\n  --", ok("add", "announcement", "--help"),
                      re.M | re.S)
    assert about and " ".join(about[1].split()) == (
        "A record it is about: meeting, pledge, announcement or format (repeat).")


def test_python_dash_m_tracker() -> None:
    result = subprocess.run([sys.executable, "-m", "tracker", "--help"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("Usage: tracker [OPTIONS] COMMAND [ARGS]...")


def test_add_meeting_reaches_every_table_after_build(
    japan_format: str, db: Path
) -> None:
    meeting = ok("add", "meeting", "--title", "9th Central Asia + Japan foreign ministers' meeting",
                 "--date", "2022-12", "--status", "held", "--format", japan_format,
                 "--level", "ministerial", "--mode", "in-person", "--city", "Tokyo",
                 "--country", "Japan", "--participant", "JP,KAZ", "--participant", "Kyrgyzstan",
                 "--chair", "JPN", "--official", "JPN:Yoshimasa Hayashi:Foreign Minister",
                 "--topic", "connectivity", "--summary", "Held in Tokyo.",
                 "--source", "https://example.org/a", "--publisher", "Example",
                 "--published", "2022-12-25", "--quote", "held in Tokyo in December 2022")
    assert ok("build") == f"Built {db} from 2 events"
    [row] = rows(db, "select * from meetings where id = ?", meeting)
    assert {key: row[key] for key in (
        "title", "date", "date_start", "date_end", "date_precision", "status", "format", "level",
        "mode", "city", "country", "latitude", "longitude", "geonameid", "chair", "participants",
        "topics", "summary")} == {
        "title": "9th Central Asia + Japan foreign ministers' meeting", "date": "2022-12",
        "date_start": "2022-12-01", "date_end": "2022-12-31", "date_precision": "month",
        "status": "held", "format": "central-asia-japan", "level": "ministerial",
        "mode": "in-person", "city": "Tokyo", "country": "JPN", "latitude": 35.6895,
        "longitude": 139.69171, "geonameid": 1850147, "chair": "JPN",
        "participants": '["JPN","KAZ","KGZ"]', "topics": '["connectivity"]',
        "summary": "Held in Tokyo.",
    }
    assert rows(db, "select actor, official, official_title from meeting_participants "
                "where meeting_id = ? order by rowid", meeting) == [
        {"actor": "JPN", "official": "Yoshimasa Hayashi", "official_title": "Foreign Minister"},
        {"actor": "KAZ", "official": None, "official_title": None},
        {"actor": "KGZ", "official": None, "official_title": None},
    ]
    assert rows(db, "select kind, url, citation, publisher, published, quote from sources "
                "where subject = ?", meeting) == [
        {"kind": "record", "url": "https://example.org/a", "citation": None,
         "publisher": "Example", "published": "2022-12-25",
         "quote": "held in Tokyo in December 2022"}]
    assert rows(db, "select kind, title, date_start, date_precision, status, format, actors "
                "from timeline where id = ?", meeting) == [
        {"kind": "meeting", "title": "9th Central Asia + Japan foreign ministers' meeting",
         "date_start": "2022-12-01", "date_precision": "month", "status": "held",
         "format": "central-asia-japan", "actors": '["JPN","KAZ","KGZ"]'}]
    assert rows(db, "select id from meetings where id in "
                "(select rowid_id from (select meetings.id as rowid_id from meetings_fts "
                "join meetings on meetings.rowid = meetings_fts.rowid "
                "where meetings_fts match 'tokyo'))") == [{"id": meeting}]


def test_city_alternate_name_resolves_to_the_same_place(db: Path) -> None:
    first = ok("add", "meeting", "--title", "A", "--date", "2019", "--city", "Nur-Sultan",
               "--country", "KZ", *SOURCE)
    second = ok("add", "meeting", "--title", "B", "--date", "2024", "--city", "Astana",
                "--country", "KAZ", *SOURCE)
    ok("build")
    found = rows(db, "select id, city, city_as_given, latitude, longitude, geonameid "
                 "from meetings order by title")
    assert found == [
        {"id": first, "city": "Astana", "city_as_given": "Nur-Sultan", "latitude": 51.1801,
         "longitude": 71.44598, "geonameid": 1526273},
        {"id": second, "city": "Astana", "city_as_given": None, "latitude": 51.1801,
         "longitude": 71.44598, "geonameid": 1526273},
    ]


def test_default_meeting_status_follows_the_date(db: Path) -> None:
    past = ok("add", "meeting", "--title", "Past", "--date", "2001-02-03", *SOURCE)
    future = ok("add", "meeting", "--title", "Future", "--date", "2999", *SOURCE)
    ok("build")
    assert rows(db, "select id, status from meetings order by title") == [
        {"id": future, "status": "scheduled"}, {"id": past, "status": "held"}]
    assert rows(db, "select id, date_passed from upcoming_meetings") == [
        {"id": future, "date_passed": 0}]


def test_pledge_announcement_update_and_cite(japan_format: str, db: Path) -> None:
    meeting = ok("add", "meeting", "--title", "Video conference", "--date", "2020",
                 "--format", japan_format, "--mode", "virtual", *SOURCE)
    pledge = ok("add", "pledge", "--title", "Grant aid", "--date", "2020", "--donor", "Japan",
                "--recipient", "KAZ,KGZ", "--amount", "2,000,000,000", "--currency", "jpy",
                "--approximate", "--instrument", "grant", "--purpose", "medical equipment",
                "--at", meeting, *SOURCE)
    announcement = ok("add", "announcement", "--title", "Japan welcomes", "--date", "2020-08",
                      "--by", "JPN", "--about", meeting, "--about", japan_format,
                      "--topic", "health", *SOURCE)
    update = ok("update", pledge, "--status", "disbursed", "--amount", "500000000.50",
                "--date", "2021-03", "--note", "first tranche", *SOURCE)
    cite = ok("cite", announcement, "--source", "Statement of the MFA", "--quote", "welcomes")
    ok("build")
    [row] = rows(db, "select donor, recipients, amount, typeof(amount) as amount_type, "
                 "amount_text, currency, approximate, instrument, purpose, meeting_id, status, "
                 "disbursed_amount, disbursed_amount_text from pledges")
    assert row == {"donor": "JPN", "recipients": '["KAZ","KGZ"]', "amount": 2000000000,
                   "amount_type": "integer", "amount_text": "2000000000", "currency": "JPY",
                   "approximate": 1, "instrument": "grant", "purpose": "medical equipment",
                   "meeting_id": meeting, "status": "disbursed",
                   "disbursed_amount": 500000000.5, "disbursed_amount_text": "500000000.5"}
    assert rows(db, "select actor from pledge_recipients order by actor") == [
        {"actor": "KAZ"}, {"actor": "KGZ"}]
    assert rows(db, "select subject, kind, status, previous_status, date, date_start, "
                "amount_text, note, event_id from status_changes") == [
        {"subject": pledge, "kind": "pledge", "status": "disbursed",
         "previous_status": "pledged", "date": "2021-03", "date_start": "2021-03-01",
         "amount_text": "500000000.5", "note": "first tranche", "event_id": update}]
    assert rows(db, "select subject from announcement_about order by subject") == sorted(
        [{"subject": meeting}, {"subject": japan_format}], key=lambda r: r["subject"])
    assert rows(db, "select kind, citation, quote from sources where event_id = ?", cite) == [
        {"kind": "citation", "citation": "Statement of the MFA", "quote": "welcomes"}]
    assert rows(db, "select id, outstanding_amount from pledges_outstanding") == [
        {"id": pledge, "outstanding_amount": 1499999999.5}]
    assert rows(db, "select kind, format, actors from timeline where id = ?", pledge) == [
        {"kind": "pledge", "format": "central-asia-japan", "actors": '["KAZ","KGZ","JPN"]'}]
    [japan] = rows(db, "select * from actor_activity where actor = 'JPN'")
    assert (japan["announcements"], japan["pledges_made"], japan["formats"]) == (1, 1, 1)
    assert [r["kind"] for r in rows(db, "select kind from format_history")] == [
        "launch", "meeting", "pledge"]


def test_an_actor_with_no_dated_development_has_no_first_or_last_date(db: Path) -> None:
    """A format's member that took part in nothing dated: both dates null (the last was
    an empty text, unlike the first, so `last_date__isnull` missed it)."""
    ok("add", "format", "central-asia-korea", "--name", "Central Asia + Korea",
       "--member", "KOR", "--member", "KAZ", *SOURCE)
    ok("add", "announcement", "--title", "Kazakhstan speaks", "--date", "2024-05", "--by", "KAZ",
       *SOURCE)
    ok("build")
    assert rows(db, "select actor, formats, first_date, last_date from actor_activity "
                "order by actor") == [
        {"actor": "KAZ", "formats": 1, "first_date": "2024-05-01", "last_date": "2024-05-01"},
        {"actor": "KOR", "formats": 1, "first_date": None, "last_date": None}]


def test_update_meeting_status(db: Path) -> None:
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2999-08",
                 "--status", "scheduled", *SOURCE)
    ok("update", meeting, "--status", "postponed", "--date", "2025-07-30", *SOURCE)
    ok("build")
    assert rows(db, "select status from meetings") == [{"status": "postponed"}]
    assert rows(db, "select count(*) as n from upcoming_meetings") == [{"n": 0}]


def test_writing_commands_print_json_with_json(events: Path) -> None:
    output = ok("add", "meeting", "--title", "T", "--date", "2020", "--json", *SOURCE)
    event = json.loads(output)
    assert event["type"] == "meeting.recorded"
    assert event["subject"] == event["id"]
    assert event["seq"] == 1
    assert event["recorded_by"] == "tester"
    assert event["data"]["source"] == {"url": "https://example.org/report", "quote": "a quote"}
    line = (next(events.glob("*/*.jsonl"))).read_text()
    assert json.loads(line) == event


def test_idempotent_retry_with_id(events: Path) -> None:
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"
    args = ("add", "meeting", "--title", "T", "--date", "2020", "--id", event_id, *SOURCE)
    assert ok(*args) == event_id
    before = log_bytes(events)
    result = run(*args)
    assert (result.exit_code, result.stdout) == (0, f"{event_id}\n")
    assert result.stderr == f"Already recorded: {event_id} (nothing appended)\n"
    assert log_bytes(events) == before
    other = run("add", "meeting", "--title", "Other", "--date", "2020", "--id", event_id,
                *SOURCE)
    assert (other.exit_code, other.stderr) == (
        1, f"Error: id {event_id} is already used by another event\n")
    assert log_bytes(events) == before


def test_a_retry_of_amend_retract_update_or_cite_appends_nothing(events: Path) -> None:
    """A retry is checked against the record as it stood before the event of its --id:
    an amendment's retry found its change made, and a retraction's the record retracted
    (both were refused). The same id with other content is still refused."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2020", "--status", "held",
                 *SOURCE)
    ids = [f"01J3Z8Q6M0S7WQ4N6V7R2K9B{n}C" for n in range(4)]
    first = [("amend", meeting, "--set", "title=Talks in Astana", "--set", "status=cancelled",
              "--reason", "misread", "--id", ids[0]),
             ("update", meeting, "--status", "held", "--date", "2020", *SOURCE, "--id", ids[1]),
             ("cite", meeting, "--source", "A report", "--id", ids[2])]
    for args in first:
        assert ok(*args) == args[-1]
    ok("amend", meeting, "--set", "title=Talks in Almaty", "--reason", "misread again")
    retract = ("retract", meeting, "--reason", "recorded twice", "--id", ids[3])
    assert ok(*retract) == ids[3]
    before = log_bytes(events)
    for args, said in [*((args, f"; {meeting} is retracted") for args in first), (retract, "")]:
        result = run(*args)
        assert (result.exit_code, result.stdout, result.stderr) == (
            0, f"{args[-1]}\n", f"Already recorded: {args[-1]} (nothing appended{said})\n"), args
    for args in [("amend", meeting, "--set", "title=Talks in Bishkek", "--reason", "misread",
                  "--id", ids[0]),
                 ("retract", meeting, "--reason", "another reason", "--id", ids[3])]:
        assert run(*args).stderr == f"Error: id {args[-1]} is already used by another event\n"
    assert log_bytes(events) == before


def test_the_readme_recipe_for_an_id_gives_one_to_retry_with(events: Path,
                                                             japan_format: str) -> None:
    """The README's line that makes an id for `--id` runs, and its id retries safely."""
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("### `--id` (idempotent retries)", 1)[1].split("\n#", 1)[0]
    recipe = re.search(r"^ID=\$\((.+)\)$", section, re.MULTILINE)
    assert recipe, section
    command = recipe[1].replace(".venv/bin/python", shlex.quote(sys.executable), 1)
    made = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert ULID_PATTERN.fullmatch(made), made
    args = ("cite", japan_format, "--id", made, "--source", "https://example.org/report")
    assert ok(*args) == made
    before = log_bytes(events)
    assert run(*args).stderr == f"Already recorded: {made} (nothing appended)\n"
    assert log_bytes(events) == before


def test_show_prints_state_and_history(db: Path) -> None:
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2999-08",
                 "--status", "scheduled", "--city", "Astana", "--country", "KAZ", *SOURCE)
    update = ok("update", meeting, "--status", "postponed", "--note", "earthquake warning",
                "--source", "Report of the MFA")
    text = ok("show", meeting)
    lines = text.splitlines()
    assert lines[0] == f"meeting {meeting}"
    assert "  status: postponed" in lines
    assert "  date: 2999-08" in lines
    assert "  city: Astana" in lines
    assert "    status: scheduled -> postponed" in lines
    assert "    note: earthquake warning" in lines
    assert "    source: Report of the MFA" in lines
    assert any(line.endswith(f"meeting.status_changed  {update}") for line in lines)
    shown = json.loads(ok("show", meeting, "--json"))
    assert shown["kind"] == "meeting"
    assert shown["state"]["status"] == "postponed"
    assert [event["type"] for event in shown["history"]] == [
        "meeting.recorded", "meeting.status_changed"]
    assert not db.exists()  # show reads the log, not the database


def test_show_gives_a_flag_as_given(events: Path) -> None:
    """`--approximate` shows as `approximate: yes`, and not at all when not given (the
    JSON keeps the column's 1 or 0)."""
    def pledge(*flag: str) -> str:
        return ok("add", "pledge", "--title", "Grant", "--date", "2020", "--donor", "JPN",
                  "--recipient", "KAZ", "--amount", "5", "--currency", "JPY", *flag, *SOURCE)

    approximate, exact = pledge("--approximate"), pledge()
    assert "  approximate: yes" in ok("show", approximate).splitlines()
    assert "approximate" not in ok("show", exact)
    assert json.loads(ok("show", approximate, "--json"))["state"]["approximate"] == 1


def test_show_gives_the_date_and_note_of_a_status_update(events: Path) -> None:
    """When a status changed and why (`update --date --note`) are shown, in the text
    history and under their own keys in --json (the note also stays under "reason")."""
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2024-08", "--status",
                 "scheduled", "--source", "Announcement")
    held = ok("update", meeting, "--status", "held", "--date", "2024-08", "--note",
              "held in Astana", "--source", "Report")
    cancelled = ok("update", meeting, "--status", "cancelled", "--source", "Correction")
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2020", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "1000", "--currency", "JPY",
                "--source", "Budget")
    disbursed = ok("update", pledge, "--status", "disbursed", "--amount", "400", "--date",
                   "2021-03-05", "--source", "Budget report")
    history = ok("show", meeting).partition("history:\n")[2].splitlines()
    assert [line for line in history if not line.startswith("  2")] == [
        "    recorded: Summit", "    source: Announcement",
        "    status: scheduled -> held", "    date: 2024-08", "    note: held in Astana",
        "    source: Report",
        "    status: held -> cancelled", "    source: Correction",
    ]
    history = ok("show", pledge).partition("history:\n")[2].splitlines()
    assert [line for line in history if not line.startswith("  2")] == [
        "    recorded: Grant", "    source: Budget",
        "    status: pledged -> disbursed", "    disbursed_amount: (none) -> 400",
        "    date: 2021-03-05", "    source: Budget report",
    ]
    shown = json.loads(ok("show", meeting, "--json"))["history"]
    assert [(event["id"], event["status_date"], event["status_note"], event["reason"])
            for event in shown] == [
        (meeting, None, None, None), (held, "2024-08", "held in Astana", "held in Astana"),
        (cancelled, None, None, None)]
    assert set(shown[1]) == {"id", "type", "recorded_at", "recorded_by", "changes",
                             "reason", "source", "data", "status_date", "status_note",
                             "after_retraction", "recorded_again"}
    shown = json.loads(ok("show", pledge, "--json"))["history"]
    assert [(event["id"], event["status_date"], event["status_note"])
            for event in shown] == [(pledge, None, None), (disbursed, "2021-03-05", None)]


def test_log_cuts_a_long_label_with_an_ellipsis() -> None:
    long = "Foreign ministers met to prepare the summit and the 30th anniversary of diplomatic ties"
    exact = "x" * 80
    for title in (long, exact):
        ok("add", "meeting", "--title", title, "--date", "2020", *SOURCE)
    labels = [line.split("  ", 4)[4] for line in ok("log").splitlines()]
    assert labels == [
        "Foreign ministers met to prepare the summit and the 30th anniversary of diploma…",
        exact]
    assert len(labels[0]) == 80


@pytest.mark.parametrize(("title", "label"), [
    pytest.param("a" * 78 + "e\u0301xyz", "a" * 78 + "e\u0301…", id="accent-kept-whole"),
    pytest.param("a" * 78 + "\U0001F1EF\U0001F1F5xyz", "a" * 78 + "…", id="no-half-flag"),
    pytest.param("a" * 77 + "\U0001F1EF\U0001F1F5xyz", "a" * 77 + "\U0001F1EF\U0001F1F5…",
                 id="a-whole-flag"),
    pytest.param("日本" * 50, "日本" * 19 + "日…", id="wide-characters-two-columns"),
    pytest.param("a" * 76 + "\U0001F469\u200d\U0001F52Cxyz", "a" * 76 + "…",
                 id="no-half-emoji-sequence"),
])
def test_log_cuts_a_label_between_characters_as_they_show(title: str, label: str) -> None:
    """In terminal columns (a CJK character takes two), never within a letter and its
    accent, a flag's two letters or an emoji joined by a zero-width joiner."""
    ok("add", "meeting", "--title", title, "--date", "2020", *SOURCE)
    assert ok("log").split("  ", 4)[4] == label


def test_show_unknown_id() -> None:
    result = run("show", "01J3Z8Q6M0S7WQ4N6V7R2K9B1C")
    assert (result.exit_code, result.stderr) == (
        1, "Error: unknown id '01J3Z8Q6M0S7WQ4N6V7R2K9B1C'\n")


def test_log_filters_and_json(japan_format: str) -> None:
    meeting = ok("add", "meeting", "--title", "T", "--date", "2020", "--format", japan_format,
                 *SOURCE)
    ok("cite", meeting, "--source", "Another report")
    all_lines = ok("log").splitlines()
    assert [line.split("  ")[2] for line in all_lines] == [
        "format.recorded", "meeting.recorded", "source.added"]
    assert len(ok("log", "--type", "meeting").splitlines()) == 1
    assert len(ok("log", "--type", "source.added").splitlines()) == 1
    assert len(ok("log", "--subject", meeting).splitlines()) == 2
    assert ok("log", "--since", "2999-01-01") == ""
    # --since a date (its start, UTC) or a time: the events recorded from then on
    times = [event["recorded_at"] for event in json.loads(ok("log", "--json"))]
    assert ok("log", "--since", times[1]).splitlines() == all_lines[1:]
    assert ok("log", "--since", times[1][:10] + " " + times[1][11:]).splitlines() == all_lines[
        1:]  # a space for the T, as ISO 8601 allows
    assert ok("log", "--since", times[1][:19] + "+00:00").splitlines() == all_lines[
        sum(time[:19] < times[1][:19] for time in times):]
    assert ok("log", "--since", times[0][:10]).splitlines() == all_lines
    assert ok("log", "--since", times[0][:7]).splitlines() == all_lines
    assert ok("log", "--since", "0999-12-31T00:00:00Z").splitlines() == all_lines  # not 999-
    for bad in ("2026-11-22/2026-11-23", "nope"):
        result = run("log", "--since", bad)
        assert (result.exit_code, result.stderr) == (1, (
            f"Error: invalid --since '{bad}': use a date (YYYY, YYYY-MM or YYYY-MM-DD) or a "
            "time (YYYY-MM-DDTHH:MM:SSZ)\n"))
    result = run("log", "--since", "2026-11-22T99:00")
    assert (result.exit_code, result.stderr) == (
        1, "Error: invalid --since '2026-11-22T99:00': no hour 99\n")
    events = json.loads(ok("log", "--json", "--subject", meeting))
    assert [event["type"] for event in events] == ["meeting.recorded", "source.added"]
    # a subject nothing is about: a typo, said so (a record with nothing since: empty)
    for args in (["--subject", UNKNOWN], ["--subject", UNKNOWN, "--json"]):
        result = run("log", *args)
        assert (result.exit_code, result.stdout, result.stderr) == (
            1, "", f"Error: unknown id '{UNKNOWN}' in --subject\n")
    assert ok("log", "--subject", meeting, "--since", "2999") == ""
    assert ok("log", "--subject", meeting, "--since", "2999", "--json") == "[]"
    assert json.loads(ok("log", "--json", "--type", "pledge")) == []


def test_log_type_takes_every_kind_and_type_and_refuses_others(japan_format: str) -> None:
    """--type is a kind (what comes before the dot, `source` and `record` included) or a
    whole type; anything else is refused with the list, not answered with nothing."""
    meeting = ok("add", "meeting", "--title", "T", "--date", "2020", *SOURCE)
    ok("cite", meeting, "--source", "Another report")
    ok("amend", meeting, "--set", "title=U", "--reason", "a typo")

    def types(kind: str) -> list[str]:
        return [line.split("  ")[2] for line in ok("log", "--type", kind).splitlines()]

    assert types("source") == ["source.added"]
    assert types("record") == types("record.amended") == ["record.amended"]
    assert types("format") == types("format.recorded") == ["format.recorded"]
    for value in (*EVENT_KINDS, *EVENT_TYPES):
        assert run("log", "--type", value).exit_code == 0, value
    result = run("log", "--type", "foo")
    choices = ", ".join(repr(value) for value in (*EVENT_KINDS, *EVENT_TYPES))
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: Invalid value for '--type': 'foo' is not one of {choices}.\n")
    assert choices.startswith("'format', 'meeting', 'announcement', 'pledge', 'source', "
                              "'record', 'format.recorded'")


@pytest.mark.parametrize("command", [("export",), ("export", "--format", "csv"), ("log",),
                                     ("log", "--json"), ("--help",), ("--version",),
                                     ("log", "--help")], ids=" ".join)
def test_output_nobody_reads_ends_quietly(bundled: Path, command: tuple[str, ...]) -> None:
    """With stdout closed (`>&-`) or a reader gone before the first line (`| head -0`):
    no traceback, no message, exit 0."""
    closed = subprocess.run(["sh", "-c", '"$0" -m tracker "$@" >&-', sys.executable, *command],
                            stderr=subprocess.PIPE)
    assert (closed.returncode, closed.stderr) == (0, b"")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        gone = subprocess.run([sys.executable, "-m", "tracker", *command], stdout=write_end,
                              stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert (gone.returncode, gone.stderr) == (0, b"")


@pytest.mark.parametrize("command", [("--help",), ("--version",), ("log", "--help"),
                                     ("log",)], ids=" ".join)
def test_output_that_cannot_be_written_is_one_line(bundled: Path,
                                                   command: tuple[str, ...]) -> None:
    """A full disk (`/dev/full`): the system's error in one line, exit 1."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "tracker", *command], stdout=full,
                                stderr=subprocess.PIPE)
    assert (result.returncode, result.stderr) == (1, b"Error: No space left on device\n")


@pytest.mark.parametrize("group", [(), ("add",)], ids=lambda group: " ".join(group) or "-")
def test_a_group_without_a_command_shows_its_help(group: tuple[str, ...]) -> None:
    """`tracker` or `tracker add` alone: the help laid out as `--help` lays it out, on
    stderr, exit 1 (not the help flattened into one error line)."""
    result = run(*group)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", ok(*group, "--help") + "\n")
    assert result.stderr.startswith(f"Usage: tracker {' '.join((*group, ''))}[OPTIONS] "
                                    "COMMAND [ARGS]...\n\n")


def test_build_db_option_writes_elsewhere(tracker_env: Path) -> None:
    ok("add", "meeting", "--title", "T", "--date", "2020", *SOURCE)
    target = tracker_env / "other" / "snapshot.db"
    assert ok("build", "--db", target) == f"Built {target} from 1 event"
    assert rows(target, "select count(*) as n from meetings") == [{"n": 1}]
    assert not (tracker_env / "tracker.db").exists()


def test_global_options_override_environment(tmp_path: Path) -> None:
    events, db = tmp_path / "elsewhere", tmp_path / "elsewhere.db"
    ok("--events", events, "--db", db, "add", "meeting", "--title", "T", "--date", "2020",
       *SOURCE)
    ok("--events", events, "--db", db, "build")
    assert rows(db, "select title from meetings") == [{"title": "T"}]
    assert list(events.glob("*/*.jsonl"))


def test_writer_id_is_per_log_and_kept_out_of_git(events: Path) -> None:
    ok("add", "meeting", "--title", "T", "--date", "2020", *SOURCE)
    writer = (events / ".writer").read_text().strip()
    assert [path.parent.name for path in events.glob("*/*.jsonl")] == [writer]
    assert (events / ".gitignore").read_text().splitlines() == [
        ".lock", ".writer", ".quarantine/", ".cache/"]


def test_version() -> None:
    assert ok("--version").startswith("tracker, version ")


@pytest.mark.parametrize(("args", "message"), [
    (("add", "announcement", "--title", "Joint declaration", "--date", "2026-09-17",
      "--by", "KOR", "--by", "KAZ", "--source", "x"),
     "--by given twice, as 'KOR', then 'KAZ': give --by one value"),
    (("add", "pledge", "--title", "Aid", "--date", "2025", "--donor", "KOR", "--donor", "EU",
      "--recipient", "KAZ", "--amount", "100", "--amount", "200", "--currency", "USD",
      "--source", "x"),
     "--donor given twice, as 'KOR', then 'EU': give --donor one value"),
    (("add", "meeting", "--title", "Talks", "--date", "2025", "--city", "Seoul", "--country",
      "KOR", "--city", "Tashkent", "--country", "UZB", "--source", "x"),
     "--city given twice, as 'Seoul', then 'Tashkent': give --city one value"),
    (("add", "meeting", "--title", "Talks", "--date", "2025", "--title=Talks",
      "--title", "Other talks", "--source", "x"),
     "--title given 3 times, as 'Talks', then 'Other talks': give --title one value"),
    (("--events", "{tmp}/a", "--events", "{tmp}/b", "log"),
     "--events given twice, as '{tmp}/a', then '{tmp}/b': give --events one value"),
    (("--db", "{tmp}/a.db", "--db", "{tmp}/b.db", "build"),
     "--db given twice, as '{tmp}/a.db', then '{tmp}/b.db': give --db one value"),
    (("update", "{meeting}", "--status", "held", "--status", "cancelled", "--source", "x"),
     "--status given twice, as 'held', then 'cancelled': give --status one value"),
    (("amend", "{meeting}", "--set", "title=T", "--reason", "a", "--reason", "b"),
     "--reason given twice, as 'a', then 'b': give --reason one value"),
    (("cite", "{meeting}", "--source", "x", "--publisher", "A", "--publisher", "B"),
     "--publisher given twice, as 'A', then 'B': give --publisher one value"),
    (("build", "--as-of", "2025-01-01", "--as-of", "2025-02-01"),
     "--as-of given twice, as '2025-01-01', then '2025-02-01': give --as-of one value"),
])
def test_a_one_value_option_given_twice_with_other_values_is_refused(
        tmp_path: Path, events: Path, args: tuple[str, ...], message: str) -> None:
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2025", *SOURCE)
    before = log_bytes(events)
    result = run(*(arg.format(meeting=meeting, tmp=tmp_path) for arg in args))
    message = message.format(tmp=tmp_path)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")
    assert log_bytes(events) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["events"]


def test_the_same_value_twice_and_repeatable_options_are_accepted(db: Path) -> None:
    meeting = ok("add", "meeting", "--title", "Talks", "--title", "Talks", "--date", "2025",
                 "--participant", "KOR", "--participant", "KAZ", "--topic", "trade",
                 "--topic", "energy", *SOURCE)
    ok("--events", os.environ["TRACKER_EVENTS"], "--events", os.environ["TRACKER_EVENTS"],
       "build", "--full", "--full")
    assert rows(db, "select title from meetings where id = ?", meeting) == [{"title": "Talks"}]
    assert rows(db, "select actor from meeting_participants where meeting_id = ? "
                "order by actor", meeting) == [{"actor": "KAZ"}, {"actor": "KOR"}]


def test_log_labels_an_update_with_what_it_gives() -> None:
    """A status, with a revision's amount, the amount disbursed so far, or the new date."""
    meeting = ok("add", "meeting", "--title", "T", "--date", "2024-05", *SOURCE)
    pledge = ok("add", "pledge", "--title", "P", "--date", "2024", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "100", "--currency", "USD", *SOURCE)
    for args in (("--status", "postponed", "--to", "2024-09"),
                 ("--status", "held", "--to", "2024-06-02")):
        ok("update", meeting, *args, *SOURCE)
    for args in (("--status", "disbursed", "--amount", "30"),
                 ("--status", "pledged", "--amount", "200"), ("--status", "withdrawn")):
        ok("update", pledge, *args, *SOURCE)
    labels = [line.split("  ", 4)[4] for line in ok("log", "--type", "meeting").splitlines()]
    assert labels[1:] == ["postponed to 2024-09", "held on 2024-06-02"]
    labels = [line.split("  ", 4)[4] for line in ok("log", "--type", "pledge").splitlines()]
    assert labels[1:] == ["disbursed: 30 so far", "revised: amount 200", "withdrawn"]
