"""Hostile input: random command sequences against a reference model, fuzzed parsers, and
SQL or HTML in every text field.

- A Hypothesis state machine runs random sequences of valid and invalid CLI commands on
  one log. Valid ones must land; invalid ones must exit 1 with one "Error:" line naming
  the bad value and leave every segment byte for byte as it was; the projection must
  always equal a simple model of what was recorded.
- Each parser (dates, actors, amounts, currencies, ids) gets at least 10,000 generated
  inputs: it returns a value with the documented properties or raises TrackerError with
  a one-line message, never anything else.
- Text that looks like SQL, HTML or a template is stored and shown exactly as given, and
  escaped in Datasette's HTML pages.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import unicodedata
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from markupsafe import escape

from tracker.actors import (
    all_actors,
    all_currencies,
    is_actor,
    parse_actor,
    parse_actors,
    retired_currencies,
)
from tracker.actors import parse_currency as currency_parser
from tracker.dates import PRECISIONS, parse_date
from tracker.envelope import ULID_PATTERN
from tracker.errors import TrackerError, shown
from tracker.model import (
    SLUG,
    SOURCE_FIELDS,
    parse_amount,
    parse_id,
    parse_reference,
    parse_slug,
)
from tracker.serve import load_metadata, make_datasette

from .conftest import METADATA, SOURCE, log_bytes, ok, rows, run

HOSTILE = (
    "Robert'); DROP TABLE meetings; --",
    "\" OR \"1\"=\"1\" --",
    "<script>alert(\"pwned\")</script>",
    "<img src=x onerror=alert(1)> & &amp; &lt;",
    "{{ 7*7 }} {% raw %} ${7*7} %(name)s %s",
    "'; SELECT * FROM events WHERE '1'='1",
    "\u202eevil\u202c [brackets] (parens) \\backslash\\ \"quotes\"",
)


# -- the state machine ----------------------------------------------------------------------


def visible(text: str) -> bool:
    """Not blank: the text parser refuses text that is only spaces or invisible marks."""
    return any(unicodedata.category(character)[0] not in "CZ" for character in text)


TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
            max_size=30),
).map(str.strip).filter(visible)
YEARS = st.integers(1990, 2024)
DATES = st.one_of(
    YEARS.map(str),
    st.tuples(YEARS, st.integers(1, 12)).map(lambda ym: f"{ym[0]}-{ym[1]:02d}"),
    st.tuples(YEARS, st.integers(1, 12), st.integers(1, 28)).map(
        lambda ymd: f"{ymd[0]}-{ymd[1]:02d}-{ymd[2]:02d}"),
)
ACTORS = st.sampled_from(["JPN", "Japan", "jp", "KAZ", "Kazakhstan", "UZB", "EU", "UN", "kor"])
CODES = {"Japan": "JPN", "jp": "JPN", "Kazakhstan": "KAZ", "kor": "KOR"}
AMOUNTS = st.integers(1, 10**12)
CURRENCIES = st.sampled_from(["JPY", "usd", "EUR", "kzt"])
SLUGS = st.from_regex(SLUG, fullmatch=True).filter(lambda slug: 2 <= len(slug) <= 64)

# Invalid values, each with what the one-line error must show.
BAD = {
    "date": st.sampled_from(["2019-02-30", "2019-13", "May 2019", "19", "2020/2019", "0000"]),
    "actor": st.sampled_from(["Atlantis", "XX", "Narnia", "J P N"]),
    "amount": st.sampled_from(["0", "-5", "1e9", "two", "1,00", "NaN", "1.2.3"]),
    "currency": st.sampled_from(["XYZ", "yen", "US$", "EURO"]),
    "title": st.sampled_from(["", "   ", "a\x00b", "line\nbreak", "\x1b[31mred", "T" * 301]),
    "id": st.sampled_from(["01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-an-id", "01ARZ3NDEKTSV4RRFFQ69G5F"]),
}


MORE = "https://example.org/more"  # the source cited again and again


class TrackerMachine(RuleBasedStateMachine):
    """A log driven through the CLI, next to a model of what it should hold."""

    counts: ClassVar[Counter] = Counter()  # over every run, for the figures

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="tracker-machine-"))
        self.events = self.folder / "events"
        self.formats: dict[str, dict] = {}
        self.meetings: dict[str, dict] = {}
        self.pledges: dict[str, dict] = {}
        self.arguments: dict[str, list[str]] = {}  # meeting id -> the command that made it
        self.sources = 0
        self.quotes: dict[str, set[str]] = {}  # record -> the quotes cited of MORE

    def teardown(self) -> None:
        try:
            self.projection_equals_the_model()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- running commands

    def cli(self, *arguments: str) -> Result:
        return run("--events", self.events, "--db", self.folder / "tracker.db", *arguments)

    def lands(self, *arguments: str) -> str:
        result = self.cli(*arguments)
        assert result.exit_code == 0, (arguments, result.output, result.exception)
        self.sources += 1
        self.counts["valid commands"] += 1
        return result.stdout.strip()

    def refused(self, arguments: list[str], needle: str) -> None:
        before = log_bytes(self.events)
        result = self.cli(*arguments)
        assert result.exit_code == 1, (arguments, result.output, result.exception)
        assert isinstance(result.exception, SystemExit), result.exception
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert needle in lines[0], (needle, lines[0])
        assert log_bytes(self.events) == before
        self.counts["invalid commands"] += 1

    # -- valid commands

    @initialize()
    def start(self) -> None:
        self.lands("add", "format", "central-asia-japan", "--name", "Central Asia + Japan",
                   "--member", "JPN,KAZ", *SOURCE)
        self.formats["central-asia-japan"] = {"name": "Central Asia + Japan",
                                              "members": ["JPN", "KAZ"]}

    @rule(slug=SLUGS, name=TEXT, members=st.lists(ACTORS, max_size=3))
    def add_format(self, slug: str, name: str, members: list[str]) -> None:
        arguments = ["add", "format", slug, "--name", name, *SOURCE]
        for member in members:
            arguments += ["--member", member]
        if slug in self.formats or ULID_PATTERN.fullmatch(slug):
            self.refused(arguments, shown(slug))
            return
        assert self.lands(*arguments) == slug
        codes = list(dict.fromkeys(CODES.get(member, member) for member in members))
        self.formats[slug] = {"name": name, "members": codes or None}

    @rule(title=TEXT, date=DATES, data=st.data())
    def add_meeting(self, title: str, date: str, data: st.DataObject) -> None:
        arguments = ["add", "meeting", "--title", title, "--date", date]
        chosen = data.draw(st.sampled_from([None, *sorted(self.formats)]))
        if chosen:
            arguments += ["--format", chosen]
        arguments += list(SOURCE)
        meeting_id = self.lands(*arguments)
        self.meetings[meeting_id] = {"title": title, "date": date, "status": "held",
                                     "format": chosen}
        self.arguments[meeting_id] = arguments

    @rule(title=TEXT, date=DATES, donor=ACTORS, amount=AMOUNTS, grouped=st.booleans(),
          currency=CURRENCIES)
    def add_pledge(self, title: str, date: str, donor: str, amount: int, grouped: bool,
                   currency: str) -> None:
        recipient = "UZB" if CODES.get(donor, donor) != "UZB" else "KAZ"
        pledge_id = self.lands(
            "add", "pledge", "--title", title, "--date", date, "--donor", donor,
            "--recipient", recipient, "--amount", f"{amount:,}" if grouped else str(amount),
            "--currency", currency, *SOURCE)
        self.pledges[pledge_id] = {"title": title, "amount_text": str(amount),
                                   "currency": currency.upper(), "status": "pledged",
                                   "disbursed_amount_text": None}

    @precondition(lambda self: self.meetings)
    @rule(data=st.data(), status=st.sampled_from(["postponed", "cancelled", "held"]))
    def update_meeting(self, data: st.DataObject, status: str) -> None:
        meeting_id = data.draw(st.sampled_from(sorted(self.meetings)))
        arguments = ["update", meeting_id, "--status", status, *SOURCE]
        if self.meetings[meeting_id]["status"] == status:  # nothing new
            self.refused(arguments, f"meeting {meeting_id} is already {status}")
            return
        self.lands(*arguments)
        self.meetings[meeting_id]["status"] = status

    @precondition(lambda self: self.pledges)
    @rule(data=st.data(), amount=AMOUNTS)
    def disburse(self, data: st.DataObject, amount: int) -> None:
        pledge_id = data.draw(st.sampled_from(sorted(self.pledges)))
        arguments = ["update", pledge_id, "--status", "disbursed", "--amount", str(amount),
                     *SOURCE]
        if self.pledges[pledge_id]["disbursed_amount_text"] == str(amount):  # nothing new
            self.refused(arguments, f"pledge {pledge_id} is already disbursed with --amount")
            return
        self.lands(*arguments)
        self.pledges[pledge_id].update(status="disbursed", disbursed_amount_text=str(amount))

    @rule(data=st.data(), quote=TEXT)
    def cite(self, data: st.DataObject, quote: str) -> None:
        subject = data.draw(st.sampled_from(sorted([*self.formats, *self.meetings,
                                                    *self.pledges])))
        arguments = ["cite", subject, "--source", MORE, "--quote", quote]
        [stored] = [spec.parse(quote) for spec in SOURCE_FIELDS if spec.key == "quote"]
        cited = self.quotes.setdefault(subject, set())
        if stored in cited:  # the same source with the same words: nothing to add
            self.refused(arguments, "has this very source already")
            return
        self.lands(*arguments)
        cited.add(stored)

    @precondition(lambda self: self.meetings)
    @rule(data=st.data())
    def retry_with_the_same_id(self, data: st.DataObject) -> None:
        meeting_id = data.draw(st.sampled_from(sorted(self.meetings)))
        before = log_bytes(self.events)
        result = self.cli(*self.arguments[meeting_id], "--id", meeting_id)
        # the retry of a command that printed an id: the event was made without --id, so
        # only an identical event under that id would be a retry; it is one.
        assert (result.exit_code, result.stdout) == (0, f"{meeting_id}\n"), result.output
        assert result.stderr == f"Already recorded: {meeting_id} (nothing appended)\n"
        assert log_bytes(self.events) == before
        self.counts["retries"] += 1

    # -- invalid commands

    @rule(kind=st.sampled_from(sorted(BAD)), data=st.data())
    def invalid(self, kind: str, data: st.DataObject) -> None:
        bad = data.draw(BAD[kind])
        meeting = ["add", "meeting", "--title", "T", "--date", "2020", *SOURCE]

        def pledge(amount: str = "5", currency: str = "JPY") -> list[str]:
            return ["add", "pledge", "--title", "T", "--date", "2020", "--donor", "JPN",
                    "--recipient", "KAZ", "--amount", amount, "--currency", currency, *SOURCE]

        if kind == "date":
            self.refused(["add", "meeting", "--title", "T", "--date", bad, *SOURCE], repr(bad))
        elif kind == "actor":
            self.refused([*meeting, "--participant", bad], repr(bad))
        elif kind == "amount":
            self.refused(pledge(amount=bad), repr(bad))
        elif kind == "currency":
            self.refused(pledge(currency=bad), repr(bad))
        elif kind == "title":
            self.refused(["add", "meeting", "--title", bad, "--date", "2020", *SOURCE],
                         "--title")
        elif kind == "id":
            self.refused(["update", bad, "--status", "held", *SOURCE], bad)

    @precondition(lambda self: self.meetings)
    @rule(data=st.data(), title=TEXT)
    def reuse_an_id_for_other_content(self, data: st.DataObject, title: str) -> None:
        meeting_id = data.draw(st.sampled_from(sorted(self.meetings)))
        if title == self.meetings[meeting_id]["title"]:
            return
        self.refused(["add", "meeting", "--title", title, "--date",
                      self.meetings[meeting_id]["date"], "--id", meeting_id, *SOURCE],
                     f"id {meeting_id} is already used by another event")

    @rule(slug=SLUGS)
    def refer_to_an_unknown_format(self, slug: str) -> None:
        if slug in self.formats:
            return
        self.refused(["add", "meeting", "--title", "T", "--date", "2020", "--format", slug,
                      *SOURCE], shown(slug))

    # -- the projection

    @invariant()
    def log_verifies(self) -> None:
        if self.sources % 7 == 0:  # every few steps: a full verify costs a pass over the log
            result = self.cli("verify")
            assert result.exit_code == 0, result.output

    @precondition(lambda self: self.sources > 3)
    @rule()
    def projection_equals_the_model(self) -> None:
        assert self.cli("build").exit_code == 0
        self.counts["projections compared"] += 1
        db = self.folder / "tracker.db"
        assert {row["id"]: {key: row[key] for key in ("title", "date", "status", "format")}
                for row in rows(db, "select * from meetings")} == self.meetings
        assert {row["slug"]: {"name": row["name"], "members": row["members"] and
                              json.loads(row["members"])}
                for row in rows(db, "select * from formats")} == self.formats
        assert {row["id"]: {key: row[key] for key in ("title", "amount_text", "currency",
                                                      "status", "disbursed_amount_text")}
                for row in rows(db, "select * from pledges")} == self.pledges
        assert rows(db, "select count(*) as n from sources") == [{"n": self.sources}]
        assert rows(db, "select count(*) as n from events") == [{"n": self.sources}]


@pytest.mark.stress
def test_random_command_sequences_match_the_model(capsys: pytest.CaptureFixture) -> None:
    TrackerMachine.counts.clear()
    run_state_machine_as_test(TrackerMachine, settings=settings(
        max_examples=100, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    with capsys.disabled():
        print("\ncommand sequences:", dict(sorted(TrackerMachine.counts.items())))
    assert TrackerMachine.counts["valid commands"] >= 200
    assert TrackerMachine.counts["invalid commands"] >= 100


# -- fuzzed parsers ---------------------------------------------------------------------------

EXAMPLES = 10_000


def fuzz(parse, inputs: st.SearchStrategy, check) -> int:
    """Feed `inputs` to `parse`: TrackerError with a one-line message, or a value that passes
    `check`. Returns how many inputs were tried."""
    tried = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(inputs)
    def trial(value) -> None:
        nonlocal tried
        tried += 1
        try:
            result = parse(value)
        except TrackerError as error:
            message = str(error)
            assert message and "\n" not in message and len(message) < 400, message
            return
        check(value, result)

    trial()
    return tried


def near(alphabet: str, max_size: int = 30) -> st.SearchStrategy[str]:
    """Strings from the characters valid input is made of (more likely to get far)."""
    return st.text(st.sampled_from(alphabet), max_size=max_size)


ANY_TEXT = st.text(max_size=40)


def test_fuzz_dates() -> None:
    inputs = st.one_of(ANY_TEXT, near("0123456789-/ ", 24), DATES,
                       st.tuples(DATES, DATES).map("/".join))

    def check(value: str, span) -> None:
        assert span.text == value
        assert span.start <= span.end
        assert span.precision in PRECISIONS
        assert parse_date(span.start).start == span.start  # real calendar days

    assert fuzz(parse_date, inputs, check) >= EXAMPLES


def test_a_value_shown_in_a_message_is_shortened_as_escaped() -> None:
    """`shown` counts a value's escapes: control characters and characters of other planes
    once made a message of a list of actors 401 characters long (found by the fuzz below)."""
    assert shown("\x1f" * 30) == repr("\x1f" * 15 + "...")
    assert shown("a" * 60) == repr("a" * 60) and shown("a" * 61) == repr("a" * 60 + "...")
    value = "0" * 16 + "\x1f\x1f\x08\x08\U0001171b\U00012544\U00012544\U00018cd6\U00018d09" \
        "\U00018d09\U0002ebe1,"
    with pytest.raises(TrackerError) as error:
        parse_actors([value])
    kept = "'0000000000000000\\x1f\\x1f\\x08\\x08\\U0001171b\\U00012544...'"
    assert str(error.value) == (
        f"unknown actor {kept} in the list {kept}, which is split at its commas: use an ISO "
        "3166 country name or code, or an organisation code such as EU, UN, SCO (a name with "
        "a comma is given alone, not in a list)")


def test_fuzz_actors() -> None:
    """parse_actor on every item, parse_actors on the list: 10,000 lists of 1-3 items."""
    names = sorted({*all_actors(), *(actor.name for actor in all_actors().values())})
    mangled = st.tuples(st.sampled_from(names), st.sampled_from(
        [str.lower, str.upper, str.title, lambda text: f"  {text} ", lambda text: text[:-1],
         lambda text: text.replace(" ", "  "), lambda text: text + ","])).map(
        lambda pair: pair[1](pair[0]))
    items = st.one_of(ANY_TEXT, mangled, near("ABCDEFGHIJKLMNOPQRSTUVWXYZ, ", 8))

    def parse_each_and_all(values: list[str]) -> list[str]:
        for value in values:
            try:
                code = parse_actor(value)
            except TrackerError as error:
                assert "\n" not in str(error)
                continue
            assert is_actor(code) and parse_actor(code) == code
        return parse_actors(values)

    def check(values: list[str], codes: list[str]) -> None:
        assert all(is_actor(code) for code in codes)
        assert len(set(codes)) == len(codes)

    assert fuzz(parse_each_and_all, st.lists(items, min_size=1, max_size=3), check) \
        >= EXAMPLES


def test_fuzz_amounts() -> None:
    inputs = st.one_of(ANY_TEXT, near("0123456789,._-+eE ", 24),
                       st.decimals(allow_nan=True, allow_infinity=True).map(str),
                       st.integers().map(lambda number: f"{number:,}"))

    def check(value: str, amount: str) -> None:
        assert Decimal(amount) > 0
        assert Decimal(amount) == Decimal(value.strip().replace(",", "").replace("_", ""))
        assert parse_amount(amount) == amount  # canonical text

    assert fuzz(parse_amount, inputs, check) >= EXAMPLES


def test_fuzz_currencies() -> None:
    inputs = st.one_of(ANY_TEXT, near("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz $", 5),
                       st.sampled_from(sorted(all_currencies())).map(str.lower),
                       st.sampled_from(sorted(retired_currencies())))

    def check(value: str, code: str) -> None:
        assert code in all_currencies() or code in retired_currencies()
        assert code == value.strip().upper()

    assert fuzz(currency_parser, inputs, check) >= EXAMPLES


def test_fuzz_ids() -> None:
    """parse_id, parse_reference and parse_slug on the same 10,000 inputs."""
    crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyzILOU"
    inputs = st.one_of(ANY_TEXT, near(crockford, 28),
                       st.text(st.sampled_from(crockford), min_size=26, max_size=26),
                       near("abcdefghijklmnopqrstuvwxyz0123456789-", 70))

    def parse_all(value: str) -> tuple[str | None, ...]:
        results = []
        for parse in (parse_id, parse_reference, parse_slug):
            try:
                results.append(parse(value))
            except TrackerError as error:
                assert "\n" not in str(error) and len(str(error)) < 400
                results.append(None)
        return tuple(results)

    def check(value: str, results: tuple[str | None, ...]) -> None:
        event_id, reference, slug = results
        if event_id is not None:
            assert ULID_PATTERN.fullmatch(event_id) and event_id == value.strip().upper()
        if reference is not None:
            assert reference in (event_id, slug)
        if slug is not None:
            assert SLUG.fullmatch(slug) and slug == value.strip()

    assert fuzz(parse_all, inputs, check) >= EXAMPLES


# -- SQL and HTML in every text field ---------------------------------------------------------


def hostile(index: int) -> str:
    return HOSTILE[index % len(HOSTILE)]


@pytest.fixture
def hostile_log(events: Path, db: Path) -> dict[str, str]:
    """One record of each kind with hostile text in every text field it has."""
    source = ["--source", hostile(0), "--publisher", hostile(1), "--quote", hostile(2)]
    ids = {
        "format": ok("add", "format", "hostile", "--name", hostile(3), "--summary", hostile(4),
                     *source),
        "meeting": ok("add", "meeting", "--title", hostile(2), "--date", "2020",
                      "--city", hostile(5), "--country", "JPN", "--topic", hostile(6),
                      "--summary", hostile(0), "--official", f"JPN:{hostile(1)}:{hostile(3)}",
                      *source),
        "pledge": ok("add", "pledge", "--title", hostile(4), "--date", "2020", "--donor", "JPN",
                     "--recipient", "KAZ", "--amount", "5", "--currency", "JPY",
                     "--purpose", hostile(5), *source),
    }
    ids["announcement"] = ok("add", "announcement", "--title", hostile(6), "--date", "2020",
                             "--by", "JPN", "--topic", hostile(0), "--summary", hostile(1),
                             "--about", ids["meeting"], *source)
    ok("update", ids["meeting"], "--status", "postponed", "--note", hostile(2), *source)
    ok("cite", ids["pledge"], "--source", "https://example.org/?q=<b>&x='1'", "--quote",
       hostile(3))
    ok("build")
    return ids


EXPECTED_COLUMNS = {
    "formats": ("slug", "hostile", {"name": 3, "summary": 4}),
    "meetings": ("id", "meeting", {"title": 2, "city": 5, "summary": 0}),
    "pledges": ("id", "pledge", {"title": 4, "purpose": 5}),
    "announcements": ("id", "announcement", {"title": 6, "summary": 1}),
}


def test_hostile_text_is_stored_and_shown_verbatim(hostile_log: dict[str, str],
                                                   db: Path) -> None:
    for table, (key, record, columns) in EXPECTED_COLUMNS.items():
        record_id = hostile_log.get(record, record)
        [row] = rows(db, f"select * from {table} where {key} = ?", record_id)
        assert {column: row[column] for column in columns} == {
            column: hostile(index) for column, index in columns.items()}
        shown = json.loads(ok("show", record_id, "--json"))
        assert {column: shown["state"][column] for column in columns} == {
            column: hostile(index) for column, index in columns.items()}
        text = ok("show", record_id)
        for index in columns.values():
            assert hostile(index) in text
    meeting = hostile_log["meeting"]
    assert rows(db, "select official, official_title from meeting_participants "
                "where meeting_id = ?", meeting) == [
        {"official": hostile(1), "official_title": hostile(3)}]
    assert json.loads(rows(db, "select topics from meetings")[0]["topics"]) == [hostile(6)]
    assert rows(db, "select note from status_changes") == [{"note": hostile(2)}]
    assert {(row["citation"], row["publisher"], row["quote"])
            for row in rows(db, "select * from sources where kind = 'record'")} == {
        (hostile(0), hostile(1), hostile(2))}
    # nothing was executed: every table is still there, with the rows it should have
    assert rows(db, "select count(*) as n from events") == [{"n": 6}]
    assert rows(db, "select count(*) as n from meetings") == [{"n": 1}]


async def test_hostile_text_is_escaped_in_datasette_pages(hostile_log: dict[str, str],
                                                          db: Path) -> None:
    datasette = make_datasette(db, load_metadata(METADATA))
    await datasette.invoke_startup()
    pages = [f"/tracker/formats/{hostile_log['format']}", "/tracker/formats",
             f"/tracker/meetings/{hostile_log['meeting']}", "/tracker/meetings",
             f"/tracker/pledges/{hostile_log['pledge']}",
             f"/tracker/announcements/{hostile_log['announcement']}", "/tracker/sources",
             "/tracker/status_changes", "/tracker/meeting_participants"]
    for page in pages:
        response = await datasette.client.get(page)
        assert response.status_code == 200, page
        assert "<script>alert(" not in response.text, page
        assert "<img src=x" not in response.text, page
    for page, indexes in ((pages[0], (3, 4)), (pages[2], (2, 5, 0)), (pages[4], (4, 5)),
                          (pages[5], (6, 1))):
        text = (await datasette.client.get(page)).text
        for index in indexes:
            assert str(escape(hostile(index))) in text, (page, hostile(index))
    assert "{{ 7*7 }}" in (await datasette.client.get(pages[4])).text  # not evaluated
    api = await datasette.client.get(f"/tracker/meetings/{hostile_log['meeting']}.json"
                                     "?_shape=array")
    assert api.json()[0]["title"] == hostile(2)
    for text in HOSTILE:
        search = await datasette.client.get("/tracker/meetings.json", params={"_search": text})
        assert search.status_code in (200, 400), (text, search.text[:300])
