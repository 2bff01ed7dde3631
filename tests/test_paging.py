"""Paging through the site: `next_url`, and the whole CSV (`_stream=on`), give every row of a
table or view exactly once, whatever its sort, on a log where many rows share a value."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tracker import serve
from tracker.serve import load_metadata, make_datasette

from .conftest import METADATA, ok

SOURCE = {"source": "https://example.org/r", "quote": "q"}
# Few distinct values: each date, time-free field and status is shared by many rows.
DATES = ("2025", "2025-06", "2025-06-01/2025-07")


def tie_rows(meetings: int) -> Iterator[dict]:
    """Import rows whose records share their dates, formats, statuses and actors."""
    for n in range(3):
        yield {"kind": "format", "slug": f"format-{n}", "name": f"Format {n}",
               "launched": "2004", "member": ["JPN", "KAZ"], **SOURCE}
    for n in range(meetings):
        yield {"kind": "meeting", "id": f"m{n}", "title": f"Meeting {n}",
               "date": DATES[n % 3], "status": "held", "format": f"format-{n % 3}",
               "participant": ["JPN", "KAZ"] if n % 2 else ["UZB"], **SOURCE,
               **({"city": "Tokyo", "country": "JPN"} if n % 4 == 0 else {})}
    for n in range(meetings // 2):
        yield {"kind": "pledge", "id": f"p{n}", "title": f"Pledge {n}", "date": "2025",
               "donor": "JPN", "recipient": ["KAZ", "UZB"], "amount": "100",
               "currency": "JPY", "at": f"m{n}", **SOURCE}
        yield {"kind": "announcement", "id": f"a{n}", "title": f"Announcement {n}",
               "date": "2025-06", "by": "JPN", "about": [f"m{n}"], **SOURCE}
    for n in range(meetings // 3):
        yield {"kind": "update", "subject": f"p{n}", "status": "disbursed", "amount": "50",
               "date": "2025", **SOURCE}
        yield {"kind": "citation", "subject": f"m{n}", "source": f"https://example.org/{n}",
               "quote": "again"}


def tie_log(folder: Path, meetings: int) -> Path:
    """A built log of `meetings` meetings and as many other records, tied; amendments of
    several fields each give rows of `history` recorded at the same moment."""
    events, db = folder / "events", folder / "tracker.db"
    rows = folder / "rows.jsonl"
    rows.write_text("".join(json.dumps(row) + "\n" for row in tie_rows(meetings)))
    where = ("--events", events, "--db", db)
    ok(*where, "import", rows)
    ok(*where, "build")
    with closing(sqlite3.connect(db)) as conn:
        ids = [row[0] for row in conn.execute("select id from meetings order by title limit 6")]
    for meeting in ids:
        ok(*where, "amend", meeting, "--set", "level=summit", "--set", "mode=virtual",
           "--set", "topic=trade,energy", "--reason", "misread")
    ok(*where, "build")
    return db


@pytest.fixture(scope="module")
def ties(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tie_log(tmp_path_factory.mktemp("ties"), 60)


def names(db: Path) -> list[str]:
    """Every table and view Datasette shows a page of (full-text indexes aside)."""
    with closing(sqlite3.connect(db)) as conn:
        return [name for (name,) in conn.execute(
            "select name from sqlite_master where type in ('table', 'view') "
            "and name not like '%_fts%' and name not like 'sqlite_%' order by name")]


def rows_of(db: Path, name: str) -> Counter[str]:
    """Each row of a table or view (with its rowid if it has no primary key), as JSON."""
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        kind, = conn.execute("select type from sqlite_master where name = ?", [name]).fetchone()
        keyed = any(column[5] for column in conn.execute(f"pragma table_info([{name}])"))
        columns = "*" if kind == "view" or keyed else "rowid, *"
        return Counter(json.dumps(dict(row), sort_keys=True)
                       for row in conn.execute(f"select {columns} from [{name}]"))


async def paged(datasette, path: str) -> Counter[str]:
    """Every row of a JSON page and the pages its `next_url` leads to."""
    got: Counter[str] = Counter()
    pages = 0
    while path:
        response = await datasette.client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        page = response.json()
        got.update(json.dumps(row, sort_keys=True) for row in page["rows"])
        pages += 1
        assert pages <= 1000, path
        next_url = page["next_url"]
        path = next_url and next_url.removeprefix("http://localhost")
    return got


async def streamed(datasette, path: str) -> Counter[str]:
    """Every row of the whole CSV of a page, as JSON (cells as text)."""
    response = await datasette.client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return Counter(json.dumps(row, sort_keys=True)
                   for row in csv.DictReader(io.StringIO(response.text)))


def as_text(rows: Counter[str]) -> Counter[str]:
    """Rows as their CSV gives them: every value as text, an empty one for null."""
    return Counter(json.dumps({key: "" if value is None else str(value)
                               for key, value in json.loads(row).items()}, sort_keys=True)
                   for row in rows.elements())


@pytest.fixture
async def site(ties: Path):
    instance = make_datasette(ties, load_metadata(METADATA))
    await instance.invoke_startup()
    return instance


async def test_next_url_gives_every_row_once_in_the_default_sort(site, ties: Path) -> None:
    """The tester's case: `announcements.json?_size=3` and its `next_url` gave some
    announcements twice and others never, as did `meetings`, `pledges` and `history`
    (sorted by `date_start` or `recorded_at` in the metadata)."""
    tables = names(ties)
    assert {"announcements", "meetings", "pledges", "history", "timeline"} <= set(tables)
    for name in tables:
        expected = rows_of(ties, name)
        for size in (3, 7) if len(expected) < 100 else (len(expected) // 8,):
            assert await paged(site, f"/tracker/{name}.json?_shape=objects&_size={size}") \
                == expected, (name, size)


async def test_next_url_gives_every_row_once_in_any_sort(site, ties: Path) -> None:
    """`_sort` and `_sort_desc` by every sortable column, of tables keyed by `id`, by
    another column (`sources`), by two (`format_members`, `pledge_recipients`,
    `timeline_actors`), by none (`history`, `meeting_participants`: rowid), and views."""
    for name in names(ties):
        expected = rows_of(ties, name)
        metadata = site.table_metadata("tracker", name)
        with closing(sqlite3.connect(ties)) as conn:
            columns = metadata.get("sortable_columns") or [
                column[1] for column in conn.execute(f"pragma table_info([{name}])")]
        size = max(3, len(expected) // 4)  # 4 or 5 pages
        for column in columns:
            for sort in ("_sort", "_sort_desc"):
                path = f"/tracker/{name}.json?_shape=objects&_size={size}&{sort}={column}"
                assert await paged(site, path) == expected, path


async def test_the_whole_csv_gives_every_row_once(ties: Path, monkeypatch) -> None:
    """`_stream=on` follows the pages of `default_page_size` rows (Datasette 0.65 leaves
    out its `_size=max`): 7 here, so that this log has many pages."""
    monkeypatch.setitem(serve.SETTINGS, "default_page_size", 7)
    site = make_datasette(ties, load_metadata(METADATA))
    await site.invoke_startup()
    for name in names(ties):
        rows = rows_of(ties, name)
        columns = json.loads(next(iter(rows))) if rows else {}
        for sort in ("", "_sort=date_start", "_sort_desc=recorded_at"):
            if sort and sort.split("=")[1] not in columns:
                continue
            path = f"/tracker/{name}.csv?_stream=on&{sort}"
            assert await streamed(site, path) == as_text(rows), path


async def test_the_whole_csv_of_1500_tied_meetings(tmp_path: Path) -> None:
    """The tester's case: 1,500 meetings dated `2025`, `2025-06` or within them, whose
    CSV (in pages of 100 rows) gave 1,489 rows, 1,414 of them distinct."""
    db = tie_log(tmp_path, 1500)
    site = make_datasette(db, load_metadata(METADATA))
    await site.invoke_startup()
    for name in ("meetings", "pledges", "announcements", "sources", "events"):
        assert await streamed(site, f"/tracker/{name}.csv?_stream=on") \
            == as_text(rows_of(db, name)), name
