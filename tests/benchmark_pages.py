"""Page latency of the published site: p50 and p95 per page (not collected by pytest).

Serves a database the way `tracker serve` does (`tracker.serve.serve`, in its own
process, on a free port of 127.0.0.1) and times, one request at a time, the home page,
the database page, every table and view, every canned query (and the feeds), the
dashboard and each of its charts' data requests, unfiltered and by each of its filters.

    python -m tests.benchmark_pages tracker.db
    python -m tests.benchmark_pages --synthetic 100000 --json figures.json

`--synthetic N` first writes a synthetic log of N valid events (formats, meetings,
announcements, pledges, status changes and citations, made by the same validation as
the CLI) into a temporary folder and builds it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from random import Random
from typing import Any
from urllib.parse import urlencode

from datasette_dashboards import replace_opts_in_query

from tracker import envelope
from tracker.build import build
from tracker.log import EventLog
from tracker.model import draft_citation, draft_record, draft_update
from tracker.places import find_city
from tracker.serve import DATABASE

from .conftest import METADATA
from .serving import first_answer, free_port

# Values for canned-query parameters, picked from the database being measured.
PARAMETERS = {
    "format": "select format from meetings where format is not null group by format "
              "order by count(*) desc limit 1",
    "actor": "select actor from meeting_participants group by actor order by count(*) desc "
             "limit 1",
    "donor": "select donor from pledges group by donor order by count(*) desc limit 1",
    "date": "select substr(recorded_at, 1, 10) from events order by recorded_at desc limit 1",
    "year": "select substr(date_start, 1, 4) from meetings group by 1 order by count(*) desc "
            "limit 1",
}


# -- a synthetic log ---------------------------------------------------------------

CENTRAL_ASIA = ["KAZ", "KGZ", "TJK", "TKM", "UZB"]
PARTNERS = ["JPN", "CHN", "RUS", "KOR", "USA", "IND", "DEU", "FRA", "GBR", "TUR", "IRN",
            "AFG", "PAK", "EU", "UN", "SCO", "ASEAN"]
CAPITALS = {"Astana": "KAZ", "Bishkek": "KGZ", "Dushanbe": "TJK", "Ashgabat": "TKM",
            "Tashkent": "UZB", "Tokyo": "JPN", "Beijing": "CHN", "Moscow": "RUS",
            "Seoul": "KOR", "Washington": "USA", "New Delhi": "IND", "Berlin": "DEU",
            "Samarkand": "UZB", "Almaty": "KAZ", "Osaka": "JPN"}
TOPICS = ["energy", "transport", "water", "security", "trade", "health", "education",
          "climate", "digital", "connectivity", "agriculture", "critical minerals"]
CURRENCIES = ["JPY", "USD", "EUR", "CNY", "KRW", "RUB"]


class SyntheticLog:
    """Writes valid events of one writer straight into segment files, in time order."""

    def __init__(self, root: Path, rng: Random):
        self.folder = root / "synthetic"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rng = rng
        self.moment = datetime(2025, 1, 1, tzinfo=timezone.utc)
        self.seq = 0
        self.month = ""
        self.file = None

    def emit(self, draft) -> str:
        self.seq += 1
        self.moment += timedelta(seconds=self.rng.randint(1, 90))
        recorded_at = envelope.format_timestamp(self.moment)
        event_id = envelope.new_id(int(self.moment.timestamp() * 1000))
        line = envelope.seal({
            "id": event_id, "type": draft.type, "schema": envelope.SCHEMA,
            "subject": draft.subject or event_id, "recorded_at": recorded_at,
            "recorded_by": "synthetic", "writer": "synthetic", "seq": self.seq,
            "data": draft.data,
        })
        if recorded_at[:7] != self.month:
            self.close()
            self.month = recorded_at[:7]
            self.file = open(self.folder / f"{self.month}.jsonl", "ab")  # noqa: SIM115
        self.file.write(line)
        return draft.subject or event_id

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _date(rng: Random) -> str:
    year = rng.randint(1995, 2030)
    precision = rng.random()
    if precision < 0.2:
        return str(year)
    if precision < 0.5:
        return f"{year}-{rng.randint(1, 12):02d}"
    return (date(year, 1, 1) + timedelta(days=rng.randint(0, 364))).isoformat()


def _source(rng: Random, subject: str = "") -> dict[str, Any]:
    return {"source": f"https://news.example.org/{rng.randint(1, 10**9)}",
            "publisher": rng.choice(["Kabar", "Kazinform", "Trend", "NHK", "ORIENT"]),
            "quote": f"Officials confirmed the {subject or 'development'} on the day."}


def write_synthetic_log(events: Path, count: int, seed: int = 4) -> int:
    """A log of `count` valid events under `events/synthetic/`; returns how many."""
    rng = Random(seed)
    log = SyntheticLog(events, rng)
    today = date.today().isoformat()
    places = {city: place for city, country in CAPITALS.items()
              if (place := _place(city, country)) is not None}
    formats = []
    for partner in PARTNERS[:12]:
        slug = f"central-asia-{partner.lower()}"
        formats.append(log.emit(draft_record("format", {
            "slug": slug, "name": f"Central Asia + {partner}",
            "member": [*CENTRAL_ASIA, partner], "launched": str(rng.randint(1995, 2022)),
            **_source(rng)})))
    meetings: list[tuple[str, str]] = []
    pledges: list[tuple[str, int]] = []
    records: list[str] = list(formats)
    written = len(formats)
    while written < count:
        kind = rng.random()
        if kind < 0.35 or not meetings:
            when = _date(rng)
            participants = rng.sample(CENTRAL_ASIA + PARTNERS, rng.randint(2, 7))
            draft = draft_record("meeting", {
                "title": f"{rng.choice(['Ministerial', 'Summit', 'Working group', 'Dialogue'])}"
                         f" on {rng.choice(TOPICS)} #{written}",
                "date": when, "format": rng.choice(formats) if rng.random() < 0.8 else None,
                "level": rng.choice(["summit", "ministerial", "senior-officials", "working"]),
                "mode": rng.choice(["in-person", "in-person", "virtual", "hybrid"]),
                "participant": participants, "chair": participants[0],
                "topic": rng.sample(TOPICS, rng.randint(1, 3)),
                "summary": "Talks on cooperation." if rng.random() < 0.5 else None,
                **_source(rng, "meeting")})
            if rng.random() < 0.7:
                city = rng.choice(list(places))
                place = places[city]
                draft.data.update(city=place.name, country=CAPITALS[city],
                                  geonameid=place.geonameid, latitude=place.latitude,
                                  longitude=place.longitude)
            meeting_id = log.emit(draft)
            meetings.append((meeting_id, draft.data["date"]))
            records.append(meeting_id)
        elif kind < 0.55:
            about = [rng.choice(meetings)[0]] if rng.random() < 0.5 else []
            records.append(log.emit(draft_record("announcement", {
                "title": f"Statement on {rng.choice(TOPICS)} #{written}", "date": _date(rng),
                "by": rng.choice(CENTRAL_ASIA + PARTNERS), "about": about,
                "topic": rng.sample(TOPICS, 1), **_source(rng, "statement")})))
        elif kind < 0.70:
            amount = rng.randint(1, 5000) * 10 ** rng.randint(3, 7)
            donor = rng.choice(PARTNERS)
            pledge_id = log.emit(draft_record("pledge", {
                "title": f"{rng.choice(['Grant', 'Loan', 'Investment'])} for "
                         f"{rng.choice(TOPICS)} #{written}",
                "date": _date(rng), "donor": donor,
                "recipient": rng.sample(CENTRAL_ASIA, rng.randint(1, 5)),
                "amount": str(amount), "currency": rng.choice(CURRENCIES),
                "approximate": rng.random() < 0.3,
                "instrument": rng.choice(["grant", "loan", "investment", "other"]),
                "at": rng.choice(meetings)[0] if rng.random() < 0.4 else None,
                **_source(rng, "pledge")}))
            pledges.append((pledge_id, amount))
            records.append(pledge_id)
        elif kind < 0.85:
            if pledges and rng.random() < 0.4:
                pledge_id, amount = rng.choice(pledges)
                status = rng.choice(["disbursed", "fulfilled", "withdrawn"])
                options = {"status": status, **_source(rng, "update")}
                if status == "disbursed":
                    options["amount"] = str(rng.randint(1, amount))
                log.emit(draft_update("pledge", pledge_id, options))
            else:
                meeting_id, when = rng.choice(meetings)
                status = "held" if when < today else rng.choice(["postponed", "cancelled"])
                log.emit(draft_update("meeting", meeting_id, {"status": status,
                                                              **_source(rng, "update")}, when))
        else:
            log.emit(draft_citation(rng.choice(records), _source(rng, "citation")))
        written += 1
    log.close()
    return written


def _place(city: str, country: str):
    from tracker.actors import all_actors

    return find_city(city, all_actors()[country].alpha_2)


# -- serving and timing ------------------------------------------------------------


@contextmanager
def running(command: list[str], port: int, env: dict[str, str] | None = None
            ) -> Iterator[str]:
    """A server started by `command` on `port`, once it answers: its URL."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        first_answer(url + "/-/versions.json", process, seconds=600)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextmanager
def served(db: Path, metadata: Path) -> Iterator[str]:
    """The site, in its own process, exactly as `tracker serve --no-watch` runs it."""
    port = free_port()
    code = ("import sys; from pathlib import Path; "
            "from tracker.serve import load_metadata, serve; "
            "serve(Path(sys.argv[1]), load_metadata(Path(sys.argv[2])), '127.0.0.1', "
            "int(sys.argv[3]))")
    with running([sys.executable, "-c", code, str(db), str(metadata), str(port)],
                 port) as url:
        yield url


def live_refresh(env: dict[str, str], metadata: Path, runs: int) -> dict[str, Any]:
    """`tracker serve` (watching) on the log of `env`: seconds to its first answer, and
    for each of `runs` meetings recorded with `tracker add`, seconds from the command's
    return to the meeting's showing in the site."""
    port = free_port()
    tracker = [sys.executable, "-m", "tracker"]
    started = time.perf_counter()
    command = [*tracker, "serve", "--port", str(port), "--metadata", str(metadata)]
    with running(command, port, env) as url:
        figures: dict[str, Any] = {"start_s": time.perf_counter() - started, "appear_s": []}
        for run in range(runs):
            title = f"Live refresh {run} {time.time_ns()}"
            meeting_id = subprocess.run(
                [*tracker, "add", "meeting", "--title", title, "--date", "2026-06",
                 "--participant", "JPN,KAZ", "--source", "https://example.org/l"],
                env=env, check=True, capture_output=True, text=True).stdout.strip()
            added = time.perf_counter()
            # By its id (the primary key): a filter on the title scans the table.
            query = f"{url}/{DATABASE}/meetings.json?" + urlencode(
                {"id": meeting_id, "_shape": "array"})
            while not json.loads(urllib.request.urlopen(query, timeout=120).read()):
                if time.perf_counter() - added > 600:
                    raise RuntimeError(f"{title!r} not shown after 600 s")
                time.sleep(0.05)
            figures["appear_s"].append(time.perf_counter() - added)
        return figures


def pages(db: Path, metadata: dict[str, Any], url: str) -> dict[str, str]:
    """Name -> path of every page to time."""
    database = json.loads(urllib.request.urlopen(f"{url}/{DATABASE}.json", timeout=120).read())
    found = {"home": "/", "database": f"/{DATABASE}"}
    for table in database["tables"]:
        if not table["hidden"]:
            found[f"table {table['name']}"] = f"/{DATABASE}/{table['name']}"
    for view in database["views"]:
        found[f"view {view['name']}"] = f"/{DATABASE}/{view['name']}"
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        values = {name: (conn.execute(sql).fetchone() or [""])[0]
                  for name, sql in PARAMETERS.items()}
    for name, query in metadata["databases"][DATABASE].get("queries", {}).items():
        wanted = {key: values.get(key, "") for key in values if f":{key}" in query["sql"]}
        found[f"query {name}"] = f"/{DATABASE}/{name}?{urlencode(wanted)}"
    for name, extension in (("recent_developments", "atom"), ("scheduled_meetings", "ics")):
        found[f"feed {name}.{extension}"] = f"/{DATABASE}/{name}.{extension}"
    for slug, dashboard in metadata.get("plugins", {}).get("datasette-dashboards", {}).items():
        found.update(dashboard_pages(slug, dashboard, {}))
        for name in dashboard.get("filters", {}):  # then filtered by each filter alone
            found.update(dashboard_pages(slug, dashboard, {name: values[name]}))
    return found


def dashboard_pages(slug: str, dashboard: dict[str, Any],
                    options: dict[str, str]) -> dict[str, str]:
    """A dashboard and its charts' data requests, as its script fetches them."""
    suffix = "".join(f" by {name}" for name in options)
    found = {f"dashboard {slug}{suffix}": f"/-/dashboards/{slug}"
                                         + (f"?{urlencode(options)}" if options else "")}
    for chart_slug, chart in dashboard.get("charts", {}).items():
        if "query" in chart:
            sql = replace_opts_in_query(chart["query"], options)
            found[f"dashboard {slug} chart {chart_slug}{suffix}"] = (
                f"/{chart['db']}.json?" + urlencode({"sql": sql, **options,
                                                     "_shape": "objects"}))
    return found


def time_page(url: str, repeats: int) -> dict[str, Any]:
    timings, statuses = [], set()
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                response.read()
                statuses.add(response.status)
        except urllib.error.HTTPError as error:
            error.read()
            statuses.add(error.code)
        if attempt:  # the first request warms caches and is not counted
            timings.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(timings), 1), "p95_ms": round(cuts[94], 1),
            "status": sorted(statuses)}


def measure(db: Path | str, metadata: dict[str, Any] | Path = METADATA,
            repeats: int = 20) -> dict[str, dict[str, Any]]:
    """p50/p95 in ms (and HTTP statuses) of every page of the site serving `db`."""
    db = Path(db)
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(metadata, dict):
            path = Path(folder) / "metadata.json"
            path.write_text(json.dumps(metadata))
        else:
            path, metadata = Path(metadata), json.loads(Path(metadata).read_text())
        with served(db, path) as url:
            return {name: time_page(url + page, repeats)
                    for name, page in pages(db, metadata, url).items()}


def report(figures: dict[str, dict[str, Any]]) -> str:
    width = max(len(name) for name in figures)
    lines = [f"{'page':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  status"]
    for name, figure in figures.items():
        lines.append(f"{name:<{width}}  {figure['p50_ms']:>8}  {figure['p95_ms']:>8}  "
                     f"{','.join(map(str, figure['status']))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", nargs="?", type=Path, help="database to serve and time")
    parser.add_argument("--synthetic", type=int, metavar="N",
                        help="build a synthetic log of N events and time that instead")
    parser.add_argument("--metadata", type=Path, default=METADATA)
    parser.add_argument("--repeats", type=int, default=20, help="timed requests per page")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        db = args.db
        if args.synthetic:
            events, db = Path(folder) / "events", Path(folder) / "tracker.db"
            start = time.perf_counter()
            count = write_synthetic_log(events, args.synthetic)
            print(f"wrote {count} events in {time.perf_counter() - start:.1f} s", flush=True)
            start = time.perf_counter()
            build(EventLog(events), db)
            print(f"built {db.stat().st_size / 1e6:.0f} MB in "
                  f"{time.perf_counter() - start:.1f} s", flush=True)
        if db is None:
            parser.error("give a database or --synthetic N")
        figures = measure(db, args.metadata, args.repeats)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
