"""Publication with Datasette: metadata, canned queries, labels, search, `tracker serve`."""

from __future__ import annotations

import html
import json
import re
import sqlite3
import urllib.parse
from contextlib import closing
from decimal import Decimal, localcontext
from pathlib import Path

import markupsafe
import pytest
import sqlite_utils
from datasette.utils import escape_fts
from datasette_dashboards import replace_opts_in_query
from hypothesis import given as examples
from hypothesis import settings
from hypothesis import strategies as st

from tracker import schema
from tracker.envelope import new_id, seal
from tracker.model import parse_amount
from tracker.projection import _number
from tracker.serve import load_metadata, make_datasette
from tracker.site import actor_code

from .conftest import METADATA, SOURCE, ok, rows
from .serving import copy_bundled_project, tracker_serve
from .test_references import as_bob, diverge, merge

CONTRACT = {"events", "meetings", "meeting_participants", "announcements", "pledges",
            "pledge_recipients", "formats", "format_members", "actors", "sources",
            "status_changes", "timeline", "upcoming_meetings", "pledges_outstanding",
            "actor_activity", "format_history", "records", "history", "corrections"}
QUERY_PARAMETERS = {
    "meetings_of_format": {"format": "central-asia-japan"},
    "actor_timeline": {"actor": "JPN"},
    "pledges_by_donor": {"donor": "JPN"},
    "pledges_outstanding_by_donor": {},
    "upcoming_after": {"date": "2024-01-01"},
    "recorded_since": {"date": "2000-01-01"},
    "changed_since": {"date": "2000-01-01"},
    "recent_developments": {},
    "scheduled_meetings": {},
}


@pytest.fixture
async def datasette(bundled: Path):
    instance = make_datasette(bundled, load_metadata(METADATA))
    await instance.invoke_startup()
    return instance


async def get_json(datasette, path: str) -> dict | list:
    response = await datasette.client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


async def test_database_lists_every_table_and_view(datasette) -> None:
    database = await get_json(datasette, "/tracker.json")
    names = {table["name"] for table in database["tables"]} | {
        view["name"] for view in database["views"]}
    assert names >= CONTRACT


async def test_meetings_json_is_sorted_by_date(datasette) -> None:
    meetings = await get_json(datasette, "/tracker/meetings.json?_shape=array")
    assert len(meetings) == 9
    starts = [meeting["date_start"] for meeting in meetings]
    assert starts == sorted(starts, reverse=True)


async def test_every_table_view_and_column_is_described(datasette, bundled: Path) -> None:
    metadata = json.loads(METADATA.read_text())
    tables = metadata["databases"]["tracker"]["tables"]
    database = await get_json(datasette, "/tracker.json")
    visible = [table["name"] for table in database["tables"] if not table["hidden"]]
    visible += [view["name"] for view in database["views"]]
    assert visible
    with closing(sqlite3.connect(bundled)) as conn:
        for name in visible:
            assert tables.get(name, {}).get("description"), f"{name} has no description"
            columns = [row[1] for row in conn.execute(f"pragma table_info([{name}])")]
            described = tables[name].get("columns", {})
            for column in columns:
                assert described.get(column), f"{name}.{column} has no description"
            assert set(described) <= set(columns), f"{name} describes unknown columns"


async def test_metadata_has_license_sources_and_titles(datasette) -> None:
    metadata = json.loads(METADATA.read_text())
    for key in ("title", "license", "license_url", "source", "description_html"):
        assert metadata.get(key)
    home = (await datasette.client.get("/")).text
    assert "CC BY 4.0" in home
    assert metadata["title"] in home


async def test_configured_facets_and_sorts_work(datasette) -> None:
    tables = json.loads(METADATA.read_text())["databases"]["tracker"]["tables"]
    for name, config in tables.items():
        if config.get("hidden"):
            continue
        page = await get_json(datasette, f"/tracker/{name}.json")
        facets = [facet if isinstance(facet, str) else next(iter(facet.values()))
                  for facet in config.get("facets", [])]
        for facet in facets:
            assert any(result["name"] == facet for result in page["facet_results"].values()), (
                name, facet)
        if "sort" in config:
            assert page["human_description_en"].endswith(f"sorted by {config['sort']}")
        if "sort_desc" in config:
            assert page["human_description_en"].endswith(
                f"sorted by {config['sort_desc']} descending")


async def test_canned_queries_answer_with_parameters(datasette) -> None:
    queries = json.loads(METADATA.read_text())["databases"]["tracker"]["queries"]
    assert set(queries) == set(QUERY_PARAMETERS)
    assert sum(":" in query["sql"] for query in queries.values()) >= 3
    for name, parameters in QUERY_PARAMETERS.items():
        query = "&".join(f"{key}={value}" for key, value in parameters.items())
        result = await get_json(datasette, f"/tracker/{name}.json?_shape=objects&{query}")
        assert result["ok"] is True
        assert result["rows"], name


async def test_canned_query_answers(datasette) -> None:
    meetings = await get_json(
        datasette, "/tracker/meetings_of_format.json?_shape=array&format=central-asia-japan")
    assert [meeting["date"] for meeting in meetings] == [
        "2004-08", "2017-05", "2019-05", "2020/2021", "2022-12", "2024-07-23", "2024-08"]
    for given in ("CENTRAL-ASIA-JAPAN", " Central Asia + Japan ", "central asia + japan"):
        assert await get_json(datasette, "/tracker/meetings_of_format.json?_shape=array&"
                                         + urllib.parse.urlencode({"format": given})
                              ) == meetings, given
    assert await get_json(datasette, "/tracker/meetings_of_format.json?_shape=array&"
                                     "format=%20") == []  # none asked
    unknown = await datasette.client.get("/tracker/meetings_of_format.json?format=nope")
    assert (unknown.status_code, unknown.json()["error"]) == (400, (
        "unknown format 'nope': give a format's slug or name, as the formats table has "
        "them (central-asia-japan, or Central Asia + Japan)"))
    pledges = await get_json(datasette, "/tracker/pledges_by_donor.json?_shape=array&donor=JPN")
    assert [(row["title"], row["amount"]) for row in pledges] == [
        ("total in JPY (1 pledge, not withdrawn)", 2000000000),
        ("Grant aid for medical equipment to the Central Asian countries", 2000000000)]
    timeline = await get_json(datasette, "/tracker/actor_timeline.json?_shape=array&actor=KAZ")
    roles = {row["title"]: row["roles"] for row in timeline}
    assert roles["1st Central Asia + Japan summit"] == "host, member of format"
    assert "announcer" in roles[
        "Kazakhstan: Japan's economic and technological assets are of great interest and can "
        "be applied in modernising Central Asia's economy"]


async def test_canned_queries_take_an_actor_as_the_cli_does(datasette) -> None:
    """Every form the CLI takes (a code, an alpha-2 code, a name, an official name, a usual
    short name, in any case): the same answer as the code."""
    for query, parameter in (("actor_timeline", "actor"), ("pledges_by_donor", "donor"),
                             ("pledges_outstanding_by_donor", "donor")):
        by_code = await get_json(datasette, f"/tracker/{query}.json?_shape=array&"
                                            f"{parameter}=JPN")
        assert by_code, query
        for given in ("jpn", "JP", "Japan", "japan", " Japan "):
            answer = await get_json(datasette, f"/tracker/{query}.json?_shape=array&"
                                               f"{parameter}={urllib.parse.quote(given)}")
            assert answer == by_code, (query, given)
    kazakhstan = await get_json(datasette, "/tracker/actor_timeline.json?_shape=array&"
                                           "actor=KAZ")
    for given in ("Republic of Kazakhstan", "kazakhstan", "KZ"):
        assert await get_json(datasette, "/tracker/actor_timeline.json?_shape=array&actor="
                                         + urllib.parse.quote(given)) == kazakhstan, given
    assert len(kazakhstan) > 1
    for given, code in (("TÜRKIYE", "TUR"), ("türkiye", "TUR"), ("Turkey", "TUR"),
                        ("UK", "GBR"), ("United Kingdom", "GBR")):
        [[answer]] = (await get_json(datasette, "/tracker.json?sql=select+tracker_actor(:a)"
                                                f"&a={urllib.parse.quote(given)}"))["rows"]
        assert answer == code, given


ACTOR_RULE = "use an ISO 3166 country name or code, or an organisation code such as EU, UN, SCO"
BAD_ACTORS = [
    ("actor_timeline", "actor", "Атлантида", f"unknown actor 'Атлантида': {ACTOR_RULE}"),
    ("actor_timeline", "actor", "XXX", f"unknown actor 'XXX': {ACTOR_RULE}"),
    ("pledges_by_donor", "donor", "Atlantis", f"unknown actor 'Atlantis': {ACTOR_RULE}"),
    ("pledges_outstanding_by_donor", "donor", " <b>nope</b> ",
     f"unknown actor '<b>nope</b>': {ACTOR_RULE}"),
]


@pytest.mark.parametrize(("query", "parameter", "actor", "message"), BAD_ACTORS)
async def test_a_canned_query_refuses_an_unknown_actor_naming_it(
        datasette, query: str, parameter: str, actor: str, message: str) -> None:
    """As it refuses a bad date, and as the CLI refuses the actor: a 400 naming it, as
    JSON, as the page and as CSV (where it gave 200 and no rows, as for an actor with
    none)."""
    query_string = f"?{parameter}={urllib.parse.quote(actor)}"
    response = await datasette.client.get(f"/tracker/{query}.json{query_string}")
    assert (response.status_code, response.json()["error"]) == (400, message)
    for page in (f"/tracker/{query}{query_string}", f"/tracker/{query}.csv{query_string}"):
        response = await datasette.client.get(page)
        assert response.status_code == 400, page
        assert str(markupsafe.escape(message)) in response.text, page
    response = await datasette.client.get("/tracker.json?sql=select+tracker_actor('nope')")
    assert (response.status_code, response.json()["error"]) == (
        400, f"unknown actor 'nope': {ACTOR_RULE}")


async def test_an_actor_of_spaces_is_no_actor_as_an_empty_one(datasette) -> None:
    """`donor=%20%20%20` gave no row, where `donor=` gives every donor's."""
    every_donor = await get_json(datasette, "/tracker/pledges_outstanding_by_donor.json?"
                                            "_shape=array&donor=")
    assert [row["donor"] for row in every_donor] == ["JPN"]
    for spaces in ("%20", "%20%20%20", "%09"):
        assert await get_json(datasette, "/tracker/pledges_outstanding_by_donor.json?"
                                         f"_shape=array&donor={spaces}") == every_donor
        for query, parameter in (("actor_timeline", "actor"), ("pledges_by_donor", "donor")):
            assert await get_json(datasette, f"/tracker/{query}.json?_shape=array&"
                                             f"{parameter}={spaces}") == [], query


DATE_RULE = "use YYYY, YYYY-MM, YYYY-MM-DD or A/B"
MOMENT_RULE = "use a date (YYYY, YYYY-MM or YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM:SSZ)"
BAD_DATES = [
    ("upcoming_after", "garbage", f"invalid date 'garbage': {DATE_RULE}"),
    ("upcoming_after", "2027-13-45", "invalid date '2027-13-45': no month 13"),
    ("upcoming_after", "2024-02-30", "invalid date '2024-02-30': 2024-02 has 29 days"),
    ("upcoming_after", "2024-08-01T00:00Z", f"invalid date '2024-08-01T00:00Z': {DATE_RULE}"),
    ("recorded_since", "garbage", f"invalid date 'garbage': {MOMENT_RULE}"),
    ("recorded_since", "2026-11-22T99:00", "invalid date '2026-11-22T99:00': no hour 99"),
    ("recorded_since", "2026-11-22/2026-11-23",
     f"invalid date '2026-11-22/2026-11-23': {MOMENT_RULE}"),
    ("recorded_since", "0001-01-01T00:00:00+01:00",
     f"invalid date '0001-01-01T00:00:00+01:00': {MOMENT_RULE}"),
    ("changed_since", "2027-13-45", "invalid date '2027-13-45': no month 13"),
]


@pytest.mark.parametrize(("query", "date", "message"), BAD_DATES)
async def test_a_canned_query_refuses_a_bad_date_naming_it(datasette, query: str, date: str,
                                                           message: str) -> None:
    """As the CLI refuses it: a 400 naming the value, as JSON, as the page and as CSV (where
    `garbage` gave no rows and `2027-13-45` some, without a word)."""
    query_string = f"?date={urllib.parse.quote(date)}"
    response = await datasette.client.get(f"/tracker/{query}.json{query_string}")
    assert (response.status_code, response.json()["error"]) == (400, message)
    for page in (f"/tracker/{query}{query_string}", f"/tracker/{query}.csv{query_string}",
                 f"/tracker/{query}.csv{query_string}&_stream=on"):
        response = await datasette.client.get(page)
        assert response.status_code == 400, page
        assert str(markupsafe.escape(message)) in response.text, page


async def test_dates_of_canned_queries_are_read_as_the_cli_reads_them(datasette,
                                                                     bundled: Path) -> None:
    """A time in whole seconds includes the events recorded later in that second (as text,
    `...:45Z` sorted after `...:45.123456Z`); a date means its start, UTC, and any of its
    forms does; an empty date (or none) means no bound."""
    times = [row["recorded_at"] for row in rows(
        bundled, "select recorded_at from events order by recorded_at")]
    second = times[20][:19]
    later = [time for time in times if time >= second]
    assert later[0][:19] == second and later[0] != second + ".000000Z"
    for given in (second + "Z", second, second.replace("T", " "), second + "+00:00"):
        answer = await get_json(datasette, "/tracker/recorded_since.json?_shape=array&date="
                                           + urllib.parse.quote(given))
        assert sorted(row["recorded_at"] for row in answer) == later, given
    changed = await get_json(datasette, "/tracker/changed_since.json?_shape=array&date="
                                        + urllib.parse.quote(second + "Z"))
    assert min(row["recorded_at"] for row in changed) == later[0]
    every_event = await get_json(datasette, "/tracker/recorded_since.json?_shape=array")
    assert len(every_event) == len(times) == 60
    for given in ("", "%20", times[0][:4], times[0][:7], times[0][:10]):
        assert await get_json(datasette, f"/tracker/recorded_since.json?_shape=array&"
                                         f"date={given}") == every_event, given
    assert await get_json(datasette, "/tracker/changed_since.json?_shape=array&date=") == \
        await get_json(datasette, "/tracker/changed_since.json?_shape=array&date=1970")
    upcoming = rows(bundled, "select id from upcoming_meetings")
    assert len(upcoming) == 1  # the 2024-08 summit
    for given, expected in (("", upcoming), ("2024", upcoming), ("2024-08", upcoming),
                            ("2024-08-31", upcoming), ("2024-07-01/2024-09", upcoming),
                            ("2024-09-01", []), ("2025", [])):
        answer = await get_json(datasette, "/tracker/upcoming_after.json?_shape=array&date="
                                           + urllib.parse.quote(given))
        assert [{"id": row["id"]} for row in answer] == expected, given
    for function, given, expected in (("tracker_date", "2024-08", "2024-08-01"),
                                      ("tracker_date", "2019/2020", "2019-01-01"),
                                      ("tracker_date", " ", ""),
                                      ("tracker_since", "2026-11-24T06:10:45Z",
                                       "2026-11-24T06:10:45.000000Z"),
                                      ("tracker_since", "2026-11-24T08:10:45+02:00",
                                       "2026-11-24T06:10:45.000000Z"),
                                      ("tracker_since", "2026-11", "2026-11-01T00:00:00.000000Z"),
                                      ("tracker_since", "0999", "0999-01-01T00:00:00.000000Z")):
        [[answer]] = (await get_json(datasette, f"/tracker.json?sql=select+{function}(:d)&d="
                                                + urllib.parse.quote(given)))["rows"]
        assert answer == expected, (function, given)
    response = await datasette.client.get("/tracker.json?sql=select+tracker_since('nope')")
    assert (response.status_code, response.json()["error"]) == (
        400, f"invalid date 'nope': {MOMENT_RULE}")


async def test_more_than_1000_events_since_a_date_are_said_to_be_cut(tmp_path: Path,
                                                                     db: Path) -> None:
    """`recorded_since` and `changed_since` stopped at 1,000 rows with `"truncated":
    false` (a `limit 1000` in their SQL): they show the latest 1,000 and say there are
    more, and the `events` table, which pages, gives every one, as one CSV too."""
    rows_file = tmp_path / "meetings.jsonl"
    rows_file.write_text("".join(json.dumps({
        "kind": "meeting", "title": f"Meeting {n}", "date": "2025", "status": "held",
        "source": "https://example.org/report"}) + "\n" for n in range(1100)))
    ok("import", rows_file)
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    await site.invoke_startup()
    latest = [row["id"] for row in rows(
        db, "select id from events order by recorded_at desc limit 1000")]
    for query in ("recorded_since", "changed_since"):
        for date in ("", "2000-01-01"):
            answer = await get_json(site, f"/tracker/{query}.json?_shape=objects&date={date}")
            assert (answer["truncated"], len(answer["rows"])) == (True, 1000), query
        page = await site.client.get(f"/tracker/{query}?date=2000")
        assert "returning more than 1,000 rows" in page.text
    answer = await get_json(site, "/tracker/recorded_since.json?_shape=objects&date=2000")
    assert [row["subject"] for row in answer["rows"]] == latest
    since = (await site.client.get("/tracker/events.csv?_stream=on&recorded_at__gte=2000"))
    assert len(since.text.splitlines()) == 1 + 1100
    fewer = await get_json(site, "/tracker/recorded_since.json?_shape=objects&date="
                                 + rows(db, "select recorded_at from events order by "
                                            "recorded_at desc limit 1 offset 999")[0][
                                     "recorded_at"])
    assert (fewer["truncated"], len(fewer["rows"])) == (False, 1000)


async def answer_since(db: Path, query: str, date: str = "") -> list[dict]:
    """The answer of `recorded_since` or `changed_since` from a date, newest first."""
    site = make_datasette(db, load_metadata(METADATA))
    await site.invoke_startup()
    return await get_json(site, f"/tracker/{query}.json?_shape=array&date="
                                + urllib.parse.quote(date))


async def test_changed_since_leaves_out_what_came_after_the_retraction(
    events: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events merged from another clone that come after their record's retraction change
    nothing: `changed_since` leaves out a citation and a slug recorded again, as it does an
    update, and keeps what came before the retraction (a citation too)."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2024", *SOURCE)
    ok("cite", meeting, "--source", "Early report")
    clone = diverge(events, monkeypatch)
    ok("add", "format", "c5", "--name", "C5", *SOURCE)
    ok("retract", meeting, "--reason", "a duplicate")
    ok("retract", "c5", "--reason", "a test")
    late = as_bob(clone, monkeypatch, "cite", meeting, "--source", "Late report")
    as_bob(clone, monkeypatch, "update", meeting, "--status", "cancelled", *SOURCE)
    as_bob(clone, monkeypatch, "add", "format", "c5", "--name", "C5+1", *SOURCE)
    merge(clone, events)
    changed = await answer_since(db, "changed_since")
    assert [(row["event_type"], row["record"], row["field"], row["old_value"],
             row["new_value"]) for row in changed] == [
        ("record.retracted", "C5", "record", "recorded", "retracted"),
        ("record.retracted", "Talks", "record", "recorded", "retracted"),
        ("format.recorded", "C5", "record", None, "C5"),  # a format's name, as a title
        ("source.added", "Talks", "source", None, "Early report"),
        ("meeting.recorded", "Talks", "record", None, "Talks")]
    [cited] = rows(db, "select recorded_at from events where id = ?", late)
    assert await answer_since(db, "changed_since", cited["recorded_at"]) == []
    assert len(await answer_since(db, "recorded_since", cited["recorded_at"])) == 3


async def test_the_feed_leaves_out_what_came_after_the_retraction(
    events: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`recent_developments` (the Atom feed) leaves out the events merged from another
    clone that replay puts after their record's retraction, as changed_since does."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2024", *SOURCE)
    early = ok("cite", meeting, "--source", "Early report")
    clone = diverge(events, monkeypatch)
    retraction = ok("retract", meeting, "--reason", "a duplicate")
    as_bob(clone, monkeypatch, "cite", meeting, "--source", "Late report")
    as_bob(clone, monkeypatch, "update", meeting, "--status", "cancelled", *SOURCE)
    merge(clone, events)
    site = make_datasette(db, load_metadata(METADATA))
    await site.invoke_startup()
    feed = await get_json(site, "/tracker/recent_developments.json?_shape=array")
    assert [(row["atom_id"], row["atom_title"]) for row in feed] == [
        (f"urn:tracker:{retraction}", "Retracted: Talks"),
        (f"urn:tracker:{early}", "New source for: Talks"),
        (f"urn:tracker:{meeting}", "Meeting: Talks")]


@pytest.mark.parametrize(("writer", "after"), [("aaron", False), ("bob", True)])
async def test_changed_since_orders_a_citation_recorded_with_the_retraction_as_replay_does(
    events: Path, db: Path, monkeypatch: pytest.MonkeyPatch, writer: str, after: bool
) -> None:
    """A citation recorded in the same microsecond as the retraction, in another clone:
    replay orders the two by writer, and `changed_since` lists the citation when it
    comes before (as `show` has it)."""
    monkeypatch.setenv("TRACKER_WRITER", "alice")
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2024", *SOURCE)
    ok("retract", meeting, "--reason", "a duplicate")
    retraction = json.loads(ok("log", "--json", "--type", "record"))[0]
    citation = {"id": new_id(), "type": "source.added", "schema": 1, "subject": meeting,
                "recorded_at": retraction["recorded_at"], "recorded_by": writer,
                "writer": writer, "seq": 1, "data": {"source": {"citation": "Same moment"}}}
    (events / writer).mkdir()
    (events / writer / (citation["recorded_at"][:7] + ".jsonl")).write_bytes(seal(citation))
    ok("build")
    history = json.loads(ok("show", meeting, "--json"))["history"]
    assert [(event["type"], event["after_retraction"]) for event in history[1:]] == (
        [("record.retracted", False), ("source.added", True)] if after else
        [("source.added", False), ("record.retracted", False)])
    changed = await answer_since(db, "changed_since")
    assert sorted((row["event_type"], row["recorded_by"]) for row in changed) == [
        ("meeting.recorded", "tester"), ("record.retracted", "tester"),
        *([] if after else [("source.added", writer)])]


async def test_recorded_since_names_a_retracted_record_as_changed_since_does(db: Path) -> None:
    """The record of each event is its title (a format's name) as it last stood, from
    `records`, as in `changed_since`: a retracted record's too, where it was null."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2024", *SOURCE)
    ok("amend", meeting, "--set", "title=Talks in Astana", "--reason", "misread")
    ok("add", "format", "c5", "--name", "C5", *SOURCE)
    ok("cite", "c5", "--source", "Another report")
    ok("retract", "c5", "--reason", "a test")
    ok("retract", meeting, "--reason", "a duplicate")
    kept = ok("add", "announcement", "--title", "Plan", "--date", "2024", "--by", "JPN", *SOURCE)
    ok("build")
    recorded = await answer_since(db, "recorded_since")
    assert [(row["type"], row["record"], row["subject"]) for row in recorded] == [
        ("announcement.recorded", "Plan", kept),
        ("record.retracted", "Talks in Astana", meeting),
        ("record.retracted", "C5", "c5"), ("source.added", "C5", "c5"),
        ("format.recorded", "C5", "c5"),
        ("record.amended", "Talks in Astana", meeting),
        ("meeting.recorded", "Talks in Astana", meeting)]
    changed = await answer_since(db, "changed_since")
    assert {row["subject"]: row["record"] for row in changed} == {
        row["subject"]: row["record"] for row in recorded}


async def test_a_donors_totals_survive_the_cut_of_a_long_answer(datasette) -> None:
    """A query answers 1,000 rows at most: the totals come first, so a donor of more
    pledges than that still gets them (here the cut is made at one row)."""
    datasette.max_returned_rows = 1
    answer = await get_json(datasette, "/tracker/pledges_by_donor.json?donor=JPN")
    assert (answer["truncated"], answer["rows"]) == (True, [
        [None, "total in JPY (1 pledge, not withdrawn)", 2000000000, "JPY", 1, None, None,
         None, None, "2000000000", None]])


async def test_foreign_keys_show_names(datasette) -> None:
    rows = await get_json(datasette, "/tracker/meetings.json?_shape=array&_labels=on"
                                     "&city=Ashgabat")
    assert rows[0]["country"] == {"value": "TKM", "label": "Turkmenistan"}
    assert rows[0]["format"] == {"value": "central-asia-japan", "label": "Central Asia + Japan"}


async def test_search_finds_ashgabat(datasette) -> None:
    rows = await get_json(datasette, "/tracker/meetings.json?_shape=array&_search=Ashgabat")
    assert [row["title"] for row in rows] == ["6th Central Asia + Japan meeting of ministers"]
    quotes = await get_json(datasette, "/tracker/sources.json?_shape=array&_search=Ashgabat")
    assert sorted(row["kind"] for row in quotes) == ["amendment", "record"]  # of article A


async def test_search_finds_a_city_by_the_name_the_source_gives(datasette) -> None:
    rows = await get_json(datasette, "/tracker/meetings.json?_shape=array&_search=Nur-Sultan")
    assert [(row["city"], row["city_as_given"], row["date"]) for row in rows] == [
        ("Astana", "Nur-Sultan", "2004-08")]


async def search_count(datasette, query_string: str) -> int:
    answer = await get_json(datasette, f"/tracker/meetings.json?_size=0&{query_string}")
    return answer["filtered_table_rows_count"]


@pytest.mark.parametrize("nothing", ['"', '""', " ", '" "', '"  " ""', "\u3000"])
async def test_a_search_with_nothing_to_search_for_is_no_search(datasette, nothing: str,
                                                                capsys) -> None:
    """As an empty search is: FTS5 refused the empty expression left of it (a 400 "Invalid
    SQL" saying `fts5: syntax error near ""`, and an ERROR in the server's log)."""
    search = urllib.parse.quote(nothing)
    assert await search_count(datasette, f"_search={search}") == 9
    assert await search_count(datasette, f"_search={search}&_searchmode=raw") == 9
    assert await search_count(datasette, f"_search={search}&_search_city=Ashgabat") == 1
    page = await datasette.client.get(f"/tracker/meetings?_search={search}")
    assert page.status_code == 200
    assert '<input id="_search" type="search" name="_search" value="">' in page.text
    assert capsys.readouterr().err == ""


NUL = "a NUL character (U+0000) cannot be searched for: leave it out"
RAW_HINT = ("a raw search (?_searchmode=raw) is in FTS5's syntax: without it, its words are "
            "searched for as written")
UNREADABLE_SEARCHES = [
    ("_search=NEAR(&_searchmode=raw", "_search", "NEAR(",
     f"invalid search 'NEAR(': fts5: syntax error near \"\" ({RAW_HINT})"),
    ("_search=Japan%20OR&_searchmode=raw&status=held", "_search", "Japan OR",
     f"invalid search 'Japan OR': fts5: syntax error near \"\" ({RAW_HINT})"),
    ("_search_title=%22Asia&_searchmode=raw", "_search_title", '"Asia',
     f"invalid search '\"Asia': unterminated string ({RAW_HINT})"),
    ("_search=nope:Japan&_searchmode=raw", "_search", "nope:Japan",
     f"invalid search 'nope:Japan': no such column: nope ({RAW_HINT})"),
    ("_search=Japan%00", "_search", "Japan\x00", f"invalid search 'Japan\\x00': {NUL}"),
    ("_search=a%00b", "_search", "a\x00b", f"invalid search 'a\\x00b': {NUL}"),
    ("_search=%00", "_search", "\x00", f"invalid search '\\x00': {NUL}"),
    ("_search=a%00b&_searchmode=raw", "_search", "a\x00b",  # was a search for "a"
     f"invalid search 'a\\x00b': {NUL}"),
    ("_search_title=a%00b", "_search_title", "a\x00b", f"invalid search 'a\\x00b': {NUL}"),
]


@pytest.mark.parametrize(("query_string", "key", "text", "message"), UNREADABLE_SEARCHES)
async def test_a_search_fts5_cannot_read_is_a_400_naming_it(
        datasette, query_string: str, key: str, text: str, message: str, capsys) -> None:
    """Before any query runs (none is printed in the server's log), as JSON and as a page
    that holds a search box with the search, and the page's other parameters."""
    response = await datasette.client.get(f"/tracker/meetings.json?{query_string}")
    assert (response.status_code, response.json()["error"]) == (400, message)
    page = await datasette.client.get(f"/tracker/meetings?{query_string}")
    assert page.status_code == 400
    assert f"<p>{markupsafe.escape(message)}</p>" in page.text
    assert (f'<form class="core" action="/tracker/meetings" method="get">'
            f'<div class="search-row"><label for="_search">Search:</label><input id="_search" '
            f'type="search" name="{key}" value="{markupsafe.escape(text)}">') in page.text
    for other, value in urllib.parse.parse_qsl(query_string):
        if other != key:
            assert f'<input type="hidden" name="{other}" value="{value}">' in page.text
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("search", ["a%00b", "Japan%00", "%00"])
async def test_the_search_page_names_a_nul_in_its_search(datasette, search: str) -> None:
    """`/-/search?q=a%00b` says the NUL cannot be searched for, and searches no table (it
    said "unterminated string")."""
    text = urllib.parse.unquote(search)
    page = await datasette.client.get(f"/-/search?q={search}")
    assert page.status_code == 200
    assert re.findall(r'<p class="message-warning">(.*?)</p>', page.text) == [
        markupsafe.escape(f"invalid search {text!r}: {NUL}")]


@pytest.mark.parametrize(("query_string", "message"), [
    ("_search=Japan&_fts_table=nope", "_fts_table 'nope' is not that of the full-text "
     "index of meetings ('meetings_fts'): leave it out"),
    ("_search=Japan&_fts_table=meetings", "_fts_table 'meetings' is not that of the "
     "full-text index of meetings ('meetings_fts'): leave it out"),
    ("_search=held&_fts_table=sources_fts", "_fts_table 'sources_fts' is not that of the "
     "full-text index of meetings ('meetings_fts'): leave it out"),  # gave rows by its rowids
    ("_search=Japan&_fts_pk=nope", "_fts_pk 'nope' is not that of the full-text index of "
     "meetings ('rowid'): leave it out"),
    ("_searchfoo=Japan", "unknown parameter '_searchfoo': a search is _search=TEXT, or "
     "_search_COLUMN=TEXT for one column"),
])
async def test_a_search_parameter_that_is_not_one_is_a_400_naming_it(
        datasette, query_string: str, message: str) -> None:
    """Datasette 0.65 answered a 400 "Invalid SQL: vtable constructor failed: search" (an
    index of no columns) and a 500 (an IndexError)."""
    response = await datasette.client.get(f"/tracker/meetings.json?{query_string}")
    assert (response.status_code, response.json()["error"]) == (400, message)
    assert await search_count(datasette, "_search=Japan&_fts_table=meetings_fts") == 7
    assert await search_count(datasette, "_search=Japan&_fts_pk=rowid") == 7
    # No search: Datasette does not read them, nor does the site.
    assert await search_count(datasette, "_fts_table=nope") == await search_count(datasette, "")


async def test_searches_are_read_as_before(datasette, bundled: Path) -> None:
    """The site's tables set no search mode: Datasette searches each word and quoted
    phrase as written (`OR`, `NOT`, `*` are words), and FTS5's syntax with
    ?_searchmode=raw."""
    tables = json.loads(METADATA.read_text())["databases"]["tracker"]["tables"]
    assert not [name for name, table in tables.items() if "searchmode" in table]
    for text, raw, expected in (('"Central Asia"', False, 9), ("Japan OR China", False, 0),
                                ("Kamikawa*", False, 1), ("NOT", False, 0),
                                ("Central Asia -Japan", False, 7),
                                ("Japan OR China", True, 8), ("Kamika*", True, 1),
                                ("Asia NOT Japan", True, 2), ('"1st Central"', True, 2)):
        search = urllib.parse.quote(text) + ("&_searchmode=raw" if raw else "")
        assert await search_count(datasette, f"_search={search}") == expected, text
        [(count,)] = [tuple(row.values()) for row in rows(
            bundled, "select count(*) from meetings_fts where meetings_fts match ?",
            text if raw else escape_fts(text))]
        assert count == expected, text


def links_from_other_tables(html: str) -> list[tuple[str, str]]:
    """The "Links from other tables" of a row page: (link, its text)."""
    section = html.split("<h2>Links from other tables</h2>", 1)[1].split("</ul>", 1)[0]
    return [(link, " ".join(re.sub("<[^>]+>", "", text).split())) for link, text in re.findall(
        r'<li>\s*<a href="([^"]+)">\s*(.*?)</li>', section, re.S)]


async def test_a_record_links_to_what_refers_to_it(datasette, bundled: Path) -> None:
    """A meeting's page links to its sources, events, history and the announcements about
    it; its `records` row links to it; a source names the record it cites."""
    with closing(sqlite3.connect(bundled)) as conn:
        summit, title = conn.execute(
            "select id, title from meetings where date = '2024-08'").fetchone()
    response = await datasette.client.get(f"/tracker/meetings/{summit}")
    assert links_from_other_tables(response.text) == [
        (f"/tracker/meeting_participants?meeting_id={summit}",
         "0 rows from meeting_id in meeting_participants"),
        (f"/tracker/pledges?meeting_id={summit}", "0 rows from meeting_id in pledges"),
        (f"/tracker/events?subject={summit}", "1 row from subject in events"),
        (f"/tracker/announcement_about?subject={summit}",
         "1 row from subject in announcement_about"),
        (f"/tracker/sources?subject={summit}", "1 row from subject in sources"),
        (f"/tracker/status_changes?subject={summit}",
         "0 rows from subject in status_changes"),
        (f"/tracker/history?subject={summit}", "0 rows from subject in history")]
    record = await datasette.client.get(f"/tracker/records/{summit}")
    assert (f"/tracker/meetings?id={summit}", "1 row from id in meetings") in \
        links_from_other_tables(record.text)
    format_page = await datasette.client.get("/tracker/formats/central-asia-japan")
    assert ("/tracker/sources?subject=central-asia-japan",
            "3 rows from subject in sources") in links_from_other_tables(format_page.text)
    sources = await get_json(datasette, f"/tracker/sources.json?_shape=array&_labels=on"
                                        f"&subject={summit}")
    assert [source["subject"] for source in sources] == [{"value": summit, "label": title}]


async def test_the_timeline_flags_a_scheduled_meeting_whose_date_is_over(datasette) -> None:
    """The 2024-08 summit was last recorded as scheduled: its date is over, so the
    timeline says so (1), as upcoming_meetings does; other rows have no flag."""
    timeline = await get_json(datasette, "/tracker/timeline.json?_shape=array&_size=max")
    flags = {(row["kind"], row["status"], row["date_passed"]) for row in timeline}
    assert flags == {("meeting", "scheduled", 1), ("meeting", "held", None),
                     ("announcement", None, None), ("pledge", "pledged", None),
                     ("format", None, None)}
    for view in ("timeline", "upcoming_meetings"):  # the facet's link gives what it counts
        page = await get_json(datasette, f"/tracker/{view}.json?_facet=date_passed")
        [facet] = [value for value in page["facet_results"]["date_passed"]["results"]
                   if value["value"] == 1]
        assert (facet["count"], facet["toggle_url"].endswith("date_passed=1")) == (1, True)
        shown = await get_json(datasette, f"/tracker/{view}.json?_shape=array&date_passed=1")
        assert [row["title"] for row in shown] == ["1st Central Asia + Japan summit"], view


def test_a_meeting_to_come_is_not_flagged(db: Path) -> None:
    meeting = ok("add", "meeting", "--title", "Summit to come", "--date", "2999-05",
                 *SOURCE)
    ok("build")
    assert rows(db, "select status, date_passed from timeline where id = ?", meeting) == [
        {"status": "scheduled", "date_passed": 0}]


async def test_a_record_is_found_by_its_id_alone(datasette, bundled: Path) -> None:
    """`/-/record/ID` (where the site links ids in views and queries) opens the row of
    the record in the table of its kind, or of the event."""
    records = rows(bundled, "select id, kind from records where kind != 'format' "
                            "group by kind having id = min(id)")
    [amendment] = rows(bundled, "select id from events where type = 'record.amended' "
                                "order by id limit 1")
    expected = {record["id"]: f"/tracker/{record['kind']}s/{record['id']}"
                for record in records}
    expected["central-asia-japan"] = "/tracker/formats/central-asia-japan"
    expected[amendment["id"]] = f"/tracker/events/{amendment['id']}"
    assert len(expected) == 5
    for wanted, page in expected.items():
        response = await datasette.client.get(f"/-/record/{wanted}")
        assert (response.status_code, response.headers["location"]) == (302, page)
        assert (await datasette.client.get(page)).status_code == 200
    missing = await datasette.client.get("/-/record/01M81PPF6VG70ZZPB4ZDE4C0FX")
    assert missing.status_code == 404
    assert "No record or event has the id &#39;01M81PPF6VG70ZZPB4ZDE4C0FX&#39;" in missing.text
    hostile = await datasette.client.get("/-/record/~3Cscript~3E" + "x" * 100)
    assert hostile.status_code == 404
    assert "the id &#39;&lt;script&gt;" + "x" * 52 + "...&#39;</div>" in hostile.text


async def test_a_retracted_record_is_found_in_records(bundled: Path) -> None:
    [announcement] = rows(bundled, "select id from announcements where title like "
                                   "'Kazakhstan:%'")
    ok("retract", announcement["id"], "--reason", "recorded twice")
    ok("build")
    instance = make_datasette(bundled, load_metadata(METADATA))
    response = await instance.client.get(f"/-/record/{announcement['id']}")
    assert (response.status_code, response.headers["location"]) == (
        302, f"/tracker/records/{announcement['id']}")


def test_tracker_serve_builds_and_serves(tmp_path: Path) -> None:
    """A real server on 127.0.0.1: builds the stale database first, then answers."""
    project = copy_bundled_project(tmp_path / "project")
    with tracker_serve(project) as server:
        database = server.json("/tracker.json")
        names = {t["name"] for t in database["tables"]} | {v["name"] for v in database["views"]}
        assert names >= CONTRACT
        assert len(server.json("/tracker/meetings.json?_shape=array")) == 9
        metadata = server.json("/-/metadata.json")
        assert metadata["title"] == "tracker: diplomatic developments"
    assert (project / "tracker.db").exists()
    assert server.stderr().startswith("Built tracker.db from ")


# -- money: exact decimals -------------------------------------------------------------


def pledge(donor: str, amount: str, currency: str, *extra: str) -> str:
    return ok("add", "pledge", "--title", f"{amount} {currency}", "--date", "2024",
              "--donor", donor, "--recipient", "JPN", "--amount", amount,
              "--currency", currency, *extra, *SOURCE)


async def test_every_money_figure_is_exact_and_says_when_it_is_approximate(db: Path) -> None:
    """Sums and differences of amounts are made in exact decimals: floats give
    0.30000000000000004 for 0.1 + 0.2 and 0.010000000009313226 for 999999.99 - 999999.98.
    Each figure is a number and its exact text; a sum of approximate amounts says so."""
    pledge("KAZ", "0.1", "EUR")
    pledge("KAZ", "0.2", "EUR")
    large = pledge("UZB", "999999.99", "EUR")
    ok("update", large, "--status", "disbursed", "--amount", "999999.98", *SOURCE)
    pledge("UZB", "2000000000", "JPY", "--approximate")
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    await site.invoke_startup()
    [total, *_] = await get_json(site, "/tracker/pledges_by_donor.json?_shape=array&donor=KAZ")
    assert {key: total[key] for key in ("title", "amount", "amount_text", "disbursed_amount",
                                        "disbursed_amount_text")} == {
        "title": "total in EUR (2 pledges, not withdrawn)", "amount": 0.3,
        "amount_text": "0.3", "disbursed_amount": None, "disbursed_amount_text": None}
    [left] = await get_json(site, "/tracker/pledges_outstanding.json?_shape=array&"
                                  "currency=EUR&donor=UZB")
    assert (left["outstanding_amount"], left["outstanding_amount_text"]) == (0.01, "0.01")
    assert (left["amount_text"], left["disbursed_amount_text"]) == ("999999.99", "999999.98")
    per_donor = await get_json(site, "/tracker/pledges_outstanding_by_donor.json?"
                                     "_shape=array&donor=")
    assert per_donor == [
        {"donor": "KAZ", "currency": "EUR", "pledges": 2, "pledged": 0.3, "disbursed": 0,
         "outstanding": 0.3, "approximate": 0, "pledged_text": "0.3", "disbursed_text": "0",
         "outstanding_text": "0.3"},
        {"donor": "UZB", "currency": "EUR", "pledges": 1, "pledged": 999999.99,
         "disbursed": 999999.98, "outstanding": 0.01, "approximate": 0,
         "pledged_text": "999999.99", "disbursed_text": "999999.98",
         "outstanding_text": "0.01"},
        {"donor": "UZB", "currency": "JPY", "pledges": 1, "pledged": 2000000000,
         "disbursed": 0, "outstanding": 2000000000, "approximate": 1,
         "pledged_text": "2000000000", "disbursed_text": "0",
         "outstanding_text": "2000000000"}]


async def test_a_donors_totals_leave_withdrawn_pledges_out_and_say_so(db: Path) -> None:
    """As the dashboard and pledges_outstanding_by_donor do: a total of pledges_by_donor
    added withdrawn pledges in, and neither its label nor the README said so. The pledges
    themselves are all listed, a withdrawn one with its status."""
    pledge("KAZ", "1000", "JPY")
    pledge("KAZ", "2000", "JPY", "--approximate")
    for amount in ("30000", "400000"):
        ok("update", pledge("KAZ", amount, "JPY"), "--status", "withdrawn", *SOURCE)
    ok("update", pledge("KAZ", "5", "USD"), "--status", "withdrawn", *SOURCE)
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    await site.invoke_startup()
    answer = await get_json(site, "/tracker/pledges_by_donor.json?_shape=array&donor=KAZ")
    assert [(row["title"], row["amount_text"], row["approximate"], row["status"])
            for row in answer] == [
        ("total in JPY (2 pledges, not withdrawn)", "3000", 1, None),
        ("1000 JPY", "1000", 0, "pledged"), ("2000 JPY", "2000", 1, "pledged"),
        ("30000 JPY", "30000", 0, "withdrawn"), ("400000 JPY", "400000", 0, "withdrawn"),
        ("5 USD", "5", 0, "withdrawn")]
    [outstanding] = await get_json(site, "/tracker/pledges_outstanding_by_donor.json?"
                                         "_shape=array&donor=KAZ")
    assert (outstanding["currency"], outstanding["pledges"], outstanding["pledged_text"]) == (
        "JPY", 2, "3000")


DIGITS = st.integers(1, 10 ** 15 - 1)  # at most 15 significant digits, as the CLI takes
AMOUNT_TEXTS = st.builds(lambda digits, places: parse_amount(
    format(Decimal(digits).scaleb(-places), "f")), DIGITS, st.integers(0, 15))
PLEDGE_ROWS = st.lists(st.tuples(
    st.sampled_from(["KAZ", "UZB"]), st.sampled_from(["EUR", "JPY"]), AMOUNT_TEXTS,
    st.none() | AMOUNT_TEXTS, st.sampled_from(["pledged", "fulfilled", "withdrawn"]),
    st.booleans()), min_size=1, max_size=12)


def exact(value: Decimal) -> str:
    """A decimal as an amount is written: no trailing zeros, no point for a whole."""
    return format(value.normalize(), "f")


@examples(PLEDGE_ROWS)
@settings(max_examples=60, deadline=None)
def test_sums_and_differences_of_any_amounts_are_exact(pledges: list[tuple]) -> None:
    """The view, the canned queries and the dashboard's chart add and subtract amounts as
    decimals, whatever their digits (15 significant at most, up to 15 decimals), with
    carries across the fractions of many amounts."""
    with localcontext(prec=60):  # exact: 28 digits would round 10^13 + 10^-15
        check_sums_and_differences(pledges)


def check_sums_and_differences(pledges: list[tuple]) -> None:
    metadata = json.loads(METADATA.read_text())
    queries = metadata["databases"]["tracker"]["queries"]
    chart = metadata["plugins"]["datasette-dashboards"]["overview"]["charts"]["pledged"]
    with closing(sqlite3.connect(":memory:")) as conn:
        database = sqlite_utils.Database(conn)
        schema.create_tables(database)
        schema.create_indexes_views_fts(database)
        conn.create_function("tracker_actor", 1, actor_code)
        for number, (donor, currency, amount, disbursed, status, approximate) in enumerate(
                pledges):
            conn.execute(
                "insert into pledges (id, title, date, date_start, date_end, donor, "
                "currency, amount, amount_text, approximate, status, disbursed_amount, "
                "disbursed_amount_text) values (?, 't', '2024', '2024-01-01', "
                "'2024-12-31', ?, ?, ?, ?, ?, ?, ?, ?)",
                (f"p{number}", donor, currency, _number(amount), amount, int(approximate),
                 "disbursed" if disbursed and status == "pledged" else status,
                 _number(disbursed) if disbursed else None, disbursed))

        def expected(rows: list[tuple], value) -> dict[tuple, Decimal]:
            sums: dict[tuple, Decimal] = {}
            for row in rows:
                sums[row[:2]] = sums.get(row[:2], Decimal(0)) + value(row)
            return sums

        left = [row for row in pledges if row[4] == "pledged"]
        outstanding = conn.execute("select id, outstanding_amount, outstanding_amount_text "
                                   "from pledges_outstanding order by cast(substr(id, 2) as "
                                   "integer)").fetchall()
        assert [(text, number) for _id, number, text in outstanding] == [
            (exact(max(Decimal(row[2]) - Decimal(row[3] or 0), Decimal(0))),
             conn.execute("select cast(? as numeric)", (text,)).fetchone()[0])
            for row, (_id, _number_, text) in zip(left, outstanding, strict=True)]
        per_donor = conn.execute(queries["pledges_outstanding_by_donor"]["sql"],
                                 {"donor": ""}).fetchall()
        pledged = expected(left, lambda row: Decimal(row[2]))
        disbursed = expected(left, lambda row: Decimal(row[3] or 0))
        remaining = expected(left, lambda row: max(Decimal(row[2]) - Decimal(row[3] or 0),
                                                   Decimal(0)))
        assert [(row[0], row[1], list(row[7:])) for row in per_donor] == [
            (*key, [exact(pledged[key]), exact(disbursed[key]), exact(remaining[key])])
            for key in sorted(pledged)]
        for donor in ("KAZ", "UZB"):
            totals = [row for row in conn.execute(queries["pledges_by_donor"]["sql"],
                                                  {"donor": donor}) if row[0] is None]
            mine = [row for row in pledges if row[0] == donor and row[4] != "withdrawn"]
            amounts = expected(mine, lambda row: Decimal(row[2]))
            paid = {key: exact(value) for key, value in expected(
                [row for row in mine if row[3]], lambda row: Decimal(row[3])).items()}
            assert [(row[3], row[9], row[10]) for row in totals] == [
                (currency, exact(amounts[donor, currency]), paid.get((donor, currency)))
                for _donor, currency in sorted(amounts)]
        [(shown,)] = conn.execute(replace_opts_in_query(chart["query"], {})).fetchall()
        kept = [row for row in pledges if row[4] != "withdrawn"]
        sums = expected([(row[1], None, *row[2:]) for row in kept],
                        lambda row: Decimal(row[2]))
        about = {row[1] for row in kept if row[5]}
        figures = {}
        for (currency, _none), value in sums.items():
            whole, _point, fraction = exact(value).partition(".")
            figures[currency] = (f"{currency} {'about ' if currency in about else ''}"
                                 f"{int(whole):,}{'.' + fraction if fraction else ''}")
        assert sorted(shown.split("\n")) == sorted(figures.values()) or (
            not figures and shown == "none")


async def test_a_canned_query_page_is_titled_by_its_title_not_its_sql(datasette) -> None:
    """The browser's tab, a bookmark and a screen reader say what the page is (Datasette
    0.65 put the query's whole SQL there); a query of one's own keeps its SQL."""
    metadata = json.loads(METADATA.read_text())["databases"]["tracker"]["queries"]
    for name, parameters in QUERY_PARAMETERS.items():
        page = await datasette.client.get(f"/tracker/{name}?"
                                          + urllib.parse.urlencode(parameters))
        [title] = re.findall(r"<title>(.*?)</title>", page.text, re.DOTALL)
        assert html.unescape(title) == f"{metadata[name]['title']}: tracker", name
    page = await datasette.client.get("/tracker?sql=select+1")
    assert re.findall(r"<title>(.*?)</title>", page.text) == ["tracker: select 1"]
