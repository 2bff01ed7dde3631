"""`tracker export`: current records with their sources, re-importable without loss."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import pytest

from tracker import model
from tracker.dates import parse_date
from tracker.rowformat import all_columns

from .conftest import BUNDLED_EVENTS, SOURCE, log_bytes, ok, rows, run

# The tables an export must reproduce, and the columns that say when something was
# recorded in *this* log (left out of the comparison: an import records anew).
TABLES = ("meetings", "pledges", "announcements", "formats", "sources", "status_changes",
          "meeting_participants", "pledge_recipients", "format_members", "announcement_about")
RECORDING_TIMES = ("recorded_at", "updated_at")


def contents(db: Path, amendment_sources_as_citations: bool = False) -> dict[str, list]:
    """Every row of the compared tables, without `recorded_at` and `updated_at`, sorted;
    and without the `rowid` of a table with no key of its own (the row's number).

    An export writes the source of an amendment as a citation (the amendment itself is
    in the exported values): with `amendment_sources_as_citations`, so does this.
    """
    result = {}
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        for table in TABLES:
            names = [row[1] for row in conn.execute(f"pragma table_info({table})")
                     if row[1] not in (*RECORDING_TIMES, "rowid")]
            found = [dict(row) for row in
                     conn.execute(f"select {', '.join(names)} from {table}")]
            if table == "sources" and amendment_sources_as_citations:
                for row in found:
                    if row["kind"] == "amendment":
                        row["kind"] = "citation"
            result[table] = sorted(found, key=repr)
    return result


@pytest.fixture
def rich_log(tracker_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled log plus every kind of event and field, from two writers."""
    shutil.copytree(BUNDLED_EVENTS, tracker_env / "events",
                    ignore=shutil.ignore_patterns(".lock", ".writer"))
    monkeypatch.setenv("TRACKER_WRITER", "alice")
    ok("add", "format", "central-asia-gulf", "--name", "Central Asia + GCC",
       "--member", "GCC,KAZ,KGZ,TJK,TKM,UZB", *SOURCE)
    meeting = ok("add", "meeting", "--title", "Summit; with a semicolon", "--date",
                 "2023-07-19", "--format", "central-asia-gulf", "--level", "summit",
                 "--mode", "hybrid", "--city", "Jeddah", "--country", "SAU",
                 "--participant", "KAZ", "--chair", "SAU",
                 "--official", "UZB:Shavkat Mirziyoyev:President: of Uzbekistan",
                 "--official", "KAZ:Kassym-Jomart Tokayev", "--topic", "trade; transit",
                 "--topic", "energy", "--summary", "Two lines.\nSecond line.",
                 "--source", "https://example.org/jeddah", "--publisher", "Example",
                 "--published", "2023-07-20", "--quote", "met in \"Jeddah\"")
    monkeypatch.setenv("TRACKER_WRITER", "bob")
    # A pledge revised (raised): its row has the amount first pledged, its update the new.
    raised = ok("add", "pledge", "--title", "Grant raised", "--date", "2023-05", "--donor",
                "JPN", "--recipient", "TJK", "--amount", "100", "--currency", "JPY", *SOURCE)
    ok("update", raised, "--status", "pledged", "--amount", "250.5", "--date", "2024-02",
       "--note", "raised", *SOURCE)
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2023-07", "--donor", "SAU",
                "--recipient", "KAZ,UZB", "--amount", "1,500,000.50", "--currency", "USD",
                "--approximate", "--instrument", "loan", "--purpose", "roads", "--at", meeting,
                *SOURCE)
    ok("update", pledge, "--status", "disbursed", "--amount", "10.5", "--date", "2024",
       "--note", "first", *SOURCE)
    ok("cite", pledge, "--source", "A second report", "--quote", "a loan")
    ok("update", pledge, "--status", "disbursed", "--amount", "20", *SOURCE)
    first = ok("add", "announcement", "--title", "GCC welcomes the summit", "--date",
               "2023-07-20", "--by", "GCC", "--about", meeting, "--about", pledge, *SOURCE)
    ok("add", "announcement", "--title", "Kazakhstan agrees", "--date", "2023-07-21",
       "--by", "KAZ", "--about", first, "--about", "central-asia-gulf", "--topic", "x",
       *SOURCE)
    ok("update", meeting, "--status", "postponed", *SOURCE)
    ok("update", meeting, "--status", "held", "--date", "2023-07-19", *SOURCE)
    summit = ok("add", "meeting", "--title", "Summit to come", "--date", "2999",
                "--country", "KAZ", *SOURCE)
    ok("update", summit, "--status", "postponed", "--to", "3000-05", *SOURCE)
    ok("update", summit, "--status", "cancelled", "--note", "called off", *SOURCE)
    ok("amend", meeting, "--set", "date=2023-07-20", "--set", "participant=KAZ,SAU,TJK",
       "--reason", "the date was misread", "--source", "https://example.org/correction",
       "--quote", "on 20 July")
    ok("amend", pledge, "--set", "amount=1600000", "--reason", "a typo")
    wrong = ok("add", "meeting", "--title", "No such meeting", "--date", "2001", *SOURCE)
    ok("cite", wrong, "--source", "A report")
    ok("retract", wrong, "--reason", "a misread report")
    # Held, then moved to a date to come: its row is held at the date it was held.
    held = ok("add", "meeting", "--title", "Held, then moved", "--date", "2022-12",
              "--status", "held", *SOURCE)
    ok("update", held, "--status", "postponed", "--to", "2999-03", *SOURCE)
    # A retracted record with updates leaves status_changes, as it leaves sources.
    gone = ok("add", "pledge", "--title", "Gone", "--date", "2020", "--donor", "JPN",
              "--recipient", "KAZ", "--amount", "100", "--currency", "JPY", *SOURCE)
    ok("update", gone, "--status", "disbursed", "--amount", "7", *SOURCE)
    ok("retract", gone, "--reason", "recorded twice")
    return tracker_env / "events"


def export(*args: str, where: tuple = ()) -> str:
    """The exact output of `tracker [where] export [args]` (line ends as written)."""
    result = run(*where, "export", *args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout_bytes.decode()


def test_jsonl_export_reimports_into_an_empty_log_with_identical_tables(
    rich_log: Path, tmp_path: Path, db: Path
) -> None:
    """Identical means: every column of every record, source and status change table,
    ids and event ids included, except `recorded_at` and `updated_at`, which say when the
    row was recorded in the log that holds it (for an import: the time of the import).
    The source of an amendment comes back as a citation (kind `citation`)."""
    exported = export()
    path = tmp_path / "export.jsonl"
    path.write_text(exported)
    copy, copy_db = tmp_path / "copy" / "events", tmp_path / "copy" / "tracker.db"
    result = run("--events", copy, "--db", copy_db, "import", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Imported {path}: appended 66 events (9 formats, ")
    assert ok("--events", copy, "verify") == "OK: 66 events in 1 file"
    ok("build")
    ok("--events", copy, "--db", copy_db, "build")
    original, imported = contents(db, amendment_sources_as_citations=True), contents(copy_db)
    assert "amendment" in {row["kind"] for row in contents(db)["sources"]}
    assert all(original[table] for table in TABLES)
    for table in TABLES:
        assert imported[table] == original[table], table
    # recorded_at is the time of the import, after every original event.
    last = rows(db, "select max(recorded_at) as at from events")[0]["at"]
    assert rows(copy_db, "select min(recorded_at) as at from events")[0]["at"] > last
    # The copy exports exactly the same text.
    assert export(where=("--events", copy, "--db", copy_db)) == exported



def test_csv_export_reimports_with_identical_tables_too(
    rich_log: Path, tmp_path: Path, db: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(export("--format", "csv"))
    copy, copy_db = tmp_path / "copy" / "events", tmp_path / "copy" / "tracker.db"
    ok("--events", copy, "--db", copy_db, "import", path)
    ok("build")
    ok("--events", copy, "--db", copy_db, "build")
    assert contents(copy_db) == contents(db, amendment_sources_as_citations=True)


def test_an_export_imported_into_its_own_log_adds_nothing(
    rich_log: Path, tmp_path: Path
) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(export())
    before = log_bytes(rich_log)
    assert ok("import", path) == (f"Imported {path}: nothing new to append; 66 rows already "
                                  "in the log")
    assert log_bytes(rich_log) == before


def test_rows_carry_ids_sources_and_what_reproduces_the_current_state(rich_log: Path) -> None:
    everything = [json.loads(line) for line in export("--type", "pledge").splitlines()]
    start = next(index for index, line in enumerate(everything) if line.get("title") == "Loan")
    lines = everything[start:]
    assert [line["kind"] for line in lines] == ["pledge", "update", "citation", "update"]
    loan = lines[0]
    assert {key: value for key, value in loan.items() if key not in ("id", "at")} == {
        "kind": "pledge", "title": "Loan", "date": "2023-07", "donor": "SAU",
        "recipient": ["KAZ", "UZB"], "amount": "1600000", "currency": "USD",
        "approximate": True, "instrument": "loan", "purpose": "roads",
        "source": "https://example.org/report", "quote": "a quote"}
    assert {key: lines[1][key] for key in ("subject", "status", "date", "amount", "note")} == {
        "subject": loan["id"], "status": "disbursed", "date": "2024", "amount": "10.5",
        "note": "first"}
    assert lines[2] == {"kind": "citation", "id": lines[2]["id"], "subject": loan["id"],
                        "source": "A second report", "quote": "a loan"}
    raised = everything[start - 2:start]
    assert [(line.get("status"), line["amount"], line.get("note")) for line in raised] == [
        (None, "100", None), ("pledged", "250.5", "raised")]  # as pledged, then revised
    meetings = [json.loads(line) for line in export("--type", "meeting").splitlines()]
    jeddah = next(line for line in meetings if line.get("city") == "Jeddah")
    assert jeddah["status"] == "held"  # as recorded; the updates follow it
    assert jeddah["official"] == ["UZB:Shavkat Mirziyoyev:President: of Uzbekistan",
                                  "KAZ:Kassym-Jomart Tokayev"]
    assert [line["status"] for line in meetings
            if line["kind"] == "update" and line["subject"] == jeddah["id"]] == [
        "postponed", "held"]
    # Amended values, the amendment's source as a citation; retracted records are left out.
    assert jeddah["date"] == "2023-07-20"
    assert [line["source"] for line in meetings if line["kind"] == "citation"
            and line["subject"] == jeddah["id"]] == ["https://example.org/correction"]
    assert "No such meeting" not in export()
    assert "A report" not in export()
    # A city is exported as it was given (import places it again: Astana, city_as_given).
    assert [line["title"] for line in meetings if line.get("city") == "Nur-Sultan"] == [
        "1st Central Asia + Japan foreign ministers' meeting"]


def test_an_export_as_of_a_moment_gives_the_records_as_they_stood(events: Path,
                                                                 db: Path) -> None:
    """Built into a temporary database: the project's own is left as it is."""
    meeting = json.loads(ok("add", "meeting", "--title", "Talks", "--date", "2024",
                            "--json", *SOURCE))
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2024", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "5", "--currency", "JPY", *SOURCE)
    ok("amend", meeting["id"], "--set", "title=Summit", "--reason", "misread")
    ok("retract", pledge, "--reason", "a duplicate")
    assert not db.exists()
    then = json.loads(ok("export", "--as-of", meeting["recorded_at"]))
    assert (then["id"], then["title"]) == (meeting["id"], "Talks")
    assert [json.loads(line)["title"] for line in ok("export", "--as-of", meeting[
        "recorded_at"][:10]).splitlines()] == ["Summit"]  # the end of that day: all of it
    assert not db.exists()
    assert [json.loads(line)["title"] for line in ok("export").splitlines()] == ["Summit"]
    assert ok("export", "--as-of", "2000-01-01") == ""
    bad = run("export", "--as-of", "yesterday")
    assert (bad.exit_code, bad.stderr) == (
        1, "Error: invalid --as-of 'yesterday': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ\n")


def test_csv_export_has_a_fixed_header_and_spreadsheet_cells(rich_log: Path) -> None:
    text = export("--format", "csv", "--type", "meeting")
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(table[0]) == all_columns(("meeting", "update", "citation"))
    header = table[0]
    jeddah = next(dict(zip(header, row, strict=True)) for row in table[1:]
                  if "Jeddah" in row)
    assert jeddah["title"] == "Summit; with a semicolon"
    assert jeddah["topic"] == "trade\\; transit; energy"
    assert jeddah["participant"] == "KAZ; SAU; TJK; UZB"
    assert jeddah["summary"] == "Two lines.\nSecond line."
    assert text.count("\r\n") == len(table)


def test_announcements_come_after_the_records_they_are_about(rich_log: Path) -> None:
    kinds_and_ids = [(line["kind"], line.get("id"), line.get("about", []))
                     for line in map(json.loads, export().splitlines())]
    position = {row_id: index for index, (_kind, row_id, _about) in enumerate(kinds_and_ids)}
    for index, (_kind, _row_id, about) in enumerate(kinds_and_ids):
        for reference in about:
            assert position.get(reference, -1) < index or reference.islower()
    order = [kind for kind, _, _ in kinds_and_ids if kind not in ("update", "citation")]
    assert order == sorted(order, key=("format", "meeting", "pledge", "announcement").index)


def test_export_builds_a_stale_database_first(events: Path, db: Path) -> None:
    ok("add", "meeting", "--title", "First", "--date", "2020", *SOURCE)
    ok("build")
    ok("add", "meeting", "--title", "Second", "--date", "2021", *SOURCE)
    titles = [json.loads(line)["title"] for line in export().splitlines()]
    assert titles == ["First", "Second"]


def test_export_of_an_empty_log(db: Path) -> None:
    assert export() == ""
    assert export("--format", "csv") == ",".join(all_columns()) + "\r\n"


def test_export_refuses_unknown_options() -> None:
    result = run("export", "--type", "update")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Invalid value for '--type': 'update' is not one of")


def test_a_status_set_by_an_amendment_comes_back(events: Path, tmp_path: Path,
                                                 db: Path) -> None:
    """`amend --set status=` has no `tracker add` option: the export ends such a record
    with an update row under the amendment's id, which gives the status in an empty log
    and matches the amendment in its own log."""
    cancelled = ok("add", "meeting", "--title", "Called off", "--date", "2999", *SOURCE)
    ok("amend", cancelled, "--set", "status=cancelled", "--reason", "it was called off",
       "--source", "https://example.org/called-off")
    rescheduled = ok("add", "meeting", "--title", "On again", "--date", "2999", *SOURCE)
    ok("update", rescheduled, "--status", "postponed", *SOURCE)
    amendment = ok("amend", rescheduled, "--set", "status=scheduled", "--reason",
                   "the postponement was a rumour")
    withdrawn = ok("add", "pledge", "--title", "Loan", "--date", "2021", "--donor", "JPN",
                   "--recipient", "UZB", "--amount", "100", "--currency", "USD", *SOURCE)
    ok("update", withdrawn, "--status", "disbursed", "--amount", "10", *SOURCE)
    ok("amend", withdrawn, "--set", "status=withdrawn", "--reason", "misread")
    exported = export()
    updates = [(row["subject"], row["status"], row["source"])
               for row in map(json.loads, exported.splitlines()) if row["kind"] == "update"]
    assert updates == [
        (cancelled, "cancelled", "https://example.org/called-off"),
        (rescheduled, "postponed", SOURCE[1]),
        (rescheduled, "scheduled", SOURCE[1]),
        (withdrawn, "disbursed", SOURCE[1]),
        (withdrawn, "withdrawn", SOURCE[1])]
    assert amendment in exported
    path = tmp_path / "export.jsonl"
    path.write_text(exported)
    before = log_bytes(events)
    assert ok("import", path) == (f"Imported {path}: nothing new to append; 8 rows already "
                                  "in the log")
    assert log_bytes(events) == before
    copy = ("--events", tmp_path / "copy", "--db", tmp_path / "copy.db")
    ok(*copy, "import", path)
    ok(*copy, "build")
    statuses = "select id, status from meetings union all select id, status from pledges"
    assert rows(tmp_path / "copy.db", statuses) == rows(db, statuses) == [
        {"id": cancelled, "status": "cancelled"}, {"id": rescheduled, "status": "scheduled"},
        {"id": withdrawn, "status": "withdrawn"}]
    assert export(where=copy) == exported


def round_trip(events: Path, tmp_path: Path, warnings: str = "") -> tuple[list[dict], Path]:
    """Export the log; check that the export imported into its own log adds nothing, and
    that the copy it makes in an empty log (with these `warnings` of the import, as
    recording the same updates gave) exports the same text. The rows of the export, and
    the copy's database (both databases built)."""
    exported = export()
    copy = import_twice(events, tmp_path, exported, warnings)
    assert export(where=copy) == exported
    return [json.loads(line) for line in exported.splitlines()], tmp_path / "copy.db"


def import_twice(events: Path, tmp_path: Path, exported: str, warnings: str = "") -> tuple:
    """Import an export into its own log, which adds nothing, then into an empty one (with
    these `warnings`); build both. The global options of the copy."""
    path = tmp_path / "export.jsonl"
    path.write_text(exported)
    before = log_bytes(events)
    result = run("import", path)
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    assert result.stdout.startswith(f"Imported {path}: nothing new to append; ")
    assert log_bytes(events) == before
    copy = ("--events", tmp_path / "copy", "--db", tmp_path / "copy.db")
    result = run(*copy, "import", path)
    assert (result.exit_code, result.stderr) == (0, warnings), result.output
    ok(*copy, "build")
    ok("build")
    return copy


def assert_refused_as_changed(path: Path, text: str, event_id: str) -> None:
    """Importing `text` is refused, for the row of `event_id` only."""
    path.write_text(text)
    [(line, kind)] = [(number, json.loads(row)["kind"])
                      for number, row in enumerate(text.splitlines(), start=1)
                      if f'"id":"{event_id}"' in row]
    result = run("import", path)
    hint = "" if kind == "update" else "; to correct a record, use tracker amend"
    assert (result.exit_code, result.stderr.splitlines()[1:]) == (1, [
        f"line {line}: id '{event_id}': id {event_id} is already in the log with other "
        f"content{hint}"])


def test_a_held_meeting_rescheduled_to_a_date_to_come_is_held_in_its_row(
        events: Path, tmp_path: Path, db: Path) -> None:
    """The row has the date the meeting was held on, and its update the date it moved to
    (with the current date, `import` would refuse a meeting held after today)."""
    postponed = ok("add", "meeting", "--title", "Held", "--date", "2022-12", "--status",
                   "held", *SOURCE)
    to_postponed = ok("update", postponed, "--status", "postponed", "--to", "2999-03",
                      *SOURCE)
    scheduled = ok("add", "meeting", "--title", "Held too", "--date", "2022-11",
                   "--status", "held", *SOURCE)
    to_scheduled = ok("update", scheduled, "--status", "scheduled", "--to", "2999-04",
                      *SOURCE)
    lines, copy_db = round_trip(events, tmp_path)
    assert [{key: line.get(key) for key in ("id", "date", "status", "to")}
            for line in lines] == [
        {"id": postponed, "date": "2022-12", "status": "held", "to": None},
        {"id": to_postponed, "date": None, "status": "postponed", "to": "2999-03"},
        {"id": scheduled, "date": "2022-11", "status": "held", "to": None},
        {"id": to_scheduled, "date": None, "status": "scheduled", "to": "2999-04"}]
    assert contents(copy_db) == contents(db)
    assert rows(db, "select date, status from meetings order by date") == [
        {"date": "2999-03", "status": "postponed"}, {"date": "2999-04", "status": "scheduled"}]


def test_a_date_amended_after_a_reschedule_comes_back_as_an_update(
        events: Path, tmp_path: Path, db: Path) -> None:
    """An amendment of the date before the first reschedule is in the meeting's row, one
    between two reschedules is undone by the second; one after the last comes right after
    it, as an update under the amendment's id that moves the meeting to that date (with
    the amendment's source, else the record's). An amendment that also sets a status a
    reschedule can give comes last, with both."""
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2996", *SOURCE)
    ok("amend", meeting, "--set", "date=2997", "--reason", "misread")
    first = ok("update", meeting, "--status", "postponed", "--to", "2998", *SOURCE)
    ok("amend", meeting, "--set", "date=2998-05", "--reason", "misread")
    second = ok("update", meeting, "--status", "scheduled", "--to", "2999", *SOURCE)
    citation = ok("cite", meeting, "--source", "Another report")
    amendment = ok("amend", meeting, "--set", "date=2999-06", "--reason", "misread",
                   "--source", "https://example.org/june")
    talks = ok("add", "meeting", "--title", "Talks", "--date", "2996", *SOURCE)
    moved = ok("update", talks, "--status", "postponed", "--to", "2997", *SOURCE)
    again = ok("update", talks, "--status", "scheduled", "--note", "on again", *SOURCE)
    both = ok("amend", talks, "--set", "date=2998", "--set", "status=postponed",
              "--reason", "never on again")
    lines, copy_db = round_trip(events, tmp_path)
    assert [{key: line.get(key) for key in ("id", "date", "status", "to", "source")}
            for line in lines] == [
        {"id": meeting, "date": "2997", "status": "scheduled", "to": None,
         "source": SOURCE[1]},
        {"id": first, "date": None, "status": "postponed", "to": "2998", "source": SOURCE[1]},
        {"id": second, "date": None, "status": "scheduled", "to": "2999",
         "source": SOURCE[1]},
        {"id": amendment, "date": None, "status": "scheduled", "to": "2999-06",
         "source": "https://example.org/june"},
        {"id": citation, "date": None, "status": None, "to": None, "source": "Another report"},
        {"id": talks, "date": "2996", "status": "scheduled", "to": None, "source": SOURCE[1]},
        {"id": moved, "date": None, "status": "postponed", "to": "2997", "source": SOURCE[1]},
        {"id": again, "date": None, "status": "scheduled", "to": None, "source": SOURCE[1]},
        {"id": both, "date": None, "status": "postponed", "to": "2998", "source": SOURCE[1]}]
    wanted = "select id, date, status from meetings order by date"
    assert rows(copy_db, wanted) == rows(db, wanted) == [
        {"id": talks, "date": "2998", "status": "postponed"},
        {"id": meeting, "date": "2999-06", "status": "scheduled"}]
    # What the amendments changed is the only difference: an update more for each.
    assert rows(copy_db, "select event_id, status, previous_status, rescheduled_to "
                         "from status_changes where event_id in (?, ?) order by event_id",
                amendment, both) == sorted([
        {"event_id": amendment, "status": "scheduled", "previous_status": "scheduled",
         "rescheduled_to": "2999-06"},
        {"event_id": both, "status": "postponed", "previous_status": "scheduled",
         "rescheduled_to": "2998"}], key=lambda row: row["event_id"])
    # A row changed from what the log holds is refused.
    path, text = tmp_path / "changed.jsonl", export()
    assert_refused_as_changed(path, text.replace('"to":"2999-06"', '"to":"2999-07"'),
                              amendment)
    assert_refused_as_changed(path, text.replace('"date":"2997"', '"date":"2995"'), meeting)
    assert_refused_as_changed(path, text.replace(f'"{both}","subject":"{talks}","status":'
                                                 '"postponed"', f'"{both}","subject":"{talks}"'
                                                 ',"status":"scheduled"'), both)


def test_an_export_with_an_amended_status_imports_into_its_own_log(
        events: Path, tmp_path: Path, db: Path) -> None:
    """The row of a record whose status was amended has the status it was recorded with
    (a meeting's) or none (a pledge's), and the other fields as they are now: it is the
    record in its own log, whatever else was amended or updated since."""
    cancelled = ok("add", "meeting", "--title", "Cancelled", "--date", "2023", *SOURCE)
    ok("amend", cancelled, "--set", "status=cancelled", "--reason", "r")
    ok("amend", cancelled, "--set", "level=summit", "--reason", "r")
    withdrawn = ok("add", "pledge", "--title", "Loan", "--date", "2020", "--donor", "JPN",
                   "--recipient", "KAZ", "--amount", "100", "--currency", "JPY", *SOURCE)
    ok("amend", withdrawn, "--set", "status=withdrawn", "--reason", "r")
    ok("amend", withdrawn, "--set", "instrument=loan", "--reason", "r")
    moved = ok("add", "meeting", "--title", "Moved", "--date", "2023", *SOURCE)
    ok("amend", moved, "--set", "status=postponed", "--reason", "r")
    ok("update", moved, "--status", "scheduled", "--to", "2022", *SOURCE)
    # Held as recorded, but dated after today since: scheduled in its row.
    later = ok("add", "meeting", "--title", "Later", "--date", "2022", *SOURCE)
    ok("amend", later, "--set", "status=cancelled", "--reason", "r")
    ok("amend", later, "--set", "date=2999", "--reason", "r")
    lines, copy_db = round_trip(events, tmp_path)
    records = {line["id"]: line for line in lines if line["kind"] != "update"}
    assert (records[later]["status"], records[later]["date"]) == ("scheduled", "2999")
    assert (records[cancelled]["status"], records[cancelled]["level"]) == ("held", "summit")
    assert ("status" not in records[withdrawn], records[withdrawn]["instrument"]) == (
        True, "loan")
    assert (records[moved]["status"], records[moved]["date"]) == ("held", "2023")
    statuses = ("select id, status, level as detail from meetings union all "
                "select id, status, instrument from pledges order by id")
    assert rows(copy_db, statuses) == rows(db, statuses) == sorted([
        {"id": cancelled, "status": "cancelled", "detail": "summit"},
        {"id": later, "status": "cancelled", "detail": None},
        {"id": moved, "status": "scheduled", "detail": None},
        {"id": withdrawn, "status": "withdrawn", "detail": "loan"}],
        key=lambda row: row["id"])
    text = export()
    assert_refused_as_changed(tmp_path / "changed.jsonl",
                              text.replace('"level":"summit"', '"level":"working"'), cancelled)
    assert_refused_as_changed(tmp_path / "changed.jsonl",
                              text.replace('"instrument":"loan"', '"instrument":"grant"'),
                              withdrawn)


def rescheduled_then_amended() -> tuple[str, str, str, str]:
    """A meeting rescheduled, then amended to a date and cancelled in one amendment: the
    meeting, the amendment, the left-out value and its key."""
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2998", *SOURCE)
    ok("update", meeting, "--status", "postponed", "--to", "2999", *SOURCE)
    return meeting, ok("amend", meeting, "--set", "date=2999-05", "--set", "status=cancelled",
                       "--reason", "it was called off"), "date 2999-05", "to"


def revised_then_amended() -> tuple[str, str, str, str]:
    """A pledge revised, then amended to an amount and withdrawn in one amendment."""
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2024", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "100", "--currency", "USD", *SOURCE)
    ok("update", pledge, "--status", "pledged", "--amount", "200", *SOURCE)
    return pledge, ok("amend", pledge, "--set", "amount=250", "--set", "status=withdrawn",
                      "--reason", "misread"), "amount 250", "amount"


@pytest.mark.parametrize(("kind", "case", "status"), [
    ("meeting", rescheduled_then_amended, "cancelled"),
    ("pledge", revised_then_amended, "withdrawn")])
def test_an_amendment_of_a_moved_value_and_a_status_no_update_gives_is_warned_about(
        events: Path, kind: str, case: Callable[[], tuple[str, str, str, str]],
        status: str) -> None:
    """After a reschedule, `--set date=... --set status=cancelled` in one amendment (after
    a revision, `--set amount=... --set status=withdrawn`): no update row with `to` (no
    revision) gives the status, and its id can be one row only."""
    record, amendment, left_out, key = case()
    result = run("export")
    assert (result.exit_code, result.stderr) == (
        0, f"Warning: {kind} {record}: its {left_out} left out (no update gives it)\n")
    last = json.loads(result.stdout.splitlines()[-1])
    assert (last["id"], last["status"], key in last) == (amendment, status, False)


def test_a_revised_pledge_comes_back_as_pledged_then_revised(events: Path, tmp_path: Path,
                                                             db: Path) -> None:
    """Its row has the amount first pledged (as recorded, or amended before its first
    revision), its updates revise it; an amount amended after its last revision comes
    right after that revision as an update row under the amendment's id (as a meeting's
    date amended after its last reschedule), which its own log takes as that amendment."""
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2024", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "90", "--currency", "USD", *SOURCE)
    ok("amend", pledge, "--set", "amount=100", "--reason", "misread")
    disbursed = ok("update", pledge, "--status", "disbursed", "--amount", "30", *SOURCE)
    revised = ok("update", pledge, "--status", "pledged", "--amount", "200", "--date",
                 "2024-06", "--note", "raised", *SOURCE)
    amended = ok("amend", pledge, "--set", "amount=250", "--reason", "misread again")
    more = ok("update", pledge, "--status", "disbursed", "--amount", "40", *SOURCE)
    exported, copy_db = round_trip(events, tmp_path)
    assert [(row["id"], row.get("status"), row["amount"]) for row in exported] == [
        (pledge, None, "100"), (disbursed, "disbursed", "30"), (revised, "pledged", "200"),
        (amended, "pledged", "250"), (more, "disbursed", "40")]
    assert exported[2] == {
        "kind": "update", "id": revised, "subject": pledge, "status": "pledged",
        "date": "2024-06", "amount": "200", "note": "raised", "source": SOURCE[1],
        "quote": SOURCE[3]}
    wanted = "select id, amount_text, status, disbursed_amount_text from pledges"
    assert rows(copy_db, wanted) == rows(db, wanted) == [
        {"id": pledge, "amount_text": "250", "status": "disbursed",
         "disbursed_amount_text": "40"}]



def test_a_meeting_held_then_amended_to_a_date_to_come_imports(events: Path, tmp_path: Path,
                                                               db: Path) -> None:
    """Held (with no `--date`), then amended to a date after today: the row has the date
    it had when it was held, which counts as moved there, and the amendment comes after
    it as an update (`import` refuses a meeting held after today). Held on another day
    (`--to`), postponed, then amended to a date after today: the amendment's update after
    the held one is `scheduled`, not `held`."""
    held = ok("add", "meeting", "--title", "Held", "--date", "2024-05", "--status",
              "scheduled", "--participant", "JPN", *SOURCE)
    update = ok("update", held, "--status", "held", *SOURCE)
    amendment = ok("amend", held, "--set", "date=2999-02", "--set", "status=scheduled",
                   "--reason", "not held: moved to February")
    moved = ok("add", "meeting", "--title", "Moved", "--date", "2024-05", "--status",
               "scheduled", *SOURCE)
    day = ok("update", moved, "--status", "held", "--to", "2024-05-20", *SOURCE)
    postponed = ok("update", moved, "--status", "postponed", *SOURCE)
    later = ok("amend", moved, "--set", "date=2999-03", "--reason", "misread")
    lines, copy_db = round_trip(events, tmp_path)
    assert [{key: line.get(key) for key in ("id", "date", "status", "to")}
            for line in lines] == [
        {"id": held, "date": "2024-05", "status": "scheduled", "to": None},
        {"id": update, "date": None, "status": "held", "to": None},
        {"id": amendment, "date": None, "status": "scheduled", "to": "2999-02"},
        {"id": moved, "date": "2024-05", "status": "scheduled", "to": None},
        {"id": day, "date": None, "status": "held", "to": "2024-05-20"},
        {"id": later, "date": None, "status": "scheduled", "to": "2999-03"},
        {"id": postponed, "date": None, "status": "postponed", "to": None}]
    assert contents(copy_db)["meetings"] == contents(db)["meetings"]
    assert contents(copy_db)["meeting_participants"] == contents(db)["meeting_participants"]
    assert rows(copy_db, "select date, status from meetings order by date") == [
        {"date": "2999-02", "status": "scheduled"}, {"date": "2999-03", "status": "postponed"}]
    previous = "select previous_status from status_changes where event_id = ?"
    assert (rows(db, previous, postponed), rows(copy_db, previous, postponed)) == (
        [{"previous_status": "held"}], [{"previous_status": "scheduled"}])


def test_a_meeting_held_on_a_date_then_amended_to_a_date_to_come_imports(
        events: Path, tmp_path: Path, db: Path) -> None:
    """Held with a --date outside its date, then amended to a date after today: the held
    update, replayed on the amended date, would be refused (a meeting held after today),
    so it counts as moved (the row has the date it had then). Once set back to scheduled,
    the amended date comes after it, as an update row: the copy is the same."""
    meeting = ok("add", "meeting", "--title", "M", "--date", "2023-01", "--status",
                 "scheduled", *SOURCE)
    run("update", meeting, "--status", "held", "--date", "2023-02-14", *SOURCE)
    ok("update", meeting, "--status", "scheduled", *SOURCE)
    ok("amend", meeting, "--set", "date=2999-01-09", "--reason", "misread")
    exported = export()
    warning = ("Warning: line 2: status held date 2023-02-14 is after the meeting's date "
               "2023-01, which stays as set; if it was held on another day than set, record "
               "that day as to\n")
    copy = import_twice(events, tmp_path, exported, warning)
    assert contents(tmp_path / "copy.db")["meetings"] == contents(db)["meetings"]
    assert export(where=copy) == export()


def test_a_meeting_held_on_a_date_then_amended_to_a_date_to_come_and_cancelled_imports(
        events: Path, tmp_path: Path) -> None:
    """As above, the amendment cancelling it: its date is left out, with a warning (no
    update gives a cancelled meeting a date), and the export imports."""
    meeting = ok("add", "meeting", "--title", "M", "--date", "2025", *SOURCE)
    run("update", meeting, "--status", "held", "--date", "2026-01-10", *SOURCE)
    run("amend", meeting, "--set", "date=2999-01", "--set", "status=cancelled", "--reason",
        "not held")
    result = run("export")
    assert (result.exit_code, result.stderr) == (0, (
        f"Warning: meeting {meeting}: its date 2999-01 left out (no update gives it)\n"))
    import_twice(events, tmp_path, result.stdout, (
        "Warning: line 2: status held date 2026-01-10 is after the meeting's date 2025, which "
        "stays as set; if it was held on another day than set, record that day as to\n"))


def test_an_export_made_while_an_amended_date_was_to_come_imports_once_it_has_come(
        events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The update row of a date amended after a held reschedule is written `scheduled`
    while that date is to come (`held` otherwise): once the day has come, the export made
    before still imports into its own log, adding nothing."""
    soon = (date.today() + timedelta(days=4)).isoformat()
    moved = ok("add", "meeting", "--title", "Moved", "--date", "2024-05", "--status",
               "scheduled", *SOURCE)
    ok("update", moved, "--status", "held", "--to", "2024-05-20", *SOURCE)
    ok("update", moved, "--status", "postponed", *SOURCE)
    later = ok("amend", moved, "--set", f"date={soon}", "--reason", "misread")
    exported = export()
    [row] = [json.loads(line) for line in exported.splitlines()
             if json.loads(line)["id"] == later]
    assert (row["status"], row["to"]) == ("scheduled", soon)
    then = (date.today() + timedelta(days=30)).isoformat()
    monkeypatch.setattr(model, "not_yet", lambda text: parse_date(text).start > then)
    import_twice(events, tmp_path, exported)


def test_an_amendment_of_the_amount_and_status_pledged_after_a_revision_gives_both(
        events: Path, tmp_path: Path, db: Path) -> None:
    """Revised, withdrawn, then amended to pledged with another amount in one amendment:
    a revision row gives both, at the end. Amended to disbursed with an amount, which no
    update gives (a pledge with no amount disbursed), the status is left out with a
    warning, and the amount comes back as a revision."""
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2024-05", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "100", "--currency", "USD", *SOURCE)
    revised = ok("update", pledge, "--status", "pledged", "--amount", "200", *SOURCE)
    withdrawn = ok("update", pledge, "--status", "withdrawn", *SOURCE)
    amendment = ok("amend", pledge, "--set", "status=pledged", "--set", "amount=250",
                   "--reason", "not withdrawn; 250")
    lines, copy_db = round_trip(events, tmp_path, (
        "Warning: line 4: status pledged amount 250 after the pledge was withdrawn: a "
        "pledge withdrawn is rarely revised; check that it was withdrawn\n"))
    assert [(line["id"], line.get("status"), line.get("amount")) for line in lines] == [
        (pledge, None, "100"), (revised, "pledged", "200"), (withdrawn, "withdrawn", None),
        (amendment, "pledged", "250")]
    assert contents(copy_db)["pledges"] == contents(db)["pledges"]
    assert rows(copy_db, "select amount_text, status from pledges") == [
        {"amount_text": "250", "status": "pledged"}]



def test_an_amendment_of_the_amount_and_status_disbursed_keeps_the_amount(
        events: Path, tmp_path: Path, db: Path) -> None:
    """After a revision, `--set amount=250 --set status=disbursed` with no amount
    disbursed: no update gives that status, which is left out with a warning; the amount
    comes back as a revision under the amendment's id."""
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2024-05", "--donor", "JPN",
                "--recipient", "KAZ", "--amount", "100", "--currency", "USD", *SOURCE)
    ok("update", pledge, "--status", "pledged", "--amount", "200", *SOURCE)
    amendment = ok("amend", pledge, "--set", "amount=250", "--set", "status=disbursed",
                   "--reason", "misread")
    result = run("export")
    assert (result.exit_code, result.stderr) == (
        0, f"Warning: pledge {pledge}: its status disbursed left out (no update gives it)\n")
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "kind": "update", "id": amendment, "subject": pledge, "status": "pledged",
        "amount": "250", "source": SOURCE[1], "quote": SOURCE[3]}


def test_a_meeting_held_then_amended_to_a_date_to_come_and_cancelled_imports(
        events: Path, tmp_path: Path, db: Path) -> None:
    """Held, then amended to a date after today and cancelled in one amendment: no update
    with `to` gives cancelled, so the date is left out with a warning; the export still
    imports, into an empty log and (adding nothing) into its own."""
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2024-05", "--status",
                 "scheduled", *SOURCE)
    ok("update", meeting, "--status", "held", *SOURCE)
    ok("amend", meeting, "--set", "date=2999-02", "--set", "status=cancelled", "--reason",
       "called off, and later than reported")
    result = run("export")
    assert (result.exit_code, result.stderr) == (
        0, f"Warning: meeting {meeting}: its date 2999-02 left out (no update gives it)\n")
    import_twice(events, tmp_path, result.stdout)
    assert rows(tmp_path / "copy.db", "select date, status from meetings") == [
        {"date": "2024-05", "status": "cancelled"}]
