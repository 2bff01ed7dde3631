"""The projection: deterministic, a function of the set of events, atomic."""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.build import build, is_stale
from tracker.log import EventLog
from tracker.projection import COLUMNS, NULL, Projector, refused_a_value
from tracker.schema import AMOUNT, TABLES

from .conftest import PROJECT, SOURCE, ok, rows, run


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every table and view (including full-text indexes), rows in storage order."""
    with closing(sqlite3.connect(db)) as conn:
        names = [name for (name,) in conn.execute(
            "select name from sqlite_master where type in ('table', 'view') "
            "and name not like 'sqlite_%' and name != 'build_info' order by name")]
        contents = {}
        for name in names:
            is_view = conn.execute("select type from sqlite_master where name = ?",
                                   (name,)).fetchone()[0] == "view"
            order = "" if is_view else " order by rowid"
            if name.endswith(("_fts_data", "_fts_idx", "_fts_docsize", "_fts_config")):
                order = ""
            contents[name] = conn.execute(f"select * from [{name}]{order}").fetchall()
        return contents


@pytest.fixture
def mixed_log(events: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log of three writers with every kind of event."""
    monkeypatch.setenv("TRACKER_WRITER", "alice")
    fmt = ok("add", "format", "central-asia-japan", "--name", "Central Asia + Japan",
             "--member", "JPN,KAZ,KGZ,TJK,TKM,UZB", "--launched", "2004", *SOURCE)
    meeting = ok("add", "meeting", "--title", "Ministers meet in Ashgabat", "--date", "2017-05",
                 "--status", "scheduled", "--format", fmt, "--level", "ministerial",
                 "--city", "Ashgabat", "--country", "TKM", "--participant", "JPN,TKM", *SOURCE)
    monkeypatch.setenv("TRACKER_WRITER", "bob")
    pledge = ok("add", "pledge", "--title", "Grant", "--date", "2020", "--donor", "JPN",
                "--recipient", "KAZ,KGZ,TJK,TKM,UZB", "--amount", "2000000000",
                "--currency", "JPY", "--approximate", "--at", meeting, *SOURCE)
    ok("add", "announcement", "--title", "Japan welcomes", "--date", "2020-08-11",
       "--by", "JPN", "--about", meeting, *SOURCE)
    ok("update", pledge, "--status", "disbursed", "--amount", "10.5", *SOURCE)
    monkeypatch.setenv("TRACKER_WRITER", "carol")
    ok("update", pledge, "--status", "disbursed", "--amount", "20", *SOURCE)
    ok("update", meeting, "--status", "held", *SOURCE)
    ok("cite", meeting, "--source", "Another report", "--quote", "in Ashgabat")
    summit = ok("add", "meeting", "--title", "Summit", "--date", "2999-08", "--city", "Astana",
                "--country", "KAZ", *SOURCE)
    ok("update", summit, "--status", "postponed", *SOURCE)
    return events


def test_two_builds_are_identical(mixed_log: Path, db: Path, tmp_path: Path) -> None:
    ok("build")
    first = dump(db)
    ok("build", "--db", tmp_path / "second.db")
    assert dump(tmp_path / "second.db") == first
    assert rows(db, "select status, disbursed_amount from pledges") == [
        {"status": "disbursed", "disbursed_amount": 20}]
    assert len(first["events"]) == 10


def test_writing_after_every_event_gives_the_same_database(
    mixed_log: Path, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows wait in buffers between writes: where the writes fall changes nothing."""
    ok("build")
    monkeypatch.setattr(Projector, "FLUSH_EVERY", 1)
    build(EventLog(mixed_log), tmp_path / "unbuffered.db")
    assert dump(tmp_path / "unbuffered.db") == dump(db)


def test_a_closed_database_is_not_blamed_on_the_log(tmp_path: Path) -> None:
    """SQLite raises a ProgrammingError for a value it cannot bind (an event `tracker
    verify` refuses) and for a closed connection: only the first says "run tracker
    verify"."""
    conn = sqlite3.connect(tmp_path / "closed.db")
    projector = Projector(conn)
    projector.insert_values("events", ("x",) * len(COLUMNS["events"]), "x")
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        projector.flush()
    assert refused_a_value(sqlite3.ProgrammingError(
        "Error binding parameter 1: type 'list' is not supported"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), files=st.integers(1, 6), spread=st.booleans())
def test_projection_ignores_order_of_lines_and_files(
    mixed_log: Path, tmp_path: Path, seed: int, files: int, spread: bool
) -> None:
    """Shuffle every line into random files, in random order: the same projection."""
    reference = tmp_path / "reference.db"
    if not reference.exists():
        build(EventLog(mixed_log), reference)
    shuffler = random.Random(seed)
    lines = [line for path in mixed_log.glob("*/*.jsonl")
             for line in path.read_bytes().splitlines(keepends=True)]
    shuffler.shuffle(lines)
    with tempfile.TemporaryDirectory() as scratch:
        shuffled = Path(scratch) / "events"
        for number, line in enumerate(lines):
            folder = f"w{shuffler.randrange(files)}" if spread else "w0"
            target = shuffled / folder / f"{shuffler.randrange(files):04d}.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "ab") as file:
                file.write(line)
            assert number < len(lines)
        database = Path(scratch) / "shuffled.db"
        build(EventLog(shuffled), database)
        assert dump(database) == dump(reference)


def test_duplicated_lines_project_once(mixed_log: Path, db: Path, tmp_path: Path) -> None:
    ok("build")
    expected = dump(db)
    copy = tmp_path / "copy"
    shutil.copytree(mixed_log, copy)
    extra = copy / "dave" / "2026-01.jsonl"
    extra.parent.mkdir()
    extra.write_bytes(b"".join(path.read_bytes() for path in mixed_log.glob("*/*.jsonl")))
    build(EventLog(copy), tmp_path / "copy.db")
    assert dump(tmp_path / "copy.db") == expected


def test_build_replaces_the_database_atomically(mixed_log: Path, db: Path) -> None:
    ok("build")
    before = db.read_bytes()
    path = next(mixed_log.glob("alice/*.jsonl"))
    path.write_bytes(path.read_bytes().replace(b"Ashgabat", b"Ashgabad", 1))
    result = run("build")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "is damaged (hash does not match content); run tracker verify" in result.stderr
    assert db.read_bytes() == before
    assert sorted(path.name for path in db.parent.iterdir() if path.is_file()) == [
        ".tracker.db.lock", "tracker.db"]


def test_stale_until_built(mixed_log: Path, db: Path) -> None:
    log = EventLog(mixed_log)
    assert is_stale(log, db)
    ok("build")
    assert not is_stale(log, db)
    ok("add", "meeting", "--title", "New", "--date", "2021", *SOURCE)
    assert is_stale(log, db)


def test_search_covers_titles_summaries_and_quotes(mixed_log: Path, db: Path) -> None:
    ok("build")

    def search(table: str, term: str) -> int:
        return rows(db, f"select count(*) as n from {table}_fts where {table}_fts match ?",
                    term)[0]["n"]

    assert search("meetings", "ashgabat") == 1
    assert search("pledges", "grant") == 1
    assert search("announcements", "welcomes") == 1
    assert search("sources", "ashgabat") == 1
    assert search("formats", "japan") == 1


def test_every_facet_and_sort_column_is_indexed(mixed_log: Path, db: Path) -> None:
    import json

    from .conftest import METADATA

    ok("build")
    tables = json.loads(METADATA.read_text())["databases"]["tracker"]["tables"]
    with closing(sqlite3.connect(db)) as conn:
        for table, config in tables.items():
            if conn.execute("select type from sqlite_master where name = ?",
                            (table,)).fetchone()[0] == "view":
                continue
            indexed = {row[2] for index in conn.execute(f"pragma index_list([{table}])")
                       for row in conn.execute(f"pragma index_info([{index[1]}])")
                       if row[0] == 0}
            pk = {row[1] for row in conn.execute(f"pragma table_info([{table}])") if row[5] == 1}
            wanted = [facet for facet in config.get("facets", []) if isinstance(facet, str)]
            wanted += [config[key] for key in ("sort", "sort_desc") if key in config]
            for column in wanted:
                assert column in indexed | pk, f"{table}.{column} has no index"


def test_a_missing_value_is_written_as_null(mixed_log: Path, db: Path) -> None:
    """Rows carry a missing value as `projection.NULL`, a float NaN, which binds as SQL
    NULL (faster than None): no table keeps a number where it declares text."""
    with closing(sqlite3.connect(":memory:")) as conn:
        assert conn.execute("select ? is null", (NULL,)).fetchone() == (1,)
    ok("build")
    assert rows(db, "select format, level, mode, chair, participants, topics, summary, "
                    "updated_at is not null as updated from meetings where title = 'Summit'"
                ) == [{"format": None, "level": None, "mode": None, "chair": None,
                       "participants": None, "topics": None, "summary": None, "updated": 1}]
    assert rows(db, "select url, citation, publisher, published, quote from sources "
                    "where kind = 'citation'") == [
        {"url": None, "citation": "Another report", "publisher": None, "published": None,
         "quote": "in Ashgabat"}]
    assert rows(db, "select status, amount, amount_text, note from status_changes "
                    "order by rowid") == [
        {"status": "disbursed", "amount": 10.5, "amount_text": "10.5", "note": None},
        {"status": "disbursed", "amount": 20, "amount_text": "20", "note": None},
        {"status": "held", "amount": None, "amount_text": None, "note": None},
        {"status": "postponed", "amount": None, "amount_text": None, "note": None}]
    with closing(sqlite3.connect(db)) as conn:
        for table in TABLES:
            for column, kind in table.columns.items():
                found = conn.execute(f"select count(*) from {table.name} where typeof("
                                     f"{column}) = 'real'").fetchone()[0]
                assert kind is float or table.columns[column] == AMOUNT or not found, (
                    table.name, column)


def test_show_and_log_read_a_segment_out_of_order(events: Path) -> None:
    """Lines reordered by hand: `show` and `log` sort them, as `build` does."""
    first = ok("add", "meeting", "--title", "First", "--date", "2020", *SOURCE)
    ok("add", "meeting", "--title", "Second", "--date", "2021", *SOURCE)
    ok("amend", first, "--set", "date=2020-05", "--reason", "more precise")
    shown, logged = ok("show", first), ok("log")
    [segment] = events.glob("*/*.jsonl")
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(b"".join(reversed(lines)))
    assert (ok("show", first), ok("log")) == (shown, logged)
    assert len(logged.splitlines()) == 3


def readme_tables() -> tuple[str, list[str]]:
    """The README's section on tables, and the tables and views its list names."""
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("\n## Tables and views\n", 1)[1].split("\n## ", 1)[0]
    return section, re.findall(r"^\| (?:view )?`(\w+)` \|", section, re.MULTILINE)


def test_the_readme_gives_every_kind_of_source(db: Path) -> None:
    meeting = ok("add", "meeting", "--title", "Summit", "--date", "2020", *SOURCE)
    ok("update", meeting, "--status", "cancelled", *SOURCE)
    ok("cite", meeting, "--source", "https://example.org/b")
    ok("amend", meeting, "--set", "date=2021", "--reason", "misread", *SOURCE)
    ok("build")
    section, _ = readme_tables()
    listed = re.search(r"^\| `sources` \| .*?kind \(([^)]*)\)", section, re.MULTILINE)
    assert listed, section
    kinds = [row["kind"] for row in rows(db, "select kind from sources order by rowid")]
    assert re.findall(r"`(\w+)`", listed[1]) == kinds == [
        "record", "update", "citation", "amendment"]


def test_the_readme_gives_the_date_columns_of_every_table_and_view(db: Path) -> None:
    """Each table and view of the README's list that has a `date` has the date columns the
    README gives it, and no other."""
    ok("build")
    section, names = readme_tables()
    sentence = section.split("\nThe dates are given as follows: ", 1)[1].split(". ", 1)[0]
    described = {}
    for clause in sentence.split("; "):
        tables, _, columns = re.sub(r"\s+", " ", clause).partition(" ha")
        for table in re.findall(r"`(\w+)`", tables):
            described[table] = re.findall(r"`(date\w*)`", columns)
    with closing(sqlite3.connect(db)) as conn:
        actual = {name: [column for (column,) in conn.execute(
                      "select name from pragma_table_info(?) where name in "
                      "('date', 'date_start', 'date_end', 'date_precision') order by cid",
                      (name,))]
                  for name in names}
    assert described == {name: columns for name, columns in actual.items() if "date" in columns}
