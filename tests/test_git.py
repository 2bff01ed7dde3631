"""Working in separate clones merged with git, and proving the log only grew."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tracker.build import build
from tracker.log import EventLog

from .conftest import PROJECT, SOURCE, ok, run
from .test_incremental import contents

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "analyst", "GIT_AUTHOR_EMAIL": "analyst@example.org",
                "GIT_COMMITTER_NAME": "analyst", "GIT_COMMITTER_EMAIL": "analyst@example.org"}


def git(folder: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                            env={**os.environ, **GIT_IDENTITY})
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A shared repository with the project's .gitattributes and one recorded format."""
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shutil.copy(PROJECT / ".gitattributes", repo / ".gitattributes")
    ok("--events", repo / "events", "add", "format", "central-asia-japan", "--name",
       "Central Asia + Japan", "--member", "JPN,KAZ", *SOURCE)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def clone(origin: Path, name: str) -> Path:
    target = origin.parent / name
    git(origin.parent, "clone", "-q", str(origin), name)
    return target


def record(repo: Path, *titles: str) -> None:
    for title in titles:
        ok("--events", repo / "events", "add", "meeting", "--title", title, "--date", "2024",
           "--format", "central-asia-japan", *SOURCE)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"record {', '.join(titles)}")


def projected(repo: Path) -> dict:
    db = repo.parent / f"{repo.name}.db"
    build(EventLog(repo / "events"), db, full=True)
    return contents(db)


def union(*repos: Path) -> dict:
    """The projection of the union of the clones' events, gathered by hand."""
    folder = repos[0].parent / "union"
    for repo in repos:
        for path in (repo / "events").glob("*/*.jsonl"):
            target = folder / "events" / path.relative_to(repo / "events")
            target.parent.mkdir(parents=True, exist_ok=True)
            lines = set(target.read_bytes().splitlines(keepends=True)) if target.exists() else set()
            target.write_bytes(b"".join(sorted(lines | set(path.read_bytes().splitlines(
                keepends=True)))))
    return projected(folder)


def test_two_clones_merge_in_both_orders(origin: Path) -> None:
    alice, bob = clone(origin, "alice"), clone(origin, "bob")
    assert (alice / "events" / ".writer").exists() is False  # writer ids are not shared
    record(alice, "Alice: 9th ministers' meeting", "Alice: summit")
    record(bob, "Bob: ambassadors meet")
    writers = {(repo / "events" / ".writer").read_text() for repo in (alice, bob)}
    assert len(writers) == 2
    git(alice, "pull", "-q", "--no-rebase", str(bob), "main")
    git(bob, "pull", "-q", "--no-rebase", str(alice.parent / "alice"), "main")
    for repo in (alice, bob):
        assert "<<<<<<<" not in "".join(p.read_text() for p in (repo / "events").glob("*/*.jsonl"))
        assert ok("--events", repo / "events", "verify").startswith("OK: 4 events in 3 files")
    expected = union(alice, bob)
    assert projected(alice) == expected
    assert projected(bob) == expected
    titles = [row[1] for row in expected["meetings"]]
    assert sorted(titles) == ["Alice: 9th ministers' meeting", "Alice: summit",
                              "Bob: ambassadors meet"]


def test_the_same_event_appended_on_both_sides_appears_once(origin: Path) -> None:
    alice, bob = clone(origin, "alice"), clone(origin, "bob")
    [segment] = (origin / "events").glob("*/*.jsonl")
    name = segment.relative_to(origin)
    ok("--events", origin / "events", "add", "meeting", "--title", "Shared", "--date", "2024",
       *SOURCE)
    line = segment.read_bytes().splitlines(keepends=True)[-1]
    for repo in (alice, bob):  # the same line reaches both clones, e.g. by a patch
        with open(repo / name, "ab") as file:
            file.write(line)
        git(repo, "commit", "-q", "-am", "the shared event")
    record(bob, "Bob's own")
    git(alice, "pull", "-q", "--no-rebase", str(bob), "main")
    assert (alice / name).read_bytes().count(line) == 1
    assert ok("--events", alice / "events", "verify").startswith("OK: 3 events")
    assert [row[1] for row in projected(alice)["meetings"]] == ["Shared", "Bob's own"]


def test_a_retry_with_the_same_id_in_two_clones(origin: Path) -> None:
    """Each clone wrote the event (other writer, time and seq): it counts once."""
    alice, bob = clone(origin, "alice"), clone(origin, "bob")
    event_id = "01J3Z8Q6M0S7WQ4N6V7R2K9B1C"
    for repo in (alice, bob):
        ok("--events", repo / "events", "add", "meeting", "--title", "Same", "--date", "2024",
           "--id", event_id, *SOURCE)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "same id")
    git(alice, "pull", "-q", "--no-rebase", str(bob), "main")
    result = run("--events", alice / "events", "verify")
    assert result.exit_code == 0, result.stderr
    assert f"event {event_id}" in result.stderr and "with the same content" in result.stderr
    assert [row[0] for row in projected(alice)["meetings"]] == [event_id]


def test_verify_against_a_revision(origin: Path) -> None:
    events = origin / "events"
    record(origin, "First", "Second", "Third")
    ok("--events", events, "add", "meeting", "--title", "Uncommitted", "--date", "2024",
       *SOURCE)
    assert ok("--events", events, "verify", "--against", "HEAD") == (
        "OK: 5 events in 1 file; nothing changed or removed since HEAD")


def test_verify_against_names_an_edited_event(origin: Path) -> None:
    events = origin / "events"
    record(origin, "First", "Second")
    [segment] = events.glob("*/*.jsonl")
    lines = segment.read_bytes().split(b"\n")
    target = next(event for event in EventLog(events).events()
                  if event["data"].get("title") == "First")
    segment.write_bytes(b"\n".join(line.replace(b'"title":"First"', b'"title":"Fir5t"')
                                   for line in lines))
    result = run("--events", events, "verify", "--against", "HEAD")
    assert result.exit_code == 1
    assert f"Problem: event {target['id']} (events/" in result.stderr
    assert f"event {target['id']} (events/{segment.parent.name}/{segment.name}:2 at HEAD) " \
           "was edited since HEAD" in result.stderr


def test_verify_against_names_a_deleted_event(origin: Path) -> None:
    events = origin / "events"
    record(origin, "First", "Second")
    [segment] = events.glob("*/*.jsonl")
    lines = segment.read_bytes().splitlines(keepends=True)
    last = list(EventLog(events).events())[-1]
    segment.write_bytes(b"".join(lines[:-1]))  # the last line: no seq gap to give it away
    assert run("--events", events, "verify").exit_code == 0
    result = run("--events", events, "verify", "--against", "HEAD")
    assert result.exit_code == 1
    problem = (f"event {last['id']} (events/{segment.parent.name}/{segment.name}:3 at HEAD) "
               "was deleted since HEAD")
    assert f"Problem: {problem}" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: verify failed: 1 problem in ")
    as_json = run("--events", events, "verify", "--against", "HEAD", "--json")
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (1, {
        "ok": False, "events": 2, "files": 1, "against": "HEAD", "problems": [problem],
        "warnings": []})
    assert as_json.stderr == result.stderr


def test_verify_against_refuses_what_is_not_git(origin: Path, tmp_path: Path) -> None:
    unknown = run("--events", origin / "events", "verify", "--against", "no-such-rev")
    assert (unknown.exit_code, unknown.stderr) == (
        1, "Error: unknown git revision 'no-such-rev'\n")
    ok("--events", tmp_path / "loose", "add", "meeting", "--title", "T", "--date", "2024",
       *SOURCE)
    outside = run("--events", tmp_path / "loose", "verify", "--against", "HEAD")
    assert outside.exit_code == 1
    assert outside.stderr.endswith("loose is not in a git repository\n")
