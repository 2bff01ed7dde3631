"""An id used by two events (one `--id` given twice, in two clones): replay keeps the
copy first in replay order; a build says which, and names the others, if they say
something else (the same event again is only `tracker verify`'s warning)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tracker import build
from tracker.watch import rebuild

from .conftest import METADATA, SOURCE, ok, rows, run
from .test_references import as_bob, diverge, merge

SAME = "01M83J00000000000000000000"
WARNING = ("Warning: 1 id used by events with other content (an --id given twice, in two "
           "clones): {id} (kept {kept}, the first in replay order; left out {other}); run "
           "tracker verify\n")


def segment(events: Path, writer: str) -> str:
    [path] = (events / writer).glob("*.jsonl")
    return f"{writer}/{path.name}"


def cited_with_one_id_in_two_clones(events: Path, monkeypatch: pytest.MonkeyPatch
                                    ) -> tuple[str, str, Path]:
    """Two meetings; Alice cites the first, then Bob the second, with the same --id (not
    merged yet): the meetings and Bob's clone."""
    first, second = (ok("add", "meeting", "--title", title, "--date", "2022", *SOURCE)
                     for title in ("First", "Second"))
    clone = diverge(events, monkeypatch)
    ok("cite", first, "--source", "https://example.org/a", "--id", SAME)
    as_bob(clone, monkeypatch, "cite", second, "--source", "https://example.org/b",
           "--id", SAME)
    return first, second, clone


def test_a_build_names_an_id_given_to_two_events_in_two_clones(
    events: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice cites one meeting, then Bob another, with the same --id: the build after
    the merge (incremental: Bob's event is the later) keeps Alice's and says so, as a
    full build does."""
    first, _second, clone = cited_with_one_id_in_two_clones(events, monkeypatch)
    assert merge(clone, events) == WARNING.format(
        id=SAME, kept=f"{segment(events, 'alice')} seq 1",
        other=f"{segment(events, 'bob')} seq 1")
    assert rows(db, "select subject from events where id = ?", SAME) == [{"subject": first}]
    assert rows(db, "select subject from sources where event_id = ?", SAME) == [
        {"subject": first}]
    assert ok("build") == f"Updated {db} with 0 new events"  # named once
    verified = run("verify")
    assert verified.exit_code == 1
    assert "duplicate id with other content" in verified.stderr


@pytest.mark.parametrize("feeding", [False, True], ids=["one process", "fed"])
def test_a_full_build_keeps_the_copy_first_in_replay_order(
    events: Path, db: Path, monkeypatch: pytest.MonkeyPatch, feeding: bool
) -> None:
    """Bob's copy is the earlier: a merge brings it to Alice after her own, whose build
    (in full, as an older event arrived) keeps Bob's, whether a second process reads the
    log or not."""
    monkeypatch.setattr(build, "worth_forking", lambda total: feeding)
    first = ok("add", "meeting", "--title", "First", "--date", "2022", *SOURCE)
    clone = diverge(events, monkeypatch)
    as_bob(clone, monkeypatch, "amend", first, "--set", "title=Bob's", "--reason", "typo",
           "--id", SAME)
    ok("cite", first, "--source", "https://example.org/cited")
    ok("amend", first, "--set", "title=Alice's", "--reason", "typo", "--id", SAME)
    assert ok("build") == f"Updated {db} with 2 new events"
    shutil.copytree(clone / "bob", events / "bob")
    expected = WARNING.format(id=SAME, kept=f"{segment(events, 'bob')} seq 1",
                              other=f"{segment(events, 'alice')} seq 2")
    for args in (("build",), ("build", "--full")):
        result = run(*args)
        assert (result.exit_code, result.stdout, result.stderr) == (
            0, f"Built {db} from 3 events\n", expected)
        assert rows(db, "select title from meetings") == [{"title": "Bob's"}]


def test_the_same_event_in_two_clones_is_not_named(
    events: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry in another clone (the same --id, the same content) is one event: the
    build warns of nothing, applying it fully or incrementally."""
    meeting = ok("add", "meeting", "--title", "First", "--date", "2022", "--participant",
                 "JPN,KAZ", *SOURCE)
    clone = diverge(events, monkeypatch)
    retry = ("amend", meeting, "--set", "participant=JPN,UZB", "--set", "date=2022-05",
             "--reason", "misread", "--id", SAME)
    ok(*retry)
    as_bob(clone, monkeypatch, *retry)
    assert merge(clone, events) == ""
    assert rows(db, "select count(*) as n from events") == [{"n": 2}]


def log_lines(*args: str) -> tuple[list[str], str]:
    """`tracker log`'s lines (their event ids and types) and its warnings."""
    result = run("log", *args)
    assert result.exit_code == 0, result.output
    return [" ".join(line.split("  ")[1:3]) for line in result.stdout.splitlines()], \
        result.stderr


def test_log_and_show_list_a_line_copied_into_another_folder_once(events: Path) -> None:
    """The same line in a second folder (a segment copied by hand) is one event, as
    replay keeps it: `log` and `show` list it once, and note the copy on stderr (they
    listed both)."""
    meeting = ok("add", "meeting", "--title", "First", "--date", "2022", *SOURCE)
    cited = ok("cite", meeting, "--source", "https://example.org/b")
    [writer] = [path.name for path in events.iterdir() if path.is_dir()
                and not path.name.startswith(".")]
    shutil.copytree(events / writer, events / "copied")
    where = f"{segment(events, writer)} seq"
    notes = [f"Warning: event {meeting} is in the log twice: shown once, as replay keeps it "
             f"({where} 1, the first in replay order); run tracker verify",
             f"Warning: event {cited} is in the log twice: shown once, as replay keeps it "
             f"({where} 2, the first in replay order); run tracker verify"]
    assert log_lines() == ([f"{meeting} meeting.recorded", f"{cited} source.added"],
                           "\n".join(notes) + "\n")
    assert log_lines("--type", "source") == ([f"{cited} source.added"], notes[1] + "\n")
    result = run("log", "--json")
    assert [event["id"] for event in json.loads(result.stdout)] == [meeting, cited]
    assert result.stderr == "\n".join(notes) + "\n"
    result = run("show", meeting)
    assert (result.exit_code, result.stdout.count("meeting.recorded"),
            result.stdout.count("source.added")) == (0, 1, 1)
    assert result.stderr == "\n".join(notes) + "\n"
    result = run("show", meeting, "--json")
    assert [event["id"] for event in json.loads(result.stdout)["history"]] == [meeting, cited]


def test_log_lists_a_retry_in_two_clones_once(events: Path, db: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A retry recorded again by another clone (the same --id, the same content) is
    listed once, Alice's (the first in replay order), as replay keeps it."""
    meeting = ok("add", "meeting", "--title", "First", "--date", "2022", *SOURCE)
    clone = diverge(events, monkeypatch)
    retry = ("amend", meeting, "--set", "date=2022-05", "--reason", "misread", "--id", SAME)
    ok(*retry)
    as_bob(clone, monkeypatch, *retry)
    merge(clone, events)
    assert log_lines("--subject", meeting) == (
        [f"{meeting} meeting.recorded", f"{SAME} record.amended"],
        f"Warning: event {SAME} is in the log twice: shown once, as replay keeps it "
        f"({segment(events, 'alice')} seq 1, the first in replay order); run tracker "
        "verify\n")
    history = json.loads(ok("show", meeting, "--json"))["history"]
    assert [(event["id"], event["recorded_by"]) for event in history] == [
        (meeting, "tester"), (SAME, "tester")]


def test_log_lists_the_copy_replay_keeps_of_an_id_with_other_content(
        events: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An --id given to two events: `log` shows the one replay keeps, and names the
    other's place."""
    first, second, clone = cited_with_one_id_in_two_clones(events, monkeypatch)
    merge(clone, events)
    lines, warnings = log_lines("--type", "source")
    assert (lines, warnings) == (
        [f"{SAME} source.added"],
        f"Warning: event {SAME} is in the log twice, with other content at "
        f"{segment(events, 'bob')} seq 1: shown once, as replay keeps it "
        f"({segment(events, 'alice')} seq 1, the first in replay order); run tracker "
        "verify\n")
    assert json.loads(ok("log", "--json", "--type", "source"))[0]["subject"] == first
    result = run("show", second)
    assert (result.exit_code, SAME in result.stdout, result.stderr) == (0, False, "")


@pytest.mark.parametrize("args", [
    ("build",), ("build", "--as-of", "2099-01-01", "--db", "july.db"), ("export",),
    ("export", "--as-of", "2099-01-01"), ("serve", "--no-watch"),
    ("serve", "--as-of", "2099-01-01")])
def test_every_command_that_builds_warns_as_build_does(
        events: Path, db: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    """`export`, `serve` and `build --as-of` print the warnings of the build they make,
    as `tracker build` does, once (export and serve printed none)."""
    cited_with_one_id_in_two_clones(events, monkeypatch)
    shutil.copytree(events.parent / "bob" / "bob", events / "bob")
    monkeypatch.chdir(events.parent)
    monkeypatch.setattr("tracker.serve.listen_on", lambda host, port: [])
    served = []
    monkeypatch.setattr("tracker.serve.serve", lambda db_path, *rest, **options:
                        served.append(db_path))
    result = run(*args, "--metadata", METADATA) if args[0] == "serve" else run(*args)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [WARNING.format(id=SAME, kept=f"{segment(events, 'alice')} seq 1",
                                       other=f"{segment(events, 'bob')} seq 1").strip()]
    assert len(served) == (args[0] == "serve")
    if args[0] in ("export", "serve") and "--as-of" not in args:  # built: nothing to say
        assert run(*args, *(("--metadata", METADATA) if args[0] == "serve" else ())
                   ).stderr.count("Warning:") == 0


def test_a_live_rebuild_while_serving_warns_as_build_does(
        events: Path, db: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The watcher of `tracker serve` passes on the warnings of the build it runs when the
    log grows (it dropped them), once: the next rounds build nothing."""
    cited_with_one_id_in_two_clones(events, monkeypatch)
    ok("build")
    shutil.copytree(events.parent / "bob" / "bob", events / "bob")  # a merge while serving
    capsys.readouterr()
    warned: set[str] = set()
    assert asyncio.run(rebuild(events, db, warned)) is None
    expected = WARNING.format(id=SAME, kept=f"{segment(events, 'alice')} seq 1",
                              other=f"{segment(events, 'bob')} seq 1")
    assert capsys.readouterr().err == expected
    assert warned == {expected.removeprefix("Warning: ").strip()}
    assert asyncio.run(rebuild(events, db, warned)) is None
    assert capsys.readouterr().err == ""
