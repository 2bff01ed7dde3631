"""Working in separate clones merged with git, and proving the log only grew."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import Result

from tracker.build import build
from tracker.log import EventLog

from .conftest import PROJECT, SOURCE, log_bytes, ok, run
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


def test_verify_against_names_a_deleted_copy_of_an_event_recorded_again(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file imported in two clones (a retry), merged and committed; then a copy is
    deleted (the line of bob's own) while alice's copy of the same event stays, and
    another line edited in place: each is named as what happened to it."""
    rows = tmp_path / "rows.csv"
    rows.write_text("kind,id,title,date,subject,source\n"
                    "meeting,m1,Some meeting,2023,,https://example.org/a\n"
                    "citation,,,,m1,https://example.org/b\n")
    events = origin / "events"
    for writer in ("bob", "alice"):  # each in a clone, merged
        monkeypatch.setenv("TRACKER_WRITER", writer)
        ok("--events", tmp_path / writer, "import", rows)
        shutil.copytree(tmp_path / writer / writer, events / writer)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "imported twice")
    [bob] = (events / "bob").glob("*.jsonl")
    [meeting, citation] = bob.read_bytes().splitlines(keepends=True)
    bob.write_bytes(meeting.replace(b'"title":"Some meeting"', b'"title":"Some meetinG"'))
    meeting_id, citation_id = (json.loads(line)["id"] for line in (meeting, citation))
    month = bob.name
    result = run("--events", events, "verify", "--against", "HEAD")
    assert result.exit_code == 1
    damaged = f"event {meeting_id} (bob/{month}:1): hash does not match content"
    assert result.stderr.splitlines() == [
        f"Problem: {damaged}",
        f"Problem: event {meeting_id} (events/bob/{month}:1 at HEAD) was edited since HEAD",
        f"Problem: event {citation_id} (events/bob/{month}:2 at HEAD) was deleted since HEAD; "
        f"another copy of the same event is at events/alice/{month}:2",
        f"Error: verify failed: 3 problems in 4 events; first: {damaged}"]


def test_verify_against_a_log_at_the_top_of_its_repository(tmp_path: Path) -> None:
    """The events folder is the repository itself: its segments are checked all the same."""
    events = tmp_path / "events"
    for title in ("First", "Second"):
        ok("--events", events, "add", "meeting", "--title", title, "--date", "2024", *SOURCE)
    git(events, "init", "-q", "-b", "main")
    git(events, "add", "-A")
    git(events, "commit", "-q", "-m", "two meetings")
    [segment] = events.glob("*/*.jsonl")
    last = list(EventLog(events).events())[-1]
    segment.write_bytes(segment.read_bytes().splitlines(keepends=True)[0])
    result = run("--events", events, "verify", "--against", "HEAD")
    problem = (f"event {last['id']} ({segment.parent.name}/{segment.name}:2 at HEAD) was "
               "deleted since HEAD")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Problem: {problem}\nError: verify failed: 1 problem in 1 event; first: "
               f"{problem}\n")


def test_verify_against_refuses_what_is_not_git(origin: Path, tmp_path: Path) -> None:
    unknown = run("--events", origin / "events", "verify", "--against", "no-such-rev")
    assert (unknown.exit_code, unknown.stderr) == (
        1, "Error: unknown git revision 'no-such-rev'\n")
    ok("--events", tmp_path / "loose", "add", "meeting", "--title", "T", "--date", "2024",
       *SOURCE)
    outside = run("--events", tmp_path / "loose", "verify", "--against", "HEAD")
    assert (outside.exit_code, outside.stdout, outside.stderr) == (
        1, "", f"Error: {tmp_path / 'loose'} is not in a git repository\n")
    # An error is one line on stderr with --json too, as the README says: never JSON.
    for events, revision, error in ((origin / "events", "no-such-rev", unknown.stderr),
                                    (tmp_path / "loose", "HEAD", outside.stderr)):
        as_json = run("--events", events, "verify", "--against", revision, "--json")
        assert (as_json.exit_code, as_json.stdout, as_json.stderr) == (1, "", error)


def analyst_repo(tmp_path: Path) -> Path:
    """A repository as a team starts one with tracker: no .gitattributes of its own."""
    repo = tmp_path / "team"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    ok("--events", repo / "events", "add", "format", "central-asia-japan", "--name",
       "Central Asia + Japan", *SOURCE)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def add_format(repo: Path, slug: str) -> Result:
    result = run("--events", repo / "events", "add", "format", slug, "--name", slug, *SOURCE)
    assert result.exit_code == 0, result.output
    return result


def test_the_log_marks_its_segments_for_a_union_merge(tmp_path: Path) -> None:
    repo = analyst_repo(tmp_path)
    assert (repo / "events" / ".gitattributes").read_text() == (
        "# The event log is append-only JSON Lines: a union merge keeps both sides'\n"
        "# lines; -text keeps every byte as written (no line ends converted, as\n"
        "# core.autocrlf does: each line's hash covers its bytes).\n"
        "*.jsonl merge=union -text\n")
    [segment] = (repo / "events").glob("*/*.jsonl")
    path = segment.relative_to(repo)
    assert git(repo, "check-attr", "merge", "text", "--", str(path)) == (
        f"{path}: merge: union\n{path}: text: unset\n")
    assert "events/.gitattributes" in git(repo, "ls-files")


def test_recording_on_a_branch_behind_appends_as_another_writer(tmp_path: Path) -> None:
    """Each line of history a clone records on gets a writer whose seqs follow 1, 2, 3:
    the branches merge without a conflict, and verify passes."""
    repo = analyst_repo(tmp_path)
    writer = (repo / "events" / ".writer").read_text().strip()
    git(repo, "checkout", "-q", "-b", "topic")
    assert add_format(repo, "on-topic").stderr == ""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "topic")
    git(repo, "checkout", "-q", "main")  # the writer's seq 2 is on topic only
    result = add_format(repo, "on-main")
    [other] = {path.name for path in (repo / "events").iterdir()
               if path.is_dir() and not path.name.startswith(".")} - {writer}
    assert result.stderr == (
        f"Warning: the log here lacks the latest event that writer {writer} appended in this "
        "clone (a branch, a stash or an older commit?): appended as writer "
        f"{other}, so that no seq is used twice\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "merge", "-q", "--no-edit", "topic")
    assert ok("--events", repo / "events", "verify") == "OK: 3 events in 2 files"
    git(repo, "checkout", "-q", "topic")  # complete here: the usual writer again
    assert add_format(repo, "topic-again").stderr == ""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "topic again")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-edit", "topic")
    assert ok("--events", repo / "events", "verify") == "OK: 4 events in 2 files"
    assert (repo / "events" / ".writer").read_text().strip() == writer


def test_recording_after_a_stash_keeps_the_stashed_events(tmp_path: Path) -> None:
    repo = analyst_repo(tmp_path)
    add_format(repo, "stashed")
    git(repo, "stash", "-q", "--include-untracked")
    assert "Warning: the log here lacks the latest event" in add_format(repo, "meanwhile").stderr
    git(repo, "stash", "pop", "-q")
    assert ok("--events", repo / "events", "verify") == "OK: 3 events in 2 files"


def test_a_writer_set_by_hand_is_never_replaced(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_WRITER", "analyst-1")
    repo = analyst_repo(tmp_path)
    [first] = (repo / "events" / "analyst-1").glob("*.jsonl")
    event_id = json.loads(first.read_text())["id"]
    git(repo, "checkout", "-q", "-b", "topic")
    add_format(repo, "on-topic")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "topic")
    git(repo, "checkout", "-q", "main")
    before = log_bytes(repo / "events")
    topic_event = json.loads(git(repo, "show", f"topic:{first.relative_to(repo)}")
                             .splitlines()[-1])["id"]
    result = run("--events", repo / "events", "add", "format", "on-main", "--name", "x",
                 *SOURCE)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: writer analyst-1 appended seq 2 (event {topic_event}) in this clone, but "
        "the log here ends at seq 1: a branch, a stash or an older commit? Appending would "
        "use a seq twice; check out the branch that has that event, or set TRACKER_WRITER "
        "to another writer id\n")
    assert log_bytes(repo / "events") == before
    assert event_id != topic_event


def _segment_of(events: Path, writer: str) -> Path:
    [segment] = (events / writer).glob("*.jsonl")
    return segment


@pytest.mark.parametrize("keep_cache", [True, False])
@pytest.mark.parametrize("copied", ["own", "other writer's"])
def test_a_line_repeated_at_the_end_of_a_segment_does_not_reuse_a_seq(
    events: Path, monkeypatch: pytest.MonkeyPatch, copied: str, keep_cache: bool
) -> None:
    """A merge that repeats an earlier line at the end of a writer's segment, or copies
    another writer's line there: the next event takes the writer's highest seq + 1 (with
    the clone's cache, or without it), and verify passes with only the copies' warning."""
    monkeypatch.setenv("TRACKER_WRITER", "alice")
    ok("add", "format", "fmt-a", "--name", "A", *SOURCE)
    monkeypatch.setenv("TRACKER_WRITER", "bob")
    ok("add", "format", "fmt-b", "--name", "B", *SOURCE)
    ok("cite", "fmt-b", "--source", "https://example.org/more")
    bob = _segment_of(events, "bob")
    copy = (bob if copied == "own" else _segment_of(events, "alice")).read_bytes()
    with open(bob, "ab") as file:
        file.write(copy.splitlines(keepends=True)[0])
    if not keep_cache:
        shutil.rmtree(events / ".cache")
    result = run("cite", "fmt-b", "--source", "https://example.org/again", "--json")
    assert (result.exit_code, result.stderr) == (0, "")
    assert (json.loads(result.stdout)["writer"], json.loads(result.stdout)["seq"]) == ("bob", 3)
    report = run("verify")
    assert report.exit_code == 0, report.output
    assert report.stdout.startswith("OK: 4 events in 2 files")


def test_a_folder_holding_only_another_writers_line_starts_at_seq_1(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_WRITER", "alice")
    ok("add", "format", "fmt-a", "--name", "A", *SOURCE)
    ok("cite", "fmt-a", "--source", "https://example.org/more")
    (events / "zed").mkdir()
    shutil.copy(_segment_of(events, "alice"), events / "zed")
    monkeypatch.setenv("TRACKER_WRITER", "zed")
    event = json.loads(ok("cite", "fmt-a", "--source", "https://example.org/zed", "--json"))
    assert (event["writer"], event["seq"]) == ("zed", 1)


def test_a_build_names_the_events_a_pushed_revert_removed(origin: Path) -> None:
    """Bob pulls Alice's work and reverts her last commit; Alice's pull of it removes her
    event from her log. Her next build rebuilds without it, and says which; the next
    one is quiet."""
    alice, bob = clone(origin, "alice"), clone(origin, "bob")
    db = ("--events", alice / "events", "--db", alice.parent / "alice.db")
    record(alice, "Kept")
    record(alice, "Reverted")
    ok(*db, "build")
    [reverted] = [event for event in EventLog(alice / "events").events()
                  if event["data"].get("title") == "Reverted"]
    git(bob, "pull", "-q", "--no-rebase", str(alice), "main")
    git(bob, "revert", "--no-edit", "HEAD")
    git(alice, "pull", "-q", "--no-rebase", str(bob), "main")
    result = run(*db, "build")
    assert (result.exit_code, result.stdout, result.stderr) == (0, (
        f"Built {alice.parent / 'alice.db'} from 2 events\n"), (
        "Warning: 1 event of the last build no longer in the log (a git revert or reset, "
        f"another branch, lines deleted): meeting.recorded {reverted['id']}; rebuilt without "
        "it (after a pull, tracker verify --against ORIG_HEAD says whether the pull "
        "removed it)\n"))
    assert run(*db, "build", "--full").stderr == ""
    assert "was deleted since ORIG_HEAD" in run("--events", alice / "events", "verify",
                                                 "--against", "ORIG_HEAD").stderr


@pytest.mark.parametrize("own_attributes", [False, True], ids=["log's", "project's"])
def test_a_clone_that_converts_line_ends_keeps_the_log_as_written(
        tmp_path: Path, own_attributes: bool) -> None:
    """core.autocrlf (Git for Windows' default) writes text files with CRLF: the segments
    are not text to git (-text), so each line keeps the bytes its hash covers, whether
    the log's own .gitattributes says so or the project's (events/**/*.jsonl)."""
    repo = analyst_repo(tmp_path)
    if own_attributes:
        shutil.copy(PROJECT / ".gitattributes", repo / ".gitattributes")
        git(repo, "rm", "-q", "events/.gitattributes")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "the project's attributes")
    record_on = tmp_path / "windows"
    git(tmp_path, "-c", "core.autocrlf=true", "clone", "-q", str(repo), record_on.name)
    [segment] = (repo / "events").glob("*/*.jsonl")
    copy = record_on / segment.relative_to(repo)
    assert copy.read_bytes() == segment.read_bytes()
    assert ok("--events", record_on / "events", "verify") == "OK: 1 event in 1 file"
