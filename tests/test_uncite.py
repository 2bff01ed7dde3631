"""`tracker uncite`: a source cited wrongly is withdrawn by a new event; its record keeps
at least one source, and the withdrawn one stays in the events and the history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker.serve import load_metadata, make_datasette

from .conftest import METADATA, log_bytes, ok, rows, run
from .test_bad_input import assert_refused
from .test_corruption import hand_event, verify_fails_with, write_by_hand

FIRST = ("--source", "https://example.org/first", "--quote", "met in May 2019")
SECOND = ("--source", "https://example.org/second", "--quote", "the May 2019 meeting")
TABLES = ("sources", "history", "correction_rows", "meetings", "records")


@pytest.fixture
def meeting() -> str:
    return ok("add", "meeting", "--title", "Foreign ministers met", "--date", "2019-05",
              "--status", "held", *FIRST)


def table_rows(db: Path) -> dict[str, list[dict]]:
    return {table: rows(db, f"select * from {table} order by rowid") for table in TABLES}


def test_a_citation_is_withdrawn_and_its_history_kept(meeting: str, db: Path) -> None:
    ok("build")
    cited = ok("cite", meeting, *SECOND)
    withdrawal = ok("uncite", cited, "--reason", "the article is about another meeting")
    assert ok("verify") == "OK: 3 events in 1 file"
    assert ok("build") == f"Updated {db} with 2 new events"
    incremental = table_rows(db)
    assert [(row["event_id"], row["url"]) for row in incremental["sources"]] == [
        (meeting, "https://example.org/first")]
    assert [(row["event_id"], row["event_type"], row["field"], row["old_value"],
             row["new_value"], row["reason"]) for row in incremental["history"]] == [
        (withdrawal, "source.withdrawn", "source", "https://example.org/second", None,
         "the article is about another meeting")]
    assert [(row["event_id"], row["correction"], row["fields"])
            for row in incremental["correction_rows"]] == [
        (withdrawal, "source withdrawn", "source")]
    assert incremental["meetings"][0]["updated_at"] == rows(
        db, "select recorded_at from events where id = ?", withdrawal)[0]["recorded_at"]
    ok("build", "--full")
    assert table_rows(db) == incremental  # a full build gives the same
    assert ok("show", meeting).splitlines()[-2:] == [
        f"    withdrawn: the source https://example.org/second (given by {cited})",
        "    reason: the article is about another meeting"]
    [event] = json.loads(ok("log", "--type", "source.withdrawn", "--json"))
    assert (event["id"], event["subject"], event["data"]) == (withdrawal, meeting, {
        "event": cited, "reason": "the article is about another meeting"})


async def test_the_site_tells_of_a_source_withdrawn(meeting: str, db: Path) -> None:
    cited = ok("cite", meeting, *SECOND)
    ok("uncite", cited, "--reason", "wrong article")
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    feed = (await site.client.get("/tracker/recent_developments.json?_shape=array")).json()
    assert [row["atom_title"] for row in feed] == [
        "Source withdrawn from: Foreign ministers met", "New source for: Foreign ministers met",
        "Meeting: Foreign ministers met"]
    sources = (await site.client.get(f"/tracker/sources.json?_shape=array&subject={meeting}"))
    assert [row["url"] for row in sources.json()] == ["https://example.org/first"]


def test_an_export_leaves_a_withdrawn_source_out_and_imports_back(
        meeting: str, db: Path, tmp_path: Path) -> None:
    """The sources of a citation and of an amendment, withdrawn: an export gives the
    record with its own source and the sources that stand, under their event ids; it
    imports into its own log adding nothing, and into an empty one giving the same."""
    cited = ok("cite", meeting, *SECOND)
    amended = ok("amend", meeting, "--set", "date=2019-05-20", "--reason", "the day",
                 "--source", "https://example.org/day")
    kept = ok("cite", meeting, "--source", "https://example.org/kept")
    ok("uncite", cited, "--reason", "another meeting")
    ok("uncite", amended, "--reason", "says nothing of the day")
    ok("build")
    assert [(row["event_id"], row["kind"]) for row in rows(
        db, "select event_id, kind from sources order by recorded_at")] == [
        (meeting, "record"), (kept, "citation")]
    exported = ok("export")
    assert [(row["kind"], row["id"], row["source"]) for row in map(
        json.loads, exported.splitlines())] == [
        ("meeting", meeting, "https://example.org/first"),
        ("citation", kept, "https://example.org/kept")]
    path = tmp_path / "export.jsonl"
    path.write_text(exported + "\n")
    assert ok("import", path) == (
        f"Imported {path}: nothing new to append; 2 rows already in the log")
    copy, copy_db = tmp_path / "copy" / "events", tmp_path / "copy" / "tracker.db"
    ok("--events", copy, "--db", copy_db, "import", path)
    ok("--events", copy, "--db", copy_db, "build")
    assert rows(copy_db, "select subject, event_id, kind, url from sources order by rowid") \
        == rows(db, "select subject, event_id, kind, url from sources order by rowid")


def test_what_cannot_be_withdrawn_is_refused(meeting: str, events: Path) -> None:
    cited = ok("cite", meeting, *SECOND)
    update = ok("update", meeting, "--status", "postponed", "--date", "2019-04", *SECOND)
    amendment = ok("amend", meeting, "--set", "title=Ministers met", "--reason", "typo")
    withdrawal = ok("uncite", cited, "--reason", "wrong article", *SECOND)
    other = ok("add", "meeting", "--title", "Another", "--date", "2020", *FIRST)
    other_cited = ok("cite", other, *SECOND)
    ok("retract", other, "--reason", "recorded twice")
    no_source_to_withdraw = ("gives no source to withdraw: give the id of a citation "
                             "(tracker cite), or of an amendment with a --source")
    before = log_bytes(events)
    for args, message in [
        (("uncite", cited, "--reason", "again"),
         f"the source that {cited} gave was withdrawn already"),
        (("uncite", meeting, "--reason", "wrong"),
         f"event {meeting} recorded the meeting {meeting}: the source it was recorded with "
         "stays with it (if that source is wrong, retract the record and record it again)"),
        (("uncite", update, "--reason", "wrong"),
         f"event {update} is a status update: its source is the evidence of the update, "
         "and stays with it (if the update was wrong, amend the status)"),
        (("uncite", amendment, "--reason", "wrong"),
         f"event {amendment} (record.amended) {no_source_to_withdraw}"),
        (("uncite", withdrawal, "--reason", "wrong"),
         f"event {withdrawal} (source.withdrawn) {no_source_to_withdraw}"),
        (("uncite", other_cited, "--reason", "wrong"), f"{other} was retracted"),
        (("uncite", "01M81PPF6VG70ZZPB4ZDE4C0FX", "--reason", "wrong"),
         "unknown event id '01M81PPF6VG70ZZPB4ZDE4C0FX'"),
        (("uncite", "central-asia-japan", "--reason", "wrong"),
         "invalid id 'central-asia-japan': expected a 26-character ULID"),
        (("uncite", cited, "--reason", " "), "empty --reason"),
    ]:
        assert_refused(run(*args), (message,))
    assert log_bytes(events) == before


def test_a_retry_with_the_same_id_appends_nothing(meeting: str, events: Path) -> None:
    cited = ok("cite", meeting, *SECOND)
    event_id = "01M81PPF6VG70ZZPB4ZDE4C0FQ"
    assert ok("uncite", cited, "--reason", "wrong", "--id", event_id) == event_id
    before = log_bytes(events)
    retry = run("uncite", cited, "--reason", "wrong", "--id", event_id)
    assert (retry.exit_code, retry.stdout, retry.stderr) == (
        0, f"{event_id}\n", f"Already recorded: {event_id} (nothing appended)\n")
    assert log_bytes(events) == before
    assert_refused(run("uncite", cited, "--reason", "other", "--id", event_id),
                   (f"id {event_id} is already used by another event",))


def test_verify_refuses_a_withdrawal_that_names_no_event(meeting: str, events: Path) -> None:
    """A line written by hand (its hash holds) whose `event` is not an event id."""
    event = hand_event(meeting, type="source.withdrawn",
                       data={"event": "the first one", "reason": "wrong"})
    path = write_by_hand(events, event)
    verify_fails_with(f"event {event['id']} (hand/{path.name}:1): bad event 'the first one'", 2)


def test_a_withdrawal_of_what_is_no_source_of_its_record_changes_nothing(
        meeting: str, events: Path, db: Path) -> None:
    """`uncite` refuses it; written by hand, the build leaves the sources as they are."""
    other = ok("add", "meeting", "--title", "Another", "--date", "2020", *SECOND)
    ok("build")
    before = table_rows(db)
    write_by_hand(events, hand_event(meeting, type="source.withdrawn",
                                     data={"event": other, "reason": "wrong"}))
    ok("build")
    after = table_rows(db)
    assert rows(db, "select count(*) as n from events") == [{"n": 3}]
    assert after["sources"] == before["sources"]
    assert after["history"] == before["history"] == []


def test_a_source_the_record_has_already_is_not_cited_again(meeting: str, events: Path,
                                                           db: Path) -> None:
    """The same source with the same words adds nothing: refused as amend refuses a
    change to what a field holds already. Withdrawn, it can be cited again."""
    before = log_bytes(events)
    refused = run("cite", meeting, *FIRST)
    assert (refused.exit_code, refused.stdout, refused.stderr) == (
        1, "", f"Error: {meeting} was recorded with this very source: nothing to add\n")
    assert log_bytes(events) == before
    cited = ok("cite", meeting, *SECOND)
    before = log_bytes(events)
    refused = run("cite", meeting, *SECOND)
    assert (refused.exit_code, refused.stdout, refused.stderr) == (
        1, "", f"Error: {meeting} has this very source already (from {cited}): nothing "
        "to add\n")
    assert log_bytes(events) == before
    other_words = ok("cite", meeting, SECOND[0], SECOND[1], "--quote", "in May 2019")
    ok("uncite", cited, "--reason", "the article is about another meeting")
    again = ok("cite", meeting, *SECOND)
    ok("build")
    assert [row["event_id"] for row in rows(db, "select event_id from sources "
                                               "order by rowid")] == [
        meeting, other_words, again]
