"""EDTF level-0 dates: YYYY, YYYY-MM, YYYY-MM-DD and intervals A/B."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from .errors import Invalid

PRECISIONS = ("year", "month", "day")
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


@dataclass(frozen=True)
class Span:
    """A date as given, with the first and last day it can mean."""

    text: str
    start: str
    end: str
    precision: str


def _single(text: str, original: str) -> Span:
    match = _DATE.fullmatch(text)
    if not match:
        raise Invalid("date", original, "use YYYY, YYYY-MM, YYYY-MM-DD or A/B")
    year = int(match[1])
    month = int(match[2]) if match[2] else None
    day = int(match[3]) if match[3] else None
    if year < 1:
        raise Invalid("date", original, "year 0000 does not exist")
    if month is not None and not 1 <= month <= 12:
        raise Invalid("date", original, f"no month {month:02d}")
    if day is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise Invalid("date", original, f"{year:04d}-{month:02d} has {last} days")
        day_text = date(year, month, day).isoformat()
        return Span(text, day_text, day_text, "day")
    if month is not None:
        last = calendar.monthrange(year, month)[1]
        return Span(
            text,
            date(year, month, 1).isoformat(),
            date(year, month, last).isoformat(),
            "month",
        )
    return Span(text, date(year, 1, 1).isoformat(), date(year, 12, 31).isoformat(), "year")


def parse_date(text: str) -> Span:
    """Parse an EDTF level-0 date or interval; raise Invalid naming the text."""
    if not isinstance(text, str):
        raise Invalid("date", text, "not text")
    return _parse_date(text)


@lru_cache(maxsize=65536)
def _parse_date(text: str) -> Span:
    """parse_date of a string, remembered: imports and builds parse the same dates often."""
    if text.count("/") > 1:
        raise Invalid("date", text, "an interval has one '/'")
    if "/" in text:
        first, last = (_single(part, text) for part in text.split("/"))
        if last.end < first.start or last.start < first.start:
            raise Invalid("date", text, "the interval ends before it starts")
        coarsest = min(PRECISIONS.index(first.precision), PRECISIONS.index(last.precision))
        return Span(text, first.start, last.end, PRECISIONS[coarsest])
    return _single(text, text)
