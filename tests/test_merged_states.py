"""Two clones each make a change that is valid where it is made, and the merge holds a
record in a state `tracker add` refuses: the build names it, an amendment that does not
mend it says why it is refused, and one that mends it is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SOURCE, log_bytes, ok, run
from .test_references import as_bob, diverge, merge, refused

PLEDGE = ("--amount", "10", "--currency", "USD", *SOURCE)


def test_a_build_names_what_a_merge_left_breaking_the_rules_of_add(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice dates a meeting into the future, makes a chair of one actor and an official of
    another, and a recipient of a third; Bob, in his clone, marks that meeting held, takes
    those two actors off its participants and makes the third the donor."""
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2025-06", "--status",
                 "scheduled", "--participant", "JPN,KAZ,UZB,TJK", "--chair", "KAZ", *SOURCE)
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2022", "--donor", "JPN",
                "--recipient", "KAZ,UZB", *PLEDGE)
    fine = ok("add", "pledge", "--title", "Grant", "--date", "2022", "--donor", "JPN",
              "--recipient", "KAZ", *PLEDGE)
    clone = diverge(events, monkeypatch)
    ok("amend", meeting, "--set", "date=2030-06", "--reason", "misread")
    ok("amend", meeting, "--set", "chair=UZB", "--set", "official=TJK:Ann Lee",
       "--reason", "misread")
    ok("amend", pledge, "--set", "recipient=KAZ,TKM", "--reason", "misread")
    as_bob(clone, monkeypatch, "update", meeting, "--status", "held", *SOURCE)
    as_bob(clone, monkeypatch, "amend", meeting, "--set", "participant=JPN,KAZ",
           "--reason", "only two came")
    as_bob(clone, monkeypatch, "amend", pledge, "--set", "donor=TKM", "--reason", "misread")
    as_bob(clone, monkeypatch, "amend", fine, "--set", "donor=TKM", "--reason", "misread")
    assert merge(clone, events) == (
        "Warning: 4 breaches of the rules of tracker add (a merge can leave them): "
        f"meeting {meeting} --chair UZB not a participant, meeting {meeting} --status held "
        f"but dated 2030-06 (after today), meeting {meeting} an --official of TJK not a "
        f"participant and 1 more; amend them\n")
    assert run("build", "--full").stderr.endswith(
        "and 1 more; amend them\n")
    ok("add", "meeting", "--title", "Later", "--date", "2023", *SOURCE)
    assert run("build").stderr == ""  # nothing it changed breaks a rule
    ok("amend", pledge, "--set", "donor=JPN", "--reason", "mended")
    assert run("build").stderr == ""  # the pledge mended; the meeting not touched
    assert run("build", "--full").stderr == (
        "Warning: 3 breaches of the rules of tracker add (a merge can leave them): "
        f"meeting {meeting} --chair UZB not a participant, meeting {meeting} --status held "
        f"but dated 2030-06 (after today), meeting {meeting} an --official of TJK not a "
        "participant; amend it\n")


def test_an_amendment_of_a_record_a_merge_left_breaking_a_rule_says_so(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2025-06", "--status",
                 "scheduled", *SOURCE)
    pledge = ok("add", "pledge", "--title", "Loan", "--date", "2022", "--donor", "JPN",
                "--recipient", "KAZ,UZB", *PLEDGE)
    clone = diverge(events, monkeypatch)
    ok("amend", meeting, "--set", "date=2030-06", "--reason", "misread")
    ok("amend", pledge, "--set", "recipient=KAZ,TKM", "--reason", "misread")
    as_bob(clone, monkeypatch, "update", meeting, "--status", "held", *SOURCE)
    as_bob(clone, monkeypatch, "amend", pledge, "--set", "donor=TKM", "--reason", "misread")
    merge(clone, events)
    assert refused(events, "amend", meeting, "--set", "title=Summit", "--reason", "x") == (
        f"Error: {meeting} breaks a rule of tracker add as it stands (--status held for a "
        "meeting dated 2030-06, after today), as a merge can leave it: amend what mends "
        "that, alone or with this change\n")
    assert refused(events, "amend", pledge, "--set", "title=Credit", "--reason", "x") == (
        f"Error: {pledge} breaks a rule of tracker add as it stands (--donor TKM is also a "
        "--recipient), as a merge can leave it: amend what mends that, alone or with this "
        "change\n")
    # An amendment that breaks a rule of its own is refused as before.
    assert refused(events, "amend", pledge, "--set", "donor=KAZ", "--reason", "x") == (
        "Error: --donor KAZ is also a --recipient\n")
    ok("amend", meeting, "--set", "title=Summit", "--set", "status=scheduled",
       "--reason", "not held yet")
    ok("amend", pledge, "--set", "recipient=KAZ", "--reason", "TKM gives")
    result = run("build", "--full")
    assert (result.exit_code, result.stderr) == (0, "")


def test_a_chair_a_merge_took_off_the_participants_takes_part_again_with_a_warning(
    events: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting = ok("add", "meeting", "--title", "Talks", "--date", "2022", "--participant",
                 "JPN,KAZ,UZB", "--chair", "KAZ", *SOURCE)
    clone = diverge(events, monkeypatch)
    ok("amend", meeting, "--set", "chair=UZB", "--reason", "misread")
    as_bob(clone, monkeypatch, "amend", meeting, "--set", "participant=JPN,KAZ",
           "--reason", "only two came")
    merge(clone, events)
    before = log_bytes(events)
    result = run("amend", meeting, "--set", "title=Summit", "--reason", "its name")
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: UZB added to the participants again: the chair and the officials' actors "
        "take part\n"))
    assert log_bytes(events) != before
    assert "participants: JPN, KAZ -> JPN, KAZ, UZB" in ok("show", meeting)
    assert run("build").stderr == ""
