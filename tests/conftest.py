"""Shared fixtures: every test gets its own event log and database in a temporary folder."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tracker.cli import cli

PROJECT = Path(__file__).resolve().parent.parent
BUNDLED_EVENTS = PROJECT / "events"
METADATA = PROJECT / "datasette-metadata.json"


@pytest.fixture(autouse=True)
def tracker_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point TRACKER_EVENTS and TRACKER_DB at a temporary folder."""
    monkeypatch.setenv("TRACKER_EVENTS", str(tmp_path / "events"))
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "tracker.db"))
    monkeypatch.setenv("TRACKER_USER", "tester")
    monkeypatch.delenv("TRACKER_WRITER", raising=False)
    return tmp_path


def run(*args: str) -> Result:
    """Run the CLI in-process, as a user would from a shell."""
    return CliRunner().invoke(cli, [str(arg) for arg in args], prog_name="tracker")


def ok(*args: str) -> str:
    """Run the CLI, require success, and return stdout without its final newline."""
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout.rstrip("\n")


def log_bytes(events: Path) -> dict[str, bytes]:
    """Every segment file of a log and its exact bytes."""
    return {str(path.relative_to(events)): path.read_bytes()
            for path in sorted(events.glob("*/*.jsonl"))}


def rows(db: Path, sql: str, *params: object) -> list[dict]:
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]


SOURCE = ("--source", "https://example.org/report", "--quote", "a quote")


@pytest.fixture
def events(tracker_env: Path) -> Path:
    return tracker_env / "events"


@pytest.fixture
def db(tracker_env: Path) -> Path:
    return tracker_env / "tracker.db"


@pytest.fixture
def bundled(tracker_env: Path) -> Path:
    """A copy of the bundled log, built: returns the database path."""
    target = tracker_env / "events"
    shutil.copytree(BUNDLED_EVENTS, target, ignore=shutil.ignore_patterns(".lock", ".writer"))
    ok("build")
    return tracker_env / "tracker.db"


@pytest.fixture
def japan_format() -> str:
    return ok("add", "format", "central-asia-japan", "--name", "Central Asia + Japan",
              "--member", "JPN,KAZ,KGZ,TJK,TKM,UZB", "--launched", "2004", *SOURCE)
