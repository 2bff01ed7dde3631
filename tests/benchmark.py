"""Performance benchmark (not collected by pytest).

    python tests/benchmark.py --events 1000000 [--output benchmark.json] [--keep DIR]

Generates a realistic synthetic log (the mix of kinds, titles, participants, sources,
amendments and status updates of real use), then measures, in one run, every figure of
the performance issue next to a baseline measured in the same run:

- full build: seconds, events/s and peak memory (of all its processes), against the
  floor (orjson + five fields into one flat table, one transaction, journaling off) and
  the naive path (`sqlite-utils insert --nl` of the same log);
- the bound of any full build of these tables: SQLite copying the finished database's
  rows (no parsing, no Python per row), then building its indexes and full-text search;
- incremental build after appending 1 and 1,000 events;
- `tracker add` on an empty and on the N-event log, against `python -c "import click"`,
  both from compiled bytecode (and, where the package had none, `tracker add` compiling
  its source as well);
- `tracker verify` on the N events;
- Datasette page latency (p50, p95) when tests/benchmark_pages.py is present.

It prints a table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tracker import envelope  # noqa: E402

ACTORS = ["JPN", "KAZ", "KGZ", "TJK", "TKM", "UZB", "CHN", "RUS", "USA", "KOR", "IND", "DEU",
          "FRA", "GBR", "TUR", "IRN", "EU", "UN", "SCO", "CIS", "OSCE", "ASEAN", "AFG", "PAK"]
CITIES = [("Astana", "KAZ", "51.1801", "71.44598", 1526273),
          ("Tokyo", "JPN", "35.6895", "139.69171", 1850147),
          ("Ashgabat", "TKM", "37.95", "58.38333", 162183),
          ("Tashkent", "UZB", "41.26465", "69.21627", 1512569),
          ("Bishkek", "KGZ", "42.87", "74.59", 1528675),
          ("Dushanbe", "TJK", "38.53575", "68.77905", 1221874),
          ("Beijing", "CHN", "39.9075", "116.39723", 1816670),
          ("Moscow", "RUS", "55.75222", "37.61556", 524901)]
WORDS = ["cooperation", "connectivity", "energy", "water", "security", "trade", "investment",
         "transport", "climate", "health", "education", "digital", "agriculture", "logistics",
         "dialogue", "summit", "ministers", "partnership", "development", "infrastructure",
         "tourism", "culture", "youth"]
TOPICS = ["trade", "energy", "water security", "connectivity", "climate", "health",
          "education", "digital economy", "regional security", "transport corridors"]
CURRENCIES = ["USD", "JPY", "EUR", "CNY", "KRW"]
# The mix of a working log: mostly new records, then status updates, sources, corrections.
MIX = [("meeting", 30), ("announcement", 24), ("pledge", 12), ("status", 14), ("cite", 12),
       ("amend", 6), ("retract", 1), ("format", 1)]
WRITERS = ["alice-01", "bob-0002", "carol-03", "dave-004"]


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def source(rng: random.Random, number: int) -> dict:
    if rng.random() < 0.6:
        found = {"url": f"https://news.example.org/{number}/{rng.choice(WORDS)}"}
    else:
        found = {"citation": f"Press release {number} of the {rng.choice(ACTORS)} MFA"}
    if rng.random() < 0.7:
        found["quote"] = words(rng, rng.randint(8, 16)).capitalize() + "."
    if rng.random() < 0.5:
        found["publisher"] = rng.choice(["ORIENT", "Kabar", "Kazinform", "Kyodo", "TASS"])
    return found


def a_date(rng: random.Random) -> str:
    year = rng.randint(2004, 2026)
    shape = rng.random()
    if shape < 0.2:
        return str(year)
    month = rng.randint(1, 12)
    if shape < 0.5:
        return f"{year}-{month:02d}"
    return f"{year}-{month:02d}-{rng.randint(1, 28):02d}"


def generate(root: Path, count: int, seed: int = 1) -> None:
    """Write a valid log of `count` events: per-writer monthly segments, gapless seq."""
    rng = random.Random(seed)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    step = timedelta(seconds=60)
    live: dict[str, list[str]] = {"meeting": [], "announcement": [], "pledge": [],
                                  "format": []}
    statuses = {"meeting": ["held", "postponed", "cancelled", "scheduled"],
                "pledge": ["disbursed", "fulfilled", "withdrawn"]}
    seqs = dict.fromkeys(WRITERS, 0)
    files: dict[Path, object] = {}
    referred: set[str] = set()  # meetings that pledges or announcements refer to
    # Each meeting's date and whether it is held: held only on a date up to the day it is
    # recorded, as `tracker add`, `update` and `amend` require.
    meeting_dates: dict[str, tuple[str, bool]] = {}
    ulid_base = int(start.timestamp() * 1000)
    for number in range(count):
        moment = start + step * number
        recorded_at = envelope.format_timestamp(moment)
        day = recorded_at[:10]  # a date text after it (in ISO form) starts after that day
        writer = WRITERS[number % len(WRITERS)]
        kind = rng.choice(kinds)
        if kind in ("status",) and not (live["meeting"] or live["pledge"]):
            kind = "meeting"
        if kind in ("cite", "amend", "retract") and not live["meeting"]:
            kind = "meeting"
        event_id = ulid(ulid_base + number * 60000, rng)
        subject, data = event_id, {}
        if kind == "format" or not live["format"]:
            kind = "format"
            subject = f"format-{number}"
            data = {"name": f"Central Asia + {rng.choice(ACTORS)} {number}",
                    "members": rng.sample(ACTORS, 6), "launched": str(rng.randint(2004, 2024))}
            event_type = "format.recorded"
        elif kind == "meeting":
            data = {"title": f"{words(rng, 3).capitalize()} meeting {number}",
                    "date": a_date(rng), "status": rng.choice(["held", "scheduled"]),
                    "format": rng.choice(live["format"][-50:]),
                    "level": rng.choice(["summit", "ministerial", "senior-officials"]),
                    "participants": rng.sample(ACTORS, rng.randint(2, 6))}
            if data["status"] == "held" and data["date"] > day:
                data["status"] = "scheduled"
            meeting_dates[subject] = (data["date"], data["status"] == "held")
            if rng.random() < 0.6:
                city, country, latitude, longitude, geonameid = rng.choice(CITIES)
                data.update(city=city, country=country, latitude=latitude,
                            longitude=longitude, geonameid=geonameid)
            if rng.random() < 0.4:
                data["topics"] = rng.sample(TOPICS, 2)
            if rng.random() < 0.3:
                data["summary"] = words(rng, 20).capitalize() + "."
            event_type = "meeting.recorded"
        elif kind == "announcement":
            data = {"title": f"{rng.choice(ACTORS)} announces {words(rng, 4)}",
                    "date": a_date(rng), "by": rng.choice(ACTORS)}
            if live["meeting"] and rng.random() < 0.5:
                data["about"] = [rng.choice(live["meeting"][-1000:])]
                referred.update(data["about"])
            if rng.random() < 0.4:
                data["summary"] = words(rng, 18).capitalize() + "."
            event_type = "announcement.recorded"
        elif kind == "pledge":
            donor, *recipients = rng.sample(ACTORS, rng.randint(2, 5))
            data = {"title": f"{words(rng, 2).capitalize()} grant {number}",
                    "date": a_date(rng), "donor": donor, "recipients": recipients,
                    "amount": str(rng.randint(1, 5000) * 1000000),
                    "currency": rng.choice(CURRENCIES),
                    "instrument": rng.choice(["grant", "loan", "investment"]),
                    "purpose": words(rng, 5)}
            if live["meeting"] and rng.random() < 0.3:
                data["meeting_id"] = rng.choice(live["meeting"][-1000:])
                referred.add(data["meeting_id"])
            event_type = "pledge.recorded"
        elif kind == "status":
            record_kind = ("pledge" if live["pledge"]
                           and (rng.random() < 0.4 or not live["meeting"]) else "meeting")
            subject = rng.choice(live[record_kind][-2000:])
            status = rng.choice(statuses[record_kind])
            if record_kind == "meeting":
                date, _ = meeting_dates[subject]
                if status == "held" and date > day:
                    status = "postponed"
                meeting_dates[subject] = (date, status == "held")
            data = {"status": status}
            if status == "disbursed":
                data["amount"] = str(rng.randint(1, 1000) * 1000)
            event_type = f"{record_kind}.status_changed"
        elif kind == "cite":
            subject = rng.choice(live["meeting"][-5000:])
            event_type = "source.added"
        elif kind == "amend":
            subject = rng.choice(live["meeting"][-5000:])
            data = {"changes": {"title": f"{words(rng, 3).capitalize()} (corrected)",
                                "date": a_date(rng)}, "reason": "misread in the first report"}
            date, held = meeting_dates[subject]
            if held and data["changes"]["date"] > day:
                del data["changes"]["date"]
            else:
                meeting_dates[subject] = (data["changes"]["date"], held)
            event_type = "record.amended"
        else:  # a meeting nothing refers to (`tracker retract` refuses the others)
            meetings = live["meeting"]
            first = rng.randrange(len(meetings))
            index = next((place % len(meetings) for place in range(first, first + len(meetings))
                          if meetings[place % len(meetings)] not in referred), None)
            if index is None:
                subject, event_type = meetings[first], "source.added"
            else:
                subject = meetings.pop(index)
                data = {"reason": "recorded twice"}
                event_type = "record.retracted"
        if event_type != "record.retracted" and event_type != "record.amended":
            data["source"] = source(rng, number)
        if event_type.endswith(".recorded"):
            live[event_type.partition(".")[0]].append(subject)
        seqs[writer] += 1
        fields = {"id": event_id, "type": event_type, "schema": envelope.SCHEMA,
                  "subject": subject, "recorded_at": recorded_at, "recorded_by": writer,
                  "writer": writer, "seq": seqs[writer], "data": data}
        path = root / writer / f"{recorded_at[:7]}.jsonl"
        if path not in files:
            for other in [p for p in files if p.parent == path.parent]:
                files.pop(other).close()
            path.parent.mkdir(parents=True, exist_ok=True)
            files[path] = open(path, "ab")  # noqa: SIM115
        files[path].write(envelope.seal(fields))
    for handle in files.values():
        handle.close()


def ulid(milliseconds: int, rng: random.Random) -> str:
    """A ULID from a seeded generator, so that the same log is generated every time."""
    value = (milliseconds << 80) | rng.getrandbits(80)
    return "".join(envelope.CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


# -- measurements --------------------------------------------------------------------------


def tree_rss_kb(pid: int) -> int:
    """Resident memory (KB) of a process and all its descendants, now (pages a forked
    process shares with its parent count in both: an upper bound)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines()
                              if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += map(int, (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue  # ended meanwhile
    return total


def run_timed(command: list[str], env: dict | None = None, stdin=None,
              sample: bool = True) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one command: of all its processes together
    (sampled every 20 ms), or of its largest one if more. `sample=False` leaves the
    cores to the command (the sampler reads /proc 50 times a second): the largest only."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdin=stdin, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    peak_kb, done = 0, threading.Event()

    def sampled() -> None:
        nonlocal peak_kb
        while not done.wait(0.02):
            peak_kb = max(peak_kb, tree_rss_kb(process.pid))

    sampler = threading.Thread(target=sampled, daemon=True)
    if sample:
        sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    done.set()
    if sample:
        sampler.join()
    if status != 0:
        raise RuntimeError(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, max(peak_kb, usage.ru_maxrss) // 1024


def floor(files: list[Path], db: Path) -> float:
    """The floor: parse every line with orjson, insert five fields into one flat table."""
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("pragma journal_mode = off")
    conn.execute("pragma synchronous = off")
    conn.execute("create table events (id text primary key, type text, subject text, "
                 "recorded_at text, title text)")
    conn.execute("begin")

    def rows():
        loads = orjson.loads
        for path in files:
            with open(path, "rb") as file:
                for line in file:
                    event = loads(line)
                    data = event["data"]
                    yield (event["id"], event["type"], event["subject"], event["recorded_at"],
                           data.get("title") or data.get("name"))

    conn.executemany("insert into events values (?, ?, ?, ?, ?)", rows())
    conn.execute("commit")
    conn.close()
    return time.perf_counter() - started


def write_bound(built: Path, db: Path) -> float:
    """SQLite's own work of writing a projected database: every table's rows copied from
    the finished build (SQLite's transfer of whole records: no parsing, no Python per
    row), then its indexes, full-text search, views, triggers and statistics made; one
    transaction, journaling off. A build that makes the same database cannot take less."""
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in ("page_size = 8192", "journal_mode = off", "synchronous = off",
                   "cache_size = -32768"):
        conn.execute(f"pragma {pragma}")
    conn.execute("attach database ? as built", (str(built),))
    shapes = conn.execute("select type, name, sql from built.sqlite_master where sql is not null "
                          "and name not like 'sqlite_%' order by rowid").fetchall()
    searched = {name for kind, name, sql in shapes if sql.startswith("CREATE VIRTUAL TABLE")}
    tables = [(name, sql) for kind, name, sql in shapes if kind == "table"
              and name not in searched and not name.startswith(tuple(searched))]
    conn.execute("begin")
    for name, sql in tables:
        conn.execute(sql)
        conn.execute(f"insert into main.[{name}] select * from built.[{name}]")
    for kind, name, sql in shapes:
        if name in searched:
            conn.execute(sql)
            conn.execute(f"insert into [{name}]([{name}]) values ('rebuild')")
        elif kind != "table":  # indexes, then the views and triggers
            conn.execute(sql)
    conn.execute("commit")
    conn.execute("analyze")  # the statistics a build leaves for the planner
    conn.close()
    elapsed = time.perf_counter() - started
    db.unlink()
    return elapsed


def median_time(command: list[str], env: dict, runs: int) -> float:
    """The median of `runs` timed runs, after one untimed run (cold caches, bytecode)."""
    return median_times([(command, env)], runs)[0]


def median_times(commands: list[tuple[list[str], dict]], runs: int) -> list[float]:
    """The median of `runs` timed runs of each (command, env), taken in turn, so that a
    slow spell of the machine falls on all of them alike; after one untimed run each."""
    for command, env in commands:
        run_timed(command, env)
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for taken, (command, env) in zip(times, commands, strict=True):
            taken.append(run_timed(command, env)[0])
    return [statistics.median(taken) for taken in times]


def append_events(events: Path, count: int) -> None:
    """Append new events (after every other) through the library, as a writer would."""
    from tracker.log import EventLog
    from tracker.model import draft_record

    log = EventLog(events, writer="bench-new")
    with log.session() as appender:
        for number in range(count):
            draft = draft_record("meeting", {"title": f"New meeting {number}",
                                             "date": "2026-05", "status": "held",
                                             "participant": ("JPN", "KAZ"),
                                             "source": "https://example.org/new"})
            event_id = ulid(int(time.time() * 1000), random.Random(number))
            appender.write({"id": event_id, "type": draft.type, "schema": envelope.SCHEMA,
                            "subject": event_id, "recorded_at": envelope.now(),
                            "recorded_by": "bench", "data": draft.data})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--output", type=Path, default=PROJECT / "benchmark.json")
    parser.add_argument("--keep", type=Path, help="keep the generated log and databases here")
    parser.add_argument("--runs", type=int, default=5, help="runs of each short command")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    events, db = scratch / "events", scratch / "tracker.db"
    python = sys.executable
    tracker = [python, "-m", "tracker"]
    env = {**os.environ, "TRACKER_EVENTS": str(events), "TRACKER_DB": str(db),
           "TRACKER_WRITER": "bench-add", "TRACKER_USER": "bench"}
    results: dict = {"events": args.events, "machine": machine()}

    if not events.exists():
        started = time.perf_counter()
        generate(events, args.events)
        results["generate_s"] = time.perf_counter() - started
    files = sorted(events.glob("*/*.jsonl"))
    size = sum(path.stat().st_size for path in files)
    results["log_bytes"] = size
    results["bytes_per_event"] = round(size / args.events)

    results["floor_s"] = floor(files, scratch / "floor.db")
    combined = scratch / "combined.jsonl"
    with open(combined, "wb") as out:
        for path in files:
            out.write(path.read_bytes())
    with open(combined, "rb") as stdin:
        naive_db = scratch / "naive.db"
        naive_db.unlink(missing_ok=True)
        results["naive_s"], _ = run_timed(
            [str(Path(python).parent / "sqlite-utils"), "insert", str(naive_db), "events",
             "-", "--nl"], stdin=stdin)
    combined.unlink()

    db.unlink(missing_ok=True)
    results["full_build_s"], results["full_build_peak_mb"] = run_timed(
        [*tracker, "build", "--full"], env)
    results["full_build_events_per_s"] = args.events / results["full_build_s"]
    results["full_vs_floor"] = results["full_build_s"] / results["floor_s"]
    results["naive_vs_full"] = results["naive_s"] / results["full_build_s"]
    results["write_bound_s"] = write_bound(db, scratch / "bound.db")
    results["bound_vs_floor"] = results["write_bound_s"] / results["floor_s"]
    results["full_vs_bound"] = results["full_build_s"] / results["write_bound_s"]

    for count in (1, 1000):
        append_events(events, count)
        results[f"incremental_{count}_s"], _ = run_timed([*tracker, "build"], env)

    add = [*tracker, "add", "meeting", "--title", "Benchmark meeting", "--date", "2026-05",
           "--status", "held", "--participant", "JPN,KAZ", "--source", "https://example.org/b"]
    empty_env = {**env, "TRACKER_EVENTS": str(scratch / "empty-events")}
    # Click's bytecode was compiled when pip installed it; an editable install's is not,
    # and where PYTHONDONTWRITEBYTECODE is set Python compiles the source on every run.
    # The target compares like with like: tracker's package compiled too, as pip does.
    source_only_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    with bytecode_compiled_here(python, env) as package:
        if package is not None:  # it had none: timed compiling its source, then compiled
            results["add_uncompiled_s"] = median_time(add, source_only_env, args.runs)
            subprocess.run([python, "-m", "compileall", "-q", str(package)], env=env,
                           check=True)
        (results["import_click_s"], results["add_on_log_s"],
         results["add_on_empty_s"]) = median_times(
            [([python, "-c", "import click"], env), (add, env), (add, empty_env)], args.runs)
    shutil.rmtree(scratch / "empty-events", ignore_errors=True)
    results["add_vs_click"] = results["add_on_log_s"] / results["import_click_s"]
    results["add_log_vs_empty"] = results["add_on_log_s"] / results["add_on_empty_s"]
    # With a reference (--format), the catalog's index is read: built once, then kept up
    # to date by reading only what was appended.
    fmt = next(json.loads(line)["subject"] for line in files[0].open()
               if '"type":"format.recorded"' in line)
    with_ref = [*add, "--format", fmt]
    results["add_ref_first_s"], _ = run_timed(with_ref, env)
    results["add_ref_on_log_s"] = median_time(with_ref, env, args.runs)
    results["add_ref_vs_empty"] = results["add_ref_on_log_s"] / results["add_on_empty_s"]

    # The median of three runs, unsampled: on two cores, a sampler would take from the
    # two processes of verify. The rate counts every event of the log, appended ones too.
    results["verify_runs_s"] = [run_timed([*tracker, "verify"], env, sample=False)[0]
                                for _ in range(3)]
    results["verify_s"] = statistics.median(results["verify_runs_s"])
    results["verify_events"] = sum(path.read_bytes().count(b"\n")
                                   for path in events.glob("*/*.jsonl"))
    results["verify_events_per_s"] = results["verify_events"] / results["verify_s"]

    from tests.benchmark_pages import live_refresh, measure

    results["live"] = live_refresh(env, PROJECT / "datasette-metadata.json", args.runs)
    results["live_median_s"] = statistics.median(results["live"]["appear_s"])
    results["live_worst_s"] = max(results["live"]["appear_s"])
    run_timed([*tracker, "build"], env)
    results["pages"] = measure(db, PROJECT / "datasette-metadata.json", repeats=args.runs * 4)

    report(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    if not args.keep:
        shutil.rmtree(scratch)


@contextlib.contextmanager
def bytecode_compiled_here(python: str, env: dict) -> Iterator[Path | None]:
    """Yield the tracker package's folder if it has no bytecode (else None), for the
    caller to compile it; remove the bytecode after, as it was not there."""
    package = Path(subprocess.run(
        [python, "-c", "import tracker; print(tracker.__path__[0])"], env=env,
        check=True, capture_output=True, text=True).stdout.strip())
    cache = package / "__pycache__"
    if cache.exists():
        yield None
        return
    try:
        yield package
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def report(results: dict) -> None:
    n = results["events"]
    rows = [
        ("log", f"{n:,} events, {results['bytes_per_event']} B/event", ""),
        ("floor (orjson + 5 fields)", f"{results['floor_s']:.2f} s", "baseline"),
        ("naive (sqlite-utils insert --nl)", f"{results['naive_s']:.2f} s", "baseline"),
        ("full build", f"{results['full_build_s']:.2f} s "
         f"({results['full_build_events_per_s']:,.0f} events/s)",
         f"{results['full_vs_floor']:.2f}x floor (target <= 2.0); naive is "
         f"{results['naive_vs_full']:.1f}x slower (target >= 4)"),
        ("SQLite writing the same database", f"{results['write_bound_s']:.2f} s",
         f"{results['bound_vs_floor']:.2f}x floor: no build of these tables is faster; "
         f"the build is {results['full_vs_bound']:.2f}x it"),
        ("full build peak memory, all processes", f"{results['full_build_peak_mb']} MB",
         "target <= 300 MB"),
        ("incremental, 1 new event", f"{results['incremental_1_s']:.3f} s", "target <= 0.5 s"),
        ("incremental, 1,000 new", f"{results['incremental_1000_s']:.3f} s",
         "target <= 2 s"),
        ("python -c 'import click'", f"{results['import_click_s']:.3f} s", "baseline"),
        ("tracker add, empty log", f"{results['add_on_empty_s']:.3f} s", ""),
        ("tracker add, N-event log", f"{results['add_on_log_s']:.3f} s",
         f"{results['add_vs_click']:.2f}x click (target <= 2.5); "
         f"{results['add_log_vs_empty']:.2f}x empty (target <= 1.2)"),
        *([("tracker add, source compiled each run", f"{results['add_uncompiled_s']:.3f} s",
            f"{results['add_uncompiled_s'] / results['import_click_s']:.2f}x click; "
            "no bytecode, PYTHONDONTWRITEBYTECODE set")]
          if "add_uncompiled_s" in results else []),
        ("add --format, first on log", f"{results['add_ref_first_s']:.3f} s",
         "builds the catalog's index once"),
        ("add --format, N-event log", f"{results['add_ref_on_log_s']:.3f} s",
         f"{results['add_ref_vs_empty']:.2f}x add on empty"),
        ("tracker verify, median of 3", f"{results['verify_s']:.2f} s "
         f"({results['verify_events_per_s']:,.0f} events/s)",
         "target >= 200,000/s; runs " + ", ".join(f"{run:.2f}" for run in
                                                 results["verify_runs_s"]) + " s"),
        ("tracker serve, start to first page", f"{results['live']['start_s']:.2f} s", ""),
        ("serve: add to shown in the site", f"median {results['live_median_s']:.2f} s, "
         f"worst {results['live_worst_s']:.2f} s", "target <= 5 s (live refresh)"),
    ]
    for page, figures in results["pages"].items():
        verdict = "met" if figures["p95_ms"] <= 250 else "OVER 250 ms"
        rows.append((f"page {page}", f"p50 {figures['p50_ms']:.0f} ms, "
                     f"p95 {figures['p95_ms']:.0f} ms", f"target p95 <= 250 ms: {verdict}"))
    width = max(len(row[0]) for row in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<34}  {note}")


if __name__ == "__main__":
    main()
