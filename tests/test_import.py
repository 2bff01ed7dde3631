"""`tracker import`: all or nothing, one line per bad row, idempotent, crash-safe."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tracker import envelope
from tracker.errors import TrackerError
from tracker.importer import derived_id, key_suffix

from .conftest import PROJECT, SOURCE, log_bytes, ok, rows, run
from .terminal import stderr_on_terminal

EXAMPLES = PROJECT / "examples" / "import"
TEMPLATE_ORDER = ("formats", "meetings", "pledges", "announcements", "updates", "citations")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

MEETINGS = (
    "id,title,date,status,level,city,country,participant,topic,source,quote\n"
    'm1,Ministers meet in Tashkent,2019-05,held,ministerial,Tashkent,UZB,"JPN; UZB, KAZ",'
    "trade; energy,https://example.org/a,met in Tashkent\n"
    ",Working group,2019-06-03,,working,,,JPN;KGZ,,Embassy press release,\n"
    "m3,Summit,2019-11,held,summit,,KAZ,Japan;Kazakhstan,,https://example.org/c,\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def events_of(events: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(events.glob("*/*.jsonl"))
            for line in path.read_text().splitlines()]


def assert_refused(result, lines: list[str]) -> None:
    """Exit 1, nothing on stdout; a one-line summary, then exactly one line per bad row."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    got = result.stderr.splitlines()
    assert got == lines, result.stderr
    assert not any(CONTROL.search(line) for line in got)


# -- the acceptance criteria --------------------------------------------------------------


def test_one_bad_row_refuses_the_whole_file_and_dry_run_says_the_same(
    tmp_path: Path, events: Path, japan_format: str
) -> None:
    """A CSV with one bad row among valid ones: exit 1, a summary line, then one line
    naming the row's line number, field and value; the log is byte-for-byte unchanged."""
    csv_file = write(tmp_path / "meetings.csv", MEETINGS.replace("2019-06-03", "2019-02-30"))
    before = log_bytes(events)
    expected = ["Error: meetings.csv: 1 of 3 rows is invalid; nothing imported",
                "line 3: date: invalid date '2019-02-30': 2019-02 has 28 days"]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert_refused(run("import", "meetings.csv"), expected)
        assert log_bytes(events) == before
        assert_refused(run("import", "meetings.csv", "--dry-run"), expected)
        assert log_bytes(events) == before
    assert csv_file.exists()


def test_every_bad_row_is_reported_on_its_own_line_in_line_order(
    tmp_path: Path, events: Path, japan_format: str
) -> None:
    path = write(tmp_path / "mixed.csv", """\
kind,id,title,date,level,participant,donor,recipient,amount,currency,approximate,at,source
meeting,m1,Ministers meet,2019-05,ministerial,JPN; Atlantis,,,,,,,https://example.org/a
pledge,,Grant,2020,,,JPN,KAZ,two billion,JPY,,,https://example.org/b
pledge,,Loan,2020,,,JPN,KAZ,5,USD,maybe,,https://example.org/c
meeting,,Fine meeting,2019-07,,JPN,,,,,,,https://example.org/d
pledge,,Grant at m9,2020,,,JPN,KAZ,5,USD,,m9,https://example.org/e
meeting,,No source,2019-08,,,,,,,,,
meeting,,Big level,2019-09,enormous,,,,,,,,x
""")
    before = log_bytes(events)
    assert_refused(run("import", path), [
        f"Error: {path}: 6 of 7 rows are invalid; nothing imported",
        "line 2: participant 'JPN; Atlantis': unknown actor 'Atlantis': use an ISO 3166 "
        "country name or "
        "code, or an organisation code such as EU, UN, SCO",
        "line 3: amount: invalid amount 'two billion': use digits with an optional "
        "decimal point",
        "line 4: approximate: invalid approximate 'maybe': use yes or no",
        "line 6: at: unknown id or key 'm9': not in the log, nor on an earlier line",
        "line 7: source: missing source: every record needs a URL or citation",
        "line 8: level: invalid level 'enormous': use one of summit, ministerial, "
        "senior-officials, ambassadorial, working",
    ])
    assert log_bytes(events) == before


def test_reimporting_the_same_file_leaves_the_log_byte_identical(
    tmp_path: Path, events: Path, japan_format: str
) -> None:
    path = write(tmp_path / "meetings.csv", MEETINGS)
    assert ok("import", path) == f"Imported {path}: appended 3 events (3 meetings)"
    before = log_bytes(events)
    assert ok("import", path) == (f"Imported {path}: nothing new to append; "
                                  "3 rows already in the log")
    assert log_bytes(events) == before
    assert ok("import", path, "--dry-run") == (
        f"Dry run of {path}: every row is valid; would append 0 events; "
        "3 rows already in the log; nothing written")
    assert log_bytes(events) == before


def test_dry_run_of_a_valid_file_reports_and_writes_nothing(tmp_path: Path, events: Path) -> None:
    path = write(tmp_path / "meetings.csv", MEETINGS)
    result = run("import", path, "--dry-run")
    assert result.exit_code == 0
    assert result.stdout == (f"Dry run of {path}: every row is valid; would append 3 events "
                             "(3 meetings); nothing written\n")
    assert not events.exists()


def test_a_dry_run_needs_no_index_it_can_write(tmp_path: Path, events: Path) -> None:
    """When the index in events/.cache/ cannot be made (here its folder is a file, which
    stops root too), a dry run reads the log instead; a real import says why it cannot."""
    ok("add", "meeting", "--title", "T", "--date", "2020", *SOURCE)
    shutil.rmtree(events / ".cache")
    (events / ".cache").write_text("not a folder")
    path = write(tmp_path / "meetings.csv", MEETINGS)
    before = log_bytes(events)
    result = run("import", path, "--dry-run")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (f"Dry run of {path}: every row is valid; would append 3 events "
                             "(3 meetings); nothing written\n")
    refused = run("import", path)
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr.startswith("Error: ") and len(refused.stderr.splitlines()) == 1
    assert log_bytes(events) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
@pytest.mark.parametrize("indexed", [True, False], ids=["index-made", "no-index-yet"])
def test_a_dry_run_works_on_a_read_only_log(tmp_path: Path, events: Path, indexed: bool) -> None:
    """A read-only log (with its index made earlier, or none yet): a dry run writes
    nothing, so it needs no write access."""
    ok("add", "meeting", "--title", "T", "--date", "2020", *SOURCE)
    path = write(tmp_path / "meetings.csv", MEETINGS)
    if indexed:
        ok("import", path, "--dry-run")
    else:
        shutil.rmtree(events / ".cache")
    folders = [events, *(folder for folder in events.rglob("*") if folder.is_dir())]
    for folder in folders:
        folder.chmod(0o555)
    try:
        result = run("import", path, "--dry-run")
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (f"Dry run of {path}: every row is valid; would append 3 events "
                             "(3 meetings); nothing written\n")


# -- rows, columns and encodings -----------------------------------------------------------


def test_csv_rows_become_ordinary_events_with_the_cli_normalisation(
    tmp_path: Path, events: Path, db: Path
) -> None:
    path = write(tmp_path / "meetings.csv", MEETINGS)
    ok("import", path)
    ok("verify")
    ok("build")
    meetings = rows(db, "select title, date, status, level, city, country, latitude, "
                    "participants, topics from meetings order by date_start")
    assert meetings == [
        {"title": "Ministers meet in Tashkent", "date": "2019-05", "status": "held",
         "level": "ministerial", "city": "Tashkent", "country": "UZB", "latitude": 41.26465,
         "participants": '["JPN","UZB","KAZ"]', "topics": '["trade","energy"]'},
        {"title": "Working group", "date": "2019-06-03", "status": "held", "level": "working",
         "city": None, "country": None, "latitude": None, "participants": '["JPN","KGZ"]',
         "topics": None},
        {"title": "Summit", "date": "2019-11", "status": "held", "level": "summit",
         "city": None, "country": "KAZ", "latitude": None, "participants": '["JPN","KAZ"]',
         "topics": None},
    ]
    assert rows(db, "select citation, url, quote from sources order by rowid") == [
        {"citation": None, "url": "https://example.org/a", "quote": "met in Tashkent"},
        {"citation": "Embassy press release", "url": None, "quote": None},
        {"citation": None, "url": "https://example.org/c", "quote": None},
    ]
    logged = events_of(events)
    assert [event["seq"] for event in logged] == [1, 2, 3]
    assert [event["recorded_by"] for event in logged] == ["tester"] * 3
    stamps = [event["recorded_at"] for event in logged]
    assert stamps == sorted(set(stamps))
    history = ok("show", logged[0]["id"])
    assert "meeting.recorded" in history and "met in Tashkent" in history


def test_multi_valued_cells_accept_semicolons_commas_escapes_and_repeated_columns(
    tmp_path: Path, db: Path
) -> None:
    path = write(tmp_path / "meetings.csv", (
        "title,date,participant,participant,topic,official,source\n"
        'Talks,2019,JPN; KAZ,"Kyrgyzstan, UZB",trade\\; customs; energy,'
        '"JPN:Yoko Kamikawa:Foreign Minister; KAZ:Murat Nurtleu",x\n'))
    ok("import", path)
    ok("build")
    assert rows(db, "select participants, topics from meetings") == [
        {"participants": '["JPN","KAZ","KGZ","UZB"]', "topics": '["trade; customs","energy"]'}]
    assert rows(db, "select actor, official, official_title from meeting_participants "
                "where official is not null order by rowid") == [
        {"actor": "JPN", "official": "Yoko Kamikawa", "official_title": "Foreign Minister"},
        {"actor": "KAZ", "official": "Murat Nurtleu", "official_title": None}]


def test_spreadsheet_exports_bom_semicolons_crlf_and_multiline_cells(
    tmp_path: Path, db: Path
) -> None:
    """Excel writes a byte-order mark, may separate with ';' and ends lines with CRLF."""
    path = tmp_path / "pledges.csv"
    path.write_bytes(
        "\ufeffTitle;Date;Donor;Recipient;Amount;Currency;Approximate;Purpose;Source\r\n"
        'Grant;2020;JPN;"KAZ; UZB";1,000;JPY;Yes;"Two lines:\nhospitals";x\r\n'
        "Loan;2020;JPN;KAZ;1.5.1;USD;;;x\r\n".encode())
    assert_refused(run("import", path), [
        f"Error: {path}: 1 of 2 rows is invalid; nothing imported",
        "line 4: amount: invalid amount '1.5.1': use digits with an optional decimal point"])
    path.write_bytes(path.read_bytes().replace(b"1.5.1", b"1.5"))
    ok("import", path)
    ok("build")
    assert rows(db, "select title, recipients, amount_text, approximate, purpose from pledges "
                "order by title") == [
        {"title": "Grant", "recipients": '["KAZ","UZB"]', "amount_text": "1000",
         "approximate": 1, "purpose": "Two lines:\nhospitals"},
        {"title": "Loan", "recipients": '["KAZ"]', "amount_text": "1.5", "approximate": 0,
         "purpose": None}]


def test_the_kind_comes_from_a_column_the_kind_option_or_the_file_name(
    tmp_path: Path, events: Path
) -> None:
    body = "title,date,by,source\nJapan speaks,2020,JPN,x\n"
    nameless = write(tmp_path / "sheet1.csv", body)
    assert_refused(run("import", nameless), [
        f"Error: {nameless}: the header is invalid; nothing imported",
        "line 1: no kind column: add one, name the file after its kind (meetings.csv), "
        "or use --kind"])
    assert ok("import", nameless, "--kind", "announcement").endswith("(1 announcement)")
    named = write(tmp_path / "announcements-2020.csv", body.replace("speaks", "talks"))
    assert ok("import", named).endswith("(1 announcement)")
    mixed = write(tmp_path / "sheet2.csv", "kind,title,date,by,source\n"
                  "announcement,Japan listens,2020,JPN,x\nspeech,Japan sings,2020,JPN,x\n")
    assert_refused(run("import", mixed), [
        f"Error: {mixed}: 1 of 2 rows is invalid; nothing imported",
        "line 3: kind: unknown kind 'speech': use one of format, meeting, announcement, "
        "pledge, update, citation"])


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_kind_cell_other_than_the_kind_option_is_refused(
    tmp_path: Path, events: Path, suffix: str
) -> None:
    """`--kind` is what every row is to be: a row saying otherwise is not taken silently
    as its own kind (a file of pledges imported as meetings by mistake)."""
    rows = [{"kind": "announcement", "title": "Japan speaks", "date": "2020", "by": "JPN",
             "source": "x"},
            {"kind": "Pledge", "title": "Japan gives", "date": "2020", "donor": "JPN",
             "recipient": "KAZ", "amount": "1", "currency": "USD", "source": "x"}]
    path = tmp_path / f"sheet.{suffix}"
    if suffix == "csv":
        write(path, "kind,title,date,by,donor,recipient,amount,currency,source\n"
              + "".join(",".join(row.get(name, "") for name in (
                  "kind", "title", "date", "by", "donor", "recipient", "amount",
                  "currency", "source")) + "\n" for row in rows))
    else:
        write(path, "".join(json.dumps(row) + "\n" for row in rows))
    before = log_bytes(events)
    assert_refused(run("import", str(path), "--kind", "announcement"), [
        f"Error: {path}: 1 of 2 rows is invalid; nothing imported",
        "line 3: kind 'Pledge': not the kind --kind gives (announcement)"
        if suffix == "csv" else
        "line 2: kind 'Pledge': not the kind --kind gives (announcement)"])
    assert log_bytes(events) == before
    assert ok("import", str(path)).endswith("(1 announcement, 1 pledge)")


@pytest.mark.parametrize(("content", "message"), [
    pytest.param("title,date,titel,source\nA,2020,B,x\n",
                 "line 1: unknown column 'titel'", id="unknown-column"),
    pytest.param("title,title,date,source\nA,B,2020,x\n",
                 "line 1: column 'title' appears twice", id="repeated-single-column"),
    pytest.param("title,date,donor,source\nA,2020,JPN,x\n",
                 "line 1: unknown column 'donor'", id="column-of-another-kind"),
], )
def test_header_problems_are_line_1(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "meetings.csv", content)
    assert_refused(run("import", path), [
        f"Error: {path}: the header is invalid; nothing imported", message])


@pytest.mark.parametrize(("content", "message"), [
    pytest.param("kind,title,date,donor,source\nmeeting,A,2020,JPN,x\n",
                 "line 2: donor 'JPN': not a column of a meeting row",
                 id="cell-of-another-kind"),
    pytest.param("kind,title,date,source\nmeeting,A,2020,x,surplus\n",
                 "line 2: 5 cells, but the header names 4 columns", id="too-many-cells"),
    pytest.param("kind,title,date,source\nmeeting,A \x1b[31m,2020,x\n",
                 r"line 2: title: invalid title 'A \x1b[31m': control character U+001B",
                 id="control-character"),
    pytest.param("kind,title,date,source,quote\nmeeting,A,2020,x,said \ufffe\n",
                 r"line 2: quote: invalid quote 'said \ufffe': noncharacter U+FFFE (XML "
                 "forbids it)", id="noncharacter"),
    pytest.param("kind,id,title,date,source\nmeeting,m1,A,2020,x\nmeeting,m1,B,2020,x\n",
                 "line 3: id: key 'm1' is already used on line 2 for other content",
                 id="key-twice"),
    pytest.param("kind,id,title,date,source\nmeeting,m1,A,2020,x\nmeeting,m1,A,2021,x\n",
                 "line 3: id: key 'm1' is already used on line 2 for other content",
                 id="key-twice-another-date"),
    pytest.param("kind,id,title,date,source\nmeeting,01ARZ3NDEKTSV4RRFFQ69G5FA,A,2020,x\n",
                 "line 2: id: invalid id '01ARZ3NDEKTSV4RRFFQ69G5FA': expected a 26-character "
                 "ULID (or a short key of your own, such as m1)", id="truncated-ulid"),
    pytest.param("kind,subject,status,source\nupdate,central-asia-japan,held,x\n",
                 "line 2: subject 'central-asia-japan': central-asia-japan is a format, "
                 "which has no status", id="update-of-a-format"),
    pytest.param("kind,subject,status,source\nupdate,,held,x\n",
                 "line 2: subject: missing subject: the id of the record (or the slug of "
                 "the format)", id="update-without-subject"),
    pytest.param("kind,subject,status,source\nupdate,01ARZ3NDEKTSV4RRFFQ69G5FAV,held,x\n",
                 "line 2: subject: unknown id '01ARZ3NDEKTSV4RRFFQ69G5FAV': not in the log, "
                 "nor on an earlier line", id="update-of-unknown-id"),
    pytest.param("kind,id,title,date,source\nmeeting,m1,A,2020,x\n"
                 "citation,,,,\n",
                 "line 3: subject: missing subject: the id of the record (or the slug of "
                 "the format)", id="citation-without-subject"),
    pytest.param("kind,subject,source\ncitation,01ARZ3NDEKTSV4RRFFQ69G5FAV,x\n",
                 "line 2: subject: unknown id '01ARZ3NDEKTSV4RRFFQ69G5FAV': not in the log, "
                 "nor on an earlier line", id="citation-of-unknown-id"),
    pytest.param("kind,title,date,by,about,source\nannouncement,A,2020,JPN,nothing-here,x\n",
                 "line 2: about: unknown id 'nothing-here': not in the log, nor on an earlier "
                 "line", id="about-unknown"),
    pytest.param("kind,slug,name,source\nformat,central-asia-japan,Again,x\n",
                 "line 2: slug: format 'central-asia-japan' already exists",
                 id="format-exists"),
    pytest.param("kind,slug,name,source\nformat,Bad Slug,Bad,x\n",
                 "line 2: slug: invalid format slug 'Bad Slug': use 2-64 lower-case letters "
                 "and digits, in words joined by single '-'", id="bad-slug"),
    pytest.param("kind,title,date,donor,recipient,amount,currency,source\n"
                 "pledge,A,2020,JPN,Japan,5,JPY,x\n",
                 "line 2: donor 'JPN': donor JPN is also a recipient", id="donor-is-recipient"),
    pytest.param("kind,id,title,date,source\nmeeting,m1,A,2020,x\n"
                 "pledge,,B,2020,x,,,,\n",
                 "line 3: donor: missing donor", id="pledge-without-donor"),
])
def test_a_bad_row_is_one_line_naming_its_line_field_and_value(
    tmp_path: Path, events: Path, japan_format: str, content: str, message: str
) -> None:
    path = write(tmp_path / "rows.csv", content)
    before = log_bytes(events)
    result = run("import", path)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"Error: {path}: ") and lines[0].endswith("; nothing imported")
    assert lines[1:] == [message]
    assert log_bytes(events) == before


def test_jsonl_rows_take_lists_and_booleans_and_report_bad_lines(
    tmp_path: Path, events: Path, db: Path
) -> None:
    path = write(tmp_path / "rows.jsonl", "\n".join([
        json.dumps({"kind": "meeting", "id": "m1", "title": "Talks", "date": "2020",
                    "participant": ["JPN", "KAZ"], "source": "x"}),
        "",
        json.dumps({"kind": "pledge", "title": "Grant", "date": "2020", "donor": "JPN",
                    "recipient": "KAZ", "amount": 1000, "currency": "JPY",
                    "approximate": True, "at": "m1", "source": "x"}),
        '{"kind": "meeting", "title": ',
        json.dumps(["not", "an", "object"]),
        json.dumps({"kind": "meeting", "title": "T", "date": "2020", "topic": [1, 2],
                    "source": "x"}),
        json.dumps({"kind": "meeting", "title": "T", "date": "2020", "colour": "red"}),
    ]) + "\n")
    assert_refused(run("import", path), [
        f"Error: {path}: 4 of 6 rows are invalid; nothing imported",
        "line 4: not valid JSON (unexpected end of data: line 1 column 30 (char 29))",
        "line 5: not a JSON object",
        "line 6: topic: expected text or a list of text",
        "line 7: colour 'red': unknown field"])
    path.write_text("\n".join(path.read_text().splitlines()[:3]) + "\n")
    assert ok("import", path) == f"Imported {path}: appended 2 events (1 meeting, 1 pledge)"
    ok("build")
    assert rows(db, "select amount_text, approximate, meeting_id = (select id from meetings) "
                "as at_meeting from pledges") == [
        {"amount_text": "1000", "approximate": 1, "at_meeting": 1}]


def test_a_jsonl_key_given_twice_is_refused(tmp_path: Path, events: Path, db: Path) -> None:
    """JSON parsers keep the last of two values of a key: a repeated amount or title would
    be taken silently, so the line is refused (as a CSV column given twice is); a `":` in
    a value is no key."""
    pledge = ('{{"kind": "pledge", "title": "P", "date": "2024", "source": "S", "donor": "JPN", '
              '"recipient": "KAZ", {amounts}, "currency": "USD"}}')
    path = write(tmp_path / "rows.jsonl", "\n".join([
        pledge.format(amounts='"amount": "100", "amount": "1000000"'),
        pledge.format(amounts='"amount": "100", "amount" :"100"'),
        '{"kind": "meeting", "title": "A", "date": "2020", "source": "S", "title"\t: "B"}',
        '{"kind": "meeting", "title": "Talks \\"on\\": trade", "date": "2020", "source": "x\\":"}',
    ]) + "\n")
    before = log_bytes(events)
    assert_refused(run("import", path), [
        f"Error: {path}: 3 of 4 rows are invalid; nothing imported",
        "line 1: key 'amount' appears twice",
        "line 2: key 'amount' appears twice",
        "line 3: key 'title' appears twice"])
    assert log_bytes(events) == before
    path.write_text(path.read_text().splitlines()[3] + "\n")
    assert ok("import", path) == f"Imported {path}: appended 1 event (1 meeting)"
    ok("build")
    assert rows(db, "select title from meetings") == [{"title": 'Talks "on": trade'}]


def test_a_jsonl_line_nested_deeper_than_python_reads_is_one_line(
        tmp_path: Path, events: Path) -> None:
    """orjson reads 1,024 levels, Python's json fewer (it re-reads a line with numbers, or
    objects in objects): a RecursionError was a traceback."""
    depth = 1000
    path = write(tmp_path / "rows.jsonl", "\n".join([
        '{"kind": "meeting", "title": ' + '{"a": ' * depth + "1" + "}" * depth + "}",
        '{"kind": "meeting", "n": 1, "title": ' + "[" * depth + "1" + "]" * depth + "}",
    ]) + "\n")
    before = log_bytes(events)
    assert_refused(run("import", path), [
        f"Error: {path}: 2 of 2 rows are invalid; nothing imported",
        "line 1: not valid JSON (nested too deeply)",
        "line 2: not valid JSON (nested too deeply)"])
    assert log_bytes(events) == before


def test_file_level_errors_are_one_line(tmp_path: Path) -> None:
    latin1 = tmp_path / "meetings.csv"
    latin1.write_bytes("title,date,city,country,source\nTalks,2020,Düsseldorf,DEU,x\n"
                       .encode("latin-1"))
    offset = latin1.read_bytes().index(b"\xfc")
    for args, message in [
        ((latin1,), f"Error: {latin1} is not UTF-8 (byte 0xfc at offset {offset}): save it "
                    "as UTF-8 CSV"),
        ((tmp_path / "missing.csv",),
         f"Error: No such file or directory: {tmp_path / 'missing.csv'}"),
        ((write(tmp_path / "empty.csv", ""),), f"Error: {tmp_path / 'empty.csv'} is empty"),
    ]:
        result = run("import", *args)
        assert (result.exit_code, result.stderr) == (1, message + "\n")


def test_a_jsonl_number_is_read_as_written(tmp_path: Path, events: Path, db: Path) -> None:
    """A JSON number keeps its digits (not the float it reads as), and a message names it
    as the file writes it."""
    pledge = ('{{"kind": "pledge", "title": "Grant {0}", "date": "2020", "donor": "JPN", '
              '"recipient": "KAZ", "amount": {0}, "currency": "JPY", "source": "x"}}')
    path = write(tmp_path / "rows.jsonl", "\n".join(pledge.format(amount) for amount in (
        "12345678901234567.89", "100000000000000000000000000000", "1e2", "0.1",
        "123456789012345", "2000000000.50")) + "\n")
    assert_refused(run("import", path), [
        f"Error: {path}: 3 of 6 rows are invalid; nothing imported",
        "line 1: amount: invalid amount '12345678901234567.89': more than 15 significant "
        "digits",
        "line 2: amount: invalid amount '100000000000000000000000000000': more than 15 "
        "significant digits",
        "line 3: amount: invalid amount '1e2': use digits with an optional decimal point"])
    path.write_text("\n".join(path.read_text().splitlines()[3:]) + "\n")
    ok("import", path)
    ok("build")
    assert rows(db, "select amount_text from pledges order by title") == [
        {"amount_text": "0.1"}, {"amount_text": "123456789012345"},
        {"amount_text": "2000000000.5"}]


def test_an_export_of_no_records_imports_as_nothing(tmp_path: Path, events: Path) -> None:
    """Every record retracted: the JSON Lines export is empty (no rows), the CSV one a
    header; both import into an empty log as nothing, which stays empty."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2020", *SOURCE)
    ok("retract", meeting, "--reason", "a duplicate")
    jsonl, csv = tmp_path / "none.jsonl", tmp_path / "none.csv"
    jsonl.write_text(ok("export"))
    csv.write_text(ok("export", "--format", "csv") + "\n")
    assert jsonl.read_text() == ""
    other = tmp_path / "other"
    for path in (jsonl, csv):
        assert ok("--events", str(other), "import", str(path)) == (
            f"Imported {path}: nothing new to append")
    assert not other.exists()


# -- ids, references and idempotency ----------------------------------------------------


def test_rows_refer_to_earlier_rows_by_key_and_to_existing_records(
    tmp_path: Path, events: Path, db: Path, japan_format: str
) -> None:
    existing = ok("add", "meeting", "--title", "Earlier meeting", "--date", "2019", *SOURCE)
    path = write(tmp_path / "rows.csv", f"""\
kind,id,subject,title,date,status,format,by,about,donor,recipient,amount,currency,at,source
meeting,summit,,Summit,2024-08,scheduled,{japan_format},,,,,,,,x
pledge,grant,,Grant,2024-08,,,,,JPN,KAZ,100,USD,summit,x
pledge,,,Grant at the earlier meeting,2019,,,,,JPN,UZB,5,USD,{existing.lower()},x
announcement,,,Japan welcomes both,2024-08,,,JPN,summit; grant; {existing}; {japan_format},,,,,,x
update,,summit,,2024-08-09,postponed,,,,,,,,,x
citation,,grant,,,,,,,,,,,,Another report
""")
    ok("import", path)
    ok("verify")
    ok("build")
    [summit] = rows(db, "select id, status, format from meetings where title = 'Summit'")
    assert (summit["status"], summit["format"]) == ("postponed", japan_format)
    assert summit["id"] == derived_id("meeting", {}, {"date": "2024-08", "source": {}}, "summit")
    assert summit["id"][10:] == key_suffix("summit")
    [grant] = rows(db, "select id, meeting_id from pledges where title = 'Grant'")
    assert grant["meeting_id"] == summit["id"]
    assert rows(db, "select meeting_id from pledges where title like '%earlier%'") == [
        {"meeting_id": existing}]
    assert rows(db, "select subject from announcement_about order by rowid") == [
        {"subject": summit["id"]}, {"subject": grant["id"]}, {"subject": existing},
        {"subject": japan_format}]
    assert rows(db, "select subject, kind from sources where citation = 'Another report'") == [
        {"subject": grant["id"], "kind": "citation"}]
    # A later file finds a key of this import by its id's random part.
    later = write(tmp_path / "citations.csv", "subject,source\nsummit,Third report\n")
    ok("import", later)
    ok("build")
    assert rows(db, "select subject from sources where citation = 'Third report'") == [
        {"subject": summit["id"]}]


def test_a_reference_to_a_later_row_is_refused(tmp_path: Path, events: Path) -> None:
    path = write(tmp_path / "rows.csv", """\
kind,id,title,date,donor,recipient,amount,currency,at,source
pledge,,Grant,2024-08,JPN,KAZ,100,USD,summit,x
meeting,summit,Summit,2024-08,,,,,,x
""")
    assert_refused(run("import", path), [
        f"Error: {path}: 1 of 2 rows is invalid; nothing imported",
        "line 2: at: unknown id or key 'summit': not in the log, nor on an earlier line"])


def test_ids_are_kept_keyed_or_derived_from_the_row(tmp_path: Path, events: Path) -> None:
    own = "01J45KS000AAAAAAAAAAAAAAAA"
    path = write(tmp_path / "meetings.csv", f"""\
id,title,date,source,published
{own.lower()},Own id,2024-08,x,
k1,Keyed,1965,x,
,Derived,2024-08-15,x,
""")
    records = json.loads(ok("import", path, "--json"))["records"]
    assert [(record["id"], record["state"]) for record in records] == [
        (own, "new"),
        ("0000000000" + key_suffix("k1"), "new"),  # before 1970: time part 0
        (records[2]["id"], "new")]
    assert records[1]["key"] == "k1"
    assert envelope.id_milliseconds(records[2]["id"]) == int(
        datetime(2024, 8, 15, tzinfo=timezone.utc).timestamp() * 1000)
    assert envelope.id_milliseconds(records[1]["id"]) == 0
    assert [event["id"] for event in events_of(events)] == [record["id"] for record in records]
    again = json.loads(ok("import", path, "--json"))
    assert [record["state"] for record in again["records"]] == ["present"] * 3
    assert (again["appended"], again["already_in_log"]) == (0, 3)


def test_json_says_why_an_import_was_refused(tmp_path: Path, events: Path) -> None:
    """--json: the outcome for a script whether the file imports or not (stderr as
    without it, exit 1, nothing written)."""
    path = write(tmp_path / "meetings.csv", "title,date,source\nTalks,2019-02-30,x\n"
                                            "More,2019,\nFine,2019,x\n")
    plain = run("import", path)
    result = run("import", path, "--json")
    assert (result.exit_code, result.stderr) == (1, plain.stderr)
    summary = f"{path}: 2 of 3 rows are invalid; nothing imported"
    assert json.loads(result.stdout) == {
        "file": str(path), "ok": False, "error": summary, "problems": [
            {"line": 2, "column": "date", "value": "2019-02-30",
             "message": "invalid date '2019-02-30': 2019-02 has 28 days",
             "text": "line 2: date: invalid date '2019-02-30': 2019-02 has 28 days"},
            {"line": 3, "column": "source", "value": None,
             "message": "missing source: every record needs a URL or citation",
             "text": "line 3: source: missing source: every record needs a URL or citation"}]}
    assert plain.stderr == f"Error: {summary}\n" + "".join(
        f"{problem['text']}\n" for problem in json.loads(result.stdout)["problems"])
    # A value of several items is given as the file gives it: a CSV cell's text (the
    # cells of a repeated column as one cell), a JSON Lines row's array or text.
    unknown = ("unknown actor 'Atlantis': use an ISO 3166 country name or code, or an "
               "organisation code such as EU, UN, SCO")
    csv_file = write(tmp_path / "meetings.csv",
                     "title,date,participant,participant,topic,source\n"
                     "Talks,2019,JPN; Atlantis,,trade\\; customs,x\n"
                     "More,2019,JPN,Atlantis,,x\n")
    jsonl_file = write(tmp_path / "meetings.jsonl",
                       '{"title": "Talks", "date": "2019", "participant": ["JPN", "Atlantis"], '
                       '"source": "x"}\n'
                       '{"title": "More", "date": "2019", "participant": "Atlantis", '
                       '"source": "x"}\n')
    given = [[(problem["value"], problem["text"]) for problem in
              json.loads(run("import", path, "--json").stdout)["problems"]]
             for path in (csv_file, jsonl_file)]
    assert given == [
        [("JPN; Atlantis", f"line 2: participant 'JPN; Atlantis': {unknown}"),
         ("JPN; Atlantis", f"line 3: participant 'JPN; Atlantis': {unknown}")],
        [(["JPN", "Atlantis"], f"line 1: participant 'JPN; Atlantis': {unknown}"),
         ("Atlantis", f"line 2: participant: {unknown}")]]
    assert log_bytes(events) == {}
    missing = run("import", str(tmp_path / "nope.csv"), "--json")
    message = f"No such file or directory: {tmp_path / 'nope.csv'}"
    assert (missing.exit_code, json.loads(missing.stdout), missing.stderr) == (1, {
        "file": str(tmp_path / "nope.csv"), "ok": False, "error": message, "problems": []},
        f"Error: {message}\n")
    lines = run("import", str(tmp_path / "no\nsuch.csv"), "--json")  # still one line
    assert (lines.exit_code, lines.stderr) == (
        1, f"Error: No such file or directory: {tmp_path / 'no'} such.csv\n")
    assert json.loads(lines.stdout)["error"] == lines.stderr[7:-1]
    assert not events.exists()
    path.write_text("title,date,source\nFine,2019,x\n")
    assert json.loads(ok("import", path, "--json"))["ok"] is True


def test_the_same_id_with_other_content_is_refused(tmp_path: Path, events: Path) -> None:
    path = write(tmp_path / "meetings.csv", "id,title,date,source\nk1,Talks,2020,x\n")
    ok("import", path)
    before = log_bytes(events)
    write(path, "id,title,date,source\nk1,Talks (corrected),2020,x\n")
    assert_refused(run("import", path), [
        f"Error: {path}: 1 of 1 row is invalid; nothing imported",
        f"line 2: id 'k1': id {events_of(events)[0]['id']} is already in the log with "
        "other content; to correct a record, use tracker amend"])
    write(path, "id,title,date,source\nk1,Talks,2021,x\n")
    assert_refused(run("import", path), [
        f"Error: {path}: 1 of 1 row is invalid; nothing imported",
        f"line 2: id: key 'k1' already names {events_of(events)[0]['id']} in the log "
        "(imported earlier with other content)"])
    assert log_bytes(events) == before


def test_identical_rows_are_imported_once_with_a_note(tmp_path: Path, events: Path) -> None:
    path = write(tmp_path / "citations.csv", "subject,source\n"
                 "central-asia-japan,Report\ncentral-asia-japan,Report\n")
    ok("add", "format", "central-asia-japan", "--name", "CA+J", *SOURCE)
    assert ok("import", path) == (f"Imported {path}: appended 1 event (1 citation); "
                                  "1 row repeating an earlier row")


def test_a_row_with_a_key_repeated_exactly_is_imported_once(tmp_path: Path,
                                                            events: Path) -> None:
    """As any row repeated exactly (an export concatenated twice, say): its key names
    the one record, and later rows refer to it."""
    path = write(tmp_path / "meetings.csv", "kind,id,title,date,source,at,donor,recipient,"
                 "amount,currency\nmeeting,m1,Talks,2020,x,,,,,\nmeeting,m1,Talks,2020,x,,,,,\n"
                 "pledge,,Grant,2020,x,m1,JPN,KAZ,5,JPY\n")
    assert ok("import", path) == (f"Imported {path}: appended 2 events (1 meeting, 1 pledge); "
                                  "1 row repeating an earlier row")
    meeting, pledge = events_of(events)
    assert (meeting["data"]["title"], pledge["data"]["meeting_id"]) == ("Talks", meeting["id"])


def test_rows_get_the_date_rules_of_the_commands(tmp_path: Path, events: Path) -> None:
    """A pledge or announcement dated after today is refused; a pledge dated off the
    meeting it was made at, and a meeting postponed to an earlier date, are warned of,
    naming their lines."""
    refused = write(tmp_path / "future.csv", "kind,title,date,by,source\n"
                    "announcement,Said,2999,JPN,x\n")
    assert_refused(run("import", refused), [
        f"Error: {refused}: 1 of 1 row is invalid; nothing imported",
        "line 2: date '2999': date 2999 is after today: an announcement records what was "
        "said"])
    assert not events.exists()
    path = write(tmp_path / "rows.csv", "kind,id,subject,title,date,status,to,at,donor,"
                 "recipient,amount,currency,source\n"
                 "meeting,m1,,Talks,2019-05,,,,,,,,x\n"
                 "pledge,,,Grant,2020,,,m1,JPN,KAZ,5,JPY,x\n"
                 "meeting,m2,,Summit,2999,scheduled,,,,,,,x\n"
                 "update,,m2,,,postponed,2998,,,,,,x\n")
    result = run("import", path)
    assert result.exit_code == 0, result.output
    meeting, _pledge, _summit, _update = events_of(events)
    assert result.stderr.splitlines() == [
        "Warning: line 3: date 2020 is not within 2019-05, the date of the meeting it was "
        f"pledged at (at {meeting['id']}): a pledge made at a meeting is dated as it is",
        "Warning: line 5: status postponed to 2998 is before the meeting's date 2999: a "
        "meeting postponed is put off to a later date (one brought forward is status "
        "scheduled to DATE)"]


def test_warnings_are_grouped_and_the_rows_imported(tmp_path: Path, db: Path) -> None:
    """Options are named as columns in a row's warning, but not in a command it suggests:
    that stays as `tracker places` takes it."""
    path = write(tmp_path / "meetings.csv", "title,date,city,country,source\n"
                 "A,2020,Nur-Sultan,KAZ,x\nB,2020,Nur-Sultan,KAZ,x\nC,2020,Atlantis City,KAZ,x\n"
                 "D,2020,Springfield,USA,x\n")
    result = run("import", path)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "Warning: line 2 (and 1 more row): city 'Nur-Sultan' recorded as Astana (GeoNames "
        "1526273); the name given is kept in city_as_given",
        "Warning: line 4: city 'Atlantis City' not found in KAZ: recorded without coordinates",
        "Warning: line 5: city 'Springfield' names 20 places in USA: recorded as Springfield "
        "(MO, population 170188, GeoNames 4409896), the largest; to choose another, give its "
        "geonameid (tracker places Springfield --country USA lists them)"]
    ok("build")
    assert rows(db, "select city, city_as_given from meetings order by title") == [
        {"city": "Astana", "city_as_given": "Nur-Sultan"},
        {"city": "Astana", "city_as_given": "Nur-Sultan"},
        {"city": "Atlantis City", "city_as_given": None},
        {"city": "Springfield", "city_as_given": None}]


def test_update_rows_are_warned_about_as_tracker_update_warns(tmp_path: Path, db: Path) -> None:
    """The warnings of `tracker update` come from the same place for an update row, each
    naming its line and columns: against the earlier new rows of the file, else the log."""
    path = write(tmp_path / "rows.csv", (
        "kind,id,title,date,donor,recipient,amount,currency,subject,status,source\n"
        "pledge,p1,Grant,2025-10,KOR,UZB,1500000,USD,,,https://a\n"
        "update,u1,,2026-01,,,3000000,,p1,disbursed,https://b\n"
        "update,u2,,2026-02,,,1000000,,p1,disbursed,https://c\n"
        "update,u3,,2025-09,,,1200000,,p1,disbursed,https://d\n"))
    result = run("import", path)
    assert (result.exit_code, result.stdout) == (
        0, f"Imported {path}: appended 4 events (1 pledge, 3 updates)\n")
    assert result.stderr.splitlines() == [
        "Warning: line 3: amount 3000000 is more than the 1500000 USD pledged",
        "Warning: line 4: amount 1000000 is less than the 3000000 disbursed before: amount is "
        "the cumulative amount disbursed so far, not the new payment",
        "Warning: line 5: status disbursed date 2025-09 is before the pledge's date 2025-10: "
        "if the pledge's date is wrong, amend it"]
    assert run("import", path).stderr == ""  # nothing new: nothing to warn about
    pledge = json.loads(ok("import", path, "--json"))["records"][0]["id"]
    more = write(tmp_path / "more.csv", "subject,status,amount,date,source\n"
                 f"{pledge},disbursed,1100000,2026-05,https://e\n"
                 f"{pledge},disbursed,1600000,2026-06,https://f\n")
    result = run("import", more, "--kind", "update", "--dry-run")
    assert (result.exit_code, result.stderr.splitlines()) == (0, [  # the log's pledge
        "Warning: line 2: amount 1100000 is less than the 1200000 disbursed before: amount is "
        "the cumulative amount disbursed so far, not the new payment",
        "Warning: line 3: amount 1600000 is more than the 1500000 USD pledged"])
    ok("build")
    assert rows(db, "select status, disbursed_amount from pledges") == [
        {"status": "disbursed", "disbursed_amount": 1200000}]


def test_rare_sequences_of_statuses_in_rows_are_warned_about(tmp_path: Path) -> None:
    """A pledge withdrawn then disbursed, or fulfilled with part of it disbursed, and a
    meeting cancelled then held: warned about as `tracker update` warns."""
    path = write(tmp_path / "rows.csv", (
        "kind,id,title,date,donor,recipient,amount,currency,subject,status,source\n"
        "pledge,p1,Loan,2021,JPN,UZB,100,USD,,,https://a\n"
        "update,,,2022,,,,,p1,withdrawn,https://b\n"
        "update,,,2023,,,10,,p1,disbursed,https://c\n"
        "update,,,2024,,,,,p1,fulfilled,https://d\n"
        "meeting,m1,Summit,2026-05-14,,,,,,scheduled,https://e\n"
        "update,,,2026-05-01,,,,,m1,cancelled,https://f\n"
        "update,,,2026-05-14,,,,,m1,held,https://g\n"))
    result = run("import", path)
    assert (result.exit_code, result.stderr.splitlines()) == (0, [
        "Warning: line 4: status disbursed after the pledge was withdrawn: a pledge withdrawn "
        "is rarely paid after all; check that it was withdrawn",
        "Warning: line 5: status fulfilled with 10 of the 100 USD pledged disbursed: if more "
        "was disbursed, record the cumulative amount with status disbursed",
        "Warning: line 8: status held after the meeting was cancelled: a meeting cancelled "
        "is rarely held after all; check that it was cancelled"])


def test_a_point_before_three_digits_is_warned_of_on_its_line(tmp_path: Path) -> None:
    csv_file = write(tmp_path / "pledges.csv", "kind,title,date,donor,recipient,amount,"
                     "currency,source\npledge,A,2025,KOR,KAZ,1.000,USD,x\n"
                     "pledge,B,2025,KOR,KAZ,1.5,USD,x\n")
    jsonl_file = write(tmp_path / "pledges.jsonl", json.dumps(
        {"kind": "pledge", "title": "C", "date": "2025", "donor": "KOR", "recipient": "KAZ",
         "currency": "USD", "source": "x"})[:-1] + ', "amount": 2.500}\n')
    assert run("import", csv_file).stderr == (
        "Warning: line 2: amount 1.000 is read as 1 (a point is a decimal point; 1000 is "
        "written 1000 or 1,000)\n")
    assert run("import", jsonl_file).stderr == (
        "Warning: line 1: amount 2.500 is read as 2.5 (a point is a decimal point; 2500 is "
        "written 2500 or 2,500)\n")


def test_a_meeting_row_without_status_stays_present_when_the_default_would_change(
    tmp_path: Path, events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default status depends on the day of import: a keyed row compares the rest."""
    path = write(tmp_path / "meetings.csv", "id,title,date,source\nk1,Talks,2030,x\n")
    ok("import", path)
    [event] = events_of(events)
    assert event["data"]["status"] == "scheduled"
    before = log_bytes(events)
    monkeypatch.setattr("tracker.model.today", lambda: "2031-06-01")  # the meeting is past
    assert ok("import", path) == (f"Imported {path}: nothing new to append; 1 row already "
                                  "in the log")
    assert log_bytes(events) == before


# -- writing: one session, crash recovery, progress ----------------------------------------


def write_template_rows(path: Path, count: int) -> Path:
    lines = ["kind,id,subject,title,date,source"]
    for number in range(count):
        if number % 2 == 0:
            lines.append(f"meeting,m{number},,Meeting {number},2020-01-{1 + number % 28:02d},"
                         f"https://example.org/{number}")
        else:
            lines.append(f"citation,,m{number - 1},,,Report {number}")
    return write(path, "\n".join(lines) + "\n")


CRASH = """
import os, signal, sys
from tracker import log
from tracker.importer import import_file
log.WRITE_CHUNK = 2000
chunks = []
real_append = log._OpenSegment.append
def append(self, data):
    chunks.append(len(data))
    if len(chunks) == 3:
        os.write(self.fd, data[: len(data) // 2])  # a torn line, then the process dies
        os.kill(os.getpid(), signal.SIGKILL)
    real_append(self, data)
log._OpenSegment.append = append
import_file(log.EventLog(sys.argv[1]), sys.argv[2])
"""


def test_a_crash_part_way_is_completed_by_running_the_same_import_again(
    tmp_path: Path, events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process is killed (SIGKILL) in the middle of a write: re-running the same
    import quarantines the torn line and appends exactly the rest."""
    monkeypatch.setenv("TRACKER_WRITER", "w1")
    path = write_template_rows(tmp_path / "rows.csv", 60)
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(events), str(path)],
                             cwd=PROJECT)
    assert crashed.returncode == -9
    [segment] = events.glob("w1/*.jsonl")
    written = segment.read_bytes()
    assert not written.endswith(b"\n")  # a torn last line
    complete = written.count(b"\n")
    assert 0 < complete < 60
    assert "incomplete line" in run("verify").stderr
    result = run("import", path)
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"Imported {path}: appended {60 - complete} events "
                             f"({30 - complete // 2 - complete % 2} meetings, "
                             f"{30 - complete // 2} citations); {complete} rows already in "
                             "the log\n")
    assert ok("verify") == "OK: 60 events in 1 file"
    assert len(list((events / ".quarantine" / "w1").iterdir())) == 1
    # The completed log holds exactly the events of an import that never crashed.
    clean = tmp_path / "clean"
    ok("--events", clean, "import", path)
    assert ({event["id"] for event in events_of(events)}
            == {event["id"] for event in events_of(clean)})
    assert ok("import", path) == (f"Imported {path}: nothing new to append; 60 rows "
                                  "already in the log")


def run_import_on(stderr_is_a_terminal: bool, path: Path, events: Path) -> str:
    """Run `tracker import` in a subprocess; return what it wrote on stderr."""
    command = [sys.executable, "-m", "tracker", "--events", str(events), "import", str(path)]
    if not stderr_is_a_terminal:
        result = subprocess.run(command, capture_output=True, text=True, check=True,
                                cwd=PROJECT)
        return result.stderr
    return stderr_on_terminal(command, PROJECT)


def test_a_progress_bar_on_a_terminal_for_big_files_only(tmp_path: Path) -> None:
    big = write_template_rows(tmp_path / "big.csv", 3000)
    shown_on_terminal = run_import_on(True, big, tmp_path / "a")
    assert "Checking" in shown_on_terminal and "Writing" in shown_on_terminal
    assert "3000/3000" in shown_on_terminal
    assert run_import_on(False, big, tmp_path / "b") == ""
    small = write_template_rows(tmp_path / "small.csv", 100)
    assert run_import_on(True, small, tmp_path / "c") == ""


# -- templates and documentation --------------------------------------------------------------


def test_the_templates_import_in_order_into_an_empty_log(db: Path) -> None:
    for name in TEMPLATE_ORDER:
        result = run("import", EXAMPLES / f"{name}.csv")
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
    ok("verify")
    ok("build")
    assert rows(db, "select title, status from meetings order by date_start") == [
        {"title": "9th Central Asia + Japan foreign ministers' meeting", "status": "held"},
        {"title": "1st Central Asia + Japan summit", "status": "postponed"}]
    assert rows(db, "select status, disbursed_amount_text from pledges") == [
        {"status": "disbursed", "disbursed_amount_text": "500000000"}]
    assert rows(db, "select count(*) as n from sources") == [{"n": 8}]


def test_the_readme_documents_every_column_of_every_kind() -> None:
    from tracker.rowformat import ROW_KINDS, SOURCE_COLUMNS, columns

    readme = (PROJECT / "README.md").read_text()
    section = readme.split("\n## Import and export", 1)[1].split("\n## ", 1)[0]
    for kind in ROW_KINDS:
        match = re.search(rf"^\| `{kind}` \| (.+) \|$", section, re.MULTILINE)
        assert match, kind
        listed = re.findall(r"`(\w+)`", match[1])
        assert listed == [column for column in columns(kind)
                          if column != "id" and column not in SOURCE_COLUMNS], kind
    assert "`id`, `source`, `publisher`, `published` and `quote`" in section
    for name in TEMPLATE_ORDER:
        assert f"examples/import/{name}.csv" in section


def test_import_and_export_have_help_with_examples() -> None:
    for command, options in (("import", ("--kind", "--dry-run", "--json")),
                             ("export", ("--format", "--type"))):
        help_text = ok(command, "--help")
        example = help_text.split("Example:", 1)[1].strip().splitlines()[0].strip()
        assert example.startswith(f"tracker {command}")
        for option in options:
            assert f"  {option} " in help_text, option


def test_stdin_is_read_for_dash(events: Path, db: Path) -> None:
    from click.testing import CliRunner

    from tracker.cli import cli

    body = json.dumps({"kind": "meeting", "title": "Talks", "date": "2020", "source": "x"})
    result = CliRunner().invoke(cli, ["import", "-"], input=body + "\n")
    assert (result.exit_code, result.stdout) == (
        0, "Imported -: appended 1 event (1 meeting)\n")


def test_imported_events_sort_after_the_records_they_refer_to(
    tmp_path: Path, events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer's clock runs ahead: the import still sorts after what it cites."""
    from tracker import envelope
    from tracker.log import EventLog
    from tracker.model import draft_record

    draft = draft_record("meeting", {"title": "Ahead", "date": "2020", "source": "x"})
    ahead = "2999-01-01T00:00:00.000000Z"
    with EventLog(events, writer="fast").session() as appender:
        appender.write({"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "type": draft.type,
                        "schema": envelope.SCHEMA, "subject": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                        "recorded_at": ahead, "recorded_by": "t", "data": draft.data})
    monkeypatch.setenv("TRACKER_WRITER", "slow")
    path = write(tmp_path / "citations.csv",
                 "subject,source\n01ARZ3NDEKTSV4RRFFQ69G5FAV,A\n01ARZ3NDEKTSV4RRFFQ69G5FAV,B\n")
    ok("import", path)
    imported = [event for event in events_of(events) if event["writer"] == "slow"]
    assert [event["recorded_at"] for event in imported] == [
        "2999-01-01T00:00:00.000001Z", "2999-01-01T00:00:00.000002Z"]
    assert ok("verify") == "OK: 3 events in 2 files"


def test_a_writer_that_comes_first_is_seen_before_writing(tmp_path: Path, events: Path) -> None:
    """Between the check and the lock another clone records the same format slug: the
    import checks again under the lock and refuses, writing nothing."""
    from tracker.importer import ImportRefused, import_file
    from tracker.log import EventLog
    from tracker.model import draft_record
    from tracker.recorder import record

    class Racing(EventLog):
        def session(self):
            record(EventLog(events, writer="other"), draft_record(
                "format", {"slug": "central-asia-japan", "name": "First", "source": "x"}))
            return super().session()

    path = write(tmp_path / "formats.csv", "slug,name,source\ncentral-asia-japan,Mine,x\n")
    log = Racing(events, writer="mine")
    with pytest.raises(ImportRefused) as refused:
        import_file(log, str(path))
    assert [str(problem) for problem in refused.value.problems] == [
        "line 2: slug: format 'central-asia-japan' already exists"]
    assert list(events.glob("*/*.jsonl")) == [next(events.glob("other/*.jsonl"))]


def test_write_many_appends_in_order_across_segments_with_gapless_seq(events: Path) -> None:
    from tracker import envelope
    from tracker.log import EventLog
    from tracker.model import draft_record

    def fields(number: int, recorded_at: str) -> dict:
        draft = draft_record("meeting", {"title": f"M{number}", "date": "2020", "source": "x"})
        event_id = f"01ARZ3NDEKTSV4RRFFQ69G5F{number:02d}"
        return {"id": event_id, "type": draft.type, "schema": envelope.SCHEMA,
                "subject": event_id, "recorded_at": recorded_at, "recorded_by": "t",
                "data": draft.data}

    log = EventLog(events, writer="w")
    with log.session() as appender:
        appender.write(fields(0, "2026-10-31T23:59:59.999990Z"))
        counted = []
        assert appender.write_many([fields(1, "2026-10-31T23:59:59.999999Z"),
                                    fields(2, "2026-11-01T00:00:00.000000Z"),
                                    fields(3, "2026-11-01T00:00:00.000001Z")],
                                   counted.append) == 3
        assert counted == [1, 2]  # one chunk per segment
        with pytest.raises(TrackerError, match=re.escape(
                "recorded_at 2026-10-01T00:00:00.000000Z is before the last event of writer w "
                "(2026-11-01T00:00:00.000002Z): a writer's events go forward in time")):
            appender.write_many([fields(4, "2026-11-01T00:00:00.000002Z"),
                                 fields(5, "2026-10-01T00:00:00.000000Z")])
        assert appender.seq == 4  # neither line of the refused batch was written
    assert {path.name: [event["seq"] for event in map(json.loads, path.read_text().splitlines())]
            for path in events.glob("w/*.jsonl")} == {"2026-10.jsonl": [1, 2],
                                                      "2026-11.jsonl": [3, 4]}
    assert ok("verify") == "OK: 4 events in 2 files"


def test_a_row_still_matches_its_record_after_an_amendment(tmp_path: Path, events: Path) -> None:
    path = write(tmp_path / "meetings.csv", "id,title,date,source\nk1,Talks,2020,x\n")
    [record] = json.loads(ok("import", path, "--json"))["records"]
    ok("amend", record["id"], "--set", "title=Talks in Tashkent", "--reason", "more exact")
    assert ok("import", path).endswith("1 row already in the log")
    amended = write(tmp_path / "meetings-amended.csv",
                    "id,title,date,source\nk1,Talks in Tashkent,2020,x\n")
    assert ok("import", amended).endswith("1 row already in the log")
    other = write(tmp_path / "meetings-other.csv",
                  "id,title,date,source\nk1,Talks in Almaty,2020,x\n")
    assert_refused(run("import", other), [
        f"Error: {other}: 1 of 1 row is invalid; nothing imported",
        f"line 2: id 'k1': id {record['id']} is already in the log with other content; "
        "to correct a record, use tracker amend"])
    ok("retract", record["id"], "--reason", "never happened")
    cite = write(tmp_path / "citations.csv", "subject,source\nk1,Another report\n")
    assert_refused(run("import", cite), [
        f"Error: {cite}: 1 of 1 row is invalid; nothing imported",
        f"line 2: subject 'k1': {record['id']} was retracted"])
    assert [event["type"] for event in events_of(events)] == [
        "meeting.recorded", "record.amended", "record.retracted"]


def test_an_import_takes_a_source_published_after_today(events: Path, tmp_path: Path) -> None:
    """`tracker cite --published 2999` is refused, but an import takes the events of
    another log as they were recorded (an export of an older log can hold such a date)."""
    ok("add", "format", "central-asia-gulf", "--name", "Central Asia + GCC", *SOURCE)
    refused = run("cite", "central-asia-gulf", "--source", "A report", "--published", "2999")
    assert (refused.exit_code, refused.stderr) == (
        1, "Error: --published 2999 is after today: a source is cited once published\n")
    path = write(tmp_path / "rows.jsonl", json.dumps(
        {"kind": "citation", "subject": "central-asia-gulf", "source": "A report",
         "published": "2999"}) + "\n")
    assert ok("import", path) == f"Imported {path}: appended 1 event (1 citation)"
    ok("build")
    assert rows(tmp_path / "tracker.db", "select published from sources "
                "where kind = 'citation'") == [{"published": "2999"}]



def test_a_revision_row_revises_the_pledge_for_the_rows_after_it(tmp_path: Path,
                                                                  db: Path) -> None:
    """As `tracker update` does: the revision's amount is the pledge's, not an amount
    disbursed (150 disbursed after it is neither less than before nor more than pledged),
    and it is warned about as the CLI warns (below what was disbursed already)."""
    updates = [("disbursed", "50"), ("pledged", "200"), ("disbursed", "150"),
               ("pledged", "120")]
    path = write(tmp_path / "pledges.csv", "".join([
        "kind,id,subject,title,date,donor,recipient,amount,currency,status,source\n",
        "pledge,p1,,Grant,2024,JPN,KAZ,100,USD,,https://a\n",
        *(f"update,,p1,,,,,{amount},,{status},https://u{number}\n"
          for number, (status, amount) in enumerate(updates))]))
    result = run("import", path)
    assert (result.exit_code, result.stderr.splitlines()) == (0, [
        "Warning: line 6: amount 120 is less than the 150 USD disbursed already: a pledge "
        "revised is rarely cut below what was paid"])
    ok("build")
    assert rows(db, "select amount_text, status, disbursed_amount_text from pledges") == [
        {"amount_text": "120", "status": "pledged", "disbursed_amount_text": "150"}]
