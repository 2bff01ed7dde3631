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


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


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
        env = {**os.environ, "TRACKER_EVENTS": str(root / "events"),
               "TRACKER_DB": str(root / "tracker.db"), "TRACKER_USER": "benchmark"}
        command = [sys.executable, "-m", "tracker", "import", str(path)]
        startup = timed(lambda: subprocess.run([sys.executable, "-m", "tracker", "--help"],
                                               env=env, check=True, capture_output=True))
        read = timed(lambda: read_only(path))
        validate = timed(lambda: validate_only(path))
        result = {}

        def run() -> None:
            result["out"] = subprocess.run(command, env=env, check=True, capture_output=True,
                                           text=True)

        first = timed(run)
        print(result["out"].stdout.strip())
        again = timed(run)
        print(result["out"].stdout.strip())
        size = sum(p.stat().st_size for p in (root / "events").glob("*/*.jsonl"))
        print(f"rows: {count:,}  csv: {path.stat().st_size / 1e6:.1f} MB  "
              f"log: {size / 1e6:.1f} MB")
        print(f"baseline  python + tracker start-up:       {startup:6.2f} s")
        print(f"baseline  csv.DictReader only:             {read:6.2f} s  "
              f"({count / read:10,.0f} rows/s)")
        print(f"baseline  model.draft_record only:         {validate:6.2f} s  "
              f"({count / validate:10,.0f} rows/s)")
        print(f"tracker import (empty log, whole command): {first:6.2f} s  "
              f"({count / first:10,.0f} rows/s)  = {first / read:.1f} x csv read")
        print(f"tracker import again (all present):        {again:6.2f} s  "
              f"({count / again:10,.0f} rows/s)")
        verdict = "meets" if count / first >= 20_000 else "MISSES"
        print(f"import rate: {count / first:,.0f} rows/s, {verdict} the target of 20,000 rows/s")


if __name__ == "__main__":
    main()
