"""The published web surface: read-only, time-limited, and safe to show hostile text.

Most tests use one real `tracker serve` on a free port of 127.0.0.1, serving a copy of
the bundled log plus a meeting whose title is a `<script>`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from markupsafe import escape

from tracker import site
from tracker.serve import SETTINGS, load_metadata, make_datasette
from tracker.site import READ_ONLY

from .conftest import METADATA
from .serving import copy_bundled_project, tracker, tracker_serve

SCRIPT_TITLE = '<script>alert("owned")</script> summit'
FOREVER = ("with recursive counter(n) as (select 1 union all select n + 1 from counter) "
           "select count(*) from counter")


class Site:
    """A running server, asked with any method; HTTP errors are answers, not exceptions."""

    def __init__(self, url: str, project: Path):
        self.url = url
        self.project = project

    def request(self, path: str, method: str = "GET", data: bytes | None = None,
                timeout: float = 60) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def sql(self, query: str, **extra: str) -> tuple[int, str]:
        return self.request("/tracker.json?" + urllib.parse.urlencode({"sql": query, **extra}))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    project = copy_bundled_project(tmp_path_factory.mktemp("web") / "project")
    added = tracker(project, "add", "meeting", "--title", SCRIPT_TITLE, "--date", "2024-08",
                    "--summary", "<b>bold</b> & <i>more</i>",
                    "--source", "https://example.org/?a=<x>&b='y'")
    assert added.returncode == 0, added.stderr
    with tracker_serve(project) as running:
        yield Site(running.url, project)


def database_digest(project: Path) -> str:
    return hashlib.sha256((project / "tracker.db").read_bytes()).hexdigest()


# -- read-only ---------------------------------------------------------------------------------


def test_canned_queries_only_read(bundled: Path) -> None:
    """Every canned query runs on a connection that cannot write (query_only); none is
    marked `write`."""
    queries = json.loads(METADATA.read_text())["databases"]["tracker"]["queries"]
    assert queries
    with closing(sqlite3.connect(f"file:{bundled}?mode=ro", uri=True)) as conn:
        conn.execute("pragma query_only = 1")
        site.prepare_connection(conn)  # its functions, as the site has them
        for name, query in queries.items():
            assert not query.get("write"), name
            assert set(query) <= {"sql", "title", "description", "hide_sql", "fragment"}, name
            parameters = set(re.findall(r"(?<!:):(\w+)", query["sql"]))
            conn.execute(query["sql"], dict.fromkeys(parameters, "")).fetchall()
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("delete from meetings")


def test_post_and_write_sql_change_nothing(server: Site) -> None:
    """A real server: POSTs with SQL in the form are refused (every writing method on every
    page: test_publication.py), write SQL is refused, and the database does not change."""
    before = database_digest(server.project)
    count = json.loads(server.sql("select count(*) as n from meetings")[1])["rows"]
    form = urllib.parse.urlencode({"sql": "delete from meetings"}).encode()
    for path in ("/tracker", "/tracker.json", "/tracker/meetings", "/tracker/meetings.json",
                 "/tracker/recorded_since", "/tracker/-/query", "/-/permissions",
                 "/tracker?sql=delete+from+meetings"):
        status, body = server.request(path, method="POST", data=form)
        assert (status, body) == (405, READ_ONLY.decode()), path
    for statement in ("delete from meetings", "drop table events",
                      "update meetings set title = 'x'", "attach database 'x.db' as x",
                      "insert into meetings (id) values ('x')", "pragma writable_schema = 1",
                      "select 1; delete from meetings"):
        status, body = server.sql(statement)
        assert status == 400, (statement, body)
        assert json.loads(body)["ok"] is False
    assert json.loads(server.sql("select count(*) as n from meetings")[1])["rows"] == count
    assert database_digest(server.project) == before


def test_the_database_is_served_immutable(server: Site, bundled: Path) -> None:
    status, body = server.request("/-/databases.json")
    [database] = json.loads(body)
    assert (status, database["name"], database["is_mutable"]) == (200, "tracker", False)
    datasette = make_datasette(bundled, load_metadata(METADATA))
    connection = datasette.get_database("tracker").connect()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connection.execute("delete from meetings")
    with pytest.raises(AssertionError):
        datasette.get_database("tracker").connect(write=True)


# -- time limits ---------------------------------------------------------------------------------


def test_arbitrary_sql_is_time_limited(server: Site) -> None:
    status, body = server.request("/-/settings.json")
    assert json.loads(body)["sql_time_limit_ms"] == SETTINGS["sql_time_limit_ms"] == 1000
    for extra in ({}, {"_timelimit": "100000"}):  # a query cannot ask for more time
        status, body = server.sql(FOREVER, **extra)
        assert status == 400
        assert "SQL query took too long" in json.loads(body)["error"]


def test_queries_that_would_run_forever_are_cut_off_and_the_server_keeps_answering(
        server: Site) -> None:
    """Five clients send three endless queries each, back to back: more than Datasette's
    SQL threads (3). Each is cut off; other requests are answered in the meantime (a
    request waits at most for a thread to free, which the time limit bounds) and after."""
    results: list[tuple[int, str, float]] = []

    def endless() -> None:
        for _ in range(3):
            status, body = server.sql(FOREVER)
            results.append((status, body, time.monotonic()))

    threads = [threading.Thread(target=endless) for _ in range(5)]
    for thread in threads:
        thread.start()
    answered: list[tuple[int, float, float]] = []
    while any(thread.is_alive() for thread in threads):
        for path in ("/-/versions.json", "/tracker/meetings.json?_shape=array"):
            started = time.monotonic()
            status = server.request(path)[0]
            answered.append((status, started, time.monotonic()))
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 15
    for status, body, _ in results:
        assert status == 400 and "SQL query took too long" in body
    assert {status for status, _, _ in answered} == {200}
    last_cut_off = max(finished for *_, finished in results)
    during = [finished for _, _, finished in answered if finished < last_cut_off]
    assert during, "no answer while the endless queries ran"
    latencies = sorted(finished - started for _, started, finished in answered)
    assert latencies[-1] < 30, latencies
    status, body = server.request("/tracker/meetings.json?_shape=array")
    assert status == 200 and len(json.loads(body)) == 10


# -- bad parameters ----------------------------------------------------------------------------

BAD_PARAMETERS = {
    "/tracker/meetings.json?_sort=nope": "Cannot sort table by nope",
    "/tracker/upcoming_meetings.json?_sort_desc=nope": "Cannot sort table by nope",
    "/tracker/meetings.json?_sort=title&_sort_desc=date":
        "Cannot use _sort and _sort_desc at the same time",
    "/tracker/meetings.json?_timelimit=abc":
        "_timelimit must be a whole number of milliseconds: abc",
    "/tracker/meetings.json?_through=garbage":
        '_through must be JSON of the form {"table": "...", "column": "...", "value": ...} '
        "with a text or number value: garbage",
    '/tracker/meetings.json?_through={"table":1,"column":"actor","value":"JP"}':
        '_through must be JSON of the form {"table": "...", "column": "...", "value": ...} '
        'with a text or number value: {"table":1,"column":"actor","value":"JP"}',
    '/tracker/meetings.json?_through={"table":"sources","column":"url","value":"x"}':
        "Invalid _through - could not find corresponding foreign key",
    "/tracker/timeline.json?_next=garbage":
        "_next must be a whole number of rows on this page: garbage",
    # What SQLite cannot take (Datasette 0.65 catches only its OperationalError)
    '/tracker/actors.json?_through={"table":"meeting_participants","column":"actor","value":{}}':
        '_through must be JSON of the form {"table": "...", "column": "...", "value": ...} '
        'with a text or number value: '
        '{"table":"meeting_participants","column":"actor","value":{}}',
    '/tracker/actors.json?_through={"table":"meeting_participants","column":"actor",'
    '"value":99999999999999999999}':
        '_through must be JSON of the form {"table": "...", "column": "...", "value": ...} '
        'with a text or number value: '
        '{"table":"meeting_participants","column":"actor","value":99999999999999999999}',
    "/tracker/timeline.json?_next=-9223372036854775809":
        "_next=-9223372036854775809: a number beyond those SQLite takes "
        "(-9223372036854775808 to 9223372036854775807)",
    "/tracker/meetings.json?latitude__gt=9223372036854775808":
        "latitude__gt=9223372036854775808: a number beyond those SQLite takes "
        "(-9223372036854775808 to 9223372036854775807)",
    '/tracker/meetings.json?id__in=["a"':
        'id__in must be values separated by commas, or a JSON list of them, as ["a", "b"]: '
        '["a"',
    "/tracker/meetings.json?country__notin=[{}]":
        'country__notin must be values separated by commas, or a JSON list of them, as '
        '["a", "b"]: [{}]',
    "/tracker/meetings.json?_where=1=1;+select+1": "You can only execute one statement at a time.",
    "/tracker/meetings.json?_where=length(randomblob(1e9))": "string or blob too big",
}


def test_a_bad_shape_is_a_bad_request_on_every_json(server: Site) -> None:
    """Datasette 0.65 wrote these errors with a status of 200 (a query's, or `_shape=object`
    where it cannot be): a script that checks the status took them for answers."""
    for path, error in (
            ("/tracker/recent_developments.json?_shape=nope", "Invalid _shape: nope"),
            ("/tracker.json?sql=select+1&_shape=nope", "Invalid _shape: nope"),
            ("/tracker/meetings_of_format.json?format=central-asia-japan&_shape=nope",
             "Invalid _shape: nope"),
            ("/tracker/meetings.json?_shape=nope", "Invalid _shape: nope"),
            ("/tracker/recent_developments.json?_shape=object",
             "_shape=object is only available on tables"),
            ("/tracker/timeline.json?_shape=object",
             "_shape=object not available for tables with no primary keys")):
        status, body = server.request(path)
        assert (status, json.loads(body)["error"]) == (400, error), path
    for path in ("/tracker/meetings.json?_shape=object", "/tracker.json?sql=select+1",
                 "/tracker/recent_developments.json?_shape=array"):
        assert server.request(path)[0] == 200, path
    status, body = server.request("/tracker.json?sql=select+nope")
    assert (status, json.loads(body)["error"]) == (400, "no such column: nope")


def test_a_bad_parameter_is_a_bad_request_not_a_server_error(server: Site) -> None:
    """Datasette 0.65 answers these with a 500 (and a traceback in the log for some): the
    site answers 400 with what was wrong, on its JSON and its HTML pages; the parameters
    used well still work."""
    for path, message in BAD_PARAMETERS.items():
        status, body = server.request(path)
        assert (status, json.loads(body)) == (400, {
            "ok": False, "error": message, "status": 400, "title": None}), path
        status, body = server.request(path.replace(".json", "", 1))
        assert status == 400 and f">{escape(message)}</div>" in body, path
    assert "Traceback" not in (server.project / "serve.stderr").read_text()
    through = json.dumps({"table": "meeting_participants", "column": "actor", "value": "JP"})
    for path in ("/tracker/meetings.json?_sort=title", "/tracker/meetings.json?_timelimit=900",
                 "/tracker/meetings.json?_through=" + urllib.parse.quote(through),
                 "/tracker/timeline.json?_next=5", "/tracker/meetings.json?_next=garbage",
                 "/tracker/meetings.json?latitude__gt=9223372036854775807",
                 '/tracker/meetings.json?country__in=["JPN",1]',
                 "/tracker/meetings.json?_where=length(title)>1"):
        assert server.request(path)[0] == 200, path
    status, body = server.request("/tracker/nope.json")
    assert (status, json.loads(body)["status"]) == (404, 404)


def atom_feed(updated: str, rest: str = ", 'c' as atom_content", **extra: str) -> str:
    """The Atom feed of a query of one row, with this `atom_updated` (SQL) and the rest."""
    return "/tracker.atom?" + urllib.parse.urlencode({
        "sql": f"select 1 as atom_id, 't' as atom_title, {updated} as atom_updated{rest}",
        **extra})


ENDLESS = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
BAD_OTHER_FORMATS = {  # Datasette 0.65 answers these with a 500 and a traceback
    "/tracker.csv?" + urllib.parse.urlencode({"sql": ENDLESS}):
        "SQL query took too long: the time limit is 1000 ms",
    "/tracker.csv?sql=select+nope": "no such column: nope",  # (an empty CSV, status 200)
    "/tracker/recorded_since.csv?date=2027-13-45&_stream=on":
        "invalid date '2027-13-45': no month 13",
    "/tracker/meetings.csv?_timelimit=-5": "SQL query took too long: the time limit is 0 ms",
    "/tracker.csv": "A database page has no rows to give as CSV or as an array: give a "
                    "query with ?sql=",
    "/tracker.json?_shape=array": "A database page has no rows to give as CSV or as an "
                                  "array: give a query with ?sql=",
    atom_feed("'nope'", ""): "atom_updated must be a date and time: Unknown string format: nope",
    atom_feed("'x'", " where 0"): "The query gave no rows: an Atom feed has one entry at least",
    atom_feed("'2026-01-01'"):  # feedgen: "Datetime object has no timezone info"
        "atom_updated must give its time zone, as 2026-01-01T10:00:00Z: '2026-01-01'",
    atom_feed("1767225600"): "atom_updated must be a date and time, as text: 1767225600",
    atom_feed("'99999999999999999999'"):
        "atom_updated must be a date and time: '99999999999999999999'",
    atom_feed("'2026-01-01T10:00:00Z'", ", null as atom_content"):
        "Entry '1' has no atom_content, atom_content_html or atom_link: an Atom entry needs one",
    atom_feed("'2026-01-01T10:00:00Z'", _feed_title="News \ufffe"):
        "_feed_title must be text XML can carry, without U+FFFE: 'News \\ufffe'",
}


def test_a_bad_query_in_other_formats_is_a_bad_request(server: Site) -> None:
    for path, message in BAD_OTHER_FORMATS.items():
        status, body = server.request(path)
        assert status == 400, path
        if path.startswith("/tracker.json"):
            assert json.loads(body)["error"] == message
        else:
            assert f">{escape(message)}</div>" in body, path
    status, body = server.sql("select randomblob(1e9)")  # no gigabyte to encode
    assert (status, json.loads(body)["error"]) == (400, "string or blob too big")
    status, body = server.request("/tracker/meetings.json?_facet=nope")
    assert (status, json.loads(body)["error"]) == (400, "no such column: nope")
    assert "Traceback" not in (server.project / "serve.stderr").read_text()


def test_hiding_the_sort_column_keeps_the_pages(server: Site) -> None:
    """"Hide this column" on the column a table is sorted by (`_nocol`, or a `_col` list
    without it) on a table of several pages: the same rows, without that column, and
    the same next page (Datasette 0.65 answers 500 where its rows have labels)."""
    for path, hidden, key in (
            ("/tracker/events.json?_size=20&_labels=on", "recorded_at", "id"),
            ("/tracker/meetings.json?_size=3&_sort=title&_labels=on", "title", "id"),
            # tables with no key of their own (Datasette 0.65: "incomplete input", a 400)
            ("/tracker/history.json?_size=5&_shape=objects", "recorded_at", "rowid"),
            ("/tracker/meeting_participants.json?_size=5&_sort=actor&_shape=objects", "actor",
             "rowid"),
            ("/tracker/announcement_about.json?_size=2&_sort=subject&_shape=objects",
             "subject", "rowid")):
        status, whole = server.request(path)
        status_hidden, body = server.request(f"{path}&_nocol={hidden}")
        assert (status, status_hidden) == (200, 200), (path, body)
        whole, without = json.loads(whole), json.loads(body)
        assert hidden in whole["columns"] and hidden not in without["columns"]
        assert [row[key] for row in without["rows"]] == [row[key] for row in whole["rows"]]
        assert without["next"] == whole["next"] is not None, path
        assert server.request(f"{path.replace('.json', '')}&_nocol={hidden}")[0] == 200
    status, body = server.request("/tracker/meetings.json?_col=country&_size=5&_labels=on")
    assert status == 200 and json.loads(body)["columns"] == ["id", "country"]
    assert "Traceback" not in (server.project / "serve.stderr").read_text()


# -- hostile text in pages -------------------------------------------------------------------


def test_a_script_in_a_title_renders_escaped(server: Site) -> None:
    [meeting] = json.loads(server.request(
        "/tracker/meetings.json?_shape=array&title__contains=script")[1])
    assert meeting["title"] == SCRIPT_TITLE  # the JSON API gives it verbatim
    escaped = "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; summit"
    for path in (f"/tracker/meetings/{meeting['id']}", "/tracker/meetings",
                 "/tracker/meetings?_search=summit", "/tracker/timeline",
                 "/tracker/recorded_since?date=2000-01-01",
                 "/tracker?sql=select+title+from+meetings"):
        status, page = server.request(path)
        assert status == 200, path
        assert escaped in page, path
        assert "<script>alert(" not in page, path
    status, page = server.request(f"/tracker/meetings/{meeting['id']}")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;more&lt;/i&gt;" in page
    assert "<b>bold</b>" not in page
