"""`tracker update PLEDGE --status pledged --amount X`: a pledge revised (raised or cut),
a development in the world (not a correction), which gives the pledge its new amount."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from tracker.fastcheck import FastCheck
from tracker.serve import load_metadata, make_datasette

from .conftest import METADATA, SOURCE, log_bytes, ok, rows, run
from .test_fastcheck import agree_or_refuse, lines_of
from .test_publication import ATOM, get


def grant(amount: str = "100000000") -> str:
    return ok("add", "pledge", "--title", "Grant", "--date", "2024-01", "--donor", "JPN",
              "--recipient", "KAZ", "--amount", amount, "--currency", "USD", *SOURCE)


def test_a_revised_pledge_takes_its_new_amount_everywhere(db: Path) -> None:
    pledge = grant()
    disbursed = ok("update", pledge, "--status", "disbursed", "--amount", "30000000",
                   "--date", "2024-03", *SOURCE)
    revised = ok("update", pledge, "--status", "pledged", "--amount", "200000000", "--date",
                 "2024-06", "--note", "raised", *SOURCE)
    ok("build")
    assert rows(db, "select amount, amount_text, status, disbursed_amount_text "
                    "from pledges") == [
        {"amount": 200000000, "amount_text": "200000000", "status": "pledged",
         "disbursed_amount_text": "30000000"}]
    assert rows(db, "select amount_text, outstanding_amount_text "
                    "from pledges_outstanding") == [
        {"amount_text": "200000000", "outstanding_amount_text": "170000000"}]
    assert rows(db, "select status, previous_status, date, amount_text, note "
                    "from status_changes order by recorded_at") == [
        {"status": "disbursed", "previous_status": "pledged", "date": "2024-03",
         "amount_text": "30000000", "note": None},
        {"status": "pledged", "previous_status": "disbursed", "date": "2024-06",
         "amount_text": "200000000", "note": "raised"}]
    assert rows(db, "select event_id, field, old_value, new_value, event_type, reason "
                    "from history order by recorded_at, field") == [
        {"event_id": disbursed, "field": "disbursed_amount", "old_value": None,
         "new_value": "30000000", "event_type": "pledge.status_changed", "reason": None},
        {"event_id": disbursed, "field": "status", "old_value": "pledged",
         "new_value": "disbursed", "event_type": "pledge.status_changed", "reason": None},
        {"event_id": revised, "field": "amount", "old_value": "100000000",
         "new_value": "200000000", "event_type": "pledge.status_changed", "reason": "raised"},
        {"event_id": revised, "field": "status", "old_value": "disbursed",
         "new_value": "pledged", "event_type": "pledge.status_changed", "reason": "raised"}]
    assert ok("verify") == "OK: 3 events in 1 file"
    assert rows(db, "select * from corrections") == []  # not a correction
    shown = ok("show", pledge).splitlines()
    assert "  amount: 200000000" in shown
    [at] = [index for index, line in enumerate(shown) if line.endswith(revised)]
    assert shown[at + 1:] == [
        "    status: disbursed -> pledged", "    revised: amount 100000000 -> 200000000",
        "    date: 2024-06", "    note: raised", f"    source: {SOURCE[1]}",
        f'      "{SOURCE[3]}"']
    full = db.with_name("full.db")
    ok("build", "--full", "--db", full)
    for table in ("pledges", "history", "status_changes", "records"):
        assert rows(full, f"select * from {table}") == rows(db, f"select * from {table}")


def test_what_follows_a_revision_reads_the_new_amount(events: Path) -> None:
    """The catalog folds a revision into the pledge: a disbursement above the old amount
    is no slip, and the amount of the revision is not an amount disbursed."""
    pledge = grant("100")
    ok("update", pledge, "--status", "disbursed", "--amount", "30", *SOURCE)
    ok("update", pledge, "--status", "pledged", "--amount", "200", *SOURCE)
    more = run("update", pledge, "--status", "disbursed", "--amount", "150", *SOURCE)
    assert (more.exit_code, more.stderr) == (0, "")
    ended = run("update", pledge, "--status", "fulfilled", *SOURCE)
    assert (ended.exit_code, ended.stderr) == (0, (
        "Warning: --status fulfilled with 150 of the 200 USD pledged disbursed: if more was "
        "disbursed, record the cumulative amount with --status disbursed\n"))


def test_a_revision_that_records_nothing_new_is_refused(events: Path) -> None:
    pledge = grant("100")
    ok("update", pledge, "--status", "pledged", "--amount", "200", *SOURCE)
    before = log_bytes(events)
    for args, message in (
            (["--status", "pledged", "--amount", "200"],
             f"pledge {pledge} is already pledged with --amount 200"),
            (["--status", "fulfilled", "--amount", "200"],
             "--amount 200 only goes with --status disbursed (the cumulative amount "
             "disbursed) or pledged (a pledge revised)")):
        result = run("update", pledge, *args, *SOURCE)
        assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")
    assert log_bytes(events) == before
    ok("update", pledge, "--status", "pledged", "--amount", "200", "--date", "2024-05",
       *SOURCE)  # the same amount, dated: news, as for any update


def test_a_revision_warns_of_what_rarely_happens(events: Path) -> None:
    cut = grant("100")
    ok("update", cut, "--status", "disbursed", "--amount", "60", *SOURCE)
    result = run("update", cut, "--status", "pledged", "--amount", "50", "--date", "2023",
                 *SOURCE)
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: --status pledged --date 2023 is before the pledge's date 2024-01: if the "
        "pledge's date is wrong, amend it\n"
        "Warning: --amount 50 is less than the 60 USD disbursed already: a pledge revised "
        "is rarely cut below what was paid\n"))
    for end in ("withdrawn", "fulfilled"):
        pledge = grant("100")
        ok("update", pledge, "--status", end, *SOURCE)
        result = run("update", pledge, "--status", "pledged", "--amount", "150", *SOURCE)
        assert (result.exit_code, result.stderr) == (0, (
            f"Warning: --status pledged --amount 150 after the pledge was {end}: a pledge "
            f"{end} is rarely revised; check that it was {end}\n"))


def test_a_build_as_of_a_moment_before_a_revision_has_the_old_amount(db: Path,
                                                                     tmp_path: Path) -> None:
    pledge = grant()
    disbursed = ok("update", pledge, "--status", "disbursed", "--amount", "30000000", *SOURCE)
    ok("update", pledge, "--status", "pledged", "--amount", "200000000", *SOURCE)
    ok("build")
    wanted = "select id, amount_text, status, disbursed_amount_text from pledges"
    then = tmp_path / "then.db"
    [before] = rows(db, "select recorded_at from events where id = ?", disbursed)
    ok("build", "--as-of", before["recorded_at"], "--db", then)
    assert rows(then, wanted) == [{"id": pledge, "amount_text": "100000000",
                                   "status": "disbursed", "disbursed_amount_text": "30000000"}]
    assert rows(db, wanted) == [{"id": pledge, "amount_text": "200000000",
                                 "status": "pledged", "disbursed_amount_text": "30000000"}]


def test_the_fast_check_of_verify_agrees_on_a_revision(events: Path) -> None:
    pledge = grant()
    ok("update", pledge, "--status", "pledged", "--amount", "200000000", "--note", "raised",
       *SOURCE)
    [*_, (line, folder, segment)] = lines_of(events)
    assert agree_or_refuse(FastCheck(), line, folder, segment)
    assert b'"amount":"200000000"' in line and b'"status":"pledged"' in line


async def test_the_donors_totals_add_the_revised_amount(db: Path) -> None:
    ok("update", grant("100"), "--status", "pledged", "--amount", "250", *SOURCE)
    grant("5")
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    await site.invoke_startup()
    response = await site.client.get("/tracker/pledges_by_donor.json?_shape=array&donor=JPN")
    [total, *_] = response.json()
    assert (total["title"], total["amount_text"]) == ("total in USD (2 pledges, not withdrawn)",
                                                      "255")
    response = await site.client.get("/tracker/pledges_outstanding_by_donor.json?"
                                     "_shape=array&donor=JPN")
    assert [(row["pledged_text"], row["outstanding_text"]) for row in response.json()] == [
        ("255", "255")]


async def test_the_atom_feed_says_a_revision_is_one(db: Path) -> None:
    """Not "Pledge pledged", nor the new amount as an amount disbursed."""
    pledge = grant()
    revised = ok("update", pledge, "--status", "pledged", "--amount", "200000000", "--date",
                 "2024-06", *SOURCE)
    ok("build")
    site = make_datasette(db, load_metadata(METADATA))
    feed = ElementTree.fromstring(
        (await get(site, "/tracker/recent_developments.atom")).content)
    entry = feed.find(f"{ATOM}entry")
    assert (entry.findtext(f"{ATOM}id"), entry.findtext(f"{ATOM}title"),
            entry.findtext(f"{ATOM}content")) == (
        f"urn:tracker:{revised}", "Pledge revised: Grant",
        "Date of the change: 2024-06. Pledge date (current): 2024-01. Amount revised to: "
        "200000000 USD. Source: https://example.org/report: \u201ca quote\u201d")


def test_amending_the_amount_of_a_revised_pledge_warns_that_it_replaces_the_revision(
    db: Path,
) -> None:
    """An amendment of the amount after a revision sets the amount the pledge stands at
    now (the revision's is replaced), not only its first figure: said, once recorded."""
    pledge = grant("100")
    ok("update", pledge, "--status", "pledged", "--amount", "200", "--date", "2024-07",
       *SOURCE)
    for amount, replaced in (("110", "200"), ("120", "110")):  # the amount it stands at
        result = run("amend", pledge, "--set", f"amount={amount}", "--reason", "misread")
        assert (result.exit_code, result.stderr) == (0, (
            f"Warning: --set amount={amount} replaces {replaced}, the amount the pledge "
            f"stands at since an update revised it (its amount is now {amount}; the "
            "revision stays in its history)\n"))
    ok("build")
    assert rows(db, "select amount_text from pledges") == [{"amount_text": "120"}]
    unrevised = grant("100")
    assert run("amend", unrevised, "--set", "amount=110", "--reason", "misread").stderr == ""
