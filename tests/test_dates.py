"""EDTF level-0 dates: `tracker.dates.parse_date`."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.dates import PRECISIONS, Span, parse_date
from tracker.errors import TrackerError


@pytest.mark.parametrize(
    ("text", "start", "end", "precision"),
    [
        ("2019", "2019-01-01", "2019-12-31", "year"),
        ("0001", "0001-01-01", "0001-12-31", "year"),
        ("9999", "9999-01-01", "9999-12-31", "year"),
        ("2019-05", "2019-05-01", "2019-05-31", "month"),
        ("2019-04", "2019-04-01", "2019-04-30", "month"),
        ("2023-02", "2023-02-01", "2023-02-28", "month"),
        ("2024-02", "2024-02-01", "2024-02-29", "month"),
        ("1900-02", "1900-02-01", "1900-02-28", "month"),
        ("2000-02", "2000-02-01", "2000-02-29", "month"),
        ("2019-12", "2019-12-01", "2019-12-31", "month"),
        ("2019-05-01", "2019-05-01", "2019-05-01", "day"),
        ("2024-02-29", "2024-02-29", "2024-02-29", "day"),
        ("2000-02-29", "2000-02-29", "2000-02-29", "day"),
        ("2019-12-31", "2019-12-31", "2019-12-31", "day"),
    ],
)
def test_single_dates(text: str, start: str, end: str, precision: str) -> None:
    """A single date covers its whole year, month or day, no more precise than given."""
    assert parse_date(text) == Span(text, start, end, precision)


@pytest.mark.parametrize(
    ("text", "start", "end", "precision"),
    [
        ("2019/2020", "2019-01-01", "2020-12-31", "year"),
        ("2019/2019", "2019-01-01", "2019-12-31", "year"),
        ("2019-05/2019-07", "2019-05-01", "2019-07-31", "month"),
        ("2019-05-01/2019-05-03", "2019-05-01", "2019-05-03", "day"),
        ("2019-05-01/2019-05-01", "2019-05-01", "2019-05-01", "day"),
        ("2019/2020-06", "2019-01-01", "2020-06-30", "year"),
        ("2019-11/2020", "2019-11-01", "2020-12-31", "year"),
        ("2019-05-01/2019-06", "2019-05-01", "2019-06-30", "month"),
        ("2019-05/2019-05-15", "2019-05-01", "2019-05-15", "month"),
        ("2024-02-28/2024-03-01", "2024-02-28", "2024-03-01", "day"),
        ("2023-12-31/2024-01-01", "2023-12-31", "2024-01-01", "day"),
    ],
)
def test_intervals(text: str, start: str, end: str, precision: str) -> None:
    """An interval runs from its first day to its last; its precision is the coarser end's."""
    assert parse_date(text) == Span(text, start, end, precision)


def test_text_is_kept_as_given() -> None:
    """The span keeps the text exactly, never a normalised or padded form."""
    assert parse_date("2019").text == "2019"
    assert parse_date("2019-05/2019-07").text == "2019-05/2019-07"


def test_leap_day_only_in_leap_years() -> None:
    """2024-02-29 exists; 2023-02-29 and 1900-02-29 do not."""
    assert parse_date("2024-02-29").start == "2024-02-29"
    with pytest.raises(TrackerError, match=r"^invalid date '2023-02-29': 2023-02 has 28 days$"):
        parse_date("2023-02-29")
    with pytest.raises(TrackerError, match=r"^invalid date '1900-02-29': 1900-02 has 28 days$"):
        parse_date("1900-02-29")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2019-02-30", "invalid date '2019-02-30': 2019-02 has 28 days"),
        ("2019-04-31", "invalid date '2019-04-31': 2019-04 has 30 days"),
        ("2019-05-00", "invalid date '2019-05-00': 2019-05 has 31 days"),
        ("2019-13", "invalid date '2019-13': no month 13"),
        ("2019-00", "invalid date '2019-00': no month 00"),
        ("2019-00-10", "invalid date '2019-00-10': no month 00"),
        ("0000", "invalid date '0000': year 0000 does not exist"),
        ("May 2019", "invalid date 'May 2019': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("19-05", "invalid date '19-05': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("", "invalid date '': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("2019-5", "invalid date '2019-5': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("2019-05-1", "invalid date '2019-05-1': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("20190501", "invalid date '20190501': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("12019", "invalid date '12019': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("-2019", "invalid date '-2019': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        (" 2019", "invalid date ' 2019': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("2019-05-01T10:00", "invalid date '2019-05-01T10:00': use YYYY, YYYY-MM, YYYY-MM-DD "
         "or A/B"),
        ("2019/", "invalid date '2019/': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("/2019", "invalid date '/2019': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
        ("2019/05/01/02", "invalid date '2019/05/01/02': an interval has one '/'"),
        ("2019/2020/2021", "invalid date '2019/2020/2021': an interval has one '/'"),
        ("2020/2019", "invalid date '2020/2019': the interval ends before it starts"),
        ("2019-05-03/2019-05-01",
         "invalid date '2019-05-03/2019-05-01': the interval ends before it starts"),
        ("2019-02-30/2019-03", "invalid date '2019-02-30/2019-03': 2019-02 has 28 days"),
        ("2019/2019-13", "invalid date '2019/2019-13': no month 13"),
        ("2019\n", "invalid date '2019\\n': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"),
    ],
)
def test_errors_name_the_text(text: str, message: str) -> None:
    """Every refusal is a TrackerError whose message quotes the whole text given."""
    with pytest.raises(TrackerError) as caught:
        parse_date(text)
    assert str(caught.value) == message


def test_long_text_is_shortened_in_the_message() -> None:
    """A long bad value is quoted shortened, so the message stays one readable line."""
    with pytest.raises(TrackerError) as caught:
        parse_date("9" * 500)
    assert str(caught.value) == (
        f"invalid date '{'9' * 60}...': use YYYY, YYYY-MM, YYYY-MM-DD or A/B"
    )


@pytest.mark.parametrize("value", [None, 2019, 2019.0, b"2019"])
def test_non_text_is_refused(value: object) -> None:
    """Anything but a str is a TrackerError, not a TypeError."""
    with pytest.raises(TrackerError, match=r"^invalid date .*: not text$"):
        parse_date(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["２０１９", "٢٠١٩-٠٥", "2019-०५-01"])
def test_non_ascii_digits_are_refused(text: str) -> None:
    """EDTF digits are ASCII: other Unicode digits are refused, naming the text."""
    with pytest.raises(TrackerError, match=rf"^invalid date '{text}'"):
        parse_date(text)


# -- properties ------------------------------------------------------------------------


def edtf(day: date, precision: str) -> str:
    """A day written to the given precision: YYYY, YYYY-MM or YYYY-MM-DD."""
    parts = (f"{day.year:04d}", f"{day.month:02d}", f"{day.day:02d}")
    return "-".join(parts[: PRECISIONS.index(precision) + 1])


EDTF_ALPHABET = st.sampled_from("0123456789-/ X?~%T:.０٢\n")


@settings(max_examples=1000)
@given(st.one_of(st.text(), st.text(EDTF_ALPHABET, max_size=25)))
def test_any_text_gives_a_span_or_a_tracker_error(text: str) -> None:
    """Arbitrary text is either a well-formed span or a TrackerError, never another error."""
    try:
        span = parse_date(text)
    except TrackerError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(span, Span)
    assert span.text == text
    assert span.start <= span.end
    assert span.precision in ("year", "month", "day")
    assert date.fromisoformat(span.start) <= date.fromisoformat(span.end)


@settings(max_examples=1000)
@given(st.dates(min_value=date(1, 1, 1)))
def test_every_real_day_round_trips(day: date) -> None:
    """Every calendar day written YYYY-MM-DD parses to exactly that day."""
    text = edtf(day, "day")
    assert parse_date(text) == Span(text, text, text, "day")


@settings(max_examples=1000)
@given(st.dates(), st.dates(), st.sampled_from(PRECISIONS), st.sampled_from(PRECISIONS))
def test_ordered_intervals_cover_both_ends(first: date, second: date, first_precision: str,
                                           second_precision: str) -> None:
    """A/B with A's day not after B's spans from A's first day to B's last day."""
    low, high = sorted((first, second))
    a = edtf(low, first_precision)
    b = edtf(high, second_precision)
    if parse_date(b).start < parse_date(a).start:
        with pytest.raises(TrackerError, match="ends before it starts"):
            parse_date(f"{a}/{b}")
        return
    span = parse_date(f"{a}/{b}")
    assert (span.start, span.end) == (parse_date(a).start, parse_date(b).end)
    coarsest = min(PRECISIONS.index(first_precision), PRECISIONS.index(second_precision))
    assert span.precision == PRECISIONS[coarsest]
