"""Old event schemas keep projecting: the schema-1 fixture log, and the upcasting hook."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tracker import upcast
from tracker.build import build
from tracker.log import EventLog
from tracker.verify import verify

FIXTURE = Path(__file__).parent / "fixtures" / "schema-1"


def projected_rows(db: Path, expected: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The rows of the fixture's tables, limited to the columns the fixture knows."""
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return {table: [{column: row[column] for column in rows[0]} if rows else dict(row)
                        for row in conn.execute(f"select * from {table} order by rowid")]
                for table, rows in expected.items()}


def test_the_fixture_log_verifies() -> None:
    report = verify(EventLog(FIXTURE / "events"))
    assert (report.ok, report.events, report.problems) == (True, 12, [])


def test_the_fixture_log_projects_to_the_expected_rows(tmp_path: Path) -> None:
    expected = json.loads((FIXTURE / "expected.json").read_text())
    assert {table: len(rows) for table, rows in expected.items()} == {
        "announcement_about": 2, "announcements": 1, "format_members": 6, "formats": 1,
        "history": 14, "meeting_participants": 3, "meetings": 2, "pledge_recipients": 5,
        "pledges": 1, "records": 6, "sources": 9, "status_changes": 2}
    build(EventLog(FIXTURE / "events"), tmp_path / "fixture.db", full=True)
    assert projected_rows(tmp_path / "fixture.db", expected) == expected


def test_an_upcaster_maps_old_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the schema moved to version 2: version-1 events are upcast on replay."""
    monkeypatch.setattr(upcast, "SCHEMA", 2)
    assert verify(EventLog(FIXTURE / "events")).problems[0].endswith(
        "unknown schema version 1 of format.recorded")
    calls: list[str] = []

    def to_version_2(event: dict) -> dict:
        calls.append(event["id"])
        return {**event, "data": dict(event["data"])}

    types = {json.loads(line)["type"] for line in
             (FIXTURE / "events" / "fixture" / "2026-11.jsonl").read_text().splitlines()}
    monkeypatch.setattr(upcast, "UPCASTERS", {(kind, 1): to_version_2 for kind in types})
    assert verify(EventLog(FIXTURE / "events")).ok
    expected = json.loads((FIXTURE / "expected.json").read_text())
    calls.clear()
    build(EventLog(FIXTURE / "events"), tmp_path / "upcast.db", full=True)
    ids = [json.loads(line)["id"] for line in
           (FIXTURE / "events" / "fixture" / "2026-11.jsonl").read_text().splitlines()]
    assert set(calls) == set(ids) and len(ids) == 12
    assert len(calls) == 14  # and twice again: recorded data read back by corrections
    assert projected_rows(tmp_path / "upcast.db", expected) == expected
