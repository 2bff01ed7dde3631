"""Bad input through the real CLI: exit 1, one "Error:" line naming the value, log untouched."""

from __future__ import annotations

import re
import socket
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from click.testing import Result

from tracker import model

from .conftest import METADATA, SOURCE, log_bytes, ok, rows, run

FUTURE = "2999-01-01"
UNKNOWN_ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
LONG_TITLE = "T" * 1000
LONG_SUMMARY = "S" * 20001
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def meeting(*extra: str, title: str = "Foreign ministers met", date: str = "2019-05-01",
            source: tuple[str, ...] = SOURCE) -> tuple[str, ...]:
    """Arguments of `tracker add meeting`, with extra options."""
    return ("add", "meeting", "--title", title, "--date", date, *extra, *source)


def pledge(*extra: str, amount: str = "2000000000", currency: str = "JPY",
           donor: str = "JPN", recipient: str = "KAZ,UZB", date: str = "2020"
           ) -> tuple[str, ...]:
    """Arguments of `tracker add pledge`, with extra options."""
    return ("add", "pledge", "--title", "Grant aid", "--date", date, "--donor", donor,
            "--recipient", recipient, "--amount", amount, "--currency", currency,
            *extra, *SOURCE)


def update(subject: str, *extra: str) -> tuple[str, ...]:
    """Arguments of `tracker update SUBJECT`, with extra options."""
    return ("update", subject, *extra, *SOURCE)


@pytest.fixture
def seeded(events: Path, japan_format: str) -> dict[str, str]:
    """A log holding a format, two meetings and a pledge: ids by placeholder name."""
    meeting_id = ok(*meeting("--format", japan_format, "--city", "Tokyo", "--country", "JPN"))
    pledge_id = ok(*pledge("--at", meeting_id))
    future_id = ok(*meeting(title="Summit to come", date=FUTURE))
    return {"format": japan_format, "meeting": meeting_id, "pledge": pledge_id,
            "future": future_id}


def assert_refused(result: Result, needles: tuple[str, ...]) -> None:
    """Exit 1, nothing on stdout, and one clean "Error:" line holding every needle."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert result.stderr.endswith("\n")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert not CONTROL.search(lines[0]), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


CASES = [
    # -- impossible dates
    pytest.param(meeting(date="2019-02-30"), ("'2019-02-30'", "28 days"), id="date-feb-30"),
    pytest.param(meeting(date="2019-13"), ("'2019-13'", "no month 13"), id="date-month-13"),
    pytest.param(meeting(date="2019-00-10"), ("'2019-00-10'", "no month 00"), id="date-month-00"),
    pytest.param(meeting(date="0000"), ("'0000'", "year 0000"), id="date-year-0000"),
    pytest.param(meeting(date="2023-02-29"), ("'2023-02-29'",), id="date-not-leap-year"),
    # -- malformed dates
    pytest.param(meeting(date="May 2019"), ("'May 2019'",), id="date-words"),
    pytest.param(meeting(date="2019/05/01/02"), ("'2019/05/01/02'",), id="date-two-slashes"),
    pytest.param(meeting(date="19-05"), ("'19-05'",), id="date-two-digit-year"),
    pytest.param(meeting(date="2020/2019"), ("'2020/2019'", "ends before it starts"),
                 id="date-interval-backwards"),
    pytest.param(meeting(date="2019-5-1"), ("'2019-5-1'",), id="date-unpadded"),
    pytest.param(meeting(date="2019-05/"), ("'2019-05/'",), id="date-open-interval"),
    pytest.param(meeting(date="２０１９"), ("'２０１９'",), id="date-fullwidth-digits"),
    pytest.param(meeting(date="٢٠١٩-٠٥"), ("'٢٠١٩-٠٥'",), id="date-arabic-indic-digits"),
    pytest.param(meeting("--published", "2019-02-30"), ("'2019-02-30'",),
                 id="published-impossible"),
    pytest.param(meeting("--published", "yesterday"), ("'yesterday'",), id="published-words"),
    pytest.param(meeting("--published", FUTURE), (f"--published {FUTURE} is after today",),
                 id="published-in-the-future"),
    pytest.param(("cite", "{pledge}", "--source", "A report", "--published", "2999"),
                 ("--published 2999 is after today",), id="cite-published-in-the-future"),
    pytest.param(("add", "announcement", "--title", "T", "--date", FUTURE, "--by", "JPN",
                  *SOURCE), (f"--date {FUTURE} is after today: an announcement records what "
                             "was said",), id="announcement-in-the-future"),
    pytest.param(pledge(date="2999"),
                 ("--date 2999 is after today: a pledge records what was pledged",),
                 id="pledge-in-the-future"),
    pytest.param(("amend", "{pledge}", "--set", "date=2999-05", "--reason", "typo"),
                 ("--set date=2999-05 is after today: a pledge records what was pledged",),
                 id="amend-pledge-into-the-future"),
    pytest.param(("add", "format", "new-format", "--name", "New", "--launched", "2004-13",
                  *SOURCE), ("'2004-13'",), id="launched-month-13"),
    pytest.param(update("{meeting}", "--status", "postponed", "--date", "2019-02-30"),
                 ("'2019-02-30'",), id="update-date-impossible"),
    # -- actors, places and currencies
    pytest.param(meeting("--participant", "Atlantis"), ("'Atlantis'",), id="unknown-actor"),
    pytest.param(meeting("--participant", "JPN,Atlantis"), ("'Atlantis'",),
                 id="unknown-actor-in-list"),
    pytest.param(meeting("--chair", "XX"), ("'XX'",), id="unknown-chair"),
    pytest.param(meeting("--country", "Narnia"), ("'Narnia'",), id="unknown-country"),
    pytest.param(meeting("--city", "Brussels", "--country", "EU"), ("--country EU",),
                 id="country-not-a-state"),
    pytest.param(meeting("--city", "Tokyo"), ("'Tokyo'", "--country"),
                 id="city-without-country"),
    pytest.param(meeting("--official", "JPN"), ("'JPN'", "--official"),
                 id="official-without-name"),
    pytest.param(meeting("--official", "JPN: "), ("'JPN: '", "--official"),
                 id="official-blank-name"),
    pytest.param(meeting("--official", "Atlantis:Someone"),
                 ("invalid --official 'Atlantis:Someone': unknown actor 'Atlantis'",),
                 id="official-unknown-actor"),
    pytest.param(meeting("--official", ":Someone"),
                 ("invalid --official ':Someone': unknown actor ''",), id="official-no-actor"),
    pytest.param(pledge(currency="XYZ"), ("'XYZ'",), id="unknown-currency"),
    pytest.param(pledge(currency="XXX"), ("invalid --currency 'XXX'", "no currency"),
                 id="currency-xxx"),
    pytest.param(pledge(currency="xts"), ("invalid --currency 'XTS'", "testing"),
                 id="currency-xts"),
    pytest.param(("add", "format", "ca-kor", "--name", "CA+K", "--member",
                  "Korea, Republic of,KZ", *SOURCE),
                 ("unknown actor ' Republic of' in the list 'Korea, Republic of,KZ', which is "
                  "split at its commas: write 'Korea, Republic of' as its code KOR",),
                 id="member-name-with-a-comma-in-a-list"),
    pytest.param(pledge(recipient=","), ("--recipient",), id="recipient-only-commas"),
    pytest.param(meeting("--participant", " , "), ("--participant",),
                 id="participant-only-commas"),
    pytest.param(("add", "format", "new-format", "--name", "New", "--member", "", *SOURCE),
                 ("--member",), id="member-empty"),
    pytest.param(pledge(donor="JPN", recipient="KAZ,Japan"), ("--donor JPN", "--recipient"),
                 id="donor-is-recipient"),
    # -- amounts
    pytest.param(pledge(amount="0"), ("'0'", "greater than zero"), id="amount-zero"),
    pytest.param(pledge(amount="0.000"), ("'0.000'", "greater than zero"),
                 id="amount-zero-decimal"),
    pytest.param(pledge(amount="-5"), ("'-5'",), id="amount-negative"),
    pytest.param(pledge(amount="two billion"), ("'two billion'",), id="amount-words"),
    pytest.param(pledge(amount="1e400"), ("'1e400'",), id="amount-exponent-overflow"),
    pytest.param(pledge(amount="12345678901234567890"), ("'12345678901234567890'",),
                 id="amount-20-digits"),
    pytest.param(pledge(amount="NaN"), ("'NaN'",), id="amount-nan"),
    pytest.param(pledge(amount="inf"), ("'inf'",), id="amount-inf"),
    pytest.param(pledge(amount="1,00"), ("'1,00'",), id="amount-bad-grouping"),
    pytest.param(pledge(amount="1.2.3"), ("'1.2.3'",), id="amount-two-points"),
    pytest.param(pledge(amount="２０００"), ("'２０００'",), id="amount-fullwidth-digits"),
    # -- free text
    pytest.param(meeting(title=""), ("--title",), id="title-empty"),
    pytest.param(meeting(title="   "), ("--title",), id="title-whitespace"),
    pytest.param(meeting(title="\x1b[31mred"), ("--title", r"'\x1b[31mred'", "U+001B"),
                 id="title-ansi-escape"),
    pytest.param(meeting(title="a\x00b"), ("--title", r"'a\x00b'", "U+0000"), id="title-nul"),
    pytest.param(meeting(title="first\nsecond"), ("--title", r"'first\nsecond'", "U+000A"),
                 id="title-newline"),
    pytest.param(meeting(title="a\u2028b"), ("--title", "line separator U+2028"),
                 id="title-line-separator"),
    pytest.param(meeting(title="caf\udce9"), ("invalid --title 'caf\\udce9': invalid UTF-8 "
                                               "(byte 0xE9)",), id="title-invalid-utf8"),
    pytest.param(meeting(title="\udcff"), ("invalid --title '\\udcff': invalid UTF-8 "
                                           "(byte 0xFF)",), id="title-only-invalid-utf8"),
    pytest.param(meeting(title="\x01"), ("invalid --title '\\x01': control character U+0001",),
                 id="title-only-a-control"),
    pytest.param(("add", "format", "new-format", "--name", "a\ud800b", *SOURCE),
                 ("invalid --name 'a\\ud800b': lone surrogate U+D800",),
                 id="name-lone-surrogate"),
    pytest.param(meeting(title="Summit\ufffe"), (
        "invalid --title 'Summit\\ufffe': noncharacter U+FFFE (XML forbids it)",),
        id="title-noncharacter-fffe"),
    pytest.param(("add", "format", "new-format", "--name", "\uffffName", *SOURCE), (
        "invalid --name '\\uffffName': noncharacter U+FFFF (XML forbids it)",),
        id="name-noncharacter-ffff"),
    pytest.param(meeting(source=("--source", "A report", "--quote", "line\nand \uffff")), (
        "invalid --quote 'line\\nand \\uffff': noncharacter U+FFFF (XML forbids it)",),
        id="quote-noncharacter-ffff"),
    pytest.param(meeting(title=LONG_TITLE), ("--title too long", "1000", "T" * 30),
                 id="title-oversized"),
    pytest.param(meeting("--summary", LONG_SUMMARY), ("--summary too long", "20001", "S" * 30),
                 id="summary-oversized"),
    # -- provenance
    pytest.param(meeting(source=()), ("--source",), id="source-missing"),
    pytest.param(meeting(source=("--source", "   ")), ("--source",), id="source-blank"),
    pytest.param(meeting(source=("--source", "https://")), ("'https://'",), id="source-no-host"),
    # -- references and ids
    pytest.param(meeting("--format", "no-such-format"), ("'no-such-format'",),
                 id="unknown-format"),
    pytest.param(meeting("--format", "Bad Slug"), ("'Bad Slug'",), id="malformed-format-slug"),
    pytest.param(("add", "format", "central-asia-japan", "--name", "Again", *SOURCE),
                 ("'central-asia-japan'", "already exists"), id="format-slug-exists"),
    pytest.param(pledge("--at", UNKNOWN_ULID), (UNKNOWN_ULID,), id="pledge-at-unknown-meeting"),
    pytest.param(pledge("--at", "{pledge}"), ("{pledge}", "not a meeting"),
                 id="pledge-at-a-pledge"),
    pytest.param(("add", "announcement", "--title", "Said", "--date", "2020", "--by", "JPN",
                  "--about", UNKNOWN_ULID, *SOURCE), (UNKNOWN_ULID,), id="about-unknown-id"),
    pytest.param(update(UNKNOWN_ULID, "--status", "held"), (UNKNOWN_ULID,),
                 id="update-unknown-id"),
    pytest.param(("cite", UNKNOWN_ULID, *SOURCE), (UNKNOWN_ULID,), id="cite-unknown-id"),
    pytest.param(update("01ARZ3NDEKTSV4RRFFQ69G5FA", "--status", "held"),
                 ("'01ARZ3NDEKTSV4RRFFQ69G5FA'",), id="update-malformed-id"),
    pytest.param(("cite", "01ARZ3NDEKTSV4RRFFQ69G5FA!", *SOURCE),
                 ("'01ARZ3NDEKTSV4RRFFQ69G5FA!'",), id="cite-malformed-id"),
    pytest.param(meeting("--id", "not-a-ulid"), ("'not-a-ulid'",), id="event-id-malformed"),
    pytest.param(meeting("--id", "01ARZ3NDEKTSV4RRFFQ69G5FAU"),
                 ("invalid id '01ARZ3NDEKTSV4RRFFQ69G5FAU': not a ULID: 'U' is not a Crockford "
                  "base32 digit (0-9 and A-Z without I, L, O, U)",), id="event-id-not-crockford"),
    pytest.param(meeting("--id", "81ARZ3NDEKTSV4RRFFQ69G5FAV"),
                 ("invalid id '81ARZ3NDEKTSV4RRFFQ69G5FAV': not a ULID: its first character "
                  "must be 0-7",), id="event-id-too-large"),
    pytest.param(("cite", "01ARZ3NDEKTSV4RRFFQ69G5FAU", *SOURCE),
                 ("invalid id or format slug '01ARZ3NDEKTSV4RRFFQ69G5FAU': not a ULID: 'U' is "
                  "not a Crockford base32 digit",), id="cite-id-not-crockford"),
    pytest.param(("show", "Central Asia"),
                 ("invalid id or format slug 'Central Asia': use a record id (a 26-character "
                  "ULID) or a format slug (2-64 lower-case letters and digits, in words joined "
                  "by single '-')",),
                 id="show-neither-id-nor-slug"),
    pytest.param(("log", "--subject", "x"), ("invalid --subject 'x'",),
                 id="log-subject-neither-id-nor-slug"),
    pytest.param(meeting("--id", "{meeting}", title="Another meeting"),
                 ("{meeting}", "already used"), id="event-id-reused-other-content"),
    pytest.param(meeting("--id", ""), ("empty --id '': give it a value, or leave it out",),
                 id="event-id-empty"),  # not a new id each time: a retry would repeat it
    pytest.param(("amend", "{pledge}", "--set", "status=", "--reason", "r"),
                 ("--set status= cannot clear the required field status",),
                 id="amend-clears-the-status"),
    pytest.param(("amend", "{meeting}", "--set", "date=2019-05-02", "--set", "date=2019-05-03",
                  "--reason", "r"), ("--set date= given twice, as '2019-05-02', then "
                                     "'2019-05-03': give date one value",),
                 id="amend-sets-a-field-twice"),
    # -- statuses
    pytest.param(update("{meeting}", "--status", "disbursed"), ("'disbursed'", "meeting"),
                 id="meeting-status-disbursed"),
    pytest.param(update("{pledge}", "--status", "held"), ("'held'", "pledge"),
                 id="pledge-status-held"),
    pytest.param(update("{format}", "--status", "held"), ("central-asia-japan", "no status"),
                 id="format-has-no-status"),
    pytest.param(update("{pledge}", "--status", "fulfilled", "--amount", "500"),
                 ("--amount 500", "disbursed"), id="amount-without-disbursed"),
    pytest.param(update("{pledge}", "--status", "disbursed"), ("--amount", "disbursed"),
                 id="disbursed-without-amount"),
    pytest.param(update("{pledge}", "--status", "disbursed", "--amount", "0"), ("'0'",),
                 id="disbursed-zero-amount"),
    pytest.param(update("{meeting}", "--status", "adjourned"), ("'adjourned'", "--status"),
                 id="update-status-not-a-choice"),
    pytest.param(meeting("--status", "held", date=FUTURE), ("--status held", FUTURE),
                 id="held-in-the-future"),
    pytest.param(update("{future}", "--status", "held"), ("held", FUTURE),
                 id="update-held-in-the-future"),
    pytest.param(update("{meeting}", "--status", "held"), ("meeting {meeting} is already held",),
                 id="update-to-the-same-status"),
    pytest.param(update("{pledge}", "--status", "pledged"),
                 ("pledge {pledge} is already pledged",), id="update-pledge-to-the-same-status"),
    # -- choices and missing options
    pytest.param(meeting("--level", "galactic"), ("'galactic'", "--level"), id="level-choice"),
    pytest.param(meeting("--mode", "telepathic"), ("'telepathic'", "--mode"), id="mode-choice"),
    pytest.param(pledge("--instrument", "gift"), ("'gift'", "--instrument"),
                 id="instrument-choice"),
    pytest.param(("add", "meeting", "--title", "No date", *SOURCE), ("--date",),
                 id="missing-date"),
    pytest.param(("add", "pledge", "--title", "Grant", "--date", "2020", "--donor", "JPN",
                  "--recipient", "KAZ", "--currency", "JPY", *SOURCE), ("--amount",),
                 id="missing-amount"),
    pytest.param(("update", "{pledge}", *SOURCE), ("--status",), id="update-missing-status"),
    # -- a source's details with no source: they would be lost
    pytest.param(("amend", "{pledge}", "--set", "currency=XXX", "--reason", "r"),
                 ("invalid --set currency='XXX'", "no currency"), id="amend-currency-xxx"),
    pytest.param(("amend", "{meeting}", "--set", "title=New", "--reason", "a typo", "--quote",
                  "a quote"), ("--quote needs --source",), id="amend-quote-without-source"),
    pytest.param(("retract", "{meeting}", "--reason", "twice", "--publisher", "Foo",
                  "--published", "2020"), ("--publisher needs --source",),
                 id="retract-publisher-without-source"),
    # -- paths and ports
    pytest.param(("--db", "", "build"), ("--db", "'' is not a file name"), id="db-empty"),
    pytest.param(("build", "--db", ""), ("--db", "'' is not a file name"), id="build-db-empty"),
    pytest.param(("--events", "", "add", "format", "abc", "--name", "A", "--source", "S"),
                 ("--events", "'' is not a folder name"), id="events-empty"),
    pytest.param(("serve", "--port", "70000"), ("--port", "70000"), id="port-too-large"),
    pytest.param(("serve", "--metadata", "nope.json", "--port", "8799"),
                 ("no metadata file 'nope.json'",), id="serve-metadata-missing"),
    pytest.param(("log", "--since", "0001-01-01T00:00:00+01:00"),
                 ("invalid --since '0001-01-01T00:00:00+01:00': use a date",),
                 id="log-since-before-the-first-year"),
    pytest.param(("build", "--as-of", "0001-01-01T00:00:00+01:00"),
                 ("invalid --as-of '0001-01-01T00:00:00+01:00': use YYYY-MM-DD",),
                 id="build-as-of-before-the-first-year"),
    pytest.param(("serve", "--as-of", "yesterday", "--port", "8799"),
                 ("invalid --as-of 'yesterday'",), id="serve-as-of-words-without-metadata"),
    pytest.param(("add", "format", "ca--x", "--name", "X", *SOURCE),
                 ("invalid format slug 'ca--x': use 2-64 lower-case letters and digits, in "
                  "words joined by single '-'",), id="format-slug-double-hyphen"),
    pytest.param(("add", "format", "01m85vc0000000000000000000", "--name", "X", *SOURCE),
                 ("invalid format slug '01m85vc0000000000000000000': it reads as a record id "
                  "(a ULID)",), id="format-slug-a-ulid-in-lower-case"),
    # -- event types
    pytest.param(("log", "--type", "foo"), ("--type", "'foo' is not one of 'format', 'meeting'",
                                            "'meeting.recorded'", "'record.retracted'"),
                 id="log-type-unknown"),
    pytest.param(("log", "--type", "meeting.held"), ("'meeting.held'",),
                 id="log-type-unknown-with-a-kind"),
]


@pytest.mark.parametrize(("args", "needles"), CASES)
def test_bad_input_is_refused(events: Path, seeded: dict[str, str], args: tuple[str, ...],
                              needles: tuple[str, ...]) -> None:
    """Each bad input exits 1 with one "Error:" line naming the value; the log is unchanged."""
    before = log_bytes(events)
    assert len(before) == 1 and before[next(iter(before))].count(b"\n") == 4
    result = run(*(arg.format(**seeded) for arg in args))
    assert_refused(result, tuple(needle.format(**seeded) for needle in needles))
    assert log_bytes(events) == before


def test_an_event_id_given_for_a_record_names_the_record(events: Path,
                                                        seeded: dict[str, str]) -> None:
    """`update`, `cite`, `amend` and `retract` print an event's id: given where a record
    is meant, it is refused with the id of the record that event is about."""
    meeting = seeded["meeting"]
    cited = ok("cite", meeting, "--source", "A report")
    before = log_bytes(events)
    message = (f"is the id of an event (source.added) about {meeting}, not of a "
               f"record: use {meeting}")
    for args in [("show", cited), ("retract", cited, "--reason", "twice"),
                 ("amend", cited, "--set", "title=T", "--reason", "typo"),
                 ("update", cited, "--status", "held", *SOURCE), ("cite", cited, *SOURCE)]:
        assert_refused(run(*args), (f"Error: {cited} {message}",))
    assert_refused(run("add", "announcement", "--title", "T", "--date", "2020", "--by", "JPN",
                       "--about", cited, *SOURCE), (f"Error: {cited} in --about {message}",))
    assert log_bytes(events) == before


def test_cases_cover_enough_ground() -> None:
    """The table holds at least 25 distinct cases."""
    assert len({case.id for case in CASES}) == len(CASES) >= 25


def test_refused_on_an_empty_log(events: Path) -> None:
    """A refused first command creates no segment file at all, nor the log's folder
    (a reference to a record that cannot exist yet included)."""
    assert_refused(run(*meeting(date="2019-02-30")), ("'2019-02-30'",))
    assert log_bytes(events) == {}
    for args, message in [(meeting("--format", "nope"), "unknown format 'nope'"),
                          (pledge("--at", "01M81PPF6VG70ZZPB4ZDE4C0FX"),
                           "unknown id '01M81PPF6VG70ZZPB4ZDE4C0FX'"),
                          (("cite", "01M81PPF6VG70ZZPB4ZDE4C0FX", *SOURCE),
                           "unknown id '01M81PPF6VG70ZZPB4ZDE4C0FX'"),
                          (meeting(source=("--source", "S", "--published", FUTURE)),
                           f"--published {FUTURE} is after today")]:
        assert_refused(run(*args), (message,))
        assert not events.exists(), args


# -- positive counterparts -------------------------------------------------------------


def test_unknown_city_is_a_warning(events: Path, db: Path, seeded: dict[str, str]) -> None:
    """An unknown city is recorded without coordinates, with a one-line warning naming it."""
    result = run(*meeting("--city", "Atlantisville", "--country", "JPN"))
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == (
        "Warning: city 'Atlantisville' not found in JPN: recorded without coordinates\n"
    )
    meeting_id = result.stdout.rstrip("\n")
    ok("build")
    assert rows(db, "select city, country, latitude, longitude from meetings where id = ?",
                meeting_id) == [
        {"city": "Atlantisville", "country": "JPN", "latitude": None, "longitude": None}
    ]


def test_a_pledge_dated_off_its_meeting_or_a_meeting_put_off_to_earlier_is_a_warning(
        events: Path, seeded: dict[str, str]) -> None:
    """Recorded all the same, with a warning naming both dates: a pledge made at a meeting
    (`--at`) dated on none of the meeting's days; a meeting postponed to a date before
    its own (brought forward is `--status scheduled --to`). A date within the meeting's,
    or a span holding it, is quiet."""
    at = seeded["meeting"]  # dated 2019-05-01
    result = run(*pledge("--at", at))  # dated 2020
    assert (result.exit_code, result.stderr) == (0, (
        f"Warning: --date 2020 is not within 2019-05-01, the date of the meeting it was "
        f"pledged at (--at {at}): a pledge made at a meeting is dated as it is\n"))
    for when in ("2019-05-01", "2019-05", "2019"):
        quiet = run(*pledge("--at", at, date=when))
        assert (quiet.exit_code, quiet.stderr) == (0, ""), when
    future = seeded["future"]  # dated 2999-01-01
    result = run(*update(future, "--status", "postponed", "--to", "2998-12"))
    assert (result.exit_code, result.stderr) == (0, (
        "Warning: --status postponed --to 2998-12 is before the meeting's date 2999-01-01: "
        "a meeting postponed is put off to a later date (one brought forward is --status "
        "scheduled --to DATE)\n"))
    for args in (("--status", "scheduled", "--to", "2998-11"),
                 ("--status", "postponed", "--to", "2999-02")):
        quiet = run(*update(future, *args))
        assert (quiet.exit_code, quiet.stderr) == (0, ""), args


def test_known_city_gets_coordinates(db: Path, seeded: dict[str, str]) -> None:
    """A city found under an old name is stored under its GeoNames name, with coordinates."""
    result = run(*meeting("--city", "Nur-Sultan", "--country", "KZ"))
    assert result.exit_code == 0, (result.output, result.exception)
    [warning] = result.stderr.splitlines()
    assert warning.startswith("Warning: city 'Nur-Sultan' recorded as Astana"), warning
    ok("build")
    [row] = rows(db, "select city, city_as_given, country, latitude, longitude from meetings "
                 "where id = ?", result.stdout.rstrip("\n"))
    assert (row["city"], row["city_as_given"], row["country"]) == ("Astana", "Nur-Sultan", "KAZ")
    assert 51 < row["latitude"] < 52 and 71 < row["longitude"] < 72


def test_retry_with_same_id_and_content_is_a_no_op(events: Path, seeded: dict[str, str]) -> None:
    """Reusing an event id for the very same content appends nothing and succeeds."""
    args = meeting("--format", seeded["format"], "--city", "Tokyo", "--country", "JPN")
    before = log_bytes(events)
    result = run(*args, "--id", seeded["meeting"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout == f"{seeded['meeting']}\n"
    assert result.stderr == f"Already recorded: {seeded['meeting']} (nothing appended)\n"
    assert log_bytes(events) == before


def test_leap_day_and_held_past_meeting_are_accepted(seeded: dict[str, str]) -> None:
    """2024-02-29 is a real day; a past meeting may be marked held."""
    result = run(*meeting("--status", "held", date="2024-02-29"))
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""


class LateEvening(datetime):
    """22:00 UTC on 2026-11-23: already 2026-11-24 from UTC+10 (Tokyo's morning) on."""

    @classmethod
    def now(cls, tz=None) -> datetime:  # type: ignore[override]
        return datetime(2026, 11, 23, 22, tzinfo=timezone.utc).astimezone(tz)


def test_a_meeting_held_today_somewhere_may_be_marked_held(
        seeded: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """"Today" is the date in the first time zone to reach it (UTC+14), for `--status
    held` as for `--date` and `--published`: a morning meeting in Tokyo is held before
    midnight UTC. The day after that date is refused, by `add` and by `update`."""
    monkeypatch.setattr(model, "datetime", LateEvening)
    first, later = date(2026, 11, 24), "2026-11-25"
    ok(*meeting("--status", "held", date=first.isoformat()))
    scheduled = ok(*meeting("--status", "scheduled", title="Talks in Tokyo",
                            date=first.isoformat()))
    ok(*update(scheduled, "--status", "held", "--date", first.isoformat()))
    assert_refused(run(*meeting("--status", "held", date=later)),
                   (f"--status held for a meeting dated {later}, after today",))
    upcoming = ok(*meeting("--status", "scheduled", title="Talks to come", date=later))
    assert_refused(run(*update(upcoming, "--status", "held")),
                   (f"--status held for a meeting dated {later}, after today",))


def test_amount_with_separators_is_normalised(seeded: dict[str, str]) -> None:
    """Grouped digits are accepted and stored as plain digits."""
    result = run(*pledge("--json", amount="2,000,000,000"))
    assert result.exit_code == 0, (result.output, result.exception)
    assert '"amount": "2000000000"' in result.stdout


@pytest.mark.parametrize(("amount", "warning"), [
    ("1.000", "--amount 1.000 is read as 1 (a point is a decimal point; 1000 is written 1000 "
     "or 1,000)"),
    ("12.500", "--amount 12.500 is read as 12.5 (a point is a decimal point; 12500 is "
     "written 12500 or 12,500)"),
    ("1,000.500", None), ("1.5", None), ("1000.000", None), ("0.125", None), ("1.2345", None),
])
def test_a_point_before_three_digits_is_read_as_a_decimal_point_with_a_warning(
        seeded: dict[str, str], amount: str, warning: str | None) -> None:
    """`1.000` is 1 (as `1.000.000` is refused): a reader of European figures who meant
    a thousand is told how it was read; a figure that cannot mean thousands is not."""
    result = run(*pledge(amount=amount))
    assert (result.exit_code, result.stderr) == (0, f"Warning: {warning}\n" if warning else "")


def test_an_update_and_an_amendment_warn_of_a_point_before_three_digits(
        seeded: dict[str, str]) -> None:
    updated = run(*update(seeded["pledge"], "--status", "disbursed", "--amount", "2.000"))
    assert (updated.exit_code, updated.stderr) == (0, (
        "Warning: --amount 2.000 is read as 2 (a point is a decimal point; 2000 is written "
        "2000 or 2,000)\n"))
    amended = run("amend", seeded["pledge"], "--set", "amount=3.000", "--reason", "misread")
    assert (amended.exit_code, amended.stderr) == (0, (
        "Warning: --set amount=3.000 is read as 3 (a point is a decimal point; 3000 is "
        "written 3000 or 3,000)\n"))
    other = run("amend", seeded["pledge"], "--set", "title=Aid", "--reason", "misread")
    assert (other.exit_code, other.stderr) == (0, "")


def test_disbursed_with_amount_is_accepted(events: Path, seeded: dict[str, str]) -> None:
    """`--status disbursed --amount N` on a pledge appends exactly one line."""
    before = sum(content.count(b"\n") for content in log_bytes(events).values())
    ok(*update(seeded["pledge"], "--status", "disbursed", "--amount", "500000000"))
    after = sum(content.count(b"\n") for content in log_bytes(events).values())
    assert after == before + 1


def test_a_lower_cumulative_disbursement_is_recorded_with_a_warning(
        events: Path, db: Path, seeded: dict[str, str]) -> None:
    """--amount is cumulative: less than before is likely the new payment alone (or a
    correction of the total: recorded either way)."""
    ok(*update(seeded["pledge"], "--status", "disbursed", "--amount", "500000000"))
    lower = run(*update(seeded["pledge"], "--status", "disbursed", "--amount", "200000000"))
    assert (lower.exit_code, lower.stderr) == (0, (
        "Warning: --amount 200000000 is less than the 500000000 disbursed before: --amount "
        "is the cumulative amount disbursed so far, not the new payment\n"))
    higher = run(*update(seeded["pledge"], "--status", "disbursed", "--amount", "700000000"))
    assert (higher.exit_code, higher.stderr) == (0, "")
    ok("build")
    assert rows(db, "select disbursed_amount from pledges") == [{"disbursed_amount": 700000000}]


def test_noncharacters_xml_allows_are_accepted(events: Path) -> None:
    """Of the noncharacters, XML 1.0 forbids only U+FFFE and U+FFFF (refused above): the
    others are text like any other, kept as given."""
    title = "Summit \ufdd0 \ufdef \U0001fffe \U0010ffff"
    ok(*meeting(title=title))
    ok("build")
    assert rows(events.parent / "tracker.db", "select title from meetings") == [
        {"title": title}]


def test_scheduled_future_meeting_is_accepted(seeded: dict[str, str]) -> None:
    """A meeting dated in the future may be recorded as scheduled."""
    result = run(*meeting("--status", "scheduled", date=FUTURE))
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""


@pytest.mark.parametrize(("user", "needle"), [
    ("evil\nname", "invalid TRACKER_USER 'evil\\nname': control character U+000A"),
    ("   ", "empty TRACKER_USER"),
    ("U" * 201, "TRACKER_USER too long: 201 characters, at most 200"),
    ("\x1b[31mred", "invalid TRACKER_USER '\\x1b[31mred': control character U+001B"),
    ("Ana\ufffe", "invalid TRACKER_USER 'Ana\\ufffe': noncharacter U+FFFE (XML forbids it)"),
], ids=["newline", "blank", "too-long", "escape", "noncharacter"])
def test_a_bad_tracker_user_is_refused(events: Path, seeded: dict[str, str], user: str,
                                       needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Who records goes into every event: one line of text, like any other value."""
    before = log_bytes(events)
    monkeypatch.setenv("TRACKER_USER", user)
    assert_refused(run(*meeting()), (needle,))
    assert_refused(run("cite", seeded["meeting"], *SOURCE), (needle,))
    assert log_bytes(events) == before
    monkeypatch.setenv("TRACKER_USER", "  Ana Analyst ")
    ok(*meeting(title="Recorded by Ana"))
    ok("build")
    assert rows(events.parent / "tracker.db", "select distinct recorded_by from events "
                "where recorded_by like 'Ana%'") == [{"recorded_by": "Ana Analyst"}]


def test_metadata_that_is_not_json_is_refused(events: Path, seeded: dict[str, str],
                                              tmp_path: Path) -> None:
    metadata = tmp_path / "bad.json"
    metadata.write_text("{not json")
    assert_refused(run("serve", "--metadata", metadata, "--port", "8799", "--no-watch"),
                   (f"{metadata} is not valid JSON metadata",))


def test_an_announcement_cannot_be_about_itself(events: Path, seeded: dict[str, str]) -> None:
    """Its export could not be imported again: the reference would come before its record."""
    said = ok("add", "announcement", "--title", "Said", "--date", "2020", "--by", "JPN",
              "--about", seeded["meeting"], *SOURCE)
    before = log_bytes(events)
    assert_refused(run("amend", said, "--set", f"about={seeded['meeting']},{said}",
                       "--reason", "a slip"), (f"{said} cannot refer to itself",))
    assert_refused(run(*pledge("--at", said)),
                   (f"{said} in --at is an announcement, not a meeting",))
    assert log_bytes(events) == before
    ok("amend", said, "--set", f"about={seeded['meeting']},{seeded['pledge']}",
       "--reason", "it was about the pledge too")


def test_a_status_update_must_record_something_new(events: Path, seeded: dict[str, str]) -> None:
    """An update to the status a record already has is refused, whether that status came
    from the record, an update or an amendment, unless it gives a --date or --note (a
    meeting postponed again); a disbursement of a new cumulative amount is new; a retry
    of an update (same --id, same content) still succeeds."""
    meeting_id, pledge_id = seeded["meeting"], seeded["pledge"]
    ok(*update(pledge_id, "--status", "disbursed", "--amount", "500"))
    ok(*update(meeting_id, "--status", "postponed"))
    ok("amend", seeded["future"], "--set", "status=cancelled", "--reason", "misread")
    before = log_bytes(events)
    assert_refused(run(*update(pledge_id, "--status", "disbursed", "--amount", "500.0")),
                   (f"pledge {pledge_id} is already disbursed with --amount 500",))
    assert_refused(run(*update(meeting_id, "--status", "postponed")),
                   (f"meeting {meeting_id} is already postponed",))
    assert_refused(run(*update(seeded["future"], "--status", "cancelled")),
                   (f"meeting {seeded['future']} is already cancelled",))
    assert log_bytes(events) == before
    ok(*update(pledge_id, "--status", "disbursed", "--amount", "800"))
    ok(*update(meeting_id, "--status", "postponed", "--date", "2019-06", "--note", "again"))
    ok(*update(meeting_id, "--status", "held"))
    ok(*update(seeded["future"], "--status", "scheduled"))
    retry = ("--status", "cancelled", "--id", UNKNOWN_ULID)
    ok(*update(meeting_id, *retry))
    again = run(*update(meeting_id, *retry))
    assert (again.exit_code, again.stdout, again.stderr) == (
        0, f"{UNKNOWN_ULID}\n", f"Already recorded: {UNKNOWN_ULID} (nothing appended)\n")


def test_amend_lists_each_allowed_field_once(events: Path, seeded: dict[str, str]) -> None:
    result = run("amend", seeded["meeting"], "--set", "colour=red", "--reason", "a typo")
    assert (result.exit_code, result.stderr) == (1, (
        "Error: unknown field 'colour' for a meeting: use one of title, date, status, format, "
        "level, mode, city, country, geonameid, participant, chair, official, topic, summary\n"))
    result = run("amend", seeded["pledge"], "--set", "colour=red", "--reason", "a typo")
    assert result.stderr.endswith("instrument, purpose, at, status\n")


def test_serve_on_a_port_in_use_is_refused_before_a_build(events: Path, db: Path,
                                                           seeded: dict[str, str]) -> None:
    """One line naming the host and port, exit 1 (not uvicorn's log and exit code 3), and
    no build first."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", port, "--metadata", METADATA, "--no-watch")
        assert_refused(result, (f"cannot serve at 127.0.0.1:{port}: address already in use",))
        as_of = run("serve", "--port", port, "--as-of", "2024-01-01", "--metadata", METADATA)
        assert_refused(as_of, (f"cannot serve at 127.0.0.1:{port}: address already in use",))
    assert not db.exists()
    assert_refused(run("serve", "--host", "192.0.2.1", "--metadata", METADATA),
                   ("cannot serve at 192.0.2.1:8001: cannot assign requested address",))


@pytest.mark.parametrize(("args", "message"), [
    (meeting("--published", "17-Sept"),
     "invalid --published '17-Sept': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
    (("cite", "{meeting}", *SOURCE, "--published", "2019-02-30"),
     "invalid --published '2019-02-30': 2019-02 has 28 days"),
    (meeting(date="2019-13"), "invalid --date '2019-13': no month 13"),
    (update("{meeting}", "--status", "held", "--date", "May"),
     "invalid --date 'May': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
    (("add", "format", "f2", "--name", "F", "--launched", "20O4", *SOURCE),
     "invalid --launched '20O4': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
    (pledge("--at", UNKNOWN_ULID), f"unknown id '{UNKNOWN_ULID}' in --at"),
    (pledge("--at", "m1"), "invalid --at 'm1': expected a 26-character ULID"),
    (pledge("--at", "{pledge}"), "{pledge} in --at is a pledge, not a meeting"),
    (("add", "announcement", "--title", "T", "--date", "2020", "--by", "JPN",
      "--about", UNKNOWN_ULID, *SOURCE), f"unknown id '{UNKNOWN_ULID}' in --about"),
    (("add", "announcement", "--title", "T", "--date", "2020", "--by", "JPN",
      "--about", "Bad id", *SOURCE),
     "invalid --about 'Bad id': use a record id (a 26-character ULID) or a format slug "
     "(2-64 lower-case letters and digits, in words joined by single '-')"),
    (meeting("--format", "no-such-format"), "unknown format 'no-such-format' in --format"),
    (meeting("--format", "Bad Slug"),
     "invalid --format 'Bad Slug': use 2-64 lower-case letters and digits, in words joined "
     "by single '-'"),
    (("amend", "{pledge}", "--set", f"at={UNKNOWN_ULID}", "--reason", "r"),
     f"unknown id '{UNKNOWN_ULID}' in --set at="),
    (("amend", "{meeting}", "--set", "date=2019-13", "--reason", "r"),
     "invalid --set date='2019-13': no month 13"),
    (("amend", "{pledge}", "--set", "amount=-5", "--reason", "r"),
     "invalid --set amount='-5': use digits with an optional decimal point"),
    (("amend", "{pledge}", "--set", "amount=0", "--reason", "r"),
     "invalid --set amount='0': must be greater than zero"),
    (("amend", "{meeting}", "--set", "mode=foo", "--reason", "r"),
     "invalid --set mode='foo': use one of in-person, virtual, hybrid"),
    (("amend", "{meeting}", "--set", "geonameid=abc", "--reason", "r"),
     "invalid --set geonameid='abc': use a GeoNames id, a whole number such as 4409896"),
    (("amend", "{pledge}", "--set", "currency=xxx", "--reason", "r"),
     "invalid --set currency='XXX': XXX is the ISO 4217 code for transactions where no "
     "currency is involved, not a currency: give the currency of the amount"),
    (("amend", "{meeting}", "--set", "official=JPN", "--reason", "r"),
     "invalid --set official='JPN': use ACTOR:NAME or ACTOR:NAME:TITLE"),
    (("amend", "{meeting}", "--set", "title=" + "t" * 301, "--reason", "r"),
     f"invalid --set title='{'t' * 60}...': too long: 301 characters, at most 300"),
    (("amend", "{meeting}", "--set", "summary=\u200b", "--reason", "r"),
     "invalid --set summary='\\u200b': empty"),
    (("amend", "{meeting}", "--set", "date=" + "2" * 300, "--reason", "r"),
     f"invalid --set date='{'2' * 60}...': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
    (("log", "--subject", UNKNOWN_ULID), f"unknown id '{UNKNOWN_ULID}' in --subject"),
    # urllib refuses brackets around no IPv6 address with a ValueError (was a traceback)
    (meeting(source=("--source", "http://[::1")), "invalid --source URL 'http://[::1'"),
    (("cite", "{meeting}", "--source", "https://[zz]/a"),
     "invalid --source URL 'https://[zz]/a'"),
    (("amend", "{meeting}", "--set", "title=T", "--reason", "r", "--source", "http://[x"),
     "invalid --source URL 'http://[x'"),
    (pledge(amount="0.0000000000000001"),
     "invalid --amount '0.0000000000000001': more than 15 decimal places"),
    (pledge(amount="1234567890123456"),
     "invalid --amount '1234567890123456': more than 15 significant digits"),
])
def test_a_bad_value_is_named_by_its_option(events: Path, seeded: dict[str, str],
                                            args: tuple[str, ...], message: str) -> None:
    """A bad date or reference names the option that gave it (`--published`, `--at`,
    `--set at=`), not only the value."""
    before = log_bytes(events)
    result = run(*(arg.format(**seeded) for arg in args))
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: {message.format(**seeded)}\n")
    assert log_bytes(events) == before


@pytest.mark.parametrize(("args", "message"), [
    (("build", "--as-of", "2026-13-01"), "invalid --as-of '2026-13-01': no month 13"),
    (("export", "--as-of", "2026-02-30T00:00:00Z"),
     "invalid --as-of '2026-02-30T00:00:00Z': 2026-02 has 28 days"),
    (("serve", "--as-of", "2026-01-01T24:00:00Z", "--no-watch"),
     "invalid --as-of '2026-01-01T24:00:00Z': no hour 24"),
    (("build", "--as-of", "July"), "invalid --as-of 'July': use YYYY-MM-DD or "
     "YYYY-MM-DDTHH:MM:SSZ"),
    (("log", "--since", "2026-13-01"), "invalid --since '2026-13-01': no month 13"),
    (("log", "--since", "2026-11-22T10:60"), "invalid --since '2026-11-22T10:60': no minute 60"),
    # Python reads +05:60 as +06:00, and -05:75 as -06:15: a moment other than written
    *[(("build" if sign == "+" else "export", "--as-of", f"2099-01-01T00:00:00{offset}"),
       f"invalid --as-of '2099-01-01T00:00:00{offset}': no UTC offset {offset} (offsets run "
       "from -12:00 to +14:00, with minutes up to 59)")
      for offset in ("+05:60", "-05:75", "+23:59", "-1300", "+14:01")
      for sign in offset[0]],
    (("log", "--since", "2026-11-22T10:00+0560"), "invalid --since '2026-11-22T10:00+0560': "
     "no UTC offset +0560 (offsets run from -12:00 to +14:00, with minutes up to 59)"),
])
def test_a_moment_that_does_not_exist_says_why(events: Path, seeded: dict[str, str],
                                               args: tuple[str, ...], message: str) -> None:
    """As dates do ("no month 13"), not only the forms a moment takes."""
    result = run(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")


@pytest.mark.parametrize(("args", "value"), [
    (("build", "--as-of"), "20260605"),
    (("export", "--as-of"), "2026-W23-5"),
    (("serve", "--no-watch", "--as-of"), "2026W235"),
    (("build", "--as-of"), "20260605T120000Z"),
])
def test_a_moment_in_another_iso_form_is_refused(events: Path, args: tuple[str, ...],
                                                 value: str) -> None:
    """Python reads 20260605 or a week date as a midnight: --as-of would have left out
    the day's events that 2026-06-05 (the end of that day) takes."""
    result = run(*args, value)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: invalid --as-of '{value}': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ\n")


@pytest.mark.parametrize("value", ["20260605", "20260605T120000Z"])
def test_since_refuses_a_moment_in_another_iso_form(events: Path, value: str) -> None:
    result = run("log", "--since", value)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: invalid --since '{value}': use a date (YYYY, YYYY-MM or YYYY-MM-DD) "
        "or a time (YYYY-MM-DDTHH:MM:SSZ)\n")


@pytest.mark.parametrize("args", [
    ("build", "--as-of"), ("export", "--as-of"), ("serve", "--no-watch", "--as-of"),
    ("log", "--since"),
])
@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_moment_is_refused_not_read_as_no_bound(
    events: Path, args: tuple[str, ...], value: str
) -> None:
    """A script whose variable is unset (--as-of "$T") gets an error, not the present."""
    ok("add", "format", "fmt-a", "--name", "A", *SOURCE)
    before = log_bytes(events)
    result = run(*args, value)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: empty {args[-1]} '{value}': give it a value, or leave it out\n")
    assert log_bytes(events) == before


@pytest.mark.parametrize("args", [
    ("update", "{pledge}", "--status", "disbursed", "--amount", "", *SOURCE),
    ("update", "{pledge}", "--status", "pledged", "--amount", " ", "--note", "n", *SOURCE),
    ("update", "{meeting}", "--status", "postponed", "--to", "", *SOURCE),
    ("add", "meeting", "--title", "T", "--date", "2024", "--city", "", *SOURCE),
    ("add", "meeting", "--title", "T", "--date", "2024", "--participant", "JPN",
     "--participant", "", *SOURCE),
    ("cite", "{meeting}", *SOURCE, "--publisher", ""),
])
def test_an_empty_text_option_is_refused_not_left_out(events: Path,
                                                      args: tuple[str, ...]) -> None:
    """`--amount ''` was read as no --amount: a status update recorded without it."""
    seeded = {"meeting": ok("add", "meeting", "--title", "M", "--date", "2024", *SOURCE),
              "pledge": ok("add", "pledge", "--title", "P", "--date", "2024", "--donor", "JPN",
                           "--recipient", "KAZ", "--amount", "100", "--currency", "USD",
                           *SOURCE)}
    before = log_bytes(events)
    given = [arg.format(**seeded) for arg in args]
    blank = next(index for index, arg in enumerate(given) if not arg.strip())
    option, value = given[blank - 1], given[blank]
    result = run(*given)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: empty {option} '{value}': give it a value, or leave it out\n")
    assert log_bytes(events) == before


@pytest.mark.parametrize(("value", "moment"), [
    ("2026-06-05T10:00", "2026-06-05T10:00:00.000000Z"),
    ("2026-06-05 10:00:00.5+02:00", "2026-06-05T08:00:00.500000Z"),
    ("2026-06-05T10:00+0200", "2026-06-05T08:00:00.000000Z"),
    ("2026-06-05T10:00:00-00:00", "2026-06-05T10:00:00.000000Z"),
    ("2026-06-05T23:59:59+14:00", "2026-06-05T09:59:59.000000Z"),
    ("2026-06-05T00:00-12:00", "2026-06-05T12:00:00.000000Z"),
    ("2026-06-05T10:00+05:45", "2026-06-05T04:15:00.000000Z"),
])
def test_times_in_the_extended_form_are_read_as_before(value: str, moment: str) -> None:
    from tracker.envelope import as_of_moment

    assert as_of_moment(value) == moment
