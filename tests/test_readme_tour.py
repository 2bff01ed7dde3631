"""The README's tour of the commands, run in order from an empty log as a reader would
type it: every command exits as the README says and prints what it shows, ids and times
aside.

What is run, in the order of the README's section "A tour of the commands":

- each ```sh block, line by line; the block right after it, if it has no language, is
  what the block's last command prints (stdout and stderr, as a terminal shows them):
  the others are only checked to exit 0;
- each block of `$ ` lines (a transcript): each `$ ` line is run, and the lines up to the
  next one are what it prints; a command that prints an `Error:` line must exit 1, the
  others 0. A transcript that begins with `git pull` shows the work of another clone
  merged in, and is not run.

Besides `tracker`, the tour has `export`, `git clone -q . DIR` (here the bundled log in a
git repository of its own, with origin/main) and `NAME=$(python -c '...')`.

In what a command prints, a line `...` stands for lines left out. The ids the README
shows are those of one real run: an id a command prints stands for the id the README
shows in its place, and a later command that uses the README's id gets that one.
Times, hashes and writer ids are of that run too, and match any.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.envelope import ULID_PATTERN

from .conftest import BUNDLED_EVENTS, PROJECT

SCRATCH = "/tmp/scratch"  # the README's scratch folder, a temporary folder in the test
ANY = (  # what differs from run to run, besides ids: shown as one run printed it
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",
    r'"hash": "[0-9a-f]{64}"',
    r'"writer": "[0-9a-f]{8}"',
)
NOT_RUN = ("git pull",)


@dataclass
class Step:
    """Commands of the README and what they print (None: not shown)."""

    commands: list[str]
    expected: list[list[str] | None]
    line: int


@dataclass
class Run:
    """The state of the tour: its folder, variables and the README's ids as run."""

    folder: Path
    variables: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # README id -> id of this run


def steps() -> list[Step]:
    """The commands of the tour in order, with what each block shows they print."""
    readme = (PROJECT / "README.md").read_text()
    before, text = readme.split("\n## A tour of the commands\n", 1)
    text = text.split("\n## ", 1)[0]
    blocks = list(re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M))
    found: list[Step] = []
    for index, block in enumerate(blocks):
        language, body = block.groups()
        line = before.count("\n") + 2 + text.count("\n", 0, block.start())
        if language == "sh":
            commands = joined(body)
            after = blocks[index + 1] if index + 1 < len(blocks) else None
            shown = None
            if (after and after.group(1) == "" and not after.group(2).startswith("$ ")
                    and not text[block.end():after.start()].strip()):
                shown = after.group(2).splitlines()
            found.append(Step(commands, [None] * (len(commands) - 1) + [shown], line))
        elif language == "" and body.startswith("$ ") and not body.startswith(
                tuple(f"$ {command}" for command in NOT_RUN)):
            commands, expected = [], []
            for row in body.splitlines():
                if row.startswith("$ "):
                    commands.append(row[2:])
                    expected.append([])
                else:
                    expected[-1].append(row)
            found.append(Step(commands, expected, line))
    return found


def joined(body: str) -> list[str]:
    """The commands of a shell block: continued lines joined, comments and blanks left out."""
    commands = body.replace("\\\n", " ").splitlines()
    return [command for command in commands if command.strip() and not command.startswith("#")]


def run_command(command: str, run: Run, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run one line of the tour; its exit code and what it prints."""
    for name, value in run.variables.items():
        command = command.replace(f"${name}", value)
    command = command.replace(SCRATCH, str(run.folder))
    if assignment := re.fullmatch(r"(\w+)=\$\(\S+ -c '([^']*)'\)", command):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(assignment.group(2), {})
        run.variables[assignment.group(1)] = output.getvalue().strip()
        return 0, ""
    words = shlex.split(command, comments=True)
    if words[0] == "export":
        for setting in words[1:]:
            monkeypatch.setenv(*setting.split("=", 1))
        return 0, ""
    if words[:3] == ["git", "clone", "-q"] and words[3] == ".":
        clone(Path(words[4]))
        return 0, ""
    assert words[0] == "tracker", f"the test cannot run {command!r}"
    for index, word in enumerate(words):
        for readme_id in ULID_PATTERN.findall(word):
            if readme_id in run.ids:
                word = word.replace(readme_id, run.ids[readme_id])
        words[index] = word
    result = CliRunner().invoke(cli, words[1:], prog_name="tracker")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        command, result.output, result.exception)
    return result.exit_code, result.output.replace(str(run.folder), SCRATCH)


def clone(target: Path) -> None:
    """`git clone -q . TARGET` of the project, as far as the tour reads it: the bundled
    log, committed, with origin/main at that commit."""
    shutil.copytree(BUNDLED_EVENTS, target / "events",
                    ignore=shutil.ignore_patterns(".lock", ".writer", ".cache", ".quarantine"))
    for arguments in (["init", "-q"], ["add", "events"],
                      ["-c", "user.name=tour", "-c", "user.email=tour@example.org",
                       "commit", "-q", "-m", "bundled log"],
                      ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run(["git", "-C", str(target), *arguments], check=True, capture_output=True)


def pattern(line: str) -> str:
    """A regular expression of a line the README shows: its ids captured, times, hashes
    and writer ids of any run."""
    parts = re.split(f"({ULID_PATTERN.pattern}|{'|'.join(ANY)})", line)
    regex = ""
    for index, part in enumerate(parts):
        if index % 2 == 0:
            regex += re.escape(part)
        elif ULID_PATTERN.fullmatch(part):
            regex += f"(?P<id{index}>{ULID_PATTERN.pattern})"
        else:
            regex += next(any_value for any_value in ANY if re.fullmatch(any_value, part))
    return regex


def matches(shown: list[str], printed: list[str], ids: dict[str, str]) -> dict[str, str] | None:
    """The README's ids bound to those printed, if the lines printed are those shown."""
    if not shown:
        return ids if not printed else None
    if shown[0].strip() == "...":
        for skipped in range(len(printed) + 1):
            if (bound := matches(shown[1:], printed[skipped:], ids)) is not None:
                return bound
        return None
    if not printed or not (match := re.fullmatch(pattern(shown[0]), printed[0])):
        return None
    bound = dict(ids)
    readme_ids = ULID_PATTERN.findall(shown[0])
    for readme_id, printed_id in zip(readme_ids, match.groups(), strict=True):
        if bound.setdefault(readme_id, printed_id) != printed_id:
            return None
    if len(set(bound.values())) != len(bound):
        return None
    return matches(shown[1:], printed[1:], bound)


def test_the_tour_runs_from_an_empty_log_as_the_readme_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_USER", "analyst")
    run = Run(tmp_path)
    found = steps()
    assert len(found) == 31  # the blocks of the tour: one more or less, change it here
    for step in found:
        for command, shown in zip(step.commands, step.expected, strict=True):
            code, printed = run_command(command, run, monkeypatch)
            lines = printed.rstrip("\n").split("\n") if printed else []
            where = f"README.md, block at line {step.line}: {command}\n{printed}"
            failed = shown is not None and any(line.startswith("Error:") for line in shown)
            assert code == (1 if failed else 0), where
            if shown is not None:
                bound = matches(shown, lines, run.ids)
                assert bound is not None, where + "\nexpected:\n" + "\n".join(shown)
                run.ids = bound
