"""The published site in a real browser: Chromium driven by Playwright against `tracker serve`.

Every request that leaves 127.0.0.1 is blocked and recorded, as on a machine without a
network: pages, charts, maps and search must work with the project's own assets (map
tiles are the only thing allowed to go missing). Screenshots go to test-output/browser/.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, suppress
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from .conftest import METADATA, PROJECT
from .serving import Server, copy_bundled_project, tracker, tracker_serve

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT / "test-output" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-default-apps"]
TILES = re.compile(r"(^|\.)tile\.openstreetmap\.org$")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    project = copy_bundled_project(tmp_path_factory.mktemp("site") / "project")
    with tracker_serve(project, "--no-watch") as server:
        yield server, project / "tracker.db"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Visit:
    """One page of the site, offline, with its outside requests and script errors."""

    def __init__(self, browser, server: Server, name: str):
        self.server = server
        self.name = name
        self.outside: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.warnings: list[str] = []  # what scripts wrote to the console as warnings
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.page.route("**/*", self.route)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.warnings.append(message.text)
                     if message.type == "warning" else None)

    def route(self, route, request) -> None:
        if urlsplit(request.url).hostname == "127.0.0.1" or request.url.startswith("data:"):
            route.continue_()
        else:
            self.outside.append((request.resource_type, request.url))
            route.abort("internetdisconnected")

    def open(self, path: str):
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.status == 200, path
        return self.page

    def close(self) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.name}.png"), full_page=True)
        self.context.close()
        assert self.errors == [], self.errors
        # Only map tiles may be wanted from outside: scripts, styles, data are local.
        assert all(kind == "image" and TILES.search(urlsplit(url).hostname or "")
                   for kind, url in self.outside), self.outside


@pytest.fixture
def visit(browser, site, request) -> Iterator[Visit]:
    server, _db = site
    page = Visit(browser, server, request.node.name)
    yield page
    page.close()


def query(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def test_home_page_lists_the_tables(visit: Visit, site) -> None:
    page = visit.open("/")
    assert page.title().startswith("tracker: diplomatic developments")
    assert page.locator("h2 a[href='/tracker']").inner_text() == "tracker"
    linked = set(page.eval_on_selector_all("a[href^='/tracker/']",
                                           "links => links.map(a => a.getAttribute('href'))"))
    hidden = {name for name, table in json.loads(METADATA.read_text())["databases"][
        "tracker"]["tables"].items() if table.get("hidden")}
    shown = [name for (name,) in query(site[1], "select name from sqlite_master where type "
                                                "in ('table', 'view') and name not like "
                                                "'%fts%' and name not like 'sqlite%'")
             if name not in hidden]
    assert len(shown) == 22
    for name in (*shown, "recent_developments.atom", "scheduled_meetings.ics"):
        assert f"/tracker/{name}" in linked, name  # every table and view, and the feeds
    for link in ("/-/dashboards/overview", "/-/search"):
        assert page.locator(f"a[href='{link}']").count() >= 1, link
    page.click("h2 a[href='/tracker']")
    page.wait_for_url("**/tracker")
    tables = page.locator("h3 a").all_inner_texts()
    views = page.locator("h2:has-text('Views') + ul a").all_inner_texts()
    assert {"meetings", "announcements", "pledges", "sources", "formats", "actors"} <= set(tables)
    assert {"timeline", "upcoming_meetings", "pledges_outstanding", "actor_activity",
            "format_history"} <= set(views)


def test_a_facet_click_filters_the_meetings(visit: Visit) -> None:
    page = visit.open("/tracker/meetings")
    assert page.locator("h3").first.inner_text().startswith("9 rows")
    facet = page.locator(".facet-info[data-column='format'] a",
                         has_text="Central Asia + China")
    facet.click()
    page.wait_for_url(re.compile(r"format=central-asia-china"))
    assert page.locator("h3").first.inner_text().startswith("1 row where format =")
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 1
    assert "First Central Asia + China dialogue" in rows.first.inner_text()


def markers_on_map(page, selector: str) -> int:
    """Markers shown, counting each cluster as the markers it holds."""
    page.wait_for_selector(f"{selector} .leaflet-marker-icon")
    page.wait_for_timeout(500)  # let the cluster animation settle
    return page.evaluate("""selector => {
        let total = 0;
        for (const icon of document.querySelectorAll(selector + ' .leaflet-marker-icon')) {
            total += icon.classList.contains('marker-cluster')
                ? parseInt(icon.innerText, 10) : 1;
        }
        return total;
    }""", selector)


def test_the_map_shows_a_marker_per_located_meeting(visit: Visit, site) -> None:
    _server, db = site
    [(located,)] = query(db, "select count(*) from meetings where latitude is not null")
    assert located == 5
    page = visit.open("/tracker/meetings")
    assert markers_on_map(page, ".leaflet-container") == located


def test_views_with_coordinates_have_a_map(visit: Visit) -> None:
    page = visit.open("/tracker/upcoming_meetings")
    assert markers_on_map(page, ".leaflet-container") == 1


# What a marker's popup says of a row (tracker/static/maps.js), a line per field that has a
# value, in this order: a foreign key by its label, a JSON list by its items.
POPUP_FIELDS = ("date", "status", "format", "level", "mode", "city", "country", "chair",
                "participants")
# The located rows of the tables with a map, with their fields as a popup gives them.
LOCATED_ROWS = {
    "meetings": "select meetings.id, meetings.title, meetings.date, meetings.status, "
                "formats.name, meetings.level, meetings.mode, meetings.city, country.name, "
                "chair.name, meetings.participants from meetings left join formats on "
                "formats.slug = meetings.format left join actors as country on country.code "
                "= meetings.country left join actors as chair on chair.code = meetings.chair "
                "where meetings.latitude is not null order by meetings.id",
    "upcoming_meetings": "select id, title, date, null, format, level, mode, city, country, "
                         "chair, participants from upcoming_meetings where latitude is not "
                         "null order by id"}


def popup_lines(values: list) -> list[str]:
    fields = dict(zip(POPUP_FIELDS, values, strict=True))
    if fields["participants"] is not None:
        fields["participants"] = ", ".join(json.loads(fields["participants"]))
    return [f"{field}: {value}" for field, value in fields.items() if value not in (None, "")]


def open_popup(page) -> dict:
    """Click the one marker of the page's map: its popup's title, link and lines."""
    page.locator(".leaflet-marker-icon").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    return popup.evaluate("""popup => ({
        title: popup.querySelector('strong')?.textContent ?? null,
        link: popup.querySelector('a')?.getAttribute('href') ?? null,
        lines: popup.querySelector('p:last-of-type')?.textContent.split('\\n') ?? null,
    })""")


def test_map_popups_show_the_fields_that_have_a_value(visit: Visit, site) -> None:
    """datasette-cluster-map's popup listed every column of the row, those without a value
    as "null". It shows the row's title, links to its record, and lists the fields that
    say when, where, how and who, those with a value only."""
    _server, db = site
    for table, sql in LOCATED_ROWS.items():
        located = query(db, sql)
        assert located, table
        for row_id, title, *values in located:
            page = visit.open(f"/tracker/{table}?" + urlencode({"id": row_id}))
            assert open_popup(page) == {"title": title, "link": f"/-/record/{row_id}",
                                        "lines": popup_lines(values)}, (
                table, row_id, page.locator(".leaflet-popup-content").inner_text())
    # A query's rows: its fields among those, or else each of its columns with a value.
    [(title,)] = query(db, "select title from meetings where city = 'Ashgabat'")
    page = visit.open("/tracker?" + urlencode({"sql": "select title, mode, city, latitude, "
                                                      "longitude from meetings where city = "
                                                      "'Ashgabat'"}))
    assert open_popup(page) == {"title": title, "link": None, "lines": ["city: Ashgabat"]}
    [(first,)] = query(db, "select min(date) from meetings where city = 'Ashgabat'")
    page = visit.open("/tracker?" + urlencode({"sql": "select 'Ashgabat' as place, null as note, "
                                                      "min(date) as first, latitude, longitude "
                                                      "from meetings where city = 'Ashgabat'"}))
    assert open_popup(page) == {"title": None, "link": None,
                                "lines": ["place: Ashgabat", f"first: {first}"]}


def linked_ids(page) -> list[tuple[str, str]]:
    """(column, text) of each link to a record by id alone, in page order."""
    return [tuple(link) for link in page.eval_on_selector_all(
        "a[href^='/-/record/']",
        "links => links.map(a => [a.closest('td').classList[0].slice(4), a.textContent])")]


def test_ids_in_views_and_queries_open_their_records(visit: Visit, site) -> None:
    _server, db = site
    page = visit.open("/tracker/timeline?_sort=id")
    timeline = query(db, "select id, format from timeline order by id")
    assert linked_ids(page) == [link for row_id, row_format in timeline for link in (
        ("id", row_id), *([("format", row_format)] if row_format else []))]
    [(summit, title)] = query(db, "select id, title from meetings where date = '2024-08'")
    page.click(f"a[href='/-/record/{summit}']")
    page.wait_for_url(f"**/tracker/meetings/{summit}")
    assert page.locator("h1").inner_text() == f"meetings: {summit}"
    assert title in page.locator("table.rows-and-columns").inner_text()
    page = visit.open("/tracker/upcoming_after?date=2024-01-01")
    assert linked_ids(page) == [("format", "central-asia-japan"), ("id", summit)]
    page.click("a[href='/-/record/central-asia-japan']")
    page.wait_for_url("**/tracker/formats/central-asia-japan")
    page = visit.open("/tracker/corrections?_sort=event_id")  # a format's subject: its slug
    corrections = query(db, "select event_id, subject from corrections order by event_id")
    assert linked_ids(page) == [link for event_id, subject in corrections for link in (
        ("event_id", event_id), ("subject", subject))]
    assert ("subject", "central-asia-china") in linked_ids(page)
    page.click("a[href='/-/record/central-asia-china']")
    page.wait_for_url("**/tracker/formats/central-asia-china")
    page = visit.open("/tracker/history?_sort=event_id")
    events = query(db, "select event_id from history order by event_id limit 100")
    assert linked_ids(page) == [("event_id", event_id) for (event_id,) in events]
    page = visit.open("/tracker/meetings")  # its ids link to rows already: left as they are
    assert linked_ids(page) == []
    assert page.locator("td.col-id a").count() == 9


def test_a_canned_querys_sql_wraps_to_the_page(visit: Visit) -> None:
    """Its SQL is one long line: the page stays as wide as the window, on a phone too."""
    page = visit.open("/tracker/recent_developments")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.locator("pre#sql-query").bounding_box()["height"] > 100  # wrapped


def test_every_table_page_fits_a_phone(visit: Visit, site) -> None:
    """The schema at the foot of a table's page wraps its long index names; the rows
    scroll in their own box."""
    _server, db = site
    tables = [name for (name,) in query(db, "select name from sqlite_master where type in "
                                            "('table', 'view') and name not like '%fts%' "
                                            "and name not like 'sqlite%'")]
    visit.page.set_viewport_size({"width": 390, "height": 844})
    wide = {}
    for table in tables:
        page = visit.open(f"/tracker/{table}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide[table] = width
    assert wide == {}


def test_the_dashboard_renders_charts_with_marks(visit: Visit, site) -> None:
    _server, db = site
    page = visit.open("/-/dashboards/overview")
    [(held,)] = query(db, "select count(*) from meetings where status = 'held'")
    assert page.locator("#chart-meetings-held p").inner_text() == str(held)
    assert page.locator("#chart-meetings-upcoming p").inner_text() == "0"
    assert page.locator("#chart-pledged p").inner_text() == "JPY about 2,000,000,000"
    [(groups,)] = query(db, "select count(*) from (select 1 from meetings where status = "
                            "'held' group by year, format)")
    bars = page.locator("#chart-meetings-per-year svg g.mark-rect path")
    bars.first.wait_for()
    assert bars.count() == groups
    actor_bars = page.locator("#chart-developments-per-actor svg g.mark-rect path")
    actor_bars.first.wait_for()
    assert actor_bars.count() > 10
    [(places,)] = query(db, "select count(distinct latitude || ',' || longitude) from meetings "
                            "where latitude is not null and status = 'held'")
    assert markers_on_map(page, "#chart-meeting-places") == places
    rows = page.locator("#chart-scheduled tbody tr")
    assert rows.count() == 1
    assert "1st Central Asia + Japan summit" in rows.first.inner_text()
    assert "date passed" in rows.first.inner_text()


def test_the_dashboard_filters(visit: Visit) -> None:
    page = visit.open("/-/dashboards/overview")
    page.select_option("select#format", "central-asia-china")
    page.click("input[type=submit][value=Apply]")
    page.wait_for_url(re.compile(r"format=central-asia-china"))
    page.locator("#chart-meetings-held p").wait_for()
    assert page.locator("#chart-meetings-held p").inner_text() == "1"
    bars = page.locator("#chart-meetings-per-year svg g.mark-rect path")
    bars.first.wait_for()
    assert bars.count() == 1
    assert page.locator("#chart-pledged p").inner_text() == "none"


def dashboard_charts() -> dict[str, dict]:
    return json.loads(METADATA.read_text())["plugins"]["datasette-dashboards"]["overview"][
        "charts"]


VEGA_LITE_SCHEMA = re.compile(r"https://vega\.github\.io/schema/vega-lite/v(\d+)\.json")


def test_the_charts_are_written_for_the_vega_lite_the_dashboard_loads(visit: Visit) -> None:
    """datasette-dashboards gives a chart's spec the `$schema` of Vega-Lite v5, and loads
    v6: "WARN The input spec uses Vega-Lite v5, but the current version of Vega-Lite is
    v6.4.1", in the console, for each chart. Each spec says the major version loaded, and
    neither the dashboard nor a chart's own page warns of anything."""
    charts = {slug: chart for slug, chart in dashboard_charts().items()
              if chart["library"] == "vega-lite"}
    assert len(charts) == 2
    page = visit.open("/-/dashboards/overview")
    for slug in charts:
        page.locator(f"#chart-{slug} svg.marks").wait_for()
    assert visit.warnings == []
    loaded = page.evaluate("vegaLite.version")
    for slug in charts:
        page = visit.open(f"/-/dashboards/overview/{slug}")
        page.locator(".chart-container svg.marks").wait_for()
        assert visit.warnings == [], slug
    for slug, chart in charts.items():
        schema = VEGA_LITE_SCHEMA.fullmatch(chart["display"].get("$schema", ""))
        assert schema is not None and schema[1] == loaded.split(".")[0], (slug, loaded)


# Where the chart of developments per actor is drawn, and the box its card has for it
# (the card without its padding and border): the page's coordinates of their edges.
ACTOR_CHART = """() => {
    const card = document.querySelector('#card-developments-per-actor');
    const chart = document.querySelector('#chart-developments-per-actor');
    const drawing = chart.querySelector('svg.marks').getBoundingClientRect();
    const outer = card.getBoundingClientRect();
    const style = getComputedStyle(card);
    return {
        card: {top: chart.getBoundingClientRect().top, bottom: outer.bottom
               - parseFloat(style.paddingBottom) - parseFloat(style.borderBottomWidth)},
        drawing: {top: drawing.top, bottom: drawing.bottom},
    };
}"""
FILLS_ITS_CARD = f"""() => {{
    const {{card, drawing}} = ({ACTOR_CHART})();
    return Math.abs(drawing.top - card.top) <= 1 && Math.abs(drawing.bottom - card.bottom) <= 1;
}}"""


@pytest.mark.parametrize("size", [(1280, 1000), (390, 844)], ids=["desktop", "phone"])
def test_the_chart_per_actor_fills_its_card(visit: Visit, site, size: tuple[int, int]) -> None:
    """Its bars took the height of one step each and left the rest of its card, two rows
    tall, empty: it is drawn from just below its title to the bottom of its card (to the
    pixel, as a drawing's size is rounded), once the charts beside it have been drawn. On
    a phone, one card a row, it is still tall enough for each actor's name to show."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    _server, db = site
    visit.page.set_viewport_size({"width": size[0], "height": size[1]})
    page = visit.open("/-/dashboards/overview")
    for chart in ("meetings-per-year", "developments-per-actor"):
        page.locator(f"#chart-{chart} svg.marks g.mark-rect path").first.wait_for()
    page.locator("#chart-meeting-places .leaflet-marker-icon").first.wait_for()
    # until Vega has measured the card again (if it never does, the assertions say by how much)
    with suppress(PlaywrightTimeoutError):
        page.wait_for_function(FILLS_ITS_CARD, timeout=5000)
    where = page.evaluate(ACTOR_CHART)
    card, drawing = where["card"], where["drawing"]
    assert abs(drawing["top"] - card["top"]) <= 1, where
    assert abs(drawing["bottom"] - card["bottom"]) <= 1, where
    names = page.locator("#chart-developments-per-actor g.role-axis[aria-label^='Y-axis'] "
                         "g.role-axis-label text")
    shown = [(name.text_content(), name.bounding_box()) for name in names.all()]
    [(actors,)] = query(db, "select count(*) from (select 1 from actor_activity where meetings "
                            "+ announcements + pledges_made + pledges_received > 0 limit 15)")
    assert len(shown) == actors
    clashes = [(one, other) for number, (one, box) in enumerate(shown)
               for other, other_box in shown[number + 1:] if overlap(box, other_box)]
    assert clashes == []


@pytest.mark.parametrize(("search", "message"), [
    ('"', """nothing to search for in '"': give a word"""),
    ('"" "  "', """nothing to search for in '"" "  "': give a word"""),
    ("Japan\x00", "invalid search 'Japan\\x00': a NUL character (U+0000) cannot be "
     "searched for: leave it out")])
def test_the_search_page_says_when_it_cannot_search(visit: Visit, search: str,
                                                    message: str) -> None:
    """Its script asked each table, which answered 400 (`fts5: syntax error near ""`),
    and failed on each answer (a TypeError), leaving the page blank; a search that is
    none would give every row of each."""
    failed: list[str] = []
    visit.page.on("response", lambda response: failed.append(response.url)
                  if response.status >= 400 else None)
    page = visit.open("/-/search?" + urlencode({"q": search}))
    assert page.locator("p.message-warning").text_content(timeout=5000) == message
    page.wait_for_load_state("networkidle")
    assert page.locator("#search-all-results").inner_text() == ""
    assert failed == []


def test_search_finds_ashgabat(visit: Visit, site) -> None:
    page = visit.open("/")
    page.fill("#search-all-q", "Ashgabat")
    page.press("#search-all-q", "Enter")
    page.wait_for_url(re.compile(r"/-/search\?q=Ashgabat"))
    results = page.locator("#search-all-results")
    results.get_by_text("6th Central Asia + Japan meeting of ministers").first.wait_for()
    text = results.inner_text()
    assert "meetings" in text and "sources" in text
    # The results come after the page: their ids link to their records too.
    [(meeting,)] = query(site[1], "select id from meetings where city = 'Ashgabat'")
    record = results.locator(f"a[href='/-/record/{meeting}']")
    record.first.wait_for()
    # a key shown as its record's title (a source's subject) links to that record too
    [(title,)] = query(site[1], f"select title from meetings where id = '{meeting}'")
    titled = results.locator(f"a[href='/-/record/{meeting}']", has_text=title)
    titled.first.wait_for()
    assert titled.count() >= 1
    record.first.click()
    page.wait_for_url(f"**/tracker/meetings/{meeting}")
    page = visit.open("/-/search?q=Japan")  # a format's key is its slug
    slug = page.locator("#search-all-results a[href='/-/record/central-asia-japan']",
                        has_text="central-asia-japan")
    slug.first.wait_for()


# Pledges in six currencies, in billions, with decimals, some approximate, and meetings held
# in every year from 2000 to 2024 and in spans of two years: what a tester's site held.
BUSY_PLEDGES = [("4380321367.75", "USD", True), ("8137256791.5", "EUR", True),
                ("6385420369", "JPY", True), ("1137256791.5", "KZT", True),
                ("5000000", "CNY", False), ("7", "GBP", False)]
BUSY_AMOUNTS = ["JPY about 8,385,420,369", "CNY 5,000,000", "EUR about 8,137,256,791.5",
                "GBP 7", "KZT about 1,137,256,791.5", "USD about 4,380,321,367.75"]
BUSY_YEARS = [str(year) for year in range(2000, 2025)] + [
    f"{year}/{year + 1}" for year in range(2000, 2024, 2)]
SOURCE = {"source": "https://example.org/report", "quote": "a quote"}


@pytest.fixture(scope="module")
def busy_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The bundled project, with `BUSY_PLEDGES` (a second JPY one) and a meeting held at
    each of `BUSY_YEARS`."""
    project = copy_bundled_project(tmp_path_factory.mktemp("busy") / "project")
    lines = [{"kind": "pledge", "title": f"Grant in {currency}", "date": "2024",
              "donor": "KOR", "recipient": "KAZ", "amount": amount, "currency": currency,
              **({"approximate": "yes"} if approximate else {}), **SOURCE}
             for amount, currency, approximate in BUSY_PLEDGES]
    lines += [{"kind": "meeting", "title": f"Meeting of {date}", "date": date,
               "status": "held", **SOURCE} for date in BUSY_YEARS]
    rows = project / "rows.jsonl"
    rows.write_text("".join(json.dumps(line) + "\n" for line in lines))
    imported = tracker(project, "import", str(rows))
    assert imported.returncode == 0, imported.stderr
    with tracker_serve(project, "--no-watch") as server:
        yield server


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)], ids=["desktop", "phone"])
def test_every_amount_pledged_shows_whole_in_its_card(browser, busy_site: Server, request,
                                                      size: tuple[int, int]) -> None:
    """One line per currency, every currency, none cut at the card's edges (the metric was
    one line, centred and clipped: `,137,256,791.5 · JPY abou`)."""
    visit = Visit(browser, busy_site, request.node.name)
    try:
        visit.page.set_viewport_size({"width": size[0], "height": size[1]})
        page = visit.open("/-/dashboards/overview")
        metric = page.locator("#chart-pledged p")
        metric.wait_for()
        assert metric.inner_text().split("\n") == BUSY_AMOUNTS
        lines = page.evaluate("""() => {
            const card = document.querySelector('#card-pledged').getBoundingClientRect();
            const text = document.createRange();
            text.selectNodeContents(document.querySelector('#chart-pledged p'));
            return Array.from(text.getClientRects(), line => [
                line.left >= card.left && line.right <= card.right
                && line.top >= card.top && line.bottom <= card.bottom, line.top]);
        }""")
        assert all(inside for inside, _top in lines), lines
        assert len({top for _inside, top in lines}) == len(BUSY_AMOUNTS)  # none broken
    finally:
        visit.close()


def x_labels(page) -> list[tuple[str, dict]]:
    """The year labels the chart of meetings per year shows, with their boxes."""
    labels = page.locator("#chart-meetings-per-year g.role-axis-label text")
    labels.first.wait_for()
    return [(label.text_content(), label.bounding_box()) for label in labels.all()
            if label.evaluate("text => getComputedStyle(text).opacity") != "0"]


def overlap(one: dict, other: dict) -> bool:
    return (one["x"] < other["x"] + other["width"] and other["x"] < one["x"] + one["width"]
            and one["y"] < other["y"] + other["height"]
            and other["y"] < one["y"] + one["height"])


def test_the_years_of_the_chart_per_year_do_not_overlap(browser, busy_site: Server,
                                                        request) -> None:
    """Spans of years (2004/2005) written across the axis ran into each other: upright,
    they all show on a desktop; on a phone, some are left out rather than overlap."""
    visit = Visit(browser, busy_site, request.node.name)
    try:
        for width, height in ((1366, 900), (390, 844)):
            visit.page.set_viewport_size({"width": width, "height": height})
            page = visit.open("/-/dashboards/overview")
            shown = x_labels(page)
            if width == 1366:
                assert {year for year, _box in shown} >= set(BUSY_YEARS)
            assert "2000" in {year for year, _box in shown}
            clashes = [(one, other) for number, (one, box) in enumerate(shown)
                       for other, other_box in shown[number + 1:] if overlap(box, other_box)]
            assert clashes == [], (width, clashes[:3])
    finally:
        visit.close()


UNNAMED_FIELDS = """() => Array.from(document.querySelectorAll(
    "input:not([type=hidden]):not([type=submit]), select, textarea, summary"))
  .filter(element => element.getClientRects().length > 0)
  .filter(element => !element.getAttribute("aria-label")
          && !element.getAttribute("aria-labelledby")
          && !(element.labels && element.labels.length)
          && !(element.tagName === "SUMMARY" && /[A-Za-z]/.test(element.textContent)))
  .map(element => element.outerHTML.slice(0, 120))"""


@pytest.mark.parametrize("path", ["/", "/tracker/meetings", "/-/search?q=Astana",
                                  "/-/dashboards/overview", "/tracker/timeline"])
def test_every_field_and_menu_has_a_name_and_the_page_a_language(visit: Visit,
                                                                 path: str) -> None:
    """Datasette 0.65's templates (and its plugins') leave the language, search boxes,
    filters, sort and the charts' menus without a name for a screen reader: the site's
    script names them, after the charts are drawn too."""
    page = visit.open(path)
    page.wait_for_load_state("networkidle")
    if path.startswith("/-/dashboards"):
        page.locator("#chart-meetings-per-year svg").first.wait_for()
        page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate(UNNAMED_FIELDS) == []
