"""Benchmark of `tracker import` (not collected by pytest): rows per second on 100,000 rows.

Run from the project folder:

    .venv/bin/python tests/benchmark_import.py [ROWS]

It writes a CSV of meetings, pledges at those meetings, announcements about them, status
updates and citations (every fifth meeting is in a city to place), imports it into an empty log
in a temporary folder through the real CLI, and prints the import rate next to baselines
measured in the same run: reading the CSV with `csv.DictReader`, and validating the rows
with `tracker.model` alone. A second import of the same file shows the cost of a no-op
re-import. Target (issue 7): at least 20,000 rows/s.
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACTORS = ("JPN", "KAZ", "KGZ", "TJK", "TKM", "UZB", "KOR", "USA", "CHN", "IND", "DEU", "EU")
CITIES = (("Tokyo", "JPN"), ("Astana", "KAZ"), ("Bishkek", "KGZ"), ("Dushanbe", "TJK"),
          ("Ashgabat", "TKM"), ("Tashkent", "UZB"), ("Seoul", "KOR"), ("Osaka", "JPN"))
COLUMNS = ("kind", "id", "subject", "title", "date", "status", "level", "city", "country",
           "participant", "topic", "by", "about", "donor", "recipient", "amount", "currency",
           "instrument", "at", "source", "quote")


def write_rows(path: Path, count: int) -> None:
    """A mixed file: per group of 5 rows a meeting, a pledge at it, an announcement about
    it, an update of the pledge and a citation of the meeting."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        for number in range(count):
            group, role = divmod(number, 5)
            year, month = 1995 + group % 30, 1 + group % 12
            first, second = ACTORS[group % 12], ACTORS[(group + 5) % 12]
            source = f"https://example.org/news/{group}"
            meeting, pledge = f"m{group}", f"p{group}"
            row = {"source": source, "quote": f"quote number {number}"}
            if role == 0:
                city, country = CITIES[group % len(CITIES)]
                row |= {"kind": "meeting", "id": meeting, "title": f"Meeting {group}",
                        "date": f"{year}-{month:02d}", "status": "held", "level": "ministerial",
                        "participant": f"{first}; {second}", "topic": "trade; energy"}
                if group % 5 == 0:
                    row |= {"city": city, "country": country}
            elif role == 1:
                row |= {"kind": "pledge", "id": pledge, "title": f"Grant {group}",
                        "date": f"{year}-{month:02d}", "donor": "JPN",
                        "recipient": "KAZ; UZB" if first == "JPN" else first,
                        "amount": f"{1000 + group}", "currency": "USD", "instrument": "grant",
                        "at": meeting}
            elif role == 2:
                row |= {"kind": "announcement", "title": f"Statement {group}",
                        "date": f"{year}-{month:02d}-15", "by": first, "about": meeting}
            elif role == 3:
                row |= {"kind": "update", "subject": pledge, "status": "disbursed",
                        "date": f"{year + 1}", "amount": f"{500 + group}"}
            else:
                row |= {"kind": "citation", "subject": meeting}
            writer.writerow(row)


def timed(action, repeat: int = 3) -> float:
    """The best wall time of `repeat` runs (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def run_import(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system) and stdout of one `tracker import`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stdout.strip()


def read_only(path: Path) -> None:
    with open(path, newline="", encoding="utf-8") as file:
        for _row in csv.DictReader(file):
            pass


def validate_only(path: Path) -> None:
    """What the model alone costs: draft_record for every record row."""
    from tracker import model

    multi = {"participant", "topic", "about", "recipient"}
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            if row["kind"] in model.KINDS:
                options = {key: [item.strip() for item in value.split(";")]
                           if key in multi else value
                           for key, value in row.items() if value and key not in ("kind", "id")}
                options.pop("at", None)
                options.pop("about", None)
                model.draft_record(row["kind"], options)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / "rows.csv"
        write_rows(path, count)
        startup = timed(lambda: subprocess.run([sys.executable, "-m", "tracker", "--help"],
                                               check=True, capture_output=True))
        read = timed(lambda: read_only(path))
        validate = timed(lambda: validate_only(path), repeat=2)
        runs = []
        for attempt in range(3):  # each into a new, empty log
            env = {**os.environ, "TRACKER_EVENTS": str(root / f"events{attempt}"),
                   "TRACKER_DB": str(root / "tracker.db"), "TRACKER_USER": "benchmark"}
            command = [sys.executable, "-m", "tracker", "import", str(path)]
            runs.append(run_import(command, env))
        print(runs[0][2])
        again_wall, _, again_out = run_import(command, env)
        print(again_out)
        lines = sum(segment.read_bytes().count(b"\n")
                    for segment in (root / "events0").glob("*/*.jsonl"))
        assert lines == count, (lines, count)
        walls = sorted(run[0] for run in runs)
        best, median = walls[0], walls[len(walls) // 2]
        cpu = min(run[1] for run in runs)
        size = sum(p.stat().st_size for p in (root / "events0").glob("*/*.jsonl"))
        print(f"rows: {count:,}  csv: {path.stat().st_size / 1e6:.1f} MB  "
              f"log: {size / 1e6:.1f} MB  (load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs)")
        print(f"baseline  python + tracker start-up:        {startup:6.2f} s")
        print(f"baseline  csv.DictReader only:              {read:6.2f} s  "
              f"({count / read:9,.0f} rows/s)")
        print(f"baseline  model.draft_record only:          {validate:6.2f} s  "
              f"({count / validate:9,.0f} rows/s)")
        print(f"tracker import, empty log (best of 3):      {best:6.2f} s  "
              f"({count / best:9,.0f} rows/s)  = {best / read:.1f} x csv.DictReader")
        print(f"tracker import, empty log (median of 3):    {median:6.2f} s  "
              f"({count / median:9,.0f} rows/s)")
        print(f"tracker import, CPU time (user + system):   {cpu:6.2f} s  "
              f"({count / cpu:9,.0f} rows/s)")
        print(f"tracker import again (all present):         {again_wall:6.2f} s  "
              f"({count / again_wall:9,.0f} rows/s)")
        verdict = "meets" if count / best >= 20_000 else "MISSES"
        print(f"import rate: {count / best:,.0f} rows/s (best of 3 whole commands), "
              f"{verdict} the target of 20,000 rows/s")


if __name__ == "__main__":
    main()
